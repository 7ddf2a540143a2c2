// Findings across connections, from connections built on the test wire.
use super::*;
use crate::flow::wire::*;
use crate::time::Timestamp;
use crate::verdict::{EndReason, judge};

#[test]
fn path_timeout_is_bounded_by_survived_and_fatal_silences() {
    let mut paths = PathAggregator::default();
    // One connection survives a 100 s silence...
    let mut w = Wire::established(1000, 5000);
    w.send(100.0, seg(C, ACK, 1011, 5101, 10));
    w.send(100.001, seg(S, ACK, 5101, 1021, 10));
    let conns = w.finish();
    paths.add(&conns[0], &judge(&conns[0], Timestamp::from_secs_f64(100.001)), 0);
    // ...another dies after 400 s (a forged RST).
    let mut w = Wire::established(1000, 5000);
    w.send(400.0, seg(C, ACK, 1011, 5101, 10));
    w.send(400.001, seg(S, RST | ACK, 5101, 1021, 0).ttl(50));
    let conns = w.finish();
    paths.add(&conns[0], &judge(&conns[0], Timestamp::from_secs_f64(400.001)), 0);
    let report = paths.paths();
    assert_eq!(report.len(), 1);
    let [low, high] = report[0].idle_timeout_between_s.unwrap();
    assert!((low - 99.995).abs() < 1e-3 && (high - 399.995).abs() < 1e-3, "{low} {high}");
    assert_eq!(report[0].recommended_keepalive_idle_s, 49);
}

#[test]
fn several_open_connections_from_one_client_are_a_reconnect_storm() {
    let mut paths = PathAggregator::default();
    for port in 0..4u16 {
        let conns = Wire::established(1000, 5000).finish();
        let mut conn = conns.into_iter().next().unwrap();
        conn.sides[0].addr.set_port(41000 + port);
        let v = judge(&conn, Timestamp::from_secs_f64(1.0));
        assert_eq!(v.reason(), EndReason::Open);
        paths.add(&conn, &v, 0);
    }
    let storms = paths.storms();
    assert_eq!(storms.len(), 1);
    assert_eq!(storms[0].still_open, 4);
}

#[test]
fn unanswered_syns_are_no_reconnect_storm_and_bound_no_path_timeout() {
    let mut paths = PathAggregator::default();
    for port in 0..5u16 {
        let mut w = Wire::new();
        for t in [0.0, 1.0, 3.0] {
            w.send(t, seg(C, SYN, 1000, 0, 0));
        }
        let mut conn = w.finish().into_iter().next().unwrap();
        conn.sides[0].addr.set_port(41000 + port);
        let v = judge(&conn, Timestamp::from_secs_f64(5.0));
        assert_eq!(v.reason(), EndReason::NeverEstablished);
        paths.add(&conn, &v, 0);
    }
    assert_eq!(paths.storms(), []);
    assert_eq!(paths.paths(), []);
}
