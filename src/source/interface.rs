//! The interface source: a live capture through libpcap, non-blocking, with
//! the open errors in terms a person can act on, libpcap's counters, and the
//! list of interfaces. [`relay`](super::relay) runs it on its own thread.

use crate::source::{Counters, Link, timestamp};
use crate::time::Timestamp;
use pcap::{Active, Capture, Device, Precision};
use serde::Serialize;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;
use thiserror::Error;

/// How long the kernel holds a block of captured packets before handing it
/// over when it is not full (`tp_retire_blk_tov` of a TPACKET_V3 ring, set
/// from libpcap's read timeout). Packets are delivered in blocks rather
/// than one wake-up each (immediate mode), which is what lets the ring keep
/// up with a busy interface; 100 ms keeps events prompt.
pub const BLOCK_TIMEOUT_MS: i32 = 100;

/// Default bytes kept of each packet. tcpka reads headers only (lengths
/// come from the IP header, `decode`): Ethernet with two VLAN tags and PPPoE
/// (30), IPv6 (40) and TCP with the most options (60) take 130, which
/// leaves 126 bytes for IPv6 extension headers or NFLOG's TLVs. As
/// `tcpdump -s 256`: more packets fit the kernel's ring than with
/// libpcap's default of 262144, which is what kept tcpdump from dropping.
pub const DEFAULT_SNAPLEN: u32 = 256;

/// Default size of the kernel's capture ring (libpcap's default is 2 MiB):
/// at the default snapshot length about 200,000 packets, a second of a
/// busy 10 Gbit/s server's small packets, while the capture thread is not scheduled.
pub const DEFAULT_BUFFER_MIB: u32 = 64;

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
#[derive(Clone, Copy, Debug)]
pub struct Capturing<'a> {
    /// None: the interface libpcap picks by default (as tcpdump does).
    pub interface: Option<&'a str>,
    /// BPF filter, installed in the kernel.
    pub filter: Option<&'a str>,
    /// Put the interface in promiscuous mode (tcpdump's default).
    pub promiscuous: bool,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// Size of the kernel's capture ring, in MiB.
    pub buffer_mib: u32,
}

impl Default for Capturing<'_> {
    fn default() -> Self {
        Capturing {
            interface: None,
            filter: None,
            promiscuous: false,
            snaplen: DEFAULT_SNAPLEN,
            buffer_mib: DEFAULT_BUFFER_MIB,
        }
    }
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
    /// The LINKTYPE_ value of the link, for the `--write` file.
    linktype: u32,
    /// libpcap gives nanoseconds in `tv_usec` (else microseconds).
    nanos: bool,
    snaplen: u32,
}

/// What reading the interface gave.
pub enum Read<'a> {
    /// A packet: its time, its length on the wire, and the bytes kept.
    Packet { ts: Timestamp, orig_len: u32, data: &'a [u8] },
    /// Nothing ready now.
    Idle,
    /// The capture broke off (the interface went away): libpcap's message.
    Broken(String),
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
        let snaplen = what.snaplen.clamp(1, super::reader::MAXIMUM_SNAPLEN);
        let buffer = what.buffer_mib.clamp(1, 2047).saturating_mul(1 << 20);
        // Not immediate mode: with it every packet wakes the reader and the
        // ring's slots, each as big as the snapshot length, fill at once
        // under load (tcpdump --immediate-mode drops there too).
        let mut capture: Capture<Active> = inactive
            .snaplen(snaplen as i32)
            .buffer_size(buffer as i32)
            .timeout(BLOCK_TIMEOUT_MS)
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
        let dlt = capture.get_datalink();
        let link = Link::of(dlt).map_err(|u| InterfaceError::UnsupportedLink {
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
        let linktype = super::dlt_to_linktype(dlt.0) as u32;
        Ok(InterfaceSource { interface, capture, fd, link, linktype, nanos, snaplen })
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The LINKTYPE_ value files give this link.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// The snapshot length in force.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// The next packet, without waiting.
    pub fn read(&mut self) -> Read<'_> {
        match self.capture.next_packet() {
            Ok(packet) => Read::Packet {
                ts: timestamp(&packet.header.ts, self.nanos),
                orig_len: packet.header.len,
                data: packet.data,
            },
            Err(pcap::Error::TimeoutExpired) => Read::Idle,
            Err(e) => Read::Broken(pcap_message(&e)),
        }
    }

    /// Waits until the capture's descriptor is readable (or reports an
    /// error: the next [`read`](Self::read) tells it), a signal arrives, or
    /// `timeout` is over.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        let mut pfd = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().clamp(1, 1000) as libc::c_int;
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

    /// libpcap's counters (`pcap_stats`).
    pub fn counters(&mut self) -> Option<Counters> {
        let s = self.capture.stats().ok()?;
        Some(Counters { received: s.received, dropped: s.dropped, if_dropped: s.if_dropped, ..Default::default() })
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

/// Width of the interface table: it fits a terminal's 80 columns.
const LIST_WIDTH: u16 = 80;

/// A table of the interfaces, as libpcap lists them (and as `-i` takes
/// them): name, flags (the default one marked), addresses one per line,
/// description; no borders, so that each row starts with the name.
fn interface_lines(devices: &[Device], default: Option<&str>) -> String {
    use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width, presets::NOTHING};
    let mut table = Table::new();
    table.load_style(NOTHING).set_content_arrangement(ContentArrangement::Dynamic).set_width(LIST_WIDTH);
    table.set_header(["interface", "flags", "addresses", "description"]);
    // "up, running, loopback" on one line: a row's first line has the
    // name, its flags and its first address.
    // Names and addresses are never cut either; descriptions wrap.
    let widest = |cells: &mut dyn Iterator<Item = usize>| cells.max().unwrap_or(0) as u16 + 2;
    let name = widest(&mut devices.iter().map(|d| d.name.len()));
    let address = widest(&mut devices.iter().flat_map(addresses).map(|a| a.len()));
    for (column, width) in [(0, name), (1, 23), (2, address)] {
        if let Some(c) = table.column_mut(column) {
            c.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(width)));
        }
    }
    for d in devices {
        let mut flags = flag_words(d);
        if Some(d.name.as_str()) == default {
            flags.push("default");
        }
        let description = d.desc.as_deref().unwrap_or_default();
        table.add_row([d.name.as_str(), &flags.join(", "), &addresses(d).join("\n"), description]);
    }
    let mut out = String::new();
    for line in table.to_string().lines() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interface_table_fits_80_columns_and_rows_start_with_the_name() {
        let devices = Device::list().expect("libpcap lists interfaces");
        let other = devices.iter().find(|d| d.name != "lo").map(|d| d.name.as_str());
        let text = interface_lines(&devices, other);
        assert!(text.lines().all(|l| l.chars().count() <= usize::from(LIST_WIDTH)), "{text}");
        let lo = text.lines().find(|l| l.trim_start().starts_with("lo ")).unwrap_or_else(|| panic!("{text}"));
        assert!(lo.contains("up, running, loopback") && lo.contains("127.0.0.1"), "{text}");
        assert_eq!(text.matches("default").count(), usize::from(other.is_some()), "the default is marked: {text}");
        assert!(text.lines().next().unwrap().trim_start().starts_with("interface"), "{text}");
    }
}
