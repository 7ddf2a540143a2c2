//! The live loop on the scripted source: the real session, sinks and
//! judge, without root.

use super::events::LiveEvents;
use super::session::LiveSession;
use crate::pipeline::Judge;
use crate::report::json::JsonSink;
use crate::source::scripted::ScriptedSource;
use crate::time::Timestamp;
use std::collections::BTreeSet;

use crate::testkit::{ACK, FIN, RST, SYN, frame, handshake_and_exchange};

/// Runs the live loop on a script of frames at their times, the clock
/// ticking every 250 ms, until `until` s; returns the event stream (NDJSON
/// or human lines) and the final JSON document.
fn run_session(frames: &[(f64, Vec<u8>)], until: f64, json: bool) -> (String, Vec<u8>) {
    let mut doc = Vec::new();
    let mut sink = JsonSink::new(&mut doc);
    let mut events = LiveEvents::new(Vec::new(), json);
    {
        let mut judge = Judge::new(&mut sink, BTreeSet::new()).streaming(&mut events);
        let source = ScriptedSource::new(1_700_000_000.0, frames.to_vec(), until);
        let mut session = LiveSession::new(source, &mut judge, "test");
        while !session.is_over() {
            session.step().unwrap();
        }
        let (stopped, ended) = session.finish();
        ended.unwrap();
        assert_eq!(stopped.packets, frames.len() as u64);
        assert_eq!(stopped.broken, None);
        judge.finish().unwrap();
    }
    // The sink borrows the document until it goes (it may own a writing thread).
    drop(sink);
    (String::from_utf8(events.into_writer()).unwrap(), doc)
}

/// [`run_session`] with NDJSON events, parsed.
fn run_events(frames: &[(f64, Vec<u8>)], until: f64) -> (Vec<serde_json::Value>, Vec<u8>) {
    let (out, doc) = run_session(frames, until, true);
    (out.lines().map(|l| serde_json::from_str(l).unwrap()).collect(), doc)
}

#[test]
fn streams_a_keepalive_kill_before_the_linger_time() {
    let mut frames = handshake_and_exchange();
    frames.extend([
        (2.01, frame(false, ACK, 5100, 1011, 0)),
        (3.02, frame(false, ACK, 5100, 1011, 0)),
        (4.03, frame(false, RST | ACK, 5101, 1011, 0)),
    ]);
    let (events, _) = run_events(&frames, 6.0);
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["keepalive-train", "probe-unanswered", "probe-unanswered", "connection-ended"], "{events:#?}");
    assert_eq!(events[0]["prober"], "10.0.0.2:7777");
    assert_eq!(events[0]["first_probe_frame"], 7);
    assert_eq!(events[0]["client"], "10.0.0.1:40000");
    // Every event names its connection: the capture's number, and the
    // Community ID (computed here with the spec's Python recipe).
    for e in &events {
        assert_eq!(e["connection_id"], 1, "{e}");
        assert_eq!(e["community_id"], "1:7asoaIArF3Vz44FQEbKi8uLJd/s=", "{e}");
    }
    assert_eq!(events[1]["probe"], 1);
    // Probe 2 came 1.01 s after probe 1, before the clock's tick at 1.24 s.
    assert_eq!(events[1]["confirmed_by"], "next-probe");
    assert_eq!(events[1]["waited_s"], 1.01);
    assert_eq!(events[2]["probe"], 2);
    assert_eq!(events[2]["confirmed_by"], "prober-reset");
    let end = &events[3];
    assert_eq!(end["end_reason"], "keepalive-timeout");
    assert_eq!(end["detected_by"], "packet");
    assert_eq!(end["time"], Timestamp::from_secs_f64(1_700_000_004.03).to_rfc3339());
    let ka = &end["connection"]["keepalive"][0];
    assert_eq!(ka["idle_s"], 2);
    assert_eq!(ka["interval_s"], 1);
    assert_eq!(ka["probes"], 2);
}

