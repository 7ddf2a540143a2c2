// Findings across connections, from connections built on the test wire.
use super::*;
use crate::flow::Connection;
use crate::flow::wire::*;
use crate::neighbours::NeighbourLog;
use crate::time::Timestamp;
use crate::verdict::{EndReason, judge};

/// Judges the wire's connections as of `end` and adds them to `paths` as capture `capture`.
fn add_all(paths: &mut PathAggregator, w: Wire, end: f64, capture: usize) -> Vec<EndReason> {
    let conns = w.finish();
    conns
        .iter()
        .map(|c| {
            let v = judge(c, Timestamp::from_secs_f64(end), &NeighbourLog::default());
            paths.add(c, &v, capture);
            v.reason()
        })
        .collect()
}

/// The connection with its client port set to `port`.
fn from_port(mut conn: Connection, port: u16) -> Connection {
    conn.sides[0].set_port(port);
    conn
}

#[test]
fn path_timeout_is_bounded_by_survived_and_fatal_silences() {
    let mut paths = PathAggregator::default();
    // One connection survives a 100 s silence...
    let mut w = Wire::established(1000, 5000);
    w.send(100.0, seg(C, ACK, 1011, 5101, 10));
    w.send(100.001, seg(S, ACK, 5101, 1021, 10));
    let conns = w.finish();
    paths.add(&conns[0], &judge(&conns[0], Timestamp::from_secs_f64(100.001), &NeighbourLog::default()), 0);
    // ...another dies after 400 s (a forged RST).
    let mut w = Wire::established(1000, 5000);
    w.send(400.0, seg(C, ACK, 1011, 5101, 10));
    w.send(400.001, seg(S, RST | ACK, 5101, 1021, 0).ttl(50));
    let conns = w.finish();
    paths.add(&conns[0], &judge(&conns[0], Timestamp::from_secs_f64(400.001), &NeighbourLog::default()), 0);
    let report = paths.paths();
    assert_eq!(report.len(), 1);
    let [low, high] = report[0].idle_timeout_between_s.unwrap();
    assert!((low - 99.995).abs() < 1e-3 && (high - 399.995).abs() < 1e-3, "{low} {high}");
    assert_eq!(report[0].recommended_keepalive_idle_s, 49);
    // Between 100 and 400 s: Azure LB (240 s) and AWS NLB (350 s) defaults fit.
    let fit: Vec<u32> = report[0].known_defaults.iter().map(|t| t.secs).collect();
    assert_eq!(fit, vec![240, 350]);
    assert!(!report[0].conflicting);
}

#[test]
fn without_a_silence_survived_the_advice_stays_below_the_defaults_that_fit() {
    // arkime/ldap-simpleauth.pcap: one connection, a forged RST after 181 s
    // of silence, none survived: AWS ALB's 60 s fits, so a keepalive idle
    // of 90 s (half of 181) would not keep an ALB's connections alive.
    let mut paths = PathAggregator::default();
    let mut w = Wire::established(1000, 5000);
    w.send(181.0, seg(C, ACK, 1011, 5101, 10));
    w.send(181.001, seg(S, RST | ACK, 5101, 1021, 0).ttl(50));
    add_all(&mut paths, w, 181.001, 0);
    let p = &paths.paths()[0];
    assert_eq!(p.known_defaults.iter().map(|t| t.secs).collect::<Vec<_>>(), vec![60]);
    assert_eq!(p.recommended_keepalive_idle_s, 30);
    // No default fits a death after 40 s: half of it, as before.
    let mut paths = PathAggregator::default();
    let mut w = Wire::established(1000, 5000);
    w.send(40.0, seg(C, ACK, 1011, 5101, 10));
    w.send(40.001, seg(S, RST | ACK, 5101, 1021, 0).ttl(50));
    add_all(&mut paths, w, 40.001, 0);
    assert_eq!(paths.paths()[0].recommended_keepalive_idle_s, 19);
}

#[test]
fn a_longer_silence_survived_than_one_that_killed_is_conflicting_evidence() {
    let mut paths = PathAggregator::default();
    let mut w = Wire::established(1000, 5000);
    w.send(500.0, seg(C, ACK, 1011, 5101, 10));
    w.send(500.001, seg(S, ACK, 5101, 1021, 10));
    add_all(&mut paths, w, 500.001, 0);
    let mut w = Wire::established(1000, 5000);
    w.send(100.0, seg(C, ACK, 1011, 5101, 10));
    w.send(100.001, seg(S, RST | ACK, 5101, 1021, 0).ttl(50));
    add_all(&mut paths, w, 100.001, 0);
    let p = &paths.paths()[0];
    assert!(p.conflicting);
    assert_eq!(p.idle_timeout_between_s, None);
    assert!(p.known_defaults.is_empty());
}

