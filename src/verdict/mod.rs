//! Why a connection ended: the verdict vocabulary and the rules that pick one.
//!
//! [`judge`] is the one entry point. Each rule lives in its own module and
//! takes only the log it reads (the prober's [`KeepaliveLog`](crate::flow::KeepaliveLog),
//! the sender's unacknowledged run, the RST's marks, the small messages), so
//! it can be tested alone; `judge` picks the [`Verdict`] from their findings
//! and returns it with everything else the connection showed ([`Judgement`]).

mod handshake;
mod heartbeat;
mod keepalive;
mod reset;
mod retransmission;
mod select;
mod stall;

pub use handshake::{HandshakeFinding, SynSchedule, handshake_finding};
pub use heartbeat::{Heartbeat, heartbeat_of};
pub use keepalive::{KeepaliveFinding, StoppedProber, keepalive_finding, stopped_prober};
pub use reset::{Confidence, ForgerySign, InjectedReset, ResetCause, ResetFinding, injected_reset, reset_finding};
pub use retransmission::{CaptureBlind, RetransmissionFinding, linux_retries_timeout, retransmission_finding};
pub use select::{Ending, Selector, any_matches};
pub use stall::{Stall, ZeroWindowFinding, zero_window_finding};

use crate::flow::{Connection, PacketRef, ResetMark, RstReply, Side};
use crate::neighbours::NeighbourLog;
use crate::time::Timestamp;
use arrayvec::ArrayVec;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// How a connection ended. The names are stable: they appear in the JSON
/// output and are what `--fail-on` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// One side's keepalive probes went unanswered and it gave up (reset or fell silent).
    KeepaliveTimeout,
    /// Data (or a FIN) was never acknowledged; the sender retransmitted with
    /// backoff until it gave up (Linux falls silent, BSD/macOS reset).
    RetransmissionTimeout,
    /// A RST ended the connection (not after a keepalive or retransmission timeout).
    Reset,
    /// Both sides sent FIN: an orderly close.
    Closed,
    /// One side sent FIN; the other had not closed when the capture ended.
    HalfClosed,
    /// The handshake never completed: SYNs nobody answered, or a SYN-ACK
    /// the client never acknowledged, or answered with the RST of a host
    /// with no socket for it (a SYN answered by RST is a refused `Reset`).
    NeverEstablished,
    /// Stuck when the capture ended: data still being retransmitted into
    /// a silence, or a receiver's window closed while its peer probed it.
    Stalled,
    /// A keepalive prober whose probes were answered stopped probing, and
    /// nothing more was seen: it ended where the capture could not see it
    /// (or keepalive was switched off); not known to be open.
    WentSilent,
    /// Still open when the capture ended.
    Open,
}

impl EndReason {
    pub const ALL: [EndReason; 9] = [
        EndReason::KeepaliveTimeout,
        EndReason::RetransmissionTimeout,
        EndReason::Reset,
        EndReason::Closed,
        EndReason::HalfClosed,
        EndReason::NeverEstablished,
        EndReason::Stalled,
        EndReason::WentSilent,
        EndReason::Open,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::KeepaliveTimeout => "keepalive-timeout",
            EndReason::RetransmissionTimeout => "retransmission-timeout",
            EndReason::Reset => "reset",
            EndReason::Closed => "closed",
            EndReason::HalfClosed => "half-closed",
            EndReason::NeverEstablished => "never-established",
            EndReason::Stalled => "stalled",
            EndReason::WentSilent => "went-silent",
            EndReason::Open => "open",
        }
    }

    /// What the verdict means, in a line (the help's list of verdicts).
    pub fn meaning(self) -> &'static str {
        match self {
            EndReason::KeepaliveTimeout => "a side's keepalive probes went unanswered; it gave up",
            EndReason::RetransmissionTimeout => "data was never acknowledged; its sender gave up",
            EndReason::Reset => "a RST ended the connection",
            EndReason::Closed => "both sides sent FIN",
            EndReason::HalfClosed => "one side sent FIN, the other never closed",
            EndReason::NeverEstablished => "SYNs nobody answered, or a SYN-ACK never acknowledged",
            EndReason::Stalled => "stuck at the end: retransmitting, or a zero window",
            EndReason::WentSilent => "an answered keepalive prober stopped; the end went unseen",
            EndReason::Open => "still open when the capture ended",
        }
    }

    /// Whether the default report lists connections with this verdict.
    pub fn is_abnormal(self) -> bool {
        matches!(
            self,
            EndReason::KeepaliveTimeout
                | EndReason::RetransmissionTimeout
                | EndReason::Reset
                | EndReason::HalfClosed
                | EndReason::NeverEstablished
                | EndReason::Stalled
                | EndReason::WentSilent
        )
    }

    /// Whether a connection with this verdict had not ended when it was
    /// judged (still open, or stuck), or whose end the capture did not see:
    /// nothing seen ended it, so no end is streamed.
    pub fn not_ended(self) -> bool {
        matches!(self, EndReason::Open | EndReason::Stalled | EndReason::WentSilent)
    }
}

