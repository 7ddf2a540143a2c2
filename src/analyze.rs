//! `tcpka analyze`: capture files through the pipeline.

use crate::decode::Segment;
use crate::flow::{PacketClass, PacketRef};
use crate::pipeline::{Judge, Pipeline};
use crate::source::file::FileSource;
use crate::source::{Next, PacketSource, filter};
use std::ffi::OsString;
use std::io;
use thiserror::Error;

/// Called for every TCP segment with its classification (`--trace`).
pub type Tracer<'a> = dyn FnMut(PacketRef, &Segment, PacketClass) -> io::Result<()> + 'a;

/// Why a run stopped before reading any file, or in the middle.
#[derive(Debug, Error)]
pub enum AnalyzeError {
    /// Checked once, before any file is read.
    #[error("bad filter '{filter}': {reason}")]
    BadFilter { filter: String, reason: String },
    /// Writing the report (or the trace) failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// What a run read.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One message per file that could not be read, or not fully, naming it.
    pub input_errors: Vec<String>,
    /// Files that could be opened and read (fully or up to a damage).
    pub captures_read: usize,
}

/// Reads every file in turn ("-" = standard input). A file that cannot be
/// read is reported and skipped; the others are still analysed. The filter
/// is checked first, for Ethernet (the link type whose filters are a
/// superset): a syntax error is said once, before any file is read.
pub fn analyze_files(
    judge: &mut Judge<'_>,
    files: &[OsString],
    filter: Option<&str>,
    mut progress: impl FnMut(&str, u64, Option<u64>),
    mut trace: Option<&mut Tracer<'_>>,
) -> Result<Outcome, AnalyzeError> {
    if let Some(expr) = filter {
        filter::compile(expr, 1, false).map_err(|reason| AnalyzeError::BadFilter { filter: expr.into(), reason })?;
    }
    let mut outcome = Outcome::default();
    for file in files {
        let name = file.to_string_lossy();
        let mut source = match FileSource::open(file, filter) {
            Ok(f) => f,
            Err(e) => {
                judge.add_unreadable(&name, e.to_string());
                outcome.input_errors.push(e.to_string());
                continue;
            }
        };
        outcome.captures_read += 1;
        let format = source.format.clone();
        let mut pipeline = Pipeline::new(judge, &source.path, Some(&format), source.link());
        let size = source.size;
        let mut reported = 0;
        loop {
            if source.bytes_done() != reported {
                reported = source.bytes_done();
                progress(&name, reported, size);
            }
            match source.next_packet() {
                Next::Packet(p) => {
                    if let (Some((seg, class)), Some(t)) = (pipeline.packet(p.ts, p.data)?, trace.as_mut()) {
                        t(PacketRef { frame: pipeline.frames(), ts: p.ts }, &seg, class)?;
                    }
                }
                Next::Link(link) => pipeline.set_link(link),
                Next::Filtered => pipeline.skip(),
                Next::End | Next::Idle => break,
                Next::Broken(reason) => {
                    // The capture's error: what was read before it is in the report.
                    let msg = format!(
                        "{name}: the file is cut off or damaged after packet {}: {reason}; the packets before it were analysed",
                        pipeline.frames()
                    );
                    pipeline.set_error(msg.clone());
                    outcome.input_errors.push(msg);
                    break;
                }
            }
        }
        for warning in source.take_warnings() {
            pipeline.warn(warning);
        }
        if let Some(end) = source.capture_end() {
            pipeline.ran_until(end);
        }
        drop(source);
        pipeline.end()?;
        progress(&name, size.unwrap_or(0), size);
    }
    Ok(outcome)
}
