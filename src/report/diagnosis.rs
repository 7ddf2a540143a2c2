//! Findings in plain words: what happened, which setting did it, how to fix it.

use crate::findings::os::{OsFamily, SettingsOrigin, os_family, settings_origin};
use crate::flow::{Connection, Dropped, HANDSHAKE_IDLE_SECS, MAX_UNREPLIED, Side, Unreplied};
use crate::report::endpoint;
use crate::verdict::{
    Bound, Confidence, EndReason, ForgerySign, HandshakeFinding, InjectedReset, Judgement, KeepaliveFinding,
    MIN_IDLE_OF_INTEREST_S, ResetCause, ResetFinding, RetransmissionFinding, SynSchedule, Verdict,
    linux_retries_timeout,
};

/// The OS family in words, for the diagnosis.
fn os_words(family: OsFamily) -> &'static str {
    match family {
        OsFamily::LinuxOrBsd => "0 bytes, initial TTL 64: Linux, BSD or macOS",
        OsFamily::Windows => "1 byte: Windows (some embedded stacks, e.g. PLCs, do the same)",
        OsFamily::NetworkDevice => "0 bytes, initial TTL 255: a network device or Solaris",
        OsFamily::Unknown => "it does not point to one OS",
    }
}

fn secs(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} s")
    } else if v >= 10.0 {
        format!("{v:.2} s")
    } else {
        format!("{v:.3} s")
    }
}

