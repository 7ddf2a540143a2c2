//! Link, IP and TCP decoding: one captured frame in, one [`Segment`] out.
//!
//! Parsing is done by `etherparse` on borrowed slices (no allocation); this
//! module only knows the link-layer framings libpcap hands us and pulls out
//! the handful of fields the flow table needs. Lengths come from the IP
//! header, never from the frame length: Ethernet pads short frames with
//! trailer bytes, and a snapshot length may cut the payload off (the TCP
//! header is all we need, so such packets still count).

use crate::seq::SeqNumber;
use etherparse::{
    ArpOperation, ArpPacketSlice, EtherType, Ethernet2HeaderSlice, Icmpv6Slice, IpNumber, Ipv4HeaderSlice, LaxIpSlice,
    SingleVlanSlice, TcpOptionElement, TcpSlice,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

/// The link-layer framings tcpka understands, by libpcap DLT value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// DLT_EN10MB: Ethernet II, with any 802.1Q / 802.1ad (QinQ) tags and PPPoE sessions.
    Ethernet,
    /// DLT_LINUX_SLL: Linux "cooked" v1, what `tcpdump -i any` wrote before libpcap 1.10.
    LinuxSll,
    /// DLT_LINUX_SLL2: Linux "cooked" v2, `tcpdump -i any` on current libpcap.
    LinuxSll2,
    /// DLT_RAW / LINKTYPE_RAW and LINKTYPE_IPV4 / LINKTYPE_IPV6: the frame is the IP packet.
    RawIp,
    /// DLT_NULL: BSD loopback, a 4-byte address family in the capturing host's byte order.
    Null,
    /// DLT_LOOP: OpenBSD loopback, the same 4-byte family in network byte order.
    Loop,
    /// DLT_NFLOG: Linux netfilter log, TLVs with the IP packet in NFULA_PAYLOAD.
    Nflog,
}

impl LinkKind {
    /// Maps a libpcap data-link type (as `pcap_datalink` returns it) to a framing.
    pub fn from_dlt(dlt: i32) -> Option<LinkKind> {
        Some(match dlt {
            1 => LinkKind::Ethernet,
            113 => LinkKind::LinuxSll,
            276 => LinkKind::LinuxSll2,
            // DLT_RAW is 12 on most systems, 14 on OpenBSD; 101 is LINKTYPE_RAW;
            // 228 and 229 are LINKTYPE_IPV4 and LINKTYPE_IPV6.
            12 | 14 | 101 | 228 | 229 => LinkKind::RawIp,
            0 => LinkKind::Null,
            108 => LinkKind::Loop,
            239 => LinkKind::Nflog,
            _ => return None,
        })
    }
}

/// TCP control flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
    /// SYN, FIN or RST: segments that are never keepalives or keepalive ACKs.
    pub fn has_control(self) -> bool {
        self.0 & (Self::SYN | Self::FIN | Self::RST) != 0
    }
}

/// The flags as Wireshark's Info column names them: "SYN, ACK", "PSH, ACK",
/// in its order (epan/dissectors/packet-tcp.c, tcp_flags_to_str: FIN, SYN,
/// RST, PSH, ACK, URG, ECE, CWR), `<None>` without any.
impl std::fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
        let set: Vec<&str> =
            NAMES.iter().enumerate().filter(|(bit, _)| self.0 & (1 << bit) != 0).map(|(_, n)| *n).collect();
        if set.is_empty() { f.write_str("<None>") } else { f.write_str(&set.join(", ")) }
    }
}

/// The 802.1Q VLAN ids in front of a packet, outermost first; 0 = no tag.
/// Not part of a connection's identity (see `flow::store`): a connection's
/// are the tags all its packets shared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VlanPath(pub [u16; 2]);

impl VlanPath {
    pub fn ids(&self) -> Vec<u16> {
        self.0.iter().copied().filter(|&id| id != 0).collect()
    }

    /// The tags this path and `other` share, position by position (0
    /// where they differ): what a filter on the tags may name and still
    /// match both.
    pub fn shared_with(self, other: VlanPath) -> VlanPath {
        let [a, b] = self.0;
        let [c, d] = other.0;
        VlanPath([if a == c { a } else { 0 }, if b == d { b } else { 0 }])
    }
}

/// A segment's two endpoints hashed the same in both directions: where
/// the flow table looks for its connection (its hint slot and its index
/// bucket, `flow::store`). It depends on the frame alone, so a source makes
/// it with the segment ([`crate::source::Frame`]): the file source on its
/// reader's thread, which has idle time, and not the analysing thread,
/// where the hash and the key were 2.8% of the samples (bench/results.md,
/// `thread4`); the prefetch a few frames ahead reads it instead of hashing.
/// 32 bits (FxHash's two halves folded) so that it fits in the batch
/// entry's padding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndsHash(u32);

impl EndsHash {
    /// The hash of the endpoints `a` and `b`, in either order: the two in
    /// a fixed order, as a few machine words (hashing every address byte
    /// by byte was a tenth of the run time). FxHash: endpoints come from
    /// the capture, not from an adversary who could aim at collisions, and
    /// SipHash was a tenth of the run time.
    #[inline]
    pub fn of(a: SocketAddr, b: SocketAddr) -> EndsHash {
        use std::hash::Hasher;
        let mut h = rustc_hash::FxHasher::default();
        match (a, b) {
            // Each endpoint in one word, ordered by `min` and `max`: no
            // branch on which is lower (which end sent a segment is a coin
            // toss, so such a branch is mispredicted half the time).
            (SocketAddr::V4(a), SocketAddr::V4(b)) => {
                let word = |e: SocketAddrV4| (u64::from(e.ip().to_bits()) << 16) | u64::from(e.port());
                let (a, b) = (word(a), word(b));
                h.write_u64(a.min(b));
                h.write_u64(a.max(b));
            }
            (a, b) => {
                fn bits(a: &SocketAddr) -> (u128, u16) {
                    match a {
                        SocketAddr::V4(v4) => (u128::from(v4.ip().to_bits()), v4.port()),
                        SocketAddr::V6(v6) => (v6.ip().to_bits(), v6.port()),
                    }
                }
                let (a, b) = (bits(&a), bits(&b));
                let ((lo, lo_port), (hi, hi_port)) = if a <= b { (a, b) } else { (b, a) };
                h.write_u64((u64::from(lo_port) << 16) | u64::from(hi_port));
                h.write_u128(lo);
                h.write_u128(hi);
            }
        }
        // Both halves folded: FxHash's best mixed bits are the product's
        // top ones, which its `finish` rotates into the word's low half.
        let h = h.finish();
        EndsHash((h ^ (h >> 32)) as u32)
    }

