// Unit tests for duplicate frames, with hand-built packets.
use super::*;
use crate::decode::{Decoded, LinkKind, decode_into};
use crate::testkit::{ACK, FIN, RST, frame};
use etherparse::PacketBuilder;

/// A client frame with this IPv4 identification and TTL (the testkit's
/// frames carry ID 0 and TTL 64).
fn numbered(flags: u8, seq: u32, len: usize, ip_id: u16, ttl: u8) -> Vec<u8> {
    let mut f = frame(true, flags, seq, 5001, len);
    f[18..20].copy_from_slice(&ip_id.to_be_bytes());
    f[22] = ttl;
    f
}

struct Run {
    filter: DuplicateFilter,
    frame: u64,
}

impl Run {
    fn new() -> Run {
        Run { filter: DuplicateFilter::default(), frame: 0 }
    }

    /// The next frame, at `t` seconds: the frame it copies, if any.
    fn feed(&mut self, t: f64, data: &[u8]) -> Option<u64> {
        self.frame += 1;
        let mut decoded = Decoded::Malformed;
        let tcp_bytes = decode_into(LinkKind::Ethernet, data, &mut decoded);
        let Decoded::Tcp(seg) = decoded else { panic!("not TCP") };
        let print = Print::of(&seg, tcp_bytes);
        self.filter.check(self.frame, Timestamp::from_secs_f64(t), &seg, &print)
    }
}

#[test]
fn a_forwarded_copy_one_hop_later_is_a_duplicate_of_the_first() {
    // `tcpdump -i any` on a router: in (TTL 64), out (TTL 63), 11 µs apart.
    let mut r = Run::new();
    assert_eq!(r.feed(1.0, &numbered(ACK, 1001, 10, 0x1234, 64)), None);
    assert_eq!(r.feed(1.000011, &numbered(ACK, 1001, 10, 0x1234, 63)), Some(1));
    // A mirror port's copy with the same TTL, 50.5 ms late (arkime wireshark-retrans.pcap).
    assert_eq!(r.feed(1.0505, &numbered(ACK, 1001, 10, 0x1234, 64)), Some(1));
    assert_eq!(r.filter.dropped(), 2);
    assert_eq!(r.filter.examples(), [Duplicate { frame: 2, copy_of: 1 }, Duplicate { frame: 3, copy_of: 1 }]);
}

#[test]
fn a_retransmission_is_not_a_duplicate() {
    let mut r = Run::new();
    r.feed(1.0, &numbered(ACK, 1001, 10, 0x1234, 64));
    // Linux's tail loss probe, milliseconds later: a new packet, with the next IP ID.
    assert_eq!(r.feed(1.004, &numbered(ACK, 1001, 10, 0x1235, 64)), None);
    // The same ID again only after Linux's smallest RTO (200 ms): not a copy.
    assert_eq!(r.feed(1.204, &numbered(ACK, 1001, 10, 0x1235, 64)), None);
    // Other fields differ: another packet.
    assert_eq!(r.feed(1.2041, &numbered(ACK | FIN, 1001, 10, 0x1235, 64)), None);
    // Too many hops between the two: not the same packet seen twice on one path.
    assert_eq!(r.feed(1.2042, &numbered(ACK | FIN, 1001, 10, 0x1235, 64 - 9)), None);
    assert_eq!(r.filter.dropped(), 0);
}

#[test]
fn without_an_ip_id_a_copy_needs_the_same_bytes_within_a_millisecond() {
    // macOS sends IP ID 0 (zeek ssh-dups.pcap): identical bytes, same time stamp.
    let mut r = Run::new();
    let data = frame(true, ACK, 1001, 5001, 10);
    assert_eq!(r.feed(1.0, &data), None);
    assert_eq!(r.feed(1.0, &data), Some(1));
    // 2 ms later: too late for a copy without an ID.
    assert_eq!(r.feed(1.002, &data), None);
    // The same header fields, another payload: not a copy.
    let mut other = data.clone();
    *other.last_mut().unwrap() = b'y';
    assert_eq!(r.feed(1.0021, &other), None);
    // Identical stateless RSTs answering two late segments (nDPI signal.pcap
    // frames 82 and 83, 10 µs apart) are two packets.
    let rst = frame(true, RST, 1011, 0, 0);
    assert_eq!(r.feed(2.0, &rst), None);
    assert_eq!(r.feed(2.00001, &rst), None);
    assert_eq!(r.filter.dropped(), 1);
}

#[test]
fn ipv6_has_no_ip_id_and_needs_the_same_bytes() {
    let v6 = |hop_limit: u8, payload: &[u8]| {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([0xfd; 16], [0xfe; 16], hop_limit)
            .tcp(40000, 7777, 1001, 501)
            .ack(5001)
            .write(&mut out, payload)
            .unwrap();
        out
    };
    let mut r = Run::new();
    assert_eq!(r.feed(1.0, &v6(64, b"hello")), None);
    assert_eq!(r.feed(1.00001, &v6(63, b"hello")), Some(1));
    assert_eq!(r.feed(1.00002, &v6(63, b"jello")), None);
}

#[test]
fn memory_stays_the_same_whatever_the_capture() {
    let mut r = Run::new();
    for i in 0..100_000u32 {
        r.feed(f64::from(i) * 1e-5, &numbered(ACK, 1001 + i, 10, i as u16, 64));
    }
    assert_eq!(r.filter.slots.len(), SLOTS);
    assert_eq!(r.filter.dropped(), 0);
    // A copy right after its original still finds it.
    assert_eq!(r.feed(1.0, &numbered(ACK, 7, 10, 7, 64)), None);
    assert_eq!(r.feed(1.00001, &numbered(ACK, 7, 10, 7, 63)), Some(100_001));
}

#[test]
fn a_copy_is_recognised_up_to_the_last_frame_a_slot_holds() {
    // The last frame a slot can remember, with its TTL and its TCP bytes
    // (IP ID 0: only identical bytes make a copy).
    let mut r = Run { filter: DuplicateFilter::default(), frame: FRAME_MASK - 1 };
    assert_eq!(r.feed(1.0, &numbered(ACK, 1001, 10, 0, 200)), None);
    assert_eq!(r.feed(1.0001, &numbered(ACK, 1001, 10, 0, 199)), Some(FRAME_MASK));
    // Beyond it a frame is not remembered: its copy is analysed, as a new packet.
    let mut r = Run { filter: DuplicateFilter::default(), frame: FRAME_MASK };
    assert_eq!(r.feed(1.0, &numbered(ACK, 1001, 10, 0x1234, 64)), None);
    assert_eq!(r.feed(1.0001, &numbered(ACK, 1001, 10, 0x1234, 64)), None);
    assert_eq!(r.filter.dropped(), 0);
}