#[test]
fn the_clock_declares_probes_unanswered_and_silent_probers_gone() {
    let mut frames = handshake_and_exchange();
    frames.push((2.01, frame(false, ACK, 5100, 1011, 0)));
    frames.push((4.02, frame(false, ACK, 5100, 1011, 0)));
    let (events, doc) = run_events(&frames, 12.0);
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["keepalive-train", "probe-unanswered", "probe-unanswered", "connection-ended"], "{events:#?}");
    // Probe 1: no answer at the first tick 1 s after it (3.25 s; the
    // scripted clock counts whole nanoseconds, not f64 seconds).
    assert_eq!(events[1]["confirmed_by"], "timeout");
    assert_eq!(events[1]["time"], Timestamp(1_700_000_003_250_000_000).to_rfc3339());
    assert_eq!(events[2]["probe"], 2);
    assert_eq!(events[2]["confirmed_by"], "timeout");
    // No RST: given up after 3 probe intervals of silence, by the clock.
    assert_eq!(events[3]["end_reason"], "keepalive-timeout");
    assert_eq!(events[3]["detected_by"], "clock");
    assert_eq!(events[3]["connection"]["keepalive"][0]["probes_bound"], "at-least");
    // The final report judges with the packets' times only, as analyze would.
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    assert_eq!(doc["connections"][0]["end_reason"], "open");
}

#[test]
fn a_close_is_streamed_once_and_open_connections_only_in_the_report() {
    let mut frames = vec![
        (0.0, frame(true, SYN, 1000, 0, 0)),
        (0.001, frame(false, SYN | ACK, 5000, 1001, 0)),
        (0.002, frame(true, ACK, 1001, 5001, 0)),
        (0.5, frame(true, FIN | ACK, 1001, 5001, 0)),
        (0.501, frame(false, FIN | ACK, 5001, 1002, 0)),
        (0.502, frame(true, ACK, 1002, 5002, 0)),
    ];
    // A second connection on another port that stays open.
    let mut other = frame(true, SYN, 9000, 0, 0);
    other[34] = 0x9c; // source port 40000 → 39999 (0x9c3f)
    other[35] = 0x3f;
    frames.push((0.6, other));
    let (events, doc) = run_events(&frames, 12.0);
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["connection-ended"], "{events:#?}");
    assert_eq!(events[0]["end_reason"], "closed");
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    assert_eq!(doc["summary"]["connections"], 2);
}

