//! The flow table: both directions of every TCP connection, their sequence
//! state, and the classification of each segment (keepalive probe, probe
//! ACK, zero-window probe, retransmission, …).
//!
//! A connection is keyed by its VLAN path and its two endpoints. It is
//! handed out (to be judged, reported and dropped) when it has been closed
//! or reset and stayed quiet for [`LINGER_SECS`], when its 4-tuple is reused
//! by a new SYN, or when the capture ends.
//!
//! Memory is bounded by design: a connection that never finishes must not
//! stay forever. One the capture never shows established both ways
//! ([`Unreplied`]: a SYN nobody answered, as in a scan; or only one side
//! ever heard from, as in a one-way capture) is handed out once quiet for
//! its idle limit ([`Unreplied::idle_limit_secs`]), and at most
//! [`MAX_UNREPLIED`] of them are held at once: beyond that the least
//! recently active one is handed out early and counted
//! ([`FlowTable::unreplied_evicted`]), as the kernel counts what its full SYN
//! backlog drops. Either way [`Connection::dropped`] says why and when.

use crate::decode::{EndsHash, Segment, VlanPath};
use crate::seq::SeqNumber;
use crate::time::{MinMax, Timestamp};
use serde::Serialize;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use thin_vec::ThinVec;

/// How long a closed or reset connection stays in the table, in capture
/// time, so that stray packets after the close (a second RST, a retransmitted
/// FIN) are still counted with it.
pub const LINGER_SECS: f64 = 10.0;
/// Longer while a side's FIN (or data) is still unacknowledged: its sender
/// keeps retransmitting with backoff, and Linux gives up on an orphaned FIN
/// only after tcp_orphan_retries (8 by default: a couple of minutes).
pub const LINGER_UNACKED_SECS: f64 = 150.0;

/// A connection whose handshake never completed is handed out after this
/// long without a packet, in capture time. The client has given up by then:
/// Linux retransmits a SYN `tcp_syn_retries` (6) times with the RTO doubling
/// from 1 s (RFC 6298 §2.1 and §5.5) and gives up after 1+2+…+64 = 127 s
/// (`tcp_write_timeout` → `retransmits_timed_out` in net/ipv4/tcp_timer.c);
/// Windows after 21 s (2 retries from 3 s), macOS after 75 s; a server's
/// SYN-ACKs end after 63 s (`tcp_synack_retries` = 5). Whatever the retry
/// count, no retransmission waits longer than `TCP_RTO_MAX` (120 s,
/// include/net/tcp.h), so a client still trying is never split.
pub const HANDSHAKE_IDLE_SECS: f64 = 127.0;
/// A connection only one side of which was ever heard from (a one-way
/// capture, a peer that never answers) is handed out after this long
/// without a packet. 7200 s is the default keepalive idle of Linux,
/// Windows and macOS, and Linux gives a silent peer 9 probes 75 s apart
/// (`tcp_keepalive_probes`, `tcp_keepalive_intvl`): a side quiet for longer
/// sends no default keepalive, so a one-way capture's probes and their
/// answers still fall within one connection.
pub const ONE_WAY_IDLE_SECS: f64 = 7200.0 + 9.0 * 75.0;
/// At most this many [`Unreplied`] connections are held at once (about 1 KiB
/// each). A scan or a SYN flood goes beyond: the least recently active is
/// then handed out early, and counted. Linux keeps at most
/// `tcp_max_syn_backlog` (up to 4096 by default) requests per listener and
/// counts what a full backlog drops (`TcpExtListenDrops`); netfilter's
/// conntrack, when full, drops an entry that never saw a reply first
/// (`early_drop`). This is four times the backlog, for every host of the capture.
pub const MAX_UNREPLIED: usize = 16_384;

/// At most this many probes of one train are kept as evidence; the counts
/// stay exact beyond it.
const MAX_PROBES_KEPT: usize = 32;
/// At most this many retransmission times are kept per unacknowledged run.
const MAX_RETRANSMISSIONS_KEPT: usize = 32;
/// A message of at most this many bytes may be an application heartbeat.
pub const HEARTBEAT_MAX_BYTES: u32 = 100;
/// At most this many gaps between small messages are kept per side.
const MAX_HEARTBEAT_GAPS: usize = 64;

/// A packet by its place in the capture: what a person types into Wireshark's "Go to packet".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketRef {
    /// 1-based frame number in file order, as Wireshark numbers it.
    pub frame: u64,
    pub ts: Timestamp,
}

/// A packet, or none: an `Option<PacketRef>` in 16 bytes instead of 24.
/// Frame numbers start at 1 (Wireshark's), so frame 0 stands for none. The
/// evidence a connection keeps (probes, answers, RSTs) holds many of these,
/// and memory grows with the connections open at once (the table's own
/// record keeps its packets in 8 bytes each: `record::CompactRef`).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct MaybePacket {
    frame: u64,
    ts: Timestamp,
}

impl MaybePacket {
    pub const NONE: MaybePacket = MaybePacket { frame: 0, ts: Timestamp(0) };

    pub fn get(self) -> Option<PacketRef> {
        (self.frame != 0).then_some(PacketRef { frame: self.frame, ts: self.ts })
    }
    pub fn is_some(self) -> bool {
        self.frame != 0
    }
    pub fn is_none(self) -> bool {
        self.frame == 0
    }
    fn set(&mut self, p: PacketRef) {
        debug_assert!(p.frame != 0, "frame numbers start at 1");
        *self = MaybePacket { frame: p.frame, ts: p.ts };
    }
    /// Keeps the packet already there, if any.
    fn set_first(&mut self, p: PacketRef) {
        if self.is_none() {
            self.set(p);
        }
    }
}

impl From<Option<PacketRef>> for MaybePacket {
    fn from(p: Option<PacketRef>) -> MaybePacket {
        p.map_or(MaybePacket::NONE, |p| MaybePacket { frame: p.frame, ts: p.ts })
    }
}

impl std::fmt::Debug for MaybePacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// What one segment was, in the context of its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketClass {
    Syn,
    SynAck,
    Data,
    /// A segment without payload that only acknowledges (or updates the window).
    Ack,
    KeepaliveProbe,
    KeepaliveAck,
    ZeroWindowProbe,
    Retransmission,
    Fin,
    Rst,
    /// A 0- or 1-byte segment that may be a keepalive probe, held until the
    /// peer's answer tells (the capture started in the middle of an idle period).
    Undecided,
    /// A copy of a packet captured shortly before ([`crate::duplicates`]):
    /// not analysed. The flow table never returns it; the pipeline does.
    Duplicate,
}

impl PacketClass {
    /// What Wireshark's TCP analysis calls a segment of this class (its
    /// expert info, `tcp.analysis.*`), when it names it; the others are
    /// told by their flags and length. A copy and a held segment are
    /// tcpka's own: Wireshark has no word for them.
    pub fn wireshark_words(self) -> Option<&'static str> {
        match self {
            PacketClass::KeepaliveProbe => Some("TCP Keep-Alive"),
            PacketClass::KeepaliveAck => Some("TCP Keep-Alive ACK"),
            PacketClass::ZeroWindowProbe => Some("TCP ZeroWindowProbe"),
            PacketClass::Retransmission => Some("TCP Retransmission"),
            PacketClass::Undecided => Some("Keep-Alive? held until the peer answers"),
            PacketClass::Duplicate => Some("copy of an earlier frame, not analysed"),
            PacketClass::Syn
            | PacketClass::SynAck
            | PacketClass::Data
            | PacketClass::Ack
            | PacketClass::Fin
            | PacketClass::Rst => None,
        }
    }
}

/// Which end of the connection: index into [`Connection::sides`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client = 0,
    Server = 1,
}

impl Side {
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How the client was told from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleSource {
    /// The client sent the SYN (or the server the SYN-ACK).
    Handshake,
    /// The capture started mid-stream: the server is the side on the lower,
    /// well-known or non-ephemeral port (as Wireshark guesses).
    PortHeuristic,
}

/// One keepalive probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub at: PacketRef,
    pub seq: SeqNumber,
    /// 0 (Linux, BSD, macOS) or 1 (Windows and some embedded stacks).
    pub len: u8,
    /// The peer's first packet after the probe, if any.
    answer: MaybePacket,
    /// That packet was a RST: the peer no longer knew the connection. (One
    /// answer and a flag, where two packets took 16 bytes more a probe.)
    answer_is_rst: bool,
}

impl Probe {
    /// A probe nobody has answered yet.
    pub fn new(at: PacketRef, seq: SeqNumber, len: u8) -> Probe {
        Probe { at, seq, len, answer: MaybePacket::NONE, answer_is_rst: false }
    }
    /// The peer's first packet after the probe, if any and not a RST.
    pub fn answered_by(&self) -> MaybePacket {
        if self.answer_is_rst { MaybePacket::NONE } else { self.answer }
    }
    /// The peer's RST that answered the probe, if it was one.
    pub fn reset_by(&self) -> MaybePacket {
        if self.answer_is_rst { self.answer } else { MaybePacket::NONE }
    }
}

/// Probes in a row: each after the first was sent because the one before went unanswered.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Train {
    /// The last packet the prober received before the first probe (Linux
    /// measures the keepalive idle time from it); None when the capture does not show it.
    pub idle_from: MaybePacket,
    pub probes: Vec<Probe>,
    /// Number of probes, even beyond those kept in `probes`.
    pub count: u32,
}

impl Train {
    /// True when no probe of the train has been answered (or reset) yet.
    pub fn unanswered(&self) -> bool {
        self.probes.last().is_some_and(|p| p.answer.is_none())
    }
}

/// Everything one side's keepalive probes showed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeepaliveLog {
    pub probes_sent: u32,
    pub probes_answered: u32,
    pub one_byte_probes: u32,
    /// Observed idle times (last packet received → first probe of a train), seconds.
    pub idle_observed: MinMax,
    /// Observed gaps between an unanswered probe and the next probe, seconds.
    pub interval_observed: MinMax,
    /// Most probes seen in one train.
    pub longest_train: u32,
    /// The first probe the side sent.
    pub first_probe: MaybePacket,
    /// The latest train, the one that matters for how the connection ended.
    pub train: Train,
    /// The longest silence after one of these probes was answered in which
    /// this side sent no probe while its socket stayed open (see
    /// [`UnprobedSilence`]): none until both packets are set. Two packets
    /// that may be none take 32 bytes where an `Option<UnprobedSilence>`
    /// took 40 (every prober open at once keeps a log, issue 14).
    unprobed: Watch,
}

impl KeepaliveLog {
    /// The longest silence after one of these probes was answered in which
    /// this side sent no probe while its socket stayed open (see
    /// [`UnprobedSilence`]).
    pub fn unprobed_after_answer(&self) -> Option<UnprobedSilence> {
        match self.unprobed.get() {
            SilenceWatch::Ended(silence) => Some(silence),
            SilenceWatch::Off | SilenceWatch::Since(_) => None,
        }
    }
}

/// A silence that followed an answered keepalive probe, with no probe from
/// the prober in it, although its socket stayed open (it sent something
/// other than a probe or a RST after it): from the answer to the
/// connection's next packet. A keepalive timer would have probed in it:
/// Linux `tcp_keepalive_timer` (net/ipv4/tcp_timer.c) re-arms after every
/// probe, for the idle counted from the last packet received (the answer),
/// while nothing is in flight; BSD `tcp_timer_keep` and Windows the same.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnprobedSilence {
    /// The peer's answer to the probe.
    pub answer: PacketRef,
    /// The connection's next packet.
    pub until: PacketRef,
}