#[test]
fn path_timeouts_come_only_from_deaths_the_path_can_explain() {
    // A reboot: the client answers the server's keepalive probe with a
    // stateless RST (its host lost every connection), not a path timeout.
    let mut paths = PathAggregator::default();
    let mut w = Wire::established(1000, 5000);
    w.send(60.0, seg(S, ACK, 5100, 1011, 0));
    w.send(60.001, seg(C, RST, 1011, 0, 0));
    assert_eq!(add_all(&mut paths, w, 60.001, 0), vec![EndReason::Reset]);
    assert!(paths.paths().is_empty());

    // A side that sent FIN and later resets: its own close, not the path.
    let mut paths = PathAggregator::default();
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, FIN | ACK, 5101, 1011, 0));
    w.send(1.001, seg(C, ACK, 1011, 5102, 0));
    w.send(61.0, seg(S, RST | ACK, 5102, 1011, 0).ttl(50));
    add_all(&mut paths, w, 61.0, 0);
    assert!(paths.paths().is_empty());

    // Data into a silence after idle: the server may simply have vanished...
    let silent = || {
        let mut w = Wire::established(1000, 5000);
        for t in [100.0, 100.2, 100.6, 101.4] {
            w.send(t, seg(C, ACK, 1011, 5101, 50));
        }
        w
    };
    let mut paths = PathAggregator::default();
    assert_eq!(add_all(&mut paths, silent(), 120.0, 0), vec![EndReason::RetransmissionTimeout]);
    assert!(paths.paths().is_empty());
    // ...unless its host is heard from afterwards on another connection:
    // then the path lost this one.
    let mut w = Wire::new();
    w.send(110.0, seg(C, SYN, 7000, 0, 0));
    w.send(110.001, seg(S, SYN | ACK, 9000, 7001, 0));
    w.send(110.002, seg(C, ACK, 7001, 9001, 0));
    let other = from_port(w.finish().remove(0), 41000);
    paths.add(&other, &judge(&other, Timestamp::from_secs_f64(120.0), &NeighbourLog::default()), 0);
    let report = paths.paths();
    assert_eq!(report.len(), 1);
    assert!((report[0].died_after_idle_min_s - 99.995).abs() < 1e-6);
    assert!(report[0].known_defaults.iter().any(|t| t.secs == 60));
}

#[test]
fn captures_are_not_mixed() {
    // A survival in one capture and a death in another bound nothing together.
    let mut paths = PathAggregator::default();
    let mut w = Wire::established(1000, 5000);
    w.send(100.0, seg(C, ACK, 1011, 5101, 10));
    w.send(100.001, seg(S, ACK, 5101, 1021, 10));
    add_all(&mut paths, w, 100.001, 0);
    let mut w = Wire::established(1000, 5000);
    w.send(400.0, seg(C, ACK, 1011, 5101, 10));
    w.send(400.001, seg(S, RST | ACK, 5101, 1021, 0).ttl(50));
    add_all(&mut paths, w, 400.001, 1);
    let report = paths.paths();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].idle_timeout_between_s, None);
    assert_eq!(report[0].survived_idle_max_s, None);
}

#[test]
fn abandoned_connections_with_newer_ones_after_them_are_a_reconnect_storm() {
    // The server closes each connection; the client never does (CLOSE_WAIT)
    // and opens a new one after it: 3 left behind, then a 4th.
    let mut paths = PathAggregator::default();
    for (i, port) in (0..4u16).map(|i| (i, 41000 + i)) {
        let t0 = 100.0 * f64::from(i);
        let mut w = Wire::new();
        w.send(t0, seg(C, SYN, 1000, 0, 0));
        w.send(t0 + 0.001, seg(S, SYN | ACK, 5000, 1001, 0));
        w.send(t0 + 0.002, seg(C, ACK, 1001, 5001, 10));
        if i < 3 {
            w.send(t0 + 1.0, seg(S, FIN | ACK, 5001, 1011, 0));
            w.send(t0 + 1.001, seg(C, ACK, 1011, 5002, 0));
        }
        let conn = from_port(w.finish().remove(0), port);
        let v = judge(&conn, Timestamp::from_secs_f64(400.0), &NeighbourLog::default());
        paths.add(&conn, &v, 0);
    }
    let storms = paths.storms();
    assert_eq!(storms.len(), 1);
    assert_eq!((storms[0].abandoned, storms[0].half_closed_by_server, storms[0].unanswered), (3, 3, 0));
}

