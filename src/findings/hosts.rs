//! Per-prober aggregates: "10.0.0.1:7777 ended 37 connections after 20 s idle,
//! 2 probes 2 s apart". A server prober is named by ip:port (its listening
//! port is stable); a client prober by its address alone. The settings are
//! inferred jointly from all of a prober's observations: one row per
//! prober, split only when no single setting fits them all (one host can
//! run sockets with different settings: setsockopt on some, the sysctls on
//! the others).

use super::os::{SettingsOrigin, settings_origin};
use crate::flow::{Connection, Side};
use crate::infer::{TimerModel, infer_keepalive_setting, infer_timer_setting};
use crate::time::MinMax;
use crate::verdict::{Bound, Judgement, KeepaliveFinding};
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
    /// These connections' timings fit no single setting, not even each one's own.
    pub settings_vary: bool,
}

/// One group of a prober's connections whose observations one setting explains.
#[derive(Clone, Default)]
struct Aggregate {
    connections_probed: u64,
    connections_ended: u64,
    probes_sent: u64,
    probes_answered: u64,
    idle: MinMax,
    interval: MinMax,
    exact_probes: Option<u32>,
    at_least_probes: Option<u32>,
    /// How the prober's timer keeps time (one stack: its connections' first).
    timer: Option<TimerModel>,
    /// The connections whose own observations no single setting explains
    /// (the application changed its settings on the way): counted together,
    /// settings unknown.
    unexplained: bool,
}

impl Aggregate {
    /// This group with one more connection's observations, if one setting
    /// (idle, interval, probe count) still explains them all.
    fn with(&self, k: &KeepaliveFinding) -> Option<Aggregate> {
        if self.unexplained {
            return None;
        }
        let mut merged = self.clone();
        // One-off probes show no idle setting (see verdict::one_off_probes).
        if k.one_off.is_none() {
            merged.idle.merge(&k.idle_observed);
        }
        merged.interval.merge(&k.interval_observed);
        let timer = *merged.timer.get_or_insert(k.timer);
        // A group's timings fit its timer (it was kept only if they did),
        // and the settings that fit depend on the earliest and latest
        // timing only: timings within the group's range need no new
        // inference (most connections of a prober).
        let fits = |m: &MinMax, before: &MinMax| {
            m.count == 0
                || (before.count > 0 && m.min() == before.min() && m.max() == before.max())
                || infer_timer_setting(m, timer).is_some()
        };
        if !fits(&merged.idle, &self.idle) || !fits(&merged.interval, &self.interval) {
            return None;
        }
        match k.probes {
            Some((n, Bound::Exact)) => {
                if merged.exact_probes.is_some_and(|e| e != n) {
                    return None;
                }
                merged.exact_probes = Some(n);
            }
            Some((n, Bound::AtLeast)) => merged.at_least_probes = Some(merged.at_least_probes.map_or(n, |m| m.max(n))),
            None => {}
        }
        // A prober that kept probing past n probes elsewhere cannot have given up after fewer.
        if let (Some(e), Some(a)) = (merged.exact_probes, merged.at_least_probes)
            && a > e
        {
            return None;
        }
        merged.connections_probed += 1;
        merged.connections_ended += u64::from(k.gave_up);
        merged.probes_sent += u64::from(k.probes_sent);
        merged.probes_answered += u64::from(k.probes_answered);
        Some(merged)
    }
}

/// Files a prober's keepalive finding with its groups: the first group
/// that one setting still explains takes it; a connection no group fits
/// starts a group of its own.
fn place(groups: &mut Vec<Aggregate>, k: &KeepaliveFinding) {
    if let Some((i, merged)) = groups.iter().enumerate().find_map(|(i, g)| g.with(k).map(|merged| (i, merged))) {
        groups[i] = merged;
    } else if let Some(own) = Aggregate::default().with(k) {
        groups.push(own);
    } else if let Some(unexplained) = groups.iter_mut().find(|g| g.unexplained) {
        unexplained.count(k);
    } else {
        let mut unexplained = Aggregate { unexplained: true, ..Aggregate::default() };
        unexplained.count(k);
        groups.push(unexplained);
    }
}

/// Collects keepalive findings across connections.
#[derive(Default)]
pub struct HostAggregator {
    /// Per prober, its groups of connections (one unless no single setting fits).
    hosts: FxHashMap<Prober, Vec<Aggregate>>,
}

impl HostAggregator {
    pub fn add(&mut self, conn: &Connection, verdict: &Judgement) {
        // Each prober has its own entry: the order of the sides is no matter.
        for k in verdict.keepalive_any_order() {
            let addr = conn.side(k.prober).addr();
            let prober = match k.prober {
                Side::Server => Prober::Server(addr),
                Side::Client => Prober::Client(addr.ip()),
            };
            // Looked up by reference, as the path finding's entries
            // (`PathAggregator::add`): most probers have theirs already.
            match self.hosts.get_mut(&prober) {
                Some(groups) => place(groups, k),
                None => place(self.new_prober(prober), k),
            }
        }
    }

    /// The groups of a prober not seen before. Out of line: inlined, the
    /// move of the key into the table was made ready on the common path
    /// too, with loads that wait for the key's narrower stores (as in
    /// `PathAggregator::add`).
    #[cold]
    #[inline(never)]
    fn new_prober(&mut self, prober: Prober) -> &mut Vec<Aggregate> {
        self.hosts.entry(prober).or_default()
    }

    /// One finding per prober (and per group, when no single setting fits), in order of prober.
    pub fn finish(&self) -> Vec<HostFinding> {
        let mut hosts: Vec<_> = self.hosts.iter().collect();
        hosts.sort_by_key(|(prober, _)| **prober);
        hosts.into_iter().flat_map(|(&prober, groups)| groups.iter().map(move |a| finding(prober, a))).collect()
    }
}

impl Aggregate {
    /// Counts a connection and its observations without fitting a setting.
    fn count(&mut self, k: &KeepaliveFinding) {
        self.connections_probed += 1;
        self.connections_ended += u64::from(k.gave_up);
        self.probes_sent += u64::from(k.probes_sent);
        self.probes_answered += u64::from(k.probes_answered);
        if k.one_off.is_none() {
            self.idle.merge(&k.idle_observed);
        }
        self.interval.merge(&k.interval_observed);
    }
}

fn finding(prober: Prober, a: &Aggregate) -> HostFinding {
    // Timings longer than any OS allows are no setting (not "tuned").
    let timer = a.timer.unwrap_or_default();
    let setting = |m: &MinMax| infer_keepalive_setting(m, timer).filter(|_| !a.unexplained).map(|s| s.value);
    let (idle_s, interval_s) = (setting(&a.idle), setting(&a.interval));
    let probes = match (a.exact_probes, a.at_least_probes) {
        (Some(n), _) => Some((n, Bound::Exact)),
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
        settings_vary: a.unexplained,
    }
}