impl UnprobedSilence {
    pub fn secs(&self) -> f64 {
        self.until.ts.secs_since(self.answer.ts)
    }
}

/// Where the measure of the silence after an answered probe stands (as
/// [`Watch`] keeps it).
enum SilenceWatch {
    Off,
    /// The probe was answered by this packet, and nothing came since.
    Since(PacketRef),
    /// The peer's next packet ended it: counted once the prober sends
    /// anything but a RST (its socket was open throughout).
    Ended(UnprobedSilence),
}

/// A [`SilenceWatch`] in 32 bytes: the answer, then the packet that ended
/// the silence, each none until there is one. The enum took 40, and made
/// the keepalive log 208 bytes, a 224-byte block of the allocator where
/// 200 take 208: one for each prober open at once (issue 14: ~50,000 at
/// 200,000 open on the benchmark's capture).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Watch {
    answer: MaybePacket,
    until: MaybePacket,
}

impl Watch {
    const OFF: Watch = Watch { answer: MaybePacket::NONE, until: MaybePacket::NONE };

    fn ended(silence: UnprobedSilence) -> Watch {
        Watch { answer: Some(silence.answer).into(), until: Some(silence.until).into() }
    }

    fn get(self) -> SilenceWatch {
        match (self.answer.get(), self.until.get()) {
            (None, _) => SilenceWatch::Off,
            (Some(answer), None) => SilenceWatch::Since(answer),
            (Some(answer), Some(until)) => SilenceWatch::Ended(UnprobedSilence { answer, until }),
        }
    }
}

/// Small messages one side sent (candidate application heartbeats).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SmallMessages {
    pub count: u32,
    pub first: MaybePacket,
    /// When the latest was sent (meaningless while `count` is 0).
    last: Timestamp,
    /// Gaps between consecutive small messages (the first ones kept), seconds.
    pub gaps: ThinVec<f32>,
}

/// Data sent and not acknowledged, and its retransmissions.
#[derive(Clone, Debug, PartialEq)]
pub struct RetransmissionRun {
    /// The first transmission of the oldest unacknowledged segment.
    pub first_sent: PacketRef,
    /// How long the connection had been silent before that first transmission.
    pub idle_before_s: f64,
    /// Where the oldest unacknowledged data starts (SND.UNA): retransmissions start here.
    pub seq: SeqNumber,
    /// Times of the retransmissions of that segment (the backoff series).
    pub retransmissions: Vec<PacketRef>,
    pub count: u32,
    /// The packet since which the peer has said nothing for the run to be
    /// a silent path: its first transmission, or the peer's partial ACK
    /// that made this segment the oldest unacknowledged one.
    pub since: PacketRef,
    /// Segments sent after this one and not yet acknowledged, oldest first
    /// (the first [`MAX_IN_FLIGHT_KEPT`]), so that a partial ACK can move
    /// the run to the segment it stops in, with its first transmission.
    in_flight: VecDeque<InFlight>,
    /// Where the first segment not kept in `in_flight` starts, once it is full.
    not_kept_from: Option<SeqNumber>,
}

/// A segment in flight after the oldest unacknowledged one.
#[derive(Clone, Copy, Debug, PartialEq)]
struct InFlight {
    seq: SeqNumber,
    first_sent: PacketRef,
    idle_before_s: f64,
}

/// At most this many segments in flight are kept per run, to place a
/// partial ACK; one beyond them leaves the run to start again at the next
/// retransmission.
const MAX_IN_FLIGHT_KEPT: usize = 32;

/// The spell of a closed (zero) window this side advertised and still advertises.
#[derive(Clone, Debug, PartialEq)]
pub struct ZeroWindowSpell {
    /// The first packet of the spell that advertised the zero window.
    pub since: PacketRef,
    /// The peer's zero-window probes during the spell (the first ones kept).
    pub probes: Vec<PacketRef>,
    /// Every probe, even beyond those kept.
    pub probe_count: u32,
}

/// At most this many zero-window probes are kept per spell; the count stays exact.
const MAX_ZERO_WINDOW_PROBES_KEPT: usize = 32;

/// One direction of a connection, named by its sender, as the flow table
/// hands it out. The table keeps it compact while the connection is held
/// (`record::FlowSide`: the packets as offsets, the rare counters boxed);
/// the rarely used logs are boxed in both.
#[derive(Clone, Debug)]
pub struct HalfConnection {
    addr: Endpoint,
    pub seq: SequenceState,
    pub counts: Counters,
    pub marks: Marks,
    /// What this side's keepalive probes showed, if it sent any.
    keepalive: Option<Box<KeepaliveLog>>,
    /// Unacknowledged data and its retransmissions, while there is some.
    pub unacked: Option<Box<RetransmissionRun>>,
    /// The small messages this side sent (none: a count of 0). Not boxed:
    /// a handed-out connection lives only while it is judged.
    small_messages: SmallMessages,
}

/// A side's address and port in 20 bytes, where a `SocketAddr` takes 32:
/// its IPv6 form has room for a flow label and a scope id, which a packet's
/// addresses never carry (`decode` makes them with `SocketAddr::new`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Endpoint {
    ip: IpAddr,
    port: u16,
}

impl Endpoint {
    fn of(a: SocketAddr) -> Endpoint {
        Endpoint { ip: a.ip(), port: a.port() }
    }
    fn get(self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }
}

/// Where this side is in its sequence space (hot): 16 bytes, the four
/// options' presence in one byte.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct SequenceState {
    isn: SeqNumber,
    next_seq: SeqNumber,
    max_ack_sent: SeqNumber,
    window: u16,
    /// Which of the above are known: the `KNOWN_*` bits.
    known: u8,
}

const KNOWN_ISN: u8 = 1;
const KNOWN_NEXT_SEQ: u8 = 2;
const KNOWN_MAX_ACK: u8 = 4;
const KNOWN_WINDOW: u8 = 8;

impl SequenceState {
    fn known<T>(&self, bit: u8, value: T) -> Option<T> {
        (self.known & bit != 0).then_some(value)
    }
    /// The sequence number of this side's SYN.
    pub fn isn(&self) -> Option<SeqNumber> {
        self.known(KNOWN_ISN, self.isn)
    }
    /// One past the highest sequence number sent (SYN and FIN count one).
    pub fn next_seq(&self) -> Option<SeqNumber> {
        self.known(KNOWN_NEXT_SEQ, self.next_seq)
    }
    /// The highest acknowledgment number sent: how much of the peer's data this side has.
    pub fn max_ack_sent(&self) -> Option<SeqNumber> {
        self.known(KNOWN_MAX_ACK, self.max_ack_sent)
    }
    /// The window this side advertised in its latest non-RST segment.
    pub fn window(&self) -> Option<u16> {
        self.known(KNOWN_WINDOW, self.window)
    }
    fn set_isn_once(&mut self, isn: SeqNumber) {
        if self.known & KNOWN_ISN == 0 {
            self.isn = isn;
            self.known |= KNOWN_ISN;
        }
    }
    /// Sequence space up to `end` was sent.
    fn sent_up_to(&mut self, end: SeqNumber) {
        self.next_seq = self.next_seq().map_or(end, |n| n.max(end));
        self.known |= KNOWN_NEXT_SEQ;
    }
    fn acknowledged(&mut self, ack: SeqNumber) {
        self.max_ack_sent = self.max_ack_sent().map_or(ack, |a| a.max(ack));
        self.known |= KNOWN_MAX_ACK;
    }
    /// What was sent is unknown again (a FIN that was not this side's, see `apply`).
    fn forget_next_seq(&mut self) {
        self.known &= !KNOWN_NEXT_SEQ;
    }
    fn set_window(&mut self, window: u16) {
        self.window = window;
        self.known |= KNOWN_WINDOW;
    }
}

impl std::fmt::Debug for SequenceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequenceState")
            .field("isn", &self.isn())
            .field("next_seq", &self.next_seq())
            .field("max_ack_sent", &self.max_ack_sent())
            .field("window", &self.window())
            .finish()
    }
}

/// What this side sent, counted (hot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub retransmissions: u32,
    pub zero_window_probes: u32,
}

/// Notable packets this side sent, and what they carried.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marks {
    /// The latest packet (hot: it is the "last heard from" of keepalive idle times).
    pub last_sent: MaybePacket,
    /// The latest packet that was not a keepalive or zero-window probe (hot:
    /// the peer's keepalive idle runs from it; see [`idle_start`]).
    pub last_traffic: MaybePacket,
    /// The last segment with payload this side sent.
    pub last_payload: MaybePacket,
    pub syn: MaybePacket,
    pub fin: MaybePacket,
    /// What few sides ever send or advertise, made when first needed: one
    /// pointer where its four parts took four (memory grows with the
    /// connections open at once, and most never have any of them).
    pub(crate) rare: Option<Box<RareMarks>>,
    /// TTL / hop limit of this side's first and latest segments that were
    /// not RSTs (one field: both are set by the first, and a connection's
    /// state must stay small, see `connection_state_stays_small`).
    pub ttl: Option<Ttls>,
    /// IPv4 identification of this side's latest segment that was not a RST.
    pub last_ip_id: Option<u16>,
    /// The SYN carried the timestamp option (RFC 7323).
    pub syn_timestamps: bool,
}

/// The parts of a side's [`Marks`] that few sides ever have.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RareMarks {
    /// This side's SYNs (or SYN-ACKs) after the first: most handshakes send one.
    syn_repeats: Option<Box<SynRepeats>>,
    /// This side's first RST: at most one per side, and most connections end without one.
    rst: Option<Box<ResetMark>>,
    /// A RST in this side's name after which this side went on talking on
    /// the connection: it did not end it (see [`IgnoredReset`]).
    ignored_rst: Option<Box<IgnoredReset>>,
    /// The zero window this side advertises, while it does.
    zero_window: Option<Box<ZeroWindowSpell>>,
    /// This side's retransmissions and zero-window probes, counted here
    /// while the flow table holds the connection (most send neither);
    /// [`Counters`] has them once it is handed out.
    retransmissions: u32,
    zero_window_probes: u32,
    /// How many times this side's packet count wrapped past 2^24 while the
    /// flow table held the connection (its record counts in 24 bits).
    packets_wrapped: u32,
    /// The high 32 bits of the connection's id, on its client side, when
    /// they are not 0 (the record keeps the low 32: `record::Flow::id`).
    id_high: u32,
    /// Small messages this side sent after those whose gaps the flow table
    /// keeps (`MAX_HEARTBEAT_GAPS`), modulo 2^32, while it held the
    /// connection (its record counts the others by their gaps).
    small_beyond: u32,
}

impl RareMarks {
    fn is_empty(&self) -> bool {
        self.syn_repeats.is_none()
            && self.rst.is_none()
            && self.ignored_rst.is_none()
            && self.zero_window.is_none()
            && self.retransmissions == 0
            && self.zero_window_probes == 0
            && self.packets_wrapped == 0
            && self.id_high == 0
            && self.small_beyond == 0
    }
}

impl Marks {
    fn rare(&self) -> Option<&RareMarks> {
        self.rare.as_deref()
    }

    /// This side's first RST and what it showed, if it sent one.
    pub fn reset(&self) -> Option<&ResetMark> {
        self.rare()?.rst.as_deref()
    }

    /// A RST in this side's name that it went on after, if there was one.
    pub fn ignored_reset(&self) -> Option<&IgnoredReset> {
        self.rare()?.ignored_rst.as_deref()
    }

    /// This side's first RST, if it sent one.
    pub fn rst_at(&self) -> Option<PacketRef> {
        self.reset().map(|r| r.at)
    }

