//! Why a connection ended: the verdict vocabulary and the rules that pick one.

use crate::flow::{Connection, KeepaliveLog, MinMax, PacketRef, Side};
use crate::infer::{TimerSetting, infer_timer_setting};
use crate::time::Timestamp;
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
    /// Still open when the capture ended.
    Open,
}

/// Why a RST was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetCause {
    /// RST to a SYN: nothing listening, or a firewall rejecting.
    Refused,
    /// The RST's TTL / hop limit differs from that host's other packets: a
    /// firewall or NAT box forged it.
    Middlebox,
    /// A stateless RST from a host that no longer had the connection
    /// (rebooted, or its state timed out), answering a probe or a segment after an idle period.
    PeerLostState,
    /// The application closed while the peer's last data was still unanswered
    /// (Linux resets instead of FIN when unread data is discarded).
    AbortUnreadData,
    /// The application (or the stack) aborted the connection.
    Abort,
}

impl ResetCause {
    pub fn as_str(self) -> &'static str {
        match self {
            ResetCause::Refused => "refused",
            ResetCause::Middlebox => "middlebox",
            ResetCause::PeerLostState => "peer-lost-state",
            ResetCause::AbortUnreadData => "abort-unread-data",
            ResetCause::Abort => "abort",
        }
    }
}

/// What the RST that ended a connection shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ResetFinding {
    pub sender: Side,
    pub cause: ResetCause,
    pub rst: PacketRef,
    /// Silence before the RST (or before the segment it answered), seconds.
    pub idle_before_s: f64,
    /// For a forged RST: hops from the capture point to the injector, and to the real host.
    pub injector_hops: Option<u8>,
    pub host_hops: Option<u8>,
}

/// Data that was never acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct RetransmissionFinding {
    pub sender: Side,
    pub first_unacked: PacketRef,
    pub retransmissions: u32,
    /// Gaps between successive transmissions of the segment (s): the backoff series.
    pub backoff_s: Vec<f64>,
    /// From the first transmission to the last retransmission (or the sender's RST).
    pub gave_up_after_s: f64,
    /// A silent sender gave up before its next retransmission was due: at the
    /// latest this long after the first transmission (the last gap doubled).
    pub gave_up_by_s: f64,
    /// The sender reset the connection after its retransmissions (BSD/macOS do).
    pub reset_by_sender: Option<PacketRef>,
    /// The sender gave up (as opposed to: the capture ended while it was still retransmitting).
    pub gave_up: bool,
    /// How long the connection had been silent before the data was sent (s).
    pub idle_before_s: f64,
    /// tcp_retries2 values whose give-up time fits the observed series.
    pub retries2: Option<u32>,
}

/// An application heartbeat: small messages at a regular period in one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct Heartbeat {
    pub from: Side,
    pub period_s: f64,
    pub messages: u32,
}

impl EndReason {
    pub const ALL: [EndReason; 6] = [
        EndReason::KeepaliveTimeout,
        EndReason::RetransmissionTimeout,
        EndReason::Reset,
        EndReason::Closed,
        EndReason::HalfClosed,
        EndReason::Open,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::KeepaliveTimeout => "keepalive-timeout",
            EndReason::RetransmissionTimeout => "retransmission-timeout",
            EndReason::Reset => "reset",
            EndReason::Closed => "closed",
            EndReason::HalfClosed => "half-closed",
            EndReason::Open => "open",
        }
    }

    /// Whether the default report lists connections with this verdict.
    pub fn is_abnormal(self) -> bool {
        matches!(
            self,
            EndReason::KeepaliveTimeout | EndReason::RetransmissionTimeout | EndReason::Reset | EndReason::HalfClosed
        )
    }
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

