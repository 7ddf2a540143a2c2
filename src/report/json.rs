//! `--format json`: one JSON document, written as connections are judged so
//! memory does not grow with the number of connections. Connections come
//! first, in the order they were judged (closed ones when their linger time
//! ran out, the rest at the end of each capture in order of first packet);
//! then `captures`, `hosts` and `summary`. The shape is documented in the README.

use crate::report::{ConnectionReport, ReportSink, RunReport};
use std::io::{self, Write};

pub struct JsonSink<W: Write> {
    out: W,
    connections: u64,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W) -> JsonSink<W> {
        JsonSink { out, connections: 0 }
    }

    fn start_if_needed(&mut self) -> io::Result<()> {
        if self.connections == 0 {
            write!(self.out, "{{\"tool\":\"tcpka\",\"version\":\"{}\",\"connections\":[", env!("CARGO_PKG_VERSION"))?;
        }
        Ok(())
    }
}

impl<W: Write> ReportSink for JsonSink<W> {
    fn wants(&mut self, _: crate::verdict::EndReason) -> bool {
        true
    }

    fn connection(&mut self, report: &ConnectionReport) -> io::Result<()> {
        self.start_if_needed()?;
        if self.connections > 0 {
            self.out.write_all(b",")?;
        }
        self.out.write_all(b"\n")?;
        serde_json::to_writer(&mut self.out, report)?;
        self.connections += 1;
        Ok(())
    }

    fn finish(&mut self, run: &RunReport<'_>) -> io::Result<()> {
        self.start_if_needed()?;
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
