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

    /// The document's start before the first connection, the separator
    /// before the others; then, when the buffer is full, hands it out.
    fn before_connection(&mut self) -> io::Result<()> {
        if self.connections == 0 {
            self.start();
        } else {
            self.buf.push(b',');
        }
        self.buf.push(b'\n');
        self.connections += 1;
        self.hand_out_if_full()
    }

    fn start(&mut self) {
        self.buf.extend_from_slice(b"{\"tool\":\"tcpka\",\"version\":\"");
        self.buf.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
        self.buf.extend_from_slice(b"\",\"connections\":[");
    }

    /// Hands the buffer out when it is full, after a newline: standard
    /// output's `LineWriter` then passes it on in one `write`, where a
    /// buffer ending inside a line was two (the lines, then the part of
    /// one it had kept back, copied) — 7,195 writes on the bench capture.
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
        self.before_connection()?;
        self.writer.write(&mut self.buf, Naming::Json, judged)
    }

    fn connection(&mut self, report: &ConnectionReport) -> io::Result<()> {
        self.before_connection()?;
        serde_json::to_writer(&mut self.buf, report).map_err(io::Error::from)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Judge;
    use crate::source::series::Joining;
    use std::ffi::OsString;

    /// Keeps every `write` it is given, one by one.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for &mut Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_connections_go_out_in_buffers_that_end_with_a_line() {
        let mut out = Writes::default();
        let mut sink = JsonSink::new(&mut out);
        let mut judge = Judge::new(&mut sink, Default::default());
        for file in crate::testkit::every_fixture_capture() {
            let files = [OsString::from(file)];
            crate::analyze::analyze_files(
                &mut judge,
                &files,
                None,
                Joining::Separate,
                |_, _, _| {},
                None,
                &Default::default(),
            )
            .unwrap();
        }
        judge.finish().unwrap();
        let bytes = out.0.concat();
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(doc["connections"].as_array().unwrap().len() > 1000);
        // The writes while connections were judged: whole buffers, each
        // ending with the newline before the next connection.
        let full: Vec<&Vec<u8>> = out.0.iter().take_while(|w| w.len() >= BUFFER).collect();
        assert!(full.len() > 10, "{} full buffers", full.len());
        assert!(full.iter().all(|w| w.ends_with(b",\n")), "a buffer handed out inside a line");
        // Then the last connections, and the rest of the document.
        let rest = &bytes[full.iter().map(|w| w.len()).sum::<usize>()..];
        assert!(rest.len() < BUFFER + 100_000, "{} bytes held back", rest.len());
    }
}
