//! The one path every packet takes, from a file or a live interface:
//! decode → flow table → (when a connection is done) verdict → report.
//!
//! In live mode the same path also streams events: the flow table reports
//! what each packet changed ([`Changes`]), [`Pipeline::tick`] applies the
//! clock rules to quiet connections, and the [`Judge`], the only place that
//! makes verdicts, turns both into events for an [`EventSink`].

use crate::decode::{Decoded, LinkKind, Segment};
use crate::event::{
    CaptureStats, ConnectionEnded, ConnectionEvent, Detection, Endpoints, EventSink, ProbeUnanswered, TrainStarted,
};
use crate::findings::{HostAggregator, PathAggregator};
use crate::flow::{Changes, Confirmation, Connection, FlowTable, PacketClass, PacketRef, Side, Train, Unanswered};
use crate::neighbours::NeighbourLog;
use crate::report::vantage::VantageReport;
use crate::report::{
    CaptureCounts, CaptureName, CaptureSummary, ConnectionReport, DuplicateFrames, FileFrames, Judged,
    JudgedConnection, ReportSink, RunReport, Summary, round6,
};
use crate::source::order::{Clocked, FrameOrder};
use crate::source::{Counters, Frame, Link};
use crate::time::Timestamp;
use crate::vantage::Comparison;
use crate::verdict::{EndReason, Judgement, Selector, any_matches, judge};
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;
use std::io;
use std::sync::Arc;

/// A probe with no answer for this long (by the clock) is unanswered.
pub const UNANSWERED_AFTER_SECS: f64 = 1.0;
/// A connection whose prober's probes are unanswered is judged by the clock
/// (has it given up, silently?) once it has been quiet this long.
pub const SILENT_JUDGE_AFTER_SECS: f64 = 3.0;

/// Turns finished connections into reports, and keeps the run's totals.
pub struct Judge<'s> {
    sink: &'s mut dyn ReportSink,
    /// Live mode: events as they happen.
    stream: Option<Stream<'s>>,
    hosts: HostAggregator,
    paths: PathAggregator,
    summary: Summary,
    captures: Vec<CaptureSummary>,
    /// Counts the parts of the run that share a time: each capture, and each
    /// part of a capture between two jumps of its clock. Connections open at
    /// the end of one part are not open at the same time as another's.
    part: usize,
    fail_on: BTreeSet<Selector>,
    /// `--only`: the connections handed to the sink (empty: all).
    only: Vec<Selector>,
    failed: bool,
    /// Two vantage points compared, when asked for.
    vantage: Option<VantageReport>,
    /// The capture the last connection came from, as reports name it.
    capture_name: Option<Arc<CaptureName>>,
}

/// The event sink, and what has been streamed about each held connection.
struct Stream<'s> {
    sink: &'s mut dyn EventSink,
    streamed: FxHashMap<u64, Streamed>,
}

/// What has been streamed about one connection: each probe is reported
/// unanswered once, and an early end is revised only when the final verdict differs.
#[derive(Default)]
struct Streamed {
    /// Probes of the current train reported unanswered, per side.
    unanswered: [u32; 2],
    /// The verdict an early connection-ended event gave.
    ended: Option<EndReason>,
}

impl<'s> Judge<'s> {
    pub fn new(sink: &'s mut dyn ReportSink, fail_on: BTreeSet<Selector>) -> Judge<'s> {
        Judge {
            sink,
            stream: None,
            hosts: HostAggregator::default(),
            paths: PathAggregator::default(),
            summary: Summary::default(),
            captures: Vec::new(),
            part: 0,
            fail_on,
            only: Vec::new(),
            failed: false,
            vantage: None,
            capture_name: None,
        }
    }

    /// Hands the sink only the connections that one of `only` picks
    /// (`--only`); the totals and the findings across connections still count every one.
    pub fn only(mut self, only: Vec<Selector>) -> Judge<'s> {
        self.only = only;
        self
    }

