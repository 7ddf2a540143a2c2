//! Findings in plain words: what happened, which setting did it, how to fix it.

use crate::findings::middlebox::{names, shorter_than};
use crate::findings::os::{
    LINUX_DEFAULTS, MACOS_DEFAULTS, OsFamily, SettingsOrigin, WINDOWS_DEFAULTS, initial_ttl, os_family, settings_origin,
};
use crate::flow::{Connection, Dropped, HANDSHAKE_IDLE_SECS, MAX_UNREPLIED, PacketRef, Side, Unreplied};
use crate::infer::{LINUX_KEEPALIVE_MAX_S, beyond_any_keepalive_setting};
use crate::report::prose::{Literal, Piece, Prose, put};
use crate::report::{EndpointText, SideText, endpoint};
use crate::time::{Fixed, MinMax};
use crate::verdict::{
    Bound, Confidence, EndReason, ForgerySign, HandshakeFinding, InjectedReset, Judgement, KeepaliveFinding,
    MIN_IDLE_OF_INTEREST_S, ResetCause, ResetFinding, RetransmissionFinding, Stall, StoppedProber, SynSchedule,
    Verdict, ZeroWindowFinding, linux_retries_timeout,
};
use std::fmt;

/// What a prober's probe shape and TTL say about its OS, and how sure that is.
fn os_words(probe_bytes: u8, ttl: Option<u8>) -> &'static str {
    match (probe_bytes, ttl.map(initial_ttl)) {
        (0, Some(32 | 64)) => "0 bytes, initial TTL 64: Linux, BSD or macOS",
        (0, Some(255)) => "0 bytes, initial TTL 255: a network device or Solaris",
        (0, Some(128)) => {
            "0 bytes, but initial TTL 128: Windows probes with 1 byte and Linux, BSD and macOS start at TTL 64, so it does not point to one OS"
        }
        (1, Some(128)) => {
            "1 byte and initial TTL 128: both point to Windows (likely, not certain: a few embedded stacks also resend the byte)"
        }
        (1, Some(32 | 64)) => {
            "1 byte, but initial TTL 64, not Windows' 128: some embedded stacks (e.g. PLCs) probe with 1 byte too, so the OS is unknown"
        }
        (1, Some(_)) => "1 byte, initial TTL 255: an embedded stack or network device, not Windows (TTL 128)",
        _ => "it does not point to one OS",
    }
}

/// Seconds in words, written where they are needed.
fn secs(v: f64) -> Secs {
    Secs(v)
}

/// "345 s", "20.32 s", "2.091 s": fewer decimals for longer times.
#[derive(Clone, Copy)]
struct Secs(f64);

impl Secs {
    fn figure(self) -> Fixed {
        let v = self.0;
        let decimals = if v >= 100.0 {
            0
        } else if v >= 10.0 {
            2
        } else {
            3
        };
        Fixed { value: v, decimals }
    }
}

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} s", self.figure())
    }
}

impl Piece for Secs {
    fn put(self, out: &mut Prose) {
        put!(out, self.figure(), " s");
    }
}

/// "0.026 s after", or under half a millisecond (which `secs` would print
/// as a false "0.000 s") "less than a millisecond after".
fn after_words(dt: f64) -> String {
    if dt < 0.0005 { "less than a millisecond after".to_string() } else { format!("{} after", secs(dt)) }
}

/// The whole diagnosis of one connection, a paragraph.
pub fn describe(conn: &Connection, verdict: &Judgement) -> String {
    let mut out = Prose::default();
    describe_into(&mut out, conn, verdict);
    out.into_string()
}

/// Appends [`describe`] to `out` (a buffer reused from connection to
/// connection): the parts most connections have are written into it as
/// they are worded, not built as strings first.
pub fn describe_into(out: &mut Prose, conn: &Connection, verdict: &Judgement) {
    paragraph(&mut Parts { out, started: false }, conn, verdict);
}

/// A paragraph's parts, each after a space from the one before.
struct Parts<'a> {
    out: &'a mut Prose,
    started: bool,
}

impl Parts<'_> {
    /// Where the next part is to be written.
    fn next(&mut self) -> &mut Prose {
        if self.started {
            self.out.push(' ');
        }
        self.started = true;
        self.out
    }

    fn push(&mut self, part: String) {
        self.next().push_str(&part);
    }
}

impl Extend<String> for Parts<'_> {
    fn extend<I: IntoIterator<Item = String>>(&mut self, parts: I) {
        for part in parts {
            self.push(part);
        }
    }
}

fn paragraph(parts: &mut Parts<'_>, conn: &Connection, verdict: &Judgement) {
    let name = |s: Side| SideText::of(conn, s);
    let keepalive = verdict.keepalive();
    // Data the peer never acknowledged, whose sender neither gave up nor was
    // still retransmitting at the end: the capture cannot tell which.
    let unanswered = verdict.retransmission().filter(|r| !r.gave_up && !r.still_retransmitting);
    match &verdict.verdict {
        Verdict::KeepaliveTimeout(k) => keepalive_kill(parts.next(), conn, k, &keepalive),
        Verdict::RetransmissionTimeout(r) => {
            parts.push(retransmission_timeout(conn, r));
            parts.push(retransmission_advice(conn, r));
        }
        Verdict::Reset(r) => {
            parts.push(reset(conn, r));
            parts.extend(reset_advice(conn, verdict, r));
        }
        Verdict::Closed { first_fin_by, .. } => {
            put!(parts.next(), "Closed normally: ", name(*first_fin_by), " sent the first FIN.")
        }
        &Verdict::HalfClosed { fin_by: side, fin, .. }
            if unanswered.is_some_and(|r| r.sender == side && fin.frame >= r.first_unacked.frame) =>
        {
            // The FIN is part of what the peer never acknowledged: the peer
            // may never have had it, so its application is not to blame.
            parts.push(format!(
                "Half-closed: {} sent FIN (frame {}), but {} never acknowledged it: it may never have arrived.",
                name(side),
                fin.frame,
                name(side.peer())
            ))
        }
        &Verdict::HalfClosed { fin_by: side, open_for_s: open_for, .. } => {
            let mut s = format!(
                "Half-closed: {} sent FIN, but {} had not closed its side {} later, {}",
                name(side),
                name(side.peer()),
                secs(open_for),
                when_judged(conn, "when the capture ended"),
            );
            // An application closes within moments of reading the FIN: only
            // a wait it would have noticed says it is not closing.
            if open_for < MIN_IDLE_OF_INTEREST_S {
                s.push_str(": too soon after the FIN to tell whether its application would close it.");
            } else {
                let host = conn.side(side.peer());
                s.push_str(&format!(
                    ". If this keeps happening, the application on {} is not closing its sockets after the peer's FIN (connections pile up in CLOSE_WAIT on that host: {}).",
                    host.addr().ip(),
                    close_wait_command(host.marks.first_ttl().map(initial_ttl))
                ));
            }
            parts.push(s);
        }
        Verdict::NeverEstablished(h) => parts.push(never_established(conn, h)),
        Verdict::Stalled(stall) => parts.push(stalled(conn, stall)),
        Verdict::WentSilent(stopped) => parts.push(went_silent(conn, stopped)),
        Verdict::Open { idle_at_end_s } => match conn.dropped {
            None => parts.push("Still open when the capture ended.".to_string()),
            Some(why) => parts.push(unreplied(conn, why, *idle_at_end_s)),
        },
    }
    for i in &verdict.injected {
        parts.push(injected(conn, i));
    }
    if let Some(r) = unanswered.filter(|_| matches!(verdict.reason(), EndReason::Open | EndReason::HalfClosed)) {
        parts.push(format!(
            "{} sent data (frame {}) that {} never acknowledged, retransmitted it {}, and then sent nothing more for the last {} of the capture: {}, so whether it gave up cannot be told.",
            name(r.sender),
            r.first_unacked.frame,
            endpoint(conn.side(r.sender.peer()).addr()),
            backoff_words(r),
            secs(r.silent_for_s),
            if r.retransmissions < 2 {
                "one retransmission shows no backoff"
            } else {
                "the gaps do not grow as a retransmission backoff does"
            }
        ));
    }
    // An open connection that was dropped, or one gone silent, had its silence told above.
    let silence_told =
        (conn.dropped.is_some() && verdict.reason() == EndReason::Open) || verdict.reason() == EndReason::WentSilent;
    if let Some(idle) = verdict.idle_at_end_s().filter(|_| !silence_told) {
        let mut s = if idle >= MIN_IDLE_OF_INTEREST_S {
            format!("It had been idle for {} {}.", secs(idle), when_judged(conn, "at the end of the capture"))
        } else {
            String::new()
        };
        // Only a silence some common middlebox would not have survived is
        // worth a warning (the shortest well-known default is 60 s).
        let longest = conn.longest_gap().map_or(idle, |(g, _)| g.max(idle));
        let boxes = shorter_than(longest);
        if keepalive.is_empty() && unanswered.is_none() && !boxes.is_empty() {
            s.push_str(&format!(
                " No keepalive was seen, and its longest silence ({}) is longer than the default idle timeout of {}: such a box on the path would cut it without either side noticing until it next sends.",
                secs(longest),
                names(&boxes)
            ));
        }
        if !s.is_empty() {
            parts.push(s.trim_start().to_string());
        }
    }
    if let Some(h) = &verdict.heartbeat {
        parts.push(format!(
            "{} sends an application heartbeat every {} ({} small messages).",
            name(h.from),
            secs(h.period_s),
            h.messages
        ));
        if let Some(k) = keepalive.iter().find_map(|k| k.idle)
            && h.period_s > f64::from(k.value)
        {
            parts.push(format!(
                "The heartbeat is slower than the keepalive idle time ({} s), so it does not stop keepalive probing.",
                k.value
            ));
        }
        if let Some(d) = verdict.idle.died_after_s
            && h.period_s > d
        {
            parts.push(format!(
                "The heartbeat is slower than the {} of silence that killed the connection: shorten it.",
                secs(d)
            ));
        }
    }
    if let Some(z) = verdict.zero_window().filter(|_| verdict.reason() != EndReason::Stalled) {
        parts.push(format!(
            "{} had advertised a zero window since frame {} and never opened it again; {} sent {} zero-window probe{} meanwhile: the application on {} had stopped reading.",
            name(z.receiver),
            z.since.frame,
            name(z.receiver.peer()),
            z.probes,
            plural(z.probes),
            conn.side(z.receiver).addr().ip()
        ));
    }
    // A RST in the peer's name that a box forged (the verdict's): not the
    // peer answering a probe.
    let forged_rst = verdict.reset().filter(|r| r.cause == ResetCause::Middlebox).map(|r| r.rst);
    for k in keepalive {
        if let Verdict::KeepaliveTimeout(ended) = &verdict.verdict
            && ended.prober == k.prober
        {
            continue;
        }
        keepalive_seen(parts.next(), conn, k, forged_rst);
    }
}

/// How to list the connections in CLOSE_WAIT on a host, by what its
/// initial TTL says of its OS: `ss` is Linux's (iproute2); Windows and
/// macOS/BSD have `netstat`.
fn close_wait_command(initial: Option<u8>) -> &'static str {
    match initial {
        Some(32 | 64) => {
            "check `ss -tan state close-wait` on Linux, `netstat -an -p tcp | grep CLOSE_WAIT` on macOS or BSD"
        }
        Some(128) => "check `netstat -an | findstr CLOSE_WAIT` (initial TTL 128: likely Windows)",
        _ => "check `ss -tan state close-wait` on Linux, `netstat -an` and look for CLOSE_WAIT elsewhere",
    }
}

