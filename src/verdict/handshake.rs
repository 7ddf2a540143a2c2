//! The handshake rule: a connection that never started. SYNs nobody
//! answered (a host that is down, a firewall that drops them, a port scan),
//! or a SYN-ACK the client never acknowledged (or answered with the RST of
//! a host with no socket for it: a half-open SYN scan).

use crate::flow::{Marks, PacketRef};
use crate::time::Timestamp;

/// Why a handshake never completed, with its retransmissions.
#[derive(Clone, Debug, PartialEq)]
pub struct HandshakeFinding {
    /// The client's SYNs that are kept, the first one first.
    pub syns: Vec<PacketRef>,
    /// How many SYNs the client sent (beyond those kept too).
    pub syn_count: u32,
    /// Gaps between successive SYNs (s): the retransmission backoff.
    pub syn_gaps_s: Vec<f64>,
    /// The server's SYN-ACKs that are kept (none: nobody answered).
    pub syn_acks: Vec<PacketRef>,
    pub syn_ack_count: u32,
    pub syn_ack_gaps_s: Vec<f64>,
    /// The last packet of the handshake.
    pub last: PacketRef,
    /// Silence from the last packet to when the connection was judged (the
    /// capture's end, or when the flow table dropped it), s.
    pub quiet_after_s: f64,
    /// The shape of the SYN retransmission gaps, when they follow one.
    pub schedule: Option<SynSchedule>,
    /// The client stopped before its next SYN was due, while the capture went on.
    pub client_stopped: bool,
    /// The client followed a 1 s schedule into its doubling and stopped:
    /// the Linux `net.ipv4.tcp_syn_retries` (or per socket TCP_SYNCNT)
    /// that this many SYNs fit, with [`SynSchedule::linear_timeouts`].
    pub syn_retries: Option<u32>,
    /// The client's RST answering the SYN-ACK as a host with no socket for
    /// it does ([`RstReply::ToAcked`](crate::flow::RstReply::ToAcked)).
    pub client_reset: Option<PacketRef>,
}

/// SYN retransmission gaps: `flat_gaps` gaps of the initial RTO, then each
/// gap twice the one before (RFC 6298 §5.5). The stacks differ in both:
///
/// - an initial RTO of 1 s (RFC 6298 §2.1; Linux `TCP_TIMEOUT_INIT`, macOS,
///   the BSDs) or 3 s (RFC 1122 §4.2.3.1's older value; Windows, whose
///   `TcpMaxConnectRetransmissions` of 2 sends SYNs at 0, 3 and 9 s and gives
///   up at 21 s);
/// - Linux before 6.5 doubles from the first retransmission (one flat gap);
///   Linux 6.5 and later keeps the first `tcp_syn_linear_timeouts` (4 by
///   default) retransmissions at 1 s, so 5 gaps of 1 s, then doubles
///   (`tcp_retransmit_timer`, net/ipv4/tcp_timer.c, "tcp: make the first N
///   SYN RTO backoffs linear"), as macOS also does (1, 1, 1, 1, 1, 2, 4, … s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynSchedule {
    /// The initial RTO: 1 or 3 s.
    pub initial_s: u32,
    /// How many gaps of the initial RTO came first.
    pub flat_gaps: u32,
    /// Whether gaps after them doubled (false: every gap was the initial one).
    pub doubled: bool,
}

impl SynSchedule {
    /// The Linux `tcp_syn_linear_timeouts` this shape fits: the
    /// retransmissions kept at 1 s beyond the first. Only known once the
    /// gaps doubled.
    pub fn linear_timeouts(self) -> Option<u32> {
        (self.initial_s == 1 && self.doubled).then(|| self.flat_gaps - 1)
    }

    /// The schedule these gaps follow, if any. Timers fire late, never
    /// early, by up to a timer-wheel granularity (12.5 %) plus scheduling,
    /// and a capture may stamp a little early.
    fn of(gaps: &[f64]) -> Option<SynSchedule> {
        let fits = |g: f64, want: f64| g >= want * 0.97 - 0.01 && g <= want * 1.15 + 0.1;
        [1u32, 3].into_iter().find_map(|initial_s| {
            let initial = f64::from(initial_s);
            let flat_gaps = gaps.iter().take_while(|&&g| fits(g, initial)).count();
            let doubling =
                gaps[flat_gaps..].iter().enumerate().all(|(i, &g)| fits(g, initial * f64::from(2u32 << i.min(16))));
            (flat_gaps > 0 && doubling).then_some(SynSchedule {
                initial_s,
                flat_gaps: flat_gaps as u32,
                doubled: flat_gaps < gaps.len(),
            })
        })
    }
}

/// No stack waits longer than this for its first SYN retransmission: Linux,
/// macOS and the BSDs after 1 s, Windows after 3 s; timers fire late by up
/// to 12.5 %.
const FIRST_SYN_RETRY_BY_S: f64 = 3.0 * 1.25;
/// The next retransmission timer runs twice as long as the last gap (RFC
/// 6298 §5.5); a client quiet for longer has stopped.
const RTO_BACKOFF: f64 = 2.0;

/// Judges a handshake that never completed. `client` and `server` are the
/// marks of the two sides; `judged_at` is the end of the capture, or when the
/// connection was dropped.
pub fn handshake_finding(client: &Marks, server: &Marks, judged_at: Timestamp) -> HandshakeFinding {
    let gaps = |p: &[PacketRef]| -> Vec<f64> { p.windows(2).map(|w| w[1].ts.secs_since(w[0].ts)).collect() };
    let syns = client.syns();
    let syn_acks = server.syns();
    let last = [client.last_sent.get(), server.last_sent.get()]
        .into_iter()
        .flatten()
        .max_by_key(|p| p.frame)
        .expect("a handshake has a packet");
    let quiet_after_s = judged_at.secs_since(last.ts).max(0.0);
    let syn_gaps_s = gaps(&syns);
    let next_syn_due_s = syn_gaps_s.last().map_or(FIRST_SYN_RETRY_BY_S, |g| g * RTO_BACKOFF);
    let client_stopped = client.last_sent.get().is_some_and(|l| judged_at.secs_since(l.ts) > next_syn_due_s);
    let schedule = SynSchedule::of(&syn_gaps_s);
    // Linux gives up when the next SYN would be due after tcp_syn_retries
    // retransmissions, plus tcp_syn_linear_timeouts since 6.5
    // (tcp_write_timeout: max_retransmits = retry_until + linear timeouts
    // in SYN-SENT).
    let syn_retries = schedule
        .and_then(SynSchedule::linear_timeouts)
        .filter(|_| client_stopped && syn_acks.is_empty())
        .and_then(|linear| (client.syn_count() - 1).checked_sub(linear))
        .filter(|&n| n > 0);
    HandshakeFinding {
        schedule,
        syn_retries,
        syn_count: client.syn_count(),
        syn_gaps_s,
        syn_ack_count: server.syn_count(),
        syn_ack_gaps_s: gaps(&syn_acks),
        syns,
        syn_acks,
        last,
        quiet_after_s,
        client_stopped,
        client_reset: None,
    }
}
