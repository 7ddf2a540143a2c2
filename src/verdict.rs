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
    /// A RST ended the connection (not after a keepalive timeout).
    Reset,
    /// Both sides sent FIN: an orderly close.
    Closed,
    /// Still open when the capture ended.
    Open,
}

impl EndReason {
    pub const ALL: [EndReason; 4] =
        [EndReason::KeepaliveTimeout, EndReason::Reset, EndReason::Closed, EndReason::Open];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::KeepaliveTimeout => "keepalive-timeout",
            EndReason::Reset => "reset",
            EndReason::Closed => "closed",
            EndReason::Open => "open",
        }
    }

    /// Whether the default report lists connections with this verdict.
    pub fn is_abnormal(self) -> bool {
        matches!(self, EndReason::KeepaliveTimeout | EndReason::Reset)
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
}

/// A prober that sent nothing for this many probe intervals after an
/// unanswered probe, while the capture went on, has given up.
const SILENT_GIVE_UP_INTERVALS: f64 = 3.0;

/// Judges a connection; `capture_end` is the time of the capture's last packet.
pub fn judge(conn: &Connection, capture_end: Timestamp) -> Verdict {
    let keepalive: Vec<KeepaliveFinding> = [Side::Client, Side::Server]
        .into_iter()
        .filter(|&s| conn.side(s).keepalive.probes_sent > 0)
        .map(|s| keepalive_finding(conn, s, capture_end))
        .collect();

    let first_rst = [Side::Client, Side::Server]
        .into_iter()
        .filter_map(|s| conn.side(s).rst.map(|r| (s, r)))
        .min_by_key(|(_, r)| r.frame);
    let both_fin = conn.sides.iter().all(|h| h.fin.is_some());
    let closed_before_rst = both_fin
        && first_rst.is_none_or(|(_, r)| conn.sides.iter().all(|h| h.fin.is_some_and(|f| f.frame < r.frame)));

    let (end_reason, ended_by, end_packet) = if let Some(k) = keepalive.iter().find(|k| k.gave_up) {
        (EndReason::KeepaliveTimeout, Some(k.prober), k.gave_up_with.or(k.last_train.last().copied()))
    } else if closed_before_rst {
        let last_fin = conn.sides.iter().filter_map(|h| h.fin).max_by_key(|f| f.frame);
        let first_fin_side = [Side::Client, Side::Server]
            .into_iter()
            .min_by_key(|&s| conn.side(s).fin.map_or(u64::MAX, |f| f.frame));
        (EndReason::Closed, first_fin_side, last_fin)
    } else if let Some((side, rst)) = first_rst {
        (EndReason::Reset, Some(side), Some(rst))
    } else {
        (EndReason::Open, None, None)
    };
    Verdict { end_reason, ended_by, end_packet, keepalive }
}

fn keepalive_finding(conn: &Connection, prober: Side, capture_end: Timestamp) -> KeepaliveFinding {
    let me = conn.side(prober);
    let log: &KeepaliveLog = &me.keepalive;
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
        if let Some(rst) = me.rst.filter(|r| r.frame > last.at.frame) {
            interval_observed.add(rst.ts.secs_since(last.at.ts));
            gave_up_with = Some(rst);
            gave_up = true;
        } else {
            let silent_for = capture_end.secs_since(me.last_sent.map_or(last.at.ts, |p| p.ts));
            let interval = log.interval_observed.max.unwrap_or(1.0).max(1.0);
            let peer_silent = conn.side(prober.peer()).last_sent.is_none_or(|p| p.ts <= last.at.ts);
            gave_up = me.last_sent == Some(last.at)
                && peer_silent
                && silent_for >= SILENT_GIVE_UP_INTERVALS * interval;
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
        ttl: me.first_ttl,
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