    /// Also streams events, as they happen, to `events` (live mode).
    pub fn streaming(mut self, events: &'s mut dyn EventSink) -> Judge<'s> {
        self.stream = Some(Stream { sink: events, streamed: FxHashMap::default() });
        self
    }

    /// A connection was handed out at `now`: judge it, count it, report it
    /// (and stream its end, unless an early event already said it).
    fn conclude(
        &mut self,
        owned: Connection,
        capture_end: Timestamp,
        capture: &CaptureView<'_>,
        now: Timestamp,
    ) -> io::Result<()> {
        let conn = &owned;
        // One dropped before it finished is judged as of when it was dropped.
        let verdict = judge(conn, conn.dropped.map_or(capture_end, |d| d.at()), capture.link);
        self.hosts.add(conn, &verdict);
        self.paths.add(conn, &verdict, self.part);
        let reason = verdict.reason();
        self.summary.connections += 1;
        *self.summary.by_end_reason.entry(reason).or_default() += 1;
        if let Some(r) = verdict.reset() {
            *self.summary.by_reset_cause.entry(r.cause).or_default() += 1;
        }
        for k in verdict.keepalive_any_order() {
            self.summary.keepalive_probes += u64::from(k.probes_sent);
            self.summary.keepalive_probes_answered += u64::from(k.probes_answered);
        }
        let ending = verdict.ending();
        self.failed |= self.fail_on.iter().any(|s| s.matches(ending));
        let streamed_end = self.stream.as_mut().and_then(|stream| {
            let early = stream.streamed.remove(&conn.id).and_then(|s| s.ended);
            match early {
                Some(early) if early == reason => None,
                // Judged at the stop with only the packets' times: the clock
                // that judged it earlier knew more.
                Some(_) if reason.not_ended() => None,
                Some(_) => Some((now, true)),
                // Still open or stalled when the capture stopped, or a
                // handshake still pending then (not dropped by its idle
                // limit): only in the final report.
                None if reason.not_ended() => None,
                None if reason == EndReason::NeverEstablished && conn.dropped.is_none() => None,
                None => Some((verdict.end_packet().map_or(now, |p| p.ts), false)),
            }
        });
        // The sink is asked only about connections it may get: it counts those it declines.
        let wanted = any_matches(&self.only, ending) && self.sink.wants(reason);
        if !wanted && streamed_end.is_none() {
            return Ok(());
        }
        let capture_number = self.captures.len() + 1;
        let judged = Judged { conn, verdict: &verdict, capture: capture.path, capture_number, files: capture.files };
        let Some((time, revised)) = streamed_end else {
            if !self.sink.wants_owned() {
                return self.sink.judged(&judged);
            }
            // Handed over owned: JSON and NDJSON in blocks write it on a thread of their own.
            let capture = self.capture_name(capture);
            return self.sink.hand_over(JudgedConnection { conn: owned, verdict, capture, capture_number });
        };
        // The live event stream carries the whole report.
        let report = judged.report();
        if let Some(stream) = self.stream.as_mut() {
            let ended = ConnectionEnded {
                end_reason: reason,
                detected_by: Detection::Judged,
                revised,
                silence_s: silence_before_end(conn, &verdict, now),
                report: &report,
            };
            stream.sink.connection_event(time, endpoints(conn), ConnectionEvent::ConnectionEnded(ended))?;
        }
        if wanted { self.sink.connection(&report) } else { Ok(()) }
    }

    /// The capture as its connections' reports name it: made once, and
    /// again only when a file is added to it (a handed-over connection
    /// takes its name along, and a thread of its own may write it late).
    fn capture_name(&mut self, capture: &CaptureView<'_>) -> Arc<CaptureName> {
        match &self.capture_name {
            Some(name) if name.path == capture.path && name.files == *capture.files => Arc::clone(name),
            _ => {
                let name = Arc::new(CaptureName { path: capture.path.to_string(), files: capture.files.clone() });
                self.capture_name = Some(Arc::clone(&name));
                name
            }
        }
    }

    /// Streams what changed for a held connection at `now`: new trains,
    /// probes now known unanswered, and its end when `changes.finished`.
    fn stream_changes(
        &mut self,
        conn: &Connection,
        changes: &Changes,
        now: Timestamp,
        capture: &str,
        link: &NeighbourLog,
    ) -> io::Result<()> {
        let Some(stream) = self.stream.as_mut() else { return Ok(()) };
        let streamed = stream.streamed.entry(conn.id).or_default();
        for side in [Side::Client, Side::Server] {
            let change = changes.trains[side as usize];
            let half = conn.side(side);
            let train = &half.keepalive().train;
            if change.started
                && let Some(first) = train.probes.first()
            {
                streamed.unanswered[side as usize] = 0;
                let started = TrainStarted {
                    prober: half.addr(),
                    prober_role: side,
                    peer: conn.side(side.peer()).addr(),
                    first_probe: first.at,
                    idle_observed_s: train.idle_from.get().map(|f| round6(first.at.ts.secs_since(f.ts))),
                    probe_payload_bytes: first.len,
                };
                stream.sink.connection_event(first.at.ts, endpoints(conn), ConnectionEvent::KeepaliveTrain(started))?;
            }
            let Some(Unanswered { through, last_by }) = change.unanswered else { continue };
            let Some(last) = train.probes.last().copied() else { continue };
            let from = streamed.unanswered[side as usize] + 1;
            streamed.unanswered[side as usize] = streamed.unanswered[side as usize].max(through);
            for n in from..=through {
                // Probe n is kept when the train is short; the last one
                // always, in the last slot (`flow::record_probe`).
                let kept = |n: u32| match n {
                    n if n == train.count => Some(last),
                    n if (n as usize) < train.probes.len() => Some(train.probes[n as usize - 1]),
                    _ => None,
                };
                let (confirmed_by, time) = if n < train.count {
                    (Confirmation::NextProbe, kept(n + 1).map_or(now, |p| p.at.ts))
                } else {
                    (last_by, now)
                };
                let unanswered = ProbeUnanswered {
                    prober: half.addr(),
                    prober_role: side,
                    probe: n,
                    probe_at: kept(n).map(|p| p.at),
                    confirmed_by,
                };
                stream.sink.connection_event(time, endpoints(conn), ConnectionEvent::ProbeUnanswered(unanswered))?;
            }
        }
        if changes.finished {
            self.stream_end(conn, now, Detection::Packet, capture, link)?;
        }
        Ok(())
    }

    /// Judges a held connection early, at `now`, and streams its end once:
    /// at the packet that finished it, or by the clock when its prober fell
    /// silent and the verdict is a keepalive timeout.
    fn stream_end(
        &mut self,
        conn: &Connection,
        now: Timestamp,
        detected_by: Detection,
        capture: &str,
        link: &NeighbourLog,
    ) -> io::Result<()> {
        let Some(stream) = self.stream.as_mut() else { return Ok(()) };
        let streamed = stream.streamed.entry(conn.id).or_default();
        if streamed.ended.is_some() {
            return Ok(());
        }
        let verdict = judge(conn, now, link);
        if detected_by == Detection::Clock && verdict.reason() != EndReason::KeepaliveTimeout {
            return Ok(());
        }
        streamed.ended = Some(verdict.reason());
        let report = ConnectionReport::new(conn, &verdict, capture, self.captures.len() + 1);
        let ended = ConnectionEnded {
            end_reason: verdict.reason(),
            detected_by,
            revised: false,
            silence_s: silence_before_end(conn, &verdict, now),
            report: &report,
        };
        stream.sink.connection_event(now, endpoints(conn), ConnectionEvent::ConnectionEnded(ended))
    }

    /// Hands the capture's counters to the event sink, if there is one.
    pub fn stream_stats(&mut self, now: Timestamp, stats: &CaptureStats) -> io::Result<()> {
        self.stream.as_mut().map_or(Ok(()), |s| s.sink.capture_stats(now, stats))
    }

    /// Two vantage points compared: reported after the connections.
    pub fn add_vantage(&mut self, comparison: &Comparison) {
        self.vantage = Some(VantageReport::new(comparison));
    }

    /// Records a capture that could not be read at all.
    pub fn add_unreadable(&mut self, path: &str, error: String) {
        self.summary.captures += 1;
        self.captures.push(CaptureSummary { path: path.into(), error: Some(error), ..Default::default() });
    }

    /// Writes the end of the report. Returns true when a `--fail-on` verdict was seen.
    pub fn finish(self) -> io::Result<bool> {
        // The report is written even when the event stream has gone away.
        let streamed = self.stream.map_or(Ok(()), |stream| stream.sink.finish());
        let hosts = self.hosts.finish();
        let paths = self.paths.paths();
        let reconnect_storms = self.paths.storms();
        self.sink.finish(&RunReport {
            captures: &self.captures,
            hosts: &hosts,
            paths: &paths,
            reconnect_storms: &reconnect_storms,
            summary: &self.summary,
            vantage: self.vantage.as_ref(),
        })?;
        streamed?;
        Ok(self.failed)
    }
}

/// One capture going through the pipeline.
pub struct Pipeline<'j, 's> {
    judge: &'j mut Judge<'s>,
    link: LinkKind,
    /// The frame numbers, clock and recent packets (`source::order`); lent
    /// to a file source's reader thread while it reads a file (None then).
    order: Option<FrameOrder>,
    /// The latest analysis time: the end of the current part of the capture
    /// (the clock's latest time, as the frames handed over say it).
    latest: Option<Timestamp>,
    /// The addresses the capture's link could not resolve (this part of the capture).
    neighbours: NeighbourLog,
    table: FlowTable,
    stats: CaptureSummary,
    first_ts: Option<Timestamp>,
    last_ts: Timestamp,
    /// When the capture ended, when the file says and it is after the last
    /// packet (a pcapng's `isb_endtime`).
    ran_until: Option<Timestamp>,
    /// The files the capture is read from, and where each one's frames start.
    files: FileFrames,
    next_expiry: Timestamp,
    /// Reading stopped in the middle of a file ([`Pipeline::stopped_reading`]).
    stopped: bool,
}

impl<'j, 's> Pipeline<'j, 's> {
    pub fn new(judge: &'j mut Judge<'s>, path: &str, format: Option<&str>, link: &Link) -> Self {
        let mut files = FileFrames::default();
        files.add(0, path);
        let stats = CaptureSummary {
            path: path.into(),
            format: format.map(str::to_string),
            link_types: vec![link.name.clone()],
            ..Default::default()
        };
        judge.part += 1;
        Pipeline {
            judge,
            link: link.kind,
            order: Some(FrameOrder::default()),
            latest: None,
            neighbours: NeighbourLog::default(),
            table: FlowTable::new(),
            stats,
            stopped: false,
            first_ts: None,
            last_ts: Timestamp::default(),
            ran_until: None,
            files,
            next_expiry: Timestamp::default(),
        }
    }

