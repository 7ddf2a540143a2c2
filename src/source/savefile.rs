//! The `--write` file of a live capture: pcap records (nanosecond
//! timestamps, as libpcap's `pcap_dump` writes for a nanosecond capture),
//! every write error noticed the moment `write(2)` returns it, and the file
//! cut back to its last whole packet when one happens. A record cut short
//! makes tcpdump, Wireshark and `tcpka analyze` stop with an error at that
//! point; a file that ends on a whole record reads to its end.
//!
//! Records are serialised by the `pcap-file` crate into a buffer, which is
//! written out when it is full or when [`Savefile::flush`] is called (the
//! capture thread does so when it goes idle and at least every second), so
//! the file costs one `write(2)` per buffer rather than per packet.

use crate::time::Timestamp;
use byteorder_slice::LittleEndian;
use pcap_file::pcap::{PcapHeader, PcapPacket};
use pcap_file::{DataLink, Endianness, TsResolution};
use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::Path;

/// Bytes of records gathered before they are written out.
const BUFFER: usize = 256 * 1024;

/// An open `--write` file.
pub struct Savefile {
    file: File,
    name: String,
    snaplen: u32,
    /// Records serialised but not yet written.
    pending: Vec<u8>,
    /// Where each pending record ends in `pending`.
    ends: Vec<usize>,
    /// Bytes in the file: the header and whole records only.
    written: u64,
    /// Packets in the file.
    packets: u64,
    /// Set once a write failed: nothing more is written.
    failed: bool,
}

/// Why the `--write` file failed, with what it still holds.
#[derive(Debug)]
pub struct SavefileError {
    pub name: String,
    pub error: io::Error,
    /// Whole packets the file keeps.
    pub packets_kept: u64,
}

impl std::fmt::Display for SavefileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "writing {}: {}; the file keeps the first {} packet{} (it ends on a whole packet)",
            self.name,
            self.error,
            self.packets_kept,
            if self.packets_kept == 1 { "" } else { "s" }
        )
    }
}

impl Savefile {
    /// Creates (or truncates) `path` and writes the pcap header for packets
    /// of libpcap link type `linktype` (a LINKTYPE_ value, as in files)
    /// cut to `snaplen` bytes.
    pub fn create(path: &Path, linktype: u32, snaplen: u32) -> io::Result<Savefile> {
        let mut file = File::create(path)?;
        let header = PcapHeader {
            snaplen,
            datalink: DataLink::from(linktype),
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::Little,
            ..Default::default()
        };
        let mut bytes = Vec::with_capacity(24);
        header.write_to(&mut bytes).map_err(io::Error::other)?;
        file.write_all(&bytes)?;
        let name = path.display().to_string();
        let written = bytes.len() as u64;
        Ok(Savefile { file, name, snaplen, pending: Vec::new(), ends: Vec::new(), written, packets: 0, failed: false })
    }

    /// Adds one packet: `data` as captured (at most the snapshot length),
    /// `orig_len` its length on the wire.
    pub fn write(&mut self, ts: Timestamp, orig_len: u32, data: &[u8]) -> Result<(), SavefileError> {
        if self.failed {
            return Ok(());
        }
        let packet = PcapPacket::new(ts.since_epoch(), orig_len.max(data.len() as u32), data);
        // Cannot fail: a Vec takes every write, and the lengths are what
        // libpcap captured under this snapshot length.
        if let Err(e) = packet.write_to::<_, LittleEndian>(&mut self.pending, TsResolution::NanoSecond, self.snaplen) {
            return Err(self.fail(io::Error::other(e)));
        }
        self.ends.push(self.pending.len());
        if self.pending.len() >= BUFFER { self.flush() } else { Ok(()) }
    }

