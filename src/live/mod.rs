//! `tcpka live`: capture from a network interface and stream what happens.
//!
//! Packets go through the same [`Pipeline`](crate::pipeline::Pipeline) and
//! [`Judge`] as `tcpka analyze` (same decoding, flow table, verdicts and
//! report sinks); the judge also streams events ([`events`]) as the flow
//! table reports changes and the pipeline's clock rules apply:
//!
//! - `keepalive-train`: a side sent the first keepalive probe of a train;
//! - `probe-unanswered`: a probe got no answer within
//!   [`UNANSWERED_AFTER_SECS`](crate::pipeline::UNANSWERED_AFTER_SECS) (by
//!   the wall clock), or the prober sent the next probe of the train, or
//!   gave up with a RST;
//! - `connection-ended`: a RST or the second FIN was seen (judged at once,
//!   not after the flow table's linger time), or a prober fell silent after
//!   its unanswered probes for long enough, judged by the clock;
//! - `capture-started`, `capture-stats`, `final-report` for the capture itself.
//!
//! Three threads keep a busy interface from overflowing the kernel's ring:
//! the capture thread ([`relay`](crate::source::relay)) only reads packets
//! and writes the `--write` file; this one analyses them; the output thread
//! ([`output`]) writes standard output. Neither of the first two ever waits
//! for the next: what falls behind is counted and dropped, and said so.
//!
//! The loop ([`session`]) wakes at least every
//! [`TICK`](session::TICK) even when nothing arrives, so silent connections
//! are judged by the clock, and a signal stops it at once. The event shapes
//! are documented in `docs/live.md`.

pub mod events;
pub mod host;
pub mod metrics;
pub mod output;
pub mod select;
pub mod session;

use crate::event::{CaptureStats, ConnectionEvent, Endpoints, EventSink};
use crate::pipeline::Judge;
use crate::report::ReportSink;
use crate::report::json::JsonSink;
use crate::report::table::TableSink;
use crate::source::PacketSource;
use crate::source::interface::{Capturing, DEFAULT_BUFFER_MIB, DEFAULT_SNAPLEN, InterfaceError, InterfaceSource};
use crate::source::relay::RelaySource;
use crate::source::savefile::Savefile;
use crate::time::Timestamp;
use crate::verdict::Selector;
use events::{CaptureStarted, LiveEvents};
use host::{Host, HostNote, SocketOwner};
use metrics::Metrics;
use output::Output;
use rustc_hash::FxHashMap;
use select::EventSelection;
use session::LiveSession;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What `tcpka live` was asked to do.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// None: the interface libpcap picks by default (as tcpdump does).
    pub interface: Option<String>,
    /// BPF filter, installed in the kernel.
    pub filter: Option<String>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Save every captured packet to this pcap file.
    pub write: Option<PathBuf>,
    /// Write the final report to this file instead of standard output.
    pub report: Option<PathBuf>,
    /// NDJSON events and a final JSON report instead of human lines and tables.
    pub json: bool,
    /// Final table: every connection, not only the abnormal ones.
    pub all: bool,
    /// Put the interface in promiscuous mode (tcpdump's default).
    pub promiscuous: bool,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// Size of the kernel's capture ring, in MiB.
    pub buffer_mib: u32,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics.
    pub metrics: Option<String>,
    /// Which connection events the stream shows.
    pub events: EventSelection,
    /// The final report lists only connections with these endings (`--only`,
    /// as `tcpka analyze` takes it); its totals still count every one.
    pub only: Vec<Selector>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            interface: None,
            filter: None,
            duration: None,
            write: None,
            report: None,
            json: false,
            all: false,
            promiscuous: true,
            snaplen: DEFAULT_SNAPLEN,
            buffer_mib: DEFAULT_BUFFER_MIB,
            metrics: None,
            events: EventSelection::default(),
            only: Vec::new(),
        }
    }
}

/// How a live capture ended.
#[derive(Debug, Default)]
pub struct LiveOutcome {
    /// The capture broke off (the interface went away, the `--write` file
    /// could not be written, ...): exit status 2.
    pub capture_error: Option<String>,
}

/// How long after a stop the capture thread has to hand over its last
/// packets before the report is made without them.
const STOP_GRACE: Duration = Duration::from_millis(500);
/// How often the metrics take the capture's counters.
const METRICS_EVERY: Duration = Duration::from_secs(1);

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

