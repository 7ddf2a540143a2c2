//! The file source: pcap and pcapng files (or standard input) through libpcap.
//!
//! A BPF filter is compiled by libpcap but applied here, packet by packet,
//! rather than installed with `pcap_setfilter`: that way every packet still
//! gets its frame number, so the numbers tcpka shows are Wireshark's.
//!
//! A reader thread reads the file ahead in batches while the caller's
//! thread decodes, tracks and judges (the machine this runs on most often,
//! a laptop, has at least two cores).

use crate::source::{Link, Next, Packet, PacketSource, timestamp};
use crate::time::Timestamp;
use pcap::{Capture, Offline, Precision};
use std::fs::File;
use std::io::{self, Read};
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
    #[error("{path}: bad filter '{filter}': {reason}")]
    BadFilter { path: String, filter: String, reason: String },
}

/// The on-disk format, from the file's first four bytes.
pub fn sniff_format(magic: &[u8]) -> Option<&'static str> {
    match magic {
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d] | [0x4d, 0x3c, 0xb2, 0xa1] => {
            Some("pcap")
        }
        [0x0a, 0x0d, 0x0d, 0x0a] => Some("pcapng"),
        _ => None,
    }
}

/// An open capture file, read through libpcap.
struct CaptureFile {
    capture: Capture<Offline>,
    filter: Option<pcap::BpfProgram>,
}

impl CaptureFile {
    /// Reads the next packet.
    fn next_packet(&mut self) -> Next<'_> {
        match self.capture.next_packet() {
            Ok(packet) => {
                // Opened with nanosecond precision.
                let ts = timestamp(&packet.header.ts, true);
                if let Some(f) = &self.filter
                    && !f.filter(packet.data)
                {
                    return Next::Filtered;
                }
                Next::Packet(Packet { ts, data: packet.data })
            }
            Err(pcap::Error::NoMorePackets) => Next::End,
            Err(e) => Next::Broken(e.to_string()),
        }
    }
}

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

#[derive(Clone, Copy)]
struct Entry {
    ts: Timestamp,
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
                    batch.packets.push(Entry { ts: Timestamp::default(), start: 0, len: 0, filtered: true })
                }
                Next::End | Next::Idle => batch.end = Some(Ok(())),
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

/// A capture file as a [`PacketSource`]: read ahead by a thread of its own.
pub struct FileSource {
    pub path: String,
    pub format: Option<&'static str>,
    /// File size in bytes, when known (not for standard input).
    pub size: Option<u64>,
    link: Link,
    batch: Batch,
    /// The next packet of `batch`.
    next: usize,
    /// File bytes of the batches fully handed out.
    bytes_done: u64,
    /// The time of the latest packet.
    latest: Timestamp,
    ended: bool,
    /// None once the source is dropped: the reader stops at its next send.
    full: Option<Receiver<Batch>>,
    empty: Sender<Batch>,
    reader: Option<JoinHandle<()>>,
}

impl FileSource {
    /// Opens a file ("-" = standard input), recognising pcap and pcapng by
    /// content, and starts reading it ahead.
    pub fn open(path: &str, filter: Option<&str>) -> Result<FileSource, CaptureError> {
        let mut format = None;
        let mut size = None;
        if path != "-" {
            let mut file = File::open(path).map_err(|source| CaptureError::Open { path: path.into(), source })?;
            let meta = file.metadata().map_err(|source| CaptureError::Open { path: path.into(), source })?;
            if meta.is_dir() {
                return Err(CaptureError::Open { path: path.into(), source: std::io::Error::other("is a directory") });
            }
            if meta.len() == 0 {
                return Err(CaptureError::Empty { path: path.into() });
            }
            size = Some(meta.len());
            let mut magic = [0u8; 4];
            let n = file.read(&mut magic).unwrap_or(0);
            format = sniff_format(&magic[..n]);
            if format.is_none() {
                return Err(CaptureError::NotACapture {
                    path: path.into(),
                    reason: format!(
                        "the file starts with {:02x?}, which is neither pcap nor pcapng magic",
                        &magic[..n]
                    ),
                });
            }
        }
        let capture = Capture::from_file_with_precision(path, Precision::Nano)
            .map_err(|e| CaptureError::NotACapture { path: path.into(), reason: format!("libpcap: {e}") })?;
        let dlt = capture.get_datalink();
        let link = Link::of(dlt).map_err(|u| CaptureError::UnsupportedLink {
            path: path.into(),
            dlt: u.dlt,
            name: u.name,
            description: dlt.get_description().map(|d| format!(", {d}")).unwrap_or_default(),
        })?;
        let filter = match filter {
            Some(expr) => Some(capture.compile(expr, true).map_err(|e| CaptureError::BadFilter {
                path: path.into(),
                filter: expr.into(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        let file = CaptureFile { capture, filter };
        let (full_tx, full_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (empty_tx, empty_rx) = channel::<Batch>();
        let reader = std::thread::spawn(move || read_ahead(file, full_tx, empty_rx));
        Ok(FileSource {
            path: path.into(),
            format,
            size,
            link,
            batch: Batch::default(),
            next: 0,
            bytes_done: 0,
            latest: Timestamp::default(),
            ended: false,
            full: Some(full_rx),
            empty: empty_tx,
            reader: Some(reader),
        })
    }

    /// File bytes read up to the packets handed out so far (for a progress bar).
    pub fn bytes_done(&self) -> u64 {
        self.bytes_done
    }
}

impl PacketSource for FileSource {
    fn link(&self) -> &Link {
        &self.link
    }

    fn next_packet(&mut self) -> Next<'_> {
        loop {
            if let Some(&entry) = self.batch.packets.get(self.next) {
                self.next += 1;
                if entry.filtered {
                    return Next::Filtered;
                }
                self.latest = entry.ts;
                let data = &self.batch.bytes[entry.start as usize..(entry.start + entry.len) as usize];
                return Next::Packet(Packet { ts: entry.ts, data });
            }
            if self.ended {
                return Next::End;
            }
            self.bytes_done = self.bytes_done.max(self.batch.file_bytes);
            if let Some(end) = self.batch.end.take() {
                self.ended = true;
                if let Err(reason) = end {
                    return Next::Broken(reason);
                }
                continue;
            }
            let Some(batch) = self.full.as_ref().and_then(|full| full.recv().ok()) else {
                self.ended = true;
                continue;
            };
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

    #[test]
    fn sniffs_magic_numbers() {
        assert_eq!(sniff_format(&[0xd4, 0xc3, 0xb2, 0xa1]), Some("pcap"));
        assert_eq!(sniff_format(&[0x4d, 0x3c, 0xb2, 0xa1]), Some("pcap"));
        assert_eq!(sniff_format(&[0x0a, 0x0d, 0x0d, 0x0a]), Some("pcapng"));
        assert_eq!(sniff_format(b"GIF8"), None);
        assert_eq!(sniff_format(&[0xd4]), None);
    }
}