    /// Writes out the records gathered. On an error, the file is cut back
    /// to the last whole record that reached it, and nothing more is written.
    pub fn flush(&mut self) -> Result<(), SavefileError> {
        if self.failed || self.pending.is_empty() {
            return Ok(());
        }
        match self.file.write_all(&self.pending) {
            Ok(()) => {
                self.written += self.pending.len() as u64;
                self.packets += self.ends.len() as u64;
                self.pending.clear();
                self.ends.clear();
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// After a failed write: keeps the records that reached the file whole
    /// (a short write leaves the file offset after the bytes that did).
    fn fail(&mut self, error: io::Error) -> SavefileError {
        self.failed = true;
        let reached = self.file.stream_position().map_or(0, |end| end.saturating_sub(self.written));
        let whole = self.ends.iter().take_while(|&&end| end as u64 <= reached).count();
        let keep = whole.checked_sub(1).map_or(0, |last| self.ends[last]);
        self.packets += whole as u64;
        self.written += keep as u64;
        // Truncating frees blocks, so it works on a full file system too.
        if let Err(e) = self.file.set_len(self.written) {
            crate::diag!("tcpka: cannot cut {} back to its last whole packet: {e}", self.name);
        }
        self.pending.clear();
        self.ends.clear();
        SavefileError { name: self.name.clone(), error, packets_kept: self.packets }
    }

    /// Packets written to the file so far.
    #[cfg(test)]
    fn packets(&self) -> u64 {
        self.packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_pcap() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.pcap");
        (dir, path)
    }

    #[test]
    fn records_read_back_with_their_times_and_lengths() {
        let (_dir, path) = temp_pcap();
        let mut f = Savefile::create(&path, 1, 256).unwrap();
        f.write(Timestamp(1_700_000_000_123_456_789), 1500, &[7u8; 256]).unwrap();
        f.write(Timestamp(1_700_000_001_000_000_001), 60, &[9u8; 60]).unwrap();
        f.flush().unwrap();
        assert_eq!(f.packets(), 2);
        // Read back with pcap-parser (the file reader's crate): pcap-file's
        // own reader rejects records longer on the wire than the snapshot
        // length, which tcpdump writes all the time.
        let bytes = std::fs::read(&path).unwrap();
        let (rest, file) = pcap_parser::parse_pcap(&bytes).unwrap();
        assert!(rest.is_empty());
        assert!(file.header.is_nanosecond_precision());
        assert_eq!((file.header.snaplen, file.header.network.0), (256, 1));
        let b = &file.blocks;
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].ts_sec, b[0].ts_usec), (1_700_000_000, 123_456_789));
        assert_eq!((b[0].origlen, b[0].caplen, b[0].data.len()), (1500, 256, 256));
        assert_eq!((b[1].origlen, b[1].data), (60, &[9u8; 60][..]));
    }

    #[test]
    fn a_failed_write_leaves_the_file_ending_on_a_whole_packet() {
        // A short write, then ENOSPC, as a file system that fills up part
        // way through a buffer gives (the namespace test in tests/live.rs
        // fills a real tmpfs).
        let (_dir, path) = temp_pcap();
        let mut f = Savefile::create(&path, 1, 256).unwrap();
        f.write(Timestamp(1), 100, &[1u8; 100]).unwrap();
        f.flush().unwrap();
        f.write(Timestamp(2), 100, &[2u8; 100]).unwrap();
        f.write(Timestamp(3), 100, &[3u8; 100]).unwrap();
        // As if write(2) had taken the second record and 10 bytes of the third.
        f.file.write_all(&f.pending[..116 + 10]).unwrap();
        let e = f.fail(io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(e.packets_kept, 2);
        assert!(e.to_string().contains("No space left on device"), "{e}");
        assert!(e.to_string().contains("keeps the first 2 packets"), "{e}");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 24 + 2 * 116);
        let (rest, file) = pcap_parser::parse_pcap(&bytes).unwrap();
        assert!(rest.is_empty());
        let firsts: Vec<u8> = file.blocks.iter().map(|b| b.data[0]).collect();
        assert_eq!(firsts, [1, 2]);
        // Nothing more is written once it failed.
        f.write(Timestamp(4), 100, &[4u8; 100]).unwrap();
        f.flush().unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 24 + 2 * 116);
    }

    #[test]
    fn a_disk_that_takes_nothing_is_an_error_at_the_first_write_out() {
        let mut f = Savefile {
            file: File::options().write(true).open("/dev/full").unwrap(),
            name: "/dev/full".into(),
            snaplen: 256,
            pending: Vec::new(),
            ends: Vec::new(),
            written: 0,
            packets: 0,
            failed: false,
        };
        f.write(Timestamp(1), 100, &[1u8; 100]).unwrap();
        let e = f.flush().unwrap_err();
        assert_eq!(e.error.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(e.packets_kept, 0);
    }
}
