//! The event stream of `tcpka live`: human lines or NDJSON, one event per
//! line, as `docs/live.md` documents them.

use crate::event::{
    CaptureStats, ConnectionEnded, ConnectionEvent, Endpoints, EventSink, ProbeUnanswered, TrainStarted,
};
use crate::flow::Confirmation;
use crate::live::host::HostNote;
use crate::report::{endpoint, round6};
use crate::time::Timestamp;
use crate::verdict::EndReason;
use serde::Serialize;
use std::io::{self, Read, Write};

/// One NDJSON line: the fields every event has, then its own.
#[derive(Serialize)]
struct Event<'a, B: Serialize> {
    event: &'a str,
    time: String,
    client: Option<String>,
    server: Option<String>,
    /// The connection's number in the capture (the flow table's).
    connection_id: Option<u64>,
    /// The connection's Community ID v1, as Zeek, Suricata, Arkime and Elastic log it.
    community_id: Option<String>,
    #[serde(flatten)]
    body: B,
}

#[derive(Serialize)]
struct CaptureStartedJson<'a> {
    interface: &'a str,
    link_type: &'a str,
    filter: Option<&'a str>,
    snaplen: u32,
    buffer_mib: u32,
    write: Option<String>,
    report: Option<String>,
}

#[derive(Serialize)]
struct TrainStartedJson<'a> {
    prober: String,
    prober_role: &'static str,
    first_probe_frame: u64,
    /// Last packet the prober received → first probe (s); null when not seen.
    idle_observed_s: Option<f64>,
    probe_payload_bytes: u8,
    /// When the prober is this host: its socket and process.
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a HostNote>,
}

#[derive(Serialize)]
struct ProbeUnansweredJson {
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
struct ConnectionEndedJson<'a> {
    end_reason: EndReason,
    ended_by: Option<&'a str>,
    /// "packet" (a RST or the second FIN), "clock" (a prober fell silent
    /// after unanswered probes) or "judged" (when the flow table handed it
    /// out: after its linger time, a reused 4-tuple, or when the capture stopped).
    detected_by: &'static str,
    /// True when a later judgment changed an earlier connection-ended.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    revised: bool,
    /// How long the side that ended it had heard nothing but probes from its peer (s).
    silence_s: Option<f64>,
    /// When the prober that gave up is this host: its sysctls, whose
    /// settings these were, and the socket's process.
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a HostNote>,
    connection: &'a crate::report::ConnectionReport,
}

#[derive(Serialize)]
struct CaptureStatsJson {
    received: u32,
    dropped: u32,
    if_dropped: u32,
    not_analysed: u64,
    events_dropped: u64,
    packets: u64,
    connections_open: usize,
    #[serde(rename = "final")]
    is_final: bool,
}

/// Human event lines fit this many columns.
const HUMAN_WIDTH: usize = 80;

/// What a capture started with, for `capture-started`.
pub struct CaptureStarted<'a> {
    pub interface: &'a str,
    pub link_name: &'a str,
    pub filter: Option<&'a str>,
    pub snaplen: u32,
    pub buffer_mib: u32,
    pub write: Option<&'a std::path::Path>,
    pub report: Option<&'a std::path::Path>,
}

/// Writes the event stream (human lines or NDJSON) to `out`.
pub struct LiveEvents<W: Write> {
    out: W,
    json: bool,
}

impl<W: Write> LiveEvents<W> {
    pub fn new(out: W, json: bool) -> LiveEvents<W> {
        LiveEvents { out, json }
    }

    /// The writer, once the stream is over.
    pub fn into_writer(self) -> W {
        self.out
    }

    /// Where the events go.
    pub fn writer(&mut self) -> &mut W {
        &mut self.out
    }

    fn emit<B: Serialize>(
        &mut self,
        event: &str,
        time: Timestamp,
        on: Option<Endpoints>,
        body: B,
        human: impl FnOnce() -> String,
    ) -> io::Result<()> {
        if self.json {
            let e = Event {
                event,
                time: time.to_rfc3339(),
                client: on.map(|c| endpoint(c.client)),
                server: on.map(|c| endpoint(c.server)),
                connection_id: on.map(|c| c.id),
                community_id: on.map(|c| crate::community::community_id(c.client, c.server, crate::community::TCP)),
                body,
            };
            serde_json::to_writer(&mut self.out, &e)?;
            self.out.write_all(b"\n")?;
        } else {
            // The local time with its date and offset, the event and the
            // connection's number; then what happened, indented, in 80 columns.
            let id = on.map_or(String::new(), |c| format!(" #{}", c.id));
            writeln!(self.out, "{} {event}{id}", time.to_local())?;
            let opts = textwrap::Options::new(HUMAN_WIDTH).initial_indent("    ").subsequent_indent("    ");
            for paragraph in human().lines() {
                writeln!(self.out, "{}", textwrap::fill(paragraph, &opts))?;
            }
        }
        self.out.flush()
    }

    pub fn capture_started(&mut self, now: Timestamp, started: &CaptureStarted<'_>) -> io::Result<()> {
        if !self.json {
            return Ok(()); // the human "listening on" line goes to stderr
        }
        let body = CaptureStartedJson {
            interface: started.interface,
            link_type: started.link_name,
            filter: started.filter,
            snaplen: started.snaplen,
            buffer_mib: started.buffer_mib,
            write: started.write.map(|p| p.display().to_string()),
            report: started.report.map(|p| p.display().to_string()),
        };
        self.emit("capture-started", now, None, body, String::new)
    }

