//! Memory is bounded by design: a port scan of 300,000 SYNs nobody
//! answered is analysed in less than 64 MiB, and so is `--all` on 100,000
//! connections in every format. Its own test binary, so the peak memory of
//! the children it waits for is that of tcpka alone.
// Tests may print: clippy.toml forbids it in tcpka itself (see src/diag.rs).
#![allow(clippy::disallowed_macros)]
mod common;

use common::*;
use std::process::{Command, Stdio};

/// The largest resident set of the children waited for so far, in bytes.
fn children_peak_rss() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct it is given.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    // ru_maxrss is in KiB on Linux.
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn a_300000_syn_scan_stays_under_64_mib() {
    const SYNS: u32 = 300_000;
    let dir = tempfile::tempdir().unwrap();
    // 10,000 SYNs a second to 300,000 (address, port) pairs, none answered:
    // all within the SYN retry window, so only the cap on unreplied
    // connections held bounds the flow table.
    let frames = (0..SYNS).map(|i| {
        let dst = [10, 2, (i >> 8) as u8, i as u8];
        (f64::from(i) * 1e-4, scan_syn(40_000 + (i % 20_000) as u16, dst, 1 + (i >> 16) as u16))
    });
    let path = dir.path().join("scan.pcap");
    // Written as made: never all held by this process, whose peak memory
    // each child's counts (it shares it until `exec`).
    write_pcap_from(&path, 1, frames);
    let path = path.to_str().unwrap();

    let out = tcpka(&["analyze", path]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let evicted = u64::from(SYNS) - tcpka::MAX_UNREPLIED as u64;
    // The capture's line is wrapped to the width: compare with the white space folded.
    let text = stdout(&out).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains(&format!("{SYNS} connections, {evicted} unreplied connections judged early")), "{text}");
    // The JSON report builds every connection's report: bounded too.
    let status = Command::new(env!("CARGO_BIN_EXE_tcpka"))
        .args(["analyze", "--format", "json", path])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let peak = children_peak_rss();
    eprintln!("peak RSS of tcpka on a {SYNS}-SYN scan: {:.1} MiB", peak as f64 / (1 << 20) as f64);
    assert!(peak < 64 << 20, "peak RSS {peak} bytes");
}

/// `--all` tells every connection, in every format, and still holds no
/// report but the first of each story (issue 14: 100,000 connections in
/// 64 MiB). Two stories of 50,000 refused connections each: the longest
/// lists a table can have.
#[test]
fn every_connection_of_100000_is_told_in_64_mib() {
    const CONNECTIONS: u32 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    // 100 connections a second, each a SYN and its refusal: about a
    // thousand are held at once (a reset one lingers 10 s), so what grows
    // is what the report keeps.
    let frames = (0..CONNECTIONS).flat_map(|i| {
        let (sport, dst) = (10_000 + (i % 50_000) as u16, [10, 2, 0, (i / 50_000) as u8]);
        let t = f64::from(i) * 0.01;
        [(t, scan_syn(sport, dst, 80)), (t + 0.0001, scan_refusal(sport, dst, 80))]
    });
    let path = dir.path().join("refused.pcap");
    // Written as made (see the scan's test).
    write_pcap_from(&path, 1, frames);
    let path = path.to_str().unwrap();

    let out = tcpka(&["analyze", "--all", path]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("{CONNECTIONS} connections")), "{}", &text[..2000.min(text.len())]);
    // Every connection is listed: its id is its capture and first frame.
    let listed = text.lines().filter(|l| l.trim_start().starts_with("1-")).count();
    assert_eq!(listed, CONNECTIONS as usize);
    for format in ["json", "ndjson", "html"] {
        let status = Command::new(env!("CARGO_BIN_EXE_tcpka"))
            .args(["analyze", "--all", "--format", format, path])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "--format {format}");
    }
    let peak = children_peak_rss();
    eprintln!("peak RSS of tcpka --all on {CONNECTIONS} connections: {:.1} MiB", peak as f64 / (1 << 20) as f64);
    assert!(peak < 64 << 20, "peak RSS {peak} bytes");
}