    /// The hash of a segment's endpoints.
    #[inline]
    pub fn of_segment(seg: &Segment) -> EndsHash {
        EndsHash::of(seg.src, seg.dst)
    }

    /// The 32 bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

/// What tcpka keeps of one TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vlan: VlanPath,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: SeqNumber,
    pub ack: SeqNumber,
    pub flags: TcpFlags,
    /// The raw (unscaled) window field.
    pub window: u16,
    /// TCP payload length from the IP header, even when the capture cut it off.
    pub payload_len: u32,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification (None for IPv6).
    pub ip_id: Option<u16>,
    /// The TCP timestamp option was present.
    pub has_timestamp: bool,
    /// The first SACK block, if any: a block below the ACK number is a D-SACK
    /// (RFC 2883), the receiver saying it got a byte twice.
    pub first_sack: Option<(SeqNumber, SeqNumber)>,
}

impl Segment {
    /// Sequence space the segment occupies: payload plus one for SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload_len + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }
}

/// Address resolution on the capture's link (ARP, RFC 826; IPv6 Neighbor
/// Discovery, RFC 4861 §4.3–4.4): which address someone asked for, and
/// which host showed it is there. A router that has packets for a host on
/// its link asks for the host's address before it forwards them; when
/// nobody answers, it drops them (Linux `neigh_invalidate`), so a capture
/// on that link sees the questions but never the packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Neighbour {
    /// "Who has this address?": an ARP request, a Neighbor Solicitation.
    pub asked_for: Option<IpAddr>,
    /// The host with this address is on the link: it answered (ARP reply,
    /// Neighbor Advertisement), announced itself (gratuitous ARP), or asked
    /// for another host itself.
    pub present: Option<IpAddr>,
}

/// The result of decoding one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    Tcp(Segment),
    /// ARP or IPv6 neighbour discovery.
    Neighbour(Neighbour),
    /// A well-formed packet that is not TCP (or an IP fragment after the first).
    NotTcp,
    /// Too short or inconsistent to read a TCP header from.
    Malformed,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const NFULA_PAYLOAD: u16 = 9;

/// Decodes one captured frame of the given framing (the analysis decodes
/// into where it keeps frames, [`decode_into`]; the tests and the fuzz
/// targets take this).
#[cfg(any(test, feature = "fuzzing"))]
pub fn decode(link: LinkKind, frame: &[u8]) -> Decoded {
    let mut decoded = Decoded::Malformed;
    decode_into(link, frame, &mut decoded);
    decoded
}

/// Decodes one captured frame of the given framing into `out`, where the
/// caller keeps it (the file source: its batch; returned by value, the
/// 104-byte result was copied into the frame, and the frame into the
/// batch: 5% of the reader thread's instructions). With a TCP segment,
/// also returns its TCP header and captured payload (the IP packet's
/// length, not the frame's: no link padding; empty for any other frame),
/// for comparing two frames byte for byte (the duplicate check's print):
/// found while decoding, not by parsing the frame again.
#[inline]
pub fn decode_into<'f>(link: LinkKind, frame: &'f [u8], out: &mut Decoded) -> &'f [u8] {
    match locate(link, frame) {
        Located::Ip(vlan, ip, wire_len) => return decode_ip(vlan, ip, wire_len, out),
        Located::Arp(arp) => *out = decode_arp(arp),
        Located::NotIp => *out = Decoded::NotTcp,
        Located::Malformed => *out = Decoded::Malformed,
    }
    &[]
}

