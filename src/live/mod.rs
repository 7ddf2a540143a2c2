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
//! The loop ([`session`]) wakes at least every
//! [`READ_TIMEOUT_MS`](crate::source::interface::READ_TIMEOUT_MS) even when
//! nothing arrives, so silent connections are judged by the clock, and a
//! signal stops it at once. The event shapes are documented in `docs/live.md`.

pub mod events;
pub mod session;

use crate::pipeline::Judge;
use crate::report::ReportSink;
use crate::report::json::JsonSink;
use crate::report::table::TableSink;
use crate::source::PacketSource;
use crate::source::interface::{Capturing, InterfaceError, InterfaceSource, SNAPLEN};
use events::LiveEvents;
use session::LiveSession;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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

/// How a live capture ended.
#[derive(Debug, Default)]
pub struct LiveOutcome {
    /// The capture broke off (the interface went away, ...): exit status 2.
    pub capture_error: Option<String>,
}

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

/// Captures until `stop` is set (SIGINT/SIGTERM), the duration is over, or
/// the capture fails; streams events to stdout, then prints the final
/// report. An error writing standard output (a closed pipe) ends the capture,
/// but the `--write` file is still finished before it is returned.
pub fn run(opts: &LiveOptions, stop: &AtomicBool) -> Result<LiveOutcome, InterfaceError> {
    let source = InterfaceSource::open(&Capturing {
        interface: opts.interface.as_deref(),
        filter: opts.filter.as_deref(),
        promiscuous: opts.promiscuous,
        write: opts.write.as_deref(),
    })?;
    let interface = source.interface.clone();
    let link_name = source.link().name.clone();
    let mut spool = Spool::default();
    let mut sink: Box<dyn ReportSink + '_> =
        if opts.json { Box::new(JsonSink::new(&mut spool)) } else { Box::new(TableSink::new(io::stdout(), opts.all)) };
    let mut events = LiveEvents::new(io::stdout(), opts.json);

    crate::diag!(
        "tcpka: listening on {interface}, link-type {link_name}, snapshot length {SNAPLEN} bytes{}{} (Ctrl-C to stop)",
        opts.filter.as_deref().map_or(String::new(), |f| format!(", filter '{f}'")),
        opts.write.as_ref().map_or(String::new(), |p| format!(", writing {}", p.display())),
    );
    let write_name = opts.write.as_ref().map(|p| p.display().to_string());
    let now = source.now();
    let mut result = events.capture_started(now, &interface, &link_name, opts.filter.as_deref(), write_name);

    let mut judge = Judge::new(sink.as_mut(), BTreeSet::new()).streaming(&mut events);
    let mut session = LiveSession::new(source, &mut judge, &interface);
    let deadline = opts.duration.map(|d| Instant::now() + d);
    while result.is_ok()
        && !session.is_over()
        && !stop.load(Ordering::Relaxed)
        && deadline.is_none_or(|d| Instant::now() < d)
    {
        result = session.step();
    }
    let (stopped, ended) = session.finish();
    // The report is finished even when the stream failed, as the counts are.
    let result = result.and(ended).and(judge.finish().map(|_| ()));
    drop(sink);
    let result = result.and_then(|()| {
        if opts.json {
            let now = crate::time::Timestamp::now();
            spool.reader().and_then(|mut reader| events.final_report(now, &mut reader))
        } else {
            io::stdout().flush()
        }
    });
    crate::diag!("{} packets captured", stopped.packets);
    if let Some(c) = stopped.counters {
        crate::diag!("{} packets received by filter", c.received);
        crate::diag!("{} packets dropped by kernel", c.dropped);
        if c.if_dropped > 0 {
            crate::diag!("{} packets dropped by interface", c.if_dropped);
        }
        if c.dropped > 0 || c.if_dropped > 0 {
            crate::diag!(
                "tcpka: warning: packets were dropped: the verdicts may miss packets (a narrower -f filter helps)"
            );
        }
    }
    result?;
    Ok(LiveOutcome { capture_error: stopped.broken })
}

#[cfg(test)]
mod tests;
