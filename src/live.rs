//! `tcpka live`: capture from a network interface and stream what happens.
//!
//! Packets go through the same [`Pipeline`] and [`Judge`] as `tcpka analyze`
//! (same decoding, flow table, verdicts and report sinks); this module only
//! adds the capture loop and a stream of events:
//!
//! - `keepalive-train`: a side sent the first keepalive probe of a train;
//! - `probe-unanswered`: a probe got no answer within [`UNANSWERED_AFTER_SECS`]
//!   (by the wall clock), or the prober sent the next probe of the train, or
//!   gave up with a RST;
//! - `connection-ended`: a RST or the second FIN was seen (judged at once,
//!   not after the flow table's linger time), or a prober fell silent after
//!   its unanswered probes for long enough, judged by the clock;
//! - `capture-started`, `capture-stats`, `final-report` for the capture itself.
//!
//! The loop wakes at least every [`READ_TIMEOUT_MS`] even when nothing
//! arrives (the capture is non-blocking and the loop polls its descriptor:
//! libpcap's own read timeout does not make a read return on an idle Linux
//! interface), so silent connections are judged by the clock, and a signal
//! stops it at once.
//! The event shapes are documented in `docs/live.md`.

use crate::decode::{LinkKind, Segment};
use crate::flow::{Connection, FlowTable, PacketRef, Side};
use crate::pipeline::{Judge, Pipeline};
use crate::report::json::JsonSink;
use crate::report::table::TableSink;
use crate::report::{ConnectionReport, ReportSink, endpoint, round6};
use crate::time::Timestamp;
use crate::verdict::{EndReason, Verdict, judge};
use pcap::{Active, Capture, Device, Precision};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// The capture's read timeout: the loop wakes up at least this often.
pub const READ_TIMEOUT_MS: i32 = 250;
/// Bytes kept of each packet (as tcpdump's default).
pub const SNAPLEN: i32 = 262_144;
/// A probe with no answer for this long (wall clock) is reported unanswered.
pub const UNANSWERED_AFTER_SECS: f64 = 1.0;
/// A connection whose prober's probes are unanswered is judged by the clock
/// (has it given up, silently?) once it has been quiet this long.
const SILENT_JUDGE_AFTER_SECS: f64 = 3.0;
/// How often the capture's drop counters are checked.
const STATS_EVERY: Duration = Duration::from_secs(5);
/// How often the `--write` file is flushed to disk.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// What `tcpka live` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct LiveOptions {
    /// None: the interface libpcap picks by default (as tcpdump does).
    pub interface: Option<String>,
    /// BPF filter, installed in the kernel.
    pub filter: Option<String>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Save every captured packet to this pcap file.
    pub write: Option<PathBuf>,
    /// NDJSON events and a final JSON report instead of human lines and tables.
    pub json: bool,
    /// Final table: every connection, not only the abnormal ones.
    pub all: bool,
    /// Put the interface in promiscuous mode (tcpdump's default).
    pub promiscuous: bool,
}

