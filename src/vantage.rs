//! Two vantage points: the same connections captured at the same time at
//! two places on their path (the client's side and the server's, either
//! side of a NAT or a firewall), matched connection by connection, and the
//! packets one point saw and the other did not — lost between the points,
//! or injected between them.
//!
//! A NAT rewrites addresses and ports, not sequence numbers: a connection
//! is matched by its initial sequence numbers (both random 32-bit values,
//! RFC 6528: certain), else by the packets both points saw with the same
//! sequence and acknowledgement numbers, flags and payload length (likely).
//! (Middleboxes that randomise sequence numbers, e.g. Cisco ASA's or pf's
//! `modulate state`, defeat this; TCP timestamp values would survive them,
//! but tcpka does not decode them on every packet.) Which point is nearer
//! a sender is told by the TTL its packets arrive with: each router on the
//! way takes one off (RFC 791).

use crate::decode::{Segment, TcpFlags};
use crate::flow::{PacketClass, PacketRef};
use crate::seq::SeqNumber;
use crate::time::Timestamp;
use rustc_hash::FxHashMap;
use std::net::SocketAddr;

/// How far apart (once the clocks' offset is taken out) the two points may
/// see one packet: less than the time between a prober's identical probes
/// (at least 1 s: TCP_KEEPINTVL counts whole seconds) and more than a
/// path's delay between two points of one site.
pub const SAME_PACKET_WITHIN_S: f64 = 0.5;
/// Packets both points saw, at least, for a connection to be matched
/// without its handshake.
pub const MIN_SHARED: usize = 3;

/// One TCP packet as a point saw it.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub at: PacketRef,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: SeqNumber,
    pub ack: SeqNumber,
    pub flags: TcpFlags,
    pub payload_len: u32,
    pub ttl: u8,
    pub class: PacketClass,
}

/// What identifies a packet at both points (a NAT keeps it): sequence and
/// acknowledgement numbers, SYN/ACK/FIN/RST and payload length.
type Signature = (u32, u32, u8, u32);

impl Seen {
    pub fn new(at: PacketRef, seg: &Segment, class: PacketClass) -> Seen {
        Seen {
            at,
            src: seg.src,
            dst: seg.dst,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            payload_len: seg.payload_len,
            ttl: seg.ttl,
            class,
        }
    }

    fn signature(&self) -> Signature {
        const KEPT: u8 = TcpFlags::SYN | TcpFlags::ACK | TcpFlags::FIN | TcpFlags::RST;
        let ack = if self.flags.ack() { self.ack.0 } else { 0 };
        (self.seq.0, ack, self.flags.0 & KEPT, self.payload_len)
    }
}

/// What one point saw: every TCP packet, and how long it was capturing.
#[derive(Clone, Debug, Default)]
pub struct Point {
    pub name: String,
    pub capture: String,
    pub packets: Vec<Seen>,
    /// When its capture ended, when the file says (a pcapng's statistics).
    pub ended: Option<Timestamp>,
}

impl Point {
    pub fn new(name: &str, capture: &str) -> Point {
        Point { name: name.into(), capture: capture.into(), ..Point::default() }
    }

    pub fn record(&mut self, at: PacketRef, seg: &Segment, class: PacketClass) {
        self.packets.push(Seen::new(at, seg, class));
    }

    /// The time range the point was capturing in (as far as it tells).
    fn window(&self) -> Option<(Timestamp, Timestamp)> {
        let first = self.packets.iter().map(|p| p.at.ts).min()?;
        let last = self.packets.iter().map(|p| p.at.ts).max()?;
        Some((first, self.ended.map_or(last, |e| e.max(last))))
    }
}

/// One connection as one point saw it.
#[derive(Clone, Debug)]
struct Conversation {
    /// Indices into the point's packets, in order.
    packets: Vec<usize>,
    /// The SYN's sender, else the first packet's.
    client: SocketAddr,
    server: SocketAddr,
    /// The client's and the server's initial sequence numbers, when seen.
    isn: [Option<u32>; 2],
}

