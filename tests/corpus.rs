//! Public captures from other projects (../shared/corpus, with copies of the
//! small ones in fixtures/public): every file is read or refused with a named
//! reason, never a panic, and tcpka's keepalive counts and verdicts stay those
//! recorded in docs/corpus_expected.tsv (docs/corpus.md explains each
//! difference from tshark).
// Tests may print: clippy.toml forbids it in tcpka itself (see src/diag.rs).
#![allow(clippy::disallowed_macros)]
mod common;

use common::analyze_json;
use std::path::{Path, PathBuf};

fn locate(file: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("fixtures/public").join(file), root.join("../shared/corpus").join(file)].into_iter().find(|p| p.exists())
}

#[test]
fn public_captures_keep_their_recorded_counts_and_verdicts() {
    let expected =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/corpus_expected.tsv")).unwrap();
    let mut checked = 0;
    let mut missing = Vec::new();
    let mut errors = Vec::new();
    for line in expected.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, probes, answered, zwp, reasons] = cols[..5] else { panic!("bad row: {line}") };
        let Some(path) = locate(file) else {
            missing.push(file.to_string());
            continue;
        };
        let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{file} panicked");
        let s = &doc["summary"];
        let got_zwp: u64 =
            doc["connections"].as_array().unwrap().iter().map(|c| c["zero_window_probes"].as_u64().unwrap()).sum();
        let mut got_reasons: Vec<String> =
            s["by_end_reason"].as_object().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect();
        got_reasons.sort();
        let got = format!(
            "{}\t{}\t{}\t{}",
            s["keepalive_probes"],
            s["keepalive_probes_answered"],
            got_zwp,
            got_reasons.join(",")
        );
        let want = format!("{probes}\t{answered}\t{zwp}\t{reasons}");
        if got != want {
            errors.push(format!("{file}: got {got}, recorded {want}"));
        }
        checked += 1;
    }
    if !missing.is_empty() {
        let msg = format!("{} public captures not found (no ../shared/corpus?): {}", missing.len(), missing.join(", "));
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("SKIPPED PART: {msg}");
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(checked >= 13, "only {checked} public captures checked");
}

#[test]
fn truncated_public_capture_is_read_up_to_the_cut() {
    let Some(path) = locate("suricata-verify/http-mime-truncated__input.pcap") else {
        assert!(std::env::var_os("CI").is_none(), "../shared/corpus missing in CI");
        eprintln!("SKIPPED: ../shared/corpus not found");
        return;
    };
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(doc["captures"][0]["packets"], 2696);
    // The cut is the capture's error (issue 11), with where it is.
    let error = doc["captures"][0]["error"].as_str().unwrap();
    assert!(error.contains("cut off") && error.contains("at byte 2715459"), "{error}");
    assert_eq!(doc["captures"][0]["warnings"], serde_json::json!([]));
}

#[test]
fn captures_holding_every_packet_several_times_are_analysed_once() {
    // docs/corpus-truth.md §2, §3, §13: every packet captured 2–4 times, 0
    // retransmissions (`editcap -D` leaves 97 of 377, 27 of 108).
    // (file, distinct packets, frames dropped as copies, retransmissions left)
    let cases = [
        ("zeek/ssh-dups.pcap", 97, 280, 0),
        ("arkime/wireshark-retrans.pcap", 27, 81, 0),
        // 8 packets captured twice; the two copies of the stateless RST
        // (IP ID 0, frames 15 and 16, 241 µs apart) stay two packets, as
        // identical RSTs answering two segments would be; the retransmission
        // left is data 7 captured after the FIN sent after it (reordering).
        ("zeek/ctu-64702-888.pcap", 9, 7, 1),
    ];
    for (file, packets, dropped, retransmissions) in cases {
        let path = locate(file).unwrap_or_else(|| panic!("{file} is in fixtures/public"));
        let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{file}");
        let conn = &doc["connections"][0];
        assert_eq!(doc["connections"].as_array().unwrap().len(), 1, "{file}");
        assert_eq!(conn["end_reason"], "closed", "{file}");
        assert_eq!(conn["packets"], packets, "{file}");
        assert_eq!(conn["retransmissions"], retransmissions, "{file}");
        assert_eq!(doc["captures"][0]["duplicates"]["dropped"], dropped, "{file}");
    }
}