/// Why a live capture could not start (or went wrong). All exit with status 2.
#[derive(Debug, Error)]
pub enum LiveError {
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

/// How a live capture ended.
#[derive(Debug, Default)]
pub struct LiveOutcome {
    /// The capture broke off (the interface went away, ...): exit status 2.
    pub capture_error: Option<String>,
}

/// Parses `30s`, `5m`, `1h`, `250ms` or plain seconds (`90`, `1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 =
        num.parse().map_err(|_| format!("'{s}' is not a duration (expected e.g. 30s, 5m, 1h or plain seconds)"))?;
    let factor = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit '{other}' in '{s}' (use ms, s, m or h)")),
    };
    let secs = value * factor;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("'{s}': the duration must be more than zero"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Sets the returned flag on SIGINT or SIGTERM; a second SIGINT/SIGTERM exits at once (status 130/143).
pub fn stop_on_signals() -> io::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag before this signal sets it.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
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
pub fn list_interfaces(out: &mut dyn Write, json: bool) -> Result<(), LiveError> {
    let devices = Device::list().map_err(|e| LiveError::List(e.to_string()))?;
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
fn open_error(name: &str, e: pcap::Error) -> LiveError {
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
        return LiveError::NoSuchInterface { interface: name.into(), reason, available };
    }
    if is_permission_problem(&reason) {
        return LiveError::NoPermission { interface: name.into(), reason };
    }
    LiveError::Open { interface: name.into(), reason }
}

unsafe extern "C" {
    fn pcap_get_tstamp_precision(p: *mut std::ffi::c_void) -> std::ffi::c_int;
}

/// An open live capture.
struct LiveCapture {
    interface: String,
    capture: Capture<Active>,
    link: LinkKind,
    link_name: String,
    /// libpcap gives nanoseconds in `tv_usec` (else microseconds).
    nanos: bool,
}

fn open_capture(opts: &LiveOptions) -> Result<LiveCapture, LiveError> {
    let interface = match &opts.interface {
        Some(name) => name.clone(),
        None => match Device::lookup() {
            Ok(Some(d)) => d.name,
            Ok(None) => return Err(LiveError::NoDefaultInterface { reason: String::new() }),
            Err(e) => return Err(LiveError::NoDefaultInterface { reason: format!(" ({})", pcap_message(&e)) }),
        },
    };
    let inactive = Capture::from_device(interface.as_str()).map_err(|e| open_error(&interface, e))?;
    // libpcap cannot put the "any" pseudo-device in promiscuous mode, and
    // reports that as a warning, which the pcap crate treats as a failure.
    let promiscuous = opts.promiscuous && interface != "any";
    let mut capture = inactive
        .snaplen(SNAPLEN)
        .immediate_mode(true)
        .timeout(READ_TIMEOUT_MS)
        .precision(Precision::Nano)
        .promisc(promiscuous)
        .open()
        .map_err(|e| open_error(&interface, e))?;
    if let Some(expr) = &opts.filter {
        capture
            .filter(expr, true)
            .map_err(|e| LiveError::BadFilter { filter: expr.clone(), reason: pcap_message(&e) })?;
    }
    // SAFETY: the handle is live for as long as `capture`; the call only reads it.
    let nanos = unsafe { pcap_get_tstamp_precision(capture.as_ptr().cast()) } == 1;
    let dlt = capture.get_datalink();
    let link_name = dlt.get_name().unwrap_or_else(|_| format!("DLT_{}", dlt.0));
    let Some(link) = LinkKind::from_dlt(dlt.0) else {
        return Err(LiveError::UnsupportedLink { interface, dlt: dlt.0, name: link_name });
    };
    Ok(LiveCapture { interface, capture, link, link_name, nanos })
}

// ------------------------------------------------------------------ events

fn wall_clock() -> Timestamp {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp(d.as_nanos() as i64)
}

/// Local time of day for human lines, as tcpdump prints it.
fn clock_time(t: Timestamp) -> String {
    let secs = t.0.div_euclid(1_000_000_000);
    let nanos = t.0.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(utc) => utc.with_timezone(&chrono::Local).format("%H:%M:%S%.6f").to_string(),
        None => t.to_rfc3339(),
    }
}

/// One NDJSON line: the fields every event has, then its own.
#[derive(Serialize)]
struct Event<'a, B: Serialize> {
    event: &'a str,
    time: String,
    client: Option<String>,
    server: Option<String>,
    #[serde(flatten)]
    body: B,
}

#[derive(Serialize)]
struct CaptureStarted<'a> {
    interface: &'a str,
    link_type: &'a str,
    filter: Option<&'a str>,
    snaplen: i32,
    write: Option<String>,
}

#[derive(Serialize)]
struct TrainStarted {
    prober: String,
    prober_role: &'static str,
    first_probe_frame: u64,
    /// Last packet the prober received → first probe (s); null when not seen.
    idle_observed_s: Option<f64>,
    probe_payload_bytes: u8,
}

#[derive(Serialize)]
struct ProbeUnanswered {
    prober: String,
    prober_role: &'static str,
    /// 1-based number of the probe within its train.
    probe: u32,
    probe_frame: Option<u64>,
    probe_time: Option<String>,
    /// "timeout" (no answer within 1 s), "next-probe" (the prober sent the
    /// next probe of the train) or "prober-reset" (the prober gave up with a RST).
    confirmed_by: &'static str,
    /// From the probe to the moment it was known unanswered (s).
    waited_s: Option<f64>,
}

#[derive(Serialize)]
struct ConnectionEnded<'a> {
    end_reason: EndReason,
    ended_by: Option<&'a str>,
    /// "packet" (a RST or the second FIN), "clock" (a prober fell silent
    /// after unanswered probes) or "judged" (when the flow table handed it
    /// out: after its linger time, a reused 4-tuple, or when the capture stopped).
    detected_by: &'static str,
    /// True when a later judgment changed an earlier connection-ended.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    revised: bool,
    connection: &'a ConnectionReport,
}

#[derive(Serialize)]
struct CaptureStats {
    /// libpcap: packets received (that passed the filter).
    received: u32,
    /// libpcap: dropped by the kernel for lack of buffer space.
    dropped: u32,
    /// libpcap: dropped by the interface or its driver.
    if_dropped: u32,
    /// Packets tcpka read.
    packets: u64,
    /// Connections still held when the stats were taken.
    connections_open: usize,
    /// True for the last stats of the run.
    #[serde(rename = "final")]
    is_final: bool,
}