/// The connections a point saw: by address pair, a new one where a SYN
/// with another initial sequence number reuses the pair.
fn conversations(packets: &[Seen]) -> Vec<Conversation> {
    let mut out: Vec<Conversation> = Vec::new();
    let mut current: FxHashMap<(SocketAddr, SocketAddr), usize> = FxHashMap::default();
    for (i, p) in packets.iter().enumerate() {
        let key = if p.src <= p.dst { (p.src, p.dst) } else { (p.dst, p.src) };
        let syn = p.flags.syn() && !p.flags.ack();
        let index = match current.get(&key) {
            Some(&c) if !(syn && out[c].isn[0].is_some_and(|isn| isn != p.seq.0)) => c,
            _ => {
                out.push(Conversation { packets: Vec::new(), client: p.src, server: p.dst, isn: [None, None] });
                current.insert(key, out.len() - 1);
                out.len() - 1
            }
        };
        let c = &mut out[index];
        if syn {
            (c.client, c.server) = (p.src, p.dst);
            c.isn[0] = Some(p.seq.0);
        } else if p.flags.syn() && p.src == c.server {
            c.isn[1] = Some(p.seq.0);
        }
        c.packets.push(i);
    }
    out
}

/// How two points' connections were found to be one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchedBy {
    /// Both initial sequence numbers are the same: certain.
    Isn,
    /// At least [`MIN_SHARED`] packets with the same numbers: likely.
    Sequence,
}

/// The two ends of a connection: index 0 the client, 1 the server.
pub type Ends = [SocketAddr; 2];

/// Packets one point saw and the other did not, in a row, all from one end.
#[derive(Clone, Debug)]
pub struct Missing {
    /// The end that sent them (0 client, 1 server).
    pub from: usize,
    /// The point that saw them, and the one that did not.
    pub seen_at: usize,
    pub missing_at: usize,
    /// The packets, each with its number in its keepalive train when it is a probe.
    pub packets: Vec<(Seen, Option<u32>)>,
}

/// What a run of missing packets means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Between {
    /// Seen where they were sent, not farther on: lost between the points.
    Lost,
    /// Seen farther on, never where their sender is: injected between the points.
    Injected,
    /// Seen at one point only, and the TTLs do not tell which point is nearer their sender.
    Unplaced,
}

/// One connection seen at both points.
#[derive(Clone, Debug)]
pub struct Matched {
    /// The connection's ends as each point saw them (a NAT changes them).
    pub ends: [Ends; 2],
    pub by: MatchedBy,
    /// Packets both points saw.
    pub shared: usize,
    /// The runs of packets one point saw and the other did not.
    pub missing: Vec<(Between, Missing)>,
}

/// Both points compared.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The points' names and captures.
    pub points: [(String, String); 2],
    /// The second point's clock minus the first's, with the path's delay
    /// (the median over packets both saw once), s.
    pub clock_offset_s: Option<f64>,
    pub matched: Vec<Matched>,
    /// Connections each point saw that the other did not.
    pub unmatched: [usize; 2],
}

/// Matches the connections of two points and finds what each saw alone.
pub fn compare(a: &Point, b: &Point) -> Comparison {
    let points = [a, b];
    let convs = [conversations(&a.packets), conversations(&b.packets)];
    let pairs = match_conversations(points, &convs);
    let offset = clock_offset(points, &convs, &pairs);
    let windows = [a.window(), b.window()];
    let matched = pairs
        .iter()
        .map(|&(ia, ib, flipped, shared)| {
            let conv = [&convs[0][ia], &convs[1][ib]];
            let ends_a = [conv[0].client, conv[0].server];
            let ends_b = if flipped { [conv[1].server, conv[1].client] } else { [conv[1].client, conv[1].server] };
            let by = match (conv[0].isn, conv[1].isn) {
                ([Some(c), Some(s)], [Some(c2), Some(s2)]) if (c, s) == (c2, s2) || (c, s) == (s2, c2) => {
                    MatchedBy::Isn
                }
                _ => MatchedBy::Sequence,
            };
            let missing = find_missing(points, conv, [ends_a, ends_b], offset.unwrap_or(0.0), windows);
            Matched { ends: [ends_a, ends_b], by, shared, missing }
        })
        .collect();
    let unmatched = [convs[0].len() - pairs.len(), convs[1].len() - pairs.len()];
    Comparison {
        points: [(a.name.clone(), a.capture.clone()), (b.name.clone(), b.capture.clone())],
        clock_offset_s: offset,
        matched,
        unmatched,
    }
}

