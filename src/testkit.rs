//! Test helpers shared by the unit tests (`crate::testkit`) and the
//! integration tests (`tests/common` includes this very file), so there is one
//! copy of each: hand-built frames, the TCP flag bits, the pcap writer and the
//! CTO's 20/2/2 keepalive kill.
//!
//! This file must not use `crate::` paths: it is compiled inside the
//! integration tests too, where the crate is `tcpka`.
#![allow(dead_code)] // each test binary uses a different part

use etherparse::PacketBuilder;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// TCP flag bits, as on the wire.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// The client's and the server's endpoints in every hand-built frame.
pub const CLIENT: &str = "10.0.0.1:40000";
pub const SERVER: &str = "10.0.0.2:7777";

/// One Ethernet/IPv4/TCP frame between 10.0.0.1:40000 (client) and
/// 10.0.0.2:7777 (server): TTL 64, window 501, `payload_len` bytes of 'x'.
pub fn frame(from_client: bool, flags: u8, seq: u32, ack: u32, payload_len: usize) -> Vec<u8> {
    let (src, dst, sport, dport) = if from_client {
        ([10, 0, 0, 1], [10, 0, 0, 2], 40000, 7777)
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1], 7777, 40000)
    };
    let mut b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64).tcp(sport, dport, seq, 501);
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
    b.write(&mut out, &vec![b'x'; payload_len]).expect("a frame fits in a Vec");
    out
}

/// An ARP packet in an Ethernet broadcast frame (RFC 826): a request
/// (`reply` false) from `sender` for `target`, or a reply from `sender`.
pub fn arp(reply: bool, sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
    use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType};
    let operation = if reply { ArpOperation::REPLY } else { ArpOperation::REQUEST };
    let packet =
        ArpPacket::new(ArpHardwareId::ETHERNET, EtherType::IPV4, operation, &[3; 6], &sender, &[0; 6], &target)
            .expect("IPv4 over Ethernet addresses");
    let mut out = Vec::new();
    PacketBuilder::ethernet2([3; 6], [0xff; 6]).arp(packet).write(&mut out).expect("a frame fits in a Vec");
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
        .expect("a frame fits in a Vec");
    out
}

/// The RST|ACK with which `dst`:`dport` refuses the [`scan_syn`] from `sport`.
pub fn scan_refusal(sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([4; 6], [2; 6])
        .ipv4(dst, [10, 9, 9, 9], 64)
        .tcp(dport, sport, 0, 0)
        .rst()
        .ack((u32::from(sport) << 8).wrapping_add(1))
        .write(&mut out, &[])
        .expect("a frame fits in a Vec");
    out
}

/// One connection killed by the server's keepalive, as the CTO saw it: a
/// handshake and one exchange, 21.4 s of idle, 2 probes 2.016 s apart, then
/// the server's RST — the timings a HZ=250 Linux shows for
/// tcp_keepalive_time=20, tcp_keepalive_intvl=2, tcp_keepalive_probes=2.
/// Times in seconds from the capture's start; frames 1-based as listed.
pub fn keepalive_kill_frames() -> Vec<(f64, Vec<u8>)> {
    let mut frames = handshake_and_exchange();
    frames.extend([
        (21.405, frame(false, ACK, 5100, 1011, 0)),
        (23.421, frame(false, ACK, 5100, 1011, 0)),
        (25.437, frame(false, RST | ACK, 5101, 1011, 0)),
    ]);
    frames
}

/// A handshake (client ISN 1000, server ISN 5000) and one exchange: 10
/// bytes up, 100 bytes down, the client's ACK; 1 ms apart from 0 s. The
/// client's next sequence number is then 1011, the server's 5101.
pub fn handshake_and_exchange() -> Vec<(f64, Vec<u8>)> {
    vec![
        (0.0, frame(true, SYN, 1000, 0, 0)),
        (0.001, frame(false, SYN | ACK, 5000, 1001, 0)),
        (0.002, frame(true, ACK, 1001, 5001, 0)),
        (0.003, frame(true, ACK, 1001, 5001, 10)),
        (0.004, frame(false, ACK, 5001, 1011, 100)),
        (0.005, frame(true, ACK, 1011, 5101, 0)),
    ]
}

/// The capture's start: frame times are seconds after it.
pub const EPOCH_S: i64 = 1_700_000_000;

/// Writes frames with their times (seconds after [`EPOCH_S`]) as a pcap file
/// of the given link type (1: Ethernet).
pub fn write_pcap(path: &Path, linktype: i32, frames: &[(f64, Vec<u8>)]) {
    write_pcap_from(path, linktype, frames.iter().map(|(t, data)| (*t, data)));
}

/// [`write_pcap`] of frames made as they are written: a capture of
/// hundreds of thousands of frames, never all held (tests/memory.rs: the
/// test process's own peak memory counts in the peak of each child it
/// starts, which shares its memory until `exec`).
pub fn write_pcap_from<D: AsRef<[u8]>>(path: &Path, linktype: i32, frames: impl IntoIterator<Item = (f64, D)>) {
    let cap = pcap::Capture::dead(pcap::Linktype(linktype)).expect("a dead capture");
    let mut save = cap.savefile(path).expect("a writable path");
    for (t, data) in frames {
        let data = data.as_ref();
        let secs = t.floor();
        let ts = libc::timeval { tv_sec: EPOCH_S + secs as i64, tv_usec: ((t - secs) * 1e6).round() as _ };
        let header = pcap::PacketHeader { ts, caplen: data.len() as u32, len: data.len() as u32 };
        save.write(&pcap::Packet::new(&header, data));
    }
    save.flush().expect("the pcap file is written");
}

/// An NFLOG record (DLT 239) as the kernel's `__build_packet_message` lays
/// it out: the 4-byte header, `before` (TLVs other than the payload, each
/// given as its type and value), then NFULA_PAYLOAD (type 9) holding `ip`,
/// each TLV padded to 4 bytes.
pub fn nflog_record(before: &[(u16, Vec<u8>)], ip: &[u8]) -> Vec<u8> {
    const NFULA_PAYLOAD: u16 = 9;
    let mut out = vec![2, 0, 0, 42];
    let mut tlv = |kind: u16, value: &[u8]| {
        out.extend_from_slice(&((value.len() + 4) as u16).to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(value);
        out.resize(out.len().next_multiple_of(4), 0);
    };
    for (kind, value) in before {
        tlv(*kind, value);
    }
    tlv(NFULA_PAYLOAD, ip);
    out
}

/// An output the test reads after the sink that wrote it has gone (with
/// any writing thread it owned): every clone writes to the same bytes.
#[derive(Clone, Default)]
pub struct SharedOutput(pub Arc<Mutex<Vec<u8>>>);

impl SharedOutput {
    /// What has been written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl Write for SharedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every capture under fixtures/, in its subdirectories too (`.pcap` and
/// `.pcapng`), sorted: the unit tests that run the whole fixture set
/// through a sink and compare two ways of writing or filing it.
pub fn every_fixture_capture() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "pcap" || e == "pcapng") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"), &mut out);
    out.sort();
    out
}