#[test]
fn metrics_count_a_keepalive_kill_by_service_and_settings() {
    let mut frames = handshake_and_exchange();
    frames.extend([
        (2.01, frame(false, ACK, 5100, 1011, 0)),
        (3.02, frame(false, ACK, 5100, 1011, 0)),
        (4.03, frame(false, RST | ACK, 5101, 1011, 0)),
    ]);
    let metrics = super::metrics::Metrics::new();
    let mut doc = Vec::new();
    let mut sink = JsonSink::new(&mut doc);
    let mut sinks = super::LiveSinks {
        events: LiveEvents::new(Vec::new(), true),
        selection: "none".parse().unwrap(),
        metrics: Some(std::sync::Arc::clone(&metrics)),
        events_dropped: Default::default(),
        host: None,
        owners: Default::default(),
    };
    {
        let mut judge = Judge::new(&mut sink, BTreeSet::new()).streaming(&mut sinks);
        let source = ScriptedSource::new(1_700_000_000.0, frames.clone(), 20.0);
        let mut session = LiveSession::new(source, &mut judge, "test");
        while !session.is_over() {
            session.step().unwrap();
        }
        session.finish().1.unwrap();
        judge.finish().unwrap();
    }
    let text = metrics.encode();
    let has = |line: &str| assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    has(r#"tcpka_connections_ended_total{verdict="keepalive-timeout",reset_cause=""} 1"#);
    has(r#"tcpka_keepalive_kills_total{service="7777",prober_role="server",idle_s="2",interval_s="1",probes="2"} 1"#);
    has("tcpka_keepalive_probes_sent_total 2");
    has("tcpka_keepalive_probes_answered_total 0");
    // The client's last packet (its ACK at 0.005 s) to the RST at 4.03 s.
    has(r#"tcpka_silence_before_end_seconds_sum{verdict="keepalive-timeout"} 4.025"#);
    has(r#"tcpka_silence_before_end_seconds_bucket{le="5.0",verdict="keepalive-timeout"} 1"#);
    has(r#"tcpka_silence_before_end_seconds_bucket{le="1.0",verdict="keepalive-timeout"} 0"#);
    // Counted once: the report's judgment at the linger time repeats the event's.
    has("tcpka_connections_revised_total 0");
}

#[test]
fn final_report_wraps_the_document_on_one_line() {
    let mut ev = LiveEvents::new(Vec::new(), true);
    let doc = b"{\"tool\":\"tcpka\",\"connections\":[\n{\"a\":\"b\\nc\"}\n],\n\"summary\":{}}\n";
    ev.final_report(Timestamp::default(), &mut &doc[..]).unwrap();
    let out = String::from_utf8(ev.into_writer()).unwrap();
    assert_eq!(out.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["event"], "final-report");
    assert_eq!(v["report"]["connections"][0]["a"], "b\nc");
}

#[test]
fn human_lines_tell_the_keepalive_kill() {
    let mut frames = handshake_and_exchange();
    frames.extend([
        (2.01, frame(false, ACK, 5100, 1011, 0)),
        (3.02, frame(false, ACK, 5100, 1011, 0)),
        (4.03, frame(false, RST | ACK, 5101, 1011, 0)),
    ]);
    let (out, _) = run_session(&frames, 6.0, false);
    let lines: Vec<&str> = out.lines().collect();
    // Each event: a line with the local time (date, microseconds, UTC
    // offset), the event and the connection's number; then what happened,
    // indented, in 80 columns.
    let header = |i: usize, event: &str, at: f64| {
        let fields: Vec<&str> = lines[i].split(' ').collect();
        assert_eq!(fields[2..], [event, "#1"], "{out}");
        let when = chrono::DateTime::parse_from_rfc3339(&format!("{}T{}", fields[0], fields[1]))
            .unwrap_or_else(|e| panic!("{e}: {}", lines[i]));
        let nanos = when.timestamp() * 1_000_000_000 + i64::from(when.timestamp_subsec_nanos());
        assert_eq!(nanos / 1000, Timestamp::from_secs_f64(1_700_000_000.0 + at).0 / 1000, "{}", lines[i]);
    };
    header(0, "keepalive-train", 2.01);
    assert_eq!(lines[1], "    10.0.0.2:7777 (server) probes 10.0.0.1:40000 after 2.005 s idle (frame 7)", "{out}");
    header(2, "probe-unanswered", 3.02);
    assert_eq!(lines[3], "    10.0.0.2:7777 (server) probe 1 (frame 7): the next probe followed after");
    assert_eq!(lines[4], "    1.010 s");
    header(5, "probe-unanswered", 4.03);
    assert_eq!(lines[6], "    10.0.0.2:7777 (server) probe 2 (frame 8): the prober gave up with a RST");
    assert_eq!(lines[7], "    after 1.010 s");
    header(8, "connection-ended", 4.03);
    assert_eq!(lines[9], "    10.0.0.1:40000 -> 10.0.0.2:7777: keepalive-timeout");
    // The diagnosis, indented, then a blank line before the final table.
    assert!(lines[10].starts_with("    Keepalive timeout: 10.0.0.2:7777 (server)"), "{out}");
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "{out}");
    assert_eq!(lines.last(), Some(&""), "{out}");
}

#[test]
fn the_scripted_source_hands_out_frames_when_their_time_comes() {
    use crate::source::{Next, PacketSource};
    use std::time::Duration;
    let mut source = ScriptedSource::new(100.0, vec![(0.0, vec![1]), (0.3, vec![2])], 0.6);
    let at = |secs: f64| Timestamp::from_secs_f64(100.0 + secs);
    assert!(matches!(source.next_packet(), Next::Packet(p) if p.data == [1] && p.ts == at(0.0)));
    assert!(matches!(source.next_packet(), Next::Idle));
    // A wait ends early when a frame comes.
    source.wait(Duration::from_millis(250)).unwrap();
    assert_eq!(source.now(), at(0.25));
    source.wait(Duration::from_millis(250)).unwrap();
    assert_eq!(source.now(), at(0.3));
    assert!(matches!(source.next_packet(), Next::Packet(p) if p.data == [2]));
    assert!(matches!(source.next_packet(), Next::Idle));
    source.wait(Duration::from_millis(250)).unwrap();
    assert!(matches!(source.next_packet(), Next::Idle), "the script runs until 0.6 s");
    source.wait(Duration::from_millis(250)).unwrap();
    assert!(matches!(source.next_packet(), Next::End));
}

#[test]
fn a_later_verdict_revises_the_clocks() {
    // The silent prober of the test above, judged gone by the clock; then
    // the client resets the connection, which changes the final verdict.
    let mut frames = handshake_and_exchange();
    frames.push((2.01, frame(false, ACK, 5100, 1011, 0)));
    frames.push((4.02, frame(false, ACK, 5100, 1011, 0)));
    frames.push((11.0, frame(true, RST | ACK, 1011, 5101, 0)));
    let (events, doc) = run_events(&frames, 30.0);
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["keepalive-train", "probe-unanswered", "probe-unanswered", "connection-ended", "connection-ended"],
        "{events:#?}"
    );
    assert_eq!(events[3]["end_reason"], "keepalive-timeout");
    assert_eq!(events[3]["detected_by"], "clock");
    assert!(events[3].get("revised").is_none(), "only a revision says so");
    // Not streamed again at the RST (its end was already told), but when the
    // flow table hands it out after its linger time, by the clock's time.
    let revised = &events[4];
    assert_eq!(revised["end_reason"], "reset");
    assert_eq!(revised["detected_by"], "judged");
    assert_eq!(revised["revised"], true);
    assert_eq!(revised["time"], Timestamp(1_700_000_021_000_000_000).to_rfc3339());
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    assert_eq!(doc["connections"][0]["end_reason"], "reset");
}

#[test]
fn a_long_train_reports_every_probe_once_with_the_frames_kept() {
    // 35 probes 1 s apart (more than the 32 the flow table keeps), then the RST.
    let mut frames = handshake_and_exchange();
    for k in 0..35 {
        frames.push((2.01 + f64::from(k), frame(false, ACK, 5100, 1011, 0)));
    }
    frames.push((37.02, frame(false, RST | ACK, 5101, 1011, 0)));
    let (events, _) = run_events(&frames, 40.0);
    let unanswered: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "probe-unanswered").collect();
    let numbers: Vec<u64> = unanswered.iter().map(|e| e["probe"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=35).collect::<Vec<u64>>());
    // Probe n is frame 6 + n while kept; the 32nd slot holds the latest probe.
    assert_eq!(unanswered[30]["probe_frame"], 37);
    assert_eq!(unanswered[30]["confirmed_by"], "next-probe");
    assert_eq!(unanswered[30]["waited_s"], 1.0);
    assert!(unanswered[31]["probe_frame"].is_null(), "probe 32 is not kept: {}", unanswered[31]);
    assert!(unanswered[33]["probe_frame"].is_null());
    assert_eq!(unanswered[34]["probe_frame"], 41);
    assert_eq!(unanswered[34]["confirmed_by"], "prober-reset");
    assert_eq!(events.last().unwrap()["end_reason"], "keepalive-timeout");
}

/// The reports of the connections in `frames` (times in seconds after
/// [`EPOCH_S`](crate::testkit::EPOCH_S)), every one, as `tcpka analyze` makes them.
pub(super) fn reports_of(frames: &[(f64, Vec<u8>)]) -> Vec<crate::report::ConnectionReport> {
    use crate::report::{ConnectionReport, ReportSink, RunReport};
    struct Keep(Vec<ConnectionReport>);
    impl ReportSink for Keep {
        fn wants(&mut self, _: crate::verdict::EndReason) -> bool {
            true
        }
        fn connection(&mut self, report: &ConnectionReport) -> std::io::Result<()> {
            self.0.push(report.clone());
            Ok(())
        }
        fn finish(&mut self, _: &RunReport<'_>) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut keep = Keep(Vec::new());
    let mut judge = crate::pipeline::Judge::new(&mut keep, Default::default());
    let link = crate::source::Link { kind: crate::decode::LinkKind::Ethernet, name: "EN10MB".into() };
    let mut pipeline = crate::pipeline::Pipeline::new(&mut judge, "test", None, &link);
    for (t, f) in frames {
        pipeline
            .packet(crate::time::Timestamp::from_secs_f64(crate::testkit::EPOCH_S as f64 + t), f)
            .expect("in memory");
    }
    pipeline.end().expect("in memory");
    judge.finish().expect("in memory");
    keep.0
}
