//! The file source: pcap and pcapng captures from a file, a pipe or
//! standard input, read by [`reader`](crate::source::reader) on a thread of
//! its own, which reads ahead in batches while the caller's thread tracks
//! and judges (the machine this runs on most often, a laptop, has at least
//! two cores). What needs only the frame itself is done on the reader's
//! thread too: the filter, decoding, and the duplicate check's print
//! ([`Frame`]); the analysing thread, which has the flow table, verdicts and
//! reports to do besides, was the one that took longer.
//!
//! A pcapng's interfaces may each have their own link type: packets carry
//! the index of their link, and the source says when it changes
//! ([`Next::Link`]). A BPF filter is compiled per link type and applied
//! packet by packet ([`filter`](crate::source::filter)).

use crate::decode;
use crate::source::filter::Filter;
use crate::source::input::{self, Input};
use crate::source::reader::{CaptureReader, Drops, ReadError, Record, at_byte};
use crate::source::{Frame, Link, Next, PacketSource};
use crate::time::Timestamp;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;
use thiserror::Error;

/// Why a capture could not be opened or read.
#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open { path: String, source: std::io::Error },
    #[error("{path}: empty file (0 bytes): not a capture")]
    Empty { path: String },
    #[error("{path}: not a pcap or pcapng capture ({reason})")]
    NotACapture { path: String, reason: String },
    #[error(
        "{path}: unsupported link type {name} (DLT {dlt}{description}); tcpka reads Ethernet (with VLAN/QinQ, PPPoE), Linux cooked SLL/SLL2, raw IP, BSD loopback and NFLOG"
    )]
    UnsupportedLink { path: String, dlt: i32, name: String, description: String },
    /// The filter compiles (it was checked for Ethernet) but not for this file's link type.
    #[error("{path}: the filter '{filter}' does not apply to this capture's link type: {reason}")]
    BadFilter { path: String, filter: String, reason: String },
    /// The compressed data broke off before the capture's first bytes.
    #[error("{path}: {reason}")]
    Damaged { path: String, reason: String },
}

/// Packets per batch handed from the reader thread to the analysing one.
/// A decoded packet takes 144 bytes (its headers took about 90): 1,024 of
/// them keep the batches in flight within about 1.5 MiB (the peak memory at
/// 2,000 open connections is meant to stay under 16 MiB).
const BATCH_PACKETS: usize = 1024;
/// Batches in flight: the reader runs at most this far ahead.
const BATCHES_IN_FLIGHT: usize = 8;

/// A run of packets read ahead. Batches go back to the reader to be
/// refilled, so reading allocates nothing per packet.
#[derive(Default)]
struct Batch {
    packets: Vec<Entry>,
    /// Links first seen in this batch, in the order of their indices.
    links: Vec<Link>,
    /// File bytes read up to the end of this batch (for the progress bar).
    file_bytes: u64,
    /// How the file ended, on its last batch.
    end: Option<End>,
}

struct Entry {
    /// The packet decoded (nothing decoded when `skipped`: its time only).
    frame: Frame,
    /// Index of the packet's link in [`FileSource::links`].
    link: u16,
    /// Not to be analysed (rejected by the filter, or on a link type tcpka
    /// does not read): it still takes a frame number.
    skipped: bool,
}

impl Entry {
    /// A packet not to be analysed, at `ts`.
    fn skipped(ts: Timestamp, link: u16) -> Entry {
        let frame = Frame { ts, decoded: decode::Decoded::NotTcp, print: Default::default() };
        Entry { frame, link, skipped: true }
    }
}

/// How a file ended: cleanly or broken off, and what the reader has to say.
struct End {
    broken: Option<String>,
    /// Damaged places the reader skipped, in order.
    skipped: Vec<Skipped>,
    warnings: Vec<String>,
    /// When the capture ended, by its pcapng statistics.
    capture_end: Option<Timestamp>,
}

/// What becomes of the packets of one interface.
#[derive(Clone, Copy)]
enum Route {
    /// Analysed, on link `link`, through filter program `filter`.
    Read { link: u16, filter: Option<usize> },
    /// On a link type tcpka does not read: counted in `skipped[index]`.
    Skip(usize),
}