/// Where a frame's IP packet is.
enum Located<'a> {
    /// The IP packet, behind these VLAN tags; with its length on the wire
    /// when the link layer states it (PPPoE), which bounds the IP header's.
    Ip(VlanPath, &'a [u8], Option<usize>),
    /// An ARP packet.
    Arp(&'a [u8]),
    /// A well-formed frame that carries no IP.
    NotIp,
    Malformed,
}

/// Finds the IP packet in a frame of the given framing.
fn locate(link: LinkKind, frame: &[u8]) -> Located<'_> {
    match link {
        LinkKind::Ethernet => locate_ethernet(frame),
        LinkKind::LinuxSll => match frame.get(14..16) {
            Some(p) => locate_ether_type(VlanPath::default(), be16(p), &frame[16..]),
            None => Located::Malformed,
        },
        LinkKind::LinuxSll2 => match frame.get(0..2) {
            Some(p) if frame.len() >= 20 => locate_ether_type(VlanPath::default(), be16(p), &frame[20..]),
            _ => Located::Malformed,
        },
        LinkKind::RawIp => Located::Ip(VlanPath::default(), frame, None),
        // The address family tells IPv4 from IPv6, but so does the IP version
        // nibble, which does not depend on the capturing host's byte order.
        LinkKind::Null | LinkKind::Loop => match frame.get(4..) {
            Some(ip) => Located::Ip(VlanPath::default(), ip, None),
            None => Located::Malformed,
        },
        LinkKind::Nflog => match nflog_payload(frame) {
            Some(ip) => Located::Ip(VlanPath::default(), ip, None),
            None => Located::NotIp,
        },
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn locate_ethernet(frame: &[u8]) -> Located<'_> {
    match Ethernet2HeaderSlice::from_slice(frame) {
        Ok(eth) => locate_ether_type(VlanPath::default(), eth.ether_type().0, &frame[eth.slice().len()..]),
        Err(_) => Located::Malformed,
    }
}

/// The payload of an Ethernet (or cooked) header: VLAN tags, PPPoE, IP.
/// The slices are parsed in place: building etherparse's whole-packet
/// structure moved more bytes than reading the packet did.
fn locate_ether_type(mut vlan: VlanPath, mut ether_type: u16, mut payload: &[u8]) -> Located<'_> {
    let mut depth = 0;
    while matches!(ether_type, ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD) {
        let Ok(tag) = SingleVlanSlice::from_slice(payload) else {
            return Located::Malformed;
        };
        if depth < vlan.0.len() {
            vlan.0[depth] = tag.vlan_identifier().value();
        }
        depth += 1;
        ether_type = tag.ether_type().0;
        payload = tag.payload_slice();
    }
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Located::Ip(vlan, payload, None),
        ETHERTYPE_PPPOE_SESSION => pppoe(vlan, payload),
        ETHERTYPE_ARP => Located::Arp(payload),
        _ => Located::NotIp,
    }
}

/// PPPoE session stage (RFC 2516 §4): a 6-byte header whose LENGTH field
/// counts the PPPoE payload, then the 2-byte PPP protocol and the packet.
///
/// The LENGTH is where the PPP packet ends on the wire, whatever the IP
/// header claims: Wireshark hands PPP a buffer cut at it (packet-pppoe.c,
/// `dissect_pppoes`: `reported_length` capped at `reported_payload_length`)
/// and flags an IP total length past it ("IPv4 total length exceeds packet
/// length"), and TCP then counts only the bytes inside it. zeek's
/// pppoe-over-qinq.pcap has ACKs (frames 19, 33, 41, 47, 63, 81) whose
/// PPPoE LENGTH is 42 (IP 40 bytes: headers only) but whose IP total
/// length says 46: six bytes of data that are not there.
fn pppoe(vlan: VlanPath, payload: &[u8]) -> Located<'_> {
    let (Some(length), Some(proto)) = (payload.get(4..6), payload.get(6..8)) else {
        return Located::Malformed;
    };
    let Some(ip_len) = usize::from(be16(length)).checked_sub(2) else {
        return Located::Malformed;
    };
    match be16(proto) {
        // What the capture holds of the packet, without the link's padding after it.
        PPP_IPV4 | PPP_IPV6 => Located::Ip(vlan, &payload[8..payload.len().min(8 + ip_len)], Some(ip_len)),
        _ => Located::NotIp,
    }
}

/// NFLOG (DLT 239): a 4-byte header, then TLVs whose 16-bit length and type
/// are in the capturing host's byte order (little-endian on every host that
/// writes them in practice); each TLV is padded to 4 bytes.
///
/// The payload TLV is the last (`__build_packet_message` in the kernel's
/// net/netfilter/nfnetlink_log.c puts NFULA_PAYLOAD after the others), so a
/// snapshot length cuts it first: its length counts the whole packet, the
/// capture holds its start. That start is still the packet's headers, as
/// for any other link type cut by a snapshot length: Wireshark reads TLVs
/// to the reported, not the captured, length (`dissect_nflog`,
/// packet-nflog.c: `tvb_reported_length_remaining`) and dissects the cut
/// payload. tcpka's own file reader keeps only a frame's first bytes
/// ([`headers_len`]); zeek's nflog-http.pcap has a 1603-byte HTTP response
/// (frame 8) whose 1647-byte payload TLV that cut, and that was then not
/// read as TCP.
fn nflog_payload(frame: &[u8]) -> Option<&[u8]> {
    frame.get(nflog_payload_at(frame)?..)
}

/// Where an NFLOG frame's packet (the payload TLV's value) starts.
fn nflog_payload_at(frame: &[u8]) -> Option<usize> {
    let mut at = 4;
    while let Some(tlv) = frame.get(at..at + 4) {
        let len = u16::from_le_bytes([tlv[0], tlv[1]]) as usize;
        let kind = u16::from_le_bytes([tlv[2], tlv[3]]);
        if len < 4 {
            return None;
        }
        if kind == NFULA_PAYLOAD {
            return Some(at + 4);
        }
        // A TLV before the payload that the capture cut: the payload is not there.
        at += (len + 3) & !3;
    }
    None
}

/// How many of a frame's first bytes [`decode_into`] reads at
/// most: its link header, then enough of the packet for the IP (with
/// options or extension headers) and TCP headers. Lengths come from the IP
/// header, so, like a snapshot length, cutting the rest loses nothing (the
/// file reader decodes only these bytes).
pub fn headers_len(link: LinkKind, frame: &[u8]) -> usize {
    // Ethernet with VLAN tags and PPPoE, cooked and loopback headers are a
    // few tens of bytes, within the margin; NFLOG's TLVs before the packet
    // are not bounded so (a 64-byte prefix, hardware header, timestamps,
    // conntrack attributes with NFULNL_CFG_F_CONNTRACK), so count from
    // where the packet starts.
    let link_header = match link {
        LinkKind::Nflog => nflog_payload_at(frame).unwrap_or(0),
        _ => 0,
    };
    frame.len().min(link_header + HEADER_BYTES)
}

/// The bytes [`headers_len`] keeps past the link header of a frame: a
/// 60-byte IPv4 or an IPv6 header with extension headers, and a 60-byte TCP
/// header, with room to spare.
const HEADER_BYTES: usize = 512;