/// When a connection still open was judged: `at_end` (words for the end of
/// the capture), or when the flow table dropped it ([`Dropped`]).
fn when_judged(conn: &Connection, at_end: &'static str) -> &'static str {
    match conn.dropped {
        None => at_end,
        Some(_) => "when it was judged and dropped",
    }
}

/// Gaps in seconds, as "1.00, 2.00, 4.00".
fn gap_list(gaps: &[f64]) -> String {
    gaps.iter().map(|g| format!("{g:.2}")).collect::<Vec<_>>().join(", ")
}

/// A handshake that never completed: who sent what, how the SYNs were
/// retransmitted, and whether the client gave up.
fn never_established(conn: &Connection, h: &HandshakeFinding) -> String {
    let name = |s: Side| format!("{} ({})", endpoint(conn.side(s).addr()), s.name());
    let (client, server) = (name(Side::Client), name(Side::Server));
    let n = h.syn_count;
    let mut s = if h.syn_acks.is_empty() {
        let gaps =
            if h.syn_gaps_s.is_empty() { String::new() } else { format!(" ({} s apart)", gap_list(&h.syn_gaps_s)) };
        format!(
            "Never established: {client} sent {n} SYN{}{gaps} to {server} and nothing came back: the host is down or unreachable, or a firewall drops the SYNs silently (one that rejects them answers with RST, a refused reset).",
            plural(n)
        )
    } else {
        let asked = if n == 0 { "(the capture starts at the SYN-ACK)".to_string() } else { format!("{client}'s SYN") };
        let mut s = if let Some(rst) = h.client_reset {
            format!(
                "Never established: {server} answered {asked} with a SYN-ACK (frame {}), and {client} answered that with a RST (frame {}) as a host with no connection for it does (no ACK flag, window 0, its sequence number the SYN-ACK's acknowledgment: RFC 9293 §3.10.7.1): its kernel had no socket for the SYN, which a raw socket sent (a half-open SYN scan: nmap -sS, masscan, zmap), or a connect() that had given up.",
                h.syn_acks[0].frame, rst.frame
            )
        } else {
            format!(
                "Never established: {server} answered {asked} with a SYN-ACK (frame {}), but {client} never acknowledged it: a SYN scan (the scanner never sends the third packet), a client that gave up, or SYN-ACKs lost on the way back (a firewall in one direction, asymmetric routing).",
                h.syn_acks[0].frame
            )
        };
        if h.syn_ack_count > 1 {
            s.push_str(&format!(
                " {server} sent its SYN-ACK {} times ({} s apart), as a listener does until the handshake completes or its limit is reached (Linux net.ipv4.tcp_synack_retries, default 5).",
                h.syn_ack_count,
                gap_list(&h.syn_ack_gaps_s)
            ));
        }
        s
    };
    if let Some(sched) = h.schedule {
        s.push(' ');
        s.push_str(&syn_schedule_words(sched));
    }
    let quiet = secs(h.quiet_after_s);
    let judged = when_judged(conn, "when the capture ended");
    if h.syn_acks.is_empty() && n > 0 {
        if !h.client_stopped {
            s.push_str(&format!(
                " It was judged {quiet} after the last SYN ({judged}), before the next retransmission was due: the client may still have been trying."
            ));
        } else if n == 1 {
            s.push_str(&format!(
                " The SYN was never retransmitted although {quiet} passed: every TCP stack retransmits a SYN within about 3 s (Linux, macOS and the BSDs after 1 s, Windows after 3 s), so this was a port scan's probe, or a client whose connect timeout is shorter than that."
            ));
        } else if let Some(r) = h.syn_retries {
            let linear = h.schedule.and_then(|s| s.linear_timeouts()).unwrap_or(0);
            s.push_str(&format!(
                " Then the client stopped: on Linux, {n} SYNs are net.ipv4.tcp_syn_retries={r} (or TCP_SYNCNT={r}) with tcp_syn_linear_timeouts={linear} (it gives up when the next SYN is due after that many retransmissions plus the linear ones; the defaults 6 and 4 send 11 SYNs over 131 s, 7 over 127 s before 6.5). An application connect timeout or a TCP_USER_TIMEOUT ends a connect the same way, silently (closing a socket that is still connecting sends nothing)."
            ));
        } else {
            s.push_str(&format!(
                " Then the client stopped sending SYNs ({quiet} before it was judged): its retry limit, or an application connect timeout."
            ));
        }
    }
    match conn.dropped {
        Some(Dropped::IdleLimit { .. }) => s.push_str(&format!(
            " Nothing more was heard for {quiet}, longer than any wait between two SYNs (at most 120 s, TCP_RTO_MAX), so it was judged then and dropped."
        )),
        Some(Dropped::Evicted { .. }) => s.push_str(&format!(
            " {quiet} after its last packet more than {MAX_UNREPLIED} such connections were held at once (a scan or a SYN flood), and as the least recently active it was judged then and dropped."
        )),
        None => {}
    }
    s
}

/// What the shape of the SYN gaps says about the client's stack.
fn syn_schedule_words(s: SynSchedule) -> String {
    match (s.initial_s, s.flat_gaps, s.doubled) {
        (3, _, true) => "The gaps start at 3 s and double: an initial RTO of 3 s, as Windows retransmits a SYN (TcpMaxConnectRetransmissions, 2 by default: it gives up after 21 s).".to_string(),
        (3, _, false) => "The SYNs are 3 s apart: an initial RTO of 3 s, as Windows uses.".to_string(),
        (_, 1, true) => "The gaps double from 1 s: the RFC 6298 retransmission timer (initial RTO 1 s, doubled at each retransmission), as Linux before 6.5 retransmits a SYN (or a later one with net.ipv4.tcp_syn_linear_timeouts=0).".to_string(),
        (_, k, true) => format!(
            "The first {k} gaps are 1 s, then they double: Linux 6.5 and later keeps the first tcp_syn_linear_timeouts SYN retransmissions at 1 s ({} here; 4 by default), and macOS spaces its first SYNs 1 s apart too.",
            k - 1
        ),
        (_, _, false) => "The SYNs are 1 s apart: the initial RTO of 1 s (RFC 6298), which Linux 6.5 and later and macOS keep for their first few retransmissions.".to_string(),
    }
}

/// A connection only one side of which was heard from, handed out before
/// the capture ended. (A handshake that never completed is
/// [`never_established`].)
fn unreplied(conn: &Connection, why: Dropped, idle: f64) -> String {
    let what = match why.was() {
        Unreplied::Handshake => "Never established: its handshake did not complete".to_string(),
        Unreplied::OneWay => {
            let heard = if conn.side(Side::Client).counts.packets > 0 { Side::Client } else { Side::Server };
            format!(
                "Only {} ({}) was ever heard from (a one-way capture, or a peer that never answered)",
                endpoint(conn.side(heard).addr()),
                heard.name()
            )
        }
    };
    match why {
        Dropped::IdleLimit { was: Unreplied::Handshake, .. } => format!(
            "{what}, and nothing more was heard for {}, longer than any SYN retry window (Linux gives up after {HANDSHAKE_IDLE_SECS} s, Windows after 21 s), so it was judged then and dropped.",
            secs(idle)
        ),
        Dropped::IdleLimit { was: Unreplied::OneWay, .. } => format!(
            "{what}, and nothing more for {}, longer than any default keepalive waits (7200 s of idle, then Linux's 9 probes 75 s apart), so it was judged then and dropped.",
            secs(idle)
        ),
        Dropped::Evicted { .. } => format!(
            "{what}; {} after its last packet more than {MAX_UNREPLIED} such connections were held at once (a scan or a SYN flood), and as the least recently active it was judged then and dropped.",
            secs(idle)
        ),
    }
}

/// A prober whose answered probes stopped: what the wire shows, and the
/// explanations it leaves open (see [`crate::verdict::stopped_prober`]).
fn went_silent(conn: &Connection, s: &StoppedProber) -> String {
    let prober = conn.side(s.prober);
    format!(
        "Went silent: {} ({}) had probed after {} of idle, and its probes were answered, but after frame {} nothing more was seen from either side: no probe, FIN or RST in the last {} of the capture, {:.0} times its idle. A kernel keeps probing a socket that is still open (Linux tcp_keepalive_timer re-arms itself, and each answer restarts the idle), so either the capture stopped recording this connection (a trimmed or filtered capture, or a capture point its packets no longer crossed) or the connection ended unseen (a FIN or RST the capture missed; {} left the network or went down: a phone leaving a network drops that network's sockets); or its application switched keepalive off. Whether it is still open cannot be told; if it should have lived, look at {}.",
        endpoint(prober.addr()),
        s.prober.name(),
        idle_words(s),
        s.last_packet.frame,
        secs(s.silent_for_s),
        (s.silent_for_s / s.every_s).floor(),
        prober.addr().ip(),
        prober.addr().ip(),
    )
}

/// "45.00 s", or "45.00 s to 180 s" when the capture missed probes.
fn idle_words(s: &StoppedProber) -> String {
    if s.longest_idle_s < s.every_s * 1.1 {
        secs(s.every_s).to_string()
    } else {
        format!("{} to {}", secs(s.every_s), secs(s.longest_idle_s))
    }
}

/// "retransmitted it 3 times with backoff gaps of 0.20, 0.40, 0.80 s".
fn backoff_words(r: &RetransmissionFinding) -> String {
    // One gap is no series, and no backoff can be seen in it.
    if let [gap] = r.backoff_s.as_slice()
        && r.retransmissions == 1
    {
        return format!("once, {gap:.2} s after the first transmission");
    }
    let series: Vec<String> = r.backoff_s.iter().map(|g| format!("{g:.2}")).collect();
    let times = format!("{} time{}", r.retransmissions, if r.retransmissions == 1 { "" } else { "s" });
    if r.steady_gaps {
        // Gaps that do not grow are no timer's backoff (see `steady_gaps`).
        format!("{times} at steady gaps of {} s (no backoff)", series.join(", "))
    } else {
        format!("{times} with backoff gaps of {} s", series.join(", "))
    }
}

/// The OS a sender's initial TTL points to, in words.
fn ttl_words(initial: Option<u8>) -> &'static str {
    match initial {
        Some(32 | 64) => "initial TTL 64: Linux, BSD or macOS",
        // A TTL is a default any host can change, and some servers and
        // load balancers that are not Windows start at 128 too: likely,
        // not proven (issue 9: do not name an OS without evidence).
        Some(128) => "initial TTL 128: likely Windows",
        Some(_) => "initial TTL 255: a network device or Solaris",
        None => "TTL unknown",
    }
}

/// Whether a sender's initial TTL is Linux's (64; 32 for some old stacks).
fn linux_like(initial_ttl: Option<u8>) -> bool {
    initial_ttl.is_some_and(|t| t <= 64)
}

/// Windows gives up on unacknowledged data after TcpMaxDataRetransmissions
/// retransmissions (5 by default; Tcpip\Parameters in the registry, or
/// TCP_MAXRT per socket), and then resets.
const WINDOWS_MAX_DATA_RETRANSMISSIONS: u32 = 5;
/// BSD and macOS: TCP_MAXRXTSHIFT (12) retransmissions, then a RST
/// (tcp_timer_rexmt → tcp_drop in netinet/tcp_timer.c).
const BSD_MAX_RETRANSMISSIONS: u32 = 12;
/// Linux gives an orphaned socket (closed by its application, its FIN
/// sent) this many retransmissions when net.ipv4.tcp_orphan_retries is 0,
/// the default (`tcp_orphan_retries()` in net/ipv4/tcp_timer.c: "0 means 8"
/// while the RTO is below TCP_RTO_MAX): about 102.2 s.
const LINUX_ORPHAN_RETRIES_DEFAULT: u32 = 8;
/// Linux TCP_RTO_MAX: a retransmission timeout never runs longer (s).
const LINUX_RTO_MAX_S: f64 = 120.0;
/// Each expiry doubles the retransmission timeout (RFC 6298 §5.5; Linux
/// `inet_csk_rto_backoff`).
const RTO_DOUBLING: f64 = 2.0;

fn retransmission_timeout(conn: &Connection, r: &RetransmissionFinding) -> String {
    let sender = conn.side(r.sender);
    let peer = conn.side(r.sender.peer());
    let mut s = format!(
        "Retransmission timeout: {} ({}) sent data (frame {}) that {} never acknowledged, retransmitted it {}, and ",
        endpoint(sender.addr()),
        r.sender.name(),
        r.first_unacked.frame,
        endpoint(peer.addr()),
        backoff_words(r)
    );
    if r.reset_by_sender.is_some() {
        s.push_str(&format!("reset the connection {} after the first transmission. ", secs(r.gave_up_after_s)));
        // Who gives up with a RST, by the sender's initial TTL.
        s.push_str(&match r.sender_initial_ttl {
            Some(128) => format!(
                "That is how Windows gives up (initial TTL 128): after TcpMaxDataRetransmissions retransmissions, {WINDOWS_MAX_DATA_RETRANSMISSIONS} by default{} (the registry value under Tcpip\\Parameters, or TCP_MAXRT per socket), then a RST.",
                if r.retransmissions == WINDOWS_MAX_DATA_RETRANSMISSIONS { ", as here" } else { "" }
            ),
            Some(32 | 64) => format!(
                "Giving up with a RST is what BSD and macOS do (after {BSD_MAX_RETRANSMISSIONS} retransmissions by default, net.inet.tcp.* limits); Linux gives up silently, so from a Linux host (initial TTL 64 too) this RST is the application aborting."
            ),
            _ => format!(
                "Windows ({WINDOWS_MAX_DATA_RETRANSMISSIONS} retransmissions by default) and BSD or macOS ({BSD_MAX_RETRANSMISSIONS}) give up with a RST; Linux gives up silently."
            ),
        });
    } else {
        s.push_str(&format!(
            "then fell silent {} after the first transmission while the capture went on for {} more: it gave up without a RST{}.",
            secs(r.gave_up_after_s),
            secs(r.silent_for_s),
            // Only a Linux-like sender is said to behave like Linux: the
            // next sentence says why others should have reset.
            if linux_like(r.sender_initial_ttl) { ", as Linux does" } else { "" }
        ));
        s.push_str(&silent_give_up_setting(r));
    }
    s.push_str(&format!(
        " The path to {} went silent{}: the peer vanished (powered off, cable or network cut) or a firewall/NAT dropped the flow.",
        endpoint(peer.addr()),
        if r.idle_before_s >= 1.0 { format!(" after {} of idle", secs(r.idle_before_s)) } else { String::new() }
    ));
    s
}