/// The reading side: the stream, and where each interface's packets go.
struct Reading {
    reader: CaptureReader<Box<dyn Read + Send>>,
    filter: Option<Filter>,
    /// Per interface of the current section.
    routes: Vec<Route>,
    /// Every link seen so far, by index.
    links: Vec<Link>,
    /// Links not yet handed to the source.
    new_links: Vec<Link>,
    /// Unreadable link types (DLT, name) and their packet counts.
    skipped: Vec<(i32, String, u64)>,
    read: Arc<AtomicU64>,
    /// The stream is decompressed: byte offsets are the decompressed capture's.
    decompressed: bool,
    /// The pcapng section being read (0, 1, …).
    section: usize,
    /// The latest Interface Statistics Block's drops, per (section, interface).
    drops: Vec<((usize, usize), Drops)>,
    /// The latest end time an Interface Statistics Block gave.
    capture_end: Option<Timestamp>,
    /// Packets read so far (each takes a frame number, analysed or not).
    packets: u64,
    /// Damaged places skipped so far.
    damaged: Vec<Skipped>,
}

/// A damaged place in a capture that reading went on after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The number of the last packet before it.
    pub after_packet: u64,
    /// What was damaged, and where.
    pub damage: String,
    /// Where reading resumed: "at byte N" (of the decompressed capture, when compressed).
    pub resumed_at: String,
    /// Bytes skipped, from the damaged record to where reading resumed.
    pub bytes: u64,
}

impl Reading {
    /// Routes interface `index` of the reader's current section.
    fn route(&mut self, index: usize) -> Result<(), String> {
        let Some(interface) = self.reader.interface(index) else { return Ok(()) };
        let (dlt, swapped) = (interface.dlt, interface.swapped);
        let route = match Link::of(pcap::Linktype(dlt)) {
            Ok(link) => {
                let filter = match &mut self.filter {
                    Some(f) => Some(f.program(dlt, swapped)?),
                    None => None,
                };
                let index = match self.links.iter().position(|l| *l == link) {
                    Some(i) => i,
                    None => {
                        self.links.push(link.clone());
                        self.new_links.push(link);
                        self.links.len() - 1
                    }
                };
                Route::Read { link: index as u16, filter }
            }
            Err(unsupported) => {
                let i = self.skipped.iter().position(|s| s.0 == dlt).unwrap_or_else(|| {
                    self.skipped.push((dlt, unsupported.name, 0));
                    self.skipped.len() - 1
                });
                Route::Skip(i)
            }
        };
        self.routes.truncate(index);
        self.routes.push(route);
        Ok(())
    }

    /// The warnings for packets lost before the capture, and for packets
    /// not analysed because of their link type.
    fn warnings(&self) -> Vec<String> {
        let by_interface: u64 = self.drops.iter().map(|(_, d)| d.by_interface).sum();
        let by_os: u64 = self.drops.iter().map(|(_, d)| d.by_os).sum();
        let lost = by_interface + by_os;
        let counted = [(by_interface, "by the interface"), (by_os, "by the operating system")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, by)| format!("{n} dropped {by}"))
            .collect::<Vec<_>>()
            .join(", ");
        let drops = (lost > 0).then(|| {
            format!(
                "the capture itself lost {lost} packets (its interface statistics: {counted}): an unanswered probe may be a capture loss"
            )
        });
        drops.into_iter().chain(self.skipped
            .iter()
            .filter(|s| s.2 > 0)
            .map(|(dlt, name, n)| {
                // libpcap has no name for some link types: the number alone then.
                let link = if name.starts_with("DLT_") { format!("DLT {dlt}") } else { format!("{name} (DLT {dlt})") };
                format!("{n} packets on an interface with link type {link} were not analysed: tcpka does not read that link type")
            }))
            .collect()
    }

    /// How the file ended: `broken` off or not, and what the reader has to say.
    fn end(&mut self, broken: Option<String>) -> End {
        End {
            broken,
            skipped: std::mem::take(&mut self.damaged),
            warnings: self.warnings(),
            capture_end: self.capture_end,
        }
    }

    /// Keeps the latest counters of an interface (they count from the start).
    fn statistics(&mut self, interface: usize, drops: Drops) {
        let key = (self.section, interface);
        match self.drops.iter_mut().find(|(k, _)| *k == key) {
            Some((_, latest)) => *latest = drops,
            None => self.drops.push((key, drops)),
        }
    }
}

