//! Findings across connections: the idle timeout of the path to each server,
//! and reconnect storms.
//!
//! A firewall, NAT or load balancer that forgets idle connections leaves a
//! trace across connections: some survive silences up to X s, others die
//! after silences of Y s. Its timeout lies between the longest silence
//! survived and the shortest that killed; a keepalive or heartbeat below X
//! keeps connections alive. Only deaths the path can explain count: a RST
//! forged by a middlebox or a stateless RST after an idle period, or data
//! sent after an idle period into a path gone silent while its server was
//! still heard from on other connections. A reboot (a RST answering a
//! keepalive probe), a peer that vanished (nothing more from it anywhere),
//! or a side that had closed with FIN before is not the path. Connections
//! are compared within one capture (one vantage point and time).

use super::by_address::{ByAddress, hash_of, server_v4, service_v4};
use super::middlebox::{KnownTimeout, fitting};
use crate::flow::{Connection, PacketRef, Side};
use crate::time::{Timestamp, round6};
use crate::verdict::{Judgement, MIN_IDLE_OF_INTEREST_S, ResetCause, Verdict};
use rustc_hash::FxHashSet;
use std::net::{IpAddr, SocketAddr};

/// At least this many abandoned older connections, each with a newer one
/// after it, make a reconnect storm (with at least one of them broken:
/// unanswered, or closed by the server and never by the client).
pub const STORM_MIN_ABANDONED: u64 = 2;
/// A connection still open but silent for this long at the end, while its
/// client had opened a newer one to the same service, was abandoned: the
/// shortest well-known middlebox idle timeout (AWS ALB, 60 s) may already
/// have cut it.
pub const ABANDONED_IDLE_S: f64 = 60.0;

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
    /// A connection survived a silence at least as long as one that killed
    /// another: the deaths are not (all) one idle timeout's doing.
    pub conflicting: bool,
    /// Well-known default idle timeouts the bounds fit.
    pub known_defaults: Vec<KnownTimeout>,
    /// Keepalive idle (or heartbeat period) to stay below the timeout, s.
    pub recommended_keepalive_idle_s: u32,
}

/// One client abandoning connections to one service while opening newer ones.
#[derive(Clone, Debug, PartialEq)]
pub struct StormFinding {
    pub client: IpAddr,
    pub server: SocketAddr,
    /// Older connections left behind (unanswered, half-closed by the
    /// server, or long idle), each followed by a newer connection.
    pub abandoned: u64,
    /// Of those, the ones whose last packets went unanswered (the peer or
    /// path was gone: half-open).
    pub unanswered: u64,
    /// Of those, the ones the server had closed (FIN) and the client never did (CLOSE_WAIT).
    pub half_closed_by_server: u64,
    /// The first frame of the oldest abandoned connection.
    pub first_frame: u64,
    /// The first frame of the newest connection.
    pub newest_frame: u64,
}

/// A silence that killed a connection, and what must hold for the path to be blamed.
#[derive(Clone, Copy)]
struct Death {
    idle_s: f64,
    /// Data into a silent path: blamed only if the server's host was heard
    /// from, on another connection, after this time (so it had not vanished).
    needs_host_alive_after: Option<Timestamp>,
}

#[derive(Default)]
struct PathAggregate {
    connections: u64,
    survived: Option<f64>,
    deaths: Vec<Death>,
}

/// Why an older connection counts as abandoned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Abandoned {
    Unanswered,
    HalfClosedByServer,
    LongIdle,
}

/// Services are not swept before this many are held (a sweep looks at
/// every held connection): 4,096 entries take about half a MiB.
const SWEEP_MIN_SERVICES: usize = 4096;
/// Nor before one for every this many connections held: a sweep looks at
/// each of them (a walk of the flow table's slab; at 200,000 open on the
/// benchmark's capture, its ten sweeps were 2–4% of the run, issue 14), and
/// where few services outlive a sweep (a client per connection), one every
/// 4,096 services judged would walk the slab for every 4,096 connections
/// judged. So a judged connection pays for at most this many held
/// connections looked at, and the services between sweeps take about 28
/// bytes (an entry, see [`Newest`]) ÷ this per open connection.
const SWEEP_HELD_PER_SERVICE: usize = 8;