/// Which setting a silent give-up fits. tcp_retries2 is claimed only for a
/// sender that looks like Linux (initial TTL 64): Windows, BSD and macOS
/// reset when they give up.
fn silent_give_up_setting(r: &RetransmissionFinding) -> String {
    if !linux_like(r.sender_initial_ttl) {
        return format!(
            " But this sender ({}) is not Linux-like, and Windows, BSD and macOS send a RST when they give up: the RST was lost before the capture point, or the host itself went away.",
            ttl_words(r.sender_initial_ttl)
        );
    }
    let window = format!(
        " It gave up between {:.1} and {:.1} s after the first transmission (before its next retransmission was due).",
        r.gave_up_after_s, r.gave_up_by_s
    );
    // An orphaned socket (closed by the application, FIN sent) gives up
    // after tcp_orphan_retries instead (tcp_write_timeout → tcp_orphan_retries:
    // 0, the default, means 8 while the RTO is below TCP_RTO_MAX).
    if let Some(fin) = r.fin_before_give_up {
        return match r.retries2 {
            Some(LINUX_ORPHAN_RETRIES_DEFAULT) => format!(
                "{window} It had closed its side (FIN, frame {}) before giving up: if the application had closed the socket, Linux gave up as for an orphan, after net.ipv4.tcp_orphan_retries (the default 0 means 8 retries, about {:.1} s), which fits; had it only shut down writing, tcp_retries2 would have been 8 (the default 15 takes 924.6 s).",
                fin.frame,
                linux_retries_timeout(LINUX_ORPHAN_RETRIES_DEFAULT)
            ),
            Some(n) => format!(
                "{window} It had closed its side (FIN, frame {}) before giving up: that fits net.ipv4.tcp_orphan_retries={n} for a closed (orphaned) socket, or tcp_retries2={n} (about {:.1} s) if it only shut down writing, or a TCP_USER_TIMEOUT in that range.",
                fin.frame,
                linux_retries_timeout(n)
            ),
            None => format!(
                "{window} It had closed its side (FIN, frame {}); no retry count fits that time: a TCP_USER_TIMEOUT in that range.",
                fin.frame
            ),
        };
    }
    match r.retries2 {
        Some(15) => " That fits the Linux default net.ipv4.tcp_retries2=15 (about 924.6 s).".to_string(),
        Some(n) => format!(
            "{window} That fits net.ipv4.tcp_retries2={n} (about {:.1} s; the default 15 takes 924.6 s), or a TCP_USER_TIMEOUT in that range.",
            linux_retries_timeout(n)
        ),
        None => format!(
            " It gave up between {:.1} and {:.1} s after the first transmission, which no tcp_retries2 value fits (the default 15 takes 924.6 s): the application set TCP_USER_TIMEOUT in that range.",
            r.gave_up_after_s, r.gave_up_by_s
        ),
    }
}

/// How to set the keepalive idle on a host, by what its initial TTL says
/// of its OS: (the OS in words, the knobs).
fn keepalive_idle_knobs(initial: Option<u8>) -> (&'static str, &'static str) {
    match initial {
        Some(128) => (
            "initial TTL 128: likely Windows",
            "SIO_KEEPALIVE_VALS per socket or the KeepAliveTime registry value (ms, Tcpip\\Parameters)",
        ),
        Some(32 | 64) => (
            "initial TTL 64: Linux, BSD or macOS",
            "setsockopt SO_KEEPALIVE + TCP_KEEPIDLE per socket or sysctl net.ipv4.tcp_keepalive_time on Linux (net.inet.tcp.keepidle, in ms, on macOS and BSD)",
        ),
        _ => (
            "OS unknown",
            "TCP_KEEPIDLE or net.ipv4.tcp_keepalive_time (Linux), SIO_KEEPALIVE_VALS or KeepAliveTime (Windows), net.inet.tcp.keepidle (macOS, BSD)",
        ),
    }
}

/// The keepalive idle knobs of both ends, once when they are the same.
fn both_ends_knobs(conn: &Connection) -> String {
    let [client, server] = [Side::Client, Side::Server].map(|side| {
        let host = conn.side(side);
        (host.addr().ip(), keepalive_idle_knobs(host.marks.first_ttl().map(initial_ttl)))
    });
    if client.1 == server.1 {
        format!("on {} or {} ({}), {}", client.0, server.0, client.1.0, client.1.1)
    } else {
        format!("on {} ({}), {}; on {} ({}), {}", client.0, client.1.0, client.1.1, server.0, server.1.0, server.1.1)
    }
}

/// What to do about a reset, when the evidence points somewhere: a
/// middlebox that forgot the connection wants it kept busier than its
/// timeout; a peer that restarted wants nothing tuned.
fn reset_advice(conn: &Connection, verdict: &Judgement, r: &ResetFinding) -> Option<String> {
    let forgot = if r.idle_before_s >= MIN_IDLE_OF_INTEREST_S {
        format!(" (it forgot this one after {} of silence)", secs(r.idle_before_s))
    } else {
        String::new()
    };
    let keep_busy = format!(
        "keep the connection busier than the box's idle timeout{forgot}: a keepalive idle or an application heartbeat below it on either end ({}), or raise the box's timeout",
        both_ends_knobs(conn)
    );
    if r.cause == ResetCause::PeerLostState {
        // The sender had closed and its peer never did: the peer's
        // application left the connection in CLOSE_WAIT.
        if closed_then_reset(conn, r).is_some() {
            return Some(format!(
                "What to do: look at the application on {}: it never closed its side after its peer's FIN (CLOSE_WAIT); no keepalive, NAT or firewall setting is involved.",
                endpoint(conn.side(r.sender.peer()).addr())
            ));
        }
        // Nothing sits between two ends on one host: no box forgot it.
        if one_host(conn) {
            return Some(format!(
                "What to do: both ends are on one host ({}), so no NAT or firewall between them forgot the connection: the process behind {} restarted or dropped it; reconnecting is the remedy.",
                conn.client().ip(),
                endpoint(conn.side(r.sender).addr())
            ));
        }
    }
    match r.cause {
        ResetCause::Middlebox if r.idle_before_s >= MIN_IDLE_OF_INTEREST_S => Some(format!("What to do: {keep_busy}.")),
        // Right after traffic: the box's policy, which no keepalive changes.
        ResetCause::Middlebox => Some(
            "What to do: look at the rules and logs of the boxes on the path (IPS, firewall, traffic shaper); keepalive or a heartbeat would not help.".to_string(),
        ),
        // A stateless RST answering a keepalive probe: the host itself lost
        // its connections (a restart), which no setting prevents.
        ResetCause::PeerLostState if verdict.keepalive().iter().any(|k| k.reset_by_peer == Some(r.rst)) => Some(
            "What to do: nothing to tune; the peer restarted (or dropped its connections) and the probe found out. Reconnecting is the remedy.".to_string(),
        ),
        // Right after traffic: no silence a NAT or firewall could have timed out.
        ResetCause::PeerLostState if r.idle_before_s < MIN_IDLE_OF_INTEREST_S => Some(
            "What to do: nothing to tune; the peer no longer had the connection (it restarted, or dropped it without telling its peer). Reconnecting is the remedy.".to_string(),
        ),
        ResetCause::PeerLostState => Some(format!(
            "What to do: if the peer restarted, nothing to tune (reconnect); if a NAT or firewall between them forgot the idle connection while the peer stayed up, {keep_busy}."
        )),
        _ => None,
    }
}

/// What to do after a retransmission timeout: the peer or the path is the
/// problem; to ride out longer outages, the sender's give-up limit.
fn retransmission_advice(conn: &Connection, r: &RetransmissionFinding) -> String {
    let sender_ip = conn.side(r.sender).addr().ip();
    let peer_ip = conn.side(r.sender.peer()).addr().ip();
    let limit = match r.sender_initial_ttl {
        Some(128) => format!(
            "on {sender_ip} (if it is Windows, as its initial TTL 128 suggests), the TcpMaxDataRetransmissions registry value or TCP_MAXRT per socket"
        ),
        // A socket its application closed (FIN sent) gives up after
        // tcp_orphan_retries, one only shut down for writing after
        // tcp_retries2 (see `linux_give_up_schedule`).
        Some(32 | 64) if r.fin_before_give_up.is_some() => format!(
            "on {sender_ip}, net.ipv4.tcp_orphan_retries if the application closed the socket (net.ipv4.tcp_retries2 if it only shut down writing), or TCP_USER_TIMEOUT per socket on Linux (net.inet.tcp limits on macOS and BSD)"
        ),
        Some(32 | 64) => format!(
            "on {sender_ip}, net.ipv4.tcp_retries2 or TCP_USER_TIMEOUT per socket on Linux (net.inet.tcp limits on macOS and BSD)"
        ),
        _ if r.fin_before_give_up.is_some() => format!(
            "on {sender_ip}, tcp_orphan_retries (a closed socket) / tcp_retries2 / TCP_USER_TIMEOUT (Linux) or TcpMaxDataRetransmissions (Windows)"
        ),
        _ => format!("on {sender_ip}, tcp_retries2 / TCP_USER_TIMEOUT (Linux) or TcpMaxDataRetransmissions (Windows)"),
    };
    format!(
        "What to do: look at {peer_ip} and the path to it (down, unreachable, or a firewall dropping this flow); the sender's give-up only reported it. To wait out longer outages before giving up, raise the limit {limit}."
    )
}

/// A connection stuck when the capture ended.
fn stalled(conn: &Connection, stall: &Stall) -> String {
    match stall {
        Stall::Retransmitting(r) => {
            let sender = conn.side(r.sender);
            let peer = conn.side(r.sender.peer());
            let mut s = match r.capture_blind {
                None => format!(
                    "Stalled: {} ({}) was still retransmitting when the capture ended. It first sent the data at frame {}; {} never acknowledged it, and it retransmitted it {}, the last (frame {}) {}. Nothing came back from {} since: the peer or the path to it is gone (powered off, crashed, cable or network cut, or a firewall dropping the flow).",
                    endpoint(sender.addr()),
                    r.sender.name(),
                    r.first_unacked.frame,
                    endpoint(peer.addr()),
                    backoff_words(r),
                    r.last.frame,
                    if r.silent_for_s < 0.0005 {
                        "being the capture's last packet".to_string()
                    } else {
                        format!("{} before the capture ended", secs(r.silent_for_s))
                    },
                    endpoint(peer.addr())
                ),
                Some(blind) => format!(
                    "Stalled: {} ({}) was still retransmitting when the capture lost sight of it. It first sent the data at frame {}; {} never acknowledged it, and it retransmitted it {}, the last the capture saw at frame {}, {} after the first transmission. From frame {} to frame {} the link asked {} times who has {} (ARP or neighbour discovery), and nothing answered: the router in front of it could not deliver to it and dropped what came for it, so the next retransmissions could not reach the capture point. Whether and when the sender gave up cannot be seen. {} has left its link (powered off, out of radio range, or moved to another network); the sender is not to blame.",
                    endpoint(sender.addr()),
                    r.sender.name(),
                    r.first_unacked.frame,
                    endpoint(peer.addr()),
                    backoff_words(r),
                    r.last.frame,
                    secs(r.gave_up_after_s),
                    blind.first_request.frame,
                    blind.last_request.frame,
                    blind.requests,
                    peer.addr().ip(),
                    peer.addr().ip()
                ),
            };
            if r.steady_gaps {
                // No OS's retransmission timer resends at steady gaps, so
                // none of their give-up schedules says when this one stops.
                s.push_str(&format!(
                    " Its gaps do not grow as a retransmission timeout does (RFC 6298 §5.5 doubles it at each expiry, and Linux, Windows, BSD and macOS all back off), so no OS's give-up schedule tells when the sender ({}) would stop. It had sent {} so far.",
                    ttl_words(r.sender_initial_ttl),
                    r.retransmissions
                ));
                return s;
            }
            s.push_str(&format!(
                " If nothing changes, the sender ({}) gives up: {}; Windows with a RST after {WINDOWS_MAX_DATA_RETRANSMISSIONS} retransmissions (TcpMaxDataRetransmissions); BSD and macOS with a RST after {BSD_MAX_RETRANSMISSIONS}. It had sent {} so far.",
                ttl_words(r.sender_initial_ttl),
                linux_give_up_schedule(r),
                r.retransmissions
            ));
            s
        }
        Stall::ZeroWindow(z) => format!("Stalled on a zero window: {}", zero_window_words(conn, z)),
    }
}

/// When Linux would give up on a sender still retransmitting, counted from
/// the first transmission, as `retransmits_timed_out` counts (from
/// `retrans_stamp`, with `tcp_model_timeout`'s schedule), and checked only
/// when a retransmission timer expires (`tcp_retransmit_timer` →
/// `tcp_write_timeout`). A sender that had sent its FIN may be an orphan: a
/// socket its application closed gives up after net.ipv4.tcp_orphan_retries
/// (`tcp_write_timeout` takes `tcp_orphan_retries()` for a SOCK_DEAD
/// socket, net/ipv4/tcp_timer.c; its default 0 means 8 while the RTO is
/// below TCP_RTO_MAX), not tcp_retries2. shutdown(SHUT_WR) sends the same
/// FIN but keeps the socket its application's, under tcp_retries2: the
/// capture cannot tell which.
fn linux_give_up_schedule(r: &RetransmissionFinding) -> String {
    // The next expiry: the RTO doubled (RFC 6298 §5.5), at most TCP_RTO_MAX.
    let last_gap = r.backoff_s.last().copied().unwrap_or(0.0);
    let next_due = r.gave_up_after_s + (RTO_DOUBLING * last_gap).min(LINUX_RTO_MAX_S);
    let after = |retries: u32| {
        let at = linux_retries_timeout(retries);
        if at > next_due {
            format!(
                "{at:.1} s after the first transmission ({} from its last retransmission)",
                secs(at - r.gave_up_after_s)
            )
        } else {
            format!(
                "at its next retransmission timeout (the {at:.1} s from the first transmission that this allows will have passed; Linux checks only then)"
            )
        }
    };
    match r.fin_before_give_up {
        Some(fin) => format!(
            "Linux silently, and as it had sent its FIN (frame {}): if its application closed the socket, as an orphan after net.ipv4.tcp_orphan_retries (the default 0 means 8 retries), {}; if it only shut down writing, after tcp_retries2 (the default 15), {}; sooner with smaller values or TCP_USER_TIMEOUT",
            fin.frame,
            after(LINUX_ORPHAN_RETRIES_DEFAULT),
            after(15)
        ),
        None => format!(
            "Linux silently, {:.1} s after the first transmission with the default tcp_retries2=15 ({} from its last retransmission; sooner with a smaller tcp_retries2 or TCP_USER_TIMEOUT)",
            linux_retries_timeout(15),
            secs((linux_retries_timeout(15) - r.gave_up_after_s).max(0.0))
        ),
    }
}

