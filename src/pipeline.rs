//! The one path every packet takes, from a file or a live interface:
//! decode → flow table → (when a connection is done) verdict → report.

use crate::decode::{Decoded, LinkKind, Segment, decode};
use crate::findings::{HostAggregator, PathAggregator};
use crate::flow::{Connection, FlowTable, PacketClass, PacketRef};
use crate::report::{CaptureSummary, ConnectionReport, ReportSink, RunReport, Summary};
use crate::time::Timestamp;
use crate::verdict::{EndReason, Verdict, judge};
use std::collections::BTreeSet;
use std::io;

/// Called with every judged connection.
type Observer<'s> = dyn FnMut(&Connection, &Verdict, &ConnectionReport) + 's;

/// Turns finished connections into reports, and keeps the run's totals.
pub struct Judge<'s> {
    sink: &'s mut dyn ReportSink,
    hosts: HostAggregator,
    paths: PathAggregator,
    summary: Summary,
    captures: Vec<CaptureSummary>,
    fail_on: BTreeSet<EndReason>,
    failed: bool,
    /// Called with every judged connection (live mode streams them).
    observer: Option<Box<Observer<'s>>>,
}

impl<'s> Judge<'s> {
    pub fn new(sink: &'s mut dyn ReportSink, fail_on: BTreeSet<EndReason>) -> Judge<'s> {
        Judge {
            sink,
            hosts: HostAggregator::default(),
            paths: PathAggregator::default(),
            summary: Summary::default(),
            captures: Vec::new(),
            fail_on,
            failed: false,
            observer: None,
        }
    }

    pub fn set_observer(&mut self, f: impl FnMut(&Connection, &Verdict, &ConnectionReport) + 's) {
        self.observer = Some(Box::new(f));
    }

    fn conclude(&mut self, conn: &Connection, capture_end: Timestamp, capture: &str) -> io::Result<()> {
        let verdict = judge(conn, capture_end);
        self.hosts.add(conn, &verdict);
        self.paths.add(conn, &verdict, self.captures.len());
        self.summary.connections += 1;
        *self.summary.by_end_reason.entry(verdict.reason()).or_default() += 1;
        for k in verdict.keepalive() {
            self.summary.keepalive_probes += u64::from(k.probes_sent);
            self.summary.keepalive_probes_answered += u64::from(k.probes_answered);
        }
        self.failed |= self.fail_on.contains(&verdict.reason());
        let wanted = self.sink.wants(verdict.reason());
        if !wanted && self.observer.is_none() {
            return Ok(());
        }
        let report = ConnectionReport::new(conn, &verdict, capture);
        if let Some(f) = &mut self.observer {
            f(conn, &verdict, &report);
        }
        if wanted { self.sink.connection(&report) } else { Ok(()) }
    }

    /// Records a capture that could not be read at all.
    pub fn add_unreadable(&mut self, path: &str, error: String) {
        self.summary.captures += 1;
        self.captures.push(CaptureSummary { path: path.into(), error: Some(error), ..Default::default() });
    }

    /// Writes the end of the report. Returns true when a `--fail-on` verdict was seen.
    pub fn finish(self) -> io::Result<bool> {
        let hosts = self.hosts.finish();
        let paths = self.paths.paths();
        let reconnect_storms = self.paths.storms();
        self.sink.finish(&RunReport {
            captures: &self.captures,
            hosts: &hosts,
            paths: &paths,
            reconnect_storms: &reconnect_storms,
            summary: &self.summary,
        })?;
        Ok(self.failed)
    }
}

/// One capture going through the pipeline.
pub struct Pipeline<'j, 's> {
    judge: &'j mut Judge<'s>,
    link: LinkKind,
    table: FlowTable,
    stats: CaptureSummary,
    first_ts: Option<Timestamp>,
    last_ts: Timestamp,
    next_expiry: Timestamp,
    /// Reused between packets: connections handed out by the flow table.
    #[allow(clippy::vec_box)] // moved out of the table's boxes: a pointer each
    done: Vec<Box<Connection>>,
}

impl<'j, 's> Pipeline<'j, 's> {
    pub fn new(judge: &'j mut Judge<'s>, path: &str, format: Option<&str>, link: LinkKind, link_name: &str) -> Self {
        let stats = CaptureSummary {
            path: path.into(),
            format: format.map(str::to_string),
            link_types: vec![link_name.to_string()],
            ..Default::default()
        };
        Pipeline {
            judge,
            link,
            table: FlowTable::new(),
            stats,
            first_ts: None,
            last_ts: Timestamp::default(),
            next_expiry: Timestamp::default(),
            done: Vec::new(),
        }
    }

    /// Counts a packet that the filter rejected (it keeps its frame number).
    pub fn skip(&mut self) {
        self.stats.packets += 1;
    }

    /// Feeds one captured frame. Returns the segment and its class when it was TCP.
    pub fn packet(&mut self, ts: Timestamp, data: &[u8]) -> io::Result<Option<(Segment, PacketClass)>> {
        self.stats.packets += 1;
        let frame = self.stats.packets;
        self.first_ts.get_or_insert(ts);
        self.last_ts = self.last_ts.max(ts);
        let class = match decode(self.link, data) {
            Decoded::Tcp(seg) => {
                self.stats.tcp_packets += 1;
                let done = &mut self.done;
                let class = self.table.observe(PacketRef { frame, ts }, &seg, &mut |c| done.push(c));
                Some((seg, class))
            }
            Decoded::NotTcp => {
                self.stats.other_packets += 1;
                None
            }
            Decoded::Malformed => {
                self.stats.undecodable_packets += 1;
                None
            }
        };
        if ts >= self.next_expiry {
            self.expire(ts)?;
        }
        self.conclude_done(ts)?;
        Ok(class)
    }

    /// Hands out connections that have finished and lingered long enough by `now`.
    pub fn expire(&mut self, now: Timestamp) -> io::Result<()> {
        self.next_expiry = Timestamp(now.0 + 1_000_000_000);
        let done = &mut self.done;
        self.table.expire(now, &mut |c| done.push(c));
        self.conclude_done(now)
    }

    fn conclude_done(&mut self, now: Timestamp) -> io::Result<()> {
        for conn in self.done.drain(..) {
            self.stats.connections += 1;
            self.judge.conclude(&conn, now, &self.stats.path)?;
        }
        Ok(())
    }

    pub fn warn(&mut self, warning: String) {
        self.stats.warnings.push(warning);
    }

    pub fn set_error(&mut self, error: String) {
        self.stats.error = Some(error);
    }

    /// The number the next packet will get.
    pub fn frames(&self) -> u64 {
        self.stats.packets
    }

    pub fn flow_table(&self) -> &FlowTable {
        &self.table
    }

    /// The capture ended: judge every connection left and record the capture.
    pub fn end(mut self) -> io::Result<()> {
        let end = self.last_ts;
        let done = &mut self.done;
        self.table.drain(&mut |c| done.push(c));
        self.conclude_done(end)?;
        if self.stats.packets > 0 && self.stats.tcp_packets == 0 {
            self.stats.warnings.push("no TCP packets in this capture".into());
        }
        self.stats.first_packet = self.first_ts.map(|t| t.to_rfc3339());
        self.stats.last_packet = self.first_ts.map(|_| end.to_rfc3339());
        self.judge.summary.captures += 1;
        self.judge.summary.packets += self.stats.packets;
        self.judge.captures.push(self.stats);
        Ok(())
    }
}
