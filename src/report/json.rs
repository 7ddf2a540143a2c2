//! `--format json`: one JSON document, written as connections are judged so
//! memory does not grow with the number of connections. Connections come
//! first, in the order they were judged (closed ones when their linger time
//! ran out, the rest at the end of each capture in order of first packet);
//! then `captures`, `hosts` and `summary`. The shape is documented in the README.

use crate::report::connection_json::Naming;
use crate::report::connection_stream::{ConnectionStream, Framing, Written};
use crate::report::{ConnectionReport, JudgedConnection, ReportSink, RunReport};
use std::io::{self, Write};

pub struct JsonSink<W: Write> {
    /// The connections, until the end of the document is written.
    connections: Option<ConnectionStream<W>>,
}

impl<W: Write> JsonSink<W> {
    /// Writes each connection in the thread that judged it.
    pub fn new(out: W) -> JsonSink<W> {
        JsonSink { connections: Some(ConnectionStream::here(out, Naming::Json, Framing::Document)) }
    }

    fn connections(&mut self) -> &mut ConnectionStream<W> {
        self.connections.as_mut().expect("no connection after the end of the document")
    }
}

impl<W: Write + Send + 'static> JsonSink<W> {
    /// Writes the connections on a thread of their own ([`ConnectionStream::on_thread`]).
    pub fn on_thread(out: W) -> io::Result<JsonSink<W>> {
        Ok(JsonSink { connections: Some(ConnectionStream::on_thread(out, Naming::Json, Framing::Document)?) })
    }
}

impl<W: Write> ReportSink for JsonSink<W> {
    fn wants(&mut self, _: crate::verdict::EndReason) -> bool {
        true
    }

    fn hand_over(&mut self, judged: JudgedConnection) -> io::Result<()> {
        self.connections().judged(judged)
    }

    fn connection(&mut self, report: &ConnectionReport) -> io::Result<()> {
        self.connections().report(report)
    }

    fn finish(&mut self, run: &RunReport<'_>) -> io::Result<()> {
        let Written { mut out, .. } = self.connections.take().expect("the document ends once").finish()?;
        out.write_all(b"\n],\n\"captures\":")?;
        serde_json::to_writer(&mut out, run.captures)?;
        out.write_all(b",\n\"hosts\":")?;
        serde_json::to_writer(&mut out, &run.host_reports())?;
        out.write_all(b",\n\"paths\":")?;
        serde_json::to_writer(&mut out, &run.path_reports())?;
        out.write_all(b",\n\"reconnect_storms\":")?;
        serde_json::to_writer(&mut out, &run.storm_reports())?;
        if let Some(vantage) = run.vantage {
            out.write_all(b",\n\"vantage\":")?;
            serde_json::to_writer(&mut out, vantage)?;
        }
        out.write_all(b",\n\"summary\":")?;
        serde_json::to_writer(&mut out, run.summary)?;
        out.write_all(b"}\n")?;
        out.flush()
    }
}