/// The newest established connection's first packet of one service of
/// one client: all a service keeps while it may still tell a storm (see
/// [`PathAggregator::forget_done_services`]; its abandoned connections, at
/// the end of the capture, are kept apart: most services have none). Packed
/// to 4-byte alignment so that with its IPv4 key as integers (12 bytes) an
/// entry takes 28 bytes: as a `MaybePacket` (aligned to 8) with an
/// `Option<Box<Vec>>` for the abandoned ones it took 40, and the services
/// table was the largest part of the peak outside the flow table (30 bytes
/// per open connection at 200,000 open on gencap's capture, issue 14; a
/// `usize`, an `IpAddr` and a `SocketAddr` as key, an `Option<PacketRef>`
/// and a `Vec` as value took 112: 100,000 clients took 15 MB).
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Newest {
    frame: u64,
    ts: Timestamp,
}

impl Newest {
    // Fields of a packed struct are read by value only: a reference to one
    // may be unaligned.
    fn get(self) -> PacketRef {
        PacketRef { frame: self.frame, ts: self.ts }
    }
}

impl From<PacketRef> for Newest {
    fn from(p: PacketRef) -> Newest {
        Newest { frame: p.frame, ts: p.ts }
    }
}

/// Unfinished connections of one service that were abandoned: their first
/// packet, the packet since which they were left behind, and why.
type AbandonedLog = Vec<(PacketRef, PacketRef, Abandoned)>;

/// A service of a client: the capture (its index in the run), the client's
/// address, the server's address and port. Ordered as `(capture, client,
/// server)` with the server a `SocketAddr` would be (address, then port).
type ServiceKey = (u32, IpAddr, IpAddr, u16);

/// Collects what the path and storm findings need from each judged connection.
#[derive(Default)]
pub struct PathAggregator {
    /// By capture (its index in the run) and server; only servers with an
    /// idle period worth reporting.
    paths: ByAddress<(usize, SocketAddr), PathAggregate>,
    /// When each host was last heard from, by capture: the hosts that may
    /// still matter to a death (see [`PathAggregator::forget_done_services`]).
    last_heard: ByAddress<(usize, IpAddr), Timestamp>,
    /// By capture, client address and server: established connections' newest start.
    services: ByAddress<ServiceKey, Newest>,
    /// The same, for the services with abandoned connections: those.
    abandoned: ByAddress<ServiceKey, AbandonedLog>,
    /// Services left by the last sweep: the next is due at twice as many,
    /// so sweeping costs a constant per connection.
    services_kept: usize,
}

impl PathAggregator {
    pub fn add(&mut self, conn: &Connection, verdict: &Judgement, capture: usize) {
        // A handshake nobody completed tells nothing of idle paths (its
        // silences are a client waiting for an answer) and is no
        // connection a client could abandon.
        if conn.handshake_only {
            return;
        }
        let server = conn.server();
        for side in &conn.sides {
            if let Some(last) = side.marks.last_sent.get() {
                let heard = self.last_heard.get_or_insert_with((capture, side.addr().ip()), || last.ts);
                *heard = (*heard).max(last.ts);
            }
        }
        let survived = verdict.idle.survived_s.filter(|&s| s >= MIN_IDLE_OF_INTEREST_S);
        let death = path_death(conn, verdict);
        if survived.is_some() || death.is_some() {
            // The key as integers, made straight from the address: a key
            // holding a `SocketAddr`, put together from its parts by
            // narrower stores, was read back in 8-byte pieces to be hashed
            // and moved, which waited for those stores (`perf`: a third
            // of `Judge::conclude`'s own samples on one such load).
            let v4 = server_v4(capture, server);
            let p = self.paths.get_or_insert_with_v4(v4, || (capture, server), PathAggregate::default);
            p.connections += 1;
            if let Some(s) = survived {
                p.survived = Some(p.survived.map_or(s, |m: f64| m.max(s)));
            }
            p.deaths.extend(death);
        }
        self.add_to_service(conn, verdict, capture);
    }

    fn add_to_service(&mut self, conn: &Connection, verdict: &Judgement, capture: usize) {
        let server = conn.server();
        let client = conn.side(Side::Client).addr().ip();
        // Captures are numbered by the files of the command line: far fewer than 2^32.
        let key = (capture as u32, client, server.ip(), server.port());
        let v4 = service_v4(capture as u32, client, server.ip(), server.port());
        let newest = self.services.get_or_insert_with_v4(v4, || key, || conn.first.into());
        if conn.first.ts > newest.get().ts {
            *newest = conn.first.into();
        }
        // Dropped before the capture ended (never established both ways):
        // not a connection left open.
        if conn.dropped.is_none()
            && let Some((why, since)) = abandoned(conn, verdict)
        {
            self.abandoned.get_or_insert_with(key, Vec::new).push((conn.first, since, why));
        }
    }