/// What one side's keepalive probes show.
#[derive(Clone, Debug, PartialEq)]
pub struct KeepaliveFinding {
    pub prober: Side,
    pub probes_sent: u32,
    pub probes_answered: u32,
    /// Probes of the last train that nobody answered.
    pub unanswered_at_end: u32,
    pub idle_observed: MinMax,
    pub idle: Option<TimerSetting>,
    pub interval_observed: MinMax,
    pub interval: Option<TimerSetting>,
    /// The implied probe-count setting and how sure it is.
    pub probes: Option<(u32, Bound)>,
    /// The prober gave up on this connection.
    pub gave_up: bool,
    /// It gave up with a RST (Linux does); None if it fell silent.
    pub gave_up_with: Option<PacketRef>,
    /// The peer answered a probe with RST: it had lost the connection.
    pub reset_by_peer: Option<PacketRef>,
    /// 0 or 1 payload bytes per probe (the most common).
    pub probe_bytes: u8,
    /// TTL / hop limit of the prober's packets.
    pub ttl: Option<u8>,
    pub idle_from: Option<PacketRef>,
    /// Probes of the last train (at most the first ones kept and the latest).
    pub last_train: Vec<PacketRef>,
    pub last_train_count: u32,
    pub first_probe: Option<PacketRef>,
    pub last_answer: Option<PacketRef>,
}

/// The verdict on one connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub end_reason: EndReason,
    /// The side whose action ended it (the RST sender, the prober that gave up).
    pub ended_by: Option<Side>,
    /// The packet that ended it.
    pub end_packet: Option<PacketRef>,
    pub keepalive: Vec<KeepaliveFinding>,
    pub reset: Option<ResetFinding>,
    pub retransmission: Option<RetransmissionFinding>,
    /// For a half-closed connection: who sent the FIN, and how long the other side then stayed open (s).
    pub half_closed: Option<(Side, f64)>,
    /// Silence from the last packet to the end of the capture (s), for connections still open.
    pub idle_at_end_s: Option<f64>,
    pub heartbeat: Option<Heartbeat>,
    /// The silence that preceded the connection's death (a reset after idle, or
    /// data into a silent path), and the longest silence it survived before that.
    pub died_after_idle_s: Option<f64>,
    pub survived_idle_s: Option<f64>,
}

/// A prober that sent nothing for this many probe intervals after an
/// unanswered probe, while the capture went on, has given up.
const SILENT_GIVE_UP_INTERVALS: f64 = 3.0;

/// Judges a connection; `capture_end` is the time of the capture's last packet.
pub fn judge(conn: &Connection, capture_end: Timestamp) -> Verdict {
    let keepalive: Vec<KeepaliveFinding> = [Side::Client, Side::Server]
        .into_iter()
        .filter(|&s| conn.side(s).keepalive().probes_sent > 0)
        .map(|s| keepalive_finding(conn, s, capture_end))
        .collect();

    let first_rst = [Side::Client, Side::Server]
        .into_iter()
        .filter_map(|s| conn.side(s).rst().map(|r| (s, r)))
        .min_by_key(|(_, r)| r.frame);
    let both_fin = conn.sides.iter().all(|h| h.marks.fin.is_some());
    let closed_before_rst = both_fin
        && first_rst.is_none_or(|(_, r)| conn.sides.iter().all(|h| h.marks.fin.is_some_and(|f| f.frame < r.frame)));

    let retransmission = [Side::Client, Side::Server]
        .into_iter()
        .filter_map(|s| retransmission_finding(conn, s, capture_end))
        .min_by_key(|r| r.first_unacked.frame);

    let (end_reason, ended_by, end_packet) = if let Some(k) = keepalive.iter().find(|k| k.gave_up) {
        (EndReason::KeepaliveTimeout, Some(k.prober), k.gave_up_with.or(k.last_train.last().copied()))
    } else if let Some(r) = retransmission.as_ref().filter(|r| r.gave_up) {
        let last = r
            .reset_by_sender
            .or_else(|| conn.side(r.sender).unacked.as_ref().and_then(|u| u.retransmissions.last().copied()));
        (EndReason::RetransmissionTimeout, Some(r.sender), last)
    } else if closed_before_rst {
        let last_fin = conn.sides.iter().filter_map(|h| h.marks.fin).max_by_key(|f| f.frame);
        let first_fin_side = [Side::Client, Side::Server]
            .into_iter()
            .min_by_key(|&s| conn.side(s).marks.fin.map_or(u64::MAX, |f| f.frame));
        (EndReason::Closed, first_fin_side, last_fin)
    } else if let Some((side, rst)) = first_rst {
        (EndReason::Reset, Some(side), Some(rst))
    } else if let Some(side) = [Side::Client, Side::Server].into_iter().find(|&s| conn.side(s).marks.fin.is_some()) {
        (EndReason::HalfClosed, Some(side), conn.side(side).marks.fin)
    } else {
        (EndReason::Open, None, None)
    };

    let reset = match (end_reason, ended_by, end_packet) {
        (EndReason::Reset, Some(side), Some(rst)) => Some(reset_finding(conn, side, rst, &keepalive)),
        _ => None,
    };
    let half_closed = match (end_reason, ended_by, end_packet) {
        (EndReason::HalfClosed, Some(side), Some(fin)) => Some((side, capture_end.secs_since(fin.ts).max(0.0))),
        _ => None,
    };
    let idle_at_end_s = matches!(end_reason, EndReason::Open | EndReason::HalfClosed)
        .then(|| capture_end.secs_since(conn.last.ts).max(0.0));

    // The silence before the death: a reset that came after an idle period,
    // or data sent into a path that had gone silent.
    let died_after_idle_s = match (&reset, &retransmission) {
        (Some(r), _) if matches!(r.cause, ResetCause::Middlebox | ResetCause::PeerLostState) => Some(r.idle_before_s),
        (_, Some(r)) if end_reason == EndReason::RetransmissionTimeout => Some(r.idle_before_s),
        _ => None,
    }
    .filter(|&g| g >= MIN_IDLE_OF_INTEREST_S);
    let fatal_frame = match (&reset, &retransmission) {
        (Some(r), _) if died_after_idle_s.is_some() => Some(r.rst.frame),
        (_, Some(r)) if died_after_idle_s.is_some() => Some(r.first_unacked.frame),
        _ => None,
    };
    // The longest gap that the connection survived: not the one right before its death.
    let survived_idle_s = [conn.longest_gap, conn.second_longest_gap]
        .into_iter()
        .flatten()
        .find(|(g, at)| {
            died_after_idle_s.is_none_or(|d| (g - d).abs() > 1e-6)
                && fatal_frame.is_none_or(|f| at.frame != f && at.frame + 1 != f)
        })
        .map(|(g, _)| g);

    let heartbeat = [Side::Client, Side::Server]
        .into_iter()
        .filter_map(|s| heartbeat_of(conn, s))
        .min_by_key(|h| conn.side(h.from).small_messages().first.map_or(u64::MAX, |p| p.frame));

    Verdict {
        end_reason,
        ended_by,
        end_packet,
        keepalive,
        reset,
        retransmission,
        half_closed,
        idle_at_end_s,
        heartbeat,
        died_after_idle_s,
        survived_idle_s,
    }
}