    /// The packets from here on are on `link` (a pcapng whose interfaces
    /// have different link types): the capture lists each link type once.
    pub fn set_link(&mut self, link: &Link) {
        self.link = link.kind;
        if !self.stats.link_types.contains(&link.name) {
            self.stats.link_types.push(link.name.clone());
        }
    }

    /// The capture goes on in another file (a ring buffer's next), whose
    /// packets start on `link`: its frames are numbered on.
    pub fn next_file(&mut self, path: &str, link: &Link) {
        self.files.add(self.stats.packets, path);
        self.set_link(link);
    }

    /// Records a file of this capture that could not be read.
    pub fn add_unreadable(&mut self, path: &str, error: String) {
        self.judge.add_unreadable(path, error);
    }

    /// The time of the last packet so far, if any.
    pub fn last_time(&self) -> Option<Timestamp> {
        self.first_ts.map(|_| self.last_ts)
    }

    /// Lends the capture's [`FrameOrder`] to a source that steps its
    /// frames through it on a thread of its own (the file source), until
    /// [`Pipeline::return_order`]: the frames it hands over meanwhile come stepped.
    pub fn lend_order(&mut self) -> FrameOrder {
        self.order.take().expect("the capture's order is lent to one source at a time")
    }

    /// The capture's [`FrameOrder`] comes back from the source it was lent to.
    pub fn return_order(&mut self, order: FrameOrder) {
        // Both count every frame: the source's frame numbers are the report's.
        debug_assert_eq!(order.frames(), self.stats.packets, "the frames numbered and the frames handed over");
        self.order = Some(order);
    }

