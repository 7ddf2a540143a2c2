//! `--format ndjson`: one JSON object per line, in the versioned schema of
//! `docs/schema.md` (checked by `docs/tcpka-ndjson.schema.json`). A line per
//! connection, written as the Judge reports it (memory does not grow with the
//! run), then one `summary` line. Each line is flushed at once (so `tail -f`,
//! `jq` or a log shipper sees it) unless the caller asks for
//! [`Flushing::Blocks`].
//!
//! The records are views of the same report model that `--format json`
//! writes ([`ConnectionReport`], [`RunReport`]), in one naming: an endpoint
//! is always an object `{"ip", "port"}` under `client`, `server`, `prober`
//! or `client`/`server` of a storm, and who did something is always the
//! role, `"client"` or `"server"`, under `by` (`ended_by` for the
//! connection). `--format json` keeps its older names (`sender`, `fin_by`,
//! `from`, `prober`, addresses as strings) for the scripts that read it.

use crate::flow::{RoleSource, Side};
use crate::report::connection_json::Naming;
use crate::report::connection_stream::{ConnectionStream, Framing, Written};
use crate::report::{
    CaptureSummary, ConnectionReport, Evidence, HostFacts, Judged, JudgedConnection, PathFacts, ReportSink, RunReport,
    StormFacts, Summary,
};
use crate::verdict::{EndReason, ResetCause};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

/// The schema's version: bumped when a field changes meaning, is renamed or
/// is removed (new fields may appear without a bump; readers ignore them).
pub const SCHEMA_VERSION: u32 = 1;

/// One endpoint. `port` is null for a client prober or a storm's client
/// (their ports change from connection to connection).
#[derive(Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Endpoint {
        Endpoint { ip: a.ip(), port: Some(a.port()) }
    }
}

/// Something one side did (probed, reset, retransmitted, closed, beat), and what it showed.
#[derive(Serialize)]
pub struct ByRecord<'a, T> {
    pub by: Side,
    #[serde(flatten)]
    pub facts: &'a T,
}

/// A `connection` line.
#[derive(Serialize)]
pub struct ConnectionRecord<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub schema_version: u32,
    pub id: &'a str,
    pub community_id: &'a str,
    pub capture: &'a str,
    pub client: Endpoint,
    pub server: Endpoint,
    pub roles_from: RoleSource,
    pub vlan: &'a [u16],
    pub first_frame: u64,
    pub last_frame: u64,
    pub start: &'a str,
    pub end: &'a str,
    pub duration_s: f64,
    pub packets: u64,
    pub verdict: EndReason,
    pub reset_cause: Option<ResetCause>,
    pub ended_by: Option<Side>,
    pub diagnosis: &'a str,
    pub keepalive: Vec<ByRecord<'a, super::KeepaliveFacts>>,
    pub reset: Option<ByRecord<'a, super::ResetFacts>>,
    /// `by` is the host whose name the RST carried, which went on.
    pub injected_resets: Vec<ByRecord<'a, super::InjectedResetFacts>>,
    pub retransmission: Option<ByRecord<'a, super::RetransmissionFacts>>,
    /// `by` is the receiver whose window stayed closed.
    pub zero_window: Option<ByRecord<'a, super::ZeroWindowFacts>>,
    pub half_closed: Option<ByRecord<'a, super::HalfClosedFacts>>,
    pub handshake: Option<&'a super::HandshakeReport>,
    pub heartbeat: Option<ByRecord<'a, super::HeartbeatFacts>>,
    pub idle_at_end_s: Option<f64>,
    pub longest_idle_s: Option<f64>,
    pub retransmissions: u32,
    pub zero_window_probes: u32,
    pub evidence: &'a [Evidence],
    pub wireshark_filter: &'a str,
}

impl<'a> ConnectionRecord<'a> {
    pub fn new(c: &'a ConnectionReport) -> ConnectionRecord<'a> {
        ConnectionRecord {
            kind: "connection",
            schema_version: SCHEMA_VERSION,
            id: &c.id,
            community_id: &c.community_id,
            capture: &c.capture,
            client: c.addrs[0].into(),
            server: c.addrs[1].into(),
            roles_from: c.roles_from,
            vlan: &c.vlan,
            first_frame: c.first_frame,
            last_frame: c.last_frame,
            start: &c.start,
            end: &c.end,
            duration_s: c.duration_s,
            packets: c.packets,
            verdict: c.end_reason,
            reset_cause: c.reset_cause,
            ended_by: c.ended_by_side,
            diagnosis: &c.diagnosis,
            keepalive: c.keepalive.iter().map(|k| ByRecord { by: k.prober_role, facts: &k.facts }).collect(),
            reset: c.reset.as_ref().map(|r| ByRecord { by: r.by, facts: &r.facts }),
            injected_resets: c.injected_resets.iter().map(|i| ByRecord { by: i.by, facts: &i.facts }).collect(),
            retransmission: c.retransmission.as_ref().map(|r| ByRecord { by: r.by, facts: &r.facts }),
            zero_window: c.zero_window.as_ref().map(|z| ByRecord { by: z.by, facts: &z.facts }),
            half_closed: c.half_closed.as_ref().map(|h| ByRecord { by: h.by, facts: &h.facts }),
            handshake: c.handshake.as_ref(),
            heartbeat: c.heartbeat.as_ref().map(|h| ByRecord { by: h.by, facts: &h.facts }),
            idle_at_end_s: c.idle_at_end_s,
            longest_idle_s: c.longest_idle_s,
            retransmissions: c.retransmissions,
            zero_window_probes: c.zero_window_probes,
            evidence: &c.evidence,
            wireshark_filter: &c.wireshark_filter,
        }
    }
}

/// A keepalive prober across connections.
#[derive(Serialize)]
pub struct ProberRecord<'a> {
    pub prober: Endpoint,
    #[serde(flatten)]
    pub facts: &'a HostFacts,
}

