//! The capture reader and the decoder: any bytes, as a capture file (pcap
//! or pcapng, read through tcpka's file source, which decodes every
//! packet), and as one frame of every link type tcpka decodes.
//! Neither may panic, hang or run away with memory.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tcpka::fuzzing::FileSource;
use tcpka::fuzzing::{LinkKind, decode};
use tcpka::fuzzing::{Next, PacketSource};

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
    let mut link = source.link().kind;
    loop {
        match source.next_packet() {
            Next::Packet(p) => {
                let _ = decode(link, p.data);
            }
            // Decoded by the source, on its reader's thread.
            Next::Frame(_) => {}
            // The packets after it come from an interface of another link type.
            Next::Link(l) => link = l.kind,
            // Between two batches: ask again.
            Next::Filtered | Next::Idle => {}
            Next::End | Next::Broken(_) => break,
        }
    }
});
