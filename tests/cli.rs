//! The command line: output formats, exit codes and bad input.
mod common;

use common::*;
use std::fs;

fn kill_capture(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("kill.pcap");
    write_pcap(&path, 1, &keepalive_kill_frames());
    path.to_string_lossy().into_owned()
}

#[test]
fn names_prober_and_settings_in_json_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = kill_capture(&dir);
    let (doc, out) = analyze_json(&[&path]);
    assert_eq!(out.status.code(), Some(0));
    let conn = &doc["connections"][0];
    assert_eq!(conn["client"], "10.0.0.1:40000");
    assert_eq!(conn["server"], "10.0.0.2:7777");
    assert_eq!(conn["end_reason"], "keepalive-timeout");
    assert_eq!(conn["first_frame"], 1);
    assert_eq!(conn["last_frame"], 9);
    let ka = &conn["keepalive"][0];
    assert_eq!(ka["prober"], "10.0.0.2:7777");
    assert_eq!(ka["probes_sent"], 2);
    assert_eq!(ka["probes_answered"], 0);
    assert_eq!(ka["idle_s"], 20);
    assert_eq!(ka["interval_s"], 2);
    assert_eq!(ka["probes"], 2);
    assert_eq!(ka["probes_bound"], "exact");
    assert_eq!(ka["idle_observed_s"], 21.4);
    assert_eq!(ka["settings_origin"], "tuned");
    assert_eq!(doc["hosts"][0]["prober"], "10.0.0.2:7777");
    assert_eq!(doc["hosts"][0]["connections_ended"], 1);
    assert_eq!(doc["summary"]["by_end_reason"]["keepalive-timeout"], 1);
    assert_eq!(doc["captures"][0]["format"], "pcap");
    assert_eq!(doc["captures"][0]["link_types"][0], "EN10MB");
    let evidence: Vec<u64> =
        conn["evidence"].as_array().unwrap().iter().map(|e| e["frame"].as_u64().unwrap()).collect();
    assert_eq!(evidence, vec![1, 6, 7, 8, 9]);

    let out = tcpka(&["analyze", &path]);
    // Paragraphs are wrapped: compare with the white space folded.
    let text = stdout(&out).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("tcp_keepalive_time=20, tcp_keepalive_intvl=2, tcp_keepalive_probes=2"), "{text}");
    assert!(text.contains("keepalive-timeout"), "{text}");
    assert!(text.contains("ip.addr==10.0.0.1 && tcp.port==40000"), "{text}");
}

#[test]
fn fail_on_sets_exit_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = kill_capture(&dir);
    assert_eq!(tcpka(&["analyze", "--fail-on", "reset,keepalive-timeout", &path]).status.code(), Some(1));
    assert_eq!(tcpka(&["analyze", "--fail-on", "reset", &path]).status.code(), Some(0));
    let bad = tcpka(&["analyze", "--fail-on", "meltdown", &path]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("keepalive-timeout"), "{}", stderr(&bad));
}

#[test]
fn reads_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = kill_capture(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tcpka"))
        .args(["analyze", "--format", "json", "-"])
        .stdin(fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
    assert_eq!(doc["captures"][0]["path"], "-");
}

#[test]
fn filter_keeps_wireshark_frame_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = kill_capture(&dir);
    // Only the server's packets: the numbering still counts every packet in the file.
    let (doc, _) = analyze_json(&["-f", "src host 10.0.0.2", &path]);
    assert_eq!(doc["connections"][0]["first_frame"], 2);
    assert_eq!(doc["connections"][0]["last_frame"], 9);
    assert_eq!(doc["captures"][0]["packets"], 9);
    assert_eq!(doc["captures"][0]["tcp_packets"], 5);
    let bad = tcpka(&["analyze", "-f", "tcp port banana", &path]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("bad filter"), "{}", stderr(&bad));
}

