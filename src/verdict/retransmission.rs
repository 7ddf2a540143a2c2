//! The retransmission rule: data that was never acknowledged, and whether
//! its sender gave up.

use crate::flow::{Marks, PacketRef, RetransmissionRun, Side};
use crate::time::Timestamp;

/// Data that was never acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct RetransmissionFinding {
    pub sender: Side,
    pub first_unacked: PacketRef,
    /// The last retransmission, or the sender's RST after it.
    pub last: PacketRef,
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

/// A sender that has been silent this many times its last backoff gap after
/// its last retransmission (and at least this many seconds) has given up.
const RETRANSMISSION_GIVE_UP_FACTOR: f64 = 2.0;
const RETRANSMISSION_GIVE_UP_MIN_S: f64 = 1.0;

/// The next retransmission timer runs twice as long as the last gap (RFC
/// 6298 §5.5 back-off, Linux `inet_csk_rto_backoff`): a sender that gave up
/// silently did so before that expiry.
const RTO_BACKOFF: f64 = 2.0;
/// The largest tcp_retries2 value tried (from 1): well past the default 15;
/// `tcp_model_timeout` grows by TCP_RTO_MAX per step beyond 9, so 30 is
/// about 45 minutes, longer than any setting seen in practice.
const RETRIES2_MAX: u32 = 30;
/// The last retransmission went out, so the sender's time was not yet up
/// then: its timeout is strictly longer than the elapsed time, give or take
/// this much capture timestamp jitter (s).
const RETRIES2_JITTER_S: f64 = 0.001;
/// Timers fire late (timer slack, a busy host), so a give-up time up to this
/// factor past the next expiry still fits.
const RETRIES2_LATE_FACTOR: f64 = 1.05;

/// Judges `sender`'s unacknowledged run. `me` and `peer` are the marks of the
/// sender and its peer. None when nothing was retransmitted, or when the peer
/// answered something after the data was sent (not a silent path).
pub fn retransmission_finding(
    sender: Side,
    run: &RetransmissionRun,
    me: &Marks,
    peer: &Marks,
    capture_end: Timestamp,
) -> Option<RetransmissionFinding> {
    if run.count == 0 {
        return None;
    }
    // The peer answered something after the data was sent: not a silent path.
    let peer_rst = peer.rst_at();
    if peer
        .last_sent
        .get()
        .is_some_and(|p| p.frame > run.first_sent.frame && peer_rst.is_none_or(|r| r.frame != p.frame))
    {
        return None;
    }
    let mut times = vec![run.first_sent];
    times.extend(run.retransmissions.iter().copied());
    let backoff_s: Vec<f64> = times.windows(2).map(|w| w[1].ts.secs_since(w[0].ts)).collect();
    let last = run.retransmissions.last().copied().unwrap_or(run.first_sent);
    let reset_by_sender = me.rst_at().filter(|r| r.frame > last.frame);
    let last_gap = backoff_s.last().copied().unwrap_or(0.0);
    let silent_for = capture_end.secs_since(me.last_sent.get().map_or(last.ts, |p| p.ts));
    let gave_up = reset_by_sender.is_some()
        || (me.last_sent.get() == Some(last)
            && silent_for >= (RETRANSMISSION_GIVE_UP_FACTOR * last_gap).max(RETRANSMISSION_GIVE_UP_MIN_S));
    let end = reset_by_sender.unwrap_or(last);
    let gave_up_after_s = end.ts.secs_since(run.first_sent.ts);
    // Linux gives up at the first RTO expiry where the time since the first
    // transmission reaches tcp_model_timeout(tcp_retries2): after the last
    // retransmission, before the next one would have gone out.
    let next_expiry = gave_up_after_s + last_gap * RTO_BACKOFF;
    let retries2 = (1..=RETRIES2_MAX).find(|&n| {
        let t = linux_retries_timeout(n);
        t > gave_up_after_s + RETRIES2_JITTER_S && t <= next_expiry * RETRIES2_LATE_FACTOR
    });
    Some(RetransmissionFinding {
        sender,
        first_unacked: run.first_sent,
        last: end,
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