/// Silences shorter than this are not "idle periods" for the path-timeout inference.
pub const MIN_IDLE_OF_INTEREST_S: f64 = 1.0;

/// A sender that has been silent this many times its last backoff gap after
/// its last retransmission (and at least this many seconds) has given up.
const RETRANSMISSION_GIVE_UP_FACTOR: f64 = 2.0;
const RETRANSMISSION_GIVE_UP_MIN_S: f64 = 1.0;

fn retransmission_finding(conn: &Connection, sender: Side, capture_end: Timestamp) -> Option<RetransmissionFinding> {
    let me = conn.side(sender);
    let run = me.unacked.as_ref()?;
    if run.count == 0 {
        return None;
    }
    let peer = conn.side(sender.peer());
    // The peer answered something after the data was sent: not a silent path.
    if peer
        .marks
        .last_sent
        .is_some_and(|p| p.frame > run.first_sent.frame && peer.rst().is_none_or(|r| r.frame != p.frame))
    {
        return None;
    }
    let mut times = vec![run.first_sent];
    times.extend(run.retransmissions.iter().copied());
    let backoff_s: Vec<f64> = times.windows(2).map(|w| w[1].ts.secs_since(w[0].ts)).collect();
    let last = *times.last().expect("non-empty");
    let reset_by_sender = me.rst().filter(|r| r.frame > last.frame);
    let last_gap = backoff_s.last().copied().unwrap_or(0.0);
    let silent_for = capture_end.secs_since(me.marks.last_sent.map_or(last.ts, |p| p.ts));
    let gave_up = reset_by_sender.is_some()
        || (me.marks.last_sent == Some(last)
            && silent_for >= (RETRANSMISSION_GIVE_UP_FACTOR * last_gap).max(RETRANSMISSION_GIVE_UP_MIN_S));
    let end = reset_by_sender.unwrap_or(last);
    let gave_up_after_s = end.ts.secs_since(run.first_sent.ts);
    // Linux gives up at the first RTO expiry where the time since the first
    // transmission reaches tcp_model_timeout(tcp_retries2): after the last
    // retransmission, before the next one would have gone out.
    // (The last retransmission went out, so at that moment the time was not
    // yet up: strictly more than its elapsed time, give or take a millisecond.)
    let next_expiry = gave_up_after_s + last_gap * 2.0;
    let retries2 = (1..=30).find(|&n| {
        let t = linux_retries_timeout(n);
        t > gave_up_after_s + 0.001 && t <= next_expiry * 1.05
    });
    Some(RetransmissionFinding {
        sender,
        first_unacked: run.first_sent,
        retransmissions: run.count,
        backoff_s,
        gave_up_after_s,
        gave_up_by_s: next_expiry,
        reset_by_sender,
        gave_up,
        idle_before_s: run.idle_before_s,
        retries2: if reset_by_sender.is_none() { retries2 } else { None },
    })
}