    fn keepalive_train(
        &mut self,
        time: Timestamp,
        on: Endpoints,
        t: TrainStarted,
        note: Option<&HostNote>,
    ) -> io::Result<()> {
        let prober = endpoint(t.prober);
        let role = t.prober_role.name();
        let body = TrainStartedJson {
            prober: prober.clone(),
            prober_role: role,
            first_probe_frame: t.first_probe.frame,
            idle_observed_s: t.idle_observed_s,
            probe_payload_bytes: t.probe_payload_bytes,
            host: note,
        };
        let human = || {
            let idle = t.idle_observed_s.map_or(String::new(), |s| format!(" after {s:.3} s idle"));
            let note = note.map_or(String::new(), |n| format!("\n{}", n.words()));
            format!("{prober} ({role}) probes {}{idle} (frame {}){note}", endpoint(t.peer), t.first_probe.frame)
        };
        self.emit("keepalive-train", time, Some(on), body, human)
    }

    fn probe_unanswered(&mut self, time: Timestamp, on: Endpoints, p: ProbeUnanswered) -> io::Result<()> {
        let prober = endpoint(p.prober);
        let role = p.prober_role.name();
        let body = ProbeUnansweredJson {
            prober: prober.clone(),
            prober_role: role,
            probe: p.probe,
            probe_frame: p.probe_at.map(|at| at.frame),
            probe_time: p.probe_at.map(|at| at.ts.to_rfc3339()),
            confirmed_by: p.confirmed_by.name(),
            waited_s: p.probe_at.map(|at| round6(time.secs_since(at.ts))),
        };
        let human = || {
            let frame = p.probe_at.map_or(String::new(), |at| format!(" (frame {})", at.frame));
            let waited = p.probe_at.map_or(String::new(), |at| format!(" after {:.3} s", time.secs_since(at.ts)));
            let why = match p.confirmed_by {
                Confirmation::NextProbe => "the next probe followed",
                Confirmation::ProberReset => "the prober gave up with a RST",
                Confirmation::Timeout => "no answer",
            };
            format!("{prober} ({role}) probe {}{frame}: {why}{waited}", p.probe)
        };
        self.emit("probe-unanswered", time, Some(on), body, human)
    }

    fn connection_ended(
        &mut self,
        time: Timestamp,
        on: Endpoints,
        e: ConnectionEnded<'_>,
        note: Option<&HostNote>,
    ) -> io::Result<()> {
        let report = e.report;
        let body = ConnectionEndedJson {
            end_reason: e.end_reason,
            ended_by: report.ended_by.as_deref(),
            detected_by: e.detected_by.name(),
            revised: e.revised,
            silence_s: e.silence_s,
            host: note,
            connection: report,
        };
        let human = || {
            format!(
                "{} -> {}: {}{}{}\n{}",
                report.client,
                report.server,
                e.end_reason,
                report.reset_cause.map_or(String::new(), |c| format!(" ({})", c.as_str())),
                if e.revised { " (revised)" } else { "" },
                report.diagnosis
            ) + &note.map_or(String::new(), |n| format!("\n{}", n.words()))
        };
        self.emit("connection-ended", time, Some(on), body, human)
    }

    /// `{"event":"final-report",...,"report":DOC}`: DOC is the JSON document
    /// `tcpka analyze --format json` prints, on one line.
    pub fn final_report(&mut self, now: Timestamp, doc: &mut dyn Read) -> io::Result<()> {
        #[derive(Serialize)]
        struct Head<'a> {
            event: &'a str,
            time: String,
            client: Option<String>,
            server: Option<String>,
            connection_id: Option<u64>,
            community_id: Option<String>,
        }
        let head = serde_json::to_string(&Head {
            event: "final-report",
            time: now.to_rfc3339(),
            client: None,
            server: None,
            connection_id: None,
            community_id: None,
        })?;
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

impl<W: Write> LiveEvents<W> {
    /// A connection event, with what tcpka says of the prober's host when
    /// that is the host it runs on.
    pub fn connection_event_noted(
        &mut self,
        time: Timestamp,
        on: Endpoints,
        event: ConnectionEvent<'_>,
        note: Option<&HostNote>,
    ) -> io::Result<()> {
        match event {
            ConnectionEvent::KeepaliveTrain(t) => self.keepalive_train(time, on, t, note),
            ConnectionEvent::ProbeUnanswered(p) => self.probe_unanswered(time, on, p),
            ConnectionEvent::ConnectionEnded(e) => self.connection_ended(time, on, e, note),
        }
    }
}

impl<W: Write> EventSink for LiveEvents<W> {
    fn connection_event(&mut self, time: Timestamp, on: Endpoints, event: ConnectionEvent<'_>) -> io::Result<()> {
        self.connection_event_noted(time, on, event, None)
    }

    fn capture_stats(&mut self, time: Timestamp, s: &CaptureStats) -> io::Result<()> {
        if !self.json {
            return Ok(()); // human: printed on stderr
        }
        let body = CaptureStatsJson {
            received: s.received,
            dropped: s.dropped,
            if_dropped: s.if_dropped,
            not_analysed: s.not_analysed,
            events_dropped: s.events_dropped,
            packets: s.packets,
            connections_open: s.connections_open,
            is_final: s.is_final,
        };
        self.emit("capture-stats", time, None, body, String::new)
    }

    /// A blank line between the human event lines and the final table.
    fn finish(&mut self) -> io::Result<()> {
        if self.json { Ok(()) } else { self.out.write_all(b"\n") }
    }
}
