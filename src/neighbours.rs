//! Addresses the capture's link could not resolve: when the capture can no
//! longer see a host's packets.
//!
//! A sender that stops retransmitting to a host, or stops probing it, has
//! given up only if the capture would have seen its next packet. A capture
//! taken on the receiver's link, behind the router that forwards to it,
//! would not: a router with packets for a host on its link asks for the
//! host's link address first (ARP, RFC 826; IPv6 neighbour solicitation,
//! RFC 4861 §7.2), and when nobody answers it drops what it holds for the
//! host (Linux `neigh_invalidate`, which also sends the sender an ICMP
//! host-unreachable it may ignore). The capture then sees the router's
//! questions, repeated as packets for the host keep arriving, and none of
//! the packets. nDPI's android.pcap shows it: 192.168.2.1 asks for the
//! vanished 192.168.2.17 (unicast probes 28, 30, 32, then broadcasts from
//! 35 to 204) while the servers' retransmissions to it stop appearing.
//!
//! The log keeps, per address, the run of requests for it that nothing has
//! answered yet: a reply, an announcement, or any question the host asks
//! itself ends the run (the host is on the link).

use crate::decode::Neighbour;
use crate::time::Timestamp;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// A failed resolution repeats its question: Linux asks `ucast_probes` (3)
/// then `mcast_probes` (3) times, one `retrans_time` (1 s) apart
/// (`neigh_timer_handler`), Windows three times. One request without an
/// answer may just be a reply the capture missed; a run needs this many.
pub const MIN_REQUESTS: u32 = 2;
/// Addresses whose unanswered requests are kept. A sweep of a large subnet
/// (nmap's ARP ping) asks for every address once; past this many, the half
/// asked for longest ago is forgotten, so memory never follows the file.
const MAX_ADDRESSES: usize = 1 << 14;

/// A request for an address, as the capture numbered and timed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asked {
    /// 1-based frame number, as Wireshark numbers it.
    pub frame: u64,
    pub ts: Timestamp,
}

/// The requests for one address that nothing has answered since the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unresolved {
    pub addr: IpAddr,
    pub first: Asked,
    pub last: Asked,
    pub requests: u32,
}

impl Unresolved {
    /// Whether the address was unresolvable at some time between `from`
    /// and `until`: its run of unanswered requests (of at least
    /// [`MIN_REQUESTS`]) overlaps that span. Packets for it that were due
    /// then died before the link.
    pub fn spans(&self, from: Timestamp, until: Timestamp) -> bool {
        self.requests >= MIN_REQUESTS && self.first.ts <= until && self.last.ts >= from
    }
}

/// The unanswered requests of one capture (one part of it: a clock jump
/// starts a new log), by address.
#[derive(Debug, Default)]
pub struct NeighbourLog {
    unresolved: FxHashMap<IpAddr, Unresolved>,
}

impl NeighbourLog {
    /// Takes in one ARP or neighbour-discovery packet.
    pub fn observe(&mut self, frame: u64, ts: Timestamp, msg: &Neighbour) {
        if let Some(present) = msg.present {
            self.unresolved.remove(&present);
        }
        let Some(addr) = msg.asked_for else { return };
        let at = Asked { frame, ts };
        if self.unresolved.len() >= MAX_ADDRESSES && !self.unresolved.contains_key(&addr) {
            self.forget_oldest_half();
        }
        let run = self.unresolved.entry(addr).or_insert(Unresolved { addr, first: at, last: at, requests: 0 });
        run.last = at;
        run.requests += 1;
    }

    /// The run of unanswered requests for `addr`, if any.
    pub fn unresolved(&self, addr: IpAddr) -> Option<&Unresolved> {
        self.unresolved.get(&addr)
    }

    fn forget_oldest_half(&mut self) {
        let mut lasts: Vec<Timestamp> = self.unresolved.values().map(|u| u.last.ts).collect();
        let middle = lasts.len() / 2;
        let (_, &mut median, _) = lasts.select_nth_unstable(middle);
        self.unresolved.retain(|_, u| u.last.ts > median);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: f64) -> Timestamp {
        Timestamp::from_secs_f64(secs)
    }

    fn ask(addr: &str) -> Neighbour {
        Neighbour { asked_for: Some(addr.parse().unwrap()), present: Some("192.168.2.1".parse().unwrap()) }
    }

    #[test]
    fn a_run_of_requests_lasts_until_the_host_shows_up() {
        let mut log = NeighbourLog::default();
        log.observe(28, at(29.2), &ask("192.168.2.17"));
        let one = *log.unresolved("192.168.2.17".parse().unwrap()).unwrap();
        // One request: a reply the capture missed, perhaps.
        assert!(!one.spans(at(20.0), at(40.0)));
        log.observe(35, at(39.9), &ask("192.168.2.17"));
        log.observe(40, at(46.0), &ask("192.168.2.17"));
        let run = *log.unresolved("192.168.2.17".parse().unwrap()).unwrap();
        assert_eq!((run.first.frame, run.last.frame, run.requests), (28, 40, 3));
        assert!(run.spans(at(31.3), at(45.3)));
        // Not before the run began, nor after it ended.
        assert!(!run.spans(at(10.0), at(20.0)));
        assert!(!run.spans(at(50.0), at(60.0)));
        // The router asking for itself is present, and asks for no one.
        assert_eq!(log.unresolved("192.168.2.1".parse().unwrap()), None);
        // The host asks for its router: it is back on the link.
        let back = Neighbour { asked_for: Some("192.168.2.1".parse().unwrap()), present: Some(run.addr) };
        log.observe(76, at(97.0), &back);
        assert_eq!(log.unresolved(run.addr), None);
        assert!(log.unresolved("192.168.2.1".parse().unwrap()).is_some());
    }

    #[test]
    fn a_sweep_is_forgotten_oldest_first_past_the_bound() {
        let mut log = NeighbourLog::default();
        for i in 0..MAX_ADDRESSES as u32 + 1 {
            let addr = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            log.observe(u64::from(i) + 1, at(f64::from(i)), &Neighbour { asked_for: Some(addr), present: None });
        }
        assert!(log.unresolved.len() <= MAX_ADDRESSES / 2 + 1, "{}", log.unresolved.len());
        let newest = IpAddr::from((0x0a00_0000 + MAX_ADDRESSES as u32).to_be_bytes());
        assert!(log.unresolved(newest).is_some());
        assert_eq!(log.unresolved(IpAddr::from([10, 0, 0, 0])), None);
    }
}