    /// Forgets the services that can no longer tell a storm, once enough
    /// have gathered: memory follows the connections open at once, not the
    /// file (issue 14). `part` is the part of the run being read, `latest`
    /// its latest time (a packet read from now on is at that time or
    /// after: see `Clock`), `held` the endpoints (client, server) of its
    /// connections not judged yet, `open` how many they are.
    ///
    /// A service with no abandoned connection matters only by its newest
    /// start, which an abandoned connection judged later may have been
    /// left behind for. That connection is either held now (its service,
    /// taken either way round as its roles may yet change, is kept) or
    /// starts at `latest` or after: a newer start than any before
    /// `latest`, so the entry it makes anew holds what the forgotten one
    /// would have. A part of the run that has ended is judged whole.
    pub fn forget_done_services(
        &mut self,
        part: usize,
        latest: Timestamp,
        open: usize,
        held: impl Iterator<Item = [SocketAddr; 2]>,
    ) {
        let due = (2 * self.services_kept).max(SWEEP_MIN_SERVICES).max(open / SWEEP_HELD_PER_SERVICE);
        if self.services.len() < due {
            return;
        }
        let whole_part = part;
        let part = part as u32;
        // The services a sweep forgets unless a held connection has them,
        // and the hosts likewise, by hash: a collision only keeps an entry
        // that could have gone. Each held connection then crosses off what
        // it has, and what is left is forgotten. The held connections were
        // hashed into two vectors and sorted instead: 32 bytes an open
        // connection while the sweep ran, and at 200,000 open the sort was
        // 6% of the run (issue 14); these sets follow the findings' own
        // entries instead.
        // A service with abandoned connections tells a storm at the end:
        // never forgotten. (Asked last: most sweeps find no such service.)
        let abandoned = &self.abandoned;
        let has_abandoned = |key: ServiceKey| !abandoned.is_empty() && abandoned.get(key).is_some();
        let unheld = |key: ServiceKey, newest: Newest| key.0 == part && newest.get().ts < latest && !has_abandoned(key);
        // Each set made at its size, counted first: collected, it grew by
        // doubling, each time hashing and writing again all it held, at
        // random (`reserve_rehash`, ~0.7% of the analysing thread on the
        // bench capture); made at the size of the table it comes from, it
        // would hold more memory at the sweep, which comes at the peak.
        let candidates = || self.services.iter_hashed().filter(|&(key, _, &s)| unheld(key, s));
        let mut unheld_services = FxHashSet::with_capacity_and_hasher(candidates().count(), Default::default());
        unheld_services.extend(candidates().map(|(_, hash, _)| hash));
        // When a host was last heard from matters only to a death that
        // needs it heard from after the death's time. Those already counted
        // keep their server's entry. One judged later is held now (its
        // server, either way round, keeps its entry) or starts at `latest`
        // or after: no host was heard from after that yet, and what is
        // heard from now on is recorded anew.
        let dying: FxHashSet<(usize, IpAddr)> = self
            .paths
            .iter()
            .filter(|(_, p)| p.deaths.iter().any(|d| d.needs_host_alive_after.is_some()))
            .map(|((capture, server), _)| (capture, server.ip()))
            .collect();
        let hosts = || self.last_heard.iter_hashed().filter(|(key, _, _)| key.0 == whole_part && !dying.contains(key));
        let mut unheld_hosts = FxHashSet::with_capacity_and_hasher(hosts().count(), Default::default());
        unheld_hosts.extend(hosts().map(|(_, hash, _)| hash));
        for [a, b] in held {
            if unheld_services.is_empty() && unheld_hosts.is_empty() {
                break;
            }
            // Either way round: its roles may yet change.
            for (client, server) in [(a, b), (b, a)] {
                unheld_services.remove(&hash_of((part, client.ip(), server.ip(), server.port())));
                unheld_hosts.remove(&hash_of((whole_part, server.ip())));
            }
        }
        // Those of a part that has ended are forgotten but for their storms.
        self.services.retain_hashed(|key, hash, &newest| {
            let forgotten = if key.0 == part {
                unheld(key, newest) && unheld_services.contains(&hash)
            } else {
                !has_abandoned(key)
            };
            !forgotten
        });
        self.services_kept = self.services.len();
        self.last_heard.retain_hashed(|key, hash, _| {
            dying.contains(&key) || (key.0 == whole_part && !unheld_hosts.contains(&hash))
        });
    }

