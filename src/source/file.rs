//! The file source: pcap and pcapng captures from a file, a pipe or
//! standard input, read by [`reader`](crate::source::reader) on a thread of
//! its own, which reads ahead in batches while the caller's thread tracks
//! and judges (the machine this runs on most often, a laptop, has at least
//! two cores). What needs only the frames in file order is done on the
//! reader's thread too: the filter, decoding, the duplicate check's print,
//! and the capture's [`FrameOrder`] (frame numbers, the clock, the duplicate
//! check itself), lent by the pipeline for the file's length and handed back
//! with its end (or, when reading stops between two batches, as it was
//! after the last batch handed over: [`FileSource::stop`]); the analysing
//! thread, which has the flow table, verdicts and reports to do besides,
//! was the one that took longer. From a pipe, a batch goes over before a
//! read that would wait for the writer, and the analysing thread waits for
//! a batch a tenth of a second at a time ([`Next::Idle`]): packets piped
//! in as they are captured are analysed as they come, and a stop is seen
//! while the writer is silent.
//!
//! A pcapng's interfaces may each have their own link type: packets carry
//! the index of their link, and the source says when it changes
//! ([`Next::Link`]). A BPF filter is compiled per link type and applied
//! packet by packet ([`filter`](crate::source::filter)).

use crate::decode::{self, LinkKind};
use crate::duplicates::Print;
use crate::source::filter::Filter;
use crate::source::input::{self, Input};
use crate::source::order::{FrameOrder, Ordered};
use crate::source::reader::{CaptureReader, Drops, ReadError, Record, at_byte};
use crate::source::{Frame, Link, Next, PacketSource};
use crate::time::Timestamp;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, channel, sync_channel};
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
/// A decoded packet takes 128 bytes (its headers took about 90): 1,024 of
/// them keep the batches in flight within about 1.1 MiB (the peak memory at
/// 2,000 open connections is meant to stay under 16 MiB).
const BATCH_PACKETS: usize = 1024;
/// The duplicate check's slot of the frame this many frames on is asked
/// for while a frame is stepped through the order: the pass over a batch
/// does little else than write each frame into a slot at a random place in
/// the check's 512 KiB table, and waited for those lines (the reader
/// thread 0.169 → 0.160 s on the bench capture, 8 or 16 ahead alike; on
/// the analysing thread, between the flow table's misses, the same
/// prefetch had not paid: bench/results.md, `hot2`).
const PREFETCH_AHEAD: usize = 16;
/// Batches in flight: the reader runs at most this far ahead.
const BATCHES_IN_FLIGHT: usize = 8;
/// How long the analysing side waits for the next batch before it says
/// [`Next::Idle`], so that a stop is seen while a pipe or standard input
/// has stalled (the reader's thread then waits in a `read`): ten times a
/// second, where a Ctrl-C is answered within a glance.
const STALL_CHECK: Duration = Duration::from_millis(100);

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
    /// The capture's order as of this batch's last frame, but for the
    /// duplicate check's table ([`FrameOrder::snapshot`]): what a reading
    /// stopped after this batch reports ([`FileSource::stop`]). None on the
    /// last batch, which hands back the order itself.
    order_after: Option<FrameOrder>,
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
        let frame = Frame {
            ts,
            decoded: decode::Decoded::NotTcp,
            order: Ordered::default(),
            ends: decode::EndsHash::default(),
        };
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
    /// The capture's order, handed back.
    order: Option<FrameOrder>,
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
    /// The descriptor read from, when a read may wait for a writer (a
    /// pipe, standard input: [`Input::waits`]).
    waits: Option<std::os::fd::RawFd>,
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
            order: None,
        }
    }

    /// Reading the next record would wait for the writer of a pipe: it is
    /// not buffered whole, and the pipe has nothing to read now.
    fn would_wait(&self) -> bool {
        self.waits.is_some_and(|fd| !self.reader.record_buffered() && !input::readable(fd))
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

/// Decodes the frame `data`, on `kind`, into `frame` and its duplicate
/// check's `print`. Only the headers are decoded, as a snapshot length
/// would cut the packet (`headers_len`): the duplicate check hashes at most
/// these bytes, as it did when only they crossed to the analysing thread.
#[inline(always)]
fn decode_headers(frame: &mut Frame, kind: LinkKind, data: &[u8], print: &mut Print) {
    let kept = &data[..decode::headers_len(kind, data)];
    frame.decode_into(kind, kept, print);
}

/// The reader thread: fills batches from the file until it ends. The
/// first batch is decoded before the capture's order comes (the time of its
/// first packet, sent on `first`, tells whether the file goes on with the
/// capture before it: `series::continues`); each batch is stepped through
/// the order before it is handed over, and the last one hands it back.
fn read_ahead(
    mut reading: Reading,
    full: SyncSender<Batch>,
    empty: Receiver<Batch>,
    first: SyncSender<Option<Timestamp>>,
    orders: Receiver<FrameOrder>,
) {
    let mut order = None;
    // The duplicate check's print of each entry, until the batch is
    // stepped through the order: it does not cross to the analysing thread.
    let mut prints: Vec<Print> = Vec::with_capacity(BATCH_PACKETS);
    loop {
        let mut batch = empty.try_recv().unwrap_or_default();
        batch.packets.clear();
        prints.clear();
        batch.links.clear();
        let mut broken = None;
        while batch.packets.len() < BATCH_PACKETS && broken.is_none() && batch.end.is_none() {
            // A pipe whose writer is slower than reading, or has stalled
            // (a capture piped in as it is taken): the packets read go to
            // the analysing side before a read that would wait, not when a
            // batch is full, so they are analysed, and a stop sees them.
            // Asked once a record, and poll(2) only when the buffer runs
            // short (once in 64 KiB).
            if !batch.packets.is_empty() && reading.would_wait() {
                break;
            }
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
                                prints.push(Print::default());
                            } else {
                                let kind = reading.links[link as usize].kind;
                                // Decoded where the batch keeps it (see `decode_into`).
                                batch.packets.push(Entry { skipped: false, ..Entry::skipped(p.ts, link) });
                                prints.push(Print::default());
                                let entry = batch.packets.last_mut().expect("the entry just pushed");
                                let print = prints.last_mut().expect("the print just pushed");
                                decode_headers(&mut entry.frame, kind, p.data, print);
                            }
                        }
                        Some(&Route::Skip(i)) => {
                            reading.skipped[i].2 += 1;
                            batch.packets.push(Entry::skipped(p.ts, 0));
                            prints.push(Print::default());
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
        let order = match &mut order {
            Some(order) => order,
            None => {
                let _ = first.send(batch.packets.first().map(|e| e.frame.ts));
                // No order: the source was dropped before the file was read.
                let Ok(lent) = orders.recv() else { return };
                order.insert(lent)
            }
        };
        // A pass of its own over the batch, after decoding it: the first
        // batch waits for the order, and the duplicate check's writes to
        // its table do not come between the file's bytes and the decoding.
        for (i, (entry, print)) in batch.packets.iter_mut().zip(&prints).enumerate() {
            if let Some(ahead) = prints.get(i + PREFETCH_AHEAD) {
                order.prefetch(ahead);
            }
            if entry.skipped {
                order.skip();
            } else {
                order.step(&mut entry.frame, print);
            }
        }
        let last = batch.end.is_some();
        batch.order_after = (!last).then(|| order.snapshot());
        if let Some(end) = &mut batch.end {
            end.order = Some(std::mem::take(order));
        }
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
    /// The time of the file's first packet (None: it has none), once the reader said it.
    first: Option<Option<Timestamp>>,
    first_rx: Receiver<Option<Timestamp>>,
    /// Where the capture's order goes to the reader; None once it went,
    /// or the source is dropped (the reader then stops).
    orders: Option<Sender<FrameOrder>>,
    /// The capture's order, handed back with the file's end.
    order_back: Option<FrameOrder>,
    /// The capture's order as of the last frame handed out, taken when a
    /// batch has been handed out entirely (from its
    /// [`Batch::order_after`]), or when the order was lent: what
    /// [`FileSource::stop`] gives back.
    handed: Option<FrameOrder>,
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
        let Input { stream, format, size, read, waits, .. } = input;
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
            waits,
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
        let (first_tx, first_rx) = sync_channel(1);
        let (orders_tx, orders_rx) = channel();
        let reader = std::thread::spawn(move || read_ahead(reading, full_tx, empty_rx, first_tx, orders_rx));
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
            first: None,
            first_rx,
            orders: Some(orders_tx),
            order_back: None,
            handed: None,
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
        *self.first.get_or_insert_with(|| self.first_rx.recv().ok().flatten())
    }

    /// Lends the reader the capture's `order` (the pipeline's): it steps
    /// every frame of the file through it, and hands it back with the
    /// file's end ([`FileSource::take_order`]). Before the first frame is
    /// asked for: a source asked without one steps its frames through an
    /// order of its own.
    pub fn start(&mut self, order: FrameOrder) {
        if let Some(orders) = self.orders.take() {
            self.handed = Some(order.snapshot());
            // A reader that has stopped has nothing left to step.
            let _ = orders.send(order);
        }
    }

    /// The capture's order, once the file has ended ([`Next::End`] or
    /// [`Next::Broken`]): every frame handed out was stepped through it.
    pub fn take_order(&mut self) -> Option<FrameOrder> {
        self.order_back.take()
    }

    /// Stops reading between two batches (after a [`Next::Idle`], the only
    /// place a stop is asked for: Ctrl-C), and gives back the capture's
    /// order as of the last frame handed out: its frame numbers, clock
    /// warnings and copies are those of the frames analysed, not of those
    /// the reader stepped ahead ([`Batch::order_after`]). It has no table
    /// of recent packets: no later file goes on with it. None when no
    /// order was lent ([`FileSource::start`]). Nothing more is handed out.
    pub fn stop(&mut self) -> Option<FrameOrder> {
        debug_assert!(self.next >= self.batch.packets.len(), "a stop between two batches");
        self.ended = true;
        self.batch.packets.clear();
        // Without a receiver the reader stops at its next send; without a
        // sender, while it waits for the order.
        drop(self.full.take());
        drop(self.orders.take());
        // Not joined: a reader waiting in a read from a pipe or standard
        // input that stalled would hold the stop until the writer wrote
        // again. It ends at its next send, or with the process.
        drop(self.reader.take());
        self.handed.take()
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

    /// The next frame of the batch in hand, inline; the rest (a filtered
    /// frame, a new link, the next batch, the end) in [`FileSource::next_otherwise`].
    /// `perf` put a third of this function's samples on saving and restoring
    /// the registers and 1 KiB of stack that the rest needs.
    #[inline]
    fn next_packet(&mut self) -> Next<'_> {
        let ready = self.batch.packets.get(self.next).is_some_and(|e| !e.skipped && e.link == self.current);
        if ready {
            let entry = &self.batch.packets[self.next];
            self.next += 1;
            self.latest = entry.frame.ts;
            return Next::Frame(&entry.frame);
        }
        self.next_otherwise()
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

impl FileSource {
    /// [`PacketSource::next_packet`] for all but a frame of the batch in hand.
    #[cold]
    #[inline(never)]
    fn next_otherwise(&mut self) -> Next<'_> {
        // Read without a capture's order lent (a file on its own, the fuzz
        // target): one of its own, so the reader does not wait for it forever.
        if self.orders.is_some() {
            self.start(FrameOrder::default());
        }
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
            if let Some(order) = self.batch.order_after.take() {
                // The batch in hand was handed out entirely: the caller
                // may stop here, with the order as of its last frame.
                self.handed = Some(order);
                return Next::Idle;
            }
            if let Some(end) = self.batch.end.take() {
                self.ended = true;
                self.warnings = end.warnings;
                self.capture_end = end.capture_end;
                self.skipped = end.skipped;
                self.order_back = end.order;
                if let Some(reason) = end.broken {
                    return Next::Broken(reason);
                }
                continue;
            }
            let received = match &self.full {
                Some(full) => full.recv_timeout(STALL_CHECK),
                None => Err(RecvTimeoutError::Disconnected),
            };
            let mut batch = match received {
                Ok(batch) => batch,
                // A stalled pipe: the caller may stop while it waits.
                Err(RecvTimeoutError::Timeout) => return Next::Idle,
                Err(RecvTimeoutError::Disconnected) => {
                    self.ended = true;
                    continue;
                }
            };
            self.links.append(&mut batch.links);
            let done = std::mem::replace(&mut self.batch, batch);
            let _ = self.empty.send(done);
            self.next = 0;
        }
    }
}

impl Drop for FileSource {
    fn drop(&mut self) {
        // Without a receiver the reader stops at its next send; without
        // a sender, while it waits for the order.
        drop(self.full.take());
        drop(self.orders.take());
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
        // Copies of it but for a payload byte: past the headers the reader
        // decodes (not hashed, so a copy), and within them (not a copy).
        let (mut past, mut within) = (big.clone(), big.clone());
        *past.last_mut().unwrap() ^= 1;
        within[14 + 20 + 20 + 10] ^= 1;
        let frames = [
            (1.0, frame(true, ACK, 1, 1, 10)),
            (2.0, arp(false, [10, 0, 0, 1], [10, 0, 0, 2])),
            (3.0, big),
            (3.0002, past),
            (3.0004, within),
        ];
        write_pcap(&path, 1, &frames);
        let mut source = FileSource::open(path.as_os_str(), Some("tcp")).unwrap();
        assert_eq!(source.first_time(), Some(Timestamp::from_secs_f64(crate::testkit::EPOCH_S as f64 + 1.0)));
        source.start(FrameOrder::default());

        let first = next_frame(&mut source).expect("the first frame, decoded");
        assert_eq!(first.ts.secs_since(Timestamp::default()), crate::testkit::EPOCH_S as f64 + 1.0);
        assert_eq!(first.decoded, decode(LinkKind::Ethernet, &frames[0].1));
        // The filter's rejection keeps its place (and frame number).
        assert!(matches!(source.next_packet(), Next::Filtered));
        // Decoded from its first bytes, as a snapshot length would cut it:
        // its length still from the IP header.
        let third = next_frame(&mut source).expect("the third frame, decoded");
        let Decoded::Tcp(seg) = third.decoded else { panic!("TCP") };
        assert_eq!(seg.payload_len, 2000);
        assert_eq!(third.order, Ordered::default());
        // Stepped through the capture's order on the reader's thread, with
        // the prints of the bytes it decoded.
        assert!(next_frame(&mut source).expect("the fourth frame").order.copy);
        assert!(!next_frame(&mut source).expect("the fifth frame").order.copy);
        assert!(source.take_order().is_none(), "the order comes back with the file's end");
        assert!(matches!(source.next_packet(), Next::End));
        // The filtered frame took its number.
        let order = source.take_order().expect("handed back with the end");
        assert_eq!(order.frames(), 5);
        assert_eq!(order.duplicates().examples().len(), 1);
        assert_eq!((order.duplicates().examples()[0].frame, order.duplicates().examples()[0].copy_of), (4, 3));
    }

    #[test]
    fn a_file_read_without_a_captures_order_steps_through_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pcap");
        let seg = frame(true, ACK, 1, 1, 10);
        write_pcap(&path, 1, &[(1.0, seg.clone()), (1.0001, seg)]);
        let mut source = FileSource::open(path.as_os_str(), None).unwrap();
        assert!(!next_frame(&mut source).expect("the first frame").order.copy);
        assert!(next_frame(&mut source).expect("the second frame").order.copy);
        assert!(matches!(source.next_packet(), Next::End));
        assert_eq!(source.take_order().expect("handed back with the end").frames(), 2);
    }

    /// 2,000 segments 10 ms apart, with a copy (frame 3, of frame 2) and a
    /// frame stamped 0.49 s before the one before it (frame 5) in the reader's first batch, and
    /// the same again in its second (frames 1,503 and 1,505).
    fn copies_and_steps_back_in_two_batches(path: &std::path::Path) {
        let frames = (1..=2000u32).map(|n| {
            let t = f64::from(n) * 0.01;
            match n {
                3 | 1503 => (f64::from(n - 1) * 0.01 + 0.0002, frame(true, ACK, n - 1, 1, 10)),
                5 | 1505 => (t - 0.5, frame(true, ACK, n, 1, 10)),
                _ => (t, frame(true, ACK, n, 1, 10)),
            }
        });
        crate::testkit::write_pcap_from(path, 1, frames);
    }

    #[test]
    fn a_stop_between_batches_gives_back_the_order_of_the_frames_handed_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pcap");
        copies_and_steps_back_in_two_batches(&path);
        let mut source = FileSource::open(path.as_os_str(), None).unwrap();
        source.start(FrameOrder::default());
        let mut handed = 0;
        while next_frame(&mut source).is_some() {
            handed += 1;
        }
        assert_eq!(handed, BATCH_PACKETS, "the first batch, then the pause between batches");
        // Let the reader step its batches ahead (up to the file's end).
        std::thread::sleep(Duration::from_millis(200));
        let mut order = source.stop().expect("the order lent");
        assert!(matches!(source.next_packet(), Next::End), "nothing more after a stop");
        assert_eq!(order.frames(), BATCH_PACKETS as u64);
        assert_eq!(order.duplicates().dropped(), 1);
        let copy = order.duplicates().examples()[0];
        assert_eq!((copy.frame, copy.copy_of), (3, 2));
        let warnings = order.clock().warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("time goes back at frame 5 by 0.490 s: "), "{}", warnings[0]);

        // Read to its end, the file's order has both.
        let mut source = FileSource::open(path.as_os_str(), None).unwrap();
        source.start(FrameOrder::default());
        while !matches!(source.next_packet(), Next::End) {}
        let mut order = source.take_order().expect("handed back with the end");
        assert_eq!((order.frames(), order.duplicates().dropped()), (2000, 2));
        assert!(order.clock().warnings()[0].starts_with("time goes back at frame 5 by 0.490 s, frame 1505 by"));
    }

    #[test]
    fn a_stop_before_the_first_batch_gives_back_the_order_lent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pcap");
        copies_and_steps_back_in_two_batches(&path);
        let mut source = FileSource::open(path.as_os_str(), None).unwrap();
        let mut lent = FrameOrder::default();
        lent.skip();
        source.start(lent);
        // Nothing handed out yet: the order as it was lent.
        let order = source.stop().expect("the order lent");
        assert_eq!((order.frames(), order.duplicates().dropped()), (1, 0));
        assert!(matches!(source.next_packet(), Next::End));
    }

    #[test]
    fn a_batch_entry_is_two_cache_lines() {
        // Each entry crosses from the reader's core to the analysing one:
        // the print stays with the reader, the clock's times with whoever
        // takes the frames in order (`order::Clocked`).
        assert!(size_of::<Entry>() <= 128, "{} bytes", size_of::<Entry>());
    }

    #[test]
    fn the_reader_decodes_and_prints_the_headers_alone() {
        let frames = [frame(true, ACK, 1, 1, 10), frame(false, ACK, 1, 11, 2000)];
        let decoded = |data: &[u8]| {
            let mut f = Frame {
                ts: Timestamp::default(),
                decoded: Decoded::Malformed,
                order: Ordered::default(),
                ends: decode::EndsHash::default(),
            };
            let mut print = Print::default();
            decode_headers(&mut f, LinkKind::Ethernet, data, &mut print);
            (f, print)
        };
        let (first, print) = decoded(&frames[0]);
        let Decoded::Tcp(seg) = first.decoded else { panic!("TCP") };
        assert_eq!(print, Print::of(&seg, &frames[0][14 + 20..]));
        // Its print from the bytes a snapshot length would keep.
        let (second, print) = decoded(&frames[1]);
        let Decoded::Tcp(seg) = second.decoded else { panic!("TCP") };
        assert_eq!(seg.payload_len, 2000);
        let kept = &frames[1][..decode::headers_len(LinkKind::Ethernet, &frames[1])];
        assert!(kept.len() < frames[1].len());
        assert_eq!(print, Print::of(&seg, &kept[14 + 20..]));
        assert_ne!(print, Print::of(&seg, &frames[1][14 + 20..]));
        // The endpoints' hash, where the flow table looks, made with the
        // segment: the same both ways (the second frame is the server's).
        assert_ne!(first.ends, decode::EndsHash::default());
        assert_eq!(first.ends, decode::EndsHash::of_segment(&seg));
        assert_eq!(second.ends, first.ends);
        // A frame that is not TCP, decoded where a segment was, has none.
        let mut reused = second;
        reused.decode_into(LinkKind::Ethernet, &[0; 10], &mut Print::default());
        assert!(matches!(reused.decoded, Decoded::Malformed));
        assert_eq!(reused.ends, decode::EndsHash::default());
    }
}