#[test]
fn services_that_can_tell_no_storm_are_forgotten_but_not_those_of_held_connections() {
    // Issue 14: memory follows the connections open at once. 4,096 clients
    // each closed one connection before 300 s: forgotten at 300 s. One
    // client left two connections in CLOSE_WAIT (still held at 300 s, so
    // not judged yet) and closed a newer one at 200 s: that newest start is
    // what the two were left behind for, so its service stays.
    let close_wait = |t0: f64, port: u16| {
        let mut w = Wire::new();
        w.send(t0, seg(C, SYN, 1000, 0, 0));
        w.send(t0 + 0.001, seg(S, SYN | ACK, 5000, 1001, 0));
        w.send(t0 + 0.002, seg(C, ACK, 1001, 5001, 10));
        w.send(t0 + 1.0, seg(S, FIN | ACK, 5001, 1011, 0));
        w.send(t0 + 1.001, seg(C, ACK, 1011, 5002, 0));
        from_port(w.finish().remove(0), port)
    };
    let closed = |t0: f64, port: u16| {
        let mut w = Wire::new();
        w.send(t0, seg(C, SYN, 1000, 0, 0));
        w.send(t0 + 0.001, seg(S, SYN | ACK, 5000, 1001, 0));
        w.send(t0 + 0.002, seg(C, FIN | ACK, 1001, 5001, 0));
        w.send(t0 + 0.003, seg(S, FIN | ACK, 5001, 1002, 0));
        w.send(t0 + 0.004, seg(C, ACK, 1002, 5002, 0));
        from_port(w.finish().remove(0), port)
    };
    let end = Timestamp::from_secs_f64(400.0);
    let mut paths = PathAggregator::default();
    let held = [close_wait(0.0, 41000), close_wait(100.0, 41001)];
    let newest = closed(200.0, 41002);
    let v = judge(&newest, end, &NeighbourLog::default());
    assert_eq!(v.reason(), EndReason::Closed);
    paths.add(&newest, &v, 1);
    let other = closed(150.0, 42000);
    let v = judge(&other, end, &NeighbourLog::default());
    for i in 0..4096u32 {
        let mut conn = other.clone();
        conn.sides[0].set_ip(std::net::Ipv4Addr::from(0x0a10_0000 + i).into());
        paths.add(&conn, &v, 1);
    }
    assert_eq!(paths.services_held(), 4097);
    // With eight times as many connections open as services held, a sweep
    // (which looks at each of them) waits for more services.
    let sweep_at = Timestamp::from_secs_f64(300.0);
    paths.forget_done_services(1, sweep_at, 8 * 4098, held.iter().map(|c| [c.client(), c.server()]));
    assert_eq!(paths.services_held(), 4097);
    paths.forget_done_services(1, sweep_at, 8 * 4097, held.iter().map(|c| [c.client(), c.server()]));
    assert_eq!(paths.services_held(), 1);
    for conn in &held {
        let v = judge(conn, end, &NeighbourLog::default());
        assert_eq!(v.reason(), EndReason::HalfClosed);
        paths.add(conn, &v, 1);
    }
    let storms = paths.storms();
    assert_eq!(storms.len(), 1, "the storm was forgotten with its newest start");
    assert_eq!((storms[0].abandoned, storms[0].half_closed_by_server), (2, 2));
    assert_eq!(storms[0].newest_frame, newest.first.frame);

    // Once its abandoned connections are judged, the storm's service
    // stays through later sweeps, though nothing holds it and its newest
    // start is long past.
    for i in 4096..8192u32 {
        let mut conn = other.clone();
        conn.sides[0].set_ip(std::net::Ipv4Addr::from(0x0a10_0000 + i).into());
        paths.add(&conn, &v, 1);
    }
    assert_eq!(paths.services_held(), 4097);
    paths.forget_done_services(1, end, 0, std::iter::empty());
    assert_eq!(paths.services_held(), 1, "the storm's service");
    let after = paths.storms();
    assert_eq!(after.len(), 1, "the storm outlived the sweep");
    assert_eq!((after[0].abandoned, after[0].newest_frame), (2, newest.first.frame));
}