/// The reader thread: fills batches from the file until it ends.
fn read_ahead(mut reading: Reading, full: SyncSender<Batch>, empty: Receiver<Batch>) {
    loop {
        let mut batch = empty.try_recv().unwrap_or_default();
        batch.packets.clear();
        batch.links.clear();
        let mut broken = None;
        while batch.packets.len() < BATCH_PACKETS && broken.is_none() && batch.end.is_none() {
            let changed = match reading.reader.next_record() {
                Ok(Some(Record::Packet(p))) => {
                    match reading.routes.get(p.interface) {
                        Some(&Route::Read { link, filter }) => {
                            let rejected = match (filter, &reading.filter) {
                                (Some(program), Some(f)) => !f.matches(program, p.data),
                                _ => false,
                            };
                            if rejected {
                                batch.packets.push(Entry::skipped(p.ts, link));
                            } else {
                                // Only the headers are decoded, as a snapshot
                                // length would cut the packet (`headers_len`):
                                // the duplicate check hashes at most these
                                // bytes, as it did when only they crossed to
                                // the analysing thread.
                                let kind = reading.links[link as usize].kind;
                                let kept = &p.data[..decode::headers_len(kind, p.data)];
                                // Decoded where the batch keeps it (see `decode_into`).
                                batch.packets.push(Entry { skipped: false, ..Entry::skipped(p.ts, link) });
                                let entry = batch.packets.last_mut().expect("the entry just pushed");
                                entry.frame.decode_into(kind, kept);
                            }
                        }
                        Some(&Route::Skip(i)) => {
                            reading.skipped[i].2 += 1;
                            batch.packets.push(Entry::skipped(p.ts, 0));
                        }
                        // The reader only hands out packets of described interfaces.
                        None => unreachable!("a packet on an interface not routed"),
                    }
                    reading.packets += 1;
                    None
                }
                Ok(Some(Record::Section)) => {
                    reading.routes.clear();
                    reading.section += 1;
                    None
                }
                Ok(Some(Record::Statistics { interface, drops, ended })) => {
                    reading.statistics(interface, drops);
                    reading.capture_end = reading.capture_end.max(ended);
                    None
                }
                Ok(Some(Record::Interface(i))) => Some(i),
                Ok(None) => {
                    batch.end = Some(reading.end(None));
                    None
                }
                Err(e) => {
                    // Damage in the middle is skipped when a plausible
                    // record follows it; only the end of the stream (or a
                    // failed read) breaks reading off.
                    match reading.reader.resync(&e) {
                        Ok(Some(resumed_at)) => reading.damaged.push(Skipped {
                            after_packet: reading.packets,
                            damage: e.describe_damage(reading.decompressed),
                            resumed_at: at_byte(resumed_at, reading.decompressed),
                            bytes: resumed_at - e.offset,
                        }),
                        Ok(None) | Err(_) => broken = Some(e.describe(reading.decompressed)),
                    }
                    None
                }
            };
            if let Some(i) = changed
                && let Err(reason) = reading.route(i)
            {
                let filter = reading.filter.as_ref().map_or("", |f| f.expr());
                broken = Some(format!("a later interface's link type does not take the filter '{filter}': {reason}"));
            }
        }
        if let Some(reason) = broken {
            batch.end = Some(reading.end(Some(reason)));
        }
        batch.links.append(&mut reading.new_links);
        batch.file_bytes = reading.read.load(Ordering::Relaxed);
        let last = batch.end.is_some();
        if full.send(batch).is_err() || last {
            return;
        }
    }
}

/// A capture file as a [`PacketSource`]: read ahead by a thread of its own.
pub struct FileSource {
    pub path: String,
    /// What the file was: "pcap", "pcapng", "pcap (gzip)", …
    pub format: String,
    /// File size in bytes (compressed), when known (not for pipes and standard input).
    pub size: Option<u64>,
    /// Every link seen so far; packets name theirs by index.
    links: Vec<Link>,
    /// The link of the packets handed out last.
    current: u16,
    batch: Batch,
    /// The next packet of `batch`.
    next: usize,
    /// File bytes of the batches fully handed out.
    bytes_done: u64,
    /// The time of the latest packet.
    latest: Timestamp,
    ended: bool,
    /// What the reader had to say at the end.
    warnings: Vec<String>,
    /// When the capture ended by its pcapng statistics, once the file has ended.
    capture_end: Option<Timestamp>,
    /// Damaged places skipped, once the file has ended.
    skipped: Vec<Skipped>,
    /// None once the source is dropped: the reader stops at its next send.
    full: Option<Receiver<Batch>>,
    empty: Sender<Batch>,
    reader: Option<JoinHandle<()>>,
}