    /// These marks with this RST as the side's first (tests of the verdict rules).
    #[cfg(test)]
    pub(crate) fn with_reset(mut self, rst: ResetMark) -> Marks {
        self.rare.get_or_insert_with(Default::default).rst = Some(Box::new(rst));
        self
    }

    /// TTL / hop limit of this side's first segment that was not a RST, to
    /// tell its packets from forged ones and guess its OS.
    pub fn first_ttl(&self) -> Option<u8> {
        self.ttl.map(|t| t.first)
    }

    /// TTL / hop limit of this side's latest segment that was not a RST:
    /// the genuine packets nearest a RST.
    pub fn last_ttl(&self) -> Option<u8> {
        self.ttl.map(|t| t.last)
    }
}

/// The TTLs (hop limits) of a side's segments that were not RSTs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ttls {
    pub first: u8,
    pub last: u8,
}

impl Ttls {
    /// A side heard from once, with `ttl`.
    pub fn of(ttl: u8) -> Ttls {
        Ttls { first: ttl, last: ttl }
    }
}

/// A side's SYN (or SYN-ACK) sent again: the handshake's retransmissions,
/// each after the retransmission timer doubled (RFC 6298 §5.5).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SynRepeats {
    /// How many, even beyond those kept.
    pub count: u32,
    /// The first [`MAX_RETRANSMISSIONS_KEPT`] of them.
    pub kept: Vec<PacketRef>,
}

impl Marks {
    /// Every SYN (or SYN-ACK) this side sent that is kept, the first one first.
    pub fn syns(&self) -> Vec<PacketRef> {
        let mut all: Vec<PacketRef> = self.syn.get().into_iter().collect();
        all.extend(self.rare().and_then(|r| r.syn_repeats.as_deref()).iter().flat_map(|r| r.kept.iter().copied()));
        all
    }

    /// How many SYNs (or SYN-ACKs) this side sent.
    pub fn syn_count(&self) -> u32 {
        u32::from(self.syn.is_some()) + self.rare().and_then(|r| r.syn_repeats.as_deref()).map_or(0, |r| r.count)
    }
}

/// A RST that did not end the connection: after it, its supposed sender
/// went on with the connection (a SYN-ACK for the peer's SYN, or new data,
/// a FIN or an acknowledgment, in its own sequence space and with its own
/// TTL). A host that sends a RST has dropped the connection (RFC 9293
/// §3.10.7.4), so the RST came from someone else: injected by a middlebox
/// racing the real host (Weaver, Sommer and Paxson, "Detecting Forged TCP
/// Reset Packets", NDSS 2009; Suricata's `suspected_rst_inject`) — when the
/// wire shows a forgery or the receiver carried on too; the verdict
/// decides (`verdict::judge`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IgnoredReset {
    pub rst: ResetMark,
    /// The sender's packet that showed it was still there.
    pub continued_by: PacketRef,
    /// Its TTL: the real host's.
    pub host_ttl: u8,
}

/// This side's first RST and what tells a forged or stateless one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResetMark {
    pub at: PacketRef,
    pub ttl: u8,
    /// The RST's IPv4 identification and sequence number; its
    /// acknowledgment number is [`ResetMark::ack`].
    pub ip_id: Option<u16>,
    pub seq: SeqNumber,
    /// The RST's acknowledgment number, if it has the ACK flag
    /// ([`ResetMark::ack`]), and the peer's SYN's sequence number, if it
    /// was seen ([`ResetMark::peer_syn_seq`]): each a number and a flag
    /// where an `Option<SeqNumber>` took 8 bytes, so that the mark is 120
    /// bytes, a 128-byte block of glibc's malloc where 144 took 160 (a
    /// side that sent a RST keeps it while the table holds the
    /// connection, issue 14; see `a_reset_mark_takes_a_128_byte_block`).
    pub(crate) ack_number: SeqNumber,
    pub(crate) has_ack: bool,
    pub(crate) peer_syn_number: SeqNumber,
    pub(crate) has_peer_syn: bool,
    /// The sender's genuine packet nearest before the RST: its TTL and IP
    /// ID (None: the RST was the sender's first packet).
    pub sender_ttl_before: Option<u8>,
    pub sender_ip_id_before: Option<u16>,
    /// The IP ID of the peer's latest packet before the RST (an injector
    /// that copies the packet it reacts to copies that).
    pub peer_ip_id_before: Option<u16>,
    /// The last data each side had sent before the RST (later data cannot
    /// be what the RST's sender left unread).
    pub peer_payload_before: MaybePacket,
    pub sender_payload_before: MaybePacket,
    pub has_timestamp: bool,
    /// Silence before the RST or before the packet it answered, whichever was longer (s).
    pub idle_before_s: f64,
    /// The connection's packet before the RST: the one it answered, if any
    /// (the RST itself when it was the first).
    pub follows: PacketRef,
    /// Whether it has the shape of a host's answer to the peer's packet just
    /// before it when that host has no connection for it.
    pub reply: RstReply,
    /// The peer's first packet after it that was not a RST: the receiver
    /// carried on with the connection (see [`IgnoredReset`]).
    pub receiver_went_on: MaybePacket,
    /// It acknowledges less than the peer had sent by then: the peer's
    /// later data was still on its way to the RST's sender.
    pub peer_data_in_flight: bool,
}

impl ResetMark {
    /// The RST's acknowledgment number (None: no ACK flag).
    pub fn ack(&self) -> Option<SeqNumber> {
        self.has_ack.then_some(self.ack_number)
    }

    /// The peer's SYN's sequence number: the RST's acknowledgment number,
    /// if it answered the SYN, is one past (None: no SYN of the peer seen).
    pub fn peer_syn_seq(&self) -> Option<SeqNumber> {
        self.has_peer_syn.then_some(self.peer_syn_number)
    }
}

/// A SYN that retries, with the same initial sequence number, the client's
/// SYN that the server refused (its only packets were RSTs): the same
/// connection attempt, not a new connection. Windows does this: connect()
/// to a port that answers RST resends the SYN after 0.5 s, twice, before it
/// fails (nDPI rtsp.pcap: SYN 289 refused by 293, SYN 297 with the same
/// ISN 0.5 s later, accepted by SYN-ACK 301).
fn retries_a_refused_syn(conn: &Flow, from: Side, seg: &Segment) -> bool {
    let [client, server] = &conn.sides;
    from == Side::Client && client.seq.isn() == Some(seg.seq) && server.refused_only()
}

