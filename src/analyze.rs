//! `tcpka analyze`: capture files through the pipeline.

use crate::decode::Segment;
use crate::flow::{PacketClass, PacketRef};
use crate::pipeline::{Judge, Pipeline};
use crate::source::file::FileSource;
use crate::source::{Next, PacketSource};
use std::io;

/// Called for every TCP segment with its classification (`--trace`).
pub type Tracer<'a> = dyn FnMut(PacketRef, &Segment, PacketClass) -> io::Result<()> + 'a;

/// Reads every file in turn. A file that cannot be read is reported and
/// skipped; the others are still analysed. Returns the messages of files
/// that could not be read (fully).
pub fn analyze_files(
    judge: &mut Judge<'_>,
    files: &[String],
    filter: Option<&str>,
    mut progress: impl FnMut(&str, u64, Option<u64>),
    mut trace: Option<&mut Tracer<'_>>,
) -> io::Result<Vec<String>> {
    let mut input_errors = Vec::new();
    for path in files {
        let mut source = match FileSource::open(path, filter) {
            Ok(f) => f,
            Err(e) => {
                judge.add_unreadable(path, e.to_string());
                input_errors.push(e.to_string());
                continue;
            }
        };
        let format = source.format.clone();
        let mut pipeline = Pipeline::new(judge, &source.path, Some(&format), source.link());
        let size = source.size;
        let mut reported = 0;
        loop {
            if source.bytes_done() != reported {
                reported = source.bytes_done();
                progress(path, reported, size);
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
                    let msg = format!(
                        "{path}: the file is cut off or damaged after packet {}: {reason}; the packets before it were analysed",
                        pipeline.frames()
                    );
                    pipeline.warn(msg.clone());
                    input_errors.push(msg);
                    break;
                }
            }
        }
        for warning in source.take_warnings() {
            pipeline.warn(warning);
        }
        drop(source);
        pipeline.end()?;
        progress(path, size.unwrap_or(0), size);
    }
    Ok(input_errors)
}
