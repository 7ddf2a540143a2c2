//! `tcpka analyze`: capture files through the pipeline.

use crate::capture::{CaptureFile, Next};
use crate::decode::Segment;
use crate::flow::{PacketClass, PacketRef};
use crate::pipeline::{Judge, Pipeline};
use std::io;

/// Called for every TCP segment with its classification (`--trace`).
pub type Tracer<'a> = dyn FnMut(PacketRef, &Segment, PacketClass) -> io::Result<()> + 'a;

/// How an analysis went, for the exit code.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// A connection ended with a `--fail-on` verdict.
    pub failed_verdict: bool,
    /// Messages for files that could not be read, or only in part.
    pub input_errors: Vec<String>,
}

/// Reads every file in turn. A file that cannot be read is reported and
/// skipped; the others are still analysed.
pub fn analyze_files(
    judge: &mut Judge<'_>,
    files: &[String],
    filter: Option<&str>,
    mut progress: impl FnMut(&str, u64, Option<u64>),
    mut trace: Option<&mut Tracer<'_>>,
) -> io::Result<Vec<String>> {
    let mut input_errors = Vec::new();
    for path in files {
        let mut file = match CaptureFile::open(path, filter) {
            Ok(f) => f,
            Err(e) => {
                judge.add_unreadable(path, e.to_string());
                input_errors.push(e.to_string());
                continue;
            }
        };
        let mut pipeline = Pipeline::new(judge, &file.path, file.format, file.link, &file.link_name);
        let size = file.size;
        let mut bytes: u64 = 24;
        let mut packets: u64 = 0;
        loop {
            match file.next() {
                Next::Packet(p) => {
                    bytes += 16 + p.data.len() as u64;
                    let ts = p.ts;
                    if let (Some((seg, class)), Some(t)) = (pipeline.packet(ts, p.data)?, trace.as_mut()) {
                        t(PacketRef { frame: pipeline.frames(), ts }, &seg, class)?;
                    }
                }
                Next::Filtered => pipeline.skip(),
                Next::End => break,
                Next::Broken(reason) => {
                    let msg = format!(
                        "{path}: the file is cut off or damaged after packet {packets}: {reason}; the packets before it were analysed"
                    );
                    pipeline.warn(msg.clone());
                    input_errors.push(msg);
                    break;
                }
            }
            packets += 1;
            if packets % 65536 == 0 {
                progress(path, bytes, size);
            }
        }
        pipeline.end()?;
        progress(path, size.unwrap_or(bytes), size);
    }
    Ok(input_errors)
}