impl FileSource {
    /// Opens a file ("-" = standard input), recognising pcap and pcapng by
    /// content, reads it up to its first packet (a pcapng describes its
    /// interfaces there) and starts reading it ahead.
    pub fn open(file: &OsStr, filter: Option<&str>) -> Result<FileSource, CaptureError> {
        let input = input::open(file)?;
        let path = &*file.to_string_lossy();
        let description = input.describe();
        let decompressed = input.compression.is_some();
        let Input { stream, format, size, read, .. } = input;
        let not_a_capture =
            |e: ReadError| CaptureError::NotACapture { path: path.into(), reason: e.describe(decompressed) };
        let mut reader = CaptureReader::new(format, stream).map_err(not_a_capture)?;
        reader.read_to_first_packet().map_err(not_a_capture)?;
        let Some(first) = reader.interfaces().first().cloned() else {
            let reason = "the pcapng file describes no interface".to_string();
            return Err(CaptureError::NotACapture { path: path.into(), reason });
        };
        let mut reading = Reading {
            reader,
            filter: filter.map(Filter::new),
            routes: Vec::new(),
            links: Vec::new(),
            new_links: Vec::new(),
            skipped: Vec::new(),
            read,
            decompressed,
            section: 0,
            drops: Vec::new(),
            capture_end: None,
            packets: 0,
            damaged: Vec::new(),
        };
        for i in 0..reading.reader.interfaces().len() {
            reading.route(i).map_err(|reason| CaptureError::BadFilter {
                path: path.into(),
                filter: filter.unwrap_or_default().into(),
                reason,
            })?;
        }
        // None of the interfaces described so far has a link type tcpka reads.
        if reading.links.is_empty() {
            let dlt = pcap::Linktype(first.dlt);
            let name = dlt.get_name().unwrap_or_else(|_| format!("DLT_{}", first.dlt));
            let description = dlt.get_description().map(|d| format!(", {d}")).unwrap_or_default();
            return Err(CaptureError::UnsupportedLink { path: path.into(), dlt: first.dlt, name, description });
        }
        let links = std::mem::take(&mut reading.new_links);
        let (full_tx, full_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (empty_tx, empty_rx) = channel::<Batch>();
        let reader = std::thread::spawn(move || read_ahead(reading, full_tx, empty_rx));
        Ok(FileSource {
            path: path.into(),
            format: description,
            size,
            links,
            current: 0,
            batch: Batch::default(),
            next: 0,
            bytes_done: 0,
            latest: Timestamp::default(),
            ended: false,
            warnings: Vec::new(),
            capture_end: None,
            skipped: Vec::new(),
            full: Some(full_rx),
            empty: empty_tx,
            reader: Some(reader),
        })
    }

    /// The frame `n` frames after the next one to be handed out, if the
    /// reader's batch in hand has it and it was not filtered out (to ask
    /// for what it will need ahead of time: `Pipeline::prefetch`).
    #[inline]
    pub fn ahead(&self, n: usize) -> Option<&Frame> {
        self.batch.packets.get(self.next + n).filter(|e| !e.skipped).map(|e| &e.frame)
    }

    /// File bytes read up to the packets handed out so far (for a progress bar).
    pub fn bytes_done(&self) -> u64 {
        self.bytes_done
    }

    /// What the reader had to say once the file ended (packets it could not analyse).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The time of the file's first packet (analysed or not), None when it
    /// has none; waits for the reader's first batch.
    pub fn first_time(&mut self) -> Option<Timestamp> {
        if self.batch.packets.is_empty()
            && self.batch.end.is_none()
            && !self.ended
            && let Some(mut batch) = self.full.as_ref().and_then(|full| full.recv().ok())
        {
            self.links.append(&mut batch.links);
            let done = std::mem::replace(&mut self.batch, batch);
            let _ = self.empty.send(done);
            self.next = 0;
        }
        self.batch.packets.get(self.next).map(|e| e.frame.ts)
    }

    /// The damaged places reading went on after, once the file has ended.
    pub fn take_skipped(&mut self) -> Vec<Skipped> {
        std::mem::take(&mut self.skipped)
    }

    /// When the capture ended, once the file has: the latest `isb_endtime`
    /// of its pcapng Interface Statistics Blocks (dumpcap writes them),
    /// which may be well after its last packet. None for a pcap file.
    pub fn capture_end(&self) -> Option<Timestamp> {
        self.capture_end
    }
}

impl PacketSource for FileSource {
    /// The link of the first interface tcpka reads; packets on others
    /// come after a [`Next::Link`].
    fn link(&self) -> &Link {
        &self.links[0]
    }

