//! Helpers shared by the integration tests.
#![allow(dead_code)]

use etherparse::PacketBuilder;
use std::path::Path;
use std::process::{Command, Output};

pub const ACK: u8 = 0x10;
pub const SYN: u8 = 0x02;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;

/// Runs the tcpka binary.
pub fn tcpka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpka")).args(args).output().expect("run tcpka")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `tcpka analyze --format json` and parses the document.
pub fn analyze_json(args: &[&str]) -> (serde_json::Value, Output) {
    let mut full = vec!["analyze", "--format", "json"];
    full.extend_from_slice(args);
    let out = tcpka(&full);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}\nstderr: {}", stdout(&out), stderr(&out)));
    (doc, out)
}

/// One Ethernet/IPv4/TCP frame between 10.0.0.1:40000 (client) and 10.0.0.2:7777.
pub fn frame(from_client: bool, flags: u8, seq: u32, ack: u32, payload_len: usize) -> Vec<u8> {
    let (src, dst, sport, dport) = if from_client {
        ([10, 0, 0, 1], [10, 0, 0, 2], 40000, 7777)
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1], 7777, 40000)
    };
    let mut b = PacketBuilder::ethernet2([2; 6], [4; 6]).ipv4(src, dst, 64).tcp(sport, dport, seq, 500);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & ACK != 0 {
        b = b.ack(ack);
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    let mut out = Vec::new();
    b.write(&mut out, &vec![b'x'; payload_len]).unwrap();
    out
}

/// A SYN from the scanner 10.9.9.9:`sport` to `dst`:`dport`, as a port scan sends it.
pub fn scan_syn(sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4([10, 9, 9, 9], dst, 64)
        .tcp(sport, dport, u32::from(sport) << 8, 1024)
        .syn()
        .write(&mut out, &[])
        .unwrap();
    out
}

/// Writes frames with their times (seconds) as a pcap file of the given link type.
pub fn write_pcap(path: &Path, linktype: i32, frames: &[(f64, Vec<u8>)]) {
    let cap = pcap::Capture::dead(pcap::Linktype(linktype)).unwrap();
    let mut save = cap.savefile(path).unwrap();
    for (t, data) in frames {
        let header = pcap::PacketHeader { ts: libc_timeval(*t), caplen: data.len() as u32, len: data.len() as u32 };
        save.write(&pcap::Packet::new(&header, data));
    }
    save.flush().unwrap();
}

fn libc_timeval(t: f64) -> libc::timeval {
    let secs = t.floor();
    libc::timeval { tv_sec: 1_700_000_000 + secs as i64, tv_usec: ((t - secs) * 1e6).round() as i64 }
}

/// One connection killed by the server's keepalive: 20 s idle, 2 probes
/// 2 s apart, then RST (the timings a HZ=250 Linux shows for 20/2/2).
pub fn keepalive_kill_frames() -> Vec<(f64, Vec<u8>)> {
    vec![
        (0.0, frame(true, SYN, 1000, 0, 0)),
        (0.001, frame(false, SYN | ACK, 5000, 1001, 0)),
        (0.002, frame(true, ACK, 1001, 5001, 0)),
        (0.003, frame(true, ACK, 1001, 5001, 10)),
        (0.004, frame(false, ACK, 5001, 1011, 100)),
        (0.005, frame(true, ACK, 1011, 5101, 0)),
        (21.405, frame(false, ACK, 5100, 1011, 0)),
        (23.421, frame(false, ACK, 5100, 1011, 0)),
        (25.437, frame(false, RST | ACK, 5101, 1011, 0)),
    ]
}