/// The shape of a RST, read against the peer's packet just before it.
///
/// A host with no connection for a segment (nothing listening, a socket
/// gone) answers it at once in a shape the segment fixes (RFC 9293
/// §3.10.7.1, "If the connection does not exist (CLOSED) ... a reset is
/// sent"; Linux `tcp_v4_send_reset`, Windows and the BSDs alike):
/// `<SEQ=SEG.ACK><CTL=RST>` to a segment with ACK, and
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>` to one without; with no
/// receive buffer behind it, its window is 0 (Linux builds the reply from
/// a zeroed header; BSD `tcp_respond` without a tcpcb sends win 0). A live
/// socket that aborts sends RST,ACK in its own numbers (Linux
/// `tcp_send_active_reset`: `TCPHDR_ACK | TCPHDR_RST`), and a BSD one its
/// receive window (zeek fin_retransmission.pcap, RST 5: window 8201).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RstReply {
    /// It followed the sender's own packet (or none): it answers nothing.
    #[default]
    Unprompted,
    /// It followed the peer's packet, but not in the shape of a no-socket
    /// answer, or not promptly.
    AfterPeer,
    /// No ACK flag, window 0, its sequence number the acknowledgment number
    /// of the peer's segment it follows promptly.
    ToAcked,
    /// RST,ACK with window 0 acknowledging exactly the peer's segment it
    /// follows promptly, from a peer that never sent an ACK: a SYN, or a FIN,
    /// NULL or Xmas scan probe.
    ToUnacked,
}

/// Keepalive probing by one side: nothing (no probe seen, nothing held
/// back, and the side's latest packet is its latest traffic), or what
/// there is, boxed: most connections never probe, and the box costs a
/// connection 8 bytes where the enum inline cost 16.
#[derive(Clone, Debug, Default)]
struct ProbeState(Option<Box<Probing>>);

/// What a side that probes, or has held back or probed since its latest
/// traffic, keeps: the probe log or the held segment, and the two packets
/// the table reads only while such a side's latest packets are probes or
/// its watch is on. Kept compact ([`CompactRef`]s against the connection's
/// origin) while the table holds the connection; a handed-out side's are
/// never read (its `HalfConnection` reads the log only).
#[derive(Debug)]
struct Probing {
    /// The side's latest packet that was not a keepalive or zero-window
    /// probe nor held back (none: it sent none), while its latest packets
    /// are (`record::FlowSide::last_traffic`). Every other time its latest
    /// traffic is its latest packet, which the record keeps: the record kept
    /// both in 8 bytes each (issue 14: 264 → 248 bytes a connection).
    traffic: CompactRef,
    /// The packet that ended the silence after the latest answer, while it
    /// is being measured (the side's watch is on: `record::FlowSide::watching`);
    /// none while it goes on. The answer it began with is the latest
    /// probe's: a probe answered turns the watch on, and the prober's next
    /// packet turns it off before it can record another probe. Here, 8
    /// bytes, where the log kept it in 16 (the box would have been 176
    /// bytes with `traffic`, a 192-byte block of glibc's malloc where 168
    /// take 176: one for each prober open at once, issue 14).
    watch_until: CompactRef,
    kind: ProbeKind,
}

/// `Held` leads to `TrafficOnly` (the segment was ordinary) or `Probes` (it
/// was a probe); a side that has probed keeps its log. A segment is only
/// held while nothing else is known of the connection, so a side that
/// probes never holds one.
#[derive(Clone, Debug)]
enum ProbeKind {
    /// Nothing held, no probe: the box keeps the side's latest traffic
    /// only (its latest packets are zero-window probes, or a held segment
    /// that turned out ordinary). It goes with the side's next traffic.
    TrafficOnly,
    /// A 0/1-byte segment that may be a probe, waiting for the peer's answer
    /// or this side's next segment.
    Held(HeldSegment),
    /// The side has sent probes.
    Probes(ProbeLog),
}

impl Clone for Probing {
    /// A copy, its references valid against a copy of the same origin
    /// (`record::FlowSide::duplicate`).
    fn clone(&self) -> Probing {
        Probing {
            traffic: self.traffic.duplicate(),
            watch_until: self.watch_until.duplicate(),
            kind: self.kind.clone(),
        }
    }
}

impl Probing {
    fn new(kind: ProbeKind) -> Box<Probing> {
        Box::new(Probing { traffic: CompactRef::NONE, watch_until: CompactRef::NONE, kind })
    }
}

/// A segment held back until it is known whether it was a probe.
#[derive(Clone, Copy, Debug)]
struct HeldSegment {
    at: PacketRef,
    seq: SeqNumber,
    ack: SeqNumber,
    len: u8,
}

impl ProbeState {
    fn held(&self) -> Option<&HeldSegment> {
        match self.0.as_deref().map(|p| &p.kind) {
            Some(ProbeKind::Held(h)) => Some(h),
            _ => None,
        }
    }

    /// Holds `segment` (only a side with nothing else in its box holds one).
    fn hold(&mut self, segment: HeldSegment) {
        match self.0.as_deref_mut() {
            Some(p) => p.kind = ProbeKind::Held(segment),
            None => self.0 = Some(Probing::new(ProbeKind::Held(segment))),
        }
    }

    /// Settles a held segment: nothing is then held (a probe is then
    /// recorded on top). The box stays: it keeps the side's latest traffic,
    /// the held segment being its latest packet.
    fn take_held(&mut self) -> Option<HeldSegment> {
        let held = self.held().copied();
        if let Some(p) = self.0.as_deref_mut().filter(|_| held.is_some()) {
            p.kind = ProbeKind::TrafficOnly;
        }
        held
    }

    fn log(&self) -> Option<&ProbeLog> {
        match self.0.as_deref().map(|p| &p.kind) {
            Some(ProbeKind::Probes(log)) => Some(log),
            _ => None,
        }
    }

    /// The log, for the side handed out.
    fn into_log(self) -> Option<ProbeLog> {
        match self.0.map(|p| p.kind) {
            Some(ProbeKind::Probes(log)) => Some(log),
            _ => None,
        }
    }

    /// The log and where the silence after its latest answer ended.
    fn log_mut(&mut self) -> Option<(&mut ProbeLog, &mut CompactRef)> {
        match self.0.as_deref_mut() {
            Some(Probing { kind: ProbeKind::Probes(log), watch_until, .. }) => Some((log, watch_until)),
            _ => None,
        }
    }

    /// The log, started with this side's first probe.
    fn start_probing(&mut self) -> &mut ProbeLog {
        let p = self.0.get_or_insert_with(|| Probing::new(ProbeKind::TrafficOnly));
        if !matches!(p.kind, ProbeKind::Probes(_)) {
            p.kind = ProbeKind::Probes(ProbeLog::default());
        }
        match &mut p.kind {
            ProbeKind::Probes(log) => log,
            _ => unreachable!("just set"),
        }
    }

    /// The side's latest traffic while its latest packets are probes (see
    /// [`Probing::traffic`]).
    fn traffic(&self) -> Option<&CompactRef> {
        self.0.as_deref().map(|p| &p.traffic)
    }

    /// Where the side's latest traffic is kept once it probes: its box,
    /// made if it has none.
    fn traffic_mut(&mut self) -> &mut CompactRef {
        &mut self.0.get_or_insert_with(|| Probing::new(ProbeKind::TrafficOnly)).traffic
    }

    /// The side sent traffic again: a box that kept only its latest traffic
    /// goes, unless that traffic took a slot of the origin (a reference
    /// keeps its slot: a box made again for each spell would take one each).
    fn traffic_again(&mut self) {
        if self.0.as_deref().is_some_and(|p| matches!(p.kind, ProbeKind::TrafficOnly) && !p.traffic.in_slot()) {
            self.0 = None;
        }
    }
}

static NO_PROBES: KeepaliveLog = KeepaliveLog {
    probes_sent: 0,
    probes_answered: 0,
    one_byte_probes: 0,
    idle_observed: MinMax::EMPTY,
    interval_observed: MinMax::EMPTY,
    longest_train: 0,
    first_probe: MaybePacket::NONE,
    train: Train { idle_from: MaybePacket::NONE, probes: Vec::new(), count: 0 },
    unprobed: Watch::OFF,
};

impl HalfConnection {
    /// This side's address and port.
    pub fn addr(&self) -> SocketAddr {
        self.addr.get()
    }

    /// Moves this side to another port (tests that make one connection many).
    #[cfg(test)]
    pub(crate) fn set_port(&mut self, port: u16) {
        self.addr.port = port;
    }

    /// Moves this side to another address (tests of hosts on one machine).
    #[cfg(test)]
    pub(crate) fn set_ip(&mut self, ip: std::net::IpAddr) {
        self.addr.ip = ip;
    }

    /// What this side's keepalive probes showed (empty when it sent none).
    pub fn keepalive(&self) -> &KeepaliveLog {
        self.keepalive.as_deref().unwrap_or(&NO_PROBES)
    }

    /// The small messages this side sent (candidate heartbeats).
    pub fn small_messages(&self) -> &SmallMessages {
        &self.small_messages
    }

    /// This side's first RST, if it sent one.
    pub fn rst(&self) -> Option<PacketRef> {
        self.marks.rst_at()
    }

    /// The zero window this side advertises, while it does.
    pub fn zero_window(&self) -> Option<&ZeroWindowSpell> {
        self.marks.rare()?.zero_window.as_deref()
    }
}

/// One TCP connection, both directions, as the flow table hands it out
/// (it keeps a compact record while the connection is held: `record::Flow`).
#[derive(Clone, Debug)]
pub struct Connection {
    /// Sequential id within the analysis, in order of first packet.
    pub id: u64,
    /// The VLAN tags every packet of it came with (not part of its key).
    pub vlan: VlanPath,
    pub roles: RoleSource,
    /// `sides[Side::Client as usize]` is the client's half.
    pub sides: [HalfConnection; 2],
    pub first: PacketRef,
    pub last: PacketRef,
    /// The longest silence between two packets of the connection, and the
    /// packet that ended it: see [`Connection::longest_gap`].
    longest_gap: Gap,
    /// The second longest: see [`Connection::second_longest_gap`].
    second_longest_gap: Gap,
    /// Every segment seen carried SYN: the handshake never completed (as far
    /// as the capture shows).
    pub handshake_only: bool,
    /// Handed out before it finished, and why (None: finished, reused, or the capture ended).
    pub dropped: Option<Dropped>,
}

/// A silence between two packets of a connection, and the packet that
/// ended it (none before the second packet).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Gap {
    secs: f64,
    ended_by: MaybePacket,
}

impl Gap {
    pub(super) fn get(self) -> Option<(f64, PacketRef)> {
        self.ended_by.get().map(|p| (self.secs, p))
    }
}

/// A connection the capture never showed established both ways (conntrack
/// lists such entries as `[UNREPLIED]`). Only these have an idle limit:
/// one both sides spoke on stays until it finishes or the capture ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreplied {
    /// Every segment carried SYN: the handshake never completed.
    Handshake,
    /// Only one side was ever heard from.
    OneWay,
}

impl Unreplied {
    const ALL: [Unreplied; 2] = [Unreplied::Handshake, Unreplied::OneWay];

    /// How long such a connection may stay quiet before it is handed out.
    pub fn idle_limit_secs(self) -> f64 {
        match self {
            Unreplied::Handshake => HANDSHAKE_IDLE_SECS,
            Unreplied::OneWay => ONE_WAY_IDLE_SECS,
        }
    }
}

/// Why, and when, the flow table handed out a connection that had not
/// finished: it is judged as of then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Quiet for its [idle limit](Unreplied::idle_limit_secs), which ran out `at`.
    IdleLimit { was: Unreplied, at: Timestamp },
    /// More than [`MAX_UNREPLIED`] unreplied connections were held `at` this
    /// time, and it was the least recently active.
    Evicted { was: Unreplied, at: Timestamp },
}

impl Dropped {
    /// When it was dropped: the time it is judged as of.
    pub fn at(self) -> Timestamp {
        match self {
            Dropped::IdleLimit { at, .. } | Dropped::Evicted { at, .. } => at,
        }
    }

    /// What it was when dropped.
    pub fn was(self) -> Unreplied {
        match self {
            Dropped::IdleLimit { was, .. } | Dropped::Evicted { was, .. } => was,
        }
    }
}

impl Connection {
    /// The longest silence between two packets of the connection, and the packet that ended it.
    pub fn longest_gap(&self) -> Option<(f64, PacketRef)> {
        self.longest_gap.get()
    }
    /// The second longest, so the gap that preceded a connection's death can
    /// be told from the longest one it survived.
    pub fn second_longest_gap(&self) -> Option<(f64, PacketRef)> {
        self.second_longest_gap.get()
    }
    /// Packets of the connection, both ways (each side counts its own).
    pub fn packets(&self) -> u64 {
        self.sides[0].counts.packets + self.sides[1].counts.packets
    }
    pub fn side(&self, side: Side) -> &HalfConnection {
        &self.sides[side as usize]
    }
    pub fn client(&self) -> SocketAddr {
        self.sides[0].addr()
    }
    pub fn server(&self) -> SocketAddr {
        self.sides[1].addr()
    }
    /// Both sides sent FIN, or one sent RST.
    #[cfg(test)]
    pub fn is_finished(&self) -> bool {
        self.sides.iter().any(|h| h.marks.reset().is_some()) || self.sides.iter().all(|h| h.marks.fin.is_some())
    }
}

/// All open connections of one capture.
///
/// They are kept in a [`Store`](store::Store): a slab of compact records
/// ([`Flow`]) and an index by 4-tuple. The queues name a connection by its
/// slot and its id (a slot is reused once its connection has left).
#[derive(Default)]
pub struct FlowTable {
    flows: store::Store,
    next_id: u64,
    /// Finished connections in the order they finished, waiting out their linger time.
    finished_queue: VecDeque<FinishedEntry>,
    /// The [`Unreplied`] connections, one queue per kind (indexed by it).
    unreplied: [IdleQueue; 2],
    /// Handed out early because more than [`MAX_UNREPLIED`] were held.
    evicted: u64,
    spare_runs: SpareRuns,
    /// The trains of the connection [`FlowTable::trains_of`] was last asked for.
    held_trains: [Train; 2],
}

/// The boxes of retransmission runs that ended, for the next runs to
/// start in: most data segments start a run, and the ACK for them ends it
/// (a box made and dropped for each, the allocator took 7% of the samples
/// with 166,000 connections open).
#[derive(Default)]
#[expect(clippy::vec_box, reason = "the boxes are what is kept: each goes to a side as it is")]
struct SpareRuns(Vec<Box<RetransmissionRun>>);

/// At most this many spare runs are kept.
const SPARE_RUNS: usize = 64;

impl SpareRuns {
    fn start(&mut self, run: RetransmissionRun) -> Box<RetransmissionRun> {
        match self.0.pop() {
            Some(mut spare) => {
                *spare = run;
                spare
            }
            None => Box::new(run),
        }
    }

    fn end(&mut self, run: Option<Box<RetransmissionRun>>) {
        if let Some(run) = run
            && self.0.len() < SPARE_RUNS
        {
            self.0.push(run);
        }
    }
}

/// Connections of one [`Unreplied`] kind, least recently active first. An
/// entry is only looked at when its idle limit may have run out (or when
/// too many are held): one active since it was queued then goes to the
/// back as it is now, one that changed kind or left the table is dropped.
/// Entries are pushed at increasing times, so the queue stays in order of
/// last activity (a capture's clock set back only delays a sweep).
#[derive(Default)]
struct IdleQueue {
    queue: VecDeque<IdleEntry>,
    /// Connections of this kind held: one entry each, among stale entries.
    held: usize,
}

/// A finished connection waiting out its linger time: 12 bytes where a
/// `(Slot, u64)` took 16 with padding (the queue holds one for each
/// connection that finished within the linger time, and memory grows with
/// the connections open at once, issue 14). The id is whole, not its low
/// 32 bits: a slot's later connection must never be taken for this one.
#[derive(Clone, Copy, Debug, PartialEq)]
struct FinishedEntry {
    slot: Slot,
    id_low: u32,
    id_high: u32,
}

impl FinishedEntry {
    fn new(slot: Slot, id: u64) -> FinishedEntry {
        FinishedEntry { slot, id_low: id as u32, id_high: (id >> 32) as u32 }
    }

    fn id(&self) -> u64 {
        (u64::from(self.id_high) << 32) | u64::from(self.id_low)
    }
}

#[derive(Clone, Copy)]
struct IdleEntry {
    /// The connection's last packet when it was queued.
    last: Timestamp,
    slot: Slot,
    id: u64,
}

impl FlowTable {
    pub fn new() -> FlowTable {
        FlowTable::default()
    }

    /// A segment a few frames ahead: its connection's record is asked for
    /// now, so that it is in the cache when the segment comes (with many
    /// connections open, the first read of the record was a miss).
    /// `ends` is the segment's [`EndsHash`], made with it.
    #[inline]
    pub fn prefetch(&mut self, ends: EndsHash) {
        self.flows.prefetch(ends);
    }

    /// Connections currently held.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Connections handed out early because more than [`MAX_UNREPLIED`]
    /// [`Unreplied`] connections were held.
    pub fn unreplied_evicted(&self) -> u64 {
        self.evicted
    }

    /// [`FlowTable::observe_hashed`], the segment's hash made here (the
    /// tests' hand-built segments come without one).
    #[cfg(test)]
    pub fn observe(&mut self, at: PacketRef, seg: &Segment, done: &mut dyn FnMut(Connection)) -> Observed {
        self.observe_hashed(at, seg, EndsHash::of_segment(seg), done)
    }

    /// Adds one segment: returns its class and what it changed for its
    /// connection. Connections it ends (a reused 4-tuple, or the least
    /// recently active unreplied one when too many are held) are passed to `done`.
    /// `ends` is the segment's [`EndsHash`], made with it (by the file
    /// source, on its reader's thread: [`crate::source::Frame`]).
    pub fn observe_hashed(
        &mut self,
        at: PacketRef,
        seg: &Segment,
        ends: EndsHash,
        done: &mut dyn FnMut(Connection),
    ) -> Observed {
        debug_assert_eq!(ends, EndsHash::of_segment(seg), "the hash made with the segment is its own");
        let mut found = self.flows.locate(seg, ends);
        // Only a SYN can start a new connection on a 4-tuple already held.
        let is_new_syn = seg.flags.syn() && !seg.flags.ack();
        if let Some((slot, from)) = found.filter(|_| is_new_syn)
            && let Some(existing) = self.flows.get(slot)
        {
            let reused = (existing.is_finished() && !retries_a_refused_syn(existing, from, seg))
                || from != Side::Client
                || existing.sides[0].seq.isn().is_some_and(|isn| isn != seg.seq);
            if reused {
                done(self.remove(slot, None));
                found = None;
            }
        }
        let (slot, from, created) = match found {
            Some((slot, from)) => (slot, from, false),
            None => {
                self.next_id += 1;
                let (flow, [client, server]) = new_connection(self.next_id, at, seg);
                let from = if seg.src == client { Side::Client } else { Side::Server };
                (self.flows.insert(flow, [client, server], seg.vlan), from, true)
            }
        };
        // Its directions may come with other VLAN tags (see `store::Ends::sender`):
        // it keeps those all its packets share.
        self.flows.note_vlan(slot, seg.vlan);
        let conn = self.flows.get_mut(slot);
        let was_finished = conn.is_finished();
        let was = if created { None } else { conn.unreplied() };
        #[cfg(debug_assertions)]
        let all_before = conn.sides.each_ref().map(|s| TrainMark::of(s, &conn.origin));
        let (class, before) = update(conn, from, at, seg, &mut self.spare_runs);
        #[cfg(debug_assertions)]
        for (side, b) in before.iter().enumerate() {
            debug_assert!(
                b.is_some() || TrainMark::of(&conn.sides[side], &conn.origin) == all_before[side],
                "a train changed unread"
            );
        }
        if !was_finished && conn.is_finished() {
            self.finished_queue.push_back(FinishedEntry::new(slot, conn.id()));
        }
        let observed = Observed { class, changes: changes(before, was_finished, conn, from, seg) };
        let is = conn.unreplied();
        if is != was {
            let entry = IdleEntry { last: at.ts, slot, id: conn.id() };
            if let Some(was) = was {
                self.left(was);
            }
            if let Some(is) = is {
                let q = &mut self.unreplied[is as usize];
                q.queue.push_back(entry);
                q.held += 1;
            }
        }
        if self.unreplied.iter().map(|q| q.held).sum::<usize>() > MAX_UNREPLIED {
            self.evict(at.ts, done);
        }
        observed
    }

    /// Takes a connection out of the table; `dropped`: why, if it had not finished.
    fn remove(&mut self, slot: Slot, dropped: Option<Dropped>) -> Connection {
        let (flow, endpoints, vlan) = self.flows.remove(slot);
        if let Some(was) = flow.unreplied() {
            self.left(was);
        }
        flow.into_connection(endpoints, vlan, dropped)
    }

    /// A connection of this kind changed kind, or left the table.
    fn left(&mut self, was: Unreplied) {
        let q = &mut self.unreplied[was as usize];
        q.held -= 1;
        // Its entry stays until looked at. When such entries outnumber the
        // others, they go at once: the queue stays within about twice the
        // connections it stands for.
        if q.queue.len() > 2 * q.held + 1024 {
            let flows = &self.flows;
            q.queue.retain(|e| flows.get(e.slot).is_some_and(|c| c.id() == e.id && c.unreplied() == Some(was)));
        }
    }

    /// The first entry of a queue that stands for a held connection of its
    /// kind (stale ones are dropped on the way), and that connection's last packet now.
    fn front(&mut self, kind: Unreplied) -> Option<(IdleEntry, Timestamp)> {
        let q = &mut self.unreplied[kind as usize];
        while let Some(&e) = q.queue.front() {
            match self.flows.get(e.slot) {
                Some(conn) if conn.id() == e.id && conn.unreplied() == Some(kind) => return Some((e, conn.last().ts)),
                _ => q.queue.pop_front(),
            };
        }
        None
    }

    /// Hands out the least recently active unreplied connection, and counts it.
    fn evict(&mut self, now: Timestamp, done: &mut dyn FnMut(Connection)) {
        loop {
            let fronts = Unreplied::ALL.map(|kind| self.front(kind).map(|(e, last)| (kind, e, last)));
            let Some((kind, entry, last)) = fronts.into_iter().flatten().min_by_key(|(_, e, _)| e.last) else {
                return;
            };
            let q = &mut self.unreplied[kind as usize];
            q.queue.pop_front();
            if last > entry.last {
                // Active since it was queued: to the back, as it is now.
                q.queue.push_back(IdleEntry { last, ..entry });
                continue;
            }
            self.evicted += 1;
            return self.hand_out(entry.slot, Dropped::Evicted { was: kind, at: now }, done);
        }
    }

    fn hand_out(&mut self, slot: Slot, why: Dropped, done: &mut dyn FnMut(Connection)) {
        done(self.remove(slot, Some(why)));
    }

    /// Hands out finished connections that have been quiet for [`LINGER_SECS`]
    /// at `now`, and [`Unreplied`] ones quiet for their idle limit.
    pub fn expire(&mut self, now: Timestamp, done: &mut dyn FnMut(Connection)) {
        // Entries are in the order the connections finished, so the sweep
        // stops at the first one still within the short linger time. One
        // that lingers longer (an unacknowledged FIN being retransmitted)
        // goes to the back, so it does not hold the others back.
        for _ in 0..self.finished_queue.len() {
            let Some(&entry) = self.finished_queue.front() else { break };
            let (slot, id) = (entry.slot, entry.id());
            let Some(conn) = self.flows.get(slot).filter(|c| c.id() == id && c.is_finished()) else {
                // Replaced by a new connection on the same 4-tuple, which
                // handed the old one out already; or no longer finished (its
                // RST was not its sender's, `IgnoredReset`): it is queued
                // again if it finishes.
                self.finished_queue.pop_front();
                continue;
            };
            let quiet_for = now.secs_since(conn.last().ts);
            if quiet_for >= conn.linger_secs() {
                self.finished_queue.pop_front();
                done(self.remove(slot, None));
            } else if quiet_for >= LINGER_SECS {
                self.finished_queue.rotate_left(1);
            } else {
                break;
            }
        }
        for kind in Unreplied::ALL {
            // Quiet times, not due times, are compared: at the end of a
            // capture's time range a due time would saturate to `now`.
            let limit = kind.idle_limit_secs();
            while let Some((entry, last)) = self.front(kind)
                && now.secs_since(entry.last) >= limit
            {
                let q = &mut self.unreplied[kind as usize];
                q.queue.pop_front();
                if now.secs_since(last) >= limit {
                    let at = last.after_secs(limit);
                    self.hand_out(entry.slot, Dropped::IdleLimit { was: kind, at }, done);
                } else {
                    // Active since it was queued: looked at again when due.
                    q.queue.push_back(IdleEntry { last, ..entry });
                }
            }
        }
    }

    /// Hands out every connection left (the capture ended), in order of first packet.
    pub fn drain(&mut self, done: &mut dyn FnMut(Connection)) {
        self.finished_queue.clear();
        self.unreplied = Default::default();
        for slot in self.flows.slots_by_id() {
            let (flow, endpoints, vlan) = self.flows.remove(slot);
            done(flow.into_connection(endpoints, vlan, None));
        }
    }

    /// The held connections on which a keepalive probe is still
    /// unanswered, as they stand: the pipeline's clock rules look at them.
    pub(crate) fn unanswered(&self) -> impl Iterator<Item = Connection> {
        self.flows
            .iter()
            .filter(|(_, _, c)| c.sides.iter().any(FlowSide::probe_outstanding))
            .map(|(endpoints, vlan, c)| c.to_connection(endpoints, vlan))
    }

    /// The endpoints (client, server) of every connection held.
    pub(crate) fn endpoints(&self) -> impl Iterator<Item = [SocketAddr; 2]> {
        self.flows.held_ends()
    }

    /// The keepalive trains (client's, server's) of the connection a
    /// segment belongs to, if it is held.
    ///
    /// The table keeps them compact (`record::CompactTrain`): they are
    /// written out into trains of the table's own, kept for the next
    /// segment's (their probes' `Vec`s reused), and valid until then.
    pub(crate) fn trains_of(&mut self, seg: &Segment) -> Option<[&Train; 2]> {
        let conn = self.flows.get(self.flows.find(seg)?.0)?;
        for (side, train) in conn.sides.iter().zip(&mut self.held_trains) {
            side.train().fill(&conn.origin, train);
        }
        Some(self.held_trains.each_ref())
    }

    /// The connection a segment belongs to, as it stands, if it is held.
    pub(crate) fn connection_of(&self, seg: &Segment) -> Option<Connection> {
        let (slot, _) = self.flows.find(seg)?;
        Some(self.flows.get(slot)?.to_connection(self.flows.endpoints(slot), self.flows.vlan(slot)))
    }
}

// ------------------------------------------------------------------ changes
//
// What a segment changed for its connection, as values, for those who
// stream events as they happen (live mode). They are read from a small
// snapshot of each side's keepalive train taken before and after `apply`,
// so the classification rules above know nothing of them. Only the trains
// the segment may change are read (a train is in a boxed log: reading it
// for every packet was a cache miss).

/// What [`FlowTable::observe_hashed`] made of one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observed {
    pub class: PacketClass,
    pub changes: Changes,
}

/// What one segment changed for its connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Each side's keepalive train, indexed by [`Side`].
    pub trains: [TrainChange; 2],
    /// The segment finished the connection (a RST, or the second FIN).
    pub finished: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }
}

/// What happened to one side's keepalive train.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrainChange {
    /// The side started a new train (its first probe may be an earlier,
    /// held segment that the peer's answer just showed to be a probe).
    pub started: bool,
    /// Probes are now known to have gone unanswered.
    pub unanswered: Option<Unanswered>,
}

/// Probes `1..=through` of a side's current train went unanswered. Each but
/// the train's last was confirmed by the probe after it (a train only goes
/// on after an unanswered probe); the last one, when `through` is the
/// train's count, by `last_by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unanswered {
    pub through: u32,
    pub last_by: Confirmation,
}

