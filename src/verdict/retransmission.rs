//! The retransmission rule: data that was never acknowledged, whether its
//! sender gave up, and whether it was still trying when the capture ended.

use super::initial_ttl;
use crate::flow::{Marks, PacketRef, RetransmissionRun, Side};
use crate::neighbours::Unresolved;
use crate::time::Timestamp;

/// The capture could not see a sender's next packets to its peer: the link
/// in front of the peer kept asking for the peer's address and nothing
/// answered (see [`crate::neighbours`]), so what was sent to it died
/// before the capture point. A silence then proves no give-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureBlind {
    /// The first and the last of the unanswered requests for the peer's address.
    pub first_request: PacketRef,
    pub last_request: PacketRef,
    pub requests: u32,
}

impl CaptureBlind {
    /// `unresolved`, when its requests overlap the span from `from` to
    /// `until`: when the sender's next packet was due.
    pub fn during(unresolved: Option<&Unresolved>, from: Timestamp, until: Timestamp) -> Option<CaptureBlind> {
        let u = unresolved.filter(|u| u.spans(from, until))?;
        let packet = |a: crate::neighbours::Asked| PacketRef { frame: a.frame, ts: a.ts };
        Some(CaptureBlind { first_request: packet(u.first), last_request: packet(u.last), requests: u.requests })
    }
}

/// Data that was never acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct RetransmissionFinding {
    pub sender: Side,
    /// The first transmission of the oldest unacknowledged segment (also
    /// after partial ACKs: the segment the peer's ACKs stopped at).
    pub first_unacked: PacketRef,
    /// The last retransmission, or the sender's RST after it.
    pub last: PacketRef,
    pub retransmissions: u32,
    /// Gaps between successive transmissions of the segment (s): the backoff series.
    pub backoff_s: Vec<f64>,
    /// Two or more gaps that do not grow: no retransmission timer's backoff
    /// (RFC 6298 §5.5 doubles the timeout at each expiry, and Linux,
    /// Windows, BSD and macOS all do), so no OS's give-up schedule applies.
    pub steady_gaps: bool,
    /// From the first transmission to the last retransmission (or the sender's RST).
    pub gave_up_after_s: f64,
    /// A silent sender gave up before its next retransmission was due: at the
    /// latest this long after the first transmission (the last gap doubled).
    pub gave_up_by_s: f64,
    /// The sender reset the connection after its retransmissions (Windows, BSD and macOS do).
    pub reset_by_sender: Option<PacketRef>,
    /// The sender gave up: it reset, or it fell silent after a growing
    /// backoff for longer than its next retransmission would have taken.
    pub gave_up: bool,
    /// The capture ended while the sender was still retransmitting, or
    /// lost sight of it (`capture_blind`): the connection is stalled (the
    /// peer or the path to it is gone).
    pub still_retransmitting: bool,
    /// The sender fell silent when the capture could no longer see its
    /// packets to the peer: no give-up can be read from that silence.
    pub capture_blind: Option<CaptureBlind>,
    /// How long the connection had been silent before the data was sent (s).
    pub idle_before_s: f64,
    /// The silence after the sender's last retransmission, to the end of the capture (s).
    pub silent_for_s: f64,
    /// tcp_retries2 values whose give-up time fits the observed series, for
    /// a Linux-like sender (initial TTL 64) that gave up silently.
    pub retries2: Option<u32>,
    /// The sender's initial TTL (64: Linux, BSD, macOS; 128: Windows).
    pub sender_initial_ttl: Option<u8>,
    /// The sender's FIN, when it had closed before giving up: on Linux an
    /// orphaned socket then gives up after tcp_orphan_retries, not tcp_retries2.
    pub fin_before_give_up: Option<PacketRef>,
}