/// Pairs each connection of the first point with the second point's one
/// that shares the most packets with it (at least [`MIN_SHARED`], or the
/// handshake): (first's, second's, the second's client is the first's
/// server, packets shared). Each connection is paired once.
fn match_conversations(points: [&Point; 2], convs: &[Vec<Conversation>; 2]) -> Vec<(usize, usize, bool, usize)> {
    // The second point's connections by the signatures of their packets,
    // and whether each signature's first packet came from the client.
    let mut index: FxHashMap<Signature, Vec<usize>> = FxHashMap::default();
    let mut from_client: Vec<FxHashMap<Signature, bool>> = Vec::with_capacity(convs[1].len());
    for (ci, c) in convs[1].iter().enumerate() {
        let mut first = FxHashMap::default();
        for &p in &c.packets {
            let seen = &points[1].packets[p];
            let list = index.entry(seen.signature()).or_default();
            if list.last() != Some(&ci) {
                list.push(ci);
            }
            first.entry(seen.signature()).or_insert(seen.src == c.client);
        }
        from_client.push(first);
    }
    let mut candidates = Vec::new();
    for (ca, c) in convs[0].iter().enumerate() {
        // Per connection of the second point: packets shared, and how many
        // of them come from its client when they come from the first's.
        let mut shared: FxHashMap<usize, (usize, usize, bool)> = FxHashMap::default();
        let mut signatures: Vec<(Signature, bool)> = c
            .packets
            .iter()
            .map(|&p| {
                let seen = &points[0].packets[p];
                (seen.signature(), seen.src == c.client)
            })
            .collect();
        signatures.sort_unstable();
        signatures.dedup();
        for (sig, a_from_client) in signatures {
            for &cb in index.get(&sig).into_iter().flatten() {
                let entry = shared.entry(cb).or_default();
                entry.0 += 1;
                let b_from_client = from_client[cb].get(&sig).copied().unwrap_or_default();
                entry.1 += usize::from(b_from_client == a_from_client);
                entry.2 |= sig.2 & TcpFlags::SYN != 0;
            }
        }
        for (cb, (n, same_way, handshake)) in shared {
            if n >= MIN_SHARED || handshake {
                candidates.push((n, ca, cb, same_way * 2 < n));
            }
        }
    }
    candidates.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    let (mut used_a, mut used_b) = (vec![false; convs[0].len()], vec![false; convs[1].len()]);
    let mut pairs = Vec::new();
    for (n, ca, cb, flipped) in candidates {
        if !used_a[ca] && !used_b[cb] {
            (used_a[ca], used_b[cb]) = (true, true);
            pairs.push((ca, cb, flipped, n));
        }
    }
    pairs.sort_unstable();
    pairs
}

/// The median of (second point's time − first point's) over the packets of
/// matched connections that each point saw exactly once.
fn clock_offset(
    points: [&Point; 2],
    convs: &[Vec<Conversation>; 2],
    pairs: &[(usize, usize, bool, usize)],
) -> Option<f64> {
    let mut deltas = Vec::new();
    for &(ca, cb, _, _) in pairs {
        let once = |point: &Point, conv: &Conversation| {
            let mut by: FxHashMap<Signature, (usize, Timestamp)> = FxHashMap::default();
            for &p in &conv.packets {
                let seen = &point.packets[p];
                by.entry(seen.signature()).or_insert((0, seen.at.ts)).0 += 1;
            }
            by
        };
        let (ta, tb) = (once(points[0], &convs[0][ca]), once(points[1], &convs[1][cb]));
        for (sig, (n, t)) in &ta {
            if let Some((1, u)) = tb.get(sig)
                && *n == 1
            {
                deltas.push(u.secs_since(*t));
            }
        }
    }
    deltas.sort_by(f64::total_cmp);
    deltas.get(deltas.len() / 2).copied()
}