/// An ARP packet for IPv4 (RFC 826). A request names the address asked for
/// and, unless it is an ARP probe (RFC 5227 §2.1.1: sender 0.0.0.0), the
/// asker, who is thereby present; a request for one's own address is an
/// announcement (RFC 5227 §2.3, "gratuitous ARP"), not a question.
fn decode_arp(arp: &[u8]) -> Decoded {
    let Ok(arp) = ArpPacketSlice::from_slice(arp) else {
        return Decoded::Malformed;
    };
    let ipv4 = |b: &[u8]| <[u8; 4]>::try_from(b).ok().map(|a| IpAddr::V4(Ipv4Addr::from(a)));
    if arp.proto_addr_type() != EtherType::IPV4 {
        return Decoded::NotTcp;
    }
    let (Some(sender), Some(target)) = (ipv4(arp.sender_protocol_addr()), ipv4(arp.target_protocol_addr())) else {
        return Decoded::Malformed;
    };
    let present = Some(sender).filter(|s| !s.is_unspecified());
    let asked_for = (arp.operation() == ArpOperation::REQUEST && Some(target) != present).then_some(target);
    Decoded::Neighbour(Neighbour { asked_for, present })
}

/// An IPv6 Neighbor Solicitation (asks for its target; its source, unless
/// unspecified as in duplicate address detection, is present) or
/// Advertisement (its target is present), RFC 4861 §4.3–4.4.
fn decode_neighbour_discovery(src: Ipv6Addr, icmp: &[u8]) -> Decoded {
    const NEIGHBOR_SOLICITATION: u8 = 135;
    const NEIGHBOR_ADVERTISEMENT: u8 = 136;
    let Ok(icmp) = Icmpv6Slice::from_slice(icmp) else {
        return Decoded::Malformed;
    };
    // Both carry the target address right after the 4 reserved (or flag)
    // bytes that end the 8-byte ICMPv6 header (RFC 4861 §4.3, §4.4).
    let Some(target) = icmp.payload().get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok()) else {
        return Decoded::NotTcp;
    };
    let target = IpAddr::V6(Ipv6Addr::from(target));
    let src = Some(IpAddr::V6(src)).filter(|s| !s.is_unspecified());
    match icmp.type_u8() {
        NEIGHBOR_SOLICITATION => {
            Decoded::Neighbour(Neighbour { asked_for: Some(target).filter(|&t| Some(t) != src), present: src })
        }
        NEIGHBOR_ADVERTISEMENT => Decoded::Neighbour(Neighbour { asked_for: None, present: Some(target) }),
        _ => Decoded::NotTcp,
    }
}

/// What [`decode_ip`] reads of an IP packet's header, whichever version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IpFields<'a> {
    src: IpAddr,
    dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    ttl: u8,
    /// IPv4 identification (None for IPv6).
    ip_id: Option<u16>,
    /// The payload's length as the header declares it (None: the header
    /// declares less than its own length).
    declared: Option<usize>,
    /// The header's length, with any extension headers.
    header_len: usize,
    /// The protocol of the payload.
    ip_number: IpNumber,
    /// The payload is a fragment (the first one included).
    fragmented: bool,
    /// The payload as captured: up to where the header says the packet
    /// ends, or to the end of the slice when that is before, or when the
    /// header's length is less than its own.
    payload: &'a [u8],
}

/// The fields of an IP packet of either version, from etherparse's lax
/// slicing (an IPv4 authentication header, IPv6 extension headers).
fn lax_ip_fields(ip: &[u8]) -> Option<IpFields<'_>> {
    // Read where etherparse returned it, not moved out first: the move
    // loaded the result in 16-byte pieces from the callee's smaller stores
    // (a store-forwarding stall: a third of this function's time).
    let parsed = LaxIpSlice::from_slice(ip);
    let Ok((ip, _)) = &parsed else { return None };
    Some(match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let header_len = usize::from(h.ihl()) * 4 + v4.extensions().auth.map_or(0, |a| a.slice().len());
            IpFields {
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                ttl: h.ttl(),
                ip_id: Some(h.identification()),
                declared: usize::from(h.total_len()).checked_sub(header_len),
                header_len,
                ip_number: v4.payload().ip_number,
                fragmented: v4.payload().fragmented,
                payload: v4.payload().payload,
            }
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let extensions = v6.extensions().slice().len();
            IpFields {
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                ttl: h.hop_limit(),
                ip_id: None,
                declared: usize::from(h.payload_length()).checked_sub(extensions),
                header_len: 40 + extensions,
                ip_number: v6.payload().ip_number,
                fragmented: v6.payload().fragmented,
                payload: v6.payload().payload,
            }
        }
    })
}

/// The fields of an IPv4 packet without an authentication header (almost
/// every packet), from etherparse's header slice alone: the same fields as
/// [`lax_ip_fields`] (a test compares the two on every packet of every
/// capture in `fixtures/` and the shared corpus), without its result for
/// every kind of IP packet (the extension headers, where the payload's
/// length came from), which was built in memory and read back: the lax
/// slicing was a tenth of the reader thread's instructions. None for any
/// other packet, which [`lax_ip_fields`] reads.
#[inline(always)]
fn ipv4_fields(ip: &[u8]) -> Option<IpFields<'_>> {
    let h = Ipv4HeaderSlice::from_slice(ip).ok()?;
    if h.protocol() == IpNumber::AUTHENTICATION_HEADER {
        return None;
    }
    let header_len = h.slice().len();
    let total_len = usize::from(h.total_len());
    // As the lax slicing: the packet ends where its total length says,
    // unless that is before its header's end or after the slice's.
    let end = if (header_len..=ip.len()).contains(&total_len) { total_len } else { ip.len() };
    Some(IpFields {
        src: IpAddr::V4(h.source_addr()),
        dst: IpAddr::V4(h.destination_addr()),
        ttl: h.ttl(),
        ip_id: Some(h.identification()),
        declared: total_len.checked_sub(header_len),
        header_len,
        ip_number: h.protocol(),
        fragmented: h.is_fragmenting_payload(),
        payload: &ip[header_len..end],
    })
}

