//! The keepalive rule: what one side's probes show, and whether it gave up.

use super::{Bound, CaptureBlind};
use crate::flow::{KeepaliveLog, Marks, PacketRef, Side, UnprobedSilence};
use crate::infer::{TimerModel, TimerSetting, infer_keepalive_setting};
use crate::neighbours::Unresolved;
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
    /// How the prober's timer keeps time, which `idle` and `interval` assume.
    pub timer: TimerModel,
    /// The implied probe-count setting and how sure it is.
    pub probes: Option<(u32, Bound)>,
    /// The prober gave up on this connection.
    pub gave_up: bool,
    /// It gave up with a RST (Linux does); None if it fell silent.
    pub gave_up_with: Option<PacketRef>,
    /// The peer answered a probe with RST: it had lost the connection.
    pub reset_by_peer: Option<PacketRef>,
    /// The prober fell silent when the capture could no longer see its
    /// packets to the peer: that silence proves no give-up.
    pub capture_blind: Option<CaptureBlind>,
    /// 0 or 1 payload bytes per probe (the most common).
    pub probe_bytes: u8,
    /// TTL / hop limit of the prober's packets.
    pub ttl: Option<u8>,
    pub idle_from: Option<PacketRef>,
    /// The idle before the last train's first probe (s): the train that
    /// ended the connection, for a prober that gave up. The settings
    /// (`idle`) come from every train the prober sent.
    pub train_idle_s: Option<f64>,
    /// For a 0-byte (Linux-shaped) prober that reset the connection after
    /// its train: the TCP_USER_TIMEOUT values that give the same reset,
    /// `(low, high]` seconds after the last packet received (see
    /// [`user_timeout_between`]).
    pub user_timeout_between_s: Option<[f64; 2]>,
    /// Probes of the last train (at most the first ones kept and the latest).
    pub last_train: Vec<PacketRef>,
    pub last_train_count: u32,
    pub first_probe: Option<PacketRef>,
    pub last_answer: Option<PacketRef>,
    /// An answered probe followed by a silence of many times its idle in
    /// which the prober, its socket open, sent no probe (see
    /// [`one_off_probes`]): its probes were one-offs, and `idle` is None.
    pub one_off: Option<UnprobedSilence>,
}

impl KeepaliveFinding {
    /// The packet that ended the connection, for a prober that gave up: its
    /// RST, or its last probe when it fell silent.
    pub fn end_packet(&self) -> Option<PacketRef> {
        self.gave_up_with.or(self.last_train.last().copied())
    }
}

/// A prober that sent nothing for this many probe intervals after an
/// unanswered probe, while the capture went on, has given up; one whose
/// probes were answered and that sent nothing for this many of its idle
/// times has stopped probing.
const SILENT_GIVE_UP_INTERVALS: f64 = 3.0;

/// A keepalive prober whose probes were answered and that then fell
/// silent: the connection went silent, with no FIN or RST seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoppedProber {
    pub prober: Side,
    /// The shortest idle after which it probed (s): its period (a longer
    /// one is probes the capture missed).
    pub every_s: f64,
    /// The longest (s): its next probe was due at most this long after the
    /// connection's last packet.
    pub longest_idle_s: f64,
    pub probes_answered: u32,
    /// Its last probe.
    pub last_probe: PacketRef,
    /// The connection's last packet (the answer to that probe, or later traffic).
    pub last_packet: PacketRef,
    /// From the last packet to the end of the capture (s).
    pub silent_for_s: f64,
}

