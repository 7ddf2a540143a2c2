//! Per-prober aggregates: "10.0.0.1:7777 ended 37 connections after 20 s idle,
//! 2 probes 2 s apart". A server prober is named by ip:port (its listening
//! port is stable); a client prober by its address alone. One host can run
//! sockets with different settings (setsockopt on some, the sysctls on the
//! others), so connections are grouped by the idle and interval settings
//! they imply too.

use crate::flow::{Connection, MinMax, Side};
use crate::infer::infer_timer_setting;
use crate::report::{HostReport, diagnosis, endpoint};
use crate::verdict::{Bound, Verdict};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, SocketAddr};

/// A prober: a server by its endpoint, a client by its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Prober {
    Server(SocketAddr),
    Client(IpAddr),
}

#[derive(Default)]
struct Aggregate {
    connections_probed: u64,
    connections_ended: u64,
    probes_sent: u64,
    probes_answered: u64,
    idle: MinMax,
    interval: MinMax,
    exact_probes: Option<(u32, u32)>,
    at_least_probes: Option<u32>,
}

/// Collects keepalive findings across connections.
#[derive(Default)]
pub struct HostAggregator {
    hosts: FxHashMap<(Prober, Option<u32>, Option<u32>), Aggregate>,
}

impl HostAggregator {
    pub fn add(&mut self, conn: &Connection, verdict: &Verdict) {
        for k in verdict.keepalive() {
            let addr = conn.side(k.prober).addr;
            let prober = match k.prober {
                Side::Server => Prober::Server(addr),
                Side::Client => Prober::Client(addr.ip()),
            };
            let key = (prober, k.idle.map(|s| s.value), k.interval.map(|s| s.value));
            let agg = self.hosts.entry(key).or_default();
            agg.connections_probed += 1;
            agg.connections_ended += u64::from(k.gave_up);
            agg.probes_sent += u64::from(k.probes_sent);
            agg.probes_answered += u64::from(k.probes_answered);
            agg.idle.merge(&k.idle_observed);
            agg.interval.merge(&k.interval_observed);
            match k.probes {
                Some((n, Bound::Exact)) => {
                    agg.exact_probes = Some(agg.exact_probes.map_or((n, n), |(lo, hi)| (lo.min(n), hi.max(n))))
                }
                Some((n, Bound::AtLeast)) => agg.at_least_probes = Some(agg.at_least_probes.map_or(n, |m| m.max(n))),
                None => {}
            }
        }
    }

    pub fn finish(&self) -> Vec<HostReport> {
        let mut hosts: Vec<_> = self.hosts.iter().collect();
        hosts.sort_by_key(|(key, _)| **key);
        hosts
            .into_iter()
            .map(|((prober, _, _), a)| {
                let (prober, role) = match prober {
                    Prober::Server(addr) => (endpoint(*addr), Side::Server.name()),
                    Prober::Client(ip) => (ip.to_string(), Side::Client.name()),
                };
                let idle = infer_timer_setting(&a.idle).map(|s| s.value);
                let interval = infer_timer_setting(&a.interval).map(|s| s.value);
                let probes = match (a.exact_probes, a.at_least_probes) {
                    (Some((lo, hi)), _) if lo == hi => Some((lo, Bound::Exact)),
                    (Some(_), _) => None,
                    (None, Some(n)) => Some((n, Bound::AtLeast)),
                    (None, None) => None,
                };
                HostReport {
                    summary: summary_line(&prober, role, a, idle, interval, probes),
                    prober,
                    role,
                    connections_probed: a.connections_probed,
                    connections_ended: a.connections_ended,
                    probes_sent: a.probes_sent,
                    probes_answered: a.probes_answered,
                    idle_observed_min_s: a.idle.min.map(super::round6),
                    idle_observed_max_s: a.idle.max.map(super::round6),
                    idle_s: idle,
                    interval_observed_min_s: a.interval.min.map(super::round6),
                    interval_s: interval,
                    probes: probes.map(|p| p.0),
                    probes_bound: probes.map(|p| p.1),
                    settings_origin: diagnosis::settings_origin(idle, interval, probes),
                }
            })
            .collect()
    }
}

fn summary_line(
    prober: &str,
    role: &str,
    a: &Aggregate,
    idle: Option<u32>,
    interval: Option<u32>,
    probes: Option<(u32, Bound)>,
) -> String {
    let conns = |n: u64| format!("{n} connection{}", if n == 1 { "" } else { "s" });
    let mut s = if a.connections_ended > 0 {
        format!("{prober} ({role}) ended {} by keepalive timeout", conns(a.connections_ended))
    } else {
        format!("{prober} ({role}) probed {}", conns(a.connections_probed))
    };
    if let Some(i) = idle {
        s.push_str(&format!(" after {i} s idle"));
    }
    match probes {
        Some((n, Bound::Exact)) => s.push_str(&format!(", {n} probe{}", if n == 1 { "" } else { "s" })),
        Some((n, Bound::AtLeast)) => s.push_str(&format!(", at least {n} probes")),
        None => {}
    }
    if let Some(i) = interval {
        s.push_str(&format!(" {i} s apart"));
    }
    s.push_str(&format!("; {} of {} probes answered", a.probes_answered, a.probes_sent));
    s
}
