//! The run-wide findings in words: per-prober lines, path idle timeouts,
//! reconnect storms.

use super::{HostFacts, HostReport, PathFacts, PathReport, StormFacts, StormReport, endpoint};
use crate::findings::middlebox::names;
use crate::findings::{HostFinding, PathFinding, Prober, StormFinding};
use crate::time::round6;
use crate::verdict::Bound;

impl HostReport {
    pub fn new(h: &HostFinding) -> HostReport {
        let role = h.prober.role();
        let (prober, prober_addr) = match h.prober {
            Prober::Server(addr) => (endpoint(addr), (addr.ip(), Some(addr.port()))),
            Prober::Client(ip) => (ip.to_string(), (ip, None)),
        };
        let facts = HostFacts {
            summary: host_summary(&prober, h),
            role,
            connections_probed: h.connections_probed,
            connections_ended: h.connections_ended,
            probes_sent: h.probes_sent,
            probes_answered: h.probes_answered,
            idle_observed_min_s: h.idle_observed.min().map(round6),
            idle_observed_max_s: h.idle_observed.max().map(round6),
            idle_s: h.idle_s,
            interval_observed_min_s: h.interval_observed.min().map(round6),
            interval_s: h.interval_s,
            probes: h.probes.map(|p| p.0),
            probes_bound: h.probes.map(|p| p.1),
            settings_origin: h.settings_origin,
        };
        HostReport { prober, prober_addr, facts }
    }
}

fn host_summary(prober: &str, h: &HostFinding) -> String {
    let role = h.prober.role().name();
    let conns = |n: u64| format!("{n} connection{}", if n == 1 { "" } else { "s" });
    let mut s = if h.connections_ended > 0 {
        format!("{prober} ({role}) ended {} by keepalive timeout", conns(h.connections_ended))
    } else {
        format!("{prober} ({role}) probed {}", conns(h.connections_probed))
    };
    if h.settings_vary {
        s.push_str(" whose timings fit no single whole-second setting");
    }
    if let Some(i) = h.idle_s {
        s.push_str(&format!(" after {i} s idle"));
    }
    match h.probes {
        Some((n, Bound::Exact)) => s.push_str(&format!(", {n} probe{}", if n == 1 { "" } else { "s" })),
        Some((n, Bound::AtLeast)) => s.push_str(&format!(", at least {n} probes")),
        None => {}
    }
    if let Some(i) = h.interval_s {
        s.push_str(&format!(" {i} s apart"));
    }
    s.push_str(&format!("; {} of {} probes answered", h.probes_answered, h.probes_sent));
    s
}

impl PathReport {
    pub fn new(p: &PathFinding) -> PathReport {
        let server = endpoint(p.server);
        let recommended = p.recommended_keepalive_idle_s;
        let died = p.died_after_idle_min_s;
        let deaths = format!("{} connection{}", p.died_connections, if p.died_connections == 1 { "" } else { "s" });
        let mut summary = match (p.idle_timeout_between_s, p.survived_idle_max_s) {
            _ if p.conflicting => format!(
                "The evidence conflicts: a connection to {server} survived {:.1} s of silence, but {deaths} died after {died:.1} s. The deaths are not one idle timeout's doing (several paths or boxes, or something else killed them); no timeout is inferred.",
                p.survived_idle_max_s.unwrap_or(0.0)
            ),
            (Some([lo, hi]), _) => format!(
                "Connections to {server} survived silences up to {lo:.1} s but died after {hi:.1} s: something on the path (a firewall, NAT or load balancer) drops idle connections after between {lo:.0} and {hi:.0} s."
            ),
            _ => format!(
                "{deaths} to {server} died after {died:.1} s or more of silence: something on the path (a firewall, NAT or load balancer) may drop idle connections after at most {died:.0} s."
            ),
        };
        if !p.conflicting {
            if p.known_defaults.is_empty() {
                summary.push_str(" No well-known default idle timeout fits that.");
            } else {
                summary.push_str(&format!(" That fits the default of {}.", names(&p.known_defaults)));
            }
            summary.push_str(&format!(
                " Keep connections busier than that: a keepalive idle (or heartbeat) of about {recommended} s, or raise the box's timeout."
            ));
        }
        let facts = PathFacts {
            connections: p.connections,
            survived_idle_max_s: p.survived_idle_max_s.map(round6),
            died_after_idle_min_s: Some(round6(died)),
            died_connections: p.died_connections,
            idle_timeout_between_s: p.idle_timeout_between_s,
            conflicting: p.conflicting,
            fits_defaults: p.known_defaults.iter().map(|t| format!("{} ({} s)", t.name, t.secs)).collect(),
            recommended_keepalive_idle_s: (!p.conflicting).then_some(recommended),
            summary,
        };
        PathReport { server, server_addr: p.server, facts }
    }
}

impl StormReport {
    pub fn new(s: &StormFinding) -> StormReport {
        let (client, server) = (s.client.to_string(), endpoint(s.server));
        let mut why = Vec::new();
        if s.unanswered > 0 {
            why.push(format!("{} went unanswered (half-open: the server or the path was gone)", s.unanswered));
        }
        if s.half_closed_by_server > 0 {
            why.push(format!(
                "{} the server had closed and the client never did (CLOSE_WAIT)",
                s.half_closed_by_server
            ));
        }
        let idle = s.abandoned - s.unanswered - s.half_closed_by_server;
        if idle > 0 {
            why.push(format!("{idle} sat idle for a minute or more"));
        }
        let facts = StormFacts {
            summary: format!(
                "{client} left {} older connections to {server} open and opened a newer one after each (the oldest from frame {}, the newest at frame {}): of those, {}. The client reconnects without closing what it abandoned, and the old connections pile up (a leak that ends when a side runs out of sockets or file descriptors). Close the old connection before reconnecting, or let keepalive or an idle timeout reap it.",
                s.abandoned,
                s.first_frame,
                s.newest_frame,
                why.join("; ")
            ),
            abandoned: s.abandoned,
            unanswered: s.unanswered,
            half_closed_by_server: s.half_closed_by_server,
            first_frame: s.first_frame,
            newest_frame: s.newest_frame,
        };
        StormReport { client, server, addrs: (s.client, s.server), facts }
    }
}