    /// The order, when it is here (not lent out).
    fn order(&mut self) -> &mut FrameOrder {
        self.order.as_mut().expect("the capture's order is back from the source it was lent to")
    }

    /// Counts a packet that the filter rejected (it keeps its frame number:
    /// in the order too, unless a source that has it lent numbered it).
    pub fn skip(&mut self) {
        self.stats.packets += 1;
        if let Some(order) = &mut self.order {
            order.skip();
        }
    }

    /// Feeds one captured frame, decoding it and stepping it through the
    /// capture's order here (live mode: one thread does it all). Returns
    /// the segment and its class when it was TCP.
    pub fn packet(&mut self, ts: Timestamp, data: &[u8]) -> io::Result<Option<(Segment, PacketClass)>> {
        let (mut frame, print) = Frame::decode(self.link, ts, data);
        self.order().step(&mut frame, &print);
        let class = self.frame(&frame)?;
        Ok(match (frame.decoded, class) {
            (Decoded::Tcp(seg), Some(class)) => Some((seg, class)),
            _ => None,
        })
    }

    /// A frame a few frames ahead of the next one fed: what analysing it
    /// will read is asked for (the flow table's hint of its connection now,
    /// and its record a few frames later: `FlowTable::prefetch`).
    #[inline]
    pub fn prefetch(&mut self, ahead: &Frame) {
        if let Decoded::Tcp(_) = &ahead.decoded {
            self.table.prefetch(ahead.ends);
        }
    }