/// What a zero window still closed shows, and what to do.
fn zero_window_words(conn: &Connection, z: &ZeroWindowFinding) -> String {
    let receiver = conn.side(z.receiver);
    let sender = conn.side(z.receiver.peer());
    let gaps: Vec<String> = z.probe_gaps_s.iter().map(|g| format!("{g:.2}")).collect();
    format!(
        "{} ({}) advertised a zero window at frame {} and kept it closed for {} until the capture ended: its application stopped reading, so its receive buffer stayed full. {} sent {} zero-window probe{} (frames {} to {}; gaps of {} s from the zero window on: the persist timer backing off), and {} kept answering with the window closed, so it is alive. Look at the application on {} (blocked, hung, or too slow to read); no TCP setting fixes this: a sender keeps probing a zero window for as long as the probes are answered (RFC 9293 §3.8.6.1; Linux tcp_probe_timer).",
        endpoint(receiver.addr()),
        z.receiver.name(),
        z.since.frame,
        secs(z.closed_for_s),
        endpoint(sender.addr()),
        z.probes,
        plural(z.probes),
        z.first_probe.frame,
        z.last_probe.frame,
        gaps.join(", "),
        endpoint(receiver.addr()),
        receiver.addr().ip()
    )
}

fn reset(conn: &Connection, r: &ResetFinding) -> String {
    let sender = format!("{} ({})", endpoint(conn.side(r.sender).addr()), r.sender.name());
    let idle =
        if r.idle_before_s >= 1.0 { format!(" after {} of silence", secs(r.idle_before_s)) } else { String::new() };
    match r.cause {
        // A closed port answers any segment without ACK so, not only a SYN.
        ResetCause::Refused if conn.side(r.sender.peer()).marks.syn.is_none() => format!(
            "Refused: {sender} answered a segment with neither SYN nor ACK (a FIN, NULL or Xmas scan probe) with RST,ACK: the port is closed, or a firewall rejects it (RFC 9293 §3.10.7.1); no connection was ever made."
        ),
        ResetCause::Refused => format!(
            "Refused: {sender} answered the SYN with RST: nothing listens on that port, or a firewall rejects it."
        ),
        ResetCause::Middlebox => {
            let sure = match r.confidence {
                Some(Confidence::Possible) => {
                    " Only one hop apart and nothing else shows it (a route that changed, or another leg of a load balancer, would look the same): possibly forged."
                }
                _ if r.signs.contains(&ForgerySign::IpIdOutOfSequence) => {
                    " Its IP ID is out of that host's own sequence too: likely forged."
                }
                _ => "",
            };
            // Only a RST after an idle period blames an idle timeout: right
            // after traffic it is the box's policy (an IPS, a firewall rule,
            // a traffic shaper), and keepalive changes nothing (the advice,
            // `reset_advice`, says so too).
            let why = if r.idle_before_s >= MIN_IDLE_OF_INTEREST_S {
                " A firewall or NAT box forged it, typically because it had forgotten the idle connection."
            } else {
                " It came right after traffic, not after an idle period: a box on the path reset it by policy (an IPS or firewall rule, a traffic shaper), not an idle timeout."
            };
            format!(
                "Reset by a middlebox: a RST in the name of {sender} arrived{idle}, but with a TTL that does not match that host's own packets just before it (it came from about {} hop{} away; the real host is {} hop{} away).{sure}{why}",
                r.injector_hops.unwrap_or(0),
                if r.injector_hops == Some(1) { "" } else { "s" },
                r.host_hops.unwrap_or(0),
                if r.host_hops == Some(1) { "" } else { "s" },
            )
        }
        ResetCause::PeerLostState if r.no_socket_reply => format!(
            "Peer lost the connection: {sender} answered its peer's segment (frame {}){idle} as a host with no connection for it does (RST without ACK, window 0, its sequence number the segment's acknowledgment: RFC 9293 §3.10.7.1): it had rebooted, restarted, or dropped the connection's state.",
            r.follows.frame
        ),
        ResetCause::PeerLostState => match closed_then_reset(conn, r) {
            // Its own FIN came first: a socket that closed and gave up
            // waiting for its peer's FIN, not a host that lost its state.
            Some(fin) => format!(
                "Peer lost the connection: {sender} answered{idle} with a stateless RST (no timestamp option although the connection negotiated it). But it had closed its side itself (FIN, frame {}) {} before, and {} never closed its own: a closed Linux socket waits net.ipv4.tcp_fin_timeout (60 s by default) for the peer's FIN and may then reset, without timestamps (tcp_keepalive_timer in FIN_WAIT2), which fits better than a reboot.",
                fin.frame,
                secs(r.rst.ts.secs_since(fin.ts)),
                endpoint(conn.side(r.sender.peer()).addr())
            ),
            None => format!(
                "Peer lost the connection: {sender} answered{idle} with a stateless RST (no timestamp option although the connection negotiated it, or in answer to a keepalive probe): it had rebooted, restarted, or dropped the connection's state."
            ),
        },
        ResetCause::AbortUnreadData => {
            let data = r.peer_data_before;
            let after = data.map_or(String::new(), |d| {
                format!(" {} its peer's last data (frame {})", after_words(r.rst.ts.secs_since(d.ts)), d.frame)
            });
            format!(
                "Aborted: {sender} reset the connection{after}, which it never answered with data: the application closed the socket at once, with that data unread (closing a socket with unread data sends RST instead of FIN, RFC 2525 §2.17) or abortively (SO_LINGER with a zero timeout); the capture cannot tell which."
            )
        }
        ResetCause::Abort => format!("Aborted: {sender} reset the connection{idle}.{}", abort_context(conn, r)),
    }
}

/// A RST its supposed sender went on after.
fn injected(conn: &Connection, i: &InjectedReset) -> String {
    let host = format!("{} ({})", endpoint(conn.side(i.sender).addr()), i.sender.name());
    let peer = endpoint(conn.side(i.sender.peer()).addr());
    let signs: Vec<String> = i
        .signs
        .iter()
        .map(|s| match s {
            ForgerySign::TtlDiffers => format!(
                "it came from about {} hop{} away, the host is {} hop{} away",
                i.injector_hops,
                if i.injector_hops == 1 { "" } else { "s" },
                i.host_hops,
                if i.host_hops == 1 { "" } else { "s" }
            ),
            ForgerySign::IpIdOfPeer => format!("its IP ID is that of {peer}'s packet it reacted to (built from a copy)"),
            ForgerySign::IpIdOutOfSequence => "its IP ID is out of the host's own sequence".to_string(),
            ForgerySign::AckIsSynSequence => format!(
                "it acknowledges {peer}'s SYN's own sequence number, where a host answering a SYN acknowledges one past it"
            ),
        })
        .collect();
    format!(
        "The RST at frame {} in the name of {host} did not end the connection: that host went on with it (frame {}), which a host never does after its own RST. It was injected by a middlebox racing the real host (a firewall, an IPS or a censor), and the connection ignored it{}.",
        i.rst.frame,
        i.continued_by.frame,
        if signs.is_empty() { String::new() } else { format!("; {}", signs.join("; ")) }
    )
}

/// The RST sender's own FIN before its RST, when its peer never closed:
/// the sender was waiting for that FIN (FIN_WAIT2), not a host that lost
/// the connection.
fn closed_then_reset(conn: &Connection, r: &ResetFinding) -> Option<PacketRef> {
    let peer_closed = conn.side(r.sender.peer()).marks.fin.get().is_some_and(|f| f.frame < r.rst.frame);
    conn.side(r.sender).marks.fin.get().filter(|f| f.frame < r.rst.frame && !peer_closed)
}

/// Both ends are one host (loopback, or the same address): no firewall,
/// NAT or load balancer sits between them.
fn one_host(conn: &Connection) -> bool {
    let (c, s) = (conn.client().ip(), conn.server().ip());
    c == s || (c.is_loopback() && s.is_loopback())
}

/// What came before an abort, in facts the capture shows.
fn abort_context(conn: &Connection, r: &ResetFinding) -> String {
    let me = &conn.side(r.sender).marks;
    let peer = &conn.side(r.sender.peer()).marks;
    let before = |p: crate::flow::PacketRef| secs(r.rst.ts.secs_since(p.ts));
    if let Some(fin) = me.fin.get().filter(|f| f.frame < r.rst.frame) {
        return format!(
            " It had closed its side with FIN (frame {}) {} before: the RST answers what arrived after that close, or the application aborted the closing socket.",
            fin.frame,
            before(fin)
        );
    }
    if let Some(fin) = peer.fin.get().filter(|f| f.frame < r.rst.frame) {
        // A wait of a second or more is an application that left the
        // connection half-closed; an immediate RST to a FIN is a stack with
        // no socket for it (closed already, or never open: a FIN scan).
        return if r.rst.ts.secs_since(fin.ts) >= MIN_IDLE_OF_INTEREST_S {
            format!(
                " Its peer had closed (FIN, frame {}) {} before: the connection sat half-closed (CLOSE_WAIT on {}) until the application aborted it instead of closing.",
                fin.frame,
                before(fin),
                endpoint(conn.side(r.sender).addr())
            )
        } else {
            format!(
                " It answered its peer's FIN (frame {}) at once: no socket was open for it any more (or ever: a FIN scan gets the same answer), or the application aborted instead of closing.",
                fin.frame
            )
        };
    }
    match r.peer_data_before.filter(|d| r.own_data_before.is_none_or(|m| m.frame < d.frame)) {
        // What the RST acknowledges is what had arrived: the rest was on its way.
        Some(data) if r.after_answer_to_own_data => format!(
            " It did so {} after its peer's answer (frame {}) to its own data (frame {}): it had what it was waiting for, so this is its reaction to the answer, closing abortively (SO_LINGER 0, as Windows' SMB client does after a failed logon), not a request left unread.",
            before(data),
            data.frame,
            r.own_data_before.map_or(0, |p| p.frame)
        ),
        Some(data) if r.peer_still_sending => format!(
            " Its peer was still sending: the RST acknowledges its data only up to what had arrived, and later segments (up to frame {}) were still on their way. The application aborted a transfer in progress (a user or an application timeout cancelling it, or an abortive close), not a request it left unread.",
            data.frame
        ),
        Some(data) => format!(
            " The last data on the connection came from its peer (frame {}) {} before; a close with that data unread would have reset at once, so the application ended the connection later on its own (an idle or application timeout, or an abortive close with SO_LINGER 0).",
            data.frame,
            before(data)
        ),
        None => String::new(),
    }
}

/// "Which setting did it" and what to do, for a prober that gave up.
fn keepalive_kill(s: &mut Prose, conn: &Connection, k: &KeepaliveFinding, probers: &[&KeepaliveFinding]) {
    let peer = conn.side(k.prober.peer());
    put!(s, "Keepalive timeout: ", SideText::of(conn, k.prober), " stopped hearing from ", EndpointText(peer.addr()));
    // The idle of the train that gave up; the settings below come from every train.
    match k.train_idle_s {
        Some(idle) => put!(s, ", sent its first probe after ", secs(idle), " of idle"),
        None => put!(s, " (the capture starts inside the idle period)"),
    }
    put!(s, ", sent ", k.last_train_count, " probe", plural(k.last_train_count));
    // The gaps as observed: one figure only when they agree (timers fire
    // late by varying amounts: 3.200 and 3.072 s are not "3.072 s apart").
    match (k.interval_observed.min(), k.interval_observed.max()) {
        (Some(lo), Some(hi)) if hi - lo >= 0.05 => put!(s, " ", secs(lo), " to ", secs(hi), " apart"),
        (Some(lo), _) => put!(s, " ", secs(lo), " apart"),
        _ => {}
    }
    put!(s, " that went unanswered, and ");
    match k.gave_up_with {
        Some(_) => put!(s, "then reset the connection."),
        None => {
            put!(s, "then fell silent (no RST in the capture: it may have been dropped before the capture point).")
        }
    }
    s.push(' ');
    settings_sentence(s, k);
    let peer_probing = probing_into_the_same_silence(k, probers);
    match peer_probing {
        // Both ends probed and neither heard the other: both were alive,
        // so what failed is the path between them (ka-both-cut: a router
        // dropping the flow both ways). Each side judges its own train
        // (Linux drops an out-of-window probe without answering it).
        Some(other) => put!(
            s,
            " ",
            EndpointText(peer.addr()),
            " was alive: it was probing too (from frame ",
            other.last_train.first().map_or(0, |p| p.frame),
            "), and neither end heard the other: the path between them was cut (a link, or a firewall or NAT dropping the flow both ways), not a host."
        ),
        None => put!(
            s,
            " The peer stopped answering: it vanished (power loss, crash, network cut, or a firewall or NAT dropping the flow) without a FIN or RST."
        ),
    }
    s.push(' ');
    keepalive_advice(s, conn, k, peer_probing.is_some())
}

