//! The keepalive rule: what one side's probes show, and whether it gave up.

use super::Bound;
use crate::flow::{KeepaliveLog, Marks, PacketRef, Side};
use crate::infer::{TimerSetting, infer_timer_setting};
use crate::time::{MinMax, Timestamp};

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

impl KeepaliveFinding {
    /// The packet that ended the connection, for a prober that gave up: its
    /// RST, or its last probe when it fell silent.
    pub fn end_packet(&self) -> Option<PacketRef> {
        self.gave_up_with.or(self.last_train.last().copied())
    }
}

/// A prober that sent nothing for this many probe intervals after an
/// unanswered probe, while the capture went on, has given up.
const SILENT_GIVE_UP_INTERVALS: f64 = 3.0;

/// Judges `prober`'s keepalive probes from its log and its marks (its RST,
/// its last packet, its TTL); `peer_last_sent` is the last packet from the
/// other side.
pub fn keepalive_finding(
    prober: Side,
    log: &KeepaliveLog,
    me: &Marks,
    peer_last_sent: Option<PacketRef>,
    capture_end: Timestamp,
) -> KeepaliveFinding {
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
        if let Some(rst) = me.rst_at().filter(|r| r.frame > last.at.frame) {
            interval_observed.add(rst.ts.secs_since(last.at.ts));
            gave_up_with = Some(rst);
            gave_up = true;
        } else {
            let silent_for = capture_end.secs_since(me.last_sent.get().map_or(last.at.ts, |p| p.ts));
            let interval = log.interval_observed.max.unwrap_or(1.0).max(1.0);
            let peer_silent = peer_last_sent.is_none_or(|p| p.ts <= last.at.ts);
            gave_up =
                me.last_sent.get() == Some(last.at) && peer_silent && silent_for >= SILENT_GIVE_UP_INTERVALS * interval;
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

    let last_answer = train.probes.iter().rev().find_map(|p| p.answered_by.get());
    let reset_by_peer = train.probes.last().and_then(|p| p.reset_by.get());
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
        idle_from: train.idle_from.get(),
        last_train: train.probes.iter().map(|p| p.at).collect(),
        last_train_count: train.count,
        first_probe: log.first_probe.get(),
        last_answer,
    }
}