/// What has been announced about one connection, by its flow-table id.
#[derive(Default)]
struct Track {
    /// The first probe of the train last announced, per side.
    train: [Option<u64>; 2],
    /// Probes of that train announced as unanswered, per side.
    unanswered: [u32; 2],
    /// The verdict a connection-ended event gave.
    ended: Option<EndReason>,
}

/// Writes the event stream (human lines or NDJSON) to `out`.
pub struct LiveEvents<W: Write> {
    out: W,
    json: bool,
    capture: String,
    tracks: HashMap<u64, Track>,
    /// An error from inside the Judge's observer, reported at the next chance.
    error: Option<io::Error>,
}

impl<W: Write> LiveEvents<W> {
    pub fn new(out: W, json: bool, capture: &str) -> LiveEvents<W> {
        LiveEvents { out, json, capture: capture.into(), tracks: HashMap::new(), error: None }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn take_error(&mut self) -> io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }

    fn emit<B: Serialize>(
        &mut self,
        event: &str,
        time: Timestamp,
        conn: Option<&Connection>,
        body: B,
        human: impl FnOnce() -> String,
    ) -> io::Result<()> {
        if self.json {
            let e = Event {
                event,
                time: time.to_rfc3339(),
                client: conn.map(|c| endpoint(c.client())),
                server: conn.map(|c| endpoint(c.server())),
                body,
            };
            serde_json::to_writer(&mut self.out, &e)?;
            self.out.write_all(b"\n")?;
        } else {
            writeln!(self.out, "{} {:<17} {}", clock_time(time), event, human())?;
        }
        self.out.flush()
    }

    pub fn capture_started(
        &mut self,
        now: Timestamp,
        interface: &str,
        link_name: &str,
        filter: Option<&str>,
        write: Option<String>,
    ) -> io::Result<()> {
        if !self.json {
            return Ok(()); // the human "listening on" line goes to stderr
        }
        let body = CaptureStarted { interface, link_type: link_name, filter, snaplen: SNAPLEN, write };
        self.emit("capture-started", now, None, body, String::new)
    }

    /// Looks at the connection of a segment just fed to the pipeline.
    pub fn after_packet(&mut self, table: &FlowTable, seg: &Segment, at: PacketRef) -> io::Result<()> {
        let Some(conn) = table.connection_of(seg) else { return Ok(()) };
        let ends = (seg.flags.rst() || seg.flags.fin()) && conn.is_finished();
        if conn.sides.iter().all(|h| h.keepalive().probes_sent == 0) && !ends {
            return Ok(());
        }
        self.keepalive_events(conn, at.ts, seg.flags.rst().then_some(seg.src))?;
        if ends && self.tracks.get(&conn.id).is_none_or(|t| t.ended.is_none()) {
            let verdict = judge(conn, at.ts);
            let report = ConnectionReport::new(conn, &verdict, &self.capture);
            self.connection_ended(conn, &verdict, &report, at.ts, "packet", false)?;
        }
        Ok(())
    }

    /// The clock moved on: probes left unanswered, probers that fell silent.
    pub fn tick(&mut self, table: &FlowTable, now: Timestamp) -> io::Result<()> {
        for conn in table.connections() {
            let pending = conn.sides.iter().any(|h| h.keepalive().train.unanswered());
            if !pending {
                continue;
            }
            self.keepalive_events(conn, now, None)?;
            if self.tracks.get(&conn.id).is_some_and(|t| t.ended.is_some()) {
                continue;
            }
            // A prober has given up by silence only after several probe
            // intervals (of at least 1 s) without a packet: judge no sooner.
            let quiet_since = conn.last.ts;
            if now.secs_since(quiet_since) < SILENT_JUDGE_AFTER_SECS {
                continue;
            }
            let verdict = judge(conn, now);
            if verdict.reason() == EndReason::KeepaliveTimeout {
                let report = ConnectionReport::new(conn, &verdict, &self.capture);
                self.connection_ended(conn, &verdict, &report, now, "clock", false)?;
            }
        }
        Ok(())
    }

    /// The Judge concluded a connection (the Pipeline handed it out).
    pub fn concluded(&mut self, conn: &Connection, verdict: &Verdict, report: &ConnectionReport, now: Timestamp) {
        let track = self.tracks.remove(&conn.id);
        let result = match track.and_then(|t| t.ended) {
            Some(early) if early == verdict.reason() => Ok(()),
            // Judged at the stop with only the packets' times: the clock
            // that judged it earlier knew more.
            Some(_) if verdict.reason() == EndReason::Open => Ok(()),
            Some(_) => self.connection_ended(conn, verdict, report, now, "judged", true),
            // Still open when the capture stopped: only in the final report.
            None if verdict.reason() == EndReason::Open => Ok(()),
            None => {
                let time = verdict.end_packet().map_or(now, |p| p.ts);
                self.connection_ended(conn, verdict, report, time, "judged", false)
            }
        };
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }

    fn connection_ended(
        &mut self,
        conn: &Connection,
        verdict: &Verdict,
        report: &ConnectionReport,
        time: Timestamp,
        detected_by: &'static str,
        revised: bool,
    ) -> io::Result<()> {
        self.tracks.entry(conn.id).or_default().ended = Some(verdict.reason());
        let body = ConnectionEnded {
            end_reason: verdict.reason(),
            ended_by: report.ended_by.as_deref(),
            detected_by,
            revised,
            connection: report,
        };
        let human = || {
            let mut s = format!(
                "{} -> {}: {}{}",
                report.client,
                report.server,
                verdict.reason(),
                if revised { " (revised)" } else { "" }
            );
            let opts = textwrap::Options::new(100).initial_indent("    ").subsequent_indent("    ");
            s.push('\n');
            s.push_str(&textwrap::fill(&report.diagnosis, opts));
            s
        };
        self.emit("connection-ended", time, Some(conn), body, human)
    }

    /// Announces new keepalive trains and probes now known to be unanswered.
    /// `rst_from`: the segment just seen is a RST from this address.
    fn keepalive_events(
        &mut self,
        conn: &Connection,
        now: Timestamp,
        rst_from: Option<std::net::SocketAddr>,
    ) -> io::Result<()> {
        for side in [Side::Client, Side::Server] {
            let half = conn.side(side);
            let train = &half.keepalive().train;
            let Some(first) = train.probes.first() else { continue };
            let prober = endpoint(half.addr);
            let track = self.tracks.entry(conn.id).or_default();
            let i = side as usize;
            if track.train[i] != Some(first.at.frame) {
                track.train[i] = Some(first.at.frame);
                track.unanswered[i] = 0;
                let idle = train.idle_from.map(|f| round6(first.at.ts.secs_since(f.ts)));
                let body = TrainStarted {
                    prober: prober.clone(),
                    prober_role: side.name(),
                    first_probe_frame: first.at.frame,
                    idle_observed_s: idle,
                    probe_payload_bytes: first.len,
                };
                let peer = endpoint(conn.side(side.peer()).addr);
                let human = || {
                    let idle = idle.map_or(String::new(), |s| format!(" after {s:.3} s idle"));
                    format!("{prober} ({}) probes {peer}{idle} (frame {})", side.name(), first.at.frame)
                };
                self.emit("keepalive-train", first.at.ts, Some(conn), body, human)?;
            }
            // Probes 1..count-1 of a train are unanswered (a train only goes
            // on after an unanswered probe); the last one when its time is up,
            // or when the prober reset the connection after it.
            let last_unanswered = train.unanswered();
            let last = train.probes.last().copied().expect("non-empty train");
            let gave_up = last_unanswered && rst_from == Some(half.addr);
            let timed_out = last_unanswered && now.secs_since(last.at.ts) >= UNANSWERED_AFTER_SECS;
            let known = if gave_up || timed_out { train.count } else { train.count.saturating_sub(1) };
            let track = self.tracks.entry(conn.id).or_default();
            let from = track.unanswered[i] + 1;
            if known < from {
                continue;
            }
            track.unanswered[i] = known;
            for n in from..=known {
                // Probe n is kept when the train is short; the last one always.
                let probe = if n == train.count {
                    Some(last)
                } else if (n as usize) < train.probes.len() {
                    Some(train.probes[n as usize - 1])
                } else {
                    None
                };
                let (confirmed_by, at) = if n < train.count {
                    let next = if n as usize + 1 == train.count as usize {
                        Some(last)
                    } else {
                        train.probes.get(n as usize).copied()
                    };
                    ("next-probe", next.map_or(now, |p| p.at.ts))
                } else if gave_up {
                    ("prober-reset", now)
                } else {
                    ("timeout", now)
                };
                let body = ProbeUnanswered {
                    prober: prober.clone(),
                    prober_role: side.name(),
                    probe: n,
                    probe_frame: probe.map(|p| p.at.frame),
                    probe_time: probe.map(|p| p.at.ts.to_rfc3339()),
                    confirmed_by,
                    waited_s: probe.map(|p| round6(at.secs_since(p.at.ts))),
                };
                let human = || {
                    let frame = probe.map_or(String::new(), |p| format!(" (frame {})", p.at.frame));
                    let waited = probe.map_or(String::new(), |p| format!(" after {:.3} s", at.secs_since(p.at.ts)));
                    let why = match confirmed_by {
                        "next-probe" => "the next probe followed",
                        "prober-reset" => "the prober gave up with a RST",
                        _ => "no answer",
                    };
                    format!("{prober} ({}) probe {n}{frame}: {why}{waited}", side.name())
                };
                self.emit("probe-unanswered", at, Some(conn), body, human)?;
            }
        }
        Ok(())
    }