/// The sinks of the live event stream: the lines on standard output, and
/// the metrics.
struct LiveSinks<W: Write> {
    events: LiveEvents<W>,
    /// Which connection events `events` gets (the metrics get all).
    selection: EventSelection,
    metrics: Option<Arc<Metrics>>,
    /// Events the output dropped so far.
    events_dropped: Arc<AtomicU64>,
    /// The host tcpka runs on, for probers that are this host.
    host: Option<Host>,
    /// The probing sockets of this host's trains, by connection.
    owners: FxHashMap<u64, SocketOwner>,
}

impl<W: Write> LiveSinks<W> {
    /// What to say of this host on `event`, when its prober is this host:
    /// at a train, the socket and its process (kept for the end); at a
    /// keepalive kill, also the sysctls and whose settings these were.
    fn host_note(&mut self, on: Endpoints, event: &ConnectionEvent<'_>) -> Option<HostNote> {
        let host = self.host.as_mut()?;
        match event {
            ConnectionEvent::KeepaliveTrain(t) if host.is_local(t.prober.ip()) => {
                let socket = host.socket(t.prober, t.peer);
                if let Some(s) = &socket {
                    self.owners.insert(on.id, s.clone());
                }
                Some(HostNote { socket, ..HostNote::default() })
            }
            ConnectionEvent::ConnectionEnded(e) => {
                let socket = self.owners.remove(&on.id);
                let report = e.report;
                let gave_up =
                    report.keepalive.iter().find(|k| k.facts.gave_up && Some(&k.prober) == report.ended_by.as_ref())?;
                let prober: std::net::SocketAddr = gave_up.prober.parse().ok()?;
                (e.end_reason == crate::verdict::EndReason::KeepaliveTimeout && host.is_local(prober.ip()))
                    .then(|| host.settings_note(gave_up, socket))
            }
            _ => None,
        }
    }
}

impl<W: Write> EventSink for LiveSinks<W> {
    fn connection_event(&mut self, time: Timestamp, on: Endpoints, event: ConnectionEvent<'_>) -> io::Result<()> {
        if let (Some(metrics), ConnectionEvent::ConnectionEnded(ended)) = (&self.metrics, &event) {
            metrics.connection_ended(ended);
        }
        let note = self.host_note(on, &event);
        if !self.selection.wants(&event) {
            return Ok(());
        }
        self.events.connection_event_noted(time, on, event, note.as_ref())
    }

    fn capture_stats(&mut self, time: Timestamp, stats: &CaptureStats) -> io::Result<()> {
        let stats = CaptureStats { events_dropped: self.events_dropped.load(Ordering::Relaxed), ..*stats };
        self.events.capture_stats(time, &stats)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.events.finish()
    }
}