/// The idle timeout found on the path to one server.
#[derive(Serialize)]
pub struct PathRecord<'a> {
    pub server: Endpoint,
    #[serde(flatten)]
    pub facts: &'a PathFacts,
}

/// One client reconnecting to one server without closing.
#[derive(Serialize)]
pub struct StormRecord<'a> {
    pub client: Endpoint,
    pub server: Endpoint,
    #[serde(flatten)]
    pub facts: &'a StormFacts,
}

/// The run's totals.
#[derive(Serialize)]
pub struct Totals<'a> {
    pub captures: u64,
    pub packets: u64,
    pub connections: u64,
    pub by_verdict: &'a BTreeMap<EndReason, u64>,
    pub by_reset_cause: &'a BTreeMap<ResetCause, u64>,
    pub keepalive_probes: u64,
    pub keepalive_probes_answered: u64,
}

impl<'a> From<&'a Summary> for Totals<'a> {
    fn from(s: &'a Summary) -> Totals<'a> {
        Totals {
            captures: s.captures,
            packets: s.packets,
            connections: s.connections,
            by_verdict: &s.by_end_reason,
            by_reset_cause: &s.by_reset_cause,
            keepalive_probes: s.keepalive_probes,
            keepalive_probes_answered: s.keepalive_probes_answered,
        }
    }
}

/// The last line.
#[derive(Serialize)]
pub struct SummaryRecord<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub schema_version: u32,
    pub tool: &'static str,
    pub version: &'static str,
    /// Connection lines written (after `--only`).
    pub connections_written: u64,
    pub captures: &'a [CaptureSummary],
    pub probers: Vec<ProberRecord<'a>>,
    pub paths: Vec<PathRecord<'a>>,
    pub reconnect_storms: Vec<StormRecord<'a>>,
    pub totals: Totals<'a>,
}

/// When the lines go out to the writer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flushing {
    /// Each line flushed as soon as it is complete: a pipe into `jq`, a
    /// log shipper or `tail -f` sees it at once (a terminal, standard
    /// input or a FIFO that may trickle, `--line-buffered`).
    #[default]
    EveryLine,
    /// Whole lines gathered and written [`BLOCK`] bytes or more at a time
    /// (a capture file read as fast as it can be: one `write` a line was
    /// 100,000 system calls on the bench capture). A write never ends
    /// inside a line.
    Blocks,
}

/// How many bytes of whole lines [`Flushing::Blocks`] gathers before it
/// writes them: a pipe's capacity on Linux (pipe(7)), so one write fills
/// what the reader on the other end can take at once.
pub const BLOCK: usize = 64 * 1024;

/// Writes the lines.
pub struct NdjsonSink<W: Write> {
    /// The connection lines, until the summary line is written.
    connections: Option<ConnectionStream<W>>,
}

impl<W: Write> NdjsonSink<W> {
    /// Writes each line in the thread that judged its connection, flushed
    /// at once.
    pub fn new(out: W) -> NdjsonSink<W> {
        NdjsonSink::with(ConnectionStream::here(out, Naming::Ndjson, Framing::Lines(Flushing::EveryLine)))
    }

    fn with(connections: ConnectionStream<W>) -> NdjsonSink<W> {
        NdjsonSink { connections: Some(connections) }
    }

    fn connections(&mut self) -> &mut ConnectionStream<W> {
        self.connections.as_mut().expect("no connection line after the summary")
    }
}

impl<W: Write + Send + 'static> NdjsonSink<W> {
    /// Writes the connection lines in blocks ([`Flushing::Blocks`]) on a
    /// thread of their own ([`ConnectionStream::on_thread`]), which owns
    /// `out` until they are written. Lines flushed each at once stay in
    /// the analysing thread: a batch handed over would wait for the next.
    pub fn in_blocks_on_thread(out: W) -> io::Result<NdjsonSink<W>> {
        let framing = Framing::Lines(Flushing::Blocks);
        Ok(NdjsonSink::with(ConnectionStream::on_thread(out, Naming::Ndjson, framing)?))
    }
}

impl<W: Write> ReportSink for NdjsonSink<W> {
    fn wants(&mut self, _: EndReason) -> bool {
        true
    }

    fn judged(&mut self, judged: &Judged<'_>) -> io::Result<()> {
        self.connections().judged(judged)
    }