    fn capture_stats(&mut self, now: Timestamp, stats: CaptureStats) -> io::Result<()> {
        if !self.json {
            return Ok(()); // human: printed on stderr by the caller
        }
        self.emit("capture-stats", now, None, stats, String::new)
    }

    /// `{"event":"final-report",...,"report":DOC}`: DOC is the JSON document
    /// `tcpka analyze --format json` prints, on one line.
    fn final_report(&mut self, now: Timestamp, doc: &mut dyn Read) -> io::Result<()> {
        #[derive(Serialize)]
        struct Head<'a> {
            event: &'a str,
            time: String,
            client: Option<String>,
            server: Option<String>,
        }
        let head =
            serde_json::to_string(&Head { event: "final-report", time: now.to_rfc3339(), client: None, server: None })?;
        self.out.write_all(&head.as_bytes()[..head.len() - 1])?;
        self.out.write_all(b",\"report\":")?;
        // The document's only raw newlines are between its parts (JSON
        // strings escape theirs), so dropping them keeps it valid.
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = doc.read(&mut buf)?;
            if n == 0 {
                break;
            }
            for part in buf[..n].split(|&b| b == b'\n') {
                self.out.write_all(part)?;
            }
        }
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }
}

// ------------------------------------------------------------------ spool

/// Holds the final JSON document while the capture runs: in memory, then
/// in an unlinked temporary file once it grows past [`Spool::IN_MEMORY`].
#[derive(Default)]
struct Spool {
    memory: Vec<u8>,
    file: Option<File>,
}

impl Spool {
    const IN_MEMORY: usize = 8 << 20;