/// How a probe was known to have gone unanswered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// The prober sent the next probe of the train.
    NextProbe,
    /// The prober gave up with a RST.
    ProberReset,
    /// No answer within its interval, by the clock (the pipeline's rule).
    Timeout,
}

impl Confirmation {
    pub fn name(self) -> &'static str {
        match self {
            Confirmation::NextProbe => "next-probe",
            Confirmation::ProberReset => "prober-reset",
            Confirmation::Timeout => "timeout",
        }
    }
}

/// Per side: the first probe's frame, the probe count, and whether the last
/// probe is still unanswered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct TrainMark {
    first: Option<u64>,
    count: u32,
    unanswered: bool,
}

impl TrainMark {
    fn of(side: &FlowSide, o: &Origin) -> TrainMark {
        let train = side.train();
        TrainMark { first: train.first_frame(o), count: train.count(), unanswered: train.unanswered() }
    }
}

/// What a segment changed, from the marks of the trains it may have
/// changed, taken before it was applied (None: that side's train stays as
/// it was).
fn changes(before: [Option<TrainMark>; 2], was_finished: bool, conn: &Flow, from: Side, seg: &Segment) -> Changes {
    let mut changes = Changes { finished: !was_finished && conn.is_finished(), ..Changes::default() };
    for side in [Side::Client, Side::Server] {
        let Some(b) = before[side as usize] else { continue };
        let a = TrainMark::of(&conn.sides[side as usize], &conn.origin);
        let same_train = a.first.is_some() && a.first == b.first;
        // Probes 1..count-1 are unanswered: the next probe confirmed each.
        // A train only goes on after an unanswered probe (Linux
        // tcp_keepalive_timer sends another while icsk_probes_out, which
        // any ACK from the peer clears, is below the limit), and
        // `record_probe` starts a new train after an answer.
        let known_before = if same_train { b.count.saturating_sub(1) } else { 0 };
        let by_next_probe = a.count.saturating_sub(1);
        let prober_reset = a.unanswered && seg.flags.rst() && side == from;
        changes.trains[side as usize] = TrainChange {
            started: a.first.is_some() && !same_train,
            unanswered: if prober_reset {
                Some(Unanswered { through: a.count, last_by: Confirmation::ProberReset })
            } else if by_next_probe > known_before {
                Some(Unanswered { through: by_next_probe, last_by: Confirmation::NextProbe })
            } else {
                None
            },
        };
    }
    changes
}