    /// Services held (tests of the sweep).
    #[cfg(test)]
    pub(crate) fn services_held(&self) -> usize {
        self.services.len()
    }

    /// Hosts whose last packet is held (tests of the sweep).
    #[cfg(test)]
    pub(crate) fn hosts_held(&self) -> usize {
        self.last_heard.len()
    }

    /// Paths where at least one connection died in a way the path explains, in order of capture and server.
    pub fn paths(&self) -> Vec<PathFinding> {
        let mut paths: Vec<_> = self.paths.iter().collect();
        paths.sort_by_key(|(key, _)| *key);
        paths
            .into_iter()
            .filter_map(|((capture, server), p)| {
                let host_alive_after =
                    |t: Timestamp| self.last_heard.get((capture, server.ip())).is_some_and(|&h| h > t);
                let deaths: Vec<f64> = p
                    .deaths
                    .iter()
                    .filter(|d| d.needs_host_alive_after.is_none_or(host_alive_after))
                    .map(|d| d.idle_s)
                    .collect();
                let died = deaths.iter().copied().reduce(f64::min)?;
                let conflicting = p.survived.is_some_and(|lo| lo >= died);
                let between = p.survived.filter(|&lo| lo < died).map(|lo| [round6(lo), round6(died)]);
                // Stay well inside the lowest bound we know of. Without a
                // silence survived, the timeout may be anything up to
                // `died`: a well-known default that fits (AWS ALB's 60 s
                // for a death after 181 s) may be the box's, so stay
                // below it too, or the advice would not keep that box's
                // connections alive.
                let known = fitting(0.0, died).first().map_or(died, |t| f64::from(t.secs));
                let bound = between.map_or(known.min(died), |b| b[0]);
                Some(PathFinding {
                    server,
                    connections: p.connections,
                    survived_idle_max_s: p.survived,
                    died_after_idle_min_s: died,
                    died_connections: deaths.len() as u64,
                    idle_timeout_between_s: between,
                    conflicting,
                    known_defaults: if conflicting { Vec::new() } else { fitting(p.survived.unwrap_or(0.0), died) },
                    recommended_keepalive_idle_s: ((bound * 0.5).floor() as u32).max(1),
                })
            })
            .collect()
    }

    /// Clients that abandoned connections to one service while opening newer ones, in order of capture, client and server.
    pub fn storms(&self) -> Vec<StormFinding> {
        // Only a service with abandoned connections can tell one.
        let mut services: Vec<_> = self.abandoned.iter().collect();
        services.sort_by_key(|&(key, _)| key);
        services
            .into_iter()
            .filter_map(|(key, abandoned)| {
                let (_, client, server_ip, port) = key;
                let server = SocketAddr::new(server_ip, port);
                // Every service with abandoned connections has its newest
                // start: it is recorded first, and such a service is never swept.
                let newest = self.services.get(key)?.get();
                // Left behind: a newer connection started after it was
                // (after its last packet, or after its data went unanswered:
                // a half-open connection may still be retransmitting).
                let replaced: Vec<_> = abandoned.iter().filter(|(_, since, _)| since.ts < newest.ts).collect();
                let count = |why: Abandoned| replaced.iter().filter(|(_, _, w)| *w == why).count() as u64;
                let (unanswered, half_closed) = (count(Abandoned::Unanswered), count(Abandoned::HalfClosedByServer));
                // Idle connections alone are also what a trimmed capture, a
                // pool or a quiet session look like: at least one must show
                // it was broken (unanswered, or closed by the server and not by the client).
                let broken = unanswered + half_closed > 0;
                (broken && replaced.len() as u64 >= STORM_MIN_ABANDONED).then(|| StormFinding {
                    client,
                    server,
                    abandoned: replaced.len() as u64,
                    unanswered,
                    half_closed_by_server: half_closed,
                    first_frame: replaced.iter().map(|(first, _, _)| first.frame).min().unwrap_or(newest.frame),
                    newest_frame: newest.frame,
                })
            })
            .collect()
    }
}