    fn next_packet(&mut self) -> Next<'_> {
        loop {
            if self.next < self.batch.packets.len() {
                let entry = &self.batch.packets[self.next];
                if entry.skipped {
                    self.next += 1;
                    return Next::Filtered;
                }
                if entry.link != self.current {
                    self.current = entry.link;
                    return Next::Link(&self.links[entry.link as usize]);
                }
                self.next += 1;
                self.latest = entry.frame.ts;
                return Next::Frame(&entry.frame);
            }
            if self.ended {
                return Next::End;
            }
            self.bytes_done = self.bytes_done.max(self.batch.file_bytes);
            if let Some(end) = self.batch.end.take() {
                self.ended = true;
                self.warnings = end.warnings;
                self.capture_end = end.capture_end;
                self.skipped = end.skipped;
                if let Some(reason) = end.broken {
                    return Next::Broken(reason);
                }
                continue;
            }
            let Some(mut batch) = self.full.as_ref().and_then(|full| full.recv().ok()) else {
                self.ended = true;
                continue;
            };
            self.links.append(&mut batch.links);
            let done = std::mem::replace(&mut self.batch, batch);
            let _ = self.empty.send(done);
            self.next = 0;
        }
    }

    /// Packets are read ahead: nothing to wait for.
    fn wait(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }

    /// A file has no clock of its own: its time is that of its latest packet.
    fn now(&self) -> Timestamp {
        self.latest
    }
}

impl Drop for FileSource {
    fn drop(&mut self) {
        // Without a receiver the reader stops at its next send.
        drop(self.full.take());
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Decoded, LinkKind, decode};
    use crate::duplicates::Print;
    use crate::testkit::{ACK, arp, frame, write_pcap};

    /// The next decoded frame (with its time), or what came instead.
    fn next_frame(source: &mut FileSource) -> Option<Frame> {
        match source.next_packet() {
            Next::Frame(f) => Some(*f),
            _ => None,
        }
    }

    #[test]
    fn frames_come_decoded_from_the_reader_thread_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pcap");
        // IP ID 0 (the testkit's frames): the duplicate check hashes the TCP bytes.
        let big = frame(false, ACK, 1, 11, 2000);
        let frames = [(1.0, frame(true, ACK, 1, 1, 10)), (2.0, arp(false, [10, 0, 0, 1], [10, 0, 0, 2])), (3.0, big)];
        write_pcap(&path, 1, &frames);
        let mut source = FileSource::open(path.as_os_str(), Some("tcp")).unwrap();

        let first = next_frame(&mut source).expect("the first frame, decoded");
        assert_eq!(first.ts.secs_since(Timestamp::default()), crate::testkit::EPOCH_S as f64 + 1.0);
        assert_eq!(first.decoded, decode(LinkKind::Ethernet, &frames[0].1));
        let Decoded::Tcp(seg) = first.decoded else { panic!("TCP") };
        assert_eq!(first.print, Print::of(&seg, &frames[0].1[14 + 20..]));
        // The filter's rejection keeps its place (and frame number).
        assert!(matches!(source.next_packet(), Next::Filtered));
        // Decoded from its first bytes, as a snapshot length would cut it:
        // its length still from the IP header, its print from those bytes.
        let third = next_frame(&mut source).expect("the third frame, decoded");
        let Decoded::Tcp(seg) = third.decoded else { panic!("TCP") };
        assert_eq!(seg.payload_len, 2000);
        let kept = &frames[2].1[..decode::headers_len(LinkKind::Ethernet, &frames[2].1)];
        assert!(kept.len() < frames[2].1.len());
        assert_eq!(third.print, Print::of(&seg, &kept[14 + 20..]));
        assert_ne!(third.print, Print::of(&seg, &frames[2].1[14 + 20..]));
        assert!(matches!(source.next_packet(), Next::End));
    }
}
