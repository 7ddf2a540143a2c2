//! `--format json`: one JSON document, written as connections are judged so
//! memory does not grow with the number of connections. Connections come
//! first, in the order they were judged (closed ones when their linger time
//! ran out, the rest at the end of each capture in order of first packet);
//! then `captures`, `hosts` and `summary`. The shape is documented in the README.

use crate::report::connection_json::{ConnectionWriter, Naming};
use crate::report::{ConnectionReport, Judged, ReportSink, RunReport};
use std::io::{self, Write};

/// The connections are written into a buffer of this size, then to the
/// output in one piece.
const BUFFER: usize = 64 * 1024;

pub struct JsonSink<W: Write> {
    out: W,
    /// What is written and not yet handed to `out`.
    buf: Vec<u8>,
    writer: ConnectionWriter,
    connections: u64,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W) -> JsonSink<W> {
        JsonSink { out, buf: Vec::with_capacity(BUFFER), writer: ConnectionWriter::default(), connections: 0 }
    }

    /// The document's start before the first connection, the separator before the others.
    fn before_connection(&mut self) {
        if self.connections == 0 {
            self.start();
        } else {
            self.buf.push(b',');
        }
        self.buf.push(b'\n');
        self.connections += 1;
    }

    fn start(&mut self) {
        self.buf.extend_from_slice(b"{\"tool\":\"tcpka\",\"version\":\"");
        self.buf.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
        self.buf.extend_from_slice(b"\",\"connections\":[");
    }

    fn hand_out_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= BUFFER {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl<W: Write> ReportSink for JsonSink<W> {
    fn wants(&mut self, _: crate::verdict::EndReason) -> bool {
        true
    }

    fn judged(&mut self, judged: &Judged<'_>) -> io::Result<()> {
        self.before_connection();
        self.writer.write(&mut self.buf, Naming::Json, judged)?;
        self.hand_out_if_full()
    }

    fn connection(&mut self, report: &ConnectionReport) -> io::Result<()> {
        self.before_connection();
        serde_json::to_writer(&mut self.buf, report)?;
        self.hand_out_if_full()
    }

    fn finish(&mut self, run: &RunReport<'_>) -> io::Result<()> {
        if self.connections == 0 {
            self.start();
        }
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.write_all(b"\n],\n\"captures\":")?;
        serde_json::to_writer(&mut self.out, run.captures)?;
        self.out.write_all(b",\n\"hosts\":")?;
        serde_json::to_writer(&mut self.out, &run.host_reports())?;
        self.out.write_all(b",\n\"paths\":")?;
        serde_json::to_writer(&mut self.out, &run.path_reports())?;
        self.out.write_all(b",\n\"reconnect_storms\":")?;
        serde_json::to_writer(&mut self.out, &run.storm_reports())?;
        if let Some(vantage) = run.vantage {
            self.out.write_all(b",\n\"vantage\":")?;
            serde_json::to_writer(&mut self.out, vantage)?;
        }
        self.out.write_all(b",\n\"summary\":")?;
        serde_json::to_writer(&mut self.out, run.summary)?;
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }
}