    /// Feeds one frame, decoded by its source and stepped through the
    /// capture's order ([`FrameOrder::step`]). Returns the segment's class
    /// when it was TCP (the segment is the frame's: returning a copy of it
    /// cost more than the rest of the handing over).
    pub fn frame(&mut self, decoded: &Frame) -> io::Result<Option<PacketClass>> {
        let ts = decoded.ts;
        self.stats.packets += 1;
        let frame = self.stats.packets;
        self.first_ts.get_or_insert(ts);
        self.last_ts = self.last_ts.max(ts);
        // From here on, `ts` is the analysis time: it never goes back within
        // a part of the capture (see `clock`). The clock's latest time is
        // that of the frame before (`Clocked`): a frame stepped back or
        // jumped is never the first.
        let ts = match decoded.order.clock {
            Clocked::On => ts,
            Clocked::SteppedBack => self.latest.unwrap_or(ts),
            Clocked::Jumped => {
                self.split(self.latest.unwrap_or(ts))?;
                ts
            }
        };
        self.latest = Some(ts);
        match &decoded.decoded {
            Decoded::Tcp(seg) => {
                self.stats.tcp_packets += 1;
                // A copy of a packet captured just before is analysed once,
                // as the frame it copies.
                if decoded.order.copy {
                    if ts >= self.next_expiry {
                        self.expire(ts)?;
                    }
                    return Ok(Some(PacketClass::Duplicate));
                }
                let mut judged = Ok(());
                let at = PacketRef { frame, ts };
                let observed = self.table.observe_hashed(
                    at,
                    seg,
                    decoded.ends,
                    &mut judging(self.judge, &mut self.stats, &self.files, &self.neighbours, ts, ts, &mut judged),
                );
                judged?;
                if ts >= self.next_expiry {
                    self.expire(ts)?;
                }
                if self.judge.stream.is_some() {
                    self.stream_changes(seg, observed.changes, ts)?;
                }
                // The class alone is read back: the whole `Observed` was
                // moved out of the flow table's return slot into a tuple
                // first, and perf put half of this function's samples on
                // that move (a load of what `observe` had just stored).
                return Ok(Some(observed.class));
            }
            Decoded::Neighbour(msg) => {
                self.stats.other_packets += 1;
                self.neighbours.observe(frame, ts, msg);
            }
            Decoded::NotTcp => self.stats.other_packets += 1,
            Decoded::Malformed => self.stats.undecodable_packets += 1,
        }
        if ts >= self.next_expiry {
            self.expire(ts)?;
        }
        Ok(None)
    }

    /// Live mode: streams what a segment of a held connection changed at
    /// `now`, with the probes the clock now knows unanswered.
    fn stream_changes(&mut self, seg: &Segment, mut changes: Changes, now: Timestamp) -> io::Result<()> {
        let Some(trains) = self.table.trains_of(seg) else { return Ok(()) };
        timeouts(trains, now, &mut changes);
        if !changes.is_empty()
            && let Some(conn) = self.table.connection_of(seg)
        {
            self.judge.stream_changes(&conn, &changes, now, &self.stats.path, &self.neighbours)?;
        }
        Ok(())
    }

    /// The clock moved on to `now`: hands out connections that have
    /// finished and lingered long enough, and (when streaming) applies the
    /// clock rules to quiet connections: a probe is unanswered after
    /// [`UNANSWERED_AFTER_SECS`], and a prober that fell silent after its
    /// unanswered probes for [`SILENT_JUDGE_AFTER_SECS`] is judged.
    pub fn tick(&mut self, now: Timestamp) -> io::Result<()> {
        self.expire(now)?;
        if self.judge.stream.is_none() {
            return Ok(());
        }
        for conn in self.table.unanswered() {
            let mut changes = Changes::default();
            timeouts([Side::Client, Side::Server].map(|s| &conn.side(s).keepalive().train), now, &mut changes);
            self.judge.stream_changes(&conn, &changes, now, &self.stats.path, &self.neighbours)?;
            // A prober has given up by silence only after several probe
            // intervals (of at least 1 s) without a packet: judge no sooner.
            if now.secs_since(conn.last.ts) >= SILENT_JUDGE_AFTER_SECS {
                self.judge.stream_end(&conn, now, Detection::Clock, &self.stats.path, &self.neighbours)?;
            }
        }
        Ok(())
    }