    fn wants_owned(&self) -> bool {
        self.connections.as_ref().is_some_and(ConnectionStream::on_a_thread)
    }

    fn hand_over(&mut self, judged: JudgedConnection) -> io::Result<()> {
        self.connections().hand_over(judged)
    }

    fn connection(&mut self, report: &ConnectionReport) -> io::Result<()> {
        self.connections().report(report)
    }

    fn finish(&mut self, run: &RunReport<'_>) -> io::Result<()> {
        let Written { mut out, connections } = self.connections.take().expect("one summary line").finish()?;
        let hosts = run.host_reports();
        let paths = run.path_reports();
        let storms = run.storm_reports();
        let record = SummaryRecord {
            kind: "summary",
            schema_version: SCHEMA_VERSION,
            tool: "tcpka",
            version: env!("CARGO_PKG_VERSION"),
            connections_written: connections,
            captures: run.captures,
            probers: hosts
                .iter()
                .map(|h| ProberRecord {
                    prober: Endpoint { ip: h.prober_addr.0, port: h.prober_addr.1 },
                    facts: &h.facts,
                })
                .collect(),
            paths: paths.iter().map(|p| PathRecord { server: p.server_addr.into(), facts: &p.facts }).collect(),
            reconnect_storms: storms
                .iter()
                .map(|s| StormRecord {
                    client: Endpoint { ip: s.addrs.0, port: None },
                    server: s.addrs.1.into(),
                    facts: &s.facts,
                })
                .collect(),
            totals: run.summary.into(),
        };
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::judge_every_fixture;
    use crate::testkit::SharedOutput;

    /// Keeps every `write` and `flush` it is given, one by one.
    #[derive(Default)]
    struct Writes {
        writes: Vec<Vec<u8>>,
        flushes: usize,
    }

    impl Write for &mut Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.flushes += 1;
            Ok(())
        }
    }

    /// The NDJSON of every fixture capture, written with `flushing` in
    /// blocks of `block` bytes.
    fn every_fixture(flushing: Flushing, block: usize) -> Writes {
        let mut out = Writes::default();
        let framing = Framing::Lines(flushing);
        let mut sink = NdjsonSink::with(ConnectionStream::here_in_blocks_of(&mut out, Naming::Ndjson, framing, block));
        judge_every_fixture(&mut sink);
        // The sink borrows the output until it goes (it may own a writing thread).
        drop(sink);
        out
    }

    #[test]
    fn blocks_on_a_writing_thread_hold_the_same_bytes_as_one_flush_a_line() {
        let lines = every_fixture(Flushing::EveryLine, BLOCK);
        let out = SharedOutput::default();
        let mut sink = NdjsonSink::in_blocks_on_thread(out.clone()).unwrap();
        // The Judge hands it each connection owned, for the writing thread.
        assert!(sink.wants_owned());
        assert!(!NdjsonSink::new(Vec::new()).wants_owned());
        judge_every_fixture(&mut sink);
        drop(sink);
        let bytes = lines.writes.concat();
        assert!(bytes.iter().filter(|&&b| b == b'\n').count() > 1000);
        assert!(out.bytes() == bytes, "the lines differ");
    }

    #[test]
    fn blocks_hold_whole_lines_and_the_same_bytes_as_one_flush_a_line() {
        let lines = every_fixture(Flushing::EveryLine, BLOCK);
        let block = 4096;
        let blocks = every_fixture(Flushing::Blocks, block);
        // The same bytes, whichever way they went out.
        assert_eq!(blocks.writes.concat(), lines.writes.concat());
        let count = lines.writes.concat().iter().filter(|&&b| b == b'\n').count();
        assert!(count > 1000, "{count} lines");
        // One flush a line (and the summary's), where blocks flush once, at the end.
        assert_eq!(lines.flushes, count);
        assert_eq!(blocks.flushes, 1);
        // The connection lines went out in writes that each end with a
        // whole line, all but the last (what was left at the end) a block
        // or more; then the summary line.
        let bytes = blocks.writes.concat();
        let summary_at = bytes[..bytes.len() - 1].iter().rposition(|&b| b == b'\n').unwrap() + 1;
        let mut written = 0;
        let connection_writes: Vec<&Vec<u8>> = blocks
            .writes
            .iter()
            .take_while(|w| {
                let before = written;
                written += w.len();
                before < summary_at
            })
            .collect();
        assert_eq!(
            connection_writes.iter().map(|w| w.len()).sum::<usize>(),
            summary_at,
            "a write crossed into the summary"
        );
        assert!(connection_writes.iter().all(|w| w.ends_with(b"\n")), "a write ended inside a line");
        let (last, full) = connection_writes.split_last().unwrap();
        assert!(full.len() > 10, "{} writes", full.len());
        assert!(full.iter().all(|w| w.len() >= block), "a block smaller than {block} bytes");
        // Written as soon as the line that made a block was complete.
        let longest = bytes.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap() + 1;
        assert!(connection_writes.iter().all(|w| w.len() < block + longest), "a block held back");
        // The last: what was left at the end, or a block completed by the last line.
        assert!(!last.is_empty());
    }
}