/// The peer's own keepalive finding, when it too was probing unanswered
/// into the silence that ended `k`'s prober: its last train started after
/// the last packet `k`'s prober received.
fn probing_into_the_same_silence<'a>(
    k: &KeepaliveFinding,
    probers: &[&'a KeepaliveFinding],
) -> Option<&'a KeepaliveFinding> {
    let silence_from = k.idle_from?;
    probers.iter().copied().find(|o| {
        o.prober == k.prober.peer()
            && o.unanswered_at_end > 0
            && o.last_train.first().is_some_and(|p| p.ts > silence_from.ts)
    })
}

/// What to do after a keepalive timeout: the peer is the problem, not the
/// keepalive; to ride out short outages, more probes or a longer interval.
fn keepalive_advice(s: &mut Prose, conn: &Connection, k: &KeepaliveFinding, path_cut: bool) {
    let prober_ip = conn.side(k.prober).addr().ip();
    let peer_ip = conn.side(k.prober.peer()).addr().ip();
    if path_cut {
        put!(
            s,
            "What to do: look at the network between ",
            prober_ip,
            " and ",
            peer_ip,
            " (links, routes, firewalls and NAT on the path); both hosts were up. The keepalive did its job by detecting the loss, nothing needs tuning for that."
        );
    } else {
        put!(
            s,
            "What to do: look at ",
            peer_ip,
            " and the network to it; the keepalive did its job by detecting the loss, nothing needs tuning for that."
        );
    }
    // Riding out an outage takes probes × interval, not the idle: the idle
    // only says when probing starts (tcp_keepalive_timer counts probes
    // every interval once the idle has passed).
    put!(s, " To ride out short outages instead, raise the interval × probe count");
    if let (Some(i), Some((n, Bound::Exact))) = (k.interval, k.probes) {
        put!(s, " (now about ", n, " × ", i.value, " s = ", n * i.value, " s)");
    }
    put!(s, ", not the idle time: ");
    match os_family(k.probe_bytes, k.ttl) {
        OsFamily::Windows => put!(
            s,
            "on Windows, the interval per socket with SIO_KEEPALIVE_VALS or for ",
            prober_ip,
            " with the KeepAliveInterval registry value (Tcpip\\Parameters); the count is fixed at 10 unless the application sets TCP_KEEPCNT (Windows 10 1703 and later)."
        ),
        _ => put!(
            s,
            "per socket with setsockopt TCP_KEEPINTVL / TCP_KEEPCNT, or for all of ",
            prober_ip,
            " with sysctl -w net.ipv4.tcp_keepalive_intvl=… net.ipv4.tcp_keepalive_probes=… on Linux (net.inet.tcp.keepintvl, in ms, and net.inet.tcp.keepcnt on macOS and BSD)."
        ),
    }
    // A TCP_USER_TIMEOUT that fits the give-up overrides TCP_KEEPCNT
    // (tcp_keepalive_timer; tcp(7)): a larger count alone would change nothing.
    if k.user_timeout_between_s.is_some() && os_family(k.probe_bytes, k.ttl) != OsFamily::Windows {
        put!(
            s,
            " If the application set TCP_USER_TIMEOUT (it fits too, above), raise it as well: it overrides the count."
        );
    }
}

/// The inferred settings, with names, defaults and OS family.
fn settings_sentence(s: &mut Prose, k: &KeepaliveFinding) {
    let idle = k.idle.map(|i| i.value);
    let interval = k.interval.map(|i| i.value);
    let probes = k.probes;
    let (idle_text, interval_text) = (Setting(idle), Setting(interval));
    let probes_text = ProbeCount(probes);
    let family = os_family(k.probe_bytes, k.ttl);
    match family {
        OsFamily::Windows => put!(
            s,
            "This matches keepalive time ",
            idle_text,
            " s, interval ",
            interval_text,
            " s, ",
            probes_text,
            " probes (Windows: SIO_KEEPALIVE_VALS or the KeepAliveTime/KeepAliveInterval registry values, TCP_KEEPCNT)."
        ),
        _ => put!(
            s,
            "This matches tcp_keepalive_time=",
            idle_text,
            ", tcp_keepalive_intvl=",
            interval_text,
            ", tcp_keepalive_probes=",
            probes_text,
            " (Linux sysctls net.ipv4.tcp_keepalive_*, or per socket setsockopt TCP_KEEPIDLE=",
            idle_text,
            " / TCP_KEEPINTVL=",
            interval_text,
            " / TCP_KEEPCNT=",
            probes_text,
            "; macOS and BSD: net.inet.tcp.keepidle / keepintvl / keepcnt)."
        ),
    }
    if let Some(i) = k.idle.filter(|i| !i.is_exact()) {
        put!(
            s,
            " Timers fire late, so any idle setting from ",
            i.low,
            " to ",
            i.high,
            " s fits; ",
            i.value,
            " is the likeliest."
        );
    }
    if let (Some([low, high]), Some((n, Bound::Exact))) = (k.user_timeout_between_s, probes) {
        put!(
            s,
            " Linux resets after ",
            n,
            " probe",
            plural(n),
            " the same way when the application set TCP_USER_TIMEOUT, which overrides TCP_KEEPCNT (tcp_keepalive_timer): a user timeout of "
        );
        if low > 0.0 {
            put!(s, "more than ", Fixed { value: low, decimals: 1 }, " s and ");
        }
        put!(s, "at most ", Fixed { value: high, decimals: 1 }, " s since the last packet received fits too.");
    }
    s.push_str(&no_setting_words(k));
    origin_words(s, family, idle, interval, probes, k.user_timeout_between_s.is_some());
    put!(s, " Probe format: ", os_words(k.probe_bytes, k.ttl), ".");
}

/// A setting in numbers, "?" when the capture does not show it.
#[derive(Clone, Copy)]
struct Setting(Option<u32>);

impl Piece for Setting {
    fn put(self, out: &mut Prose) {
        match self.0 {
            Some(v) => v.put(out),
            None => out.push('?'),
        }
    }
}

/// The probe count: "9", "at least 3", or "?".
#[derive(Clone, Copy)]
struct ProbeCount(Option<(u32, Bound)>);

impl Piece for ProbeCount {
    fn put(self, out: &mut Prose) {
        match self.0 {
            Some((n, Bound::Exact)) => n.put(out),
            Some((n, Bound::AtLeast)) => put!(out, "at least ", n),
            None => out.push('?'),
        }
    }
}

/// A long time in seconds and, past a day, in days or years too.
fn in_years(t: f64) -> String {
    const DAY: f64 = 86_400.0;
    const YEAR: f64 = 365.25 * DAY;
    match t {
        t if t >= YEAR => format!("{} (about {:.1} years)", secs(t), t / YEAR),
        t if t >= DAY => format!("{} (about {:.0} days)", secs(t), t / DAY),
        t => secs(t).to_string(),
    }
}

/// Why probes that a silence showed to be one-offs give no idle setting
/// (see `verdict::one_off_probes`).
fn one_off_words(k: &KeepaliveFinding) -> String {
    let (Some(silence), Some(idle)) = (k.one_off, k.idle_observed.max()) else { return String::new() };
    let (it, was) = if k.probes_sent == 1 { ("it", "a single probe") } else { ("them", "single probes") };
    format!(
        " But after its answer (frame {}) it sent no probe for {}, until frame {}, with its socket open: a keepalive timer re-arms after an answered probe, so one that probed after {} of idle would have probed again about {} after the answer. No keepalive setting sent {it}: {was} (an application's, or its stack's on some event), which shows no idle setting.",
        silence.answer.frame,
        secs(silence.secs()),
        silence.until.frame,
        secs(idle),
        secs(idle),
    )
}

/// Says so when a prober's idle or interval is longer than any OS lets a
/// keepalive timer be (see [`crate::infer::KEEPALIVE_SETTING_MAX_S`]): no
/// setting made it, and none is inferred from it.
fn no_setting_words(k: &KeepaliveFinding) -> String {
    let beyond = |m: &MinMax| m.max().filter(|&t| beyond_any_keepalive_setting(t));
    let what = match (beyond(&k.idle_observed), beyond(&k.interval_observed)) {
        (Some(idle), _) => format!("an idle of {}", in_years(idle)),
        (None, Some(interval)) => format!("an interval of {} between probes", in_years(interval)),
        (None, None) => return String::new(),
    };
    format!(
        " But {what} is longer than any OS lets a keepalive timer be (Linux at most {LINUX_KEEPALIVE_MAX_S} s, Windows and macOS about 49.7 days, FreeBSD about 1.4 years at most): no setting made it. The capture's clock jumped between those packets (captures of different times in one file, or a clock set while capturing), or they are no keepalive probes."
    )
}

/// Which of the settings are the prober's OS defaults and which someone set.
/// `user_timeout_fits`: a TCP_USER_TIMEOUT explains the give-up as well as
/// the probe count does, so the count is not proven set.
fn origin_words(
    s: &mut Prose,
    family: OsFamily,
    idle: Option<u32>,
    interval: Option<u32>,
    probes: Option<(u32, Bound)>,
    user_timeout_fits: bool,
) {
    const NOT_A_DEFAULT: Literal = Literal::new(
        " These are not an OS default (Linux 7200/75/9, Windows 7200/1/10, macOS 7200/75/8): someone tuned them.",
    );
    match settings_origin(idle, interval, probes) {
        SettingsOrigin::LinuxDefault => put!(s, " These are the Linux defaults (7200/75/9)."),
        SettingsOrigin::MacosDefault => put!(s, " These are the macOS defaults (7200/75/8)."),
        SettingsOrigin::WindowsDefault => put!(s, " These are the Windows defaults (7200 s, 1 s, 10 probes)."),
        SettingsOrigin::Unknown => {}
        SettingsOrigin::Tuned => {
            let (defaults, os) = match family {
                OsFamily::Windows => (WINDOWS_DEFAULTS, "Windows"),
                OsFamily::LinuxOrBsd if probes == Some((MACOS_DEFAULTS.2, Bound::Exact)) => (MACOS_DEFAULTS, "macOS"),
                OsFamily::LinuxOrBsd => (LINUX_DEFAULTS, "Linux"),
                _ => {
                    s.push_literal(NOT_A_DEFAULT);
                    return;
                }
            };
            let mut set = Few::default();
            let mut kept = Few::default();
            for (what, value, default) in [("idle", idle, defaults.0), ("interval", interval, defaults.1)] {
                match value {
                    Some(v) if v != default => set.push(SettingWords::Timer { what, value: v, default }),
                    Some(_) => kept.push(SettingWords::Kept(what)),
                    None => {}
                }
            }
            let default = defaults.2;
            match probes {
                // Windows Vista and later send 10 probes, a count no registry
                // value changes (SIO_KEEPALIVE_VALS documentation).
                Some((10, Bound::Exact)) if family == OsFamily::Windows => kept.push(SettingWords::WindowsCount),
                // tcp_keepalive_timer: with TCP_USER_TIMEOUT set, the
                // count is not consulted, so the probes seen may be the
                // timeout's doing with the count left at its default.
                Some((n, Bound::Exact)) if n != default && user_timeout_fits => {
                    set.push(SettingWords::Count { n, default, at_least: false, or_user_timeout: true })
                }
                Some((n, Bound::Exact)) if n != default => {
                    set.push(SettingWords::Count { n, default, at_least: false, or_user_timeout: false })
                }
                Some((n, Bound::AtLeast)) if n > default => {
                    set.push(SettingWords::Count { n, default, at_least: true, or_user_timeout: false })
                }
                Some((_, Bound::Exact)) => kept.push(SettingWords::Kept("probe count")),
                _ => {}
            }
            if set.len == 0 {
                s.push_literal(NOT_A_DEFAULT);
                return;
            }
            put!(s, " Not all ", os, " defaults: someone set ", JoinedWithAnd(set.items()), ".");
            if kept.len > 0 {
                s.push(' ');
                let start = s.len();
                JoinedWithAnd(kept.items()).put(s);
                s.capitalise_from(start);
                put!(s, " ", if kept.len == 1 { "is" } else { "are" }, " ", os, "'s default.");
            }
        }
    }
}

