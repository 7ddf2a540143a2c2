//! Any byte stream a capture can come in: a pcapng whose interfaces have
//! different link types, standard input from a pipe, a FIFO, `/dev/stdin`
//! and process substitution. Each gives the report the file itself gives.
mod common;

use common::{ACK, SYN, analyze_json, frame, keepalive_kill_frames, stderr, tcpka, write_pcap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// The JSON report of `out` with the capture's name, wherever it is
/// mentioned, replaced by "CAPTURE".
fn report_without(out: &Output, name: &str) -> serde_json::Value {
    let name = serde_json::to_string(name).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace(&name, "\"CAPTURE\"");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON ({e}); stderr: {}", stderr(out)))
}

/// Runs `tcpka analyze --format json ARGS` with `input` written to its standard input through a pipe.
fn analyze_piped(args: &[&str], input: Vec<u8>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcpka"))
        .args(["analyze", "--format", "json"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tcpka");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // Written in small pieces, so that reads see a stream, not a file.
        for chunk in input.chunks(100) {
            stdin.write_all(chunk).unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn a_pcapng_with_ethernet_and_linux_cooked_interfaces_is_read_in_full() {
    // `mergecap -w fixtures/inputs/vlan-and-sll2.pcapng fixtures/ka-vlan.pcap
    // fixtures/ka-sysctl-sll2.pcap`: interface 0 is Ethernet (VLAN 42),
    // interface 1 Linux cooked v2; libpcap stops at the first SLL2 packet.
    let merged = fixture("inputs/vlan-and-sll2.pcapng");
    let (doc, out) = analyze_json(&[merged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let capture = &doc["captures"][0];
    assert_eq!(capture["format"], "pcapng");
    assert_eq!(capture["link_types"], serde_json::json!(["EN10MB", "LINUX_SLL2"]));
    assert_eq!(capture["packets"], 27);
    assert_eq!(capture["tcp_packets"], 27);
    assert_eq!(capture["warnings"], serde_json::json!([]));
    let conns = doc["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2);
    // Frame numbers as `tshark -r` numbers them: 1–14 on interface 0, 15–27 on interface 1.
    assert_eq!((conns[0]["first_frame"].as_u64(), conns[0]["last_frame"].as_u64()), (Some(1), Some(14)));
    assert_eq!((conns[1]["first_frame"].as_u64(), conns[1]["last_frame"].as_u64()), (Some(15), Some(27)));
    // Each connection is judged as in its own file.
    for (conn, alone) in conns.iter().zip(["ka-vlan.pcap", "ka-sysctl-sll2.pcap"]) {
        let (single, _) = analyze_json(&[fixture(alone).to_str().unwrap()]);
        let want = &single["connections"][0];
        assert_eq!(conn["end_reason"], "keepalive-timeout");
        for field in ["client", "server", "vlan", "packets", "duration_s", "end_reason", "ended_by"] {
            assert_eq!(conn[field], want[field], "{alone}: {field}");
        }
        assert_eq!(conn["keepalive"][0]["probes_sent"], want["keepalive"][0]["probes_sent"], "{alone}");
        assert_eq!(conn["keepalive"][0]["idle_s"], want["keepalive"][0]["idle_s"], "{alone}");
    }
}

#[test]
fn a_filter_is_compiled_for_each_interface_link_type() {
    let merged = fixture("inputs/vlan-and-sll2.pcapng");
    // Without `vlan` the tagged Ethernet frames do not match (as in tcpdump);
    // the cooked ones do, at their own offsets.
    let (doc, out) = analyze_json(&["-f", "src host 10.0.2.2", merged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(doc["captures"][0]["packets"], 27);
    assert_eq!(doc["captures"][0]["tcp_packets"], 7);
    assert_eq!(doc["connections"][0]["first_frame"], 16);
    assert_eq!(doc["connections"][0]["last_frame"], 27);
    // libpcap cannot filter VLANs on Linux cooked v2: the filter is refused, by name.
    let bad = tcpka(&["analyze", "-f", "vlan 42", merged.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("no VLAN support for Linux cooked v2"), "{}", stderr(&bad));
    assert!(bad.stdout.is_empty(), "nothing was read: no report");
}

/// `eth` (an Ethernet frame) as an NFLOG record (DLT 239): a packet header,
/// a prefix and a conntrack-sized attribute of `attribute` bytes before the
/// IP packet.
fn nflog(eth: &[u8], attribute: usize) -> Vec<u8> {
    common::nflog_record(&[(1, vec![0x08, 0x00, 1, 0]), (10, b"ka\0".to_vec()), (18, vec![0; attribute])], &eth[14..])
}

#[test]
fn nflog_records_longer_than_what_the_reader_keeps_are_tcp() {
    // zeek's nflog-http.pcap frame 8, a 1603-byte response in a 1744-byte
    // record, was counted as "other": the reader hands the analysis only a
    // record's first bytes, and the payload TLV then ran past them.
    let frames: Vec<_> = [
        (0.0, frame(true, SYN, 1000, 0, 0)),
        (0.001, frame(false, SYN | ACK, 5000, 1001, 0)),
        (0.002, frame(true, ACK, 1001, 5001, 0)),
        (0.003, frame(true, ACK, 1001, 5001, 10)),
        (0.004, frame(false, ACK, 5001, 1011, 1400)),
        (0.005, frame(true, ACK, 1011, 6401, 0)),
    ]
    .into_iter()
    .enumerate()
    // Attributes of 0 to 1000 bytes before the packet: the packet starts
    // before, at and past 512 bytes into the record.
    .map(|(i, (t, eth))| (t, nflog(&eth, i * 200)))
    .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nflog.pcap");
    write_pcap(&path, 239, &frames);
    let (doc, out) = analyze_json(&["--all", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let capture = &doc["captures"][0];
    assert_eq!(capture["link_types"], serde_json::json!(["NFLOG"]));
    assert_eq!((capture["tcp_packets"].as_u64(), capture["other_packets"].as_u64()), (Some(6), Some(0)));
    let conn = &doc["connections"][0];
    assert_eq!(conn["packets"], 6);
    // The client's ACK 6401 covers the 1400 bytes: nothing unseen, nothing resent.
    assert_eq!(conn["retransmissions"], 0);
    assert_eq!(conn["end_reason"], "open");
}

#[test]
fn standard_input_from_a_pipe_reads_pcap_and_pcapng() {
    for name in ["ka-sysctl-sll2.pcap", "inputs/vlan-and-sll2.pcapng", "public/nDPI/doh.pcapng"] {
        let path = fixture(name);
        let (_, from_file) = analyze_json(&["--all", path.to_str().unwrap()]);
        let piped = analyze_piped(&["--all", "-"], std::fs::read(&path).unwrap());
        assert_eq!(piped.status.code(), Some(0), "{name}: {}", stderr(&piped));
        assert_eq!(report_without(&piped, "-"), report_without(&from_file, path.to_str().unwrap()), "{name}");
    }
}

#[test]
fn a_fifo_dev_stdin_and_process_substitution_read_like_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kill.pcap");
    write_pcap(&file, 1, &keepalive_kill_frames());
    let bytes = std::fs::read(&file).unwrap();
    let (_, out) = analyze_json(&[file.to_str().unwrap()]);
    let want = report_without(&out, file.to_str().unwrap());

    // A FIFO: it has no size, and only reading it tells what it holds.
    let fifo = dir.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let writer = {
        let (fifo, bytes) = (fifo.clone(), bytes.clone());
        std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
    };
    let (doc, out) = analyze_json(&[fifo.to_str().unwrap()]);
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report_without(&out, fifo.to_str().unwrap()), want);
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");

    // /dev/stdin, a pipe.
    let out = analyze_piped(&["/dev/stdin"], bytes.clone());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report_without(&out, "/dev/stdin"), want);

    // Process substitution: bash hands over /dev/fd/N, a pipe from `cat`.
    let out = Command::new("bash")
        .args([
            "-c",
            r#"exec "$0" analyze --format json <(cat "$1")"#,
            env!("CARGO_BIN_EXE_tcpka"),
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name = doc["captures"][0]["path"].as_str().unwrap().to_string();
    assert!(name.starts_with("/dev/fd/"), "{name}");
    assert_eq!(report_without(&out, &name), want);
}

#[test]
fn an_empty_fifo_or_pipe_is_an_empty_input() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, b"").unwrap())
    };
    let out = tcpka(&["analyze", fifo.to_str().unwrap()]);
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), format!("tcpka: {}: empty file (0 bytes): not a capture\n", fifo.display()));
    assert!(out.stdout.is_empty(), "nothing was read: no report");
    let out = analyze_piped(&["-"], Vec::new());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "tcpka: -: empty file (0 bytes): not a capture\n");
    assert!(out.stdout.is_empty());
}

/// An Interface Statistics Block: interface, isb_ifdrop, isb_osdrop, and
/// isb_endtime (seconds after the capture's start) when given.
type Statistics = (u32, u64, u64, Option<f64>);

/// The ticks of `t` seconds after the start of the captures `write_pcapng`
/// writes, in microseconds (their interfaces' resolution).
fn micros_at(t: f64) -> u64 {
    ((1_700_000_000.0 + t) * 1e6).round() as u64
}

/// A little-endian pcapng: one section, interfaces of the given link types
/// (microseconds), packets (interface, seconds, frame), then Interface
/// Statistics Blocks.
fn write_pcapng(path: &Path, linktypes: &[u16], packets: &[(u32, f64, Vec<u8>)], statistics: &[Statistics]) {
    fn block(out: &mut Vec<u8>, block_type: u32, body: &[u8]) {
        let len = (12 + body.len()) as u32;
        out.extend_from_slice(&block_type.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&len.to_le_bytes());
    }
    let mut out = Vec::new();
    block(&mut out, 0x0A0D_0D0A, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    for linktype in linktypes {
        let mut body = linktype.to_le_bytes().to_vec();
        body.extend_from_slice(&[0, 0, 0, 0, 4, 0]); // reserved; snapshot length 262144
        block(&mut out, 1, &body);
    }
    for (interface, t, frame) in packets {
        let micros = micros_at(*t);
        let mut body = interface.to_le_bytes().to_vec();
        body.extend_from_slice(&((micros >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(micros as u32).to_le_bytes());
        body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        body.extend_from_slice(frame);
        body.resize(body.len().next_multiple_of(4), 0);
        block(&mut out, 6, &body);
    }
    for (interface, if_drop, os_drop, end) in statistics {
        let mut body = interface.to_le_bytes().to_vec();
        body.extend_from_slice(&[0; 8]); // timestamp
        for (code, value) in [(5u16, if_drop), (7, os_drop)] {
            body.extend_from_slice(&code.to_le_bytes());
            body.extend_from_slice(&8u16.to_le_bytes());
            body.extend_from_slice(&value.to_le_bytes());
        }
        if let Some(end) = end {
            // isb_endtime: high word, then low word, as a packet's time.
            let ticks = micros_at(*end);
            body.extend_from_slice(&3u16.to_le_bytes());
            body.extend_from_slice(&8u16.to_le_bytes());
            body.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
            body.extend_from_slice(&(ticks as u32).to_le_bytes());
        }
        body.extend_from_slice(&[0; 4]); // opt_endofopt
        block(&mut out, 5, &body);
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn packets_on_an_interface_of_an_unread_link_type_are_counted_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usb-and-ethernet.pcapng");
    // Interface 0 is DLT_USB_LINUX (189): its two packets keep their frame numbers.
    let mut packets = vec![(0, 0.0, vec![1, 2, 3]), (0, 0.1, vec![4, 5, 6])];
    packets.extend(keepalive_kill_frames().into_iter().map(|(t, f)| (1, t, f)));
    write_pcapng(&path, &[189, 1], &packets, &[]);
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let capture = &doc["captures"][0];
    assert_eq!(capture["link_types"], serde_json::json!(["EN10MB"]));
    assert_eq!(capture["packets"], 11);
    assert_eq!(capture["tcp_packets"], 9);
    let warnings = capture["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    let warning = warnings[0].as_str().unwrap();
    assert!(warning.starts_with("2 packets on an interface with link type USB_LINUX (DLT 189)"), "{warning}");
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
    assert_eq!(doc["connections"][0]["first_frame"], 3);

    // With no interface tcpka reads, the file is refused, naming the link type.
    let only = dir.path().join("usb.pcapng");
    write_pcapng(&only, &[189, 147], &[(0, 0.0, vec![1, 2, 3])], &[]);
    let out = tcpka(&["analyze", only.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unsupported link type USB_LINUX (DLT 189"), "{}", stderr(&out));
}

/// `tool ARGS FILE` writing to standard output, as Debian's gzip, zstd, xz,
/// bzip2 and lz4 do with `-c`: the compressed file it made.
fn compress(tool: &str, file: &Path, suffix: &str) -> PathBuf {
    let out = PathBuf::from(format!("{}.{suffix}", file.display()));
    let status = Command::new(tool)
        .args(["-c", "-q"])
        .arg(file)
        .stdout(std::fs::File::create(&out).unwrap())
        .status()
        .unwrap_or_else(|e| panic!("{tool} is needed for this test (.ci/run installs it): {e}"));
    assert!(status.success(), "{tool} failed");
    out
}

const COMPRESSORS: [(&str, &str); 5] =
    [("gzip", "gz"), ("zstd", "zst"), ("xz", "xz"), ("bzip2", "bz2"), ("lz4", "lz4")];

#[test]
fn compressed_captures_are_recognised_by_content_and_read_like_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for fixture_name in ["ka-sysctl-sll2.pcap", "inputs/vlan-and-sll2.pcapng"] {
        let plain = dir.path().join(fixture_name.replace('/', "-"));
        std::fs::copy(fixture(fixture_name), &plain).unwrap();
        let (doc, out) = analyze_json(&["--all", plain.to_str().unwrap()]);
        let format = doc["captures"][0]["format"].as_str().unwrap().to_string();
        let want = report_without(&out, plain.to_str().unwrap());
        for (tool, suffix) in COMPRESSORS {
            let compressed = compress(tool, &plain, suffix);
            // Named without its suffix: the content says what it is.
            let renamed = dir.path().join(format!("capture-{suffix}"));
            std::fs::rename(&compressed, &renamed).unwrap();
            let (doc, out) = analyze_json(&["--all", renamed.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(0), "{tool}: {}", stderr(&out));
            let described = format!("{format} ({tool})");
            assert_eq!(doc["captures"][0]["format"], described.as_str());
            let mut got = report_without(&out, renamed.to_str().unwrap());
            got["captures"][0]["format"] = format.as_str().into();
            assert_eq!(got, want, "{tool} {fixture_name}");

            // The same through a pipe on standard input.
            let piped = analyze_piped(&["--all", "-"], std::fs::read(&renamed).unwrap());
            assert_eq!(piped.status.code(), Some(0), "{tool}: {}", stderr(&piped));
            let mut got = report_without(&piped, "-");
            assert_eq!(got["captures"][0]["format"], described.as_str());
            got["captures"][0]["format"] = format.as_str().into();
            assert_eq!(got, want, "{tool} {fixture_name} on standard input");
        }
    }
}

#[test]
fn a_compressed_capture_through_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("kill.pcap");
    write_pcap(&plain, 1, &keepalive_kill_frames());
    let compressed = compress("zstd", &plain, "zst");
    let fifo = dir.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let writer = {
        let (fifo, bytes) = (fifo.clone(), std::fs::read(&compressed).unwrap());
        std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
    };
    let (doc, out) = analyze_json(&[fifo.to_str().unwrap()]);
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(doc["captures"][0]["format"], "pcap (zstd)");
    assert_eq!(doc["captures"][0]["packets"], 9);
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
}

// ------------------------------------------------------------- bad input

/// Standard error's lines.
fn stderr_lines(out: &Output) -> Vec<String> {
    stderr(out).lines().map(str::to_string).collect()
}

#[test]
fn a_bad_filter_is_said_once_before_any_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("kill.pcap");
    write_pcap(&good, 1, &keepalive_kill_frames());
    let missing = dir.path().join("missing.pcap");
    for format in ["table", "json"] {
        let out = tcpka(&[
            "analyze",
            "--format",
            format,
            "-f",
            "tcp port banana",
            good.to_str().unwrap(),
            missing.to_str().unwrap(),
            good.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2));
        // One message, and no file was opened: the missing one is not mentioned.
        assert_eq!(stderr_lines(&out), ["tcpka: bad filter 'tcp port banana': libpcap error: unknown port 'banana'"]);
        assert!(out.stdout.is_empty(), "{format}: {}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn a_file_that_cannot_be_read_is_one_line_on_stderr_and_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pcap");
    for (path, words) in [(missing.as_path(), "cannot open: No such file"), (dir.path(), "cannot open: is a directory")]
    {
        for format in ["table", "json"] {
            let out = tcpka(&["analyze", "--format", format, path.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(2));
            let lines = stderr_lines(&out);
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert!(lines[0].starts_with(&format!("tcpka: {}: {words}", path.display())), "{lines:?}");
            assert!(out.stdout.is_empty(), "nothing was read: no report");
        }
    }
    // Beside a file that can be read, the report covers it and names the other one.
    let good = dir.path().join("kill.pcap");
    write_pcap(&good, 1, &keepalive_kill_frames());
    let (doc, out) = analyze_json(&[missing.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr_lines(&out).len(), 1, "{}", stderr(&out));
    assert!(doc["captures"][0]["error"].as_str().unwrap().contains("cannot open"));
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
}

#[test]
fn a_truncated_gzip_stream_reports_what_was_read_and_where_it_broke() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("doh.pcapng");
    std::fs::copy(fixture("public/nDPI/doh.pcapng"), &plain).unwrap();
    let gz = compress("gzip", &plain, "gz");
    let bytes = std::fs::read(&gz).unwrap();
    let cut = dir.path().join("cut.pcapng.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (doc, out) = analyze_json(&[cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let capture = &doc["captures"][0];
    let packets = capture["packets"].as_u64().unwrap();
    assert!(packets > 0 && packets < 120, "read up to the cut: {packets} of 120");
    let error = capture["error"].as_str().expect("the capture's error");
    assert_eq!(lines[0], format!("tcpka: {error}"));
    for words in [
        cut.to_str().unwrap(),
        &format!("after packet {packets}:"),
        "of the decompressed capture",
        "the gzip data is cut off or damaged",
        "the packets before it were analysed",
    ] {
        assert!(error.contains(words), "{words}: {error}");
    }
    assert_eq!(capture["format"], "pcapng (gzip)");
    assert_eq!(doc["summary"]["connections"], 1);
}

#[test]
fn half_pcap_half_garbage_is_read_up_to_the_garbage_which_is_named_by_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.pcap");
    write_pcap(&path, 1, &keepalive_kill_frames());
    let mut bytes = std::fs::read(&path).unwrap();
    let good = bytes.len();
    bytes.extend(std::iter::repeat_n(0xff, 300));
    std::fs::write(&path, &bytes).unwrap();
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let error = doc["captures"][0]["error"].as_str().unwrap();
    let want = format!(
        "{}: the file is cut off or damaged after packet 9: the packet record at byte {good} is damaged: it claims 4294967295 captured bytes, more than the 262144 a capture holds; the packets before it were analysed",
        path.display()
    );
    assert_eq!(error, want);
    assert_eq!(stderr_lines(&out), [format!("tcpka: {want}")]);
    assert_eq!(doc["captures"][0]["packets"], 9);
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
}

#[test]
fn archives_and_compressions_tcpka_does_not_read_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("kill.pcap");
    write_pcap(&plain, 1, &keepalive_kill_frames());
    let tar = dir.path().join("kill.tar");
    let status = Command::new("tar").arg("-cf").arg(&tar).arg("-C").arg(dir.path()).arg("kill.pcap").status().unwrap();
    assert!(status.success());
    // `compress` (.Z) data: its magic and a body.
    let z = dir.path().join("kill.pcap.Z");
    std::fs::write(&z, [0x1f, 0x9d, 0x90, 0xd4, 0xc3, 0xb2, 0xa1]).unwrap();
    for (path, what) in [(&tar, "a tar archive"), (&z, "compress(1) (.Z) data")] {
        let out = tcpka(&["analyze", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        let want = format!(
            "tcpka: {}: not a pcap or pcapng capture (it is {what}; tcpka reads captures compressed with gzip, zstd, xz, bzip2 or lz4: extract the capture first)",
            path.display()
        );
        assert_eq!(stderr_lines(&out), [want]);
    }
    // gzip magic, then nothing gzip can read.
    let bad = dir.path().join("bad.gz");
    std::fs::write(&bad, b"\x1f\x8b not really gzip").unwrap();
    let out = tcpka(&["analyze", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("the gzip data is cut off or damaged") && lines[0].contains("first bytes"), "{lines:?}");
}

#[test]
fn file_names_that_are_not_utf8_are_read_and_shown_lossily() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("kill.pcap");
    write_pcap(&written, 1, &keepalive_kill_frames());
    let path = dir.path().join(std::ffi::OsStr::from_bytes(b"kill-\xff.pcap"));
    std::fs::rename(&written, &path).unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_tcpka")).args(["analyze", "--format", "json"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shown = doc["captures"][0]["path"].as_str().unwrap();
    assert!(shown.ends_with("kill-\u{fffd}.pcap"), "{shown}");
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
    let missing = dir.path().join(std::ffi::OsStr::from_bytes(b"gone-\xfe.pcap"));
    let out = Command::new(env!("CARGO_BIN_EXE_tcpka")).arg("analyze").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("gone-\u{fffd}.pcap: cannot open"), "{}", stderr(&out));
}

#[test]
fn a_dumpcap_pcapng_with_its_statistics_block_is_read() {
    // `dumpcap -i lo -f 'tcp port 1' -a duration:2`, two connects to 127.0.0.1:1
    // refused: nanosecond timestamps, and an Interface Statistics Block at
    // the end (4 received, 0 dropped).
    let (doc, out) = analyze_json(&["--all", fixture("inputs/dumpcap-lo.pcapng").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let capture = &doc["captures"][0];
    assert_eq!(capture["packets"], 4);
    assert_eq!(capture["warnings"], serde_json::json!([]), "nothing was lost");
    // tshark: frame.time_epoch 1795254965.092433871.
    assert_eq!(capture["first_packet"], "2026-11-21T09:56:05.092433Z");
    // Its isb_endtime, which dumpcap writes in microseconds although the
    // interface counts nanoseconds (0x000660c6_5e8a8d2b µs).
    assert_eq!(capture["capture_end"], "2026-11-21T09:56:06.193451Z");
    let conns = doc["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2);
    for conn in conns {
        assert_eq!(conn["end_reason"], "reset");
        assert_eq!(conn["reset_cause"], "refused");
    }
}

#[test]
fn packets_the_capture_itself_lost_are_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lossy.pcapng");
    let packets: Vec<_> = keepalive_kill_frames().into_iter().map(|(t, f)| (0, t, f)).collect();
    // A periodic block, then the final one: the counters run from the start.
    write_pcapng(&path, &[1], &packets, &[(0, 1, 0, None), (0, 3, 2, None)]);
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        doc["captures"][0]["warnings"],
        serde_json::json!([
            "the capture itself lost 5 packets (its interface statistics: 3 dropped by the interface, 2 dropped by the operating system): an unanswered probe may be a capture loss"
        ])
    );
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
}

#[test]
fn a_prober_silent_until_the_statistics_end_time_gave_up_while_the_capture_went_on() {
    // The 20/2/2 kill without its RST: two unanswered probes, 2.016 s apart,
    // are the capture's last packets.
    let mut frames = keepalive_kill_frames();
    frames.pop();
    let packets: Vec<_> = frames.into_iter().map(|(t, f)| (0, t, f)).collect();
    let dir = tempfile::tempdir().unwrap();
    let verdict = |name: &str, statistics: &[Statistics]| {
        let path = dir.path().join(name);
        write_pcapng(&path, &[1], &packets, statistics);
        let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        doc
    };
    // Without an end time the capture ends at the last probe: nothing says
    // the prober gave up.
    let doc = verdict("no-end.pcapng", &[(0, 0, 0, None)]);
    assert_eq!(doc["connections"][0]["end_reason"], "open");
    assert!(doc["captures"][0].get("capture_end").is_none());
    // dumpcap's end time: 10 s of silence after the last probe (3 intervals
    // are 6.05 s) while the capture went on. The periodic block before it
    // ended earlier, and the last one counts.
    let doc = verdict("ran-on.pcapng", &[(0, 0, 0, Some(20.0)), (0, 0, 0, Some(33.421))]);
    let conn = &doc["connections"][0];
    assert_eq!(conn["end_reason"], "keepalive-timeout", "{conn}");
    assert_eq!(conn["keepalive"][0]["probes_sent"], 2);
    assert_eq!(conn["keepalive"][0]["probes_bound"], "at-least");
    assert_eq!(doc["captures"][0]["capture_end"], "2023-11-14T22:13:53.421000Z");
    assert_eq!(doc["captures"][0]["last_packet"], "2023-11-14T22:13:43.421000Z");
    // 5 s of silence after the last probe: under 3 intervals, still open.
    let doc = verdict("short.pcapng", &[(0, 0, 0, Some(28.421))]);
    assert_eq!(doc["connections"][0]["end_reason"], "open");
    assert_eq!(doc["connections"][0]["idle_at_end_s"], 5.0);
    // An end time 9.5 years after the last probe is a clock that jumped,
    // not a capture that ran on: named, not used (still open, no give-up).
    let doc = verdict("leap.pcapng", &[(0, 0, 0, Some(23.421 + 3.0e8))]);
    assert_eq!(doc["connections"][0]["end_reason"], "open");
    assert!(doc["captures"][0].get("capture_end").is_none());
    let warnings = doc["captures"][0]["warnings"].to_string();
    assert!(warnings.contains("9.5 years after its last packet"), "{warnings}");
}

#[test]
fn idle_limits_run_to_the_statistics_end_time() {
    // A SYN nobody answered, the capture's only packet: with the capture
    // running on for 200 s (its isb_endtime), it was quiet past the 127 s
    // SYN retry window before the capture ended, and is judged as such.
    let syn = common::frame(true, common::SYN, 1000, 0, 0);
    let dir = tempfile::tempdir().unwrap();
    let diagnosis = |name: &str, statistics: &[Statistics]| {
        let path = dir.path().join(name);
        write_pcapng(&path, &[1], &[(0, 0.0, syn.clone())], statistics);
        let (doc, out) = analyze_json(&["--all", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(doc["connections"][0]["end_reason"], "never-established");
        doc["connections"][0]["diagnosis"].as_str().unwrap().to_string()
    };
    let ran_on = diagnosis("ran-on.pcapng", &[(0, 0, 0, Some(200.0))]);
    assert!(ran_on.contains("longer than any wait between two SYNs"), "{ran_on}");
    let ended = diagnosis("ended.pcapng", &[(0, 0, 0, Some(100.0))]);
    assert!(!ended.contains("wait between two SYNs"), "{ended}");
}

/// `bytes` with `garbage` inserted at `at`.
fn inserted(bytes: &[u8], at: usize, garbage: &[u8]) -> Vec<u8> {
    [&bytes[..at], garbage, &bytes[at..]].concat()
}

#[test]
fn a_damaged_pcap_record_in_the_middle_is_skipped_and_named_by_offset() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.pcap");
    let frames = keepalive_kill_frames();
    write_pcap(&clean, 1, &frames);
    let (want, _) = analyze_json(&[clean.to_str().unwrap()]);
    // 37 bytes of 0xff after packet 6, before the probes: the record header
    // read there claims 4294967295 captured bytes.
    let at = 24 + frames[..6].iter().map(|(_, f)| 16 + f.len()).sum::<usize>();
    let path = dir.path().join("damaged.pcap");
    std::fs::write(&path, inserted(&std::fs::read(&clean).unwrap(), at, &[0xff; 37])).unwrap();
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "a damaged file is an input error");
    let error = doc["captures"][0]["error"].as_str().expect("the capture's error");
    assert_eq!(stderr_lines(&out), [format!("tcpka: {error}")]);
    let resumed = at + 37;
    let want_error = format!(
        "{}: the file is damaged after packet 6: the packet record at byte {at} is damaged: it claims 4294967295 captured bytes, more than the 262144 a capture holds; reading resumed at byte {resumed} (37 bytes skipped); the packets on both sides were analysed; packets after the damage are numbered on from 7 (Wireshark stops at the damage: it does not show them)",
        path.display()
    );
    assert_eq!(error, want_error);
    // Both sides of the damage were read: the kill is seen as in the clean file.
    assert_eq!(doc["captures"][0]["packets"], 9);
    let (conn, clean_conn) = (&doc["connections"][0], &want["connections"][0]);
    assert_eq!(conn["end_reason"], "keepalive-timeout");
    for field in ["packets", "last_frame", "keepalive", "evidence", "diagnosis"] {
        assert_eq!(conn[field], clean_conn[field], "{field}");
    }
}

#[test]
fn a_pcapng_block_whose_length_runs_past_the_file_is_skipped_when_blocks_follow() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.pcapng");
    let frames = keepalive_kill_frames();
    let packets: Vec<_> = frames.iter().map(|(t, f)| (0, *t, f.clone())).collect();
    write_pcapng(&clean, &[1], &packets, &[]);
    let (want, _) = analyze_json(&[clean.to_str().unwrap()]);
    // A block header after packet 6 that claims 4096 bytes (an Enhanced
    // Packet Block's type; the file holds fewer after it), and some of its body.
    let at = 28 + 20 + frames[..6].iter().map(|(_, f)| 32 + f.len().next_multiple_of(4)).sum::<usize>();
    let mut garbage = vec![6, 0, 0, 0, 0, 0x10, 0, 0];
    garbage.extend_from_slice(&[0xab; 14]);
    let path = dir.path().join("damaged.pcapng");
    std::fs::write(&path, inserted(&std::fs::read(&clean).unwrap(), at, &garbage)).unwrap();
    let (doc, out) = analyze_json(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let error = doc["captures"][0]["error"].as_str().expect("the capture's error");
    assert_eq!(stderr_lines(&out), [format!("tcpka: {error}")]);
    for words in [
        format!("{}: the file is damaged after packet 6:", path.display()),
        format!("the block at byte {at} is damaged: it claims 4096 bytes, which run into the records after it"),
        format!("reading resumed at byte {} (22 bytes skipped)", at + 22),
        "the packets on both sides were analysed".into(),
    ] {
        assert!(error.contains(&words), "{words}: {error}");
    }
    assert_eq!(doc["captures"][0]["packets"], 9);
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
    assert_eq!(doc["connections"][0]["evidence"], want["connections"][0]["evidence"]);
}

// ------------------------------------------------------------- ring buffers

/// The time of frame `n` (1-based) of a pcap file, as libpcap reads it.
fn frame_time(file: &Path, n: u64) -> String {
    let mut cap = pcap::Capture::from_file(file).unwrap();
    for _ in 1..n {
        cap.next_packet().unwrap();
    }
    let ts = cap.next_packet().unwrap().header.ts;
    let t = chrono::DateTime::from_timestamp(ts.tv_sec, ts.tv_usec as u32 * 1000).unwrap();
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[test]
fn a_ring_buffer_written_by_tcpdump_is_one_capture_with_the_single_files_verdict() {
    // `tcpdump -G 4 -w ring-buffer-%Y%m%d-%H%M%S.pcap` and a plain tcpdump
    // into fixtures/ring-buffer.pcap, at once, during a real keepalive kill
    // (fixtures/generate.sh ring-buffer): the connection spans 3 files.
    let dir = fixture("inputs/ring-buffer");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 3);
    let (single, _) = analyze_json(&[fixture("ring-buffer.pcap").to_str().unwrap()]);
    let want = &single["connections"][0];
    assert_eq!(want["end_reason"], "keepalive-timeout");
    // The directory, and its files named in reverse (their first packets order them).
    let reversed: Vec<&str> = files.iter().rev().map(|f| f.to_str().unwrap()).collect();
    for args in [vec![dir.to_str().unwrap()], reversed] {
        let (doc, out) = analyze_json(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let captures = doc["captures"].as_array().unwrap();
        assert_eq!(captures.len(), 1, "one capture: {args:?}");
        let paths: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
        assert_eq!(captures[0]["files"], serde_json::json!(paths));
        assert_eq!(captures[0]["path"], paths[0]);
        assert_eq!(captures[0]["packets"], single["captures"][0]["packets"]);
        let conns = doc["connections"].as_array().unwrap();
        assert_eq!(conns.len(), 1, "the connection that spans the files is one");
        let conn = &conns[0];
        for field in ["client", "server", "packets", "first_frame", "last_frame", "end_reason", "ended_by"] {
            assert_eq!(conn[field], want[field], "{field}");
        }
        for field in ["probes_sent", "probes_answered", "idle_s", "interval_s", "probes", "probes_bound"] {
            assert_eq!(conn["keepalive"][0][field], want["keepalive"][0][field], "{field}");
        }
        // Evidence: frames numbered across the files (as the one file numbers
        // them), and each file's own frame number, checked against libpcap.
        let (evidence, single_evidence) = (conn["evidence"].as_array().unwrap(), want["evidence"].as_array().unwrap());
        assert_eq!(evidence.len(), single_evidence.len());
        let mut files_named = std::collections::BTreeSet::new();
        for (e, s) in evidence.iter().zip(single_evidence) {
            assert_eq!((&e["frame"], &e["what"]), (&s["frame"], &s["what"]));
            let file = Path::new(e["file"].as_str().expect("the evidence names its file"));
            let n = e["file_frame"].as_u64().unwrap();
            assert_eq!(frame_time(file, n), e["time"].as_str().unwrap(), "{e}");
            files_named.insert(file.to_path_buf());
        }
        assert_eq!(files_named.len(), 3, "the evidence spans the files");
    }
    // --separate: three captures, and the kill is no longer seen whole.
    let (doc, out) = analyze_json(&["--separate", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(doc["captures"].as_array().unwrap().len(), 3);
    assert_eq!(doc["connections"][0]["end_reason"], "open");
    assert!(doc["captures"][0].get("files").is_none());
}

#[test]
fn captures_whose_times_overlap_are_not_joined_unless_forced() {
    // Two captures of one connection taken at once (the second 1 ms later
    // on every packet), named as a rotation series would be.
    let dir = tempfile::tempdir().unwrap();
    let frames = keepalive_kill_frames();
    let later: Vec<_> = frames.iter().map(|(t, f)| (t + 0.001, f.clone())).collect();
    let (a, b) = (dir.path().join("cap1.pcap"), dir.path().join("cap2.pcap"));
    write_pcap(&a, 1, &frames);
    write_pcap(&b, 1, &later);
    let (doc, out) = analyze_json(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(doc["captures"].as_array().unwrap().len(), 2);
    assert_eq!(doc["summary"]["by_end_reason"]["keepalive-timeout"], 2);
    let (doc, _) = analyze_json(&["--concat", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(doc["captures"].as_array().unwrap().len(), 1, "--concat joins them");
    assert_eq!(doc["captures"][0]["packets"], 18);

    // The same frames in two files one after the other, under other names:
    // not a series, so two captures, unless --concat.
    let (c, d) = (dir.path().join("monday.pcap"), dir.path().join("tuesday.pcap"));
    write_pcap(&c, 1, &frames[..6]);
    write_pcap(&d, 1, &frames[6..]);
    let (doc, _) = analyze_json(&[c.to_str().unwrap(), d.to_str().unwrap()]);
    assert_eq!(doc["captures"].as_array().unwrap().len(), 2);
    let (doc, _) = analyze_json(&["--concat", d.to_str().unwrap(), c.to_str().unwrap()]);
    assert_eq!(doc["captures"].as_array().unwrap().len(), 1);
    assert_eq!(doc["connections"][0]["end_reason"], "keepalive-timeout");
    assert_eq!(doc["connections"][0]["evidence"][2]["file"], d.to_str().unwrap());
}

#[test]
fn a_copy_across_a_ring_buffers_files_is_one_packet_numbered_across_them() {
    // `tcpdump -i any -W` on a router, rotated between a packet's arrival
    // and its forwarding: the next file starts with the copy. The capture's
    // frame numbers, clock and recent packets go on from one file to the
    // next (the reader thread of each file steps its frames through them).
    let dir = tempfile::tempdir().unwrap();
    let frames = keepalive_kill_frames();
    let mut second = vec![(frames[5].0 + 0.0002, frames[5].1.clone())];
    second.extend_from_slice(&frames[6..]);
    let (a, b) = (dir.path().join("cap1.pcap"), dir.path().join("cap2.pcap"));
    write_pcap(&a, 1, &frames[..6]);
    write_pcap(&b, 1, &second);
    let (doc, out) = analyze_json(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(doc["captures"].as_array().unwrap().len(), 1, "one capture");
    let capture = &doc["captures"][0];
    assert_eq!(capture["packets"], frames.len() + 1);
    assert_eq!(capture["duplicates"]["dropped"], 1);
    assert_eq!(capture["duplicates"]["first"][0]["frame"], 7);
    assert_eq!(capture["duplicates"]["first"][0]["copy_of"], 6);
    assert_eq!(doc["summary"]["by_end_reason"]["keepalive-timeout"], 1);
    assert_eq!(doc["connections"].as_array().unwrap().len(), 1);
}