/// The silence that killed `conn`, when the path can explain it.
fn path_death(conn: &Connection, verdict: &Judgement) -> Option<Death> {
    let idle_s = verdict.idle.died_after_s?;
    let fin_before = |side: Side, p: PacketRef| conn.side(side).marks.fin.get().is_some_and(|f| f.frame < p.frame);
    match &verdict.verdict {
        Verdict::Reset(r) => {
            // A side that closed and then reset is not a box forgetting an idle connection.
            if fin_before(r.sender, r.rst) {
                return None;
            }
            match r.cause {
                ResetCause::Middlebox => Some(Death { idle_s, needs_host_alive_after: None }),
                // A stateless RST answering a keepalive probe is the host
                // itself having lost the connection (a reboot); one answering
                // data after idle may be a NAT that forgot the mapping too.
                // One that answered nothing (the silence ended with the RST
                // itself, not with a packet it promptly answered: nDPI
                // signal.pcap's three bare RSTs after 13 s) is the sender's
                // own abort, whatever its shape.
                ResetCause::PeerLostState => {
                    let answered_probe = verdict.keepalive().iter().any(|k| k.reset_by_peer == Some(r.rst));
                    let answered_something = conn.side(r.sender).marks.reset().is_some_and(|m| {
                        m.follows.frame != m.at.frame && m.at.ts.secs_since(m.follows.ts) < MIN_IDLE_OF_INTEREST_S
                    });
                    (!answered_probe && answered_something).then_some(Death { idle_s, needs_host_alive_after: None })
                }
                _ => None,
            }
        }
        Verdict::RetransmissionTimeout(r) => {
            let peer = r.sender.peer();
            // The peer had closed first: its own FIN, not the path, explains the silence.
            if fin_before(peer, r.first_unacked) {
                return None;
            }
            let peer_last_here = conn.side(peer).marks.last_sent.get().map_or(r.first_unacked.ts, |p| p.ts);
            Some(Death { idle_s, needs_host_alive_after: Some(r.first_unacked.ts.max(peer_last_here)) })
        }
        _ => None,
    }
}

/// Whether a connection left unfinished at the end was abandoned by its
/// client, why, and since which packet: for a half-open one, its first
/// unanswered packet (it may go on retransmitting); otherwise its last.
fn abandoned(conn: &Connection, verdict: &Judgement) -> Option<(Abandoned, PacketRef)> {
    let unanswered_since = verdict
        .retransmission()
        .map(|r| r.first_unacked)
        .or_else(|| verdict.zero_window().map(|z| z.since))
        .or_else(|| {
            verdict.keepalive().iter().filter(|k| k.unanswered_at_end > 0).find_map(|k| k.last_train.first().copied())
        });
    match &verdict.verdict {
        Verdict::Stalled(_) => return unanswered_since.map(|since| (Abandoned::Unanswered, since)),
        Verdict::HalfClosed { fin_by: Side::Server, .. } => return Some((Abandoned::HalfClosedByServer, conn.last)),
        Verdict::Open { .. } => {}
        // The client closed it (its FIN): not left behind.
        _ => return None,
    }
    if let Some(since) = unanswered_since {
        return Some((Abandoned::Unanswered, since));
    }
    let keepalive = verdict.keepalive();
    // Kept alive by answered keepalives: the peer was there; a flow that
    // then stops appearing was cut from the capture, not abandoned.
    if keepalive.iter().any(|k| k.probes_answered > 0) {
        return None;
    }
    verdict.idle_at_end_s().filter(|&idle| idle >= ABANDONED_IDLE_S).map(|_| (Abandoned::LongIdle, conn.last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::by_address::AddressKey;

    #[test]
    fn a_service_entry_takes_28_bytes() {
        // What the services table holds for each service with IPv4
        // addresses (its key as integers and its newest start): the peak
        // at 200,000 open holds one for most of them (issue 14).
        type Entry = (<ServiceKey as AddressKey>::V4, Newest);
        assert_eq!(std::mem::size_of::<Entry>(), 28);
        let p = PacketRef { frame: u64::MAX - 1, ts: Timestamp(-5) };
        assert_eq!(Newest::from(p).get(), p);
    }
}
