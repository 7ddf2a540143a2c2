//! Frames that are not new packets: the same packet captured twice.
//!
//! `tcpka`'s rules count packets: a probe, a retransmission, the gap between
//! two probes. A capture that holds some packets twice doubles the probe
//! count, makes intervals "0.000 s" and invents retransmissions. That
//! happens with `tcpdump -i any` on a router (each forwarded packet on the
//! way in and on the way out, microseconds apart, the second with a TTL one
//! lower), with a SPAN port that mirrors both directions of a link, and with
//! `mergecap` of captures taken at two points of one path.
//!
//! A copy is a frame identical, in everything a router leaves alone, to one
//! captured shortly before it: the same addresses and ports, IP
//! identification, sequence and acknowledgment numbers, flags, payload
//! length and window. Its TTL may be lower by the hops between the two
//! capture points. It is analysed once: the first copy goes on to the flow
//! table and keeps its frame number (as Wireshark numbers it), the later
//! ones are counted.
//!
//! How long after the first a copy may come is what tells it from a
//! retransmission:
//!
//! - With an IPv4 identification other than 0, [`WITH_IP_ID_WINDOW_S`]
//!   (100 ms). A retransmission is a new IP packet: Linux takes each packet's
//!   ID from a per-socket counter (`ip_select_ident_segs`), Windows from a
//!   global one, so even a tail loss probe a few milliseconds after the
//!   original has another ID. And no retransmission timer fires that soon:
//!   Linux's RTO is at least 200 ms (`TCP_RTO_MIN`), Windows' at least
//!   300 ms; half of the smallest leaves room for timestamps stamped a little
//!   early or late. The window only has to cover copies: microseconds apart
//!   on one host, up to 50.5 ms in arkime's wireshark-retrans.pcap (frames
//!   38 and 45), a few milliseconds between two synchronised hosts.
//! - With IP ID 0 (macOS, iOS and some embedded stacks send every packet with
//!   ID 0 when it may not be fragmented) or IPv6 (no ID at all), nothing
//!   numbers the packets, so a copy must also carry exactly the same TCP
//!   bytes (header, options and captured payload) and come within
//!   [`WITHOUT_IP_ID_WINDOW_S`] (1 ms). Two duplicate ACKs a stack sends
//!   within a millisecond differ in their SACK blocks or timestamps; a
//!   stack that sends two identical ones without either would lose one of
//!   them here, which changes no verdict. A RST without an ID is never taken
//!   for a copy: a host answers every segment that arrives for a connection
//!   it no longer has with the same stateless RST (RFC 9293 §3.10.7.1),
//!   microseconds apart (nDPI signal.pcap, frames 82 and 83, 10 µs).

use crate::decode::Segment;
use crate::time::Timestamp;
use rustc_hash::FxHasher;
use serde::Serialize;
use std::hash::Hasher;
use std::net::SocketAddr;

/// How long after a packet with a non-zero IPv4 identification a copy of it
/// may be captured (s): well below the smallest retransmission timeout.
pub const WITH_IP_ID_WINDOW_S: f64 = 0.100;
/// The same for a packet without an identification (IP ID 0, IPv6) whose
/// TCP bytes are identical (s).
pub const WITHOUT_IP_ID_WINDOW_S: f64 = 0.001;
/// The TTL (hop limit) of a copy may be this much lower than the first
/// one's, or higher (merged captures need not be in path order): the hops
/// between two capture points of one path.
pub const MAX_HOPS_BETWEEN_COPIES: u8 = 8;
/// Recent packets are remembered in this many slots, by a hash of their
/// fields (a packet takes the slot of an older one with the same hash): a
/// fixed table, so the check costs one hash and one probe per packet and
/// memory stays constant. A copy a few thousand packets after its original
/// may find its slot taken; a copy a few packets after it (`-i any`, a mirror
/// port) finds its original.
const SLOTS: usize = 1 << 14;
/// The first duplicates are named in the capture summary.
pub const EXAMPLES_KEPT: usize = 5;