/// Whether the prober of `k` stopped probing: its probes were answered (at
/// least twice, so its idle is a period, not one gap), and nothing at all
/// was sent on the connection for [`SILENT_GIVE_UP_INTERVALS`] of its
/// longest idles before the capture ended (`last_packet` is the connection's last).
///
/// A kernel keeps probing an open socket whose probes are answered: Linux
/// tcp_keepalive_timer (net/ipv4/tcp_timer.c) re-arms itself after every
/// probe for as long as SO_KEEPALIVE is set and the socket is not closed,
/// and an answer restarts the idle (keepalive_time_elapsed counts from the
/// last packet received); BSD's tcp_timer_keep and Windows do the same
/// (RFC 1122 §4.2.3.6). So the missing probes say the socket was closed or
/// aborted where the capture could not see it (a FIN or RST it missed, the
/// host off the network or down: a phone that leaves a network destroys
/// that network's sockets), or keepalive was switched off: the wire cannot
/// tell which, and cannot call it open. Not when the link in front of the
/// peer could not resolve it while the probes were due (they died before
/// the capture point: see [`CaptureBlind`]).
pub fn stopped_prober(
    k: &KeepaliveFinding,
    last_packet: PacketRef,
    peer_unresolved: Option<&Unresolved>,
    capture_end: Timestamp,
) -> Option<StoppedProber> {
    let (every_s, longest_idle_s) = (k.idle_observed.min()?, k.idle_observed.max()?);
    let last_probe = *k.last_train.last()?;
    let silent_for_s = capture_end.secs_since(last_packet.ts);
    let due_within = SILENT_GIVE_UP_INTERVALS * longest_idle_s.max(1.0);
    let regular = k.unanswered_at_end == 0 && k.probes_answered >= 2 && k.reset_by_peer.is_none();
    let blind = CaptureBlind::during(peer_unresolved, last_packet.ts, last_packet.ts.after_secs(due_within));
    (regular && silent_for_s >= due_within && blind.is_none()).then_some(StoppedProber {
        prober: k.prober,
        every_s,
        longest_idle_s,
        probes_answered: k.probes_answered,
        last_probe,
        last_packet,
        silent_for_s,
    })
}

/// An unprobed silence after an answer this many times the prober's longest
/// observed idle (and at least [`ONE_OFF_MIN_SILENCE_S`]) shows no
/// keepalive timer: one fires the idle after the answer, give or take its
/// lateness (Linux's timer wheel: up to 1/8 late; BSD's slow tick: 500 ms).
const ONE_OFF_SILENCE_IDLES: f64 = 3.0;
const ONE_OFF_MIN_SILENCE_S: f64 = 10.0;

/// The silence that shows `log`'s probes were one-offs, if one does: after
/// an answered probe, while its socket stayed open (it sent more later),
/// the prober sent no probe for [`ONE_OFF_SILENCE_IDLES`] of its longest
/// observed idle. A keepalive timer re-arms after every answered probe and
/// fires the idle after the last packet received (Linux
/// `tcp_keepalive_timer`, net/ipv4/tcp_timer.c; BSD `tcp_timer_keep`;
/// RFC 1122 §4.2.3.6), so its idle cannot be what the probes showed: they
/// were single probes (an application's, or its stack's on some event —
/// suricata-verify tcp-opt.pcap, a TCP options test: probe 34 1.027 s
/// after the last data, answered by 35, then 30.4 s with no probe until
/// the client's data 36). They are still probes; they show no setting.
pub fn one_off_probes(log: &KeepaliveLog) -> Option<UnprobedSilence> {
    let idle = log.idle_observed.max()?;
    log.unprobed_after_answer().filter(|s| s.secs() >= (ONE_OFF_SILENCE_IDLES * idle).max(ONE_OFF_MIN_SILENCE_S))
}