/// The highest TTL `end`'s packets arrived with at a point.
fn ttl_of(point: &Point, conv: &Conversation, end: SocketAddr) -> Option<u8> {
    conv.packets.iter().map(|&p| &point.packets[p]).filter(|s| s.src == end).map(|s| s.ttl).max()
}

/// Pairs each packet of one connection's direction seen at both points
/// (the same signature, within [`SAME_PACKET_WITHIN_S`] of each other once
/// the clocks' `offset` is taken out), and returns the runs of packets
/// only one point saw while the other was capturing.
fn find_missing(
    points: [&Point; 2],
    conv: [&Conversation; 2],
    ends: [Ends; 2],
    offset: f64,
    windows: [Option<(Timestamp, Timestamp)>; 2],
) -> Vec<(Between, Missing)> {
    let mut out = Vec::new();
    for from in [0, 1] {
        let sent: [Vec<usize>; 2] = [0, 1]
            .map(|i| conv[i].packets.iter().copied().filter(|&p| points[i].packets[p].src == ends[i][from]).collect());
        // Times at the first point; the second's moved onto its clock.
        let time = |i: usize, p: usize| {
            let ts = points[i].packets[p].at.ts;
            if i == 0 { ts } else { ts.after_secs(-offset) }
        };
        let mut partner: [Vec<Option<usize>>; 2] = [vec![None; sent[0].len()], vec![None; sent[1].len()]];
        let mut by_signature: FxHashMap<Signature, Vec<usize>> = FxHashMap::default();
        for (ib, &pb) in sent[1].iter().enumerate() {
            by_signature.entry(points[1].packets[pb].signature()).or_default().push(ib);
        }
        for (ia, &pa) in sent[0].iter().enumerate() {
            let sig = points[0].packets[pa].signature();
            let t = time(0, pa);
            let nearest = by_signature
                .get(&sig)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&ib| partner[1][ib].is_none())
                .map(|ib| (ib, time(1, sent[1][ib]).secs_since(t).abs()))
                .filter(|&(_, d)| d <= SAME_PACKET_WITHIN_S)
                .min_by(|x, y| x.1.total_cmp(&y.1));
            if let Some((ib, _)) = nearest {
                partner[0][ia] = Some(ib);
                partner[1][ib] = Some(ia);
            }
        }
        // The point nearer the sender sees its packets with the higher TTL:
        // told by the packets both saw (a packet only one saw may be forged,
        // with a TTL of its own), else by the highest each saw.
        let mut votes = [0usize; 2];
        for (ia, ib) in partner[0].iter().enumerate().filter_map(|(ia, ib)| Some((ia, (*ib)?))) {
            let (x, y) = (points[0].packets[sent[0][ia]].ttl, points[1].packets[sent[1][ib]].ttl);
            if x != y {
                votes[usize::from(y > x)] += 1;
            }
        }
        let ttl = [0, 1].map(|i| ttl_of(points[i], conv[i], ends[i][from]));
        let nearer = match (votes, ttl) {
            ([a, b], _) if a > b => Some(0),
            ([a, b], _) if b > a => Some(1),
            ([0, 0], [Some(x), Some(y)]) if x > y => Some(0),
            ([0, 0], [Some(x), Some(y)]) if y > x => Some(1),
            _ => None,
        };
        for seen_at in [0, 1] {
            let other = 1 - seen_at;
            let between = match nearer {
                Some(n) if n == seen_at => Between::Lost,
                Some(_) => Between::Injected,
                None => Between::Unplaced,
            };
            // Only while the other point was capturing: before or after, it could not tell.
            let capturing = |t: Timestamp| {
                windows[other].is_some_and(|(first, last)| {
                    let (first, last) =
                        if other == 0 { (first, last) } else { (first.after_secs(-offset), last.after_secs(-offset)) };
                    t.secs_since(first) >= -SAME_PACKET_WITHIN_S && last.secs_since(t) >= -SAME_PACKET_WITHIN_S
                })
            };
            let mut run: Vec<(Seen, Option<u32>)> = Vec::new();
            let mut train = 0;
            for (i, &p) in sent[seen_at].iter().enumerate() {
                let seen = points[seen_at].packets[p];
                train = if seen.class == PacketClass::KeepaliveProbe { train + 1 } else { 0 };
                let alone = partner[seen_at][i].is_none() && capturing(time(seen_at, p));
                if alone {
                    run.push((seen, (seen.class == PacketClass::KeepaliveProbe).then_some(train)));
                } else if !run.is_empty() {
                    let packets = std::mem::take(&mut run);
                    out.push((between, Missing { from, seen_at, missing_at: other, packets }));
                }
            }
            if !run.is_empty() {
                out.push((between, Missing { from, seen_at, missing_at: other, packets: run }));
            }
        }
    }
    out.sort_by_key(|(_, m)| m.packets[0].0.at.ts);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "10.0.1.2:40050";
    const SERVER: &str = "10.0.2.2:7777";
    /// The client as the server's side of a NAT sees it.
    const NATTED: &str = "10.0.2.1:40050";

    /// A point's packets: (seconds, from the client, flags, seq, ack,
    /// payload, class), with the client at `client`, TTLs as seen there:
    /// `ttl[0]` on the client's packets, `ttl[1]` on the server's.
    fn point(name: &str, client: &str, ttl: [u8; 2], packets: &[(f64, bool, u8, u32, u32, u32, PacketClass)]) -> Point {
        let (c, s): (SocketAddr, SocketAddr) = (client.parse().unwrap(), SERVER.parse().unwrap());
        let mut p = Point::new(name, &format!("{name}.pcap"));
        for (i, &(t, from_client, flags, seq, ack, len, class)) in packets.iter().enumerate() {
            let (src, dst) = if from_client { (c, s) } else { (s, c) };
            p.packets.push(Seen {
                at: PacketRef { frame: i as u64 + 1, ts: Timestamp::from_secs_f64(1000.0 + t) },
                src,
                dst,
                seq: SeqNumber(seq),
                ack: SeqNumber(ack),
                flags: TcpFlags(flags),
                payload_len: len,
                ttl: ttl[usize::from(!from_client)],
                class,
            });
        }
        p
    }

    const SYN: u8 = TcpFlags::SYN;
    const ACK: u8 = TcpFlags::ACK;
    const RST: u8 = TcpFlags::RST;
    use PacketClass as C;

    /// Handshake and one exchange (client ISN 1000, server ISN 5000).
    fn exchange(shift: f64) -> Vec<(f64, bool, u8, u32, u32, u32, PacketClass)> {
        vec![
            (shift, true, SYN, 1000, 0, 0, C::Syn),
            (shift + 0.001, false, SYN | ACK, 5000, 1001, 0, C::SynAck),
            (shift + 0.002, true, ACK, 1001, 5001, 0, C::Ack),
            (shift + 0.003, true, ACK, 1001, 5001, 10, C::Data),
            (shift + 0.004, false, ACK, 5001, 1011, 10, C::Data),
            (shift + 0.005, true, ACK, 1011, 5011, 0, C::Ack),
        ]
    }

    /// The server's three probes and RST, from `shift` s.
    fn probes_and_rst(shift: f64) -> Vec<(f64, bool, u8, u32, u32, u32, PacketClass)> {
        vec![
            (shift + 5.0, false, ACK, 5010, 1011, 0, C::KeepaliveProbe),
            (shift + 8.0, false, ACK, 5010, 1011, 0, C::KeepaliveProbe),
            (shift + 11.0, false, ACK, 5010, 1011, 0, C::KeepaliveProbe),
            (shift + 14.0, false, RST | ACK, 5011, 1011, 0, C::Rst),
        ]
    }

    #[test]
    fn probes_the_server_sent_that_never_reached_the_client_were_lost_between_the_points() {
        // The client's side: handshake and exchange, then later traffic of
        // another connection at 20 s (its capture ran on). The server's
        // side, through a NAT, its clock 2 s ahead: also the probes and RST.
        let mut client_side = exchange(0.0);
        client_side.push((20.0, true, SYN, 777, 0, 0, C::Syn));
        let client = point("client", CLIENT, [64, 63], &client_side);
        let mut server_side = exchange(2.0);
        server_side.extend(probes_and_rst(2.0));
        let server = point("server", NATTED, [63, 64], &server_side);
        let c = compare(&client, &server);
        assert_eq!(c.matched.len(), 1);
        assert_eq!(c.unmatched, [1, 0], "the later SYN, another ISN on the 4-tuple, is another connection");
        let m = &c.matched[0];
        assert_eq!(m.by, MatchedBy::Isn);
        assert_eq!(m.ends[1][0], NATTED.parse().unwrap());
        assert!((c.clock_offset_s.unwrap() - 2.0).abs() < 1e-6);
        assert_eq!(m.missing.len(), 1, "{:?}", m.missing);
        let (between, missing) = &m.missing[0];
        assert_eq!(*between, Between::Lost);
        assert_eq!((missing.from, missing.seen_at, missing.missing_at), (1, 1, 0));
        let frames: Vec<u64> = missing.packets.iter().map(|(p, _)| p.at.frame).collect();
        assert_eq!(frames, [7, 8, 9, 10]);
        let numbers: Vec<Option<u32>> = missing.packets.iter().map(|(_, n)| *n).collect();
        assert_eq!(numbers, [Some(1), Some(2), Some(3), None]);
    }

    #[test]
    fn an_rst_the_server_received_that_the_client_never_sent_was_injected_between_the_points() {
        let client = point(
            "client",
            CLIENT,
            [64, 63],
            &[exchange(0.0), vec![(20.0, true, ACK, 1011, 5011, 0, C::Ack)]].concat(),
        );
        let mut server_side = exchange(0.0);
        server_side.push((5.0, false, ACK, 5010, 1011, 0, C::KeepaliveProbe));
        // The router's RST "from the client", with its own TTL (64: not one hop away).
        server_side.push((5.0001, true, RST, 1011, 0, 0, C::Rst));
        let mut server = point("server", NATTED, [63, 64], &server_side);
        server.packets[7].ttl = 64;
        let c = compare(&client, &server);
        let m = &c.matched[0];
        let kinds: Vec<(Between, usize, u64)> =
            m.missing.iter().map(|(b, x)| (*b, x.seen_at, x.packets[0].0.at.frame)).collect();
        assert_eq!(kinds, [(Between::Lost, 1, 7), (Between::Injected, 1, 8)]);
        // The client's last ACK at 20 s is after the server's capture ended: not claimed.
        assert!(m.missing.iter().all(|(_, x)| x.seen_at == 1));
    }

    #[test]
    fn connections_are_matched_without_their_handshake_by_shared_packets() {
        // Both points started capturing mid-connection; 3 packets in common
        // are enough, 2 are not.
        let tail: Vec<_> = exchange(0.0).into_iter().skip(3).collect();
        let a = point("a", CLIENT, [64, 63], &tail);
        let b = point("b", NATTED, [63, 64], &tail);
        let c = compare(&a, &b);
        assert_eq!(c.matched.len(), 1);
        assert_eq!((c.matched[0].by, c.matched[0].shared), (MatchedBy::Sequence, 3));
        assert!(c.matched[0].missing.is_empty());
        let b = point("b", NATTED, [63, 64], &tail[..2]);
        assert_eq!(compare(&a, &b).matched.len(), 0);
        assert_eq!(compare(&a, &b).unmatched, [1, 1]);
    }

    #[test]
    fn with_equal_ttls_a_packet_seen_at_one_point_only_is_not_placed() {
        // A transparent firewall (a bridge) does not decrement the TTL.
        let client = point(
            "client",
            CLIENT,
            [64, 64],
            &[exchange(0.0), vec![(20.0, true, ACK, 1011, 5011, 0, C::Ack)]].concat(),
        );
        let server = point(
            "server",
            CLIENT,
            [64, 64],
            &[exchange(0.0), probes_and_rst(0.0)[..1].to_vec(), vec![(21.0, true, ACK, 1011, 5011, 1, C::Data)]]
                .concat(),
        );
        let c = compare(&client, &server);
        let m = &c.matched[0];
        assert!(
            m.missing.iter().any(|(b, x)| *b == Between::Unplaced && x.seen_at == 1 && x.packets[0].0.at.frame == 7),
            "{:?}",
            m.missing
        );
    }
}