    /// Hands out connections that have finished and lingered long enough by `now`.
    fn expire(&mut self, now: Timestamp) -> io::Result<()> {
        self.next_expiry = now + std::time::Duration::from_secs(1);
        let mut judged = Ok(());
        let mut judge = judging(self.judge, &mut self.stats, &self.files, &self.neighbours, now, now, &mut judged);
        self.table.expire(now, &mut judge);
        drop(judge);
        judged?;
        if let Some(latest) = self.latest {
            self.judge.paths.forget_done_services(self.judge.part, latest, self.table.len(), self.table.endpoints());
        }
        Ok(())
    }

    /// The clock jumped: the part of the capture before ended at `end`. Every
    /// connection held is judged as of then, and the next part starts afresh.
    fn split(&mut self, end: Timestamp) -> io::Result<()> {
        let mut judged = Ok(());
        let mut judge = judging(self.judge, &mut self.stats, &self.files, &self.neighbours, end, end, &mut judged);
        self.table.expire(end, &mut judge);
        self.table.drain(&mut judge);
        drop(judge);
        judged?;
        self.judge.part += 1;
        // What the link could not resolve then says nothing about the next part.
        self.neighbours = NeighbourLog::default();
        self.next_expiry = Timestamp::default();
        Ok(())
    }

    /// The capture's counters, to the event sink (live mode).
    pub fn stream_stats(&mut self, now: Timestamp, mut stats: CaptureStats) -> io::Result<()> {
        stats.packets = self.stats.packets;
        stats.connections_open = self.table.len();
        self.judge.stream_stats(now, &stats)
    }

    /// A live capture's counters at its end, for the report.
    pub fn set_capture_counts(&mut self, c: Counters) {
        self.stats.capture_counts = Some(CaptureCounts {
            received: c.received,
            dropped_by_kernel: c.dropped,
            dropped_by_interface: c.if_dropped,
            not_analysed: c.not_analysed,
        });
    }

    pub fn warn(&mut self, warning: String) {
        self.stats.warnings.push(warning);
    }

    /// The capture's error; a second one (another file of the capture) is added to it.
    pub fn set_error(&mut self, error: String) {
        self.stats.error = Some(match self.stats.error.take() {
            Some(first) => format!("{first}; {error}"),
            None => error,
        });
    }

    /// Reading stopped before the end of a file (Ctrl-C): the capture ends
    /// with the last frame analysed, and `why` is its error, so that every
    /// format says the report covers only what was read. `order` is the
    /// capture's order as of that frame (`FileSource::stop`: the reader
    /// had stepped frames ahead of it): the copies dropped and the clock's
    /// warnings reported are those of the frames analysed.
    pub fn stopped_reading(&mut self, why: String, order: FrameOrder) {
        self.stopped = true;
        self.return_order(order);
        self.set_error(why);
    }

    /// The number the last packet got.
    pub fn frames(&self) -> u64 {
        self.stats.packets
    }

    /// The file says the capture ran until `end` (a pcapng's statistics):
    /// when that is after the last packet, the capture ends then, not at its
    /// last packet. A prober silent since its last probe was silent while
    /// the capture went on, and the idle limits run to the capture's end.
    pub fn ran_until(&mut self, end: Timestamp) {
        self.ran_until = self.ran_until.max(Some(end));
    }

    /// The capture ended: judge every connection left and record the capture.
    pub fn end(mut self) -> io::Result<()> {
        // The end of the last part of the capture (its latest time), or
        // later when the file says the capture ran on (unless that end is
        // a clock jump away: see `Clock::ran_until`).
        let latest = self.latest.unwrap_or_default();
        let ran_on = match self.ran_until {
            // A file before the one cut short said so: its end is past
            // the frames analysed of the next, so the capture ends at them.
            Some(_) if self.stopped => None,
            Some(t) => self.order().clock().ran_until(t),
            None => None,
        };
        let end = match ran_on {
            Some(t) => {
                // The clock runs on to the end: what it would have handed
                // out by then (idle limits, lingering closes) goes first.
                self.expire(t)?;
                self.stats.capture_end = Some(t.to_rfc3339());
                t
            }
            None => latest,
        };
        self.finish(end, end)
    }