/// Judges `prober`'s keepalive probes from its log and its marks (its RST,
/// its last packet, its TTL); `peer_unresolved` the unanswered requests for
/// the peer's address on the capture's link, if any.
///
/// A prober gave up only on evidence: its RST after the unanswered train
/// (Linux tcp_keepalive_timer → tcp_send_active_reset), or its silence for
/// [`SILENT_GIVE_UP_INTERVALS`] known probe intervals while the capture
/// went on. One unanswered probe whose interval nothing shows is a prober
/// still probing when the capture ended: its next probe may simply not be
/// due yet (Linux waits 75 s by default, up to 32767 s). Nor is a silence
/// the capture could not see through (see [`CaptureBlind`]).
pub fn keepalive_finding(
    prober: Side,
    log: &KeepaliveLog,
    me: &Marks,
    peer_unresolved: Option<&Unresolved>,
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
    let mut capture_blind = None;
    if let (true, Some(last)) = (unanswered, last_probe) {
        if let Some(rst) = me.rst_at().filter(|r| r.frame > last.at.frame) {
            interval_observed.add(rst.ts.secs_since(last.at.ts));
            gave_up_with = Some(rst);
            gave_up = true;
        } else if let Some(interval) = log.interval_observed.max() {
            // Nothing answered the last probe (the train is unanswered: the
            // peer's own crossing probes are no answer), and the prober sent
            // nothing after it for several of its intervals.
            let silent_for = capture_end.secs_since(last.at.ts);
            let due_within = SILENT_GIVE_UP_INTERVALS * interval.max(1.0);
            let its_last = me.last_sent.get() == Some(last.at);
            // Unless the link in front of the peer could not resolve it
            // while the next probes were due: they died before the capture.
            capture_blind = its_last
                .then(|| CaptureBlind::during(peer_unresolved, last.at.ts, last.at.ts.after_secs(due_within)))
                .flatten();
            gave_up = its_last && silent_for >= due_within && capture_blind.is_none();
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

    let train_idle_s =
        train.idle_from.get().zip(train.probes.first()).map(|(from, first)| first.at.ts.secs_since(from.ts));
    let user_timeout_between_s = match (gave_up_with, train.idle_from.get(), last_probe) {
        (Some(rst), Some(from), Some(last)) if log.one_byte_probes == 0 => {
            Some(user_timeout_between(from, last.at, rst, train.count))
        }
        _ => None,
    }
    // Past the longest user timeout Linux takes, no TCP_USER_TIMEOUT fits.
    .filter(|&[low, _]| low < LINUX_USER_TIMEOUT_MAX_S);
    let last_answer = train.probes.iter().rev().find_map(|p| p.answered_by().get());
    let probe_bytes = u8::from(log.one_byte_probes * 2 > log.probes_sent);
    let ttl = me.first_ttl();
    let timer = timer_model(probe_bytes, ttl);
    let reset_by_peer = train.probes.last().and_then(|p| p.reset_by().get());
    let one_off = one_off_probes(log);
    KeepaliveFinding {
        prober,
        probes_sent: log.probes_sent,
        probes_answered: log.probes_answered,
        unanswered_at_end,
        idle_observed: log.idle_observed,
        // No setting explains timings longer than any OS allows (see
        // infer), nor probes no timer sent.
        idle: infer_keepalive_setting(&log.idle_observed, timer).filter(|_| one_off.is_none()),
        interval: infer_keepalive_setting(&interval_observed, timer),
        timer,
        interval_observed,
        probes,
        gave_up,
        gave_up_with,
        reset_by_peer,
        capture_blind,
        probe_bytes,
        ttl,
        idle_from: train.idle_from.get(),
        train_idle_s,
        user_timeout_between_s,
        last_train: train.probes.iter().map(|p| p.at).collect(),
        last_train_count: train.count,
        first_probe: log.first_probe.get(),
        last_answer,
        one_off,
    }
}

/// How a prober's keepalive timer keeps time, from its probes' shape: a
/// 1-byte prober that is not Windows (initial TTL 128) is a 4.4BSD-derived
/// stack built with `TCP_COMPAT_42` (tcp_timers resends the byte before
/// SND.UNA), whose slow timer may fire up to a tick early; a 1-byte prober
/// with initial TTL 128 looks like Windows, whose timers fire within a tick
/// either way (see [`crate::infer`]); every other is taken to fire late,
/// never early.
pub fn timer_model(probe_bytes: u8, ttl: Option<u8>) -> TimerModel {
    match (probe_bytes, ttl.map(super::initial_ttl)) {
        (1, Some(128)) => TimerModel::WindowsTickOrLate,
        (1, _) => TimerModel::SlowTickOrLate,
        _ => TimerModel::Late,
    }
}

/// The longest TCP_USER_TIMEOUT Linux takes (s): milliseconds in an int,
/// negative values refused (do_tcp_setsockopt → tcp_sock_set_user_timeout),
/// so INT_MAX ms, about 24.9 days.
pub const LINUX_USER_TIMEOUT_MAX_S: f64 = i32::MAX as f64 / 1000.0;

/// The TCP_USER_TIMEOUT values under which Linux resets exactly when this
/// prober did, seconds after `idle_from` (the last packet that restarted its
/// timer): more than the time of its last probe, at most that of its RST.
///
/// With TCP_USER_TIMEOUT set, tcp_keepalive_timer (net/ipv4/tcp_timer.c)
/// ignores TCP_KEEPCNT: at each firing (idle, then every interval) it
/// resets once `elapsed >= icsk_user_timeout && icsk_probes_out > 0`,
/// `elapsed` being the time since the last packet received. So after `n`
/// probes the reset comes at the first firing past the user timeout: the
/// timeout is above the time of probe `n` (that firing sent a probe
/// instead) and at most the time of the reset. A single probe is sent at
/// the first firing whatever the user timeout (no probe was out yet), so
/// any value up to the reset's time fits.
pub fn user_timeout_between(idle_from: PacketRef, last_probe: PacketRef, rst: PacketRef, probes: u32) -> [f64; 2] {
    let low = if probes >= 2 { last_probe.ts.secs_since(idle_from.ts) } else { 0.0 };
    [low, rst.ts.secs_since(idle_from.ts)]
}