/// A sender that has been silent this many times its last backoff gap after
/// its last retransmission (and at least this many seconds) has given up.
const RETRANSMISSION_GIVE_UP_FACTOR: f64 = 2.0;
const RETRANSMISSION_GIVE_UP_MIN_S: f64 = 1.0;
/// A backoff grows: the last gap is at least this many times the first.
/// RFC 6298 §5.5 doubles the RTO at each expiry (Linux
/// inet_csk_rto_backoff, Windows, the BSDs), so two retransmissions show
/// gaps of about 1× and 2×; equal gaps (an application resending, or a
/// duplicate frame) are no backoff and prove no give-up.
const BACKOFF_GROWTH: f64 = 1.5;
/// A timer-driven retransmission waits at least the minimum RTO after the
/// one before: Linux TCP_RTO_MIN is 200 ms (RFC 6298 §2.4 recommends 1 s;
/// Windows uses 300 ms). Faster resends are copies of a frame, or fast
/// retransmissions, which need the peer's duplicate ACKs: no silence.
const MIN_RTO_S: f64 = 0.2;

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
/// sender and its peer; `peer_unresolved` the unanswered requests for the
/// peer's address on the capture's link, if any. None when nothing was
/// retransmitted, or when the peer answered something after the run's data
/// was sent (or after the partial ACK that made it the oldest
/// unacknowledged): not a silent path.
pub fn retransmission_finding(
    sender: Side,
    run: &RetransmissionRun,
    me: &Marks,
    peer: &Marks,
    peer_unresolved: Option<&Unresolved>,
    capture_end: Timestamp,
) -> Option<RetransmissionFinding> {
    if run.count == 0 {
        return None;
    }
    // The peer answered something since: not a silent path.
    let peer_rst = peer.rst_at();
    if peer.last_sent.get().is_some_and(|p| p.frame > run.since.frame && peer_rst.is_none_or(|r| r.frame != p.frame)) {
        return None;
    }
    let mut times = vec![run.first_sent];
    times.extend(run.retransmissions.iter().copied());
    let backoff_s: Vec<f64> = times.windows(2).map(|w| w[1].ts.secs_since(w[0].ts)).collect();
    let last = run.retransmissions.last().copied().unwrap_or(run.first_sent);
    let reset_by_sender = me.rst_at().filter(|r| r.frame > last.frame);
    let last_gap = backoff_s.last().copied().unwrap_or(0.0);
    let silent_for_s = capture_end.secs_since(last.ts).max(0.0);
    let grows_from_first = backoff_s.first().is_some_and(|&first| last_gap >= BACKOFF_GROWTH * first);
    let grows = backoff_s.len() >= 2 && last_gap >= MIN_RTO_S && grows_from_first;
    let steady_gaps = backoff_s.len() >= 2 && !grows_from_first;
    // The sender's next retransmission would be overdue by now.
    let due_within_s = (RETRANSMISSION_GIVE_UP_FACTOR * last_gap).max(RETRANSMISSION_GIVE_UP_MIN_S);
    let overdue = silent_for_s >= due_within_s;
    let last_is_its_last = me.last_sent.get() == Some(last);
    // A silence proves a give-up only if the capture would have seen the
    // next retransmission: not when the link in front of the peer could
    // not resolve it while that retransmission was due (the router drops
    // it, see `neighbours`). The sender was then still retransmitting as
    // far as the capture can tell.
    let capture_blind = (reset_by_sender.is_none() && last_is_its_last)
        .then(|| CaptureBlind::during(peer_unresolved, last.ts, last.ts.after_secs(due_within_s)))
        .flatten();
    // The receiver's RST before the sender's next retransmission was due
    // ended the connection: the sender's silence after it is no give-up
    // (nDPI googledns_android10.pcap s0: the server's FIN 1 resent 4
    // times, then the phone's bare RST 68, 1.1 ms after the last copy).
    let reset_by_peer = peer_rst.filter(|r| r.frame > last.frame && r.ts.secs_since(last.ts) < due_within_s);
    let gave_up = reset_by_sender.is_some()
        || (last_is_its_last && overdue && grows && capture_blind.is_none() && reset_by_peer.is_none());
    let still_retransmitting = !gave_up && last_is_its_last && (!overdue || capture_blind.is_some());
    let end = reset_by_sender.unwrap_or(last);
    let gave_up_after_s = end.ts.secs_since(run.first_sent.ts);
    let sender_initial_ttl = me.first_ttl().map(initial_ttl);
    // Linux gives up at the first RTO expiry where the time since the first
    // transmission reaches tcp_model_timeout(tcp_retries2): after the last
    // retransmission, before the next one would have gone out. Only a
    // sender that behaves like Linux (initial TTL 64, silent) is fitted:
    // Windows and the BSDs reset when they give up.
    let next_expiry = gave_up_after_s + last_gap * RTO_BACKOFF;
    let linux_like = sender_initial_ttl.is_some_and(|t| t <= 64) && reset_by_sender.is_none();
    let retries2 = (gave_up && linux_like)
        .then(|| {
            (1..=RETRIES2_MAX).find(|&n| {
                let t = linux_retries_timeout(n);
                t > gave_up_after_s + RETRIES2_JITTER_S && t <= next_expiry * RETRIES2_LATE_FACTOR
            })
        })
        .flatten();
    Some(RetransmissionFinding {
        sender,
        first_unacked: run.first_sent,
        last: end,
        retransmissions: run.count,
        backoff_s,
        steady_gaps,
        gave_up_after_s,
        gave_up_by_s: next_expiry,
        reset_by_sender,
        gave_up,
        still_retransmitting,
        capture_blind,
        idle_before_s: run.idle_before_s,
        silent_for_s,
        retries2,
        sender_initial_ttl,
        fin_before_give_up: me.fin.get().filter(|f| f.frame <= end.frame),
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