    fn reader(&mut self) -> io::Result<Box<dyn Read + '_>> {
        match &mut self.file {
            Some(f) => {
                f.flush()?;
                f.rewind()?;
                Ok(Box::new(io::BufReader::new(f)))
            }
            None => Ok(Box::new(&self.memory[..])),
        }
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.file.is_none() && self.memory.len() + buf.len() > Spool::IN_MEMORY {
            let path = std::env::temp_dir().join(format!("tcpka-live-{}.json", std::process::id()));
            let mut f = File::options().read(true).write(true).create_new(true).open(&path)?;
            let _ = std::fs::remove_file(&path);
            f.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(f);
        }
        match &mut self.file {
            Some(f) => f.write(buf),
            None => {
                self.memory.extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

/// A [`Spool`] the JSON sink writes to and the caller reads afterwards.
#[derive(Clone, Default)]
struct SharedSpool(Rc<RefCell<Spool>>);

impl Write for SharedSpool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

// ------------------------------------------------------------------ the loop

/// Packets read in a row before the clock is looked at again.
const BATCH: usize = 1024;

/// Waits until `fd` is readable, a signal arrives, or `timeout` is over.
fn wait_readable(fd: std::os::fd::RawFd, timeout: Duration) -> io::Result<()> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
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

fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Captures until `stop` is set (SIGINT/SIGTERM), the duration is over, or
/// the capture fails; streams events to stdout, then prints the final report.
pub fn run(opts: &LiveOptions, stop: &AtomicBool) -> Result<LiveOutcome, LiveError> {
    let LiveCapture { interface, capture, link, link_name, nanos } = open_capture(opts)?;
    // libpcap's read timeout does not make a read return when nothing
    // arrives (Linux, libpcap 1.10: it polls again), so the capture is
    // non-blocking and the loop waits on its descriptor itself.
    let mut capture = capture
        .setnonblock()
        .map_err(|e| LiveError::Open { interface: interface.clone(), reason: pcap_message(&e) })?;
    let fd = capture.as_raw_fd();
    let mut savefile = match &opts.write {
        Some(path) => Some(
            capture
                .savefile(path)
                .map_err(|e| LiveError::Write { path: path.display().to_string(), reason: pcap_message(&e) })?,
        ),
        None => None,
    };
    let capture_name = format!("live:{interface}");

    let spool = SharedSpool::default();
    let mut sink: Box<dyn ReportSink> = if opts.json {
        Box::new(JsonSink::new(spool.clone()))
    } else {
        Box::new(TableSink::new(io::stdout(), opts.all))
    };
    let events = Rc::new(RefCell::new(LiveEvents::new(io::stdout(), opts.json, &capture_name)));
    let mut judge = Judge::new(sink.as_mut(), BTreeSet::new());
    {
        let events = Rc::clone(&events);
        judge.set_observer(move |conn, verdict, report| {
            events.borrow_mut().concluded(conn, verdict, report, wall_clock());
        });
    }
    let mut pipeline = Pipeline::new(&mut judge, &capture_name, Some("live"), link, &link_name);

    eprintln!(
        "tcpka: listening on {interface}, link-type {link_name}, snapshot length {SNAPLEN} bytes{}{} (Ctrl-C to stop)",
        opts.filter.as_deref().map_or(String::new(), |f| format!(", filter '{f}'")),
        opts.write.as_ref().map_or(String::new(), |p| format!(", writing {}", p.display())),
    );
    let write_name = opts.write.as_ref().map(|p| p.display().to_string());
    let started =
        events.borrow_mut().capture_started(wall_clock(), &interface, &link_name, opts.filter.as_deref(), write_name);
    let mut quiet_exit = false; // standard output went away
    let fail = |e: io::Error, quiet: &mut bool| -> Result<(), LiveError> {
        if is_broken_pipe(&e) {
            *quiet = true;
            Ok(())
        } else {
            Err(LiveError::Io(e))
        }
    };
    if let Err(e) = started {
        fail(e, &mut quiet_exit)?;
    }

    let deadline = opts.duration.map(|d| Instant::now() + d);
    let tick = Duration::from_millis(READ_TIMEOUT_MS as u64);
    let mut next_tick = Instant::now() + tick;
    let mut next_flush = Instant::now() + FLUSH_EVERY;
    let mut next_stats = Instant::now() + STATS_EVERY;
    let mut dropped_reported = 0u32;
    let mut capture_error = None;
    while !quiet_exit && !stop.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        let step: io::Result<()> = (|| {
            // Everything the kernel has (in batches, so the clock is still
            // looked at under load), else wait for packets until the next tick.
            let mut read = 0;
            while read < BATCH {
                match capture.next_packet() {
                    Ok(packet) => {
                        read += 1;
                        let h = packet.header;
                        // timeval's field types differ between platforms.
                        #[allow(clippy::useless_conversion)]
                        let (secs, usec) = (i64::from(h.ts.tv_sec), i64::from(h.ts.tv_usec));
                        let sub = if nanos { usec } else { usec * 1000 };
                        let ts = Timestamp::from_timeval(secs, sub);
                        if let Some(f) = savefile.as_mut() {
                            f.write(&packet);
                        }
                        let seg = pipeline.packet(ts, packet.data)?;
                        let mut ev = events.borrow_mut();
                        ev.take_error()?;
                        if let Some((seg, _class)) = seg {
                            ev.after_packet(pipeline.flow_table(), &seg, PacketRef { frame: pipeline.frames(), ts })?;
                        }
                    }
                    Err(pcap::Error::TimeoutExpired) => break, // nothing more for now
                    Err(e) => {
                        capture_error = Some(pcap_message(&e));
                        return Ok(());
                    }
                }
            }
            if read == 0 {
                let wait = next_tick.saturating_duration_since(Instant::now());
                wait_readable(fd, wait)?;
            }
            let now_i = Instant::now();
            if now_i >= next_tick {
                next_tick = now_i + tick;
                let now = wall_clock();
                pipeline.expire(now)?;
                let mut ev = events.borrow_mut();
                ev.take_error()?;
                ev.tick(pipeline.flow_table(), now)?;
            }
            if now_i >= next_flush {
                next_flush = now_i + FLUSH_EVERY;
                if let Some(f) = savefile.as_mut() {
                    f.flush().map_err(|e| io::Error::other(format!("writing the capture file: {e}")))?;
                }
            }
            if now_i >= next_stats {
                next_stats = now_i + STATS_EVERY;
                if let Ok(s) = capture.stats() {
                    let dropped = s.dropped.saturating_add(s.if_dropped);
                    if dropped > dropped_reported {
                        eprintln!(
                            "tcpka: warning: {} packets dropped so far ({} by the kernel, {} by the interface) of {} received: verdicts may miss packets",
                            dropped, s.dropped, s.if_dropped, s.received
                        );
                        dropped_reported = dropped;
                        let stats = CaptureStats {
                            received: s.received,
                            dropped: s.dropped,
                            if_dropped: s.if_dropped,
                            packets: pipeline.frames(),
                            connections_open: pipeline.flow_table().len(),
                            is_final: false,
                        };
                        events.borrow_mut().capture_stats(wall_clock(), stats)?;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = step {
            fail(e, &mut quiet_exit)?;
        }
        if capture_error.is_some() {
            break;
        }
    }

    // Stop: counts, the last connections, the final report.
    let stats = capture.stats().ok();
    if let Some(f) = savefile.as_mut()
        && let Err(e) = f.flush()
    {
        let msg = format!("writing {}: {e}", opts.write.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
        pipeline.warn(msg.clone());
        eprintln!("tcpka: {msg}");
    }
    drop(savefile);
    let packets = pipeline.frames();
    if let Some(s) = stats
        && (s.dropped > 0 || s.if_dropped > 0)
    {
        pipeline.warn(format!(
            "libpcap reports {} packets dropped by the kernel and {} by the interface (of {} received): the verdicts may miss packets",
            s.dropped, s.if_dropped, s.received
        ));
    }
    if let Some(e) = &capture_error {
        pipeline.set_error(format!("the capture on {interface} failed: {e}"));
    }
    let connections_open = pipeline.flow_table().len();
    let final_stats = stats.map(|s| CaptureStats {
        received: s.received,
        dropped: s.dropped,
        if_dropped: s.if_dropped,
        packets,
        connections_open,
        is_final: true,
    });
    let mut finished: io::Result<()> = match final_stats {
        Some(body) if !quiet_exit => events.borrow_mut().capture_stats(wall_clock(), body),
        _ => Ok(()),
    };
    // The pipeline and the judge are finished even when standard output
    // is gone, so the --write file and the counts are complete.
    finished = finished.and(pipeline.end()).and(events.borrow_mut().take_error());
    if !opts.json && !quiet_exit {
        // A blank line between the event lines and the final report.
        finished = finished.and(events.borrow_mut().out.write_all(b"\n"));
    }
    finished = finished.and(judge.finish().map(|_| ()));
    drop(sink);
    if finished.is_ok() && !quiet_exit {
        finished = if opts.json {
            let mut spool = spool.0.borrow_mut();
            spool.reader().and_then(|mut reader| events.borrow_mut().final_report(wall_clock(), &mut reader))
        } else {
            io::stdout().flush()
        };
    }
    eprintln!("{packets} packets captured");
    if let Some(s) = stats {
        eprintln!("{} packets received by filter", s.received);
        eprintln!("{} packets dropped by kernel", s.dropped);
        if s.if_dropped > 0 {
            eprintln!("{} packets dropped by interface", s.if_dropped);
        }
        if s.dropped > 0 || s.if_dropped > 0 {
            eprintln!(
                "tcpka: warning: packets were dropped: the verdicts may miss packets (a narrower -f filter helps)"
            );
        }
    }
    if let Err(e) = finished
        && !is_broken_pipe(&e)
    {
        return Err(LiveError::Io(e));
    }
    Ok(LiveOutcome { capture_error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("soon").is_err());
    }

    use crate::decode::tests::tcp_frame as frame;

    /// Feeds frames at their times, ticking the clock every 250 ms as the live loop does.
    fn run_events(frames: &[(f64, Vec<u8>)], until: f64) -> (Vec<serde_json::Value>, Vec<u8>) {
        let t0 = 1_700_000_000.0;
        let mut doc = Vec::new();
        let mut sink = JsonSink::new(&mut doc);
        let events = Rc::new(RefCell::new(LiveEvents::new(Vec::new(), true, "live:test")));
        {
            let mut judge = Judge::new(&mut sink, BTreeSet::new());
            let ev = Rc::clone(&events);
            judge.set_observer(move |c, v, r| ev.borrow_mut().concluded(c, v, r, Timestamp::default()));
            let mut p = Pipeline::new(&mut judge, "live:test", Some("live"), LinkKind::Ethernet, "EN10MB");
            let mut next = 0;
            let mut clock = 0.0;
            while clock <= until {
                while next < frames.len() && frames[next].0 <= clock {
                    let ts = Timestamp::from_secs_f64(t0 + frames[next].0);
                    let seg = p.packet(ts, &frames[next].1).unwrap();
                    if let Some((seg, _)) = seg {
                        let at = PacketRef { frame: p.frames(), ts };
                        events.borrow_mut().after_packet(p.flow_table(), &seg, at).unwrap();
                    }
                    next += 1;
                }
                let now = Timestamp::from_secs_f64(t0 + clock);
                p.expire(now).unwrap();
                events.borrow_mut().tick(p.flow_table(), now).unwrap();
                clock += 0.25;
            }
            p.end().unwrap();
            judge.finish().unwrap();
        }
        let out = Rc::try_unwrap(events).ok().unwrap().into_inner().into_inner();
        let lines = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (lines, doc)
    }

    const ACK: u8 = TcpFlags::ACK;

    #[test]
    fn streams_a_keepalive_kill_before_the_linger_time() {
        let mut frames = handshake_and_exchange();
        frames.extend([
            (2.01, frame(false, ACK, 5100, 1011, 0)),
            (3.02, frame(false, ACK, 5100, 1011, 0)),
            (4.03, frame(false, TcpFlags::RST | ACK, 5101, 1011, 0)),
        ]);
        let (events, _) = run_events(&frames, 6.0);
        let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["keepalive-train", "probe-unanswered", "probe-unanswered", "connection-ended"],
            "{events:#?}"
        );
        assert_eq!(events[0]["prober"], "10.0.0.2:7777");
        assert_eq!(events[0]["first_probe_frame"], 7);
        assert_eq!(events[0]["client"], "10.0.0.1:40000");
        assert_eq!(events[1]["probe"], 1);
        // Probe 2 came 1.01 s after probe 1, before the clock's tick at 1.24 s.
        assert_eq!(events[1]["confirmed_by"], "next-probe");
        assert_eq!(events[1]["waited_s"], 1.01);
        assert_eq!(events[2]["probe"], 2);
        assert_eq!(events[2]["confirmed_by"], "prober-reset");
        let end = &events[3];
        assert_eq!(end["end_reason"], "keepalive-timeout");
        assert_eq!(end["detected_by"], "packet");
        assert_eq!(end["time"], Timestamp::from_secs_f64(1_700_000_004.03).to_rfc3339());
        let ka = &end["connection"]["keepalive"][0];
        assert_eq!(ka["idle_s"], 2);
        assert_eq!(ka["interval_s"], 1);
        assert_eq!(ka["probes"], 2);
    }

    fn handshake_and_exchange() -> Vec<(f64, Vec<u8>)> {
        vec![
            (0.0, frame(true, TcpFlags::SYN, 1000, 0, 0)),
            (0.001, frame(false, TcpFlags::SYN | ACK, 5000, 1001, 0)),
            (0.002, frame(true, ACK, 1001, 5001, 0)),
            (0.003, frame(true, ACK, 1001, 5001, 10)),
            (0.004, frame(false, ACK, 5001, 1011, 100)),
            (0.005, frame(true, ACK, 1011, 5101, 0)),
        ]
    }

    #[test]
    fn the_clock_declares_probes_unanswered_and_silent_probers_gone() {
        let mut frames = handshake_and_exchange();
        frames.push((2.01, frame(false, ACK, 5100, 1011, 0)));
        frames.push((4.02, frame(false, ACK, 5100, 1011, 0)));
        let (events, doc) = run_events(&frames, 12.0);
        let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["keepalive-train", "probe-unanswered", "probe-unanswered", "connection-ended"],
            "{events:#?}"
        );
        // Probe 1: no answer at the first tick 1 s after it (3.25 s).
        assert_eq!(events[1]["confirmed_by"], "timeout");
        assert_eq!(events[1]["time"], Timestamp::from_secs_f64(1_700_000_003.25).to_rfc3339());
        assert_eq!(events[2]["probe"], 2);
        assert_eq!(events[2]["confirmed_by"], "timeout");
        // No RST: given up after 3 probe intervals of silence, by the clock.
        assert_eq!(events[3]["end_reason"], "keepalive-timeout");
        assert_eq!(events[3]["detected_by"], "clock");
        assert_eq!(events[3]["connection"]["keepalive"][0]["probes_bound"], "at-least");
        // The final report judges with the packets' times only, as analyze would.
        let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(doc["connections"][0]["end_reason"], "open");
    }

    #[test]
    fn a_close_is_streamed_once_and_open_connections_only_in_the_report() {
        let mut frames = vec![
            (0.0, frame(true, TcpFlags::SYN, 1000, 0, 0)),
            (0.001, frame(false, TcpFlags::SYN | ACK, 5000, 1001, 0)),
            (0.002, frame(true, ACK, 1001, 5001, 0)),
            (0.5, frame(true, TcpFlags::FIN | ACK, 1001, 5001, 0)),
            (0.501, frame(false, TcpFlags::FIN | ACK, 5001, 1002, 0)),
            (0.502, frame(true, ACK, 1002, 5002, 0)),
        ];
        // A second connection on another port that stays open.
        let mut other = frame(true, TcpFlags::SYN, 9000, 0, 0);
        other[34] = 0x9c; // source port 40000 → 39999 (0x9c3f)
        other[35] = 0x3f;
        frames.push((0.6, other));
        let (events, doc) = run_events(&frames, 12.0);
        let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["connection-ended"], "{events:#?}");
        assert_eq!(events[0]["end_reason"], "closed");
        let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(doc["summary"]["connections"], 2);
    }

    #[test]
    fn final_report_wraps_the_document_on_one_line() {
        let mut ev = LiveEvents::new(Vec::new(), true, "live:x");
        let doc = b"{\"tool\":\"tcpka\",\"connections\":[\n{\"a\":\"b\\nc\"}\n],\n\"summary\":{}}\n";
        ev.final_report(Timestamp::default(), &mut &doc[..]).unwrap();
        let out = String::from_utf8(ev.into_inner()).unwrap();
        assert_eq!(out.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["event"], "final-report");
        assert_eq!(v["report"]["connections"][0]["a"], "b\nc");
    }
}
