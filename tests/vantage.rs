//! Two vantage points: real-kernel captures taken at once on both sides of
//! a MASQUERADE router (fixtures/generate.sh vantage-drop, vantage-inject),
//! compared with `--vantage`.
mod common;

use common::{analyze_json, stderr, tcpka};
use serde_json::{Value, json};
use std::path::Path;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name).to_str().unwrap().to_string()
}

/// The JSON report of both sides of a scenario, and the single captures' own reports.
fn compared(scenario: &str) -> (Value, Value, Value) {
    let (client, server) = (fixture(&format!("inputs/{scenario}-client.pcap")), fixture(&format!("{scenario}.pcap")));
    let (doc, out) =
        analyze_json(&["--vantage", &format!("client={client}"), "--vantage", &format!("server={server}")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (alone_client, _) = analyze_json(&[&client]);
    let (alone_server, _) = analyze_json(&[&server]);
    (doc, alone_client, alone_server)
}

/// The frames of the server capture's evidence for `what`.
fn evidence_frames(report: &Value, what: &str) -> Vec<u64> {
    report["connections"][0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"].as_str().unwrap().contains(what))
        .map(|e| e["frame"].as_u64().unwrap())
        .collect()
}

#[test]
fn probes_dropped_by_the_router_were_lost_between_the_two_points() {
    let (doc, alone_client, alone_server) = compared("vantage-drop");
    // Each capture is still judged on its own, as alone.
    let captures = doc["captures"].as_array().unwrap();
    assert_eq!(captures.len(), 2);
    assert_eq!(
        doc["connections"].as_array().unwrap().len(),
        3,
        "the client's 2 (one is later traffic), the server's 1"
    );
    let server_conn =
        doc["connections"].as_array().unwrap().iter().find(|c| c["capture"] == captures[1]["path"]).unwrap();
    assert_eq!(server_conn["end_reason"], "keepalive-timeout");
    assert_eq!(server_conn["evidence"], alone_server["connections"][0]["evidence"]);
    assert_eq!(alone_client["connections"][0]["end_reason"], "open");

    let v = &doc["vantage"];
    assert_eq!(
        v["points"],
        json!([{"name": "client", "capture": fixture("inputs/vantage-drop-client.pcap")}, {"name": "server", "capture": fixture("vantage-drop.pcap")}])
    );
    assert_eq!(v["unmatched"], json!([1, 0]), "the client's later SYN to the router");
    let conns = v["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!(c["seen_as"], json!(["10.0.1.2:40050 → 10.0.2.2:7777", "10.0.2.1:40050 → 10.0.2.2:7777"]));
    assert_eq!(
        (&c["translated"], &c["matched_by"], &c["sure"]),
        (&json!(true), &json!("initial-sequence-numbers"), &json!("certain"))
    );
    // Handshake and exchanges: 10 packets at both points.
    assert_eq!(c["packets_both_saw"], 10);
    // The server's probes and RST, as its own report names them.
    let mut frames = evidence_frames(&alone_server, "keepalive probe");
    frames.extend(evidence_frames(&alone_server, "RST from"));
    assert_eq!(frames, [11, 12, 13, 14]);
    assert_eq!(
        c["between"],
        json!([{
            "kind": "lost", "seen_at": "server", "frames": frames, "missing_at": "client",
            "what": "keepalive probes 1–3 and the RST",
            "sentence": "Keepalive probes 1–3 and the RST left 10.0.2.2:7777 (server capture, frames 11–14) and never reached 10.0.1.2:40050 (client capture): lost between the two points."
        }])
    );
}

#[test]
fn an_rst_the_router_sent_was_injected_between_the_two_points() {
    let (doc, _, alone_server) = compared("vantage-inject");
    assert_eq!(alone_server["connections"][0]["end_reason"], "reset");
    let rst = alone_server["connections"][0]["reset"]["frame"].as_u64().unwrap();
    let probe = evidence_frames(&alone_server, "keepalive probe");
    assert_eq!((probe.as_slice(), rst), (&[11][..], 12));
    let c = &doc["vantage"]["connections"][0];
    assert_eq!(c["sure"], "certain");
    let between = c["between"].as_array().unwrap();
    assert_eq!(between.len(), 2, "{between:?}");
    assert_eq!((&between[0]["kind"], &between[0]["frames"]), (&json!("lost"), &json!([11])));
    assert_eq!(
        between[0]["sentence"],
        "Keepalive probe 1 left 10.0.2.2:7777 (server capture, frame 11) and never reached 10.0.1.2:40051 (client capture): lost between the two points."
    );
    assert_eq!((&between[1]["kind"], &between[1]["frames"]), (&json!("injected"), &json!([rst])));
    assert_eq!(
        between[1]["sentence"],
        "The RST 10.0.2.2:7777 received (server frame 12) was never sent by 10.0.1.2:40051 (client capture): injected between the two points."
    );
}

#[test]
fn the_table_says_where_packets_died_and_the_flag_wants_two_named_captures() {
    let (client, server) = (fixture("inputs/vantage-inject-client.pcap"), fixture("vantage-inject.pcap"));
    let out = tcpka(&["analyze", "--vantage", &format!("client={client}"), "--vantage", &format!("server={server}")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
    for words in ["Vantage points: client", "through a NAT", "(certain)", "injected between the two points"] {
        assert!(text.contains(words), "{words}: {text}");
    }
    let one = tcpka(&["analyze", "--vantage", &format!("client={client}")]);
    assert_eq!(one.status.code(), Some(2));
    assert!(stderr(&one).contains("--vantage names two captures"), "{}", stderr(&one));
    let both = tcpka(&["analyze", "--vantage", &client, &server]);
    assert_eq!(both.status.code(), Some(2), "--vantage and plain files do not mix");
}