/// The initial TTL a packet seen with `ttl` most likely left its host
/// with: the smallest of the usual ones (32, 64: Linux, BSD, macOS; 128:
/// Windows; 255: network devices, Solaris) that is at least `ttl`.
pub fn initial_ttl(ttl: u8) -> u8 {
    [32u8, 64, 128, 255].into_iter().find(|&i| i >= ttl).unwrap_or(255)
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EndReason {
    type Err = String;
    fn from_str(s: &str) -> Result<EndReason, String> {
        EndReason::ALL.iter().copied().find(|r| r.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = EndReason::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown verdict '{s}' (expected one of: {})", names.join(", "))
        })
    }
}

/// How sure a probe count is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    /// The prober gave up after exactly this many unanswered probes.
    Exact,
    /// The capture ended (or the connection ended otherwise) first: the setting is at least this.
    AtLeast,
}

/// How a connection ended, with the evidence of that ending.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The prober whose unanswered probes ended the connection (boxed: the
    /// largest finding, and most verdicts are not this one).
    KeepaliveTimeout(Box<KeepaliveFinding>),
    /// The sender that gave up on its unacknowledged data.
    RetransmissionTimeout(RetransmissionFinding),
    Reset(ResetFinding),
    Closed {
        /// The side that sent the first FIN.
        first_fin_by: Side,
        last_fin: PacketRef,
    },
    HalfClosed {
        fin_by: Side,
        fin: PacketRef,
        /// How long the other side then stayed open, until the capture ended (s).
        open_for_s: f64,
        /// Silence from the last packet to the end of the capture (s).
        idle_at_end_s: f64,
    },
    /// The handshake never completed.
    NeverEstablished(HandshakeFinding),
    /// Stuck when the capture ended (boxed: the findings are large, and
    /// most verdicts are not this one).
    Stalled(Box<Stall>),
    /// The prober that stopped probing.
    WentSilent(StoppedProber),
    Open {
        /// Silence from the last packet to the end of the capture (s).
        idle_at_end_s: f64,
    },
}

impl Verdict {
    /// The stable name of this ending.
    pub fn reason(&self) -> EndReason {
        match self {
            Verdict::KeepaliveTimeout(_) => EndReason::KeepaliveTimeout,
            Verdict::RetransmissionTimeout(_) => EndReason::RetransmissionTimeout,
            Verdict::Reset(_) => EndReason::Reset,
            Verdict::Closed { .. } => EndReason::Closed,
            Verdict::HalfClosed { .. } => EndReason::HalfClosed,
            Verdict::NeverEstablished(_) => EndReason::NeverEstablished,
            Verdict::Stalled(_) => EndReason::Stalled,
            Verdict::WentSilent(_) => EndReason::WentSilent,
            Verdict::Open { .. } => EndReason::Open,
        }
    }

