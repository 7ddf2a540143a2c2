//! Command-line manners: tcpdump's habits (`-r FILE`, a trailing filter),
//! `--version` with libpcap's, colour only when wanted, help that fits the
//! width, a man page and shell completions from the same definition.
// Tests may print: clippy.toml forbids it in tcpka itself (see src/diag.rs).
#![allow(clippy::disallowed_macros)]
mod common;

use common::{analyze_json, stderr, stdout, tcpka};
use std::process::Command;

fn fixture(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name).to_str().unwrap().to_string()
}

/// The connections of a JSON document: (first frame, verdict).
fn verdicts(doc: &serde_json::Value) -> Vec<(u64, String)> {
    doc["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["first_frame"].as_u64().unwrap(), c["end_reason"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn tcpdump_habits_read_files_and_filters() {
    let (a, b) = (fixture("drop-silent.pcap"), fixture("ka-multi.pcap"));
    // The filter keeps drop-silent's port 7777 connection, drops its refused port 9 one.
    let (with_f, out) = analyze_json(&["-f", "tcp port 7777", &a, &b]);
    assert_eq!(out.status.code(), Some(0));
    let kept = verdicts(&with_f);
    assert_eq!(kept.len(), 6, "{kept:?}");
    for args in [
        vec!["-r", a.as_str(), "-r", b.as_str(), "tcp", "port", "7777"],
        vec!["-r", a.as_str(), "-r", b.as_str(), "tcp port 7777"],
        vec![a.as_str(), b.as_str(), "tcp", "port", "7777"],
    ] {
        let (doc, out) = analyze_json(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(verdicts(&doc), kept, "{args:?}");
        assert_eq!(doc["summary"]["captures"], 2, "{args:?}");
    }
    let out = tcpka(&["analyze", "-f", "tcp", &a, "port", "80"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("two filters"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "no report after a usage error");
}

#[test]
fn version_names_libpcap() {
    let out = tcpka(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with(&format!("tcpka {} (libpcap version ", env!("CARGO_PKG_VERSION"))), "{text}");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let path = fixture("rst-middlebox.pcap");
    let always = stdout(&tcpka(&["analyze", "--color", "always", &path]));
    assert!(always.contains("\x1b[1m\x1b[31mreset:middlebox\x1b[0m"), "{always}");
    assert!(always.lines().any(|l| l.starts_with("\x1b[31m") && l.contains("RST, forged")), "{always}");
    // A pipe (auto), NO_COLOR, never: no escapes.
    let piped = stdout(&tcpka(&["analyze", &path]));
    assert!(!piped.contains('\x1b'));
    let no_color =
        Command::new(env!("CARGO_BIN_EXE_tcpka")).args(["analyze", &path]).env("NO_COLOR", "1").output().unwrap();
    assert!(!stdout(&no_color).contains('\x1b'));
    assert!(!stdout(&tcpka(&["analyze", "--color", "never", &path])).contains('\x1b'));
    // Colour changes no text.
    let stripped: String = {
        let mut s = String::new();
        let mut escape = false;
        for c in always.chars() {
            match c {
                '\x1b' => escape = true,
                'm' if escape => escape = false,
                _ if escape => {}
                _ => s.push(c),
            }
        }
        s
    };
    assert_eq!(stripped, piped);
}

#[test]
fn help_fits_the_width() {
    for columns in ["60", "80"] {
        let out = Command::new(env!("CARGO_BIN_EXE_tcpka"))
            .args(["analyze", "--help"])
            .env("COLUMNS", columns)
            .output()
            .unwrap();
        let width: usize = columns.parse().unwrap();
        for line in stdout(&out).lines() {
            assert!(line.chars().count() <= width, "over {width} columns: {line}");
        }
    }
}

#[test]
fn man_page_and_completions_come_from_the_definition() {
    let man = stdout(&tcpka(&["man"]));
    assert!(man.contains(".TH tcpka 1") && man.contains(".SH NAME") && man.contains("analyze"), "{man}");
    for (shell, marker) in [("bash", "_tcpka()"), ("zsh", "#compdef tcpka"), ("fish", "complete -c tcpka")] {
        let out = tcpka(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = stdout(&out);
        assert!(script.contains(marker) && script.contains("fail-on"), "{shell}: {script}");
    }
}
