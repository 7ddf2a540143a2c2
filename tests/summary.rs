//! The table's first screen: at 100,000 connections it still fits one
//! screen (≤ 25 lines before the details, none over 80 columns), says what
//! the generator's truth says, and tells identical endings once.
// Tests may print: clippy.toml forbids it in tcpka itself (see src/diag.rs).
#![allow(clippy::disallowed_macros)]
mod common;

use common::capture_100k;
use std::path::Path;
use std::process::Command;

/// The lines before the first story (`[1] …`).
fn first_screen(text: &str) -> Vec<&str> {
    text.lines().take_while(|l| !l.starts_with("[1] ")).collect()
}

fn table(args: &[&str]) -> String {
    let mut full = vec!["analyze"];
    full.extend_from_slice(args);
    let out = Command::new(env!("CARGO_BIN_EXE_tcpka")).args(&full).env("COLUMNS", "80").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    common::stdout(&out)
}

fn assert_fits(text: &str) {
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "over 80 columns:\n{line}");
    }
}

#[test]
fn a_hundred_thousand_connections_fit_one_screen() {
    let path = capture_100k();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.with_extension("pcap.truth.json")).unwrap()).unwrap();
    let text = table(&[path.to_str().unwrap()]);
    assert_fits(&text);
    let screen = first_screen(&text);
    assert!(screen.len() <= 25, "{} lines before the details:\n{}", screen.len(), screen.join("\n"));
    let screen = screen.join("\n");
    // Counts by verdict, as the generator made them.
    for (verdict, n) in truth["by_end_reason"].as_object().unwrap() {
        assert!(screen.contains(&format!("{verdict} {n}")), "{verdict} {n} missing:\n{screen}");
    }
    // The top probers with the settings the generator gave them (timers
    // fire late: "~" marks a prober whose connections imply neighbouring values).
    let settings = &truth["keepalive"]["settings"];
    let (idle, interval, probes) =
        (&settings["tcp_keepalive_time"], &settings["tcp_keepalive_intvl"], &settings["tcp_keepalive_probes"]);
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains(":5432 ") || l.contains(":443 ")).collect();
    assert!(!rows.is_empty(), "{screen}");
    let want = format!("{idle} s   ~{interval} s       {probes}");
    assert!(rows.iter().any(|r| r.contains(&want)), "no prober row with {want}:\n{screen}");
    assert!(screen.contains("Keepalive probers (top 5 of "), "{screen}");
    assert!(screen.contains("Servers with the most abnormal endings"), "{screen}");
    // Each story once: keepalive timeouts on 3 addresses × 6 ports (IPv4 and IPv6).
    let stories = text.lines().filter(|l| l.starts_with('[')).count();
    assert_eq!(stories, 20, "the 20 largest stories are told");
    assert!(text.contains(" connections to ") && text.contains("same story"), "{text}");
}

#[test]
fn identical_endings_are_told_once_with_their_frames() {
    // ka-multi: five connections killed the same way by one server.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ka-multi.pcap");
    let text = table(&[path.to_str().unwrap()]);
    assert_fits(&text);
    let stories: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(stories.len(), 1, "{text}");
    assert!(stories[0].starts_with("[1] keepalive-timeout: 5 connections to 10.0.2.2:7777, same story"), "{text}");
    // The diagnosis once, the frames of every connection.
    assert_eq!(text.matches("Keepalive timeout:").count(), 1, "{text}");
    for (id, client, frames) in [
        ("1-1", "10.0.1.2:40011", "1–66"),
        ("1-8", "10.0.1.2:40012", "8–67"),
        ("1-18", "10.0.1.2:40013", "18–68"),
        ("1-28", "10.0.1.2:40014", "28–69"),
        ("1-38", "10.0.1.2:40015", "38–70"),
    ] {
        assert!(
            text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [id, client, frames]),
            "{id} {client} {frames} missing:\n{text}"
        );
    }
}