#[test]
fn hosts_heard_from_are_forgotten_unless_a_death_may_need_them() {
    // Data into a silence from 100 s, the connection held (not judged
    // yet) when the sweep runs at 115 s; its server was heard from at
    // 110 s on another connection, judged before: that is what blames
    // the path, so the server's entry outlives the sweep, while 4,096
    // clients heard from on closed connections are forgotten.
    let mut w = Wire::established(1000, 5000);
    for t in [100.0, 100.2, 100.6, 101.4] {
        w.send(t, seg(C, ACK, 1011, 5101, 50));
    }
    let silent = w.finish().remove(0);
    let mut w = Wire::new();
    w.send(110.0, seg(C, SYN, 7000, 0, 0));
    w.send(110.001, seg(S, SYN | ACK, 9000, 7001, 0));
    w.send(110.002, seg(C, FIN | ACK, 7001, 9001, 0));
    w.send(110.003, seg(S, FIN | ACK, 9001, 7002, 0));
    w.send(110.004, seg(C, ACK, 7002, 9002, 0));
    let other = from_port(w.finish().remove(0), 41000);
    let end = Timestamp::from_secs_f64(120.0);
    let mut paths = PathAggregator::default();
    let v = judge(&other, end, &NeighbourLog::default());
    paths.add(&other, &v, 0);
    for i in 0..4096u32 {
        let mut conn = from_port(other.clone(), 42000);
        conn.sides[0].set_ip(std::net::Ipv4Addr::from(0x0a10_0000 + i).into());
        paths.add(&conn, &v, 0);
    }
    assert_eq!(paths.hosts_held(), 4098);
    paths.forget_done_services(0, Timestamp::from_secs_f64(115.0), 1, [[silent.client(), silent.server()]].into_iter());
    assert_eq!(paths.hosts_held(), 2, "the held connection's two hosts");
    let v = judge(&silent, end, &NeighbourLog::default());
    assert_eq!(v.reason(), EndReason::RetransmissionTimeout);
    paths.add(&silent, &v, 0);
    let report = paths.paths();
    assert_eq!(report.len(), 1, "the server heard from after the death was forgotten");
    assert!((report[0].died_after_idle_min_s - 99.995).abs() < 1e-6);
}

#[test]
fn a_pool_of_parallel_connections_is_no_reconnect_storm() {
    // PcapPlusPlus example2.pcap: a browser opens several connections to
    // one server together and uses them until the end; none was left
    // behind for a newer one. The same for SYNs nobody answered.
    let mut paths = PathAggregator::default();
    for port in 0..6u16 {
        let conns = Wire::established(1000, 5000).finish();
        let conn = from_port(conns.into_iter().next().unwrap(), 41000 + port);
        let v = judge(&conn, Timestamp::from_secs_f64(1.0), &NeighbourLog::default());
        assert_eq!(v.reason(), EndReason::Open);
        paths.add(&conn, &v, 0);
    }
    for port in 0..6u16 {
        let mut w = Wire::new();
        w.send(f64::from(port), seg(C, SYN, 1000, 0, 0));
        let conn = from_port(w.finish().remove(0), 42000 + port);
        paths.add(&conn, &judge(&conn, Timestamp::from_secs_f64(10.0), &NeighbourLog::default()), 0);
    }
    assert!(paths.storms().is_empty());
}

/// Keepalive findings of a server prober probing after `idle` s, 2 probes 2 s apart, then RST.
fn probed_after(hosts: &mut HostAggregator, idle: f64, port: u16) {
    let mut w = Wire::established(1000, 5000);
    w.send(idle + 0.005, seg(S, ACK, 5100, 1011, 0));
    w.send(idle + 2.021, seg(S, ACK, 5100, 1011, 0));
    w.send(idle + 4.037, seg(S, RST | ACK, 5101, 1011, 0));
    let conn = from_port(w.finish().remove(0), port);
    hosts.add(&conn, &judge(&conn, Timestamp::from_secs_f64(idle + 4.037), &NeighbourLog::default()));
}

#[test]
fn one_row_per_prober_split_only_when_no_single_setting_fits() {
    // 20.5 s and 21.4 s of idle: one setting (20 s) fits both.
    let mut hosts = HostAggregator::default();
    probed_after(&mut hosts, 20.5, 41000);
    probed_after(&mut hosts, 21.4, 41001);
    let rows = hosts.finish();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].connections_probed, rows[0].idle_s, rows[0].interval_s), (2, Some(20), Some(2)));
    // 20 s and 60 s: no single setting fits, two rows.
    probed_after(&mut hosts, 60.0, 41002);
    let rows = hosts.finish();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows.iter().map(|r| r.idle_s).collect::<Vec<_>>(), vec![Some(20), Some(60)]);
}

