//! The host tcpka captures on, when it is the one that sends the probes:
//! its keepalive sysctls (per network namespace), and what the kernel says
//! of the probing socket (inet_diag, as `ss -tinop` shows
//! `timer:(keepalive,…)`) and of the process that owns it. With these, a
//! keepalive kill's settings are named the system's or the application's
//! (set per socket with `setsockopt`). Nothing is said when the prober is
//! another host: its sysctls and sockets are not this host's.

use crate::report::KeepaliveReport;
use crate::verdict::Bound;
use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, InetResponseHeader, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// The keepalive sysctls of this network namespace
/// (`/proc/sys/net/ipv4/tcp_keepalive_*`: each namespace has its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KeepaliveSysctls {
    pub tcp_keepalive_time: u32,
    pub tcp_keepalive_intvl: u32,
    pub tcp_keepalive_probes: u32,
}

impl KeepaliveSysctls {
    fn read() -> Option<KeepaliveSysctls> {
        let get = |name: &str| -> Option<u32> {
            std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}")).ok()?.trim().parse().ok()
        };
        Some(KeepaliveSysctls {
            tcp_keepalive_time: get("tcp_keepalive_time")?,
            tcp_keepalive_intvl: get("tcp_keepalive_intvl")?,
            tcp_keepalive_probes: get("tcp_keepalive_probes")?,
        })
    }
}

/// Whose keepalive settings a local prober used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SettingsFrom {
    /// They match the sysctls: the system's.
    System,
    /// They differ: the application set them on the socket (TCP_KEEPIDLE,
    /// TCP_KEEPINTVL, TCP_KEEPCNT).
    PerSocket,
}

/// What the kernel says of a probing socket, and who owns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SocketOwner {
    pub uid: u32,
    pub inode: u32,
    /// The socket's keepalive timer was running, due in this many seconds.
    pub keepalive_timer_s: Option<f64>,
    /// The process holding the socket (none when it could not be found:
    /// the socket may already be closed).
    pub pid: Option<i32>,
    pub process: Option<String>,
}

/// What tcpka says of the prober's own host, on an event.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HostNote {
    /// The keepalive sysctls of the namespace tcpka runs in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysctl: Option<KeepaliveSysctls>,
    /// Whether the inferred settings are the system's or the socket's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings_from: Option<SettingsFrom>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<SocketOwner>,
}

impl HostNote {
    /// The note in words, for the human lines.
    pub fn words(&self) -> String {
        let mut s = String::from("On this host:");
        if let Some(o) = &self.socket {
            match (&o.process, o.pid) {
                (Some(name), Some(pid)) => s.push_str(&format!(" {name} (pid {pid}, uid {}) owns the socket", o.uid)),
                _ => s.push_str(&format!(" the socket (inode {}, uid {}) has no process any more", o.inode, o.uid)),
            }
            if let Some(due) = o.keepalive_timer_s {
                s.push_str(&format!("; its keepalive timer is due in {due:.3} s"));
            }
            if self.settings_from.is_some() {
                s.push(';');
            } else {
                s.push('.');
            }
        }
        if let Some(k) = &self.sysctl {
            let sysctls = format!(
                "net.ipv4.tcp_keepalive_time={}, _intvl={}, _probes={}",
                k.tcp_keepalive_time, k.tcp_keepalive_intvl, k.tcp_keepalive_probes
            );
            match self.settings_from {
                Some(SettingsFrom::System) => s.push_str(&format!(" the settings are the system's ({sysctls}).")),
                Some(SettingsFrom::PerSocket) => s.push_str(&format!(
                    " the settings were set on the socket by the application (TCP_KEEPIDLE, TCP_KEEPINTVL, \
                     TCP_KEEPCNT): the system's are {sysctls}."
                )),
                None => {}
            }
        }
        s
    }
}

/// This host: its addresses and keepalive sysctls.
pub struct Host {
    local: HashSet<IpAddr>,
    sysctl: Option<KeepaliveSysctls>,
    owners: Owners,
}

/// Which process holds which socket, from the last look through `/proc`.
#[derive(Default)]
struct Owners {
    by_inode: HashMap<u64, (i32, String)>,
    looked: Option<Instant>,
}

impl Owners {
    /// The process holding the socket with this inode. A socket not seen
    /// at the last look makes a new look, at most every [`LOOK_EVERY`]: a
    /// host with many probing sockets does not cost a look each.
    fn of(&mut self, inode: u64) -> Option<(i32, String)> {
        // A socket closed since the last look may have left its inode to
        // another: the process must still hold it.
        if let Some(owner) = self.by_inode.get(&inode)
            && holds(owner.0, inode)
        {
            return Some(owner.clone());
        }
        if self.looked.is_some_and(|t| t.elapsed() < LOOK_EVERY) {
            return None;
        }
        self.looked = Some(Instant::now());
        self.by_inode = sockets_by_inode();
        self.by_inode.get(&inode).cloned()
    }
}