/// A connection's record and its endpoints (client, server), from its first segment.
fn new_connection(id: u64, at: PacketRef, seg: &Segment) -> (Flow, [SocketAddr; 2]) {
    let (client, server, roles) = if seg.flags.syn() && !seg.flags.ack() {
        (seg.src, seg.dst, RoleSource::Handshake)
    } else if seg.flags.syn() {
        (seg.dst, seg.src, RoleSource::Handshake)
    } else if server_port_first(seg.dst.port(), seg.src.port()) {
        (seg.src, seg.dst, RoleSource::PortHeuristic)
    } else {
        (seg.dst, seg.src, RoleSource::PortHeuristic)
    };
    (Flow::new(id, at, roles, seg.flags.syn()), [client, server])
}

/// Mid-stream role guess: true when `a` looks more like the server's port than `b`.
/// A well-known port (< 1024) beats any other; then a port outside the common
/// ephemeral ranges (Linux 32768–60999, IANA 49152–65535) beats one inside;
/// then the lower port. The first sender is the client when the ports tie.
fn server_port_first(a: u16, b: u16) -> bool {
    let rank = |p: u16| -> u8 {
        if p < 1024 {
            0
        } else if p < 32768 {
            1
        } else {
            2
        }
    };
    (rank(a), a) <= (rank(b), b)
}

/// Updates the connection with one segment from `side` and classifies it.
/// Also returns the marks, before it was applied, of the keepalive trains
/// (by side) it may have changed: see [`changes`].
fn update(
    conn: &mut Flow,
    side: Side,
    at: PacketRef,
    seg: &Segment,
    runs: &mut SpareRuns,
) -> (PacketClass, [Option<TrainMark>; 2]) {
    let now = conn.origin.stamp(at);
    let (gap, gap_before_previous, previous) = conn.arrived(now, side);
    conn.handshake_only &= seg.flags.syn();
    let arrival = Arrival { from: side, now, before_last: gap, before_previous: gap_before_previous, previous };

    let Flow { sides, origin, .. } = conn;
    let (me, peer) = split(sides, side);
    // Any packet from us settles what our held-back segment was (a copy of
    // it, or our next segment just above it, shows it was a probe).
    let own_held = me.take_held();
    let analysis = classify(me, peer, origin, own_held, at, seg);
    // Only these change a train: our probe (or our held segment shown to
    // be one), our RST (the prober giving up), and our answer to the peer's
    // probe (or to its held segment). See `apply`.
    let a = &analysis;
    let ours = a.class == PacketClass::KeepaliveProbe || a.confirms_own_held.is_some() || seg.flags.rst();
    let peers = a.answers_peer_probe || a.confirms_peer_held.is_some();
    let (my_mark, peer_mark) = (ours.then(|| TrainMark::of(me, origin)), peers.then(|| TrainMark::of(peer, origin)));
    apply(me, peer, origin, seg, &analysis, arrival, runs);
    let mut before = [my_mark, peer_mark];
    if side == Side::Server {
        before.reverse();
    }
    (analysis.class, before)
}

fn split(sides: &mut [FlowSide; 2], side: Side) -> (&mut FlowSide, &mut FlowSide) {
    let [client, server] = sides;
    match side {
        Side::Client => (client, server),
        Side::Server => (server, client),
    }
}

/// When a segment arrived, and the silences before the latest packets of
/// its connection.
#[derive(Clone, Copy)]
struct Arrival {
    /// The side that sent the segment.
    from: Side,
    /// The segment (and its compact reference in its connection).
    now: Stamp,
    /// Before this segment (s).
    before_last: f64,
    /// Before the connection's packet before it (s).
    before_previous: f64,
    /// The connection's packet before this segment (this segment when it is the first).
    previous: PacketRef,
}

/// What one segment is, decided from the state before it, before anything changes.
struct Analysis {
    class: PacketClass,
    /// The segment answers the peer's outstanding keepalive probe (an RST answers it too).
    answers_peer_probe: bool,
    /// The peer's held segment was a keepalive probe: this segment is its ACK.
    confirms_peer_held: Option<HeldSegment>,
    /// Our own held segment was a keepalive probe, as this segment shows.
    confirms_own_held: Option<HeldSegment>,
    /// We went on with the connection after a RST in our name: it was not ours.
    goes_on_after_own_rst: bool,
}

/// The classification rules: pure predicates on the state before the
/// segment, one block per class. Each mirrors what Wireshark's
/// `tcp_analyze_sequence_number()` (packet-tcp.c) or the Linux sender does,
/// with the differences noted. [`apply`] then counts and records.
fn classify(
    me: &FlowSide,
    peer: &FlowSide,
    o: &Origin,
    own_held: Option<HeldSegment>,
    at: PacketRef,
    seg: &Segment,
) -> Analysis {
    let peer_probe_outstanding = peer.probe_outstanding();
    // HELD PROBE CONFIRMED BY ITS ANSWER. The peer of a held-back segment
    // answered: a pure ACK for exactly one past it means the segment sat
    // below what the peer already had, i.e. a keepalive probe. For a 1-byte
    // segment new data would get the same ACK, so we also need the D-SACK
    // block (RFC 2883) that says the byte was a duplicate.
    let confirms_peer_held = peer.held().copied().filter(|p| {
        let pure_ack = seg.flags.ack() && seg.payload_len == 0 && !seg.flags.has_control();
        let dsack = seg.first_sack == Some((p.seq, p.seq + 1));
        pure_ack && seg.ack == p.seq + 1 && (p.len == 0 || dsack)
    });
    // Read only for a probe-shaped segment: it reads the peer's probe log.
    let quiet_s = || keepalive_quiet_s(peer, o, at, seg.payload_len);
    let (class, confirms_own_held) = segment_class(me, peer, o, own_held, peer_probe_outstanding, quiet_s, seg);
    let answers_peer_probe = peer_probe_outstanding && answers_a_probe(me, peer, class, seg);
    let goes_on_after_own_rst = me.reset().is_some() && goes_on_after_reset(me, peer, seg);
    Analysis { class, answers_peer_probe, confirms_peer_held, confirms_own_held, goes_on_after_own_rst }
}

/// How far from the sender's next sequence number a segment may start and
/// still be in its sequence space: a large receive window (RFC 7323 allows
/// 1 GiB, but windows of a few MiB are what hosts use).
const IN_SEQUENCE_SPACE: u32 = 1 << 24;

/// THE SUPPOSED SENDER OF A RST GOES ON. A host that sends a RST drops the
/// connection at once (RFC 9293 §3.10.7.4; Linux tcp_send_active_reset then
/// tcp_done): it sends nothing more on it but more RSTs. So when, after a
/// RST in its name, the same host goes on with the connection, the RST was
/// not its own: injected by a middlebox that raced it (Weaver, Sommer and
/// Paxson, NDSS 2009; Suricata's `suspected_rst_inject`). Going on means
/// what only the real host can send: its SYN-ACK for the peer's SYN, or new
/// sequence space (data, FIN) or a new acknowledgment, in its own sequence
/// space. Packets from somewhere else do not count: a TTL more than one hop
/// from the host's own packets before the RST (a route may change by one),
/// or a sequence number out of its space.
fn goes_on_after_reset(me: &FlowSide, peer: &FlowSide, seg: &Segment) -> bool {
    if seg.flags.rst() {
        return false;
    }
    if me.last_ttl().is_some_and(|t| t.abs_diff(seg.ttl) > 1) {
        return false;
    }
    if seg.flags.syn() {
        return seg.flags.ack() && peer.seq.isn().is_some_and(|isn| seg.ack == isn + 1);
    }
    let Some(next) = me.seq.next_seq() else { return false };
    let in_space = seg.seq.distance(next).unsigned_abs() <= IN_SEQUENCE_SPACE;
    let new_ack = seg.flags.ack() && me.seq.max_ack_sent().is_some_and(|a| seg.ack > a);
    in_space && (seg.seq_len() > 0 || new_ack)
}

/// KEEPALIVE ANSWER. Whether our segment of class `class` answers the
/// peer's outstanding keepalive probe. Any packet from the peer of a prober
/// is proof of life: it answers the outstanding probe (Linux clears
/// icsk_probes_out on any acceptable ACK, in tcp_ack); an RST answers it
/// too (the peer no longer knew the connection). Two kinds of segment are
/// no answer, so that when both ends probe each side's train, settings and
/// give-up are judged on their own:
/// - our own keepalive probe crossing the peer's: a 0-byte probe sits below
///   the peer's window, and tcp_validate_incoming drops it (tcp_sequence
///   fails) before tcp_ack could clear the peer's probe count. A 1-byte
///   probe ends at the peer's rcv_nxt and passes, so for a 0-byte (Linux)
///   prober it is an answer, as for its idle (see [`idle_start`]);
/// - our RST after our own unanswered probes: that is our keepalive giving
///   up (tcp_keepalive_timer → tcp_send_active_reset), not a reply to the
///   peer's probe, which a cut path may never have delivered.
fn answers_a_probe(me: &FlowSide, peer: &FlowSide, class: PacketClass, seg: &Segment) -> bool {
    match class {
        PacketClass::KeepaliveProbe => seg.payload_len == 1 && peer.train().latest_len() == Some(0),
        PacketClass::Rst => !me.probe_outstanding(),
        _ => true,
    }
}

