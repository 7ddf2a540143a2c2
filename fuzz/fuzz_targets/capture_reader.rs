//! The capture reader and the decoder: any bytes, as a capture file (pcap
//! or pcapng, read by libpcap through tcpka's file source) whose every
//! packet is decoded, and as one frame of every link type tcpka decodes.
//! Neither may panic, hang or run away with memory.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tcpka::decode::{LinkKind, decode};
use tcpka::source::file::FileSource;
use tcpka::source::{Next, PacketSource};

const LINKS: [LinkKind; 7] = [
    LinkKind::Ethernet,
    LinkKind::LinuxSll,
    LinkKind::LinuxSll2,
    LinkKind::RawIp,
    LinkKind::Null,
    LinkKind::Loop,
    LinkKind::Nflog,
];

fuzz_target!(|data: &[u8]| {
    for link in LINKS {
        let _ = decode(link, data);
    }
    let Ok(mut source) = FileSource::open(&common::capture_file(data), None) else { return };
    let link = source.link().kind;
    loop {
        match source.next_packet() {
            Next::Packet(p) => {
                let _ = decode(link, p.data);
            }
            Next::Filtered => {}
            Next::End | Next::Idle | Next::Broken(_) => break,
        }
    }
});