impl Host {
    /// The host tcpka runs on (its network namespace): the addresses of
    /// its interfaces, and its sysctls.
    pub fn here() -> Host {
        let local = pcap::Device::list()
            .map(|devices| devices.iter().flat_map(|d| d.addresses.iter().map(|a| a.addr)).collect())
            .unwrap_or_default();
        Host { local, sysctl: KeepaliveSysctls::read(), owners: Owners::default() }
    }

    #[cfg(test)]
    pub fn with(local: &[IpAddr], sysctl: Option<KeepaliveSysctls>) -> Host {
        Host { local: local.iter().copied().collect(), sysctl, owners: Owners::default() }
    }

    /// Whether `addr` is one of this host's: a prober there is this host.
    pub fn is_local(&self, addr: IpAddr) -> bool {
        self.local.contains(&addr)
    }

    /// What the kernel says of the socket from `local` to `remote`, and its owner.
    pub fn socket(&mut self, local: SocketAddr, remote: SocketAddr) -> Option<SocketOwner> {
        let found = socket_diag(local, remote)?;
        let keepalive_timer_s = match found.timer {
            Some(netlink_packet_sock_diag::inet::Timer::KeepAlive(due)) => Some(due.as_secs_f64()),
            _ => None,
        };
        let owner = self.owners.of(u64::from(found.inode));
        Some(SocketOwner {
            uid: found.uid,
            inode: found.inode,
            keepalive_timer_s,
            pid: owner.as_ref().map(|o| o.0),
            process: owner.map(|o| o.1),
        })
    }

    /// The note on a keepalive kill by `k`, a prober on this host: the
    /// sysctls, and whether the inferred settings are theirs.
    pub fn settings_note(&self, k: &KeepaliveReport, socket: Option<SocketOwner>) -> HostNote {
        let settings_from = self.sysctl.and_then(|s| settings_from(&s, k));
        HostNote { sysctl: self.sysctl, settings_from, socket }
    }
}

/// The system's settings, or the socket's: the inferred settings are
/// compared with the sysctls, each one the capture shows. A probe count
/// known only as a lower bound is the system's while the sysctl is at least
/// as many. None when the capture shows none of the three.
fn settings_from(sysctl: &KeepaliveSysctls, k: &KeepaliveReport) -> Option<SettingsFrom> {
    let mut known = 0;
    let mut same = true;
    for (inferred, system) in
        [(k.facts.idle_s, sysctl.tcp_keepalive_time), (k.facts.interval_s, sysctl.tcp_keepalive_intvl)]
    {
        if let Some(v) = inferred {
            known += 1;
            same &= v == system;
        }
    }
    if let Some(n) = k.facts.probes {
        known += 1;
        same &= match k.facts.probes_bound {
            Some(Bound::AtLeast) => sysctl.tcp_keepalive_probes >= n,
            _ => n == sysctl.tcp_keepalive_probes,
        };
    }
    (known > 0).then_some(if same { SettingsFrom::System } else { SettingsFrom::PerSocket })
}

/// One socket from the kernel (`inet_diag`, an exact lookup by 4-tuple as
/// `ss` does with a filter). IPv4 connections on dual-stack sockets are
/// AF_INET6 sockets with mapped addresses: both are asked.
fn socket_diag(local: SocketAddr, remote: SocketAddr) -> Option<InetResponseHeader> {
    let ask = |family: u8, src: IpAddr, dst: IpAddr| -> Option<InetResponseHeader> {
        let mut socket = netlink_sys::Socket::new(NETLINK_SOCK_DIAG).ok()?;
        socket.bind_auto().ok()?;
        socket.connect(&netlink_sys::SocketAddr::new(0, 0)).ok()?;
        socket.set_non_blocking(false).ok()?;
        let mut header = NetlinkHeader::default();
        // Not a dump: the kernel looks the one socket up
        // (inet_diag_find_one_icsk); no cookie to check (INET_DIAG_NOCOOKIE).
        header.flags = NLM_F_REQUEST;
        let request = InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: SocketId {
                source_port: local.port(),
                destination_port: remote.port(),
                source_address: src,
                destination_address: dst,
                interface_id: 0,
                cookie: [0xff; 8],
            },
        };
        let mut packet = NetlinkMessage::new(header, SockDiagMessage::InetRequest(request).into());
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        socket.send(&buf, 0).ok()?;
        let mut answer = vec![0; 8192];
        let n = socket.recv(&mut &mut answer[..], 0).ok()?;
        let message = NetlinkMessage::<SockDiagMessage>::deserialize(&answer[..n]).ok()?;
        match message.payload {
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => Some(r.header),
            // NLMSG_ERROR: ENOENT when there is no such socket.
            _ => None,
        }
    };
    let mapped = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
        v6 => v6,
    };
    match (local.ip(), remote.ip()) {
        (l @ IpAddr::V4(_), r @ IpAddr::V4(_)) => ask(AF_INET, l, r).or_else(|| ask(AF_INET6, mapped(l), mapped(r))),
        (l, r) => ask(AF_INET6, l, r),
    }
}