#[test]
fn several_files_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = kill_capture(&dir);
    let (doc, _) = analyze_json(&[&path, &path]);
    assert_eq!(doc["summary"]["captures"], 2);
    assert_eq!(doc["summary"]["connections"], 2);
    assert_eq!(doc["hosts"][0]["connections_ended"], 2);
}

#[test]
fn missing_empty_and_non_capture_files_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = kill_capture(&dir);
    let empty = dir.path().join("empty.pcap");
    fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.pcap");
    fs::write(&text, b"this is not a capture at all\n").unwrap();
    let missing = dir.path().join("missing.pcap");
    for (path, words) in [
        (missing.to_str().unwrap(), "cannot open"),
        (empty.to_str().unwrap(), "empty file"),
        (text.to_str().unwrap(), "not a pcap or pcapng capture"),
    ] {
        // The good file is still analysed and reported; the exit status says something was wrong.
        let (doc, out) = analyze_json(&[path, &good]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        let err = stderr(&out);
        assert!(err.contains(path) && err.contains(words), "{err}");
        assert_eq!(doc["captures"][0]["error"].as_str().map(|e| e.contains(words)), Some(true));
        assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn truncated_file_reports_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let good = kill_capture(&dir);
    let bytes = fs::read(&good).unwrap();
    let cut = dir.path().join("cut.pcap");
    fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let (doc, out) = analyze_json(&[cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cut off"), "{}", stderr(&out));
    assert_eq!(doc["captures"][0]["packets"], 8);
    // The capture's error says it was cut off (issue 11: not a warning beside `"error": null`).
    let error = doc["captures"][0]["error"].as_str().expect("the capture's error is set");
    assert!(error.contains("cut off") && error.contains("after packet 8"), "{error}");
    assert_eq!(doc["captures"][0]["warnings"].as_array().unwrap().len(), 0);
    // Eight packets: the two probes are there, the RST is not.
    assert_eq!(doc["connections"][0]["keepalive"][0]["probes_sent"], 2);
    assert_eq!(doc["connections"][0]["end_reason"], "open");
}

#[test]
fn unknown_link_type_is_a_named_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user0.pcap");
    write_pcap(&path, 147, &[(0.0, vec![1, 2, 3, 4])]);
    let out = tcpka(&["analyze", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unsupported link type") && err.contains("147"), "{err}");
}

#[test]
fn help_teaches_verdicts_and_exit_codes() {
    let out = tcpka(&["analyze", "--help"]);
    let text = stdout(&out);
    for words in ["keepalive-timeout", "Exit status", "--fail-on", "--filter", "Examples"] {
        assert!(text.contains(words), "{words} missing from:\n{text}");
    }
    assert_eq!(tcpka(&["analyze"]).status.code(), Some(2));
}

#[test]
fn a_clock_jump_of_years_before_the_probes_splits_the_capture_there() {
    // Twenty connections, each with the clock jumping ten years between the
    // last exchange and the first probe (merged captures, a device booting
    // in 1970). No TCP timer explains ten years (issue 9): the capture is
    // split at the jump, nothing is measured across it, and the run stays
    // instant (the idle → setting inference bisects: see
    // infer::tests::years_of_idle_cost_the_same_as_seconds).
    const TEN_YEARS: f64 = 10.0 * 365.0 * 86400.0;
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for n in 0..20u8 {
        for (t, mut f) in keepalive_kill_frames() {
            // One connection per client: 10.0.0.1 becomes 10.0.n.1 (IPv4
            // source at bytes 26..30 of the frame, destination at 30..34).
            let client_octet = if f[29] == 1 { 28 } else { 32 };
            f[client_octet] = n;
            let t = if t > 20.0 { t + TEN_YEARS } else { t };
            frames.push((t + f64::from(n) * 1e-3, f));
        }
    }
    frames.sort_by(|a, b| a.0.total_cmp(&b.0));
    let path = dir.path().join("jump.pcap");
    write_pcap(&path, 1, &frames);
    let started = std::time::Instant::now();
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Before the jump: 20 connections open when that part ended (frame 120);
    // after it: 20 that the capture joins in their idle period, whose
    // server gave up after 2 unanswered probes 2 s apart.
    assert_eq!(doc["summary"]["connections"], 40);
    assert_eq!(doc["summary"]["by_end_reason"]["open"], 20);
    assert_eq!(doc["summary"]["by_end_reason"]["keepalive-timeout"], 20);
    for conn in doc["connections"].as_array().unwrap() {
        assert!(conn["idle_at_end_s"].as_f64().unwrap_or(0.0) < 1.0, "{conn}");
        assert!(conn["duration_s"].as_f64().unwrap() < 30.0, "{conn}");
        if let Some(ka) = conn["keepalive"].get(0) {
            // The idle before the probes spans the jump: not measured, no setting.
            assert_eq!((&ka["idle_observed_s"], &ka["idle_s"]), (&serde_json::Value::Null, &serde_json::Value::Null));
            assert_eq!((&ka["interval_s"], &ka["probes"]), (&serde_json::json!(2), &serde_json::json!(2)));
        }
    }
    let warnings = doc["captures"][0]["warnings"].to_string();
    assert!(warnings.contains("the capture's clock jumps forward by 10.0 years at frame 121"), "{warnings}");
}

#[test]
fn captures_of_different_days_appended_are_judged_each_in_its_own_time() {
    // `mergecap -a` of Tuesday's capture after Monday's, then Sunday's: two
    // connections from one client to one server left open on each day.
    const DAY: f64 = 86400.0;
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for (day, port) in [(1.0, 41000u16), (1.0, 41001), (2.0, 41002), (2.0, 41003), (0.0, 41004), (0.0, 41005)] {
        for (t, mut f) in handshake_and_exchange() {
            // The client's port: source port of its frames, destination of the server's.
            let at = if f[35] == 0x40 && f[34] == 0x9c { 34 } else { 36 };
            f[at..at + 2].copy_from_slice(&port.to_be_bytes());
            frames.push((day * DAY + 30.0 + f64::from(port % 2) + t, f));
        }
    }
    let path = dir.path().join("appended.pcap");
    write_pcap(&path, 1, &frames);
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(doc["summary"]["by_end_reason"]["open"], 6);
    // Four or six open "at once" only by adding up days: no reconnect storm.
    assert_eq!(doc["reconnect_storms"], serde_json::json!([]));
    for conn in doc["connections"].as_array().unwrap() {
        let idle = conn["idle_at_end_s"].as_f64().unwrap();
        assert!((0.0..2.0).contains(&idle), "idle measured across days: {conn}");
    }
    let warnings = doc["captures"][0]["warnings"].to_string();
    assert!(
        warnings.contains("forward by 24.0 h at frame 13") && warnings.contains("back by 2 days at frame 25"),
        "{warnings}"
    );
}

#[test]
fn a_device_booting_in_1970_then_setting_its_clock_gives_no_interval_across_the_step() {
    // The exchange stamped a minute after the epoch, then NTP sets the clock
    // and the server's probes and RST carry the real time.
    let dir = tempfile::tempdir().unwrap();
    let boot = -(EPOCH_S as f64) + 60.0;
    let frames: Vec<(f64, Vec<u8>)> =
        keepalive_kill_frames().into_iter().map(|(t, f)| (if t > 20.0 { t } else { boot + t }, f)).collect();
    let path = dir.path().join("1970.pcap");
    write_pcap(&path, 1, &frames);
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let conns = doc["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0]["start"], "1970-01-01T00:01:00.000000Z");
    assert_eq!(conns[0]["end_reason"], "open");
    assert_eq!(conns[1]["end_reason"], "keepalive-timeout");
    assert_eq!(conns[1]["keepalive"][0]["idle_observed_s"], serde_json::Value::Null);
    for c in conns {
        assert!(c["duration_s"].as_f64().unwrap() >= 0.0 && c["duration_s"].as_f64().unwrap() < 10.0, "{c}");
    }
    assert!(doc["captures"][0]["warnings"].to_string().contains("forward by 53.9 years at frame 7"), "{doc}");
}

#[test]
fn a_keepalive_kill_captured_twice_on_a_router_counts_each_probe_once() {
    // `tcpdump -i any` on a router: every packet arriving (TTL 64) and, 11 µs
    // later, leaving (TTL 63), with the IP ID of its sender.
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for (i, (t, mut f)) in keepalive_kill_frames().into_iter().enumerate() {
        f[18..20].copy_from_slice(&(0x4000 + i as u16).to_be_bytes());
        frames.push((t, f.clone()));
        f[22] = 63;
        frames.push((t + 11e-6, f));
    }
    let path = dir.path().join("router-any.pcap");
    write_pcap(&path, 1, &frames);
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let conn = &doc["connections"][0];
    assert_eq!(conn["end_reason"], "keepalive-timeout");
    assert_eq!(conn["packets"], 9);
    assert_eq!(conn["retransmissions"], 0);
    let ka = &conn["keepalive"][0];
    assert_eq!((ka["probes_sent"].as_u64(), ka["probes"].as_u64()), (Some(2), Some(2)), "{ka}");
    assert_eq!(ka["interval_observed_s"], 2.016);
    // Wireshark's numbers: the probes are frames 13 and 15, the RST 17.
    assert_eq!(ka["first_probe_frame"], 13);
    assert_eq!(conn["last_frame"], 17);
    let dups = &doc["captures"][0]["duplicates"];
    assert_eq!(dups["dropped"], 9);
    assert_eq!(dups["first"][0], serde_json::json!({"frame": 2, "copy_of": 1}));
    let table = stdout(&tcpka(&["analyze", path.to_str().unwrap()]));
    assert!(table.contains("duplicates: 9 frames repeated a packet"), "{table}");
}

/// Runs tcpka with standard output and/or standard error on `/dev/full`,
/// where every write fails with ENOSPC (the other stream is captured).
fn tcpka_full(args: &[&str], full_stdout: bool, full_stderr: bool) -> std::process::Output {
    let full = || fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tcpka"));
    cmd.args(args);
    if full_stdout {
        cmd.stdout(full());
    }
    if full_stderr {
        cmd.stderr(full());
    }
    cmd.output().expect("run tcpka")
}

#[test]
fn a_full_standard_error_is_an_exit_status_not_a_panic() {
    // `eprintln!` panics (exit 101) when standard error cannot be written.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pcap");
    let missing = missing.to_str().unwrap();
    let good = kill_capture(&dir);
    let out = tcpka_full(&["analyze", missing], false, true);
    assert_eq!(out.status.code(), Some(2));
    let out = tcpka_full(&["analyze", "--format", "json", missing, &good], false, true);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
    // The diagnostics are lost, the report is not.
    let out = tcpka_full(&["analyze", "--format", "json", &good], false, true);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["connections"], 1);
    // The trace asked for cannot be written: an error, said quietly.
    let out = tcpka_full(&["analyze", "--trace", &good], false, true);
    assert_eq!(out.status.code(), Some(2));
    let out = tcpka_full(&["live", "-i", "no-such-interface-here"], false, true);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_full_standard_output_is_exit_status_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let good = kill_capture(&dir);
    for format in ["table", "json"] {
        let out = tcpka_full(&["analyze", "--format", format, &good], true, false);
        assert_eq!(out.status.code(), Some(2), "{format}");
        let err = stderr(&out);
        assert!(err.contains("tcpka:") && err.contains("No space left on device"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        // Both streams gone: the same status, quietly.
        assert_eq!(tcpka_full(&["analyze", "--format", format, &good], true, true).status.code(), Some(2));
    }
    let out = tcpka_full(&["live", "--list-interfaces"], true, false);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("No space left on device"), "{}", stderr(&out));
    assert_eq!(tcpka_full(&["live", "--list-interfaces"], true, true).status.code(), Some(2));
}

#[test]
fn syns_nobody_answered_are_judged_after_the_syn_retry_window() {
    // Three attempts to connect to a dead service, each SYN retransmitted as
    // Linux does (1, 3, 7, 15, 31, 63 s), and a keepalive kill 400 s later.
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for i in 0..3u16 {
        for t in [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0] {
            frames.push((t + f64::from(i) * 0.01, scan_syn(50_000 + i, [10, 0, 0, 2], 80)));
        }
    }
    for (t, f) in keepalive_kill_frames() {
        frames.push((t + 400.0, f));
    }
    frames.sort_by(|a, b| a.0.total_cmp(&b.0));
    let path = dir.path().join("scan.pcap");
    write_pcap(&path, 1, &frames);
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let conns = doc["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 4);
    // Judged when their limit ran out, before the keepalive kill.
    for (conn, port) in conns.iter().zip(["50000", "50001", "50002"]) {
        assert_eq!(conn["client"], format!("10.9.9.9:{port}"));
        // Their own verdict (issue 9), never "open".
        assert_eq!(conn["end_reason"], "never-established");
        assert_eq!(conn["packets"], 7);
        assert_eq!(conn["handshake"]["syns"], 7);
        // The doubling from 1 s fits Linux with tcp_syn_retries=6 before 6.5.
        assert_eq!(conn["handshake"]["tcp_syn_retries"], 6);
        assert_eq!(conn["idle_at_end_s"], serde_json::Value::Null);
        let diagnosis = conn["diagnosis"].as_str().unwrap();
        assert!(diagnosis.starts_with("Never established") && diagnosis.contains("127 s"), "{diagnosis}");
        assert!(diagnosis.contains("judged then and dropped"), "{diagnosis}");
    }
    assert_eq!(conns[3]["end_reason"], "keepalive-timeout");
    // Not open at the end, so not a reconnect storm; and no path idle
    // timeout from the gaps between SYN retransmissions.
    assert_eq!(doc["reconnect_storms"], serde_json::json!([]));
    assert_eq!(doc["paths"], serde_json::json!([]));
    // Nothing evicted: the field is left out.
    assert_eq!(doc["captures"][0]["connections"], 4);
    assert!(doc["captures"][0].get("unreplied_evicted").is_none(), "{}", doc["captures"][0]);
}

/// A pcapng file (one Ethernet interface, microsecond times) with each
/// frame at `ts_micros`.
fn write_pcapng(path: &std::path::Path, frames: &[(u64, Vec<u8>)]) {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let len = 12 + body.len().next_multiple_of(4);
        out.extend((kind).to_le_bytes());
        out.extend((len as u32).to_le_bytes());
        out.extend(body);
        out.resize(out.len() + body.len().next_multiple_of(4) - body.len(), 0);
        out.extend((len as u32).to_le_bytes());
    }
    let mut out = Vec::new();
    // Section header: byte-order magic, version 1.0, section length unknown.
    let shb = [&0x1A2B_3C4Du32.to_le_bytes()[..], &1u16.to_le_bytes(), &0u16.to_le_bytes(), &(-1i64).to_le_bytes()];
    block(&mut out, 0x0A0D_0D0A, &shb.concat());
    // Interface description: Ethernet, snap length 65535.
    block(&mut out, 1, &[&1u16.to_le_bytes()[..], &0u16.to_le_bytes(), &65535u32.to_le_bytes()].concat());
    for (ts, data) in frames {
        let header = [0u32, (ts >> 32) as u32, *ts as u32, data.len() as u32, data.len() as u32];
        let mut body: Vec<u8> = header.iter().flat_map(|v| v.to_le_bytes()).collect();
        body.extend(data);
        block(&mut out, 6, &body);
    }
    fs::write(path, out).unwrap();
}

#[test]
fn timestamps_at_the_end_of_time_do_not_overflow_the_clock() {
    // pcapng times are 64-bit: 2^64 µs is 585,000 years, past what tcpka's
    // nanosecond clock holds (they saturate). Timers computed from such a
    // time must saturate too (the expiry sweep overflowed).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.pcapng");
    let frames: Vec<(u64, Vec<u8>)> =
        keepalive_kill_frames().into_iter().map(|(t, f)| (u64::MAX - 60_000_000 + (t * 1e6) as u64, f)).collect();
    write_pcapng(&path, &frames);
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(doc["captures"][0]["format"], "pcapng");
    assert_eq!(doc["captures"][0]["packets"], 9);
    assert_eq!(doc["summary"]["connections"], 1);
}

/// The frames tshark's TCP analysis marks with `field` (e.g. tcp.analysis.keep_alive).
fn tshark_frames(capture: &str, field: &str) -> Vec<u64> {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r", capture, "-Y", field, "-T", "fields", "-e", "frame.number"])
        .output()
        .expect("run tshark");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.parse().unwrap()).collect()
}

#[test]
fn the_trace_speaks_wiresharks_words_and_agrees_with_its_analysis() {
    if !have_tool("the_trace_speaks_wiresharks_words_and_agrees_with_its_analysis", "tshark", "--version") {
        return;
    }
    // Keep-alives and their ACKs (answered, unanswered, several connections)
    // and data retransmitted into a silence: the frames tcpka's trace names
    // as Wireshark would are the frames Wireshark's analysis marks.
    let cases = [
        ("ka-answered-close.pcap", "TCP Keep-Alive", "tcp.analysis.keep_alive"),
        ("ka-answered-close.pcap", "TCP Keep-Alive ACK", "tcp.analysis.keep_alive_ack"),
        ("ka-multi.pcap", "TCP Keep-Alive", "tcp.analysis.keep_alive"),
        ("ka-sysctl-sll2.pcap", "TCP Keep-Alive", "tcp.analysis.keep_alive"),
        ("retrans-stalled.pcap", "TCP Retransmission", "tcp.analysis.retransmission"),
    ];
    for (capture, words, field) in cases {
        let path = format!("{}/fixtures/{capture}", env!("CARGO_MANIFEST_DIR"));
        let out = tcpka(&["analyze", "--trace", &path]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let trace = stderr(&out);
        let ours: Vec<u64> = trace
            .lines()
            .filter(|l| l.contains(&format!("[{words}] ")))
            .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
            .collect();
        let theirs = tshark_frames(&path, field);
        assert!(!theirs.is_empty(), "{capture}: tshark marks no {field}");
        assert_eq!(ours, theirs, "{capture} [{words}]:\n{trace}");
        // Every TCP packet is traced once, with its flags as Wireshark's Info column shows them.
        assert!(trace.lines().all(|l| l.contains(" → ") && l.contains("] Len=")), "{trace}");
    }
}

/// A port scan of `pairs` SYNs, each refused at once, 1 ms apart: a
/// capture that takes a debug build seconds, whose connections are judged
/// (10 s of capture time after their reset) all along.
fn refused_scan(path: &std::path::Path, pairs: u32) {
    let frames = (0..pairs).flat_map(|i| {
        let sport = 1024 + (i % 60_000) as u16;
        let dst = [10, 1, (i / 60_000) as u8, 1];
        let t = f64::from(i) * 0.001;
        [(t, scan_syn(sport, dst, 80)), (t + 0.0005, scan_refusal(sport, dst, 80))]
    });
    write_pcap_from(path, 1, frames);
}

/// Starts `tcpka ARGS` with its output on pipes, waits for the first line
/// of standard output (or, with `on_stderr`, of standard error: `--trace`)
/// and sends it `signal`; returns its exit status, standard output and error.
fn interrupt_after_first_line(args: &[&str], on_stderr: bool, signal: i32) -> (Option<i32>, Vec<u8>, String) {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    /// Reads a pipe to its end on a thread of its own (a full pipe would
    /// block tcpka), saying on `first` when its first line is in.
    fn drain(
        pipe: impl Read + Send + 'static,
        first: Option<std::sync::mpsc::Sender<()>>,
    ) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut pipe = BufReader::new(pipe);
            let mut all = Vec::new();
            pipe.read_until(b'\n', &mut all).unwrap();
            if let Some(first) = first {
                first.send(()).unwrap();
            }
            pipe.read_to_end(&mut all).unwrap();
            all
        })
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcpka"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tcpka");
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let (watch_out, watch_err) = if on_stderr { (None, Some(first_tx)) } else { (Some(first_tx), None) };
    let out = drain(child.stdout.take().unwrap(), watch_out);
    let err = drain(child.stderr.take().unwrap(), watch_err);
    first_rx.recv().expect("a first line");
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child, not reaped before the wait() below.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let status = child.wait().unwrap();
    (status.code(), out, String::from_utf8_lossy(&err).into_owned())
}

/// "interrupted at frame N" in the message on standard error, as N.
fn interrupted_at(err: &str, capture: &str) -> u64 {
    let prefix = format!("tcpka: {capture}: interrupted at frame ");
    let line = err.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no interruption said:\n{err}"));
    let rest = &line[prefix.len()..];
    assert!(rest.ends_with(": the rest of the file was not read"), "{line}");
    rest.split(':').next().unwrap().parse().unwrap()
}

#[test]
fn ctrl_c_reports_what_was_read_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.pcap");
    let pairs = 300_000;
    refused_scan(&path, pairs);
    let capture = path.to_str().unwrap();
    let frames = u64::from(pairs) * 2;

    // NDJSON to a pipe from a file: written in blocks, each of whole lines.
    let (status, out, err) =
        interrupt_after_first_line(&["analyze", "--format", "ndjson", capture], false, libc::SIGINT);
    assert_eq!(status, Some(130), "{err}");
    let at = interrupted_at(&err, capture);
    assert!(at > 0 && at < frames, "stopped at frame {at} of {frames}");
    assert!(out.ends_with(b"\n"));
    let lines: Vec<serde_json::Value> = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l))))
        .collect();
    let (summary, connections) = lines.split_last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert!(connections.iter().all(|c| c["type"] == "connection"));
    assert_eq!(summary["connections_written"], connections.len());
    let read = &summary["captures"][0];
    assert_eq!(read["packets"], at, "the summary counts the frames read");
    let said = format!("{capture}: interrupted at frame {at}: the rest of the file was not read");
    assert_eq!(read["error"], said.as_str());
    // Every connection begun was judged: the ones refused, and the
    // handshake in flight when reading stopped, if any.
    assert_eq!(summary["totals"]["connections"], connections.len());
    assert_eq!(connections.len() as u64, at.div_ceil(2), "connections judged of {at} frames");

    // JSON and the table write at the end: the first trace line says
    // reading began. A file after the one interrupted is not read, and that is said.
    let after = kill_capture(&dir);
    let (status, out, err) =
        interrupt_after_first_line(&["analyze", "--format", "json", "--trace", capture, &after], true, libc::SIGINT);
    assert_eq!(status, Some(130), "{}", &err[err.len().saturating_sub(2000)..]);
    let at = interrupted_at(&err, capture);
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("one whole JSON document");
    assert_eq!(doc["captures"][0]["packets"], at);
    let said = format!("{capture}: interrupted at frame {at}: the rest of the file was not read");
    assert_eq!(doc["captures"][0]["error"], said.as_str());
    assert!(at < frames, "stopped at frame {at} of {frames}");
    assert_eq!(doc["captures"].as_array().unwrap().len(), 1, "only the interrupted capture is reported");
    assert!(err.contains("tcpka: interrupted: 1 more file was not read"), "{}", &err[err.len().saturating_sub(2000)..]);

    // SIGTERM, as a service manager stops it: 143.
    let (status, out, err) = interrupt_after_first_line(&["analyze", "--trace", capture], true, libc::SIGTERM);
    assert_eq!(status, Some(143), "{}", &err[err.len().saturating_sub(2000)..]);
    let at = interrupted_at(&err, capture);
    assert!(at < frames, "stopped at frame {at} of {frames}");
    let table = String::from_utf8(out).unwrap();
    // As the table wraps it: words apart by one space.
    let words = table.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains(&format!("{at} packets ({at} TCP)")), "{table}");
    let said = format!("error: {capture}: interrupted at frame {at}: the rest of the file was not read");
    assert!(words.contains(&said), "{table}");
}