/// Captures until `stop` is set (SIGINT/SIGTERM), the duration is over, or
/// the capture fails; streams events to stdout, then writes the final
/// report (to `--report FILE`, or standard output). An error writing
/// standard output (a closed pipe) ends the capture, but the `--write`
/// file and the `--report` file are still finished before it is returned.
pub fn run(opts: &LiveOptions, stop: &AtomicBool) -> Result<LiveOutcome, InterfaceError> {
    let source = InterfaceSource::open(&Capturing {
        interface: opts.interface.as_deref(),
        filter: opts.filter.as_deref(),
        promiscuous: opts.promiscuous,
        snaplen: opts.snaplen,
        buffer_mib: opts.buffer_mib,
    })?;
    let interface = source.interface.clone();
    let link_name = source.link().name.clone();
    let snaplen = source.snaplen();
    let cannot_write = |path: &PathBuf, e: io::Error| InterfaceError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = match &opts.write {
        Some(path) => Some(Savefile::create(path, source.linktype(), snaplen).map_err(|e| cannot_write(path, e))?),
        None => None,
    };
    // Created now, so that a path that cannot be written fails before the capture.
    let mut report_file = match &opts.report {
        Some(path) => Some((File::create(path).map_err(|e| cannot_write(path, e))?, path)),
        None => None,
    };
    let metrics = match &opts.metrics {
        Some(addr) => {
            let metrics = Metrics::new();
            let at = metrics::serve(addr, Arc::clone(&metrics))
                .map_err(|reason| InterfaceError::Io(io::Error::other(reason)))?;
            crate::diag!("tcpka: serving Prometheus metrics at http://{at}/metrics");
            Some(metrics)
        }
        None => None,
    };
    let source = RelaySource::spawn(source, file)?;
    let mut spool = Spool::default();
    let mut sink: Box<dyn ReportSink + '_> =
        // With --only, the table lists what was asked for, abnormal or not (as analyze's).
        if opts.json {
            Box::new(JsonSink::new(&mut spool))
        } else {
            Box::new(TableSink::new(&mut spool, opts.all || !opts.only.is_empty()))
        };
    let output = Output::spawn(io::stdout())?;
    let events_dropped = output.events_dropped_counter();
    let mut sinks = LiveSinks {
        events: LiveEvents::new(output, opts.json),
        selection: opts.events.clone(),
        metrics: metrics.clone(),
        events_dropped: Arc::clone(&events_dropped),
        host: Some(Host::here()),
        owners: FxHashMap::default(),
    };

    crate::diag!(
        "tcpka: listening on {interface}, link-type {link_name}, snapshot length {snaplen} bytes, buffer {} MiB{}{} (Ctrl-C to stop)",
        opts.buffer_mib,
        opts.filter.as_deref().map_or(String::new(), |f| format!(", filter '{f}'")),
        opts.write.as_ref().map_or(String::new(), |p| format!(", writing {}", p.display())),
    );
    let started = CaptureStarted {
        interface: &interface,
        link_name: &link_name,
        filter: opts.filter.as_deref(),
        snaplen,
        buffer_mib: opts.buffer_mib,
        write: opts.write.as_deref(),
        report: opts.report.as_deref(),
    };
    let mut result = sinks.events.capture_started(source.now(), &started);

    let mut judge = Judge::new(sink.as_mut(), BTreeSet::new()).only(opts.only.clone()).streaming(&mut sinks);
    let mut session = LiveSession::new(source, &mut judge, &interface);
    let deadline = opts.duration.map(|d| Instant::now() + d);
    let mut stopped_at: Option<Instant> = None;
    let mut next_metrics = Instant::now();
    while result.is_ok() && !session.is_over() {
        if let Some(m) = &metrics
            && Instant::now() >= next_metrics
        {
            next_metrics = Instant::now() + METRICS_EVERY;
            if let (Some(c), analysed) = session.counters() {
                m.capture(c, analysed, events_dropped.load(Ordering::Relaxed));
            }
        }
        if stopped_at.is_none() && (stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d)) {
            session.stop();
            stopped_at = Some(Instant::now());
        }
        if stopped_at.is_some_and(|t| t.elapsed() > STOP_GRACE) {
            break;
        }
        result = session.step();
    }
    let (stopped, ended) = session.finish();
    // The report is finished even when the stream failed, as the counts are.
    let result = result.and(ended).and(judge.finish().map(|_| ()));
    drop(sink);
    crate::diag!("{} packets captured", stopped.packets);
    if let Some(c) = stopped.counters {
        crate::diag!("{} packets received by filter", c.received);
        crate::diag!("{} packets dropped by kernel", c.dropped);
        if c.if_dropped > 0 {
            crate::diag!("{} packets dropped by interface", c.if_dropped);
        }
        if c.not_analysed > 0 {
            crate::diag!("{} packets not analysed (the analysis fell behind)", c.not_analysed);
        }
        if c.dropped > 0 || c.if_dropped > 0 || c.not_analysed > 0 {
            crate::diag!(
                "tcpka: warning: packets were lost: the verdicts may miss packets (a narrower -f filter, or a larger --buffer-size, helps)"
            );
        }
    }
    let mut output = sinks.events;
    let dropped = output.writer().events_dropped();
    if dropped > 0 {
        crate::diag!("{dropped} events dropped (standard output did not keep up)");
    }
    // The final report, to its file, or after the events on standard output.
    let report = match report_file.as_mut() {
        Some((file, path)) => spool
            .reader()
            .and_then(|mut r| io::copy(&mut r, file).map(|_| ()))
            .and_then(|()| file.flush())
            .map_err(|e| io::Error::new(e.kind(), format!("writing the report to {}: {e}", path.display()))),
        None => Ok(()),
    };
    output.writer().lossless();
    let result = result.and_then(|()| match report_file {
        Some(_) => Ok(()),
        None if opts.json => {
            let now = Timestamp::now();
            spool.reader().and_then(|mut reader| output.final_report(now, &mut reader))
        }
        None => spool.reader().and_then(|mut r| io::copy(&mut r, output.writer()).map(|_| ())),
    });
    let result = match result.and_then(|()| output.into_writer().finish()) {
        // The report is in its file: only events were not delivered.
        Err(e) if e.kind() == io::ErrorKind::TimedOut && opts.report.is_some() => {
            crate::diag!("tcpka: warning: {e}: the last events were not delivered");
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(io::Error::new(
            e.kind(),
            format!("{e}: the final report was not delivered (--report FILE writes it to a file)"),
        )),
        other => other,
    };
    report?;
    result?;
    Ok(LiveOutcome { capture_error: stopped.broken })
}

#[cfg(test)]
mod tests;