/// A hash of what identifies a packet, in fields that a router does not
/// change: addresses and ports, sequence and acknowledgment numbers, flags,
/// payload length, window and IP identification. Fed to the hasher as a
/// few machine words (a derived hash fed the addresses byte by byte).
fn fingerprint(seg: &Segment) -> u64 {
    fn ip_bits(a: &SocketAddr) -> u128 {
        match a {
            SocketAddr::V4(v4) => u128::from(v4.ip().to_bits()),
            SocketAddr::V6(v6) => v6.ip().to_bits(),
        }
    }
    let mut h = FxHasher::default();
    h.write_u64((u64::from(seg.seq.0) << 32) | u64::from(seg.ack.0));
    h.write_u64(
        (u64::from(seg.src.port()) << 48)
            | (u64::from(seg.dst.port()) << 32)
            | (u64::from(seg.ip_id.unwrap_or(0)) << 16)
            | u64::from(seg.window),
    );
    h.write_u64((u64::from(seg.payload_len) << 8) | u64::from(seg.flags.0));
    h.write_u128(ip_bits(&seg.src) ^ ip_bits(&seg.dst).rotate_left(64));
    h.finish()
}

/// The slot of a packet whose fingerprint is `fingerprint` (FxHash mixes
/// into the high bits).
fn slot_of(fingerprint: u64) -> usize {
    (fingerprint >> (64 - SLOTS.trailing_zeros())) as usize
}

/// Whether the segment's IP identification numbers its packet.
fn numbered(seg: &Segment) -> bool {
    seg.ip_id.is_some_and(|id| id != 0)
}

/// What the check compares of one TCP frame besides its segment's TTL and
/// flags: computed from the frame alone, while its bytes are at hand (the
/// file source's reader thread makes it with the segment, and checks it
/// there too: `source::order`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Print {
    /// [`fingerprint`] of the segment.
    fingerprint: u64,
    /// A hash of the frame's TCP bytes (header, options and captured
    /// payload), for a frame that is not a RST and whose IP identification
    /// does not number it: the only frames it is compared for.
    bytes: Option<u64>,
}

impl Print {
    /// The print of `seg`, whose TCP header and captured payload are
    /// `tcp_bytes`: the tests' way ([`Print::set`] makes it in place).
    #[cfg(test)]
    pub fn of(seg: &Segment, tcp_bytes: &[u8]) -> Print {
        let mut print = Print::default();
        print.set(seg, tcp_bytes);
        print
    }

    /// Makes this the print of `seg`, whose TCP header and captured
    /// payload are `tcp_bytes` ([`decode_into`](crate::decode::decode_into)),
    /// where the print is kept (the file source's batch). A print returned
    /// by value was loaded back in one 16-byte piece from the smaller stores
    /// that made it (a store-forwarding stall, where `perf` put a sixth of
    /// the reader thread's samples; the time saved was 2% of the thread's).
    pub fn set(&mut self, seg: &Segment, tcp_bytes: &[u8]) {
        let unnumbered = !numbered(seg) && !seg.flags.rst();
        self.bytes = unnumbered.then(|| {
            let mut h = FxHasher::default();
            h.write(tcp_bytes);
            h.finish()
        });
        self.fingerprint = fingerprint(seg);
    }
}

/// The first copy of a packet, as remembered: 32 bytes, aligned so that a
/// slot never straddles two cache lines. The check reads one slot per
/// packet, at a random place in the table, and that read was most of its
/// time: the table is 512 KiB (it was 768 KiB, with 48-byte slots that
/// straddled lines one time in four).
#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct Seen {
    /// [`fingerprint`]: 64 bits, so two packets within the window that
    /// share it are the same packet.
    fingerprint: u64,
    /// A hash of the TCP bytes, for packets the IP ID does not number (when [`HAS_BYTES`] is set).
    bytes: u64,
    ts: Timestamp,
    /// The frame in the low [`FRAME_BITS`] bits (0: the slot is empty; frames
    /// count from 1), [`HAS_BYTES`], and the TTL in the top byte.
    packed: u64,
}

/// Frames up to 2^55 are remembered: 36 quadrillion packets, over a century
/// of reading at 10 million a second. A frame beyond is not remembered, so
/// none of its copies is recognised (each is then analysed, as without this
/// check).
const FRAME_BITS: u32 = 55;
const FRAME_MASK: u64 = (1 << FRAME_BITS) - 1;
const HAS_BYTES: u64 = 1 << FRAME_BITS;