/// The shortest quiet before a keepalive probe: timers count whole seconds
/// and fire late, never early; captures may stamp a little early.
pub const KEEPALIVE_MIN_QUIET_S: f64 = 1.0 - 0.015;

/// The packet from the peer that a keepalive probe of `probe_len` bytes
/// from us was timed from: the last one that restarted our keepalive timer.
///
/// The timer runs from the last packet received, and what we sent meanwhile
/// does not restart it (Linux tcp_keepalive_timer → keepalive_time_elapsed:
/// the min of now − lrcvtime (data) and now − rcv_tstamp (acceptable ACK)).
/// The peer's own probes differ:
/// - a 0-byte probe sits below the window (end_seq = rcv_nxt − 1):
///   tcp_sequence() drops it before tcp_ack(), so it restarts nothing;
/// - a 1-byte probe ends at rcv_nxt, passes, and its ACK refreshes rcv_tstamp:
///   for a Linux (0-byte-probing) receiver it is traffic. nDPI avast.pcap: a
///   Linux server probes 372.5 s after a Windows client's 1-byte probe, and
///   369.3 s after data on the next flow (one setting near 360 s);
/// - a Windows (1-byte-probing) receiver's timer is not restarted by it.
///   zeek smb_v2_only_non_zero_reserved1.pcap: client and server probe 33 ms
///   apart, each 30 s / 120 s after the other's last real packet.
///
/// So when both ends probe at once, each side's idle runs on.
fn idle_start(peer: &FlowSide, o: &Origin, probe_len: u32) -> Option<PacketRef> {
    let last = o.get(&peer.last_sent)?;
    let last_traffic = peer.last_traffic(o);
    let last_probe = peer.train().latest_len().filter(|_| peer.train().latest_at(o) == Some(last));
    match last_probe {
        Some(1) if probe_len == 0 => Some(last),
        Some(_) => last_traffic,
        None if last_traffic == Some(last) => Some(last),
        // The peer's last packet was a zero-window probe or a held segment.
        None => last_traffic,
    }
}

/// How long we had heard nothing that restarts our keepalive timer when we
/// send a probe-shaped segment at `at` (see [`idle_start`]).
fn keepalive_quiet_s(peer: &FlowSide, o: &Origin, at: PacketRef, probe_len: u32) -> f64 {
    idle_start(peer, o, probe_len).map_or(f64::INFINITY, |p| at.ts.secs_since(p.ts))
}

/// The class of a segment, and our held segment when the segment shows it was a probe.
fn segment_class(
    me: &FlowSide,
    peer: &FlowSide,
    o: &Origin,
    own_held: Option<HeldSegment>,
    peer_probe_outstanding: bool,
    quiet_s: impl Fn() -> f64,
    seg: &Segment,
) -> (PacketClass, Option<HeldSegment>) {
    let flags = seg.flags;
    if flags.rst() {
        return (PacketClass::Rst, None);
    }
    if flags.syn() {
        return (if flags.ack() { PacketClass::SynAck } else { PacketClass::Syn }, None);
    }

    let len = seg.payload_len;
    // HELD PROBE CONFIRMED BY OUR NEXT SEGMENT. A held empty segment followed
    // by our next segment exactly one above it, with the same ACK number and
    // nothing from the peer in between (the peer's packet would have settled
    // it), sat one below our next sequence number: an unanswered probe (a
    // plain ACK carries the next sequence number itself).
    let confirmed = own_held.filter(|p| p.len == 0 && seg.seq == p.seq + 1 && seg.ack == p.ack);

    // What the peer has acknowledged of our data is our SND.UNA; without it
    // (one-way capture) fall back to our own next sequence number, as
    // Wireshark does, or to what an earlier probe of ours implied. (A held
    // segment confirmed just above changes none of the rules below: it was
    // only held while all three were unknown, and the segment one above it
    // is neither a probe nor a copy.)
    let snd_una = peer.seq.max_ack_sent().or(me.seq.next_seq()).or_else(|| me.train().latest_seq().map(|seq| seq + 1));
    let peer_window_zero = peer.seq.window() == Some(0);

    // Probes carry ACK, as every segment of a synchronized connection does
    // (RFC 9293 §3.10.7.4: "if the ACK bit is off drop the segment"): an
    // empty segment without it is a NULL scan probe (nDPI tcp_scan.pcapng,
    // frame 25), taken as it comes: its sequence number is what the closed
    // port's RST,ACK acknowledges.
    if len <= 1 && !flags.has_control() && flags.ack() {
        // ZERO-WINDOW PROBE. The peer advertised a zero window, and we send
        // either 0 bytes one below SND.UNA (Linux tcp_xmit_probe_skb, the
        // same shape as a keepalive, which is why Wireshark calls it one) or
        // 1 new byte at SND.UNA (Windows; Wireshark's rule).
        if peer_window_zero
            && let Some(una) = snd_una
            && ((len == 0 && seg.seq == una - 1) || (len == 1 && seg.seq == una))
        {
            return (PacketClass::ZeroWindowProbe, confirmed);
        }
        // KEEPALIVE PROBE: 0 or 1 byte, sequence number one below what the
        // peer has acknowledged (RFC 1122 §4.2.3.6; Linux tcp_write_wakeup →
        // tcp_xmit_probe_skb sends snd_una - 1 with no data, Windows sends
        // the byte at snd_una - 1 again). Wireshark compares with the
        // sender's own next sequence number instead, which misses the first
        // probe when the capture starts in the middle of an idle period; the
        // peer's ACK number does not. A 1-byte retransmission of unacknowledged
        // data sits *at* SND.UNA, not one below, so it is not a probe.
        // Nor is a segment sent within a second of traffic: keepalive timers
        // count whole seconds (Linux rejects TCP_KEEPIDLE / TCP_KEEPINTVL
        // below 1 in do_tcp_setsockopt; macOS and BSD take seconds too), so
        // no stack probes before ~1 s of quiet. tshark flags such segments
        // (e.g. 0.016 s after data in zeek/smb_v2_only_non_zero_reserved1).
        if let Some(una) = snd_una {
            if seg.seq == una - 1 && quiet_s() >= KEEPALIVE_MIN_QUIET_S {
                return (PacketClass::KeepaliveProbe, confirmed);
            }
        } else if let Some(p) = own_held.filter(|p| len == 0 && p.len == 0 && seg.seq == p.seq && seg.ack == p.ack) {
            // REPEATED PROBE. No ACK from the peer in the capture yet: a
            // second identical empty segment (same sequence *and*
            // acknowledgment number) with nothing from the peer in between
            // is a repeated probe: TCP never retransmits a pure ACK, and pure
            // ACKs for new data (a one-way capture) advance the
            // acknowledgment number. The held one was a probe too.
            return (PacketClass::KeepaliveProbe, Some(p));
        } else if own_held.is_none() && me.seq.next_seq().is_none() && !o.is_some(&peer.last_sent) {
            // UNDECIDED. Nothing seen of this connection before: hold the
            // segment until the peer's answer tells whether it was a probe.
            return (PacketClass::Undecided, confirmed);
        }
    }

    // KEEPALIVE ACK: an empty segment answering the peer's outstanding probe.
    if peer_probe_outstanding && len == 0 && !flags.has_control() {
        return (PacketClass::KeepaliveAck, confirmed);
    }
    // RETRANSMISSION: sequence space (data or a FIN) below what we already
    // sent. A resent FIN is a retransmission too.
    if seg.seq_len() > 0 && me.seq.next_seq().is_some_and(|next| seg.seq < next) {
        return (PacketClass::Retransmission, confirmed);
    }
    let class = if flags.fin() {
        PacketClass::Fin
    } else if seg.seq_len() > 0 {
        PacketClass::Data
    } else {
        PacketClass::Ack
    };
    (class, confirmed)
}

