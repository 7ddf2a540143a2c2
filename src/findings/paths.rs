//! Findings across connections: the idle timeout of the path to each server,
//! and reconnect storms.
//!
//! A firewall or NAT box that forgets idle connections leaves a trace across
//! connections: some survive silences up to X s, others die (an injected or
//! stateless RST, or data into a silent path) after silences of Y s. Its
//! timeout lies between the longest silence survived and the shortest that
//! killed; a keepalive or heartbeat below X keeps connections alive.

use crate::flow::{Connection, Side};
use crate::time::round6;
use crate::verdict::{EndReason, Judgement, MIN_IDLE_OF_INTEREST_S};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, SocketAddr};

/// A client with at least this many connections to one service still open
/// (or half-closed) at the end of the capture is in a reconnect storm.
pub const STORM_MIN_OPEN: u64 = 3;

/// The idle timeout inferred on the path to one server.
#[derive(Clone, Debug, PartialEq)]
pub struct PathFinding {
    pub server: SocketAddr,
    /// Connections to it with an idle period worth reporting.
    pub connections: u64,
    /// The longest silence a connection to this server survived (s).
    pub survived_idle_max_s: Option<f64>,
    /// The shortest silence after which a connection died (s).
    pub died_after_idle_min_s: f64,
    pub died_connections: u64,
    /// [low, high] (to the microsecond): the path drops idle connections
    /// after more than `low` and at most `high` seconds.
    pub idle_timeout_between_s: Option<[f64; 2]>,
    /// Keepalive idle (or heartbeat period) to stay below the timeout, s.
    pub recommended_keepalive_idle_s: u32,
}

/// One client opening connection after connection to one service.
#[derive(Clone, Debug, PartialEq)]
pub struct StormFinding {
    pub client: IpAddr,
    pub server: SocketAddr,
    /// Connections still open or half-closed when the capture ended.
    pub still_open: u64,
    pub first_frame: u64,
    pub last_frame: u64,
}

#[derive(Default)]
struct PathAggregate {
    connections: u64,
    survived: Option<f64>,
    died: Option<f64>,
    died_connections: u64,
}

#[derive(Default)]
struct StormAggregate {
    still_open: u64,
    first_frame: u64,
    last_frame: u64,
}

/// Collects what the path and storm findings need from each judged connection.
#[derive(Default)]
pub struct PathAggregator {
    /// By server; only servers with an idle period worth reporting.
    paths: FxHashMap<SocketAddr, PathAggregate>,
    /// Connections still open (or half-closed) at the end of their capture,
    /// by capture (its index in the run), client address and server. Only
    /// those: the map stays as small as the set of connections open at once.
    storms: FxHashMap<(usize, IpAddr, SocketAddr), StormAggregate>,
}

impl PathAggregator {
    pub fn add(&mut self, conn: &Connection, verdict: &Judgement, capture: usize) {
        let server = conn.server();
        let survived = verdict.idle.survived_s.filter(|&s| s >= MIN_IDLE_OF_INTEREST_S);
        // A silence in a handshake is a client waiting for an answer, not an
        // idle connection a middlebox could forget: it bounds no path timeout
        // (and a scan would otherwise leave an entry per server scanned).
        if !conn.handshake_only && (survived.is_some() || verdict.idle.died_after_s.is_some()) {
            let p = self.paths.entry(server).or_default();
            p.connections += 1;
            if let Some(s) = survived {
                p.survived = Some(p.survived.map_or(s, |m: f64| m.max(s)));
            }
            if let Some(d) = verdict.idle.died_after_s {
                p.died = Some(p.died.map_or(d, |m: f64| m.min(d)));
                p.died_connections += 1;
            }
        }
        // Dropped before the capture ended (a handshake nobody answered): not
        // still open at the end.
        if conn.dropped.is_none() && matches!(verdict.reason(), EndReason::Open | EndReason::HalfClosed) {
            let client = conn.side(Side::Client).addr.ip();
            let s = self.storms.entry((capture, client, server)).or_default();
            if s.still_open == 0 {
                s.first_frame = conn.first.frame;
            }
            s.still_open += 1;
            s.first_frame = s.first_frame.min(conn.first.frame);
            s.last_frame = s.last_frame.max(conn.last.frame);
        }
    }

    /// Paths where at least one connection died after an idle period, in order of server.
    pub fn paths(&self) -> Vec<PathFinding> {
        let mut paths: Vec<_> = self.paths.iter().collect();
        paths.sort_by_key(|(server, _)| **server);
        paths
            .into_iter()
            .filter_map(|(&server, p)| {
                let died = p.died?;
                let between = match p.survived {
                    Some(lo) if lo < died => Some([round6(lo), round6(died)]),
                    _ => None,
                };
                // Stay well inside the lowest bound we know of.
                let bound = between.map_or(died, |b| b[0]);
                Some(PathFinding {
                    server,
                    connections: p.connections,
                    survived_idle_max_s: p.survived,
                    died_after_idle_min_s: died,
                    died_connections: p.died_connections,
                    idle_timeout_between_s: between,
                    recommended_keepalive_idle_s: ((bound * 0.5).floor() as u32).max(1),
                })
            })
            .collect()
    }

    /// Clients with several connections to one server still open, in order of capture, client and server.
    pub fn storms(&self) -> Vec<StormFinding> {
        let mut storms: Vec<_> = self.storms.iter().collect();
        storms.sort_by_key(|(key, _)| **key);
        storms
            .into_iter()
            .filter(|(_, s)| s.still_open >= STORM_MIN_OPEN)
            .map(|(&(_, client, server), s)| StormFinding {
                client,
                server,
                still_open: s.still_open,
                first_frame: s.first_frame,
                last_frame: s.last_frame,
            })
            .collect()
    }
}