/// `wire_len`: the IP packet's length on the wire, when the link layer
/// states it (see [`pppoe`]); the IP header's length counts only within it.
/// Writes the packet decoded into `out`; returns, with a TCP segment, its
/// TCP bytes (see [`decode_into`]).
fn decode_ip<'f>(vlan: VlanPath, ip: &'f [u8], wire_len: Option<usize>, out: &mut Decoded) -> &'f [u8] {
    // Two calls of the same code: in the first, the compiler knows the
    // addresses are IPv4 ones, and writes the segment without asking.
    if let Some(v4) = ipv4_fields(ip) {
        return decode_ip_payload(vlan, v4, wire_len, out);
    }
    match lax_ip_fields(ip) {
        Some(fields) => decode_ip_payload(vlan, fields, wire_len, out),
        None => {
            *out = Decoded::Malformed;
            &[]
        }
    }
}

/// [`decode_ip`] once the IP header is read: the packet's payload.
#[inline(always)]
fn decode_ip_payload<'f>(vlan: VlanPath, ip: IpFields<'f>, wire_len: Option<usize>, out: &mut Decoded) -> &'f [u8] {
    let IpFields {
        src: src_ip,
        dst: dst_ip,
        ttl,
        ip_id,
        declared: declared_ip_payload,
        header_len: ip_header_len,
        ip_number,
        fragmented,
        payload,
    } = ip;
    if ip_number == IpNumber::IPV6_ICMP
        && !fragmented
        && let IpAddr::V6(src) = src_ip
    {
        *out = decode_neighbour_discovery(src, payload);
        return &[];
    }
    if ip_number != IpNumber::TCP || fragmented {
        *out = Decoded::NotTcp;
        return &[];
    }
    let Ok(tcp) = TcpSlice::from_slice(payload) else {
        *out = Decoded::Malformed;
        return &[];
    };
    let header_len = usize::from(tcp.data_offset()) * 4;
    // A zero IP length means the NIC segments later (TSO): fall back to what was captured.
    let ip_payload_len = match declared_ip_payload {
        Some(0) | None => payload.len(),
        Some(n) => n,
    };
    // Never past where the link layer says the packet ends.
    let ip_payload_len = wire_len.map_or(ip_payload_len, |w| ip_payload_len.min(w.saturating_sub(ip_header_len)));
    let payload_len = ip_payload_len.saturating_sub(header_len) as u32;

    let mut has_timestamp = false;
    let mut first_sack = None;
    // Options matter on SYNs and RSTs (timestamps negotiated or missing) and
    // on pure ACKs (a D-SACK); skipping them on data segments saves time.
    let wants_options = tcp.syn() || tcp.rst() || payload_len == 0;
    // Linux's usual options on an ACK: NOP, NOP, timestamps; nothing else to find.
    // The length first: most segments have other options, or none.
    let just_timestamps = tcp.options().len() == 12 && tcp.options()[..4] == [1, 1, 8, 10];
    has_timestamp |= just_timestamps;
    // Not `take_while` on the iterator: it parses an option before asking
    // whether to go on, so every data segment had its first option read.
    if wants_options && !just_timestamps && !tcp.options().is_empty() {
        for option in tcp.options_iterator() {
            match option {
                Ok(TcpOptionElement::Timestamp(_, _)) => has_timestamp = true,
                Ok(TcpOptionElement::SelectiveAcknowledgement((l, r), _)) => {
                    first_sack = Some((SeqNumber(l), SeqNumber(r)))
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    let mut flags = 0u8;
    for (set, bit) in [
        (tcp.fin(), TcpFlags::FIN),
        (tcp.syn(), TcpFlags::SYN),
        (tcp.rst(), TcpFlags::RST),
        (tcp.psh(), TcpFlags::PSH),
        (tcp.ack(), TcpFlags::ACK),
    ] {
        if set {
            flags |= bit;
        }
    }
    *out = Decoded::Tcp(Segment {
        vlan,
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: SeqNumber(tcp.sequence_number()),
        ack: SeqNumber(tcp.acknowledgment_number()),
        flags: TcpFlags(flags),
        window: tcp.window_size(),
        payload_len,
        ttl,
        ip_id,
        has_timestamp,
        first_sack,
    });
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::frame as tcp_frame;
    use etherparse::PacketBuilder;

    fn ipv4_frame(flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
        tcp_frame(true, flags, seq, ack, payload.len())
    }

    fn tcp(d: Decoded) -> Segment {
        match d {
            Decoded::Tcp(s) => s,
            other => panic!("expected a TCP segment, got {other:?}"),
        }
    }

    #[test]
    fn the_ends_hash_is_the_same_both_ways_and_tells_endpoints_apart() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        let (a, b) = (addr("10.0.0.1:40000"), addr("10.0.0.2:22"));
        assert_eq!(EndsHash::of(a, b), EndsHash::of(b, a));
        assert_ne!(EndsHash::of(a, b), EndsHash::of(a, addr("10.0.0.2:23")));
        assert_ne!(EndsHash::of(a, b), EndsHash::of(addr("10.0.0.3:40000"), b));
        let (c, d) = (addr("[2001:db8::1]:40000"), addr("[2001:db8::2]:22"));
        assert_eq!(EndsHash::of(c, d), EndsHash::of(d, c));
        assert_ne!(EndsHash::of(c, d), EndsHash::of(c, addr("[2001:db8::3]:22")));
        let seg = tcp(decode(LinkKind::Ethernet, &ipv4_frame(0x10, 1, 1, b"x")));
        assert_eq!(EndsHash::of_segment(&seg), EndsHash::of(seg.dst, seg.src));
    }

    #[test]
    fn decodes_ethernet_ipv4() {
        let frame = ipv4_frame(TcpFlags::ACK, 1000, 2000, b"hello");
        let s = tcp(decode(LinkKind::Ethernet, &frame));
        assert_eq!(s.src, "10.0.0.1:40000".parse().unwrap());
        assert_eq!(s.dst, "10.0.0.2:7777".parse().unwrap());
        assert_eq!((s.seq, s.ack), (SeqNumber(1000), SeqNumber(2000)));
        assert_eq!(s.payload_len, 5);
        assert_eq!(s.ttl, 64);
        assert!(s.flags.ack() && !s.flags.syn());
        assert_eq!(s.vlan, VlanPath::default());
    }

    #[test]
    fn ignores_ethernet_trailer_bytes() {
        // A 0-byte ACK padded to the 60-byte Ethernet minimum with non-zero bytes.
        let mut frame = ipv4_frame(TcpFlags::ACK, 1, 1, b"");
        frame.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]);
        assert_eq!(tcp(decode(LinkKind::Ethernet, &frame)).payload_len, 0);
    }

    #[test]
    fn snapshot_cut_payload_still_counts() {
        let frame = ipv4_frame(TcpFlags::ACK, 1, 1, &[7u8; 1000]);
        let cut = &frame[..14 + 20 + 20 + 10];
        assert_eq!(tcp(decode(LinkKind::Ethernet, cut)).payload_len, 1000);
    }

    /// `frame`'s IP packet in a PPPoE session frame whose LENGTH field says `length`.
    fn pppoe_frame(frame: &[u8], length: u16) -> Vec<u8> {
        let mut out = frame[..12].to_vec();
        out.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x12, 0x34]);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&PPP_IPV4.to_be_bytes());
        out.extend_from_slice(&frame[14..]);
        out
    }

    #[test]
    fn pppoe_length_bounds_the_ip_packet_as_in_wireshark() {
        let ack = ipv4_frame(TcpFlags::ACK, 1, 1, b"");
        let data = ipv4_frame(TcpFlags::ACK, 1, 1, b"hello");
        // Lengths that agree: the payload, also when the capture cut it off.
        let whole = pppoe_frame(&data, 2 + 45);
        assert_eq!(tcp(decode(LinkKind::Ethernet, &whole)).payload_len, 5);
        assert_eq!(tcp(decode(LinkKind::Ethernet, &whole[..whole.len() - 3])).payload_len, 5);
        // zeek pppoe-over-qinq.pcap frame 81: PPPoE says 42 (40 bytes of
        // IP: the headers), the IP total length 46, and 6 bytes follow in
        // the frame. Wireshark counts no data ("IPv4 total length exceeds
        // packet length (40 bytes)"), and neither does tcpka.
        let mut bogus = data[..14 + 20 + 20].to_vec();
        bogus[16..18].copy_from_slice(&46u16.to_be_bytes());
        bogus.extend_from_slice(&[0; 6]);
        let frame = pppoe_frame(&bogus, 42);
        assert_eq!(tcp(decode(LinkKind::Ethernet, &frame)).payload_len, 0);
        // A LENGTH that ends the packet 3 bytes into its 5 bytes of data: 2 bytes.
        let mut cut = pppoe_frame(&data, 2 + 42);
        cut.extend_from_slice(&[0xaa; 8]);
        assert_eq!(tcp(decode(LinkKind::Ethernet, &cut)).payload_len, 2);
        // A pure ACK padded after its PPPoE payload: the padding is no data.
        let mut padded = pppoe_frame(&ack, 42);
        padded.extend_from_slice(&[0xaa; 8]);
        assert_eq!(tcp(decode(LinkKind::Ethernet, &padded)).payload_len, 0);
        // A LENGTH too short to hold the PPP protocol is no packet.
        assert_eq!(decode(LinkKind::Ethernet, &pppoe_frame(&ack, 1)), Decoded::Malformed);
    }

    #[test]
    fn reads_qinq_vlan_ids() {
        let frame = ipv4_frame(TcpFlags::ACK, 1, 1, b"x");
        let mut tagged = frame[..12].to_vec();
        tagged.extend_from_slice(&[0x88, 0xa8, 0x00, 100, 0x81, 0x00, 0x00, 42]);
        tagged.extend_from_slice(&frame[12..]);
        let s = tcp(decode(LinkKind::Ethernet, &tagged));
        assert_eq!(s.vlan, VlanPath([100, 42]));
        assert_eq!(s.payload_len, 1);
    }

    #[test]
    fn reads_linux_cooked_v1_and_v2() {
        let frame = ipv4_frame(TcpFlags::ACK, 5, 6, b"ab");
        let ip = &frame[14..];
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(ip);
        assert_eq!(tcp(decode(LinkKind::LinuxSll, &sll)).payload_len, 2);
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        sll2.extend_from_slice(ip);
        assert_eq!(tcp(decode(LinkKind::LinuxSll2, &sll2)).seq, SeqNumber(5));
    }

    #[test]
    fn reads_raw_null_and_nflog() {
        let frame = ipv4_frame(TcpFlags::ACK, 9, 9, b"");
        let ip = &frame[14..];
        assert!(matches!(decode(LinkKind::RawIp, ip), Decoded::Tcp(_)));
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        assert!(matches!(decode(LinkKind::Null, &null), Decoded::Tcp(_)));
        let mut nflog = vec![2, 0, 0, 0];
        nflog.extend_from_slice(&8u16.to_le_bytes()); // a prefix TLV
        nflog.extend_from_slice(&10u16.to_le_bytes());
        nflog.extend_from_slice(b"abcd");
        nflog.extend_from_slice(&((ip.len() + 4) as u16).to_le_bytes());
        nflog.extend_from_slice(&NFULA_PAYLOAD.to_le_bytes());
        nflog.extend_from_slice(ip);
        assert_eq!(tcp(decode(LinkKind::Nflog, &nflog)).seq, SeqNumber(9));
    }

    #[test]
    fn an_nflog_payload_cut_by_the_snapshot_length_is_still_its_packet() {
        // As zeek's nflog-http.pcap, frame 8: a 1603-byte HTTP response
        // whose payload TLV says 1647 bytes, of which the file reader kept
        // the first (a snapshot length would do the same).
        let frame = tcp_frame(false, TcpFlags::ACK, 1, 80, 1603);
        let ip = &frame[14..];
        let prefix = (10u16, b"\0".to_vec());
        let hwheader = (16u16, vec![0x52; 14]);
        let whole = crate::testkit::nflog_record(&[prefix, hwheader], ip);
        let cut = &whole[..headers_len(LinkKind::Nflog, &whole)];
        assert_eq!(cut.len(), 36 + HEADER_BYTES, "the packet starts at 36, its TLV's length says 1647");
        for bytes in [&whole[..], cut] {
            let s = tcp(decode(LinkKind::Nflog, bytes));
            assert_eq!((s.seq, s.payload_len), (SeqNumber(1), 1603), "the IP header's length counts");
        }
        // Even a cut into the TCP header leaves nothing to read.
        assert!(matches!(decode(LinkKind::Nflog, &whole[..60]), Decoded::Malformed));
        // A cut before the payload TLV: no packet in the frame.
        assert!(matches!(decode(LinkKind::Nflog, &whole[..20]), Decoded::NotTcp));
    }

    #[test]
    fn long_nflog_attributes_before_the_packet_are_kept_with_its_headers() {
        // A 600-byte attribute before the payload (conntrack's, say): the
        // kept bytes count from where the packet starts, not the frame.
        let frame = tcp_frame(true, TcpFlags::ACK, 7, 8, 1400);
        let ip = &frame[14..];
        let whole = crate::testkit::nflog_record(&[(18, vec![0; 600])], ip);
        let kept = headers_len(LinkKind::Nflog, &whole);
        assert_eq!(kept, 4 + 604 + 4 + HEADER_BYTES);
        assert_eq!(tcp(decode(LinkKind::Nflog, &whole[..kept])).payload_len, 1400);
        // Every other link type keeps its first bytes.
        assert_eq!(headers_len(LinkKind::Ethernet, &frame), HEADER_BYTES);
        assert_eq!(headers_len(LinkKind::Ethernet, &frame[..100]), 100);
    }

    #[test]
    fn decodes_ipv6() {
        let mut out = Vec::new();
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 61).tcp(1, 2, 3, 4).ack(5).write(&mut out, b"xyz").unwrap();
        let s = tcp(decode(LinkKind::RawIp, &out));
        assert_eq!(s.ttl, 61);
        assert_eq!(s.ip_id, None);
        assert_eq!(s.payload_len, 3);
        assert!(s.src.is_ipv6());
    }

    #[test]
    fn non_tcp_and_garbage_are_told_apart() {
        let mut udp = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .udp(53, 53)
            .write(&mut udp, b"q")
            .unwrap();
        assert_eq!(decode(LinkKind::Ethernet, &udp), Decoded::NotTcp);
        assert_eq!(decode(LinkKind::Ethernet, &[0u8; 5]), Decoded::Malformed);
        let frame = ipv4_frame(TcpFlags::ACK, 1, 1, b"");
        assert_eq!(decode(LinkKind::Ethernet, &frame[..14 + 20 + 8]), Decoded::Malformed);
    }

    #[test]
    fn arp_tells_who_is_asked_for_and_who_is_present() {
        use crate::testkit::arp;
        let ip = |a: [u8; 4]| Some(IpAddr::from(a));
        // The router asks for the phone: the phone asked for, the router present.
        let ask = decode(LinkKind::Ethernet, &arp(false, [192, 168, 2, 1], [192, 168, 2, 17]));
        assert_eq!(
            ask,
            Decoded::Neighbour(Neighbour { asked_for: ip([192, 168, 2, 17]), present: ip([192, 168, 2, 1]) })
        );
        // The phone answers.
        let reply = decode(LinkKind::Ethernet, &arp(true, [192, 168, 2, 17], [192, 168, 2, 1]));
        assert_eq!(reply, Decoded::Neighbour(Neighbour { asked_for: None, present: ip([192, 168, 2, 17]) }));
        // A gratuitous ARP announces; an ARP probe (sender 0.0.0.0) asks for nobody present.
        let announce = decode(LinkKind::Ethernet, &arp(false, [192, 168, 2, 17], [192, 168, 2, 17]));
        assert_eq!(announce, Decoded::Neighbour(Neighbour { asked_for: None, present: ip([192, 168, 2, 17]) }));
        let probe = decode(LinkKind::Ethernet, &arp(false, [0, 0, 0, 0], [192, 168, 2, 17]));
        assert_eq!(probe, Decoded::Neighbour(Neighbour { asked_for: ip([192, 168, 2, 17]), present: None }));
        // Behind a VLAN tag, and in a Linux cooked capture, the same.
        let frame = arp(false, [192, 168, 2, 1], [192, 168, 2, 17]);
        let mut tagged = frame[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 7]);
        tagged.extend_from_slice(&frame[12..]);
        assert_eq!(decode(LinkKind::Ethernet, &tagged), ask);
        let mut sll = vec![0, 1, 0, 1, 0, 6, 3, 3, 3, 3, 3, 3, 0, 0, 0x08, 0x06];
        sll.extend_from_slice(&frame[14..]);
        assert_eq!(decode(LinkKind::LinuxSll, &sll), ask);
        // Cut short: malformed, not a question.
        assert_eq!(decode(LinkKind::Ethernet, &frame[..20]), Decoded::Malformed);
    }

    #[test]
    fn neighbour_discovery_tells_who_is_asked_for_and_who_is_present() {
        let router: Ipv6Addr = "fe80::1".parse().unwrap();
        let phone: Ipv6Addr = "fe80::17".parse().unwrap();
        let icmp = |kind: u8, src: Ipv6Addr, target: Ipv6Addr| {
            // RFC 4861 §4.3/§4.4: after the header's 4 reserved (or flag) bytes, the target.
            let mut out = Vec::new();
            PacketBuilder::ipv6(src.octets(), [0xff; 16], 255)
                .icmpv6_raw(kind, 0, [0; 4])
                .write(&mut out, &target.octets())
                .unwrap();
            out
        };
        let solicitation = decode(LinkKind::RawIp, &icmp(135, router, phone));
        assert_eq!(
            solicitation,
            Decoded::Neighbour(Neighbour { asked_for: Some(phone.into()), present: Some(router.into()) })
        );
        // Duplicate address detection asks from the unspecified address.
        let dad = decode(LinkKind::RawIp, &icmp(135, Ipv6Addr::UNSPECIFIED, phone));
        assert_eq!(dad, Decoded::Neighbour(Neighbour { asked_for: Some(phone.into()), present: None }));
        let advertisement = decode(LinkKind::RawIp, &icmp(136, phone, phone));
        assert_eq!(advertisement, Decoded::Neighbour(Neighbour { asked_for: None, present: Some(phone.into()) }));
        // Other ICMPv6 (an echo request) is just not TCP.
        assert_eq!(decode(LinkKind::RawIp, &icmp(128, phone, router)), Decoded::NotTcp);
    }

    /// Every capture in `fixtures/` and its public captures, and in the
    /// shared corpus when it is there (`../shared/corpus`, beside the
    /// checkout, as `scripts/same-output.sh` finds it).
    fn every_capture() -> Vec<std::path::PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.file_name().is_some_and(|n| n.to_string_lossy().contains(".pcap")) {
                    out.push(path);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        walk(&root.join("fixtures"), &mut out);
        walk(&root.join("../shared/corpus"), &mut out);
        out.sort();
        out
    }

    #[test]
    fn the_ipv4_fast_path_reads_what_the_lax_slicing_reads() {
        use crate::source::input;
        use crate::source::reader::{CaptureReader, Record};
        let (mut files, mut compared) = (0, 0);
        for path in every_capture() {
            let Ok(input) = input::open(path.as_os_str()) else { continue };
            let Ok(mut reader) = CaptureReader::new(input.format, input.stream) else { continue };
            files += 1;
            // Until the first damage: what follows it is no packet to compare.
            while let Ok(Some(record)) = reader.next_record() {
                let Record::Packet(p) = record else { continue };
                let interface = p.interface;
                let data = p.data.to_vec();
                let Some(kind) = reader.interface(interface).and_then(|i| LinkKind::from_dlt(i.dlt)) else { continue };
                let Located::Ip(_, ip, _) = locate(kind, &data) else { continue };
                if let Some(fast) = ipv4_fields(ip) {
                    assert_eq!(Some(fast), lax_ip_fields(ip), "{}", path.display());
                    compared += 1;
                }
            }
        }
        // fixtures/ alone (as CI has it): 80 captures, 10,623 IPv4 packets;
        // with the shared corpus 109 and 27,466.
        assert!(files >= 50 && compared >= 5_000, "{files} captures, {compared} IPv4 packets compared");
    }

    #[test]
    fn the_ipv4_fast_path_reads_cut_and_odd_headers_as_the_lax_slicing() {
        let frame = ipv4_frame(TcpFlags::ACK, 1, 1, b"hello");
        let ip = &frame[14..];
        let with_total_len = |len: u16| {
            let mut ip = ip.to_vec();
            ip[2..4].copy_from_slice(&len.to_be_bytes());
            ip
        };
        // Every cut, and total lengths below the header, within, at and past the end.
        let mut cases: Vec<Vec<u8>> = (0..=ip.len()).map(|n| ip[..n].to_vec()).collect();
        cases.extend([0, 10, 20, 40, 44, 45, 46, 1000].map(with_total_len));
        // Options (IHL 6), a first fragment, a later one, an IHL below 5, version 6, an authentication header.
        let mut options = ip[..20].to_vec();
        options[0] = 0x46;
        options.extend_from_slice(&[1, 1, 1, 0]);
        options.extend_from_slice(&ip[20..]);
        let mut fragment = ip.to_vec();
        fragment[6] = 0x20;
        let mut later = ip.to_vec();
        later[7] = 0x10;
        let mut short_ihl = ip.to_vec();
        short_ihl[0] = 0x44;
        let mut v6 = ip.to_vec();
        v6[0] = 0x65;
        let mut auth = ip.to_vec();
        auth[9] = 51;
        cases.extend([options, fragment, later, short_ihl, v6, auth.clone()]);
        let mut fast = 0;
        for case in &cases {
            if let Some(fields) = ipv4_fields(case) {
                assert_eq!(Some(fields), lax_ip_fields(case), "{case:02x?}");
                fast += 1;
            }
        }
        assert!(fast >= 12, "{fast}");
        // The authentication header is the lax slicing's alone.
        assert_eq!(ipv4_fields(&auth), None);
    }

    #[test]
    fn unknown_dlt_is_none() {
        assert_eq!(LinkKind::from_dlt(1), Some(LinkKind::Ethernet));
        assert_eq!(LinkKind::from_dlt(147), None);
    }
}
