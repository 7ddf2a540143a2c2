//! The interface source: a live capture through libpcap, non-blocking, with
//! the open errors in terms a person can act on, libpcap's counters, the
//! `--write` file, and the list of interfaces.

use crate::source::{Counters, Link, Next, Packet, PacketSource, timestamp};
use crate::time::Timestamp;
use pcap::{Active, Capture, Device, Precision, Savefile};
use serde::Serialize;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::time::Duration;
use thiserror::Error;

/// The longest [`InterfaceSource::wait`]: the capture's read timeout.
pub const READ_TIMEOUT_MS: i32 = 250;
/// Bytes kept of each packet (as tcpdump's default).
pub const SNAPLEN: i32 = 262_144;

/// Why a live capture could not start (or went wrong). All exit with status 2.
#[derive(Debug, Error)]
pub enum InterfaceError {
    #[error(
        "no permission to capture on {interface} ({reason}).\n\
         Run tcpka as root (sudo tcpka live ...), or give the binary the capture capabilities once:\n  \
         sudo setcap cap_net_raw,cap_net_admin=eip $(which tcpka)"
    )]
    NoPermission { interface: String, reason: String },
    #[error("no interface named '{interface}' ({reason}). The interfaces here are:\n{available}")]
    NoSuchInterface { interface: String, reason: String, available: String },
    #[error("no interface to capture on: libpcap found none{reason}; name one with -i")]
    NoDefaultInterface { reason: String },
    #[error("bad filter '{filter}': {reason}")]
    BadFilter { filter: String, reason: String },
    #[error("cannot capture on {interface}: {reason}")]
    Open { interface: String, reason: String },
    #[error(
        "{interface}: unsupported link type {name} (DLT {dlt}); tcpka reads Ethernet, Linux cooked SLL/SLL2, raw IP, BSD loopback and NFLOG"
    )]
    UnsupportedLink { interface: String, dlt: i32, name: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot list interfaces: {0}")]
    List(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// What to capture.
#[derive(Clone, Copy, Debug, Default)]
pub struct Capturing<'a> {
    /// None: the interface libpcap picks by default (as tcpdump does).
    pub interface: Option<&'a str>,
    /// BPF filter, installed in the kernel.
    pub filter: Option<&'a str>,
    /// Put the interface in promiscuous mode (tcpdump's default).
    pub promiscuous: bool,
    /// Save every captured packet to this pcap file.
    pub write: Option<&'a Path>,
}

unsafe extern "C" {
    fn pcap_get_tstamp_precision(p: *mut std::ffi::c_void) -> std::ffi::c_int;
}

/// An open live capture.
pub struct InterfaceSource {
    pub interface: String,
    capture: Capture<pcap::Active>,
    fd: RawFd,
    link: Link,
    /// libpcap gives nanoseconds in `tv_usec` (else microseconds).
    nanos: bool,
    savefile: Option<(Savefile, String)>,
}

impl InterfaceSource {
    pub fn open(what: &Capturing<'_>) -> Result<InterfaceSource, InterfaceError> {
        let interface = match what.interface {
            Some(name) => name.to_string(),
            None => match Device::lookup() {
                Ok(Some(d)) => d.name,
                Ok(None) => return Err(InterfaceError::NoDefaultInterface { reason: String::new() }),
                Err(e) => {
                    return Err(InterfaceError::NoDefaultInterface { reason: format!(" ({})", pcap_message(&e)) });
                }
            },
        };
        let inactive = Capture::from_device(interface.as_str()).map_err(|e| open_error(&interface, e))?;
        // libpcap cannot put the "any" pseudo-device in promiscuous mode, and
        // reports that as a warning, which the pcap crate treats as a failure.
        let promiscuous = what.promiscuous && interface != "any";
        let mut capture: Capture<Active> = inactive
            .snaplen(SNAPLEN)
            .immediate_mode(true)
            .timeout(READ_TIMEOUT_MS)
            .precision(Precision::Nano)
            .promisc(promiscuous)
            .open()
            .map_err(|e| open_error(&interface, e))?;
        if let Some(expr) = what.filter {
            capture
                .filter(expr, true)
                .map_err(|e| InterfaceError::BadFilter { filter: expr.into(), reason: pcap_message(&e) })?;
        }
        // SAFETY: the handle is live for as long as `capture`; the call only reads it.
        let nanos = unsafe { pcap_get_tstamp_precision(capture.as_ptr().cast()) } == 1;
        let link = Link::of(capture.get_datalink()).map_err(|u| InterfaceError::UnsupportedLink {
            interface: interface.clone(),
            dlt: u.dlt,
            name: u.name,
        })?;
        // libpcap's read timeout does not make a read return when nothing
        // arrives (Linux, libpcap 1.10: it polls again), so the capture is
        // non-blocking and `wait` polls its descriptor itself.
        let capture = capture
            .setnonblock()
            .map_err(|e| InterfaceError::Open { interface: interface.clone(), reason: pcap_message(&e) })?;
        let fd = capture.as_raw_fd();
        let savefile = match what.write {
            Some(path) => {
                let name = path.display().to_string();
                let file = capture
                    .savefile(path)
                    .map_err(|e| InterfaceError::Write { path: name.clone(), reason: pcap_message(&e) })?;
                Some((file, name))
            }
            None => None,
        };
        Ok(InterfaceSource { interface, capture, fd, link, nanos, savefile })
    }
}

impl PacketSource for InterfaceSource {
    fn link(&self) -> &Link {
        &self.link
    }

    fn next_packet(&mut self) -> Next<'_> {
        match self.capture.next_packet() {
            Ok(packet) => {
                if let Some((file, _)) = self.savefile.as_mut() {
                    file.write(&packet);
                }
                Next::Packet(Packet { ts: timestamp(&packet.header.ts, self.nanos), data: packet.data })
            }
            Err(pcap::Error::TimeoutExpired) => Next::Idle,
            Err(e) => Next::Broken(pcap_message(&e)),
        }
    }

    /// Waits until the capture's descriptor is readable, a signal arrives,
    /// or `timeout` (at most [`READ_TIMEOUT_MS`]) is over.
    fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        let mut pfd = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().clamp(1, READ_TIMEOUT_MS as u128) as libc::c_int;
        // SAFETY: one valid pollfd, for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The wall clock: libpcap stamps live packets with it.
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn counters(&mut self) -> Option<Counters> {
        let s = self.capture.stats().ok()?;
        Some(Counters { received: s.received, dropped: s.dropped, if_dropped: s.if_dropped })
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.savefile.as_mut() {
            Some((file, name)) => file.flush().map_err(|e| io::Error::other(format!("writing {name}: {e}"))),
            None => Ok(()),
        }
    }
}