/// What someone set, or left at its default, of a prober's keepalive settings.
#[derive(Clone, Copy)]
enum SettingWords {
    /// "the idle (20 s; default 7200 s)"
    Timer { what: &'static str, value: u32, default: u32 },
    /// "the probe count (2; default 9)", "(at least 12; …)", "… or a TCP_USER_TIMEOUT"
    Count { n: u32, default: u32, at_least: bool, or_user_timeout: bool },
    /// "the interval", left at its default.
    Kept(&'static str),
    /// Windows' 10 probes.
    WindowsCount,
}

impl Piece for SettingWords {
    fn put(self, out: &mut Prose) {
        match self {
            SettingWords::Timer { what, value, default } => {
                put!(out, "the ", what, " (", value, " s; default ", default, " s)")
            }
            SettingWords::Count { n, default, at_least, or_user_timeout } => put!(
                out,
                "the probe count (",
                if at_least { "at least " } else { "" },
                n,
                "; default ",
                default,
                ")",
                if or_user_timeout { " or a TCP_USER_TIMEOUT" } else { "" }
            ),
            SettingWords::Kept(what) => put!(out, "the ", what),
            SettingWords::WindowsCount => {
                put!(out, "the 10 probes (Windows' fixed count; only TCP_KEEPCNT, from Windows 10 1703, changes it)")
            }
        }
    }
}

/// Up to three of a prober's settings (idle, interval, count), without a Vec.
#[derive(Default)]
struct Few {
    items: [Option<SettingWords>; 3],
    len: usize,
}

impl Few {
    fn push(&mut self, item: SettingWords) {
        self.items[self.len] = Some(item);
        self.len += 1;
    }

    fn items(&self) -> &[Option<SettingWords>] {
        &self.items[..self.len]
    }
}

/// "a", "a and b", "a, b and c".
struct JoinedWithAnd<'a>(&'a [Option<SettingWords>]);

impl Piece for JoinedWithAnd<'_> {
    fn put(self, out: &mut Prose) {
        let n = self.0.len();
        for (i, item) in self.0.iter().flatten().enumerate() {
            match i {
                0 => {}
                i if i + 1 == n => put!(out, " and "),
                _ => put!(out, ", "),
            }
            item.put(out);
        }
    }
}