    /// The side whose action ended it (the RST sender, the prober that gave up, the first FIN).
    pub fn ended_by(&self) -> Option<Side> {
        match self {
            Verdict::KeepaliveTimeout(k) => Some(k.prober),
            Verdict::RetransmissionTimeout(r) => Some(r.sender),
            Verdict::Reset(r) => Some(r.sender),
            Verdict::Closed { first_fin_by, .. } => Some(*first_fin_by),
            Verdict::HalfClosed { fin_by, .. } => Some(*fin_by),
            // Nobody ended it: it never began, it had not ended, or its end went unseen.
            Verdict::NeverEstablished(_) | Verdict::Stalled(_) | Verdict::WentSilent(_) | Verdict::Open { .. } => None,
        }
    }

    /// The packet that ended it.
    pub fn end_packet(&self) -> Option<PacketRef> {
        match self {
            Verdict::KeepaliveTimeout(k) => k.end_packet(),
            Verdict::RetransmissionTimeout(r) => Some(r.last),
            Verdict::Reset(r) => Some(r.rst),
            Verdict::Closed { last_fin, .. } => Some(*last_fin),
            Verdict::HalfClosed { fin, .. } => Some(*fin),
            Verdict::NeverEstablished(h) => Some(h.last),
            Verdict::Stalled(_) | Verdict::WentSilent(_) | Verdict::Open { .. } => None,
        }
    }

    /// For connections still open (or half-closed, or gone silent): silence
    /// from the last packet to the end of the capture (s).
    pub fn idle_at_end_s(&self) -> Option<f64> {
        match self {
            Verdict::HalfClosed { idle_at_end_s, .. } | Verdict::Open { idle_at_end_s } => Some(*idle_at_end_s),
            Verdict::WentSilent(s) => Some(s.silent_for_s),
            _ => None,
        }
    }
}

/// A judged connection: its verdict, and what else it showed.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// How it ended, with the evidence of that ending.
    pub verdict: Verdict,
    /// Keepalive findings of the sides whose probes did not end the
    /// connection (one a side at most, held inline: a `Vec` of them was an
    /// allocation per probed connection, and of over a KiB, past the
    /// allocator's per-thread cache); [`Judgement::keepalive`] gives all of them.
    pub other_keepalive: ArrayVec<KeepaliveFinding, 2>,
    /// Unacknowledged data that did not end the connection (its sender had
    /// not given up); [`Judgement::retransmission`] gives it either way.
    pub other_retransmission: Option<RetransmissionFinding>,
    /// A zero window still closed that is not the verdict (the connection
    /// ended otherwise); [`Judgement::zero_window`] gives it either way.
    pub other_zero_window: Option<ZeroWindowFinding>,
    pub heartbeat: Option<Heartbeat>,
    /// The silence that preceded the connection's death (a reset after idle,
    /// or data into a silent path), and the longest silence it survived.
    pub idle: IdleFinding,
    /// RSTs that did not end the connection: injected.
    pub injected: Vec<InjectedReset>,
}

/// Silences a connection died after, and survived.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IdleFinding {
    /// The silence that preceded the death (s), when it was an idle period.
    pub died_after_s: Option<f64>,
    /// The longest silence the connection survived (s): not the one that killed it.
    pub survived_s: Option<f64>,
}

impl Judgement {
    /// The stable name of how the connection ended.
    pub fn reason(&self) -> EndReason {
        self.verdict.reason()
    }

    /// The side whose action ended it.
    pub fn ended_by(&self) -> Option<Side> {
        self.verdict.ended_by()
    }

    /// The packet that ended it.
    pub fn end_packet(&self) -> Option<PacketRef> {
        self.verdict.end_packet()
    }

    /// Silence from the last packet to the end of the capture (s), for connections still open.
    pub fn idle_at_end_s(&self) -> Option<f64> {
        self.verdict.idle_at_end_s()
    }

