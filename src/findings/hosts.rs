//! Per-prober aggregates: "10.0.0.1:7777 ended 37 connections after 20 s idle,
//! 2 probes 2 s apart". A server prober is named by ip:port (its listening
//! port is stable); a client prober by its address alone. One host can run
//! sockets with different settings (setsockopt on some, the sysctls on the
//! others), so connections are grouped by the idle and interval settings
//! they imply too.

use super::os::{SettingsOrigin, settings_origin};
use crate::flow::{Connection, Side};
use crate::infer::infer_timer_setting;
use crate::time::MinMax;
use crate::verdict::{Bound, Judgement};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, SocketAddr};

/// A prober: a server by its endpoint, a client by its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prober {
    Server(SocketAddr),
    Client(IpAddr),
}

impl Prober {
    pub fn role(self) -> Side {
        match self {
            Prober::Server(_) => Side::Server,
            Prober::Client(_) => Side::Client,
        }
    }
}

/// What one prober's keepalive probes showed across connections (one group of its settings).
#[derive(Clone, Debug, PartialEq)]
pub struct HostFinding {
    pub prober: Prober,
    pub connections_probed: u64,
    /// Connections it ended by keepalive timeout.
    pub connections_ended: u64,
    pub probes_sent: u64,
    pub probes_answered: u64,
    pub idle_observed: MinMax,
    pub interval_observed: MinMax,
    /// The idle and interval settings all its connections fit (s).
    pub idle_s: Option<u32>,
    pub interval_s: Option<u32>,
    /// The probe count, when its connections agree on it.
    pub probes: Option<(u32, Bound)>,
    pub settings_origin: SettingsOrigin,
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
    pub fn add(&mut self, conn: &Connection, verdict: &Judgement) {
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

    /// One finding per prober and settings group, in order of prober.
    pub fn finish(&self) -> Vec<HostFinding> {
        let mut hosts: Vec<_> = self.hosts.iter().collect();
        hosts.sort_by_key(|(key, _)| **key);
        hosts
            .into_iter()
            .map(|(&(prober, _, _), a)| {
                let idle_s = infer_timer_setting(&a.idle).map(|s| s.value);
                let interval_s = infer_timer_setting(&a.interval).map(|s| s.value);
                let probes = match (a.exact_probes, a.at_least_probes) {
                    (Some((lo, hi)), _) if lo == hi => Some((lo, Bound::Exact)),
                    (Some(_), _) => None,
                    (None, Some(n)) => Some((n, Bound::AtLeast)),
                    (None, None) => None,
                };
                HostFinding {
                    prober,
                    connections_probed: a.connections_probed,
                    connections_ended: a.connections_ended,
                    probes_sent: a.probes_sent,
                    probes_answered: a.probes_answered,
                    idle_observed: a.idle,
                    interval_observed: a.interval,
                    idle_s,
                    interval_s,
                    probes,
                    settings_origin: settings_origin(idle_s, interval_s, probes),
                }
            })
            .collect()
    }
}