/// Applies a classified segment: the keepalive evidence (probes recorded,
/// answered, held), the counters, the sequence state and the marks.
fn apply(
    me: &mut FlowSide,
    peer: &mut FlowSide,
    o: &mut Origin,
    seg: &Segment,
    a: &Analysis,
    arrival: Arrival,
    runs: &mut SpareRuns,
) {
    let (now, side) = (arrival.now, arrival.from);
    let (at, class) = (now.at, a.class);
    me.count_packet();
    if a.goes_on_after_own_rst {
        let rare = me.rare_mut();
        if let Some(rst) = rare.rst.take() {
            // Not our RST (see `goes_on_after_reset`): the connection goes on.
            rare.ignored_rst.get_or_insert(Box::new(IgnoredReset { rst: *rst, continued_by: at, host_ttl: seg.ttl }));
        }
    }

    // Keepalive evidence, in this order: the peer's probe answered, the
    // peer's held segment settled (by anything but an RST), our held
    // segment confirmed, then this segment itself.
    watch_unprobed_silence(me, peer, o, now, class, seg.flags.rst());
    if a.answers_peer_probe {
        answer_probes(peer, side.peer(), o, at, class == PacketClass::Rst);
    }
    if class != PacketClass::Rst {
        peer.take_held();
    }
    if let Some(p) = a.confirms_peer_held {
        record_probe(peer, me, o, p.at, p.seq, p.len);
        answer_probes(peer, side.peer(), o, at, false);
    }
    if let Some(p) = a.confirms_own_held {
        record_probe(me, peer, o, p.at, p.seq, p.len);
    }
    match class {
        PacketClass::KeepaliveProbe => record_probe(me, peer, o, at, seg.seq, seg.payload_len as u8),
        PacketClass::Undecided => {
            me.hold(HeldSegment { at, seq: seg.seq, ack: seg.ack, len: seg.payload_len as u8 });
        }
        PacketClass::ZeroWindowProbe => {
            me.count_zero_window_probe();
            if let Some(spell) = peer.zero_window_mut() {
                spell.probe_count += 1;
                if spell.probes.len() < MAX_ZERO_WINDOW_PROBES_KEPT {
                    spell.probes.push(at);
                }
            }
        }
        PacketClass::Retransmission => me.count_retransmission(),
        _ => {}
    }

    // Sequence state, after classification: a probe sits one below what the
    // peer acknowledged and must not move our idea of the next sequence number.
    if seg.flags.syn() && !seg.flags.ack() && me.seq.isn() == Some(seg.seq) && peer.refused_only() {
        // Our SYN again after the peer's refusal: the same attempt retried
        // (see `retries_a_refused_syn`), so the refusal did not end it.
        peer.forget_reset();
    }
    if seg.flags.syn() {
        // A FIN in our name before our first SYN (or SYN-ACK) was not ours:
        // a host cannot close what it has not opened (crafted, as in
        // suricata-verify's with_evasion_windows.pcap, frame 3, seq 0).
        if o.early(&me.syn).is_none() && o.fin(side).is_some() {
            o.clear_fin(side);
            me.seq.forget_next_seq();
        }
        // A SYN after the first is the handshake retransmitted (a new
        // connection on the same 4-tuple was split off in `observe`).
        if o.early(&me.syn).is_some() {
            let r = me.rare_mut().syn_repeats.get_or_insert_with(Default::default);
            r.count += 1;
            if r.kept.len() < MAX_RETRANSMISSIONS_KEPT {
                r.kept.push(at);
            }
        }
        me.seq.set_isn_once(seg.seq);
        o.put_early_first(&mut me.syn, now);
        me.note_syn_timestamps(seg.has_timestamp);
    }
    if !matches!(class, PacketClass::KeepaliveProbe | PacketClass::Undecided) && !seg.flags.rst() {
        let end = seg.seq + seg.seq_len();
        me.seq.sent_up_to(end);
    }
    if seg.flags.ack() && !seg.flags.rst() {
        me.seq.acknowledged(seg.ack);
        acknowledge(peer, seg.ack, at, runs);
    }
    if !seg.flags.rst() {
        me.seq.set_window(seg.window);
        // ZERO WINDOW SPELL: from the first segment advertising a zero
        // window (RFC 9293 §3.8.6.1: the receiver's buffer is full, its
        // application is not reading) to the first that opens it again.
        // A SYN's window is never scaled and never zero in practice.
        match (seg.window, me.zero_window().is_some()) {
            (0, false) if !seg.flags.syn() => {
                me.rare_mut().zero_window =
                    Some(Box::new(ZeroWindowSpell { since: at, probes: Vec::new(), probe_count: 0 }))
            }
            (0, true) => {}
            (_, _) => me.window_opened(),
        }
    }
    if seg.flags.fin() {
        o.put_fin_first(side, now);
    }
    if seg.flags.rst() && me.reset().is_none() {
        let peer_syn_seq = peer.seq.isn().filter(|_| o.early(&peer.syn).is_some());
        let reset = Box::new(ResetMark {
            at,
            ttl: seg.ttl,
            ip_id: seg.ip_id,
            seq: seg.seq,
            // A number that is not there is 0, so that marks compare as
            // their `Option`s did.
            ack_number: if seg.flags.ack() { seg.ack } else { SeqNumber::default() },
            has_ack: seg.flags.ack(),
            sender_ttl_before: me.last_ttl(),
            sender_ip_id_before: me.last_ip_id(),
            peer_ip_id_before: peer.last_ip_id(),
            peer_syn_number: peer_syn_seq.unwrap_or_default(),
            has_peer_syn: peer_syn_seq.is_some(),
            peer_payload_before: o.get(&peer.last_payload).into(),
            sender_payload_before: o.get(&me.last_payload).into(),
            has_timestamp: seg.has_timestamp,
            idle_before_s: arrival.before_last.max(arrival.before_previous),
            follows: arrival.previous,
            reply: rst_reply(peer, o, at, seg, arrival.previous),
            receiver_went_on: MaybePacket::NONE,
            peer_data_in_flight: seg.flags.ack() && peer.seq.next_seq().is_some_and(|next| seg.ack < next),
        });
        me.rare_mut().rst = Some(reset);
    }
    // The receiver of the peer's RST carries on: whether that RST was forged
    // or the peer's own, it did not end the connection here.
    if !seg.flags.rst() {
        for rst in peer.resets_mut() {
            rst.receiver_went_on.set_first(at);
        }
    }
    if seg.seq_len() > 0 && !matches!(class, PacketClass::KeepaliveProbe | PacketClass::ZeroWindowProbe) {
        track_unacked(me, at, seg, class == PacketClass::Retransmission, arrival.before_last, runs);
    }
    if class == PacketClass::Data {
        o.put(&mut me.last_payload, now);
        if seg.payload_len <= HEARTBEAT_MAX_BYTES {
            me.note_small_message(o, now);
        }
    }
    if !seg.flags.rst() {
        me.note_ttl_and_ip_id(seg.ttl, seg.ip_id);
    }
    // Traffic is every packet but a probe or a segment held back (which
    // may be one): the peer's keepalive idle runs from it (`idle_start`).
    let traffic = !matches!(class, PacketClass::KeepaliveProbe | PacketClass::ZeroWindowProbe | PacketClass::Undecided);
    me.note_sent(o, now, traffic);
}

/// An answer goes out as the segment arrives, so it passes the capture
/// point at most a round trip after the segment did: half a second covers
/// the longest terrestrial round trips (~300 ms) and a Wi-Fi client waking
/// from power save (nDPI googledns_android10.pcap: RST 158, 89 ms after
/// FIN 157). Later, the same shape is no answer: macOS and iOS drop a live
/// connection with a bare RST, window 0, seq = SND.NXT (nDPI signal.pcap
/// 168-170; suricata-verify tcp-opt.pcap 42, 1.06 s after the server's
/// fourth unanswered FIN and 4.0 s after the client's own data).
const NO_SOCKET_REPLY_WITHIN_S: f64 = 0.5;

/// The shape of the RST `seg` sent at `at` against the peer's packet
/// `previous` (the connection's packet before it), see [`RstReply`]. The peer's highest
/// acknowledgment and sequence numbers stand for that packet's: they are
/// its own unless it was reordered.
fn rst_reply(peer: &FlowSide, o: &Origin, at: PacketRef, seg: &Segment, previous: PacketRef) -> RstReply {
    if o.get(&peer.last_sent) != Some(previous) {
        return RstReply::Unprompted;
    }
    if seg.window != 0 || at.ts.secs_since(previous.ts) > NO_SOCKET_REPLY_WITHIN_S {
        return RstReply::AfterPeer;
    }
    match (seg.flags.ack(), peer.seq.max_ack_sent()) {
        (false, Some(ack)) if ack == seg.seq => RstReply::ToAcked,
        (true, None) if peer.seq.next_seq() == Some(seg.ack) => RstReply::ToUnacked,
        _ => RstReply::AfterPeer,
    }
}

fn record_probe(me: &mut FlowSide, peer: &FlowSide, o: &mut Origin, at: PacketRef, seq: SeqNumber, len: u8) {
    let log = me.probe.start_probing();
    log.record_probe(o, at, seq, len, |o| idle_start(peer, o, u32::from(len)));
    me.set_probe_outstanding(true);
}

/// A packet from the peer of `prober` arrived: it answers the prober's
/// outstanding probe, if there is one.
fn answer_probes(prober: &mut FlowSide, side: Side, o: &mut Origin, at: PacketRef, is_rst: bool) {
    // The keepalive timer runs only while nothing is in flight and the
    // socket has not closed (tcp_keepalive_timer re-arms without probing
    // while packets are out; after a FIN it is the FIN-WAIT-2 timer).
    let timer_runs = prober.unacked.is_none() && o.fin(side).is_none();
    if !prober.probe_outstanding() {
        return;
    }
    let Some((log, watch_until)) = prober.probe.log_mut() else { return };
    if !log.answer(o, at, is_rst) {
        return;
    }
    if !is_rst && timer_runs {
        // The answer just set is where the silence begins (`ProbeLog::watch`).
        o.clear(watch_until);
        prober.set_watching(true);
    }
    prober.set_probe_outstanding(false);
}

/// UNPROBED SILENCE: the silence after a side's answered probe, measured
/// to the connection's next packet and kept (the longest) once the prober
/// shows its socket was open throughout: by sending anything after it but
/// a RST (which a host also sends for a socket it no longer has). A probe
/// of its own that ends the silence is its timer firing: an idle, which
/// `record_probe` observes.
fn watch_unprobed_silence(
    me: &mut FlowSide,
    peer: &mut FlowSide,
    o: &mut Origin,
    now: Stamp,
    class: PacketClass,
    rst: bool,
) {
    // Only a side whose watch is on has anything to measure (its log is not read otherwise).
    if me.watching()
        && let Some((log, watch_until)) = me.probe.log_mut()
    {
        let ended = match log.watch(o, watch_until) {
            SilenceWatch::Off => None,
            SilenceWatch::Since(_) if matches!(class, PacketClass::KeepaliveProbe | PacketClass::Undecided) => None,
            SilenceWatch::Since(answer) => Some(UnprobedSilence { answer, until: now.at }),
            SilenceWatch::Ended(silence) => Some(silence),
        };
        if let Some(silence) = ended.filter(|_| !rst)
            && log.unprobed_after_answer(o).is_none_or(|longest| silence.secs() > longest.secs())
        {
            log.set_unprobed(o, silence);
        }
        o.clear(watch_until);
        me.set_watching(false);
    }
    if peer.watching()
        && let Some((log, watch_until)) = peer.probe.log_mut()
        && let SilenceWatch::Since(_) = log.watch(o, watch_until)
    {
        o.put(watch_until, now);
    }
}

/// The peer acknowledged up to `ack` in its packet `at`: data below it is
/// no longer outstanding. A partial ACK (some, not all, of what was sent)
/// moves the run to the oldest segment still unacknowledged, with that
/// segment's first transmission: Linux times its give-up from it
/// (retransmits_timed_out counts from the head's tx time, retrans_stamp),
/// and its retransmissions start at the new SND.UNA (tcp_retransmit_skb
/// trims what was acknowledged).
fn acknowledge(sender: &mut FlowSide, ack: SeqNumber, at: PacketRef, runs: &mut SpareRuns) {
    let Some(run) = &mut sender.unacked else { return };
    if ack <= run.seq {
        return;
    }
    if sender.seq.next_seq().is_none_or(|next| ack >= next) {
        runs.end(sender.unacked.take());
        return;
    }
    // Segments wholly below the ACK are done with.
    while run.in_flight.get(1).is_some_and(|next| next.seq <= ack) {
        run.in_flight.pop_front();
    }
    if run.not_kept_from.is_some_and(|from| ack >= from) {
        runs.end(sender.unacked.take());
        return;
    }
    // The oldest segment still unacknowledged: the run's own one, trimmed,
    // or the kept one the ACK stops in. Either way the backoff starts over
    // (the ACK was progress: Linux clears icsk_retransmits and the backoff)
    // and the peer's silence counts from its ACK.
    if let Some(next) = run.in_flight.front().copied().filter(|next| ack >= next.seq) {
        run.in_flight.pop_front();
        run.first_sent = next.first_sent;
        run.idle_before_s = next.idle_before_s;
    }
    run.seq = ack;
    run.since = at;
    run.retransmissions.clear();
    run.count = 0;
}

/// Pushes one more without doubling the capacity: a train is one or two
/// probes in most captures, a backoff a handful of retransmissions, and
/// every connection open at once keeps its own (the doubling started at
/// four probes, 224 bytes).
fn push_exact<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(1);
    }
    v.push(item);
}

fn track_unacked(
    me: &mut FlowSide,
    at: PacketRef,
    seg: &Segment,
    retransmission: bool,
    idle_before_s: f64,
    runs: &mut SpareRuns,
) {
    match &mut me.unacked {
        Some(run) if retransmission && seg.seq == run.seq => {
            run.count += 1;
            if run.retransmissions.len() < MAX_RETRANSMISSIONS_KEPT {
                push_exact(&mut run.retransmissions, at);
            }
        }
        Some(_) if retransmission => {}
        // New data behind the oldest unacknowledged segment: kept, to place a partial ACK.
        Some(run) => {
            if run.not_kept_from.is_none() && run.in_flight.len() < MAX_IN_FLIGHT_KEPT {
                run.in_flight.push_back(InFlight { seq: seg.seq, first_sent: at, idle_before_s });
            } else {
                run.not_kept_from.get_or_insert(seg.seq);
            }
        }
        // (A retransmission of data sent before the capture began also starts a run.)
        None => {
            me.unacked = Some(runs.start(RetransmissionRun {
                first_sent: at,
                idle_before_s,
                seq: seg.seq,
                retransmissions: Vec::new(),
                count: 0,
                since: at,
                in_flight: VecDeque::new(),
                not_kept_from: None,
            }));
        }
    }
}

mod record;
mod store;
use record::{CompactRef, Flow, FlowSide, Origin, ProbeLog, Stamp};
use store::Slot;

#[cfg(test)]
pub(crate) mod wire;

#[cfg(test)]
mod tests;