    /// The keepalive findings of every probing side, client first (at most
    /// one a side: no allocation, asked several times per connection).
    /// Inlined: returned through memory, the list was loaded back in one
    /// piece from the callee's smaller stores, and stalled the Judge.
    #[inline]
    pub fn keepalive(&self) -> ArrayVec<&KeepaliveFinding, 2> {
        let mut all: ArrayVec<&KeepaliveFinding, 2> = self.other_keepalive.iter().collect();
        if let Verdict::KeepaliveTimeout(k) = &self.verdict {
            all.push(k);
        }
        if let [first, second] = &mut all[..]
            && first.prober as u8 > second.prober as u8
        {
            std::mem::swap(first, second);
        }
        all
    }

    /// The keepalive findings of every probing side, in no set order: for
    /// callers that add them up, on every connection judged. Nothing is
    /// gathered first: the list [`Judgement::keepalive`] returns was copied
    /// into its caller's frame (8-byte loads of its length, just written in
    /// 4 bytes), where `perf` put a sixth of `Judge::conclude`'s own samples.
    #[inline]
    pub fn keepalive_any_order(&self) -> impl Iterator<Item = &KeepaliveFinding> {
        let ended = match &self.verdict {
            Verdict::KeepaliveTimeout(k) => Some(&**k),
            _ => None,
        };
        self.other_keepalive.iter().chain(ended)
    }

    /// The unacknowledged data, whether or not it ended the connection.
    pub fn retransmission(&self) -> Option<&RetransmissionFinding> {
        match &self.verdict {
            Verdict::RetransmissionTimeout(r) => Some(r),
            Verdict::Stalled(stall) => match &**stall {
                Stall::Retransmitting(r) => Some(r),
                Stall::ZeroWindow(_) => self.other_retransmission.as_ref(),
            },
            _ => self.other_retransmission.as_ref(),
        }
    }

    /// Why the handshake never completed.
    pub fn handshake(&self) -> Option<&HandshakeFinding> {
        match &self.verdict {
            Verdict::NeverEstablished(h) => Some(h),
            _ => None,
        }
    }

    /// The zero window still closed when the connection was judged, whether or not it is the verdict.
    pub fn zero_window(&self) -> Option<&ZeroWindowFinding> {
        match &self.verdict {
            Verdict::Stalled(stall) => match &**stall {
                Stall::ZeroWindow(z) => Some(z),
                Stall::Retransmitting(_) => self.other_zero_window.as_ref(),
            },
            _ => self.other_zero_window.as_ref(),
        }
    }

    /// The verdict with, for a reset, its cause: what `--only` picks by.
    pub fn ending(&self) -> Ending {
        Ending { verdict: self.reason(), cause: self.reset().map(|r| r.cause) }
    }

    /// What the RST that ended the connection shows.
    pub fn reset(&self) -> Option<&ResetFinding> {
        match &self.verdict {
            Verdict::Reset(r) => Some(r),
            _ => None,
        }
    }
}

/// Silences shorter than this are not "idle periods" for the path-timeout inference.
pub const MIN_IDLE_OF_INTEREST_S: f64 = 1.0;

