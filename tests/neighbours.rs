//! ARP seen on the capture's link: a sender's silence towards a host the
//! router in front of it could not resolve is no give-up (the router
//! dropped what came for the host before the capture point could see it).
mod common;

use common::{ACK, SYN, analyze_json, arp, frame, write_pcap};

/// A handshake, then the server's data retransmitted with backoff into a
/// silence; `arps` are (time, frame) pairs of address resolution between them.
fn retransmitting_server(arps: Vec<(f64, Vec<u8>)>) -> Vec<(f64, Vec<u8>)> {
    let mut frames = vec![
        (0.0, frame(true, SYN, 1000, 0, 0)),
        (0.001, frame(false, SYN | ACK, 5000, 1001, 0)),
        (0.002, frame(true, ACK, 1001, 5001, 0)),
    ];
    for t in [1.0, 1.3, 1.9, 3.1, 5.5] {
        frames.push((t, frame(false, ACK, 5001, 1001, 100)));
    }
    frames.extend(arps);
    // The capture goes on: a broadcast from another host at 30 s.
    frames.push((30.0, arp(false, [10, 0, 0, 9], [10, 0, 0, 8])));
    frames.sort_by(|a, b| a.0.total_cmp(&b.0));
    frames
}

fn verdict_of(name: &str, frames: &[(f64, Vec<u8>)]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    write_pcap(&path, 1, frames);
    let (doc, out) = analyze_json(&["--all", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(doc["connections"].as_array().unwrap().len(), 1);
    doc["connections"][0].clone()
}

#[test]
fn retransmissions_to_a_host_its_router_cannot_resolve_are_a_stall_not_a_give_up() {
    // The router 10.0.0.254 asks for the client 10.0.0.1 from the last
    // retransmission on (frame 9, at 5.5 s), while the next was due (by
    // 10.3 s), and nothing answers.
    let asks = |times: &[f64]| times.iter().map(|&t| (t, arp(false, [10, 0, 0, 254], [10, 0, 0, 1]))).collect();
    let blind = verdict_of("blind.pcap", &retransmitting_server(asks(&[5.5, 6.5, 7.5, 9.0])));
    assert_eq!(blind["end_reason"], "stalled");
    let r = &blind["retransmission"];
    assert_eq!((r["gave_up"].as_bool(), r["still_retransmitting"].as_bool()), (Some(false), Some(true)));
    assert_eq!(r["capture_blind_from_frame"], 9);
    assert_eq!(r["tcp_retries2"], serde_json::Value::Null);
    let text = blind["diagnosis"].as_str().unwrap();
    assert!(text.contains("lost sight of it") && text.contains("who has 10.0.0.1"), "{text}");

    // The client answers the router: it is there, and the silence is the server's give-up.
    let mut answered: Vec<(f64, Vec<u8>)> = asks(&[5.5, 6.5]);
    answered.push((6.6, arp(true, [10, 0, 0, 1], [10, 0, 0, 254])));
    let seen = verdict_of("seen.pcap", &retransmitting_server(answered));
    assert_eq!(seen["end_reason"], "retransmission-timeout");
    assert!(seen["retransmission"].get("capture_blind_from_frame").is_none(), "{seen}");
}