/// Linux `tcp_model_timeout()` with TCP_RTO_MIN = 200 ms and TCP_RTO_MAX = 120 s:
/// how long a sender retransmits before giving up with tcp_retries2 = `boundary`
/// (15, the default, gives 924.6 s).
pub fn linux_retries_timeout(boundary: u32) -> f64 {
    const RTO_MIN: f64 = 0.2;
    const RTO_MAX: f64 = 120.0;
    // ilog2(TCP_RTO_MAX / TCP_RTO_MIN) = ilog2(600) = 9
    const LINEAR_BACKOFF_THRESH: u32 = 9;
    if boundary <= LINEAR_BACKOFF_THRESH {
        ((2u64 << boundary) - 1) as f64 * RTO_MIN
    } else {
        ((2u64 << LINEAR_BACKOFF_THRESH) - 1) as f64 * RTO_MIN + (boundary - LINEAR_BACKOFF_THRESH) as f64 * RTO_MAX
    }
}

/// The usual initial TTLs: a packet seen with TTL t left its host with the
/// smallest of these that is at least t.
fn hops(ttl: u8) -> u8 {
    let initial = [32u8, 64, 128, 255].into_iter().find(|&i| i >= ttl).unwrap_or(255);
    initial - ttl
}

fn reset_finding(conn: &Connection, sender: Side, rst: PacketRef, keepalive: &[KeepaliveFinding]) -> ResetFinding {
    let me = conn.side(sender);
    let peer = conn.side(sender.peer());
    let idle_before_s = me.marks.rst.map_or(0.0, |r| r.idle_before_s);
    let mut finding =
        ResetFinding { sender, cause: ResetCause::Abort, rst, idle_before_s, injector_hops: None, host_hops: None };
    let sent_other_packets = me.counts.packets > 1;
    // Refused: the RST answers a SYN (nothing else came from that side).
    if peer.marks.syn.is_some() && me.marks.syn.is_none() && !sent_other_packets {
        finding.cause = ResetCause::Refused;
        return finding;
    }
    // Forged by a middlebox: the host's own packets arrive with another TTL.
    if let (Some(first), Some(rst_ttl)) = (me.marks.first_ttl, me.marks.rst.map(|r| r.ttl))
        && sent_other_packets
        && first != rst_ttl
    {
        finding.cause = ResetCause::Middlebox;
        finding.injector_hops = Some(hops(rst_ttl));
        finding.host_hops = Some(hops(first));
        return finding;
    }
    // A host that lost the connection answers with a stateless RST: it lacks
    // the timestamp option both SYNs negotiated, or it answers a keepalive probe.
    let answered_probe = keepalive.iter().any(|k| k.prober != sender && k.reset_by_peer == Some(rst));
    let negotiated_ts = me.marks.syn_timestamps && peer.marks.syn_timestamps;
    let stateless = negotiated_ts && !me.marks.rst.is_some_and(|r| r.has_timestamp);
    if answered_probe || (stateless && idle_before_s >= MIN_IDLE_OF_INTEREST_S) {
        finding.cause = ResetCause::PeerLostState;
        return finding;
    }
    // The peer's data was the last payload and got no reply: the application
    // closed with it unread (Linux then resets instead of sending FIN).
    if peer.marks.last_payload.is_some_and(|p| me.marks.last_payload.is_none_or(|m| m.frame < p.frame))
        && me.marks.fin.is_none()
    {
        finding.cause = ResetCause::AbortUnreadData;
    }
    finding
}