impl Seen {
    fn new(fingerprint: u64, bytes: Option<u64>, frame: u64, ts: Timestamp, ttl: u8) -> Option<Seen> {
        (frame & !FRAME_MASK == 0).then(|| Seen {
            fingerprint,
            bytes: bytes.unwrap_or(0),
            ts,
            packed: frame | if bytes.is_some() { HAS_BYTES } else { 0 } | u64::from(ttl) << 56,
        })
    }
    fn frame(&self) -> u64 {
        self.packed & FRAME_MASK
    }
    fn is_empty(&self) -> bool {
        self.frame() == 0
    }
    fn bytes(&self) -> Option<u64> {
        (self.packed & HAS_BYTES != 0).then_some(self.bytes)
    }
    fn ttl(&self) -> u8 {
        (self.packed >> 56) as u8
    }
}

/// One duplicate: its frame and the frame it repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    pub frame: u64,
    pub copy_of: u64,
}

/// Recognises copies of recently captured packets. One per capture.
#[derive(Default)]
pub struct DuplicateFilter {
    /// [`SLOTS`] slots, allocated with the first packet.
    slots: Vec<Seen>,
    /// The low 16 bits of each slot's fingerprint: 32 KiB that stay in the
    /// cache, read for every packet. Only when they match (a copy, or one
    /// packet in 65,536) is the slot itself read; reading a slot at a random
    /// place in the 512 KiB table for every packet was a cache miss, most
    /// of the check's time. Writing the packet into its slot does not wait
    /// for the memory.
    tags: Vec<u16>,
    dropped: u64,
    examples: Vec<Duplicate>,
}

impl DuplicateFilter {
    /// The frame `frame` holding `seg`, whose [`Print`] is `print`: the
    /// frame it is a copy of, if it is one.
    pub fn check(&mut self, frame: u64, ts: Timestamp, seg: &Segment, print: &Print) -> Option<u64> {
        if self.slots.is_empty() {
            self.slots = vec![Seen::default(); SLOTS];
            self.tags = vec![0; SLOTS];
        }
        let fingerprint = print.fingerprint;
        let slot = slot_of(fingerprint);
        let tag = fingerprint as u16;
        if self.tags[slot] == tag
            && let first = self.slots[slot]
            && !first.is_empty()
            && first.fingerprint == fingerprint
        {
            let apart = ts.secs_since(first.ts).abs();
            let hops = first.ttl().abs_diff(seg.ttl);
            let copy = hops <= MAX_HOPS_BETWEEN_COPIES
                && if numbered(seg) {
                    apart <= WITH_IP_ID_WINDOW_S
                } else {
                    !seg.flags.rst()
                        && apart <= WITHOUT_IP_ID_WINDOW_S
                        && first.bytes().is_some()
                        && first.bytes() == print.bytes
                };
            if copy {
                self.dropped += 1;
                let dup = Duplicate { frame, copy_of: first.frame() };
                if self.examples.len() < EXAMPLES_KEPT {
                    self.examples.push(dup);
                }
                return Some(first.frame());
            }
        }
        self.slots[slot] = Seen::new(fingerprint, print.bytes, frame, ts, seg.ttl).unwrap_or_default();
        self.tags[slot] = tag;
        None
    }

    /// Asks the cache for the slot that the frame whose print is `print`
    /// will be checked against and written to, a few frames before it is.
    #[inline]
    pub fn prefetch(&self, print: &Print) {
        #[cfg(target_arch = "x86_64")]
        if let Some(seen) = self.slots.get(slot_of(print.fingerprint)) {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // A prefetch reads nothing the program sees, and may name any address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(seen).cast()) };
        }
    }

    /// How many frames were dropped as copies.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The first few duplicates, in frame order.
    pub fn examples(&self) -> &[Duplicate] {
        &self.examples
    }

    /// The copies recognised so far, without the table of recent packets
    /// (512 KiB): what this filter reports, as it stands now. Checking a
    /// packet against it allocates an empty table, as for a new capture.
    pub fn found(&self) -> DuplicateFilter {
        DuplicateFilter { slots: Vec::new(), tags: Vec::new(), dropped: self.dropped, examples: self.examples.clone() }
    }
}

#[cfg(test)]
mod tests;