// ------------------------------------------------------------------ interfaces

/// Flags of an interface as words: up, running, loopback, ...
fn flag_words(d: &Device) -> Vec<&'static str> {
    let mut f = Vec::new();
    f.push(if d.flags.is_up() { "up" } else { "down" });
    if d.flags.is_running() {
        f.push("running");
    }
    if d.flags.is_loopback() {
        f.push("loopback");
    }
    if d.flags.is_wireless() {
        f.push("wireless");
    }
    f
}

fn addresses(d: &Device) -> Vec<String> {
    d.addresses.iter().map(|a| a.addr.to_string()).collect()
}

#[derive(Serialize)]
struct InterfaceJson<'a> {
    name: &'a str,
    description: Option<&'a str>,
    addresses: Vec<String>,
    up: bool,
    running: bool,
    loopback: bool,
    default: bool,
}

/// One line per interface, as libpcap lists them (and as `-i` takes them).
fn interface_lines(devices: &[Device], default: Option<&str>) -> String {
    let width = devices.iter().map(|d| d.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for d in devices {
        let flags = flag_words(d).join(", ");
        let mut line = format!("  {:width$}  [{flags}]", d.name);
        let addrs = addresses(d);
        if !addrs.is_empty() {
            line.push_str("  ");
            line.push_str(&addrs.join(", "));
        }
        if let Some(desc) = d.desc.as_deref().filter(|s| !s.is_empty()) {
            line.push_str(&format!("  ({desc})"));
        }
        if Some(d.name.as_str()) == default {
            line.push_str("  <- default");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `tcpka live --list-interfaces`: name, flags, addresses, description; NDJSON with `json`.
pub fn list_interfaces(out: &mut dyn Write, json: bool) -> Result<(), InterfaceError> {
    let devices = Device::list().map_err(|e| InterfaceError::List(e.to_string()))?;
    let default = Device::lookup().ok().flatten().map(|d| d.name);
    if json {
        for d in &devices {
            let j = InterfaceJson {
                name: &d.name,
                description: d.desc.as_deref(),
                addresses: addresses(d),
                up: d.flags.is_up(),
                running: d.flags.is_running(),
                loopback: d.flags.is_loopback(),
                default: Some(&d.name) == default.as_ref(),
            };
            serde_json::to_writer(&mut *out, &j).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
    } else {
        out.write_all(interface_lines(&devices, default.as_deref()).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

fn is_permission_problem(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("permission") || m.contains("not permitted") || m.contains("eperm") || m.contains("eacces")
}

fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Why opening `name` failed, in terms a person can act on.
fn open_error(name: &str, e: pcap::Error) -> InterfaceError {
    let reason = pcap_message(&e);
    let listed = Device::list().ok();
    let known = listed.as_ref().is_none_or(|l| l.iter().any(|d| d.name == name));
    if !known {
        let default = Device::lookup().ok().flatten().map(|d| d.name);
        let mut available = interface_lines(listed.as_deref().unwrap_or_default(), default.as_deref());
        available.truncate(available.trim_end().len());
        let reason = if is_permission_problem(&reason) {
            available.push_str(
                "\n(capturing also needs root, or: sudo setcap cap_net_raw,cap_net_admin=eip $(which tcpka))",
            );
            "not found".to_string()
        } else {
            reason
        };
        return InterfaceError::NoSuchInterface { interface: name.into(), reason, available };
    }
    if is_permission_problem(&reason) {
        return InterfaceError::NoPermission { interface: name.into(), reason };
    }
    InterfaceError::Open { interface: name.into(), reason }
}

unsafe extern "C" {
    /// libpcap's own version string ("libpcap version 1.10.3 (with TPACKET_V3)");
    /// the pcap crate does not wrap it. Linked through the pcap crate.
    fn pcap_lib_version() -> *const libc::c_char;
}

/// The version of the libpcap tcpka runs with, as `tcpdump --version` prints it.
pub fn libpcap_version() -> String {
    // SAFETY: pcap_lib_version takes nothing and returns a pointer to a
    // static NUL-terminated string that libpcap owns and never frees.
    let version = unsafe { std::ffi::CStr::from_ptr(pcap_lib_version()) };
    version.to_string_lossy().into_owned()
}
