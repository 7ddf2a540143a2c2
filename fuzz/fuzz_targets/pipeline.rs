//! The whole pipeline, as `tcpka analyze` runs it: any bytes as a capture
//! file → decode → flow table → verdicts → findings → the JSON document,
//! the `--all` table, the NDJSON lines, the HTML page, the `--trace` lines
//! and the live event stream, all at once. Nothing may panic, and the JSON
//! must be valid: one document whose connections are those the summary
//! counts, one valid object per NDJSON line (a line per connection and the
//! summary) and per event line.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;
use std::io::{self, Write};
use tcpka::EndReason;
use tcpka::HtmlSink;
use tcpka::JsonSink;
use tcpka::Judge;
use tcpka::NdjsonSink;
use tcpka::ReportSink;
use tcpka::Segment;
use tcpka::Selector;
use tcpka::TableSink;
use tcpka::analyze_files;
use tcpka::fuzzing::LiveEvents;
use tcpka::fuzzing::{ConnectionReport, RunReport};
use tcpka::{PacketClass, PacketRef};

/// Hands every report to both writers.
struct Both<A, B>(A, B);

impl<A: ReportSink, B: ReportSink> ReportSink for Both<A, B> {
    fn wants(&mut self, end_reason: EndReason) -> bool {
        let first = self.0.wants(end_reason);
        self.1.wants(end_reason) || first
    }
    fn connection(&mut self, report: &ConnectionReport) -> io::Result<()> {
        self.0.connection(report)?;
        self.1.connection(report)
    }
    fn finish(&mut self, run: &RunReport<'_>) -> io::Result<()> {
        self.0.finish(run)?;
        self.1.finish(run)
    }
}

fuzz_target!(|data: &[u8]| {
    let path = common::capture_file(data);
    let (mut json, mut table, mut events, mut trace) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut ndjson, mut html) = (Vec::new(), Vec::new());
    {
        let mut sink = Both(
            Both(JsonSink::new(&mut json), TableSink::new(&mut table, true)),
            Both(NdjsonSink::new(&mut ndjson), HtmlSink::new(&mut html, true)),
        );
        let mut live = LiveEvents::new(&mut events, true);
        let fail_on: BTreeSet<Selector> = EndReason::ALL.into_iter().map(Selector::from).collect();
        let mut judge = Judge::new(&mut sink, fail_on).streaming(&mut live);
        let mut print_trace = |at: PacketRef, seg: &Segment, class: PacketClass| {
            writeln!(trace, "{:>8} {} {} > {} {:?}", at.frame, at.ts, seg.src, seg.dst, class)
        };
        analyze_files(
            &mut judge,
            &[path],
            None,
            tcpka::Joining::Auto,
            |_, _, _| {},
            Some(&mut print_trace),
            &Default::default(),
        )
        .expect("writes to memory");
        judge.finish().expect("writes to memory");
    }
    let doc: serde_json::Value = serde_json::from_slice(&json).expect("the JSON document is valid");
    let connections = doc["connections"].as_array().expect("a connections array").len() as u64;
    assert_eq!(Some(connections), doc["summary"]["connections"].as_u64(), "connections listed and counted");
    for line in events.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        serde_json::from_slice::<serde_json::Value>(line).expect("each event line is valid JSON");
    }
    // One NDJSON line per connection, then the summary.
    let lines: Vec<&[u8]> = ndjson.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len() as u64, connections + 1, "a line per connection and a summary");
    for line in lines {
        serde_json::from_slice::<serde_json::Value>(line).expect("each NDJSON line is valid JSON");
    }
    let html = std::str::from_utf8(&html).expect("the HTML is UTF-8");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"), "a whole page");
    std::str::from_utf8(&table).expect("the table is UTF-8");
    std::str::from_utf8(&trace).expect("the trace is UTF-8");
});