/// Judges a connection; `capture_end` is when the capture ended: its last
/// packet, or later when the file says it ran on (a pcapng's `isb_endtime`);
/// `link` the addresses the capture's link could not resolve (a silence
/// towards one of them is no give-up).
pub fn judge(conn: &Connection, capture_end: Timestamp, link: &NeighbourLog) -> Judgement {
    const SIDES: [Side; 2] = [Side::Client, Side::Server];
    let mut keepalive: ArrayVec<KeepaliveFinding, 2> = SIDES
        .into_iter()
        .filter(|&s| conn.side(s).keepalive().probes_sent > 0)
        .map(|s| {
            let me = conn.side(s);
            let peer_unresolved = link.unresolved(conn.side(s.peer()).addr().ip());
            keepalive_finding(s, me.keepalive(), &me.marks, peer_unresolved, capture_end)
        })
        .collect();
    let mut retransmission = SIDES
        .into_iter()
        .filter_map(|s| {
            let me = conn.side(s);
            let peer = conn.side(s.peer());
            let peer_unresolved = link.unresolved(peer.addr().ip());
            retransmission_finding(s, me.unacked.as_deref()?, &me.marks, &peer.marks, peer_unresolved, capture_end)
        })
        .min_by_key(|r| r.first_unacked.frame);

    let mut zero_window = SIDES
        .into_iter()
        .filter_map(|s| zero_window_finding(s, conn.side(s).zero_window()?, capture_end))
        .min_by_key(|z| z.since.frame);

    // A RST its sender went on after was injected only when the wire shows
    // a forgery (Weaver, Sommer and Paxson's signs: TTL, IP ID, numbers) or
    // the receiver carried on with the real host. Otherwise the one host
    // may have sent both: a SYN scanner's kernel answers the SYN-ACK with
    // RST (it has no socket for a raw SYN) and its user-space stack sends
    // data later (zeek modbus-and-non-modbus-p502.pcap, frames 62-66: RST
    // 64, data 65 15.6 s later, the honeypot's RST 66). Such a RST stands.
    let (injected, standing): (Vec<_>, Vec<_>) = SIDES
        .into_iter()
        .filter_map(|s| conn.side(s).marks.ignored_reset().map(|i| (injected_reset(s, i), i.rst)))
        .partition(|(i, rst)| !i.signs.is_empty() || rst.receiver_went_on.is_some());
    let injected: Vec<InjectedReset> = injected.into_iter().map(|(i, _)| i).collect();
    let first_rst: Option<(Side, ResetMark)> = SIDES
        .into_iter()
        .filter_map(|s| conn.side(s).marks.reset().map(|r| (s, *r)))
        .chain(standing.into_iter().map(|(i, rst)| (i.sender, rst)))
        .min_by_key(|(_, r)| r.at.frame);
    let fins = (conn.side(Side::Client).marks.fin.get(), conn.side(Side::Server).marks.fin.get());
    let fin_before_rst = |f: PacketRef| first_rst.is_none_or(|(_, r)| f.frame < r.at.frame);
    let idle_at_end_s = capture_end.secs_since(conn.last.ts).max(0.0);

    // Which verdict, in order of precedence: a prober or a sender that gave
    // up explains a RST that follows; an orderly close before any RST is a close.
    // When both ends gave up (both probing into a cut path), the first to
    // give up ended the connection; the other's finding stays with it.
    let first_give_up = (0..keepalive.len())
        .filter(|&i| keepalive[i].gave_up)
        .min_by_key(|&i| keepalive[i].end_packet().map_or(u64::MAX, |p| p.frame));
    let verdict = if let Some(i) = first_give_up {
        Verdict::KeepaliveTimeout(Box::new(keepalive.remove(i)))
    } else if let Some(r) = retransmission.take_if(|r| r.gave_up) {
        Verdict::RetransmissionTimeout(r)
    } else if let (Some(c), Some(s)) = fins
        && fin_before_rst(c)
        && fin_before_rst(s)
    {
        let (first_fin_by, last_fin) = if c.frame <= s.frame { (Side::Client, s) } else { (Side::Server, c) };
        Verdict::Closed { first_fin_by, last_fin }
    } else if let Some((_, rst)) = first_rst.filter(|&(side, rst)| side == Side::Client && answers_syn_ack(conn, &rst))
    {
        // The client answered the SYN-ACK as a host with no connection for
        // it (RFC 9293 §3.10.7.1): its kernel had no socket for the SYN, sent
        // from a raw socket (a half-open SYN scan: nmap -sS, masscan, zmap),
        // or by a connect() that had given up. Never established.
        let mut h = handshake_finding(&conn.side(Side::Client).marks, &conn.side(Side::Server).marks, capture_end);
        h.client_reset = Some(rst.at);
        Verdict::NeverEstablished(h)
    } else if let Some((side, rst)) = first_rst {
        let me = conn.side(side);
        let peer = conn.side(side.peer());
        let answered_probe = keepalive.iter().any(|k| k.prober != side && k.reset_by_peer == Some(rst.at));
        Verdict::Reset(reset_finding(side, &rst, &me.marks, &peer.marks, answered_probe))
    } else if conn.handshake_only {
        // Every packet carried SYN and none was a RST: never "open", and
        // nothing a middlebox could have forgotten.
        Verdict::NeverEstablished(handshake_finding(
            &conn.side(Side::Client).marks,
            &conn.side(Side::Server).marks,
            capture_end,
        ))
    } else if let Some(r) = retransmission.take_if(|r| r.still_retransmitting) {
        // Stuck rather than half-closed or open: a FIN still being
        // retransmitted is the same silence.
        Verdict::Stalled(Box::new(Stall::Retransmitting(r)))
    } else if let Some(z) = zero_window.take() {
        Verdict::Stalled(Box::new(Stall::ZeroWindow(z)))
    } else if let Some((fin_by, fin)) = SIDES.into_iter().find_map(|s| conn.side(s).marks.fin.get().map(|f| (s, f))) {
        Verdict::HalfClosed { fin_by, fin, open_for_s: capture_end.secs_since(fin.ts).max(0.0), idle_at_end_s }
    } else if let Some(stopped) = keepalive.iter().find_map(|k| {
        let peer_unresolved = link.unresolved(conn.side(k.prober.peer()).addr().ip());
        stopped_prober(k, conn.last, peer_unresolved, capture_end)
    }) {
        Verdict::WentSilent(stopped)
    } else {
        Verdict::Open { idle_at_end_s }
    };

    let idle = idle_finding(conn, &verdict, first_rst.map(|(_, r)| r));
    let heartbeat = SIDES
        .into_iter()
        .filter_map(|s| heartbeat_of(s, conn.side(s).small_messages()))
        .min_by_key(|h| conn.side(h.from).small_messages().first.get().map_or(u64::MAX, |p| p.frame));

    Judgement {
        verdict,
        other_keepalive: keepalive,
        other_retransmission: retransmission,
        other_zero_window: zero_window,
        heartbeat,
        idle,
        injected,
    }
}