/// The whole diagnosis of one connection, a paragraph.
pub fn describe(conn: &Connection, verdict: &Judgement) -> String {
    let name = |s: Side| format!("{} ({})", endpoint(conn.side(s).addr), s.name());
    let mut parts: Vec<String> = Vec::new();
    let keepalive = verdict.keepalive();
    match &verdict.verdict {
        Verdict::KeepaliveTimeout(k) => parts.push(keepalive_kill(conn, k)),
        Verdict::RetransmissionTimeout(r) => parts.push(retransmission_timeout(conn, r)),
        Verdict::Reset(r) => parts.push(reset(conn, r)),
        Verdict::Closed { first_fin_by, .. } => {
            parts.push(format!("Closed normally: {} sent the first FIN.", name(*first_fin_by)))
        }
        &Verdict::HalfClosed { fin_by: side, open_for_s: open_for, .. } => {
            parts.push(format!(
                "Half-closed: {} sent FIN, but {} had not closed its side {} later, {}. If this keeps happening, the application on {} is not closing its sockets after the peer's FIN (connections pile up in CLOSE_WAIT on that host: check `ss -tan state close-wait`).",
                name(side),
                name(side.peer()),
                secs(open_for),
                when_judged(conn, "when the capture ended"),
                conn.side(side.peer()).addr.ip()
            ));
        }
        Verdict::NeverEstablished(h) => parts.push(never_established(conn, h)),
        Verdict::Open { idle_at_end_s } => match conn.dropped {
            None => parts.push("Still open when the capture ended.".to_string()),
            Some(why) => parts.push(unreplied(conn, why, *idle_at_end_s)),
        },
    }
    for i in &verdict.injected {
        parts.push(injected(conn, i));
    }
    // An open connection that was dropped had its silence told above.
    let silence_told = conn.dropped.is_some() && verdict.reason() == EndReason::Open;
    if let Some(idle) = verdict.idle_at_end_s().filter(|_| !silence_told) {
        let mut s = format!("It had been idle for {} {}", secs(idle), when_judged(conn, "at the end of the capture"));
        if keepalive.is_empty() {
            s.push_str(&format!(
                " and no keepalive was seen: a firewall or NAT idle timeout shorter than {} would cut it without either side noticing until it next sends.",
                secs(conn.longest_gap.map_or(idle, |(g, _)| g.max(idle)))
            ));
        } else {
            s.push('.');
        }
        parts.push(s);
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
    for k in keepalive {
        if matches!(verdict.verdict, Verdict::KeepaliveTimeout(_)) && k.gave_up {
            continue;
        }
        parts.push(keepalive_seen(conn, k));
    }
    parts.join(" ")
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
    let name = |s: Side| format!("{} ({})", endpoint(conn.side(s).addr), s.name());
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
        let mut s = format!(
            "Never established: {server} answered {asked} with a SYN-ACK (frame {}), but {client} never acknowledged it: a SYN scan (the scanner never sends the third packet), a client that gave up, or SYN-ACKs lost on the way back (a firewall in one direction, asymmetric routing).",
            h.syn_acks[0].frame
        );
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
                endpoint(conn.side(heard).addr),
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

fn retransmission_timeout(conn: &Connection, r: &RetransmissionFinding) -> String {
    let sender = conn.side(r.sender);
    let peer = conn.side(r.sender.peer());
    let series: Vec<String> = r.backoff_s.iter().map(|g| format!("{g:.2}")).collect();
    let mut s = format!(
        "Retransmission timeout: {} ({}) sent data (frame {}) that {} never acknowledged, retransmitted it {} time{} with backoff gaps of {} s, and ",
        endpoint(sender.addr),
        r.sender.name(),
        r.first_unacked.frame,
        endpoint(peer.addr),
        r.retransmissions,
        if r.retransmissions == 1 { "" } else { "s" },
        series.join(", ")
    );
    if r.reset_by_sender.is_some() {
        s.push_str(&format!(
            "reset the connection {} after the first transmission. Giving up with a RST is what BSD and macOS do (after 12 retransmissions by default, net.inet.tcp.* limits).",
            secs(r.gave_up_after_s)
        ));
    } else {
        s.push_str(&format!(
            "then fell silent {} after the first transmission: it gave up without a RST, as Linux does.",
            secs(r.gave_up_after_s)
        ));
        match r.retries2 {
            Some(15) => s.push_str(" That fits the Linux default net.ipv4.tcp_retries2=15 (about 924.6 s)."),
            Some(n) => s.push_str(&format!(
                " It gave up between {:.1} and {:.1} s after the first transmission (before its next retransmission was due). That fits net.ipv4.tcp_retries2={n} (about {:.1} s; the default 15 takes 924.6 s), or a TCP_USER_TIMEOUT in that range.",
                r.gave_up_after_s,
                r.gave_up_by_s,
                linux_retries_timeout(n)
            )),
            None => s.push_str(&format!(
                " It gave up between {:.1} and {:.1} s after the first transmission, which no tcp_retries2 value fits (the default 15 takes 924.6 s): the application set TCP_USER_TIMEOUT in that range.",
                r.gave_up_after_s, r.gave_up_by_s
            )),
        }
    }
    s.push_str(&format!(
        " The path to {} went silent{}: the peer vanished (powered off, cable or network cut) or a firewall/NAT dropped the flow.",
        endpoint(peer.addr),
        if r.idle_before_s >= 1.0 { format!(" after {} of idle", secs(r.idle_before_s)) } else { String::new() }
    ));
    s
}

fn reset(conn: &Connection, r: &ResetFinding) -> String {
    let sender = format!("{} ({})", endpoint(conn.side(r.sender).addr), r.sender.name());
    let idle =
        if r.idle_before_s >= 1.0 { format!(" after {} of silence", secs(r.idle_before_s)) } else { String::new() };
    match r.cause {
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
            // a traffic shaper), and keepalive changes nothing.
            let why = if r.idle_before_s >= MIN_IDLE_OF_INTEREST_S {
                " A firewall or NAT box forged it, typically because it had forgotten the idle connection. Fix: keep the connection busier than the box's idle timeout (TCP keepalive or an application heartbeat), or raise that timeout."
            } else {
                " It came right after traffic, not after an idle period: a box on the path reset it by policy (an IPS or firewall rule, a traffic shaper), not an idle timeout; keepalive would not help. Look at that box's rules and logs."
            };
            format!(
                "Reset by a middlebox: a RST in the name of {sender} arrived{idle}, but with a TTL that does not match that host's own packets just before it (it came from about {} hop{} away; the real host is {} hop{} away).{sure}{why}",
                r.injector_hops.unwrap_or(0),
                if r.injector_hops == Some(1) { "" } else { "s" },
                r.host_hops.unwrap_or(0),
                if r.host_hops == Some(1) { "" } else { "s" },
            )
        }
        ResetCause::PeerLostState => format!(
            "Peer lost the connection: {sender} answered{idle} with a stateless RST (no timestamp option although the connection negotiated it, or in answer to a keepalive probe): it had rebooted, restarted, or dropped the connection's state."
        ),
        ResetCause::AbortUnreadData => {
            let data = r.peer_data_before;
            let after = data.map_or(String::new(), |d| {
                format!(" {} after its peer's last data (frame {})", secs(r.rst.ts.secs_since(d.ts)), d.frame)
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
    let host = format!("{} ({})", endpoint(conn.side(i.sender).addr), i.sender.name());
    let peer = endpoint(conn.side(i.sender.peer()).addr);
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

/// What came before an abort, in facts the capture shows.
fn abort_context(conn: &Connection, r: &ResetFinding) -> String {
    let me = &conn.side(r.sender).marks;
    let peer = &conn.side(r.sender.peer()).marks;
    let before = |p: crate::flow::PacketRef| secs(r.rst.ts.secs_since(p.ts));
    if let Some(fin) = me.fin.filter(|f| f.frame < r.rst.frame) {
        return format!(
            " It had closed its side with FIN (frame {}) {} before: the RST answers what arrived after that close, or the application aborted the closing socket.",
            fin.frame,
            before(fin)
        );
    }
    if let Some(fin) = peer.fin.filter(|f| f.frame < r.rst.frame) {
        // A wait of a second or more is an application that left the
        // connection half-closed; an immediate RST to a FIN is a stack with
        // no socket for it (closed already, or never open: a FIN scan).
        return if r.rst.ts.secs_since(fin.ts) >= MIN_IDLE_OF_INTEREST_S {
            format!(
                " Its peer had closed (FIN, frame {}) {} before: the connection sat half-closed (CLOSE_WAIT on {}) until the application aborted it instead of closing.",
                fin.frame,
                before(fin),
                endpoint(conn.side(r.sender).addr)
            )
        } else {
            format!(
                " It answered its peer's FIN (frame {}) at once: no socket was open for it any more (or ever: a FIN scan gets the same answer), or the application aborted instead of closing.",
                fin.frame
            )
        };
    }
    match r.peer_data_before.filter(|d| r.own_data_before.is_none_or(|m| m.frame < d.frame)) {
        Some(data) => format!(
            " The last data on the connection came from its peer (frame {}) {} before; a close with that data unread would have reset at once, so the application ended the connection later on its own (an idle or application timeout, or an abortive close with SO_LINGER 0).",
            data.frame,
            before(data)
        ),
        None => String::new(),
    }
}

/// "Which setting did it" and the fixes, for a prober that gave up.
fn keepalive_kill(conn: &Connection, k: &KeepaliveFinding) -> String {
    let prober = conn.side(k.prober);
    let peer = conn.side(k.prober.peer());
    let mut s = format!(
        "Keepalive timeout: {} ({}) stopped hearing from {}",
        endpoint(prober.addr),
        k.prober.name(),
        endpoint(peer.addr)
    );
    match k.idle_observed.min {
        Some(idle) => s.push_str(&format!(", sent its first probe after {} of idle", secs(idle))),
        None => s.push_str(" (the capture starts inside the idle period)"),
    }
    s.push_str(&format!(", sent {} probe{}", k.last_train_count, plural(k.last_train_count)));
    if let Some(i) = k.interval_observed.min {
        s.push_str(&format!(" {} apart", secs(i)));
    }
    s.push_str(" that went unanswered, and ");
    match k.gave_up_with {
        Some(_) => s.push_str("then reset the connection."),
        None => {
            s.push_str("then fell silent (no RST in the capture: it may have been dropped before the capture point).")
        }
    }
    s.push(' ');
    s.push_str(&settings_sentence(k));
    s.push_str(" The peer stopped answering: it vanished (power loss, network cut, a firewall or NAT dropping the idle flow) without a FIN or RST.");
    s.push_str(&format!(
        " Fix: if the peer is expected to be silent or the path briefly drops traffic, give it longer: raise the settings per socket (setsockopt TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT) or system-wide (sysctl -w net.ipv4.tcp_keepalive_time=… on {}), or have the application send a heartbeat more often than every {} so the connection never sits idle that long; if the peer really died, the keepalive did its job.",
        prober.addr.ip(),
        k.idle.map_or_else(|| "idle period".to_string(), |i| format!("{} s", i.value))
    ));
    s
}

/// The inferred settings, with names, defaults and OS family.
fn settings_sentence(k: &KeepaliveFinding) -> String {
    let idle = k.idle.map(|i| i.value);
    let interval = k.interval.map(|i| i.value);
    let probes = k.probes;
    let fmt_val = |v: Option<u32>| v.map_or("?".to_string(), |v| v.to_string());
    let probes_text = match probes {
        Some((n, Bound::Exact)) => n.to_string(),
        Some((n, Bound::AtLeast)) => format!("at least {n}"),
        None => "?".to_string(),
    };
    let family = os_family(k.probe_bytes, k.ttl);
    let mut s = match family {
        OsFamily::Windows => format!(
            "This matches keepalive time {} s, interval {} s, {} probes (Windows: SIO_KEEPALIVE_VALS or the KeepAliveTime/KeepAliveInterval registry values, TCP_KEEPCNT).",
            fmt_val(idle),
            fmt_val(interval),
            probes_text
        ),
        _ => format!(
            "This matches tcp_keepalive_time={}, tcp_keepalive_intvl={}, tcp_keepalive_probes={} (Linux sysctls net.ipv4.tcp_keepalive_*, or per socket setsockopt TCP_KEEPIDLE={} / TCP_KEEPINTVL={} / TCP_KEEPCNT={}).",
            fmt_val(idle),
            fmt_val(interval),
            probes_text,
            fmt_val(idle),
            fmt_val(interval),
            probes_text
        ),
    };
    if let Some(i) = k.idle.filter(|i| !i.is_exact()) {
        s.push_str(&format!(
            " Timers fire late, so any idle setting from {} to {} s fits; {} is the likeliest.",
            i.low, i.high, i.value
        ));
    }
    let origin = settings_origin(idle, interval, probes);
    s.push_str(match origin {
        SettingsOrigin::LinuxDefault => " These are the Linux defaults (7200/75/9).",
        SettingsOrigin::MacosDefault => " These are the macOS defaults (7200/75/8).",
        SettingsOrigin::WindowsDefault => " These are the Windows defaults (7200 s, 1 s, 10 probes).",
        SettingsOrigin::Tuned => {
            " These are not an OS default (Linux 7200/75/9, Windows 7200/1/10, macOS 7200/75/8): someone tuned them."
        }
        SettingsOrigin::Unknown => "",
    });
    s.push_str(&format!(" Probe format: {}.", os_words(family)));
    s
}

/// A side that probed but did not end the connection.
fn keepalive_seen(conn: &Connection, k: &KeepaliveFinding) -> String {
    let prober = endpoint(conn.side(k.prober).addr);
    let mut s = format!(
        "{} ({}) sent {} keepalive probe{}, {} answered",
        prober,
        k.prober.name(),
        k.probes_sent,
        plural(k.probes_sent),
        k.probes_answered
    );
    if let Some(idle) = k.idle_observed.min {
        s.push_str(&format!("; first probe after {} of idle", secs(idle)));
        if let Some(i) = k.idle {
            s.push_str(&format!(" (idle setting {} s", i.value));
            if !i.is_exact() {
                s.push_str(&format!(", {}–{} s fit", i.low, i.high));
            }
            s.push(')');
        }
    }
    s.push('.');
    if k.probes_answered > 0 {
        s.push_str(" The peer was alive and answered.");
    }
    if k.unanswered_at_end > 0 && !k.gave_up {
        s.push_str(&format!(
            " {} probe{} still unanswered when the {} (the prober had not given up: probes ≥ {}).",
            k.unanswered_at_end,
            if k.unanswered_at_end == 1 { " was" } else { "s were" },
            if k.reset_by_peer.is_some() { "peer answered with RST" } else { "capture ended" },
            k.unanswered_at_end
        ));
    }
    if k.reset_by_peer.is_some() {
        s.push_str(
            " The peer answered a probe with RST: it no longer knew the connection (rebooted or lost its state).",
        );
    }
    s
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::wire::*;
    use crate::time::Timestamp;
    use crate::verdict::judge;

    fn diagnosis(w: Wire, end: f64) -> String {
        let conns = w.finish();
        describe(&conns[0], &judge(&conns[0], Timestamp::from_secs_f64(end)))
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
        // After 300 s of silence: a box that forgot the idle connection.
        let text = forged_after(300.0);
        assert!(text.contains("forgotten the idle connection") && !text.contains("by policy"), "{text}");
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
}