/// At least this many small messages make a heartbeat.
const HEARTBEAT_MIN_MESSAGES: u32 = 4;
/// This share of the gaps must be within `HEARTBEAT_TOLERANCE` of the median.
const HEARTBEAT_REGULAR_SHARE: f64 = 0.75;
const HEARTBEAT_TOLERANCE: f64 = 0.2;
const HEARTBEAT_MIN_PERIOD_S: f64 = 0.5;

fn heartbeat_of(conn: &Connection, side: Side) -> Option<Heartbeat> {
    let m = conn.side(side).small_messages();
    if m.count < HEARTBEAT_MIN_MESSAGES || m.gaps.len() + 1 < HEARTBEAT_MIN_MESSAGES as usize {
        return None;
    }
    let mut gaps: Vec<f64> = m.gaps.iter().map(|&g| f64::from(g)).collect();
    gaps.sort_by(f64::total_cmp);
    let median = gaps[gaps.len() / 2];
    if median < HEARTBEAT_MIN_PERIOD_S {
        return None;
    }
    let regular = gaps.iter().filter(|&&g| (g - median).abs() <= HEARTBEAT_TOLERANCE * median).count();
    (regular as f64 >= HEARTBEAT_REGULAR_SHARE * gaps.len() as f64).then_some(Heartbeat {
        from: side,
        period_s: median,
        messages: m.count,
    })
}

fn keepalive_finding(conn: &Connection, prober: Side, capture_end: Timestamp) -> KeepaliveFinding {
    let me = conn.side(prober);
    let log: &KeepaliveLog = me.keepalive();
    let train = &log.train;
    let last_probe = train.probes.last().copied();
    let unanswered = train.unanswered();
    let unanswered_at_end = if unanswered { train.count } else { 0 };

    let mut interval_observed = log.interval_observed;
    // Linux resets the connection one interval after the last unanswered
    // probe (tcp_keepalive_timer: probes_out >= keepalive_probes → reset), so
    // that gap is an interval observation too.
    let mut gave_up_with = None;
    let mut gave_up = false;
    if let (true, Some(last)) = (unanswered, last_probe) {
        if let Some(rst) = me.rst().filter(|r| r.frame > last.at.frame) {
            interval_observed.add(rst.ts.secs_since(last.at.ts));
            gave_up_with = Some(rst);
            gave_up = true;
        } else {
            let silent_for = capture_end.secs_since(me.marks.last_sent.map_or(last.at.ts, |p| p.ts));
            let interval = log.interval_observed.max.unwrap_or(1.0).max(1.0);
            let peer_silent = conn.side(prober.peer()).marks.last_sent.is_none_or(|p| p.ts <= last.at.ts);
            gave_up =
                me.marks.last_sent == Some(last.at) && peer_silent && silent_for >= SILENT_GIVE_UP_INTERVALS * interval;
        }
    }

    let probes = if unanswered {
        match gave_up_with {
            Some(_) => Some((train.count, Bound::Exact)),
            None => Some((train.count, Bound::AtLeast)),
        }
    } else if log.longest_train > 1 {
        // A train answered after n-1 unanswered probes: the prober had not
        // given up after n-1, so the setting is at least n.
        Some((log.longest_train, Bound::AtLeast))
    } else {
        None
    };

    let last_answer = train.probes.iter().rev().find_map(|p| p.answered_by);
    let reset_by_peer = train.probes.last().and_then(|p| p.reset_by);
    KeepaliveFinding {
        prober,
        probes_sent: log.probes_sent,
        probes_answered: log.probes_answered,
        unanswered_at_end,
        idle_observed: log.idle_observed,
        idle: infer_timer_setting(&log.idle_observed),
        interval: infer_timer_setting(&interval_observed),
        interval_observed,
        probes,
        gave_up,
        gave_up_with,
        reset_by_peer,
        probe_bytes: u8::from(log.one_byte_probes * 2 > log.probes_sent),
        ttl: me.marks.first_ttl,
        idle_from: train.idle_from,
        last_train: train.probes.iter().map(|p| p.at).collect(),
        last_train_count: train.count,
        first_probe: log.first_probe,
        last_answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in EndReason::ALL {
            assert_eq!(r.as_str().parse::<EndReason>(), Ok(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.as_str()));
        }
        let err = "nope".parse::<EndReason>().unwrap_err();
        assert!(err.contains("keepalive-timeout"), "{err}");
    }
}