/// A side that probed but did not end the connection.
fn keepalive_seen(s: &mut Prose, conn: &Connection, k: &KeepaliveFinding, forged_rst: Option<PacketRef>) {
    put!(
        s,
        SideText::of(conn, k.prober),
        " sent ",
        k.probes_sent,
        " keepalive probe",
        plural(k.probes_sent),
        ", ",
        k.probes_answered,
        " answered"
    );
    if let Some(idle) = k.idle_observed.min() {
        put!(s, "; first probe after ", secs(idle), " of idle");
        if let Some(i) = k.idle {
            put!(s, " (idle setting ", i.value, " s");
            if !i.is_exact() {
                put!(s, ", ", i.low, "–", i.high, " s fit");
            }
            s.push(')');
        }
    }
    s.push('.');
    s.push_str(&one_off_words(k));
    s.push_str(&no_setting_words(k));
    if k.probes_answered > 0 {
        put!(s, " The peer was alive and answered.");
    }
    if k.gave_up {
        // Both ends probed into a path that had gone: each gave up on its own.
        put!(s, " It gave up too: it ");
        match k.gave_up_with {
            Some(rst) => put!(s, "reset the connection (frame ", rst.frame, ")"),
            None => put!(s, "fell silent"),
        }
        put!(s, " after ", k.last_train_count, " unanswered probe", plural(k.last_train_count), ".");
    } else if k.unanswered_at_end > 0
        && let Some(after) = conn
            .side(k.prober)
            .marks
            .last_sent
            .get()
            .filter(|&p| k.last_train.last().is_some_and(|l| p.frame > l.frame))
    {
        // It went on after its probes (a FIN, data): it had not given up on them.
        let n = k.unanswered_at_end;
        put!(s, " Its last ");
        if n == 1 {
            put!(s, "probe");
        } else {
            put!(s, n, " probes");
        }
        put!(
            s,
            " went unanswered, and it sent more after ",
            if n == 1 { "it" } else { "them" },
            " (frame ",
            after.frame,
            "): it had not given up (its probe count is at least ",
            n,
            ")."
        );
    } else if let (n @ 1.., Some(blind)) = (k.unanswered_at_end, k.capture_blind) {
        // Its silence was one the capture could not see through.
        put!(
            s,
            " Still probing as far as the capture can see: ",
            n,
            " probe",
            plural(n),
            " without an answer, the last at frame ",
            k.last_train.last().map_or(0, |p| p.frame),
            ". From frame ",
            blind.first_request.frame,
            " to frame ",
            blind.last_request.frame,
            " the link asked ",
            blind.requests,
            " times who has ",
            conn.side(k.prober.peer()).addr().ip(),
            " (ARP or neighbour discovery), and nothing answered: the router in front of it dropped what came for it, so its next probes could not reach the capture point, and whether it gave up cannot be seen (its probe count is at least ",
            n,
            ")."
        );
    } else if k.unanswered_at_end > 0 {
        let n = k.unanswered_at_end;
        put!(
            s,
            " Still probing, unanswered at the end of the capture: ",
            n,
            " probe",
            plural(n),
            " without an answer, and no sign that it gave up (its probe count is at least ",
            n,
            ")",
            if k.interval.is_none() {
                "; its interval cannot be seen, so when it would have given up cannot be told"
            } else {
                ""
            },
            "."
        );
    }
    match k.reset_by_peer {
        Some(rst) if Some(rst) == forged_rst => put!(
            s,
            " The RST that answered a probe (frame ",
            rst.frame,
            ") carried the peer's name but was forged by a box on the path (above): it says nothing of the peer's own state."
        ),
        Some(_) => put!(
            s,
            " The peer answered a probe with RST: it no longer knew the connection (rebooted or lost its state)."
        ),
        None => {}
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::wire::*;
    use crate::neighbours::NeighbourLog;
    use crate::time::Timestamp;
    use crate::verdict::judge;

    fn diagnosis(w: Wire, end: f64) -> String {
        let conns = w.finish();
        describe(&conns[0], &judge(&conns[0], Timestamp::from_secs_f64(end), &NeighbourLog::default()))
    }

    #[test]
    fn an_idle_of_years_is_said_to_be_no_setting_not_tuned() {
        // A keepalive kill whose first probe comes 10 years after the last
        // packet the prober received (a clock set while capturing): no OS
        // takes such an idle, so no tcp_keepalive_time is inferred from it.
        let years = 10.0 * 365.25 * 86_400.0;
        let mut w = Wire::established(1000, 5000);
        w.send(years, seg(S, ACK, 5100, 1011, 0));
        w.send(years + 2.0, seg(S, ACK, 5100, 1011, 0));
        w.send(years + 4.0, seg(S, RST | ACK, 5101, 1011, 0));
        let conns = w.finish();
        let verdict = judge(&conns[0], Timestamp::from_secs_f64(years + 4.0), &NeighbourLog::default());
        let k = &verdict.keepalive()[0];
        assert_eq!((k.idle, k.interval.map(|i| i.value)), (None, Some(2)));
        let text = describe(&conns[0], &verdict);
        assert!(
            text.contains("an idle of 315576000 s (about 10.0 years) is longer than any OS lets a keepalive timer be"),
            "{text}"
        );
        assert!(text.contains("no setting made it"), "{text}");
        // Nor does any TCP_USER_TIMEOUT (Linux takes at most INT_MAX ms).
        assert_eq!(k.user_timeout_between_s, None);
        assert!(!text.contains("TCP_USER_TIMEOUT, which overrides"), "{text}");
        assert!(text.contains("tcp_keepalive_time=?") && !text.contains("tuned"), "{text}");
        // An idle Linux takes is still a setting, and says nothing of the kind.
        let mut w = Wire::established(1000, 5000);
        w.send(30_000.0, seg(S, ACK, 5100, 1011, 0));
        w.send(30_002.0, seg(S, ACK, 5100, 1011, 0));
        w.send(30_004.0, seg(S, RST | ACK, 5101, 1011, 0));
        let text = diagnosis(w, 30_004.0);
        assert!(!text.contains("no setting made it") && text.contains("tcp_keepalive_time=30000"), "{text}");
    }

    #[test]
    fn a_middlebox_reset_right_after_traffic_is_policy_not_an_idle_timeout() {
        let forged_after = |idle: f64| {
            let mut w = Wire::established(1000, 5000);
            w.send(idle, seg(C, ACK, 1011, 5101, 10));
            w.send(idle + 0.001, seg(S, RST, 5101, 0, 0).ttl(50));
            diagnosis(w, idle + 0.001)
        };
        // Right after the handshake and the first exchange: an IPS or a firewall rule.
        let text = forged_after(0.006);
        assert!(text.contains("by policy") && !text.contains("idle timeout (TCP keepalive"), "{text}");
        // Its advice is the box's rules, not keeping the connection busy.
        assert!(text.contains("rules and logs") && !text.contains("busier"), "{text}");
        // After 300 s of silence: a box that forgot the idle connection.
        let text = forged_after(300.0);
        assert!(text.contains("forgotten the idle connection") && !text.contains("by policy"), "{text}");
        assert!(text.contains("busier than the box's idle timeout") && !text.contains("rules and logs"), "{text}");
    }

    #[test]
    fn an_abort_says_what_preceded_it() {
        // The client closed; the server sat in CLOSE_WAIT for 13 s, then reset.
        let mut w = Wire::established(1000, 5000);
        w.send(1.0, seg(C, FIN | ACK, 1011, 5101, 0));
        w.send(1.1, seg(S, ACK, 5101, 1012, 0));
        w.send(14.1, seg(S, RST | ACK, 5101, 1012, 0));
        let text = diagnosis(w, 14.1);
        assert!(text.contains("Its peer had closed (FIN, frame 7) 13.10 s before"), "{text}");
        assert!(text.contains("CLOSE_WAIT on 10.0.0.2:7777"), "{text}");

        // An immediate RST to a FIN: no CLOSE_WAIT story.
        let mut w = Wire::established(1000, 5000);
        w.send(1.0, seg(C, FIN | ACK, 1011, 5101, 0));
        w.send(1.001, seg(S, RST | ACK, 5101, 1012, 0));
        let text = diagnosis(w, 1.001);
        assert!(text.contains("answered its peer's FIN (frame 7) at once"), "{text}");
        assert!(!text.contains("CLOSE_WAIT"), "{text}");

        // 30 s after the peer's data: an application that ended it later, not unread data.
        let mut w = Wire::established(1000, 5000);
        w.send(1.0, seg(S, ACK, 5101, 1011, 200));
        w.send(31.0, seg(C, RST | ACK, 1011, 5301, 0));
        let text = diagnosis(w, 31.0);
        assert!(text.contains("came from its peer (frame 7) 30.00 s before"), "{text}");
        assert!(!text.contains("unread)"), "{text}");
    }

    #[test]
    fn a_keepalive_kill_names_the_settings_the_user_timeout_and_what_to_do() {
        let mut w = Wire::established(1000, 5000);
        w.send(21.405, seg(S, ACK, 5100, 1011, 0));
        w.send(23.421, seg(S, ACK, 5100, 1011, 0));
        w.send(25.437, seg(S, RST | ACK, 5101, 1011, 0));
        let text = diagnosis(w, 25.437);
        assert!(text.contains("tcp_keepalive_time=20, tcp_keepalive_intvl=2, tcp_keepalive_probes=2"), "{text}");
        // tcp_keepalive_timer: TCP_USER_TIMEOUT overrides TCP_KEEPCNT.
        assert!(text.contains("TCP_USER_TIMEOUT, which overrides TCP_KEEPCNT"), "{text}");
        assert!(text.contains("more than 23.4 s and at most 25.4 s"), "{text}");
        // The peer vanished: look there; riding out outages is interval × count.
        assert!(text.contains("look at 10.0.0.1 and the network to it"), "{text}");
        assert!(text.contains("(now about 2 × 2 s = 4 s), not the idle time"), "{text}");
        assert!(text.contains("net.ipv4.tcp_keepalive_intvl"), "{text}");
        assert!(text.contains("net.inet.tcp.keepintvl"), "{text}");
        assert!(text.contains("someone set the idle (20 s; default 7200 s), the interval (2 s; default 75 s) and the probe count (2; default 9)"), "{text}");
    }

    #[test]
    fn windows_ten_probes_are_its_fixed_count_and_one_byte_alone_is_not_windows() {
        // Windows (TTL 128, 1-byte probes): 30 s idle, 10 probes 1 s apart, RST.
        let windows = |ttl: u8| {
            let mut w = Wire::new();
            w.send(0.0, seg(C, SYN, 1000, 0, 0).ttl(ttl));
            w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0));
            w.send(0.002, seg(C, ACK, 1001, 5001, 10).ttl(ttl));
            w.send(0.004, seg(S, ACK, 5001, 1011, 100));
            w.send(0.005, seg(C, ACK, 1011, 5101, 0).ttl(ttl));
            for i in 0..10 {
                w.send(30.005 + f64::from(i), seg(C, ACK, 1010, 5101, 1).ttl(ttl));
            }
            w.send(40.005, seg(C, RST | ACK, 1011, 5101, 0).ttl(ttl));
            w
        };
        let text = diagnosis(windows(128), 40.005);
        assert!(text.contains("someone set the idle (30 s; default 7200 s)."), "{text}");
        assert!(text.contains("the 10 probes (Windows' fixed count"), "{text}");
        assert!(!text.contains("tuned"), "{text}");
        assert!(text.contains("1 byte and initial TTL 128: both point to Windows (likely, not certain"), "{text}");
        assert!(text.contains("SIO_KEEPALIVE_VALS"), "{text}");
        // The same probes from a host whose packets start at TTL 64: not Windows.
        let text = diagnosis(windows(64), 40.005);
        assert!(text.contains("1 byte, but initial TTL 64, not Windows' 128"), "{text}");
        assert!(!text.contains("Windows' fixed count"), "{text}");
    }

    #[test]
    fn a_probe_still_unanswered_at_the_end_is_probing_not_a_timeout() {
        let mut w = Wire::established(1000, 5000);
        w.send(20.0, seg(S, ACK, 5100, 1011, 0));
        let text = diagnosis(w, 120.0);
        assert!(text.starts_with("Still open"), "{text}");
        assert!(text.contains("Still probing, unanswered at the end of the capture: 1 probe"), "{text}");
        assert!(text.contains("its interval cannot be seen"), "{text}");
    }

    #[test]
    fn a_heartbeat_period_is_reported_as_observed() {
        // Every 3.5 s: not "4 s".
        let mut w = Wire::established(1000, 5000);
        let mut cseq = 1011u32;
        for i in 1..=6 {
            w.send(3.5 * f64::from(i), seg(C, ACK, cseq, 5101, 5));
            cseq += 5;
        }
        let conns = w.finish();
        let v = judge(&conns[0], Timestamp::from_secs_f64(22.0), &NeighbourLog::default());
        assert!(describe(&conns[0], &v).contains("heartbeat every 3.500 s"));
        let report = crate::report::ConnectionReport::new(&conns[0], &v, "test", 1);
        assert_eq!(report.heartbeat.unwrap().facts.period_s, 3.5);
    }

    #[test]
    fn a_stall_says_since_when_how_and_when_each_os_gives_up_and_gives_no_nat_advice() {
        let mut w = Wire::established(1000, 5000);
        for t in [10.0, 10.2, 10.6, 11.4] {
            w.send(t, seg(C, ACK, 1011, 5101, 50));
        }
        let text = diagnosis(w, 11.5);
        assert!(text.starts_with("Stalled: 10.0.0.1:40000 (client) was still retransmitting"), "{text}");
        assert!(text.contains("first sent the data at frame 7"), "{text}");
        assert!(
            text.contains("3 times with backoff gaps of 0.20, 0.40, 0.80 s, the last (frame 10) 0.100 s before"),
            "{text}"
        );
        assert!(text.contains("the peer or the path to it is gone"), "{text}");
        assert!(text.contains("924.6 s after the first transmission"), "{text}");
        assert!(text.contains("Windows with a RST after 5 retransmissions"), "{text}");
        assert!(!text.contains("idle for") && !text.contains("NAT idle timeout"), "{text}");
    }

    #[test]
    fn a_stalled_sender_that_sent_its_fin_is_given_the_orphan_limit_if_its_application_closed() {
        // nDPI android.pcap 1-2: the server's data (2) and data+FIN (3),
        // resent together with backoff until the capture lost the phone. A
        // socket its application closed is an orphan and gives up after
        // tcp_orphan_retries (0 means 8: 102.2 s), not tcp_retries2
        // (tcp_write_timeout, net/ipv4/tcp_timer.c); shutdown(SHUT_WR)
        // sends the same FIN and keeps tcp_retries2.
        let mut w = Wire::established(1000, 5000);
        w.send(10.0, seg(C, ACK, 1011, 5101, 46));
        w.send(10.001, seg(C, FIN | ACK, 1057, 5101, 31));
        for t in [10.3, 10.9, 12.1, 14.5] {
            w.send(t, seg(C, FIN | ACK, 1011, 5101, 77));
        }
        let text = diagnosis(w, 15.0);
        assert!(text.starts_with("Stalled: 10.0.0.1:40000 (client) was still retransmitting"), "{text}");
        assert!(
            text.contains(
                "as it had sent its FIN (frame 8): if its application closed the socket, as an orphan after net.ipv4.tcp_orphan_retries (the default 0 means 8 retries), 102.2 s after the first transmission (97.70 s from its last retransmission); if it only shut down writing, after tcp_retries2 (the default 15), 924.6 s after"
            ),
            "{text}"
        );
        assert!(!text.contains("with the default tcp_retries2=15"), "{text}");

        // Retransmitting past the orphan's 102.2 s: it gives up at its next
        // expiry, when Linux checks, not at a time already past.
        let mut w = Wire::established(1000, 5000);
        let mut t = 10.0;
        for gap in [0.0, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2] {
            t += gap;
            w.send(t, seg(C, FIN | ACK, 1011, 5101, 0));
        }
        let text = diagnosis(w, t + 1.0);
        assert!(
            text.contains("tcp_orphan_retries (the default 0 means 8 retries), at its next retransmission timeout (the 102.2 s from the first transmission that this allows will have passed"),
            "{text}"
        );
    }

    #[test]
    fn a_give_up_after_a_fin_is_advised_on_the_orphan_limit() {
        // nDPI wechat.pcap 1-1259: FIN 1425 resent 7 times with doubling
        // gaps, then silence: to ride out longer outages, the orphan limit
        // is the knob if the application closed the socket.
        let mut w = Wire::established(1000, 5000);
        let mut t = 10.0;
        for gap in [0.0, 0.6, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6] {
            t += gap;
            w.send(t, seg(C, FIN | ACK, 1011, 5101, 0));
        }
        let text = diagnosis(w, t + 300.0);
        assert!(text.starts_with("Retransmission timeout:"), "{text}");
        assert!(
            text.contains("raise the limit on 10.0.0.1, net.ipv4.tcp_orphan_retries if the application closed the socket (net.ipv4.tcp_retries2 if it only shut down writing), or TCP_USER_TIMEOUT"),
            "{text}"
        );
    }

    #[test]
    fn a_probe_no_second_one_followed_is_a_one_off_with_no_idle_setting() {
        // suricata-verify tcp-opt.pcap: probe 34 1.027 s after the server's
        // data, answered by 35, then 30.4 s without a probe until the
        // client's data 36: no keepalive timer (one re-arms after an answer).
        let mut w = Wire::established(1000, 5000);
        w.send(1.031, seg(C, ACK, 1010, 5101, 0));
        w.send(1.228, seg(S, ACK, 5101, 1011, 0));
        w.send(31.648, seg(C, ACK, 1011, 5101, 31));
        w.send(31.75, seg(S, ACK, 5101, 1042, 0));
        let text = diagnosis(w, 32.0);
        assert!(text.contains("sent 1 keepalive probe, 1 answered; first probe after 1.027 s of idle."), "{text}");
        assert!(
            text.contains(
                "after its answer (frame 8) it sent no probe for 30.42 s, until frame 9, with its socket open"
            ),
            "{text}"
        );
        assert!(text.contains("No keepalive setting sent it: a single probe"), "{text}");
        assert!(!text.contains("idle setting 1 s"), "{text}");
        // Probed again after the same idle: a timer, with its setting.
        let mut w = Wire::established(1000, 5000);
        w.send(10.005, seg(C, ACK, 1010, 5101, 0));
        w.send(10.006, seg(S, ACK, 5101, 1011, 0));
        w.send(20.007, seg(C, ACK, 1010, 5101, 0));
        w.send(20.008, seg(S, ACK, 5101, 1011, 0));
        w.send(25.0, seg(C, ACK, 1011, 5101, 31));
        let text = diagnosis(w, 26.0);
        assert!(text.contains("(idle setting 10 s") && !text.contains("single probe"), "{text}");
    }

    #[test]
    fn a_stall_at_steady_gaps_is_no_backoff_and_gets_no_give_up_schedule() {
        // nDPI zoom.pcap s0: 199 bytes resent every ~2.1 s (2.13, 2.14,
        // 2.19 s), nothing back, the capture's TCP part ending 0.66 s after
        // the last copy. Still retransmitting (stalled), but no timer's
        // backoff: RFC 6298 §5.5 doubles the timeout, so no OS's give-up
        // schedule applies.
        let mut w = Wire::established(1000, 5000);
        for t in [10.0, 12.13, 14.27, 16.46] {
            w.send(t, seg(C, ACK, 1011, 5101, 199));
        }
        let text = diagnosis(w, 17.12);
        assert!(text.starts_with("Stalled: 10.0.0.1:40000 (client) was still retransmitting"), "{text}");
        assert!(text.contains("3 times at steady gaps of 2.13, 2.14, 2.19 s (no backoff)"), "{text}");
        assert!(text.contains("no OS's give-up schedule"), "{text}");
        assert!(!text.contains("924.6 s") && !text.contains("backoff gaps"), "{text}");
    }

    #[test]
    fn a_windows_give_up_is_named_by_its_ttl_and_tcp_retries2_only_for_linux() {
        let mut w = Wire::new();
        w.send(0.0, seg(C, SYN, 1000, 0, 0).ttl(128));
        w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0));
        w.send(0.002, seg(C, ACK, 1001, 5001, 0).ttl(128));
        for t in [1.0, 1.3, 1.9, 3.1, 5.5, 10.3] {
            w.send(t, seg(C, ACK, 1001, 5001, 409).ttl(128));
        }
        w.send(19.9, seg(C, RST | ACK, 1410, 5001, 0).ttl(128));
        let text = diagnosis(w, 19.9);
        assert!(text.contains("That is how Windows gives up (initial TTL 128)"), "{text}");
        assert!(text.contains("5 by default, as here"), "{text}");
        assert!(!text.contains("BSD and macOS do"), "{text}");

        // A Linux-like sender that closed (FIN) and then gave up silently: tcp_orphan_retries.
        let mut w = Wire::established(1000, 5000);
        let mut t = 10.0;
        let mut gap = 0.2;
        w.send(t, seg(C, FIN | ACK, 1011, 5101, 50));
        // 8 retransmissions with a doubling RTO from 200 ms: given up by 102.2 s.
        for _ in 0..8 {
            t += gap;
            gap *= 2.0;
            w.send(t, seg(C, FIN | ACK, 1011, 5101, 50));
        }
        let text = diagnosis(w, 300.0);
        assert!(
            text.contains("net.ipv4.tcp_orphan_retries (the default 0 means 8 retries, about 102.2 s), which fits"),
            "{text}"
        );
    }

    #[test]
    fn a_zero_window_stall_points_at_the_receiving_application() {
        let mut w = Wire::established(1000, 5000);
        w.send(1.0, seg(S, ACK, 5101, 1011, 100));
        w.send(1.001, seg(C, ACK, 1011, 5201, 0).window(0));
        for t in [1.201, 1.601, 2.401] {
            w.send(t, seg(S, ACK, 5200, 1011, 0));
            w.send(t + 0.001, seg(C, ACK, 1011, 5201, 0).window(0));
        }
        let text = diagnosis(w, 5.0);
        assert!(
            text.starts_with("Stalled on a zero window: 10.0.0.1:40000 (client) advertised a zero window at frame 8"),
            "{text}"
        );
        assert!(text.contains("sent 3 zero-window probes (frames 9 to 13; gaps of 0.20, 0.40, 0.80 s"), "{text}");
        assert!(text.contains("Look at the application on 10.0.0.1"), "{text}");
    }

    #[test]
    fn middlebox_timeouts_are_warned_about_only_for_silences_long_enough_to_matter() {
        // Idle for a few milliseconds at the end: no "shorter than 0.000 s" warning.
        let text = diagnosis(Wire::established(1000, 5000), 0.005);
        assert_eq!(text, "Still open when the capture ended.");
        // 300 s of silence: longer than the ALB (60 s) and Azure LB (240 s) defaults.
        let text = diagnosis(Wire::established(1000, 5000), 300.0);
        assert!(text.contains("It had been idle for 300 s at the end of the capture."), "{text}");
        assert!(
            text.contains("longer than the default idle timeout of AWS Application Load Balancer (60 s) and Azure Load Balancer (240 s)"),
            "{text}"
        );
        // 30 s: idle, but no common box would have cut it.
        let text = diagnosis(Wire::established(1000, 5000), 30.0);
        assert!(text.contains("idle for 30.00 s") && !text.contains("Load Balancer"), "{text}");
    }

    #[test]
    fn advice_follows_the_evidence_and_the_os() {
        // A peer that answers a keepalive probe with RST restarted: nothing to tune.
        let mut w = Wire::established(1000, 5000);
        w.send(60.0, seg(S, ACK, 5100, 1011, 0));
        w.send(60.001, seg(C, RST, 1011, 0, 0));
        let text = diagnosis(w, 60.001);
        assert!(text.contains("What to do: nothing to tune"), "{text}");
        // A forged RST after idle: keep it busier than the box's timeout, with
        // each end's knobs by its OS (the client starts at TTL 128: Windows).
        let mut w = Wire::new();
        w.send(0.0, seg(C, SYN, 1000, 0, 0).ttl(128));
        w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0).ttl(62));
        w.send(0.002, seg(C, ACK, 1001, 5001, 10).ttl(128));
        w.send(0.003, seg(S, ACK, 5001, 1011, 0).ttl(62));
        w.send(300.0, seg(C, ACK, 1011, 5001, 10).ttl(128));
        w.send(300.001, seg(S, RST | ACK, 5001, 1021, 0).ttl(64));
        let text = diagnosis(w, 300.001);
        assert!(
            text.contains(
                "What to do: keep the connection busier than the box's idle timeout (it forgot this one after 300 s"
            ),
            "{text}"
        );
        assert!(text.contains("on 10.0.0.1 (initial TTL 128: likely Windows), SIO_KEEPALIVE_VALS"), "{text}");
        assert!(
            text.contains("on 10.0.0.2 (initial TTL 64: Linux, BSD or macOS), setsockopt SO_KEEPALIVE + TCP_KEEPIDLE"),
            "{text}"
        );
        // A retransmission timeout: look at the peer; the sender's give-up limit by its OS.
        let mut w = Wire::established(1000, 5000);
        for t in [10.0, 10.2, 10.6, 11.4] {
            w.send(t, seg(C, ACK, 1011, 5101, 50));
        }
        let text = diagnosis(w, 20.0);
        assert!(text.contains("What to do: look at 10.0.0.2 and the path to it"), "{text}");
        assert!(text.contains("net.ipv4.tcp_retries2 or TCP_USER_TIMEOUT per socket"), "{text}");
    }

    #[test]
    fn both_ends_probing_unanswered_blame_the_path_not_the_peer() {
        // ka-both-cut: the server and the client both probe after the
        // path is cut; the server gives up first. The client was alive.
        let mut w = Wire::established(1000, 5000);
        w.send(10.0, seg(S, ACK, 5100, 1011, 0));
        w.send(11.0, seg(C, ACK, 1010, 5101, 0));
        w.send(12.0, seg(S, ACK, 5100, 1011, 0));
        w.send(14.0, seg(S, RST | ACK, 5101, 1011, 0));
        let text = diagnosis(w, 14.0);
        assert!(text.starts_with("Keepalive timeout: 10.0.0.2:7777 (server)"), "{text}");
        assert!(text.contains("10.0.0.1:40000 was alive: it was probing too (from frame 8)"), "{text}");
        assert!(text.contains("look at the network between 10.0.0.2 and 10.0.0.1"), "{text}");
        assert!(!text.contains("it vanished") && !text.contains("look at 10.0.0.1 and"), "{text}");
        // The peer alone probing nothing: it vanished, as before.
        let mut w = Wire::established(1000, 5000);
        w.send(10.0, seg(S, ACK, 5100, 1011, 0));
        w.send(12.0, seg(S, ACK, 5100, 1011, 0));
        w.send(14.0, seg(S, RST | ACK, 5101, 1011, 0));
        let text = diagnosis(w, 14.0);
        assert!(text.contains("it vanished") && text.contains("look at 10.0.0.1 and the network to it"), "{text}");
    }

    #[test]
    fn a_forged_rst_answering_a_probe_is_not_the_peer_rebooting() {
        // fixtures/vantage-inject.pcap: a box answers the server's probe
        // with a RST in the client's name (another TTL than the client's).
        let mut w = Wire::established(1000, 5000);
        w.send(5.0, seg(S, ACK, 5100, 1011, 0));
        w.send(5.001, seg(C, RST, 1011, 0, 0).ttl(50));
        let conns = w.finish();
        let verdict = judge(&conns[0], Timestamp::from_secs_f64(5.001), &crate::neighbours::NeighbourLog::default());
        assert_eq!(verdict.reset().map(|r| r.cause), Some(ResetCause::Middlebox));
        let text = describe(&conns[0], &verdict);
        assert!(text.contains("carried the peer's name but was forged by a box on the path"), "{text}");
        assert!(!text.contains("rebooted or lost its state"), "{text}");
        let report = crate::report::ConnectionReport::new(&conns[0], &verdict, "test", 1);
        let rst = report.evidence.iter().find(|e| e.frame == 8).map(|e| e.what.as_str());
        assert_eq!(rst, Some("RST in the name of 10.0.0.1:40000 (client) answered the probe: forged by a middlebox"));
    }

    /// A handshake with timestamps (so a RST without them is stateless),
    /// then `rest`.
    fn with_timestamps(rest: impl FnOnce(&mut Wire)) -> Wire {
        let mut w = Wire::new();
        w.send(0.0, seg(C, SYN, 1000, 0, 0).timestamps());
        w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0).timestamps());
        w.send(0.002, seg(C, ACK, 1001, 5001, 0).timestamps());
        rest(&mut w);
        w
    }

    #[test]
    fn a_stateless_rst_after_its_own_fin_is_a_fin_wait2_timeout_not_a_reboot() {
        // icsnpp-opcua-binary open62541: the server closes (FIN 375), the
        // client ACKs but never closes, and 60 s later the server resets
        // without timestamps: Linux's tcp_fin_timeout, not a lost host.
        let w = with_timestamps(|w| {
            w.send(1.0, seg(S, FIN | ACK, 5001, 1001, 0).timestamps());
            w.send(1.001, seg(C, ACK, 1001, 5002, 0).timestamps());
            w.send(61.0, seg(S, RST | ACK, 5002, 1001, 0));
        });
        let conns = w.finish();
        let verdict = judge(&conns[0], Timestamp::from_secs_f64(61.0), &crate::neighbours::NeighbourLog::default());
        assert_eq!(verdict.reset().map(|r| r.cause), Some(ResetCause::PeerLostState));
        let text = describe(&conns[0], &verdict);
        assert!(text.contains("But it had closed its side itself (FIN, frame 4) 60.00 s before"), "{text}");
        assert!(text.contains("net.ipv4.tcp_fin_timeout (60 s by default)"), "{text}");
        assert!(text.contains("What to do: look at the application on 10.0.0.1:40000"), "{text}");
        assert!(!text.contains("NAT or firewall between them forgot"), "{text}");
    }

    #[test]
    fn two_ends_on_one_host_get_no_nat_advice() {
        let w = with_timestamps(|w| {
            w.send(1.0, seg(C, ACK, 1001, 5001, 10).timestamps());
            w.send(1.001, seg(S, ACK, 5001, 1011, 0).timestamps());
            w.send(61.0, seg(C, ACK, 1011, 5001, 10).timestamps());
            w.send(61.001, seg(S, RST, 5001, 0, 0));
        });
        let mut conns = w.finish();
        let end = Timestamp::from_secs_f64(61.001);
        // Between two hosts: the NAT that forgot it is a possibility.
        let text = describe(&conns[0], &judge(&conns[0], end, &crate::neighbours::NeighbourLog::default()));
        assert!(text.contains("if a NAT or firewall between them forgot the idle connection"), "{text}");
        // On loopback nothing sits between them.
        for side in &mut conns[0].sides {
            side.set_ip(std::net::Ipv6Addr::LOCALHOST.into());
        }
        let verdict = judge(&conns[0], end, &crate::neighbours::NeighbourLog::default());
        assert_eq!(verdict.reset().map(|r| r.cause), Some(ResetCause::PeerLostState));
        let text = describe(&conns[0], &verdict);
        assert!(text.contains("What to do: both ends are on one host (::1)"), "{text}");
        assert!(!text.contains("if a NAT or firewall between them forgot") && !text.contains("TCP_KEEPIDLE"), "{text}");
    }

    #[test]
    fn a_ttl_of_128_is_likely_windows_and_a_silent_give_up_not_called_linux() {
        // nDPI googledns_android10: 8.8.8.8 (TTL 128 on the wire's start)
        // retransmits and falls silent; Google's servers are not Windows.
        let mut w = Wire::new();
        w.send(0.0, seg(C, SYN, 1000, 0, 0));
        w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0).ttl(118));
        w.send(0.002, seg(C, ACK, 1001, 5001, 0));
        for t in [1.0, 1.2, 1.6, 2.4, 4.0] {
            w.send(t, seg(S, ACK, 5001, 1001, 100).ttl(118));
        }
        let text = diagnosis(w, 60.0);
        assert!(text.starts_with("Retransmission timeout"), "{text}");
        assert!(text.contains("it gave up without a RST. But this sender (initial TTL 128: likely Windows)"), "{text}");
        assert!(!text.contains("as Linux does"), "{text}");
        assert!(text.contains("on 10.0.0.2 (if it is Windows, as its initial TTL 128 suggests)"), "{text}");
    }

    #[test]
    fn an_abort_under_a_millisecond_after_data_says_so_not_zero_seconds() {
        let abort_after = |dt: f64| {
            let mut w = Wire::established(1000, 5000);
            w.send(1.0, seg(S, ACK, 5101, 1011, 200));
            w.send(1.0 + dt, seg(C, RST | ACK, 1011, 5301, 0));
            diagnosis(w, 1.0 + dt)
        };
        let text = abort_after(0.0002);
        assert!(
            text.contains("reset the connection less than a millisecond after its peer's last data (frame 7)"),
            "{text}"
        );
        assert!(!text.contains("0.000 s"), "{text}");
        let text = abort_after(0.026);
        assert!(text.contains("reset the connection 0.026 s after its peer's last data (frame 7)"), "{text}");
    }

    #[test]
    fn a_probe_count_a_user_timeout_explains_too_is_not_said_to_be_set_alone() {
        // ka-user-timeout: TCP_KEEPCNT=9 but TCP_USER_TIMEOUT=9 s ended it
        // after 3 probes; raising the count alone would change nothing.
        let mut w = Wire::established(1000, 5000);
        w.send(4.0, seg(S, ACK, 5100, 1011, 0));
        w.send(6.0, seg(S, ACK, 5100, 1011, 0));
        w.send(8.0, seg(S, ACK, 5100, 1011, 0));
        w.send(10.0, seg(S, RST | ACK, 5101, 1011, 0));
        let text = diagnosis(w, 10.0);
        assert!(text.contains("the probe count (3; default 9) or a TCP_USER_TIMEOUT."), "{text}");
        assert!(
            text.contains("If the application set TCP_USER_TIMEOUT (it fits too, above), raise it as well"),
            "{text}"
        );
        // A Windows prober (1-byte probes, TTL 128) has no user timeout to raise.
        let text = windows_probes(128);
        assert!(!text.contains("raise it as well"), "{text}");
    }

    fn windows_probes(ttl: u8) -> String {
        let mut w = Wire::new();
        w.send(0.0, seg(C, SYN, 1000, 0, 0).ttl(ttl));
        w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0));
        w.send(0.002, seg(C, ACK, 1001, 5001, 10).ttl(ttl));
        w.send(0.004, seg(S, ACK, 5001, 1011, 100));
        w.send(0.005, seg(C, ACK, 1011, 5101, 0).ttl(ttl));
        for i in 0..10 {
            w.send(30.005 + f64::from(i), seg(C, ACK, 1010, 5101, 1).ttl(ttl));
        }
        w.send(40.005, seg(C, RST | ACK, 1011, 5101, 0).ttl(ttl));
        diagnosis(w, 40.005)
    }

    #[test]
    fn a_half_close_the_capture_cut_short_is_no_close_wait_leak_and_the_command_fits_the_os() {
        let half_closed = |server_ttl: u8| {
            let mut w = Wire::new();
            w.send(0.0, seg(C, SYN, 1000, 0, 0));
            w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0).ttl(server_ttl));
            w.send(0.002, seg(C, ACK, 1001, 5001, 0));
            w.send(1.0, seg(C, FIN | ACK, 1001, 5001, 0));
            w.send(1.001, seg(S, ACK, 5001, 1002, 0).ttl(server_ttl));
            w
        };
        // fixtures/half-closed.pcap: the capture ends 43 ms after the FIN.
        let text = diagnosis(half_closed(64), 1.043);
        assert!(text.contains("0.043 s later, when the capture ended: too soon after the FIN to tell"), "{text}");
        assert!(!text.contains("CLOSE_WAIT"), "{text}");
        let text = diagnosis(half_closed(64), 31.0);
        assert!(
            text.contains(
                "check `ss -tan state close-wait` on Linux, `netstat -an -p tcp | grep CLOSE_WAIT` on macOS or BSD"
            ),
            "{text}"
        );
        let text = diagnosis(half_closed(128), 31.0);
        assert!(text.contains("check `netstat -an | findstr CLOSE_WAIT` (initial TTL 128: likely Windows)"), "{text}");
        assert!(!text.contains("`ss"), "{text}");
    }

    #[test]
    fn one_retransmission_is_said_once_not_as_a_series_of_backoff_gaps() {
        let mut w = Wire::established(1000, 5000);
        w.send(10.0, seg(C, ACK, 1011, 5101, 50));
        w.send(13.59, seg(C, ACK, 1011, 5101, 50));
        let text = diagnosis(w, 15.0);
        assert!(text.contains("retransmitted it once, 3.59 s after the first transmission"), "{text}");
        assert!(!text.contains("1 time") && !text.contains("backoff gaps of 3.59"), "{text}");
    }

    #[test]
    fn probe_gaps_that_differ_are_given_as_a_range() {
        // fixtures/ka-setsockopt.pcap: probes 3.200 then 3.072 s apart.
        let mut w = Wire::established(1000, 5000);
        w.send(5.0, seg(S, ACK, 5100, 1011, 0));
        w.send(8.2, seg(S, ACK, 5100, 1011, 0));
        w.send(11.272, seg(S, ACK, 5100, 1011, 0));
        w.send(14.344, seg(S, RST | ACK, 5101, 1011, 0));
        let text = diagnosis(w, 14.344);
        assert!(text.contains("sent 3 probes 3.072 s to 3.200 s apart"), "{text}");
    }
}