#[test]
fn one_off_probes_count_as_probes_but_not_toward_the_probers_idle() {
    // A server prober whose 20.5 s idle fits 20 s elsewhere; on another
    // connection (suricata-verify tcp-opt.pcap's shape) one probe after
    // 1.03 s, answered, then 30 s without a probe until its data: a
    // one-off, whose 1.03 s must not join (or split) the prober's row.
    let mut hosts = HostAggregator::default();
    probed_after(&mut hosts, 20.5, 41000);
    let mut w = Wire::established(1000, 5000);
    w.send(1.034, seg(S, ACK, 5100, 1011, 0));
    w.send(1.231, seg(C, ACK, 1011, 5101, 0));
    w.send(31.6, seg(S, ACK, 5101, 1011, 31));
    let conn = from_port(w.finish().remove(0), 41001);
    let v = judge(&conn, Timestamp::from_secs_f64(32.0), &NeighbourLog::default());
    let k = &v.keepalive()[0];
    assert_eq!((k.probes_sent, k.probes_answered, k.idle), (1, 1, None));
    assert_eq!(k.one_off.map(|s| (s.answer.frame, s.until.frame)), Some((8, 9)));
    hosts.add(&conn, &v);
    let rows = hosts.finish();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].connections_probed, rows[0].probes_sent, rows[0].idle_s), (2, 3, Some(20)));
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
        conn.sides[0].set_port(41000 + port);
        let v = judge(&conn, Timestamp::from_secs_f64(5.0), &NeighbourLog::default());
        assert_eq!(v.reason(), EndReason::NeverEstablished);
        paths.add(&conn, &v, 0);
    }
    assert_eq!(paths.storms(), []);
    assert_eq!(paths.paths(), []);
}

#[test]
fn half_open_connections_still_retransmitting_count_from_when_their_data_went_unanswered() {
    // Each connection's data goes unanswered (the path lost it) and the
    // client opens a new connection while the old one keeps retransmitting.
    let mut paths = PathAggregator::default();
    for i in 0..3u16 {
        let t0 = 20.0 * f64::from(i);
        let mut w = Wire::new();
        w.send(t0, seg(C, SYN, 1000, 0, 0));
        w.send(t0 + 0.001, seg(S, SYN | ACK, 5000, 1001, 0));
        w.send(t0 + 0.002, seg(C, ACK, 1001, 5001, 10));
        w.send(t0 + 0.003, seg(S, ACK, 5001, 1011, 0));
        if i < 2 {
            // Unanswered from t0 + 5 s, retransmitted until the capture ends at 59 s.
            let mut t = t0 + 5.0;
            let mut gap = 0.2;
            while t < 59.0 {
                w.send(t, seg(C, ACK, 1011, 5001, 10));
                t += gap;
                gap *= 2.0;
            }
        }
        let conn = from_port(w.finish().remove(0), 41000 + i);
        let v = judge(&conn, Timestamp::from_secs_f64(59.0), &NeighbourLog::default());
        paths.add(&conn, &v, 0);
    }
    let storms = paths.storms();
    assert_eq!(storms.len(), 1, "{storms:?}");
    assert_eq!((storms[0].abandoned, storms[0].unanswered), (2, 2));
}

#[test]
fn a_stateless_rst_counts_for_the_path_only_when_it_answered_something() {
    // The server answers the client's data after 60 s of idle with a
    // stateless RST (no timestamp option): the peer, or a NAT that forgot
    // the mapping, lost the connection.
    let stateless = |answer_at: f64| {
        let mut w = Wire::new();
        w.send(0.0, seg(C, SYN, 1000, 0, 0).timestamps());
        w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0).timestamps());
        w.send(0.002, seg(C, ACK, 1001, 5001, 10).timestamps());
        w.send(0.003, seg(S, ACK, 5001, 1011, 0).timestamps());
        if answer_at > 0.0 {
            w.send(60.0, seg(C, ACK, 1011, 5001, 10).timestamps());
        }
        w.send(60.0 + answer_at, seg(S, RST, 5001, 0, 0));
        w
    };
    let mut paths = PathAggregator::default();
    assert_eq!(add_all(&mut paths, stateless(0.001), 60.001, 0), vec![EndReason::Reset]);
    assert_eq!(paths.paths().len(), 1);
    // The same RST after the silence itself, answering nothing: an abort
    // (however stateless it looks: the reset rule, too, wants a stateless
    // RST to follow the peer's packet).
    let conns = stateless(0.0).finish();
    let cause = judge(&conns[0], Timestamp::from_secs_f64(60.0), &NeighbourLog::default()).reset().map(|r| r.cause);
    assert_eq!(cause, Some(crate::verdict::ResetCause::Abort));
    let mut paths = PathAggregator::default();
    assert_eq!(add_all(&mut paths, stateless(0.0), 60.0, 0), vec![EndReason::Reset]);
    assert!(paths.paths().is_empty());
}
