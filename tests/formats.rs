//! The report formats: what each promises (ids, schemas, filters, widths),
//! checked on the real-kernel fixtures.
// Tests may print: clippy.toml forbids it in tcpka itself (see src/diag.rs).
#![allow(clippy::disallowed_macros)]
mod common;

use common::{analyze_json, fixture_captures, have_tool};
use std::collections::BTreeMap;
use std::process::Command;

/// tshark's Community ID of every TCP packet, by frame number.
fn tshark_community_ids(capture: &std::path::Path) -> BTreeMap<u64, String> {
    let out = Command::new("tshark")
        .args(["-n", "--enable-protocol", "communityid", "-r"])
        .arg(capture)
        .args(["-Y", "tcp", "-T", "fields", "-e", "frame.number", "-e", "communityid"])
        .output()
        .expect("run tshark");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|line| {
            let (frame, id) = line.split_once('\t').expect("two fields");
            (frame.parse().unwrap(), id.to_string())
        })
        .collect()
}

#[test]
fn community_ids_are_wiresharks() {
    if !have_tool("community_ids_are_wiresharks", "tshark", "--version") {
        return;
    }
    let mut compared = 0;
    for capture in fixture_captures() {
        let (doc, _) = analyze_json(&[capture.to_str().unwrap()]);
        let theirs = tshark_community_ids(&capture);
        for conn in doc["connections"].as_array().unwrap() {
            let first = conn["first_frame"].as_u64().unwrap();
            let ours = conn["community_id"].as_str().unwrap();
            // The connection's first packet carries its Community ID.
            assert_eq!(theirs.get(&first).map(String::as_str), Some(ours), "{} frame {first}", capture.display());
            assert_eq!(conn["id"], format!("1-{first}"));
            compared += 1;
        }
    }
    assert!(compared >= 13, "only {compared} connections compared");
}