/// Whether the client's RST `rst` is the no-socket answer to the server's
/// SYN-ACK, before the client had sent any data.
fn answers_syn_ack(conn: &Connection, rst: &ResetMark) -> bool {
    rst.reply == RstReply::ToAcked
        && rst.sender_payload_before.is_none()
        && conn.side(Side::Server).marks.syns().contains(&rst.follows)
}

/// The silence before the death and the longest one survived.
///
/// The death follows a silence for a reset after idle (one that a middlebox
/// forged or a host that lost the connection sent: its idle time is the
/// longer of the silences before the RST and before the packet it answered)
/// and for data sent into a path that had gone silent (the silence before
/// the data's first transmission). The silences are told apart by the
/// packet that ended each, so a survived silence as long as the fatal one
/// still counts.
fn idle_finding(conn: &Connection, verdict: &Verdict, rst: Option<ResetMark>) -> IdleFinding {
    // The fatal silence's length, and the packets ending the silences that are part of it.
    let fatal: Option<(f64, [u64; 2])> = match (verdict, rst) {
        (Verdict::Reset(r), Some(mark)) if matches!(r.cause, ResetCause::Middlebox | ResetCause::PeerLostState) => {
            Some((r.idle_before_s, [mark.at.frame, mark.follows.frame]))
        }
        (Verdict::RetransmissionTimeout(r), _) => Some((r.idle_before_s, [r.first_unacked.frame; 2])),
        _ => None,
    }
    .filter(|&(secs, _)| secs >= MIN_IDLE_OF_INTEREST_S);
    let survived_s = [conn.longest_gap(), conn.second_longest_gap()]
        .into_iter()
        .flatten()
        .find(|(_, ended_by)| fatal.is_none_or(|(_, fatal_ends)| !fatal_ends.contains(&ended_by.frame)))
        .map(|(secs, _)| secs);
    IdleFinding { died_after_s: fatal.map(|(secs, _)| secs), survived_s }
}

#[cfg(test)]
mod tests;