    /// [`Pipeline::end`], at `now` by the clock (live mode: the time of
    /// the events of connections judged then).
    pub fn end_at(self, now: Timestamp) -> io::Result<()> {
        // The end of the last part of the capture (its latest time).
        let end = self.latest.unwrap_or_default();
        self.finish(end, now)
    }

    /// Judges every connection left as of the capture's `end`, at `now`, and records the capture.
    fn finish(mut self, end: Timestamp, now: Timestamp) -> io::Result<()> {
        let mut judged = Ok(());
        let mut judge = judging(self.judge, &mut self.stats, &self.files, &self.neighbours, end, now, &mut judged);
        self.table.drain(&mut judge);
        drop(judge);
        judged?;
        if self.stats.packets > 0 && self.stats.tcp_packets == 0 {
            self.stats.warnings.push("no TCP packets in this capture".into());
        }
        self.stats.unreplied_evicted = self.table.unreplied_evicted();
        let order = self.order();
        let duplicates = order.duplicates();
        let counted = (duplicates.dropped() > 0)
            .then(|| DuplicateFrames { dropped: duplicates.dropped(), first: duplicates.examples().to_vec() });
        let warnings = order.clock().warnings();
        self.stats.duplicates = counted;
        self.stats.warnings.extend(warnings);
        self.stats.first_packet = self.first_ts.map(|t| t.to_rfc3339());
        self.stats.last_packet = self.first_ts.map(|_| self.last_ts.to_rfc3339());
        self.stats.files = self.files.paths();
        self.judge.summary.captures += 1;
        self.judge.summary.packets += self.stats.packets;
        self.judge.captures.push(self.stats);
        Ok(())
    }
}

/// Judges each connection the flow table hands out, as it comes (holding
/// them until the table is done would hold every connection left when a
/// capture ends). The first error stops the judging and is kept in `result`.
fn judging<'a>(
    judge: &'a mut Judge<'_>,
    stats: &'a mut CaptureSummary,
    files: &'a FileFrames,
    link: &'a NeighbourLog,
    capture_end: Timestamp,
    now: Timestamp,
    result: &'a mut io::Result<()>,
) -> impl FnMut(Connection) + 'a {
    move |conn| {
        if result.is_ok() {
            stats.connections += 1;
            let capture = CaptureView { path: &stats.path, files, link };
            *result = judge.conclude(conn, capture_end, &capture, now);
        }
    }
}

/// What the judge needs to know of the capture a connection came from.
struct CaptureView<'a> {
    path: &'a str,
    files: &'a FileFrames,
    link: &'a NeighbourLog,
}

/// How long the side that ended the connection had heard nothing but
/// probes from its peer: from the peer's last packet that was not a
/// keepalive or zero-window probe ([`Marks::last_traffic`](crate::flow::Marks))
/// to the end (its packet, or `now` when the verdict has none).
fn silence_before_end(conn: &Connection, verdict: &Judgement, now: Timestamp) -> Option<f64> {
    let ender = verdict.ended_by()?;
    let heard = conn.side(ender.peer()).marks.last_traffic.get()?;
    let end = verdict.end_packet().map_or(now, |p| p.ts);
    Some(round6(end.secs_since(heard.ts).max(0.0)))
}

fn endpoints(conn: &Connection) -> Endpoints {
    Endpoints { id: conn.id, client: conn.client(), server: conn.server() }
}

/// The clock rule for probes: a side's last probe with no answer for
/// [`UNANSWERED_AFTER_SECS`] by `now` is unanswered (unless the prober's
/// reset already said so).
fn timeouts(trains: [&Train; 2], now: Timestamp, changes: &mut Changes) {
    for side in [Side::Client, Side::Server] {
        let train = trains[side as usize];
        let timed_out = train.unanswered()
            && train.probes.last().is_some_and(|last| now.secs_since(last.at.ts) >= UNANSWERED_AFTER_SECS);
        let change = &mut changes.trains[side as usize];
        if timed_out && change.unanswered.is_none_or(|u| u.last_by != Confirmation::ProberReset) {
            change.unanswered = Some(Unanswered { through: train.count, last_by: Confirmation::Timeout });
        }
    }
}