#[test]
fn ctrl_c_stops_reading_a_stalled_pipe_at_once_with_the_packets_it_sent() {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.pcap");
    // A handshake and a request: far from a batch of the reader's. (More
    // than the 262 bytes `input::open` reads first to tell the format:
    // fewer, and it waits for the rest.)
    let frames = [
        (0.0, frame(true, SYN, 1000, 0, 0)),
        (0.001, frame(false, SYN | ACK, 5000, 1001, 0)),
        (0.002, frame(true, ACK, 1001, 5001, 0)),
        (0.003, frame(true, ACK, 1001, 5001, 10)),
    ];
    write_pcap(&path, 1, &frames);
    let bytes = fs::read(&path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcpka"))
        .args(["analyze", "--format", "json", "--trace", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tcpka");
    // The pipe stays open (the writer has stalled, as a capture piped in
    // does between packets) until the end of the test.
    let mut writer = child.stdin.take().unwrap();
    writer.write_all(&bytes).unwrap();
    writer.flush().unwrap();
    let mut out = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut all = Vec::new();
        out.read_to_end(&mut all).unwrap();
        all
    });
    let mut err = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut all = String::new();
        err.read_to_string(&mut all).unwrap();
        all
    });
    // tcpka has read every byte sent (FIONREAD on a pipe's end: the bytes
    // in it, unread), then had a moment to analyse them: the trace, which
    // would say so, is written in blocks and stays unwritten until the end.
    let took_all = Instant::now();
    loop {
        let mut unread: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int, ours, for the call's length.
        assert_eq!(unsafe { libc::ioctl(writer.as_raw_fd(), libc::FIONREAD, &mut unread) }, 0);
        if unread == 0 {
            break;
        }
        assert!(took_all.elapsed() < Duration::from_secs(10), "{unread} bytes still unread after 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child, not reaped before the wait below.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(sent.elapsed() < Duration::from_secs(5), "still running 5 s after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = sent.elapsed();
    let err = err.join().unwrap();
    assert!(took < Duration::from_secs(2), "ended {took:?} after SIGINT: {err}");
    assert_eq!(status.code(), Some(130), "{err}");
    // Each packet traced: they were analysed while the pipe stalled,
    // without waiting for a batch to fill.
    assert_eq!(err.lines().filter(|l| l.contains(" → ")).count(), 4, "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.join().unwrap()).expect("one whole JSON document");
    let capture = &doc["captures"][0];
    assert_eq!(capture["packets"], 4);
    let why = "-: interrupted at frame 4: the rest of the file was not read";
    assert_eq!(capture["error"], why);
    assert!(err.lines().any(|l| l == format!("tcpka: {why}")), "{err}");
    assert_eq!(doc["connections"].as_array().unwrap().len(), 1, "the connection read is judged");
    drop(writer);
}