/// Every socket's process, by the socket's inode: found by the processes'
/// descriptors (`/proc/PID/fd/N -> socket:[INODE]`), as `ss -p` does. The
/// first found, when several share a socket. A look stops after
/// [`LOOK_LIMIT`] (a host with very many processes): the analysis waits for it.
fn sockets_by_inode() -> HashMap<u64, (i32, String)> {
    let mut found = HashMap::new();
    let Ok(processes) = procfs::process::all_processes() else { return found };
    let deadline = Instant::now() + LOOK_LIMIT;
    for process in processes.flatten() {
        if Instant::now() > deadline {
            break;
        }
        let Ok(fds) = process.fd() else { continue };
        let name = process.stat().map(|s| s.comm).unwrap_or_else(|_| "?".into());
        for fd in fds.flatten() {
            if let procfs::process::FDTarget::Socket(inode) = fd.target {
                found.entry(inode).or_insert_with(|| (process.pid(), name.clone()));
            }
        }
    }
    found
}

/// Whether process `pid` holds the socket with this inode.
fn holds(pid: i32, inode: u64) -> bool {
    procfs::process::Process::new(pid)
        .and_then(|p| p.fd())
        .is_ok_and(|fds| fds.flatten().any(|fd| fd.target == procfs::process::FDTarget::Socket(inode)))
}

/// The longest one look through `/proc` may take.
const LOOK_LIMIT: Duration = Duration::from_millis(200);
/// Looks through `/proc` are at least this far apart.
const LOOK_EVERY: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    /// A keepalive kill's report (2 s idle, 2 probes 1 s apart), with the
    /// inferred settings replaced.
    fn report(idle: Option<u32>, interval: Option<u32>, probes: Option<u32>, bound: Option<Bound>) -> KeepaliveReport {
        let reports = crate::live::tests::reports_of(&crate::testkit::keepalive_kill_frames());
        let mut k = reports[0].keepalive[0].clone();
        assert!(k.facts.gave_up);
        (k.facts.idle_s, k.facts.interval_s, k.facts.probes, k.facts.probes_bound) = (idle, interval, probes, bound);
        k
    }

    #[test]
    fn the_settings_are_the_systems_when_they_match_the_sysctls() {
        let sysctl = KeepaliveSysctls { tcp_keepalive_time: 20, tcp_keepalive_intvl: 2, tcp_keepalive_probes: 2 };
        let from = |k: KeepaliveReport| settings_from(&sysctl, &k);
        assert_eq!(from(report(Some(20), Some(2), Some(2), Some(Bound::Exact))), Some(SettingsFrom::System));
        assert_eq!(from(report(Some(5), Some(1), Some(3), Some(Bound::Exact))), Some(SettingsFrom::PerSocket));
        // Only the idle time differs.
        assert_eq!(from(report(Some(5), Some(2), Some(2), Some(Bound::Exact))), Some(SettingsFrom::PerSocket));
        // A lower bound on the count fits a larger sysctl.
        assert_eq!(from(report(Some(20), Some(2), Some(1), Some(Bound::AtLeast))), Some(SettingsFrom::System));
        assert_eq!(from(report(Some(20), Some(2), Some(3), Some(Bound::AtLeast))), Some(SettingsFrom::PerSocket));
        assert_eq!(from(report(None, None, None, None)), None);
    }

    #[test]
    fn the_note_in_words() {
        let sysctl = KeepaliveSysctls { tcp_keepalive_time: 20, tcp_keepalive_intvl: 2, tcp_keepalive_probes: 2 };
        let socket = SocketOwner {
            uid: 0,
            inode: 42,
            keepalive_timer_s: Some(0.5),
            pid: Some(7),
            process: Some("postgres".into()),
        };
        let note =
            HostNote { sysctl: Some(sysctl), settings_from: Some(SettingsFrom::PerSocket), socket: Some(socket) };
        assert_eq!(
            note.words(),
            "On this host: postgres (pid 7, uid 0) owns the socket; its keepalive timer is due in 0.500 s; \
             the settings were set on the socket by the application (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT): \
             the system's are net.ipv4.tcp_keepalive_time=20, _intvl=2, _probes=2."
        );
        let system = HostNote { sysctl: Some(sysctl), settings_from: Some(SettingsFrom::System), socket: None };
        assert_eq!(
            system.words(),
            "On this host: the settings are the system's (net.ipv4.tcp_keepalive_time=20, _intvl=2, _probes=2)."
        );
    }

    #[test]
    fn a_prober_on_another_host_is_not_this_one() {
        let host = Host::with(&["10.0.0.2".parse().unwrap()], None);
        assert!(host.is_local("10.0.0.2".parse().unwrap()));
        assert!(!host.is_local("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn finds_a_socket_of_this_process_and_names_the_process() {
        // A connection over loopback, in this test's own process: the
        // kernel knows both ends, and this process holds them.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        let mut host = Host::here();
        let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let owner = host.socket(local, remote).expect("inet_diag finds the socket");
        assert_eq!(owner.pid, Some(std::process::id() as i32));
        // SAFETY: geteuid has no preconditions.
        assert_eq!(owner.uid, unsafe { libc::geteuid() });
        assert!(owner.keepalive_timer_s.is_none(), "no SO_KEEPALIVE here");
    }
}
