//! `--format json`: one JSON document, written as connections are judged so
//! memory does not grow with the number of connections. Connections come
//! first, in the order they were judged (closed ones when their linger time
//! ran out, the rest at the end of each capture in order of first packet);
//! then `captures`, `hosts` and `summary`. The shape is documented in the README.

use crate::report::connection_json::Naming;
use crate::report::connection_stream::{ConnectionStream, Framing, Written};
use crate::report::{ConnectionReport, Judged, JudgedConnection, ReportSink, RunReport};
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
    /// Writes the connections on a thread of their own
    /// ([`ConnectionStream::on_thread`]), which owns `out` until they are written.
    pub fn on_thread(out: W) -> io::Result<JsonSink<W>> {
        Ok(JsonSink { connections: Some(ConnectionStream::on_thread(out, Naming::Json, Framing::Document)?) })
    }
}

impl<W: Write> ReportSink for JsonSink<W> {
    fn wants(&mut self, _: crate::verdict::EndReason) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::connection_stream::BUFFER;
    use crate::report::tests::judge_every_fixture;
    use crate::testkit::SharedOutput;

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
    fn a_writing_thread_writes_the_document_the_analysing_thread_writes() {
        let (here, on_thread) = (SharedOutput::default(), SharedOutput::default());
        let mut sink = JsonSink::new(here.clone());
        assert!(!sink.wants_owned());
        judge_every_fixture(&mut sink);
        let mut sink = JsonSink::on_thread(on_thread.clone()).unwrap();
        // The Judge hands it each connection owned, for the writing thread.
        assert!(sink.wants_owned());
        judge_every_fixture(&mut sink);
        drop(sink);
        let (here, on_thread) = (here.0.lock().unwrap().clone(), on_thread.0.lock().unwrap().clone());
        let doc: serde_json::Value = serde_json::from_slice(&on_thread).unwrap();
        assert!(doc["connections"].as_array().unwrap().len() > 1000);
        assert!(here == on_thread, "the two documents differ");
    }

    #[test]
    fn the_connections_go_out_in_buffers_that_end_with_a_line() {
        let mut out = Writes::default();
        let mut sink = JsonSink::new(&mut out);
        judge_every_fixture(&mut sink);
        // The sink borrows the output until it goes (it may own a writing thread).
        drop(sink);
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
