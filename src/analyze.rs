//! `tcpka analyze`: capture files through the pipeline.

use crate::capture::{CaptureFile, Next};
use crate::decode::Segment;
use crate::flow::{PacketClass, PacketRef};
use crate::pipeline::{Judge, Pipeline};
use std::io;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

/// Called for every TCP segment with its classification (`--trace`).
pub type Tracer<'a> = dyn FnMut(PacketRef, &Segment, PacketClass) -> io::Result<()> + 'a;

/// Packets per batch handed from the reader thread to the analysing one.
const BATCH_PACKETS: usize = 4096;
/// Batches in flight: the reader runs at most this far ahead.
const BATCHES_IN_FLIGHT: usize = 4;
/// Only the headers are analysed, so only the first bytes of each packet
/// cross threads: enough for link, VLAN, PPPoE, IP (with options or
/// extension headers) and TCP headers. Like a snapshot length, a cut payload
/// does not matter: lengths come from the IP header.
const KEPT_BYTES: usize = 512;

/// A run of packets read ahead. Batches go back to the reader to be
/// refilled, so reading allocates nothing per packet.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    packets: Vec<Entry>,
    /// File bytes read up to the end of this batch (for the progress bar).
    file_bytes: u64,
    /// How the file ended, on its last batch.
    end: Option<Result<(), String>>,
}

struct Entry {
    ts: crate::time::Timestamp,
    start: u32,
    len: u32,
    /// Rejected by the filter: it still takes a frame number.
    filtered: bool,
}

/// The reader thread: fills batches from the file until it ends.
fn read_ahead(mut file: CaptureFile, full: SyncSender<Batch>, empty: Receiver<Batch>) {
    let mut file_bytes: u64 = 24;
    loop {
        let mut batch = empty.try_recv().unwrap_or_default();
        batch.bytes.clear();
        batch.packets.clear();
        while batch.packets.len() < BATCH_PACKETS && batch.end.is_none() {
            match file.next_packet() {
                Next::Packet(p) => {
                    file_bytes += 16 + p.data.len() as u64;
                    let kept = &p.data[..p.data.len().min(KEPT_BYTES)];
                    let start = batch.bytes.len() as u32;
                    batch.bytes.extend_from_slice(kept);
                    batch.packets.push(Entry { ts: p.ts, start, len: kept.len() as u32, filtered: false });
                }
                Next::Filtered => {
                    batch.packets.push(Entry { ts: Default::default(), start: 0, len: 0, filtered: true })
                }
                Next::End => batch.end = Some(Ok(())),
                Next::Broken(reason) => batch.end = Some(Err(reason)),
            }
        }
        batch.file_bytes = file_bytes;
        let last = batch.end.is_some();
        if full.send(batch).is_err() || last {
            return;
        }
    }
}

/// Reads every file in turn. A file that cannot be read is reported and
/// skipped; the others are still analysed. Returns the messages of files
/// that could not be read (fully).
///
/// Two threads share the work: one reads the file through libpcap, the
/// other decodes, tracks and judges (the machine this runs on most often,
/// a laptop, has at least two cores).
pub fn analyze_files(
    judge: &mut Judge<'_>,
    files: &[String],
    filter: Option<&str>,
    mut progress: impl FnMut(&str, u64, Option<u64>),
    mut trace: Option<&mut Tracer<'_>>,
) -> io::Result<Vec<String>> {
    let mut input_errors = Vec::new();
    for path in files {
        let file = match CaptureFile::open(path, filter) {
            Ok(f) => f,
            Err(e) => {
                judge.add_unreadable(path, e.to_string());
                input_errors.push(e.to_string());
                continue;
            }
        };
        let mut pipeline = Pipeline::new(judge, &file.path, file.format, file.link, &file.link_name);
        let size = file.size;
        let (full_tx, full_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (empty_tx, empty_rx) = channel::<Batch>();
        let result = std::thread::scope(|scope| -> io::Result<()> {
            scope.spawn(move || read_ahead(file, full_tx, empty_rx));
            // Dropping the receiver on an early return (an output error)
            // stops the reader at its next send.
            let full_rx = full_rx;
            for mut batch in full_rx.iter() {
                for entry in &batch.packets {
                    if entry.filtered {
                        pipeline.skip();
                        continue;
                    }
                    let data = &batch.bytes[entry.start as usize..(entry.start + entry.len) as usize];
                    if let (Some((seg, class)), Some(t)) = (pipeline.packet(entry.ts, data)?, trace.as_mut()) {
                        t(PacketRef { frame: pipeline.frames(), ts: entry.ts }, &seg, class)?;
                    }
                }
                progress(path, batch.file_bytes, size);
                if let Some(end) = batch.end.take() {
                    if let Err(reason) = end {
                        let msg = format!(
                            "{path}: the file is cut off or damaged after packet {}: {reason}; the packets before it were analysed",
                            pipeline.frames()
                        );
                        pipeline.warn(msg.clone());
                        input_errors.push(msg);
                    }
                    break;
                }
                let _ = empty_tx.send(batch);
            }
            Ok(())
        });
        result?;
        pipeline.end()?;
        progress(path, size.unwrap_or(0), size);
    }
    Ok(input_errors)
}
