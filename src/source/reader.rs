//! Capture file formats, read as a stream: pcap and pcapng from any byte
//! source — a file, a pipe, standard input, a decompressor — front to back,
//! never seeking, so a FIFO or `<(zcat x.pcap.gz)` reads as well as a file.
//!
//! `pcap-parser` parses the records and blocks; this module frames them
//! (it reads a block's length first and buffers the whole block, so a
//! block cut off by the end of the stream is told apart from a damaged
//! one, with its byte offset) and keeps what a pcapng section says about
//! its interfaces: each has its own link type, snapshot length and clock
//! (`if_tsresol`, `if_tsoffset`). Where libpcap's file reader made a choice
//! (how timestamps are scaled, signed, truncated to the snapshot length),
//! the same choice is made here, so frame numbers and times stay those that
//! tcpdump and Wireshark show.

use crate::source::linktype_to_dlt;
use crate::time::Timestamp;
use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le, parse_sectionheaderblock};
use pcap_parser::{
    BOM_MAGIC, CB_MAGIC, DCB_MAGIC, DSB_MAGIC, EPB_MAGIC, IDB_MAGIC, ISB_MAGIC, NRB_MAGIC, OptionCode, PcapError,
    PcapNGOption, SHB_MAGIC, SJE_MAGIC, SPB_MAGIC, nom, parse_pcap_header,
};
use std::fmt;
use std::io::{self, Read};

/// The container format, recognised by the first four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

impl Format {
    /// The format of a stream that starts with `magic`.
    pub fn sniff(magic: &[u8]) -> Option<Format> {
        match magic {
            [0xa1, 0xb2, 0xc3, 0xd4]
            | [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x4d, 0x3c, 0xb2, 0xa1] => Some(Format::Pcap),
            [0x0a, 0x0d, 0x0d, 0x0a] => Some(Format::PcapNg),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
        }
    }
}

/// libpcap's MAXIMUM_SNAPLEN: no capture holds more of a packet; a record
/// that claims more is damaged (libpcap: "invalid packet capture length").
pub const MAXIMUM_SNAPLEN: u32 = 262_144;
/// The largest pcapng block read (libpcap's reader allows 16 MiB too):
/// beyond it a length field is taken for damage, not buffered.
const MAX_BLOCK: usize = 16 * 1024 * 1024;
/// The obsolete pcapng Packet Block, which libpcap and Wireshark still read.
const PB_MAGIC: u32 = 0x0000_0002;
/// Read at least this much at a time.
const CHUNK: usize = 256 * 1024;
/// Resynchronising after damage, a pcap record is taken for one when its
/// time is at most this long before the last packet read (captures on
/// several CPUs, `tcpdump -i any`, are slightly out of order)…
const RESYNC_BEFORE_S: f64 = 60.0;
/// … and at most this long after it (a filtered capture of idle connections
/// can be silent for hours).
const RESYNC_AFTER_S: f64 = 30.0 * 86_400.0;
/// … and when its wire length is at most this (Linux BIG TCP hands
/// captures GRO packets of up to 512 KiB).
const RESYNC_MAX_WIRE_LEN: u32 = 1 << 20;

/// One interface of the capture: a pcap file has one; a pcapng section one
/// per Interface Description Block, in order (packets name it by index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// The link type as a libpcap DLT value (the file's LINKTYPE mapped as
    /// libpcap maps it).
    pub dlt: i32,
    /// Written in the byte order of a host other than this one: libpcap
    /// then compiles filters for, and swaps pseudo-headers to, this host's.
    pub swapped: bool,
    /// Packets are cut to this many bytes, as libpcap cuts them.
    snaplen: u32,
    clock: Clock,
}

/// How an interface's packets carry their time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    /// pcap: seconds and micro- or nanoseconds.
    Timeval { nanos: bool },
    /// pcapng: ticks of `1/per_sec` s since the epoch, plus `offset` s.
    Ticks { per_sec: u64, offset: i64 },
}

/// libpcap's `pcap_adjust_snapshot`: a snapshot length of 0 or beyond the
/// maximum means the maximum.
fn adjust_snaplen(snaplen: u32) -> u32 {
    if snaplen == 0 || snaplen > MAXIMUM_SNAPLEN { MAXIMUM_SNAPLEN } else { snaplen }
}

/// One packet as read: its interface (an index into the section's), time and bytes.
pub struct RawPacket<'a> {
    pub interface: usize,
    pub ts: Timestamp,
    pub data: &'a [u8],
}

/// What the next block of the stream was.
pub enum Record<'a> {
    Packet(RawPacket<'a>),
    /// A new pcapng section began: the interfaces described before are gone.
    Section,
    /// An interface was described: [`CaptureReader::interface`] has it.
    Interface(usize),
    /// An Interface Statistics Block: what interface `interface` had lost
    /// so far (the counters run from the start of the capture), and when
    /// the capture on it ended (`isb_endtime`), when the block says.
    Statistics {
        interface: usize,
        drops: Drops,
        ended: Option<Timestamp>,
    },
}

/// Packets an interface lost before they could be captured, as its
/// Interface Statistics Block counts them (`isb_ifdrop`, `isb_osdrop`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// Dropped by the interface or its driver, for lack of resources.
    pub by_interface: u64,
    /// Dropped by the operating system (e.g. a full capture buffer).
    pub by_os: u64,
}

/// Why a stream could not be read (on): what, and where.
#[derive(Debug)]
pub struct ReadError {
    /// Byte offset of the record or block in the (uncompressed) stream.
    pub offset: u64,
    pub kind: ReadErrorKind,
}

#[derive(Debug)]
pub enum ReadErrorKind {
    /// The stream ended in the middle of `what`.
    CutOff { what: &'static str, got: usize, need: usize },
    /// `what` holds something no writer writes.
    Damaged { what: &'static str, why: String },
    /// Reading failed (a decompressor's error, an I/O error).
    Io(io::Error),
}

impl ReadError {
    fn cut_off(offset: u64, what: &'static str, got: usize, need: usize) -> ReadError {
        ReadError { offset, kind: ReadErrorKind::CutOff { what, got, need } }
    }

    fn damaged(offset: u64, what: &'static str, why: impl Into<String>) -> ReadError {
        ReadError { offset, kind: ReadErrorKind::Damaged { what, why: why.into() } }
    }
}

impl ReadError {
    /// What went wrong, and where; `decompressed` when the stream was
    /// decompressed, so the offset is not one in the file itself.
    pub fn describe(&self, decompressed: bool) -> String {
        let at = at_byte(self.offset, decompressed);
        match &self.kind {
            ReadErrorKind::CutOff { what, got, need } => {
                format!("the {what} {at} is cut off after {got} of its {need} bytes")
            }
            ReadErrorKind::Damaged { what, why } => format!("the {what} {at} is damaged: {why}"),
            ReadErrorKind::Io(e) => format!("reading {at} failed: {e}"),
        }
    }

    /// What was damaged, and where, once reading went on after it: a
    /// record "cut off" by the end of the stream with more records after
    /// it was not cut off but claims more bytes than it has.
    pub fn describe_damage(&self, decompressed: bool) -> String {
        match &self.kind {
            ReadErrorKind::CutOff { what, need, .. } => {
                let at = at_byte(self.offset, decompressed);
                format!("the {what} {at} is damaged: it claims {need} bytes, which run into the records after it")
            }
            _ => self.describe(decompressed),
        }
    }
}

/// "at byte N", of the decompressed capture when it was compressed (the
/// offset is then not one in the file itself).
pub fn at_byte(offset: u64, decompressed: bool) -> String {
    match decompressed {
        true => format!("at byte {offset} of the decompressed capture"),
        false => format!("at byte {offset}"),
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(false))
    }
}

impl std::error::Error for ReadError {}

/// Why a parser refused a block it had whole: its fields contradict its length.
fn refused<I>(e: nom::Err<PcapError<I>>) -> String {
    match e {
        nom::Err::Error(PcapError::NomError(_, kind)) | nom::Err::Failure(PcapError::NomError(_, kind)) => {
            format!("its fields do not fit its length ({kind:?})")
        }
        nom::Err::Incomplete(_) => "its fields run past its end".into(),
        _ => "its fields do not parse".into(),
    }
}

/// A pcap or pcapng stream, read block by block.
pub struct CaptureReader<R> {
    input: R,
    /// `buf[start..end]` is read and not yet handed out.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    eof: bool,
    format: Format,
    /// The current pcapng section's byte order (pcap: the file's).
    big_endian: bool,
    interfaces: Vec<Interface>,
    /// The latest packet time handed out (to tell the unit of an `isb_endtime`).
    latest: Option<Timestamp>,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header (pcap) or the first Section Header Block
    /// (pcapng) of a stream known to be in `format`.
    pub fn new(format: Format, input: R) -> Result<CaptureReader<R>, ReadError> {
        let mut reader = CaptureReader {
            input,
            buf: vec![0; CHUNK * 4],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            format,
            big_endian: false,
            interfaces: Vec::new(),
            latest: None,
        };
        match format {
            Format::Pcap => reader.pcap_header()?,
            Format::PcapNg => {
                let (at, len) = reader.ng_block("section header block")?.ok_or_else(|| {
                    ReadError::cut_off(0, "section header block", 0, 28) // not reached: the magic was read
                })?;
                reader.section_header(at, len)?;
            }
        }
        Ok(reader)
    }

    /// Interface `index` of the current section.
    pub fn interface(&self, index: usize) -> Option<&Interface> {
        self.interfaces.get(index)
    }

    /// The interfaces of the current section.
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// Makes at least `need` bytes available from `start` unless the
    /// stream ends first; returns how many are.
    #[inline]
    fn fill(&mut self, need: usize) -> Result<usize, ReadError> {
        // Almost always: a record already buffered (reads are of 64 KiB at least).
        let buffered = self.end - self.start;
        if buffered >= need {
            return Ok(buffered);
        }
        self.read_more(need)
    }

    /// [`CaptureReader::fill`] when reading is needed.
    fn read_more(&mut self, need: usize) -> Result<usize, ReadError> {
        while self.end - self.start < need && !self.eof {
            if self.buf.len() - self.start < need || self.buf.len() - self.end < CHUNK / 4 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < need {
                    self.buf.resize(need.next_power_of_two(), 0);
                }
            }
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let offset = self.offset + (self.end - self.start) as u64;
                    return Err(ReadError { offset, kind: ReadErrorKind::Io(e) });
                }
            }
        }
        Ok(self.end - self.start)
    }

    /// The next record is buffered whole (or the stream has ended): reading
    /// it reads nothing from the stream, so it cannot wait for a pipe's
    /// writer. Told by its length field, as reading it will (a damaged
    /// length only makes the answer wrong, never the reading).
    pub fn record_buffered(&self) -> bool {
        let buffered = self.end - self.start;
        // The record's header, and where its length is in it (a pcap
        // record's captured length: 16 + that; a pcapng block's total length).
        let (header, len_at, more) = match self.format {
            Format::Pcap => (16, 8, 16),
            Format::PcapNg => (12, 4, 0),
        };
        if buffered < header {
            return self.eof;
        }
        buffered >= more + self.u32_at(self.start + len_at, self.big_endian) as usize || self.eof
    }

    /// Hands out the next `len` buffered bytes: returns where they start.
    fn take(&mut self, len: usize) -> usize {
        let at = self.start;
        self.start += len;
        self.offset += len as u64;
        at
    }

    /// The current byte order is not this host's.
    fn swapped(&self) -> bool {
        self.big_endian != cfg!(target_endian = "big")
    }

    fn u32_at(&self, at: usize, big_endian: bool) -> u32 {
        // One bounds check and one load (indexing byte by byte checked each).
        let bytes: [u8; 4] = self.buf[at..at + 4].try_into().expect("a 4-byte slice");
        if big_endian { u32::from_be_bytes(bytes) } else { u32::from_le_bytes(bytes) }
    }

    /// The next record or block; `None` at the end of the stream. A pcap
    /// record is read inline, in the caller's loop: called, the reading
    /// was 88 instructions a packet, a fifth of them the call's and the
    /// record's way back through memory (callgrind, bench/results.md,
    /// `thread12`).
    #[inline(always)]
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, ReadError> {
        match self.format {
            Format::Pcap => self.pcap_record(),
            Format::PcapNg => self.ng_record(),
        }
    }

    /// [`CaptureReader::next_record`] of a pcapng stream.
    #[inline(never)]
    fn ng_record(&mut self) -> Result<Option<Record<'_>>, ReadError> {
        loop {
            let Some((at, len)) = self.ng_block("block")? else { return Ok(None) };
            match self.u32_at(at, self.big_endian) {
                EPB_MAGIC | SPB_MAGIC | PB_MAGIC => return self.ng_packet(at, len).map(Some),
                _ => {
                    if let Some(record) = self.ng_metadata(at, len)? {
                        return Ok(Some(record));
                    }
                }
            }
        }
    }

    /// Reads on until the next block is a packet (or the stream ends),
    /// taking in the interfaces described before it.
    pub fn read_to_first_packet(&mut self) -> Result<(), ReadError> {
        if self.format == Format::Pcap {
            return Ok(());
        }
        loop {
            if self.fill(12)? < 12 {
                return Ok(());
            }
            let block_type = self.u32_at(self.start, self.big_endian);
            if matches!(block_type, EPB_MAGIC | SPB_MAGIC | PB_MAGIC) {
                return Ok(());
            }
            let Some((at, len)) = self.ng_block("block")? else { return Ok(()) };
            self.ng_metadata(at, len)?;
        }
    }

    // ---------------------------------------------------------------- pcap

    fn pcap_header(&mut self) -> Result<(), ReadError> {
        let got = self.fill(24)?;
        if got < 24 {
            return Err(ReadError::cut_off(0, "pcap file header", got, 24));
        }
        let at = self.take(24);
        let header = match parse_pcap_header(&self.buf[at..at + 24]) {
            Ok((_, header)) => header,
            Err(e) => return Err(ReadError::damaged(0, "pcap file header", refused(e))),
        };
        // libpcap's "archaic pcap savefile format".
        if header.version_major < 2 {
            let why = format!("version {}.{} is older than 2.4", header.version_major, header.version_minor);
            return Err(ReadError::damaged(0, "pcap file header", why));
        }
        self.big_endian = header.is_bigendian();
        // The upper bits of the link type field carry the FCS length (libpcap's LT_LINKTYPE).
        self.interfaces.push(Interface {
            dlt: linktype_to_dlt(header.network.0 & 0x03FF_FFFF),
            swapped: self.swapped(),
            snaplen: adjust_snaplen(header.snaplen),
            clock: Clock::Timeval { nanos: header.is_nanosecond_precision() },
        });
        Ok(())
    }

    #[inline(always)]
    fn pcap_record(&mut self) -> Result<Option<Record<'_>>, ReadError> {
        const WHAT: &str = "packet record";
        match self.fill(16)? {
            0 => return Ok(None),
            got if got < 16 => return Err(ReadError::cut_off(self.offset, WHAT, got, 16)),
            _ => {}
        }
        // The record's header in one piece: one bounds check, and one
        // branch on the byte order for its three fields (read one by one,
        // each was a check and a branch: 12 instructions a packet).
        let header: [u8; 16] = self.buf[self.start..self.start + 16].try_into().expect("a 16-byte slice");
        let field = |at: usize| -> [u8; 4] { header[at..at + 4].try_into().expect("a 4-byte slice") };
        let (ts_sec, ts_sub, caplen) = if self.big_endian {
            (u32::from_be_bytes(field(0)), u32::from_be_bytes(field(4)), u32::from_be_bytes(field(8)))
        } else {
            (u32::from_le_bytes(field(0)), u32::from_le_bytes(field(4)), u32::from_le_bytes(field(8)))
        };
        if caplen > MAXIMUM_SNAPLEN {
            let why = format!("it claims {caplen} captured bytes, more than the {MAXIMUM_SNAPLEN} a capture holds");
            return Err(ReadError::damaged(self.offset, WHAT, why));
        }
        let len = 16 + caplen as usize;
        let got = self.fill(len)?;
        if got < len {
            return Err(ReadError::cut_off(self.offset, WHAT, got, len));
        }
        let at = self.take(len);
        // The record's time, read in place as its length was (and as
        // `pcap_header_at` reads both): with the record whole in the
        // buffer, pcap-parser's `parse_pcap_frame` had nothing left to
        // refuse, and its call was a quarter of the reading per packet.
        let ts = self.pcap_time(ts_sec, ts_sub);
        Ok(Some(self.packet(0, ts, at + 16, caplen as usize)))
    }

    /// A pcap record's time from its two fields.
    fn pcap_time(&self, ts_sec: u32, ts_sub: u32) -> Timestamp {
        let nanos = matches!(self.interfaces[0].clock, Clock::Timeval { nanos: true });
        // As libpcap's `pcap_next_packet` (sf-pcap.c) reads them: signed
        // (`bpf_int32`) in the reading host's byte order, unsigned when it
        // byte-swaps them (its SWAPLONG yields an unsigned value); then
        // microseconds are scaled, as for a file opened with nanosecond precision.
        let (secs, sub) = if self.swapped() {
            (i64::from(ts_sec), i64::from(ts_sub))
        } else {
            (i64::from(ts_sec as i32), i64::from(ts_sub as i32))
        };
        Timestamp::from_timeval(secs, if nanos { sub } else { sub * 1000 })
    }

    /// The packet whose `caplen` bytes are buffered at `at`, cut to the
    /// interface's snapshot length, with its pseudo-header in this host's
    /// byte order, as libpcap hands packets out.
    #[inline(always)]
    fn packet(&mut self, interface: usize, ts: Timestamp, at: usize, caplen: usize) -> Record<'_> {
        let iface = &self.interfaces[interface];
        let len = caplen.min(iface.snaplen as usize);
        self.latest = Some(self.latest.map_or(ts, |l| l.max(ts)));
        if iface.swapped && iface.dlt == DLT_NFLOG {
            swap_nflog_header(&mut self.buf[at..at + len]);
        }
        Record::Packet(RawPacket { interface, ts, data: &self.buf[at..at + len] })
    }

    // ------------------------------------------------------------- resync

    /// Finds where reading can go on after `damage` (the error the last
    /// [`CaptureReader::next_record`] returned): the next byte, from the
    /// damaged record's second, where a plausible record starts — a pcap
    /// record header with a sane captured length and time, followed by
    /// another one or the end of the stream; a pcapng block of a known type
    /// whose trailing length repeats its leading one, followed by another
    /// block header or the end. (pcapng blocks carry their length at both
    /// ends so that a reader can find its way, RFC draft-ietf-opsawg-pcapng
    /// §3.1; pcapfix searches damaged files the same way.) Returns the
    /// offset reading resumes at; None when the stream ends first, or the
    /// error cannot be skipped (reading itself failed).
    pub fn resync(&mut self, damage: &ReadError) -> Result<Option<u64>, ReadError> {
        if matches!(damage.kind, ReadErrorKind::Io(_)) {
            return Ok(None);
        }
        // The damaged record is still buffered: nothing was read since it was.
        let back = self.offset.checked_sub(damage.offset).filter(|&b| b <= self.start as u64);
        let Some(back) = back else { return Ok(None) };
        self.start -= back as usize;
        self.offset = damage.offset;
        let header = match self.format {
            Format::Pcap => 16,
            Format::PcapNg => 12,
        };
        loop {
            self.take(1);
            if self.fill(header)? < header {
                // Nothing plausible up to the end: the rest is skipped.
                self.take(self.end - self.start);
                return Ok(None);
            }
            let plausible = match self.format {
                Format::Pcap => self.plausible_pcap_record()?,
                Format::PcapNg => self.plausible_block()?,
            };
            if plausible {
                return Ok(Some(self.offset));
            }
        }
    }

    /// The pcap record header at `at`, when it is plausible after a packet
    /// at `after`: its captured length within the snapshot length and its
    /// wire length, a sub-second part below one second, and a time no
    /// earlier than [`RESYNC_BEFORE_S`] before and no later than
    /// [`RESYNC_AFTER_S`] after. Returns its time and whole length.
    fn pcap_header_at(&self, at: usize, after: Option<Timestamp>) -> Option<(Timestamp, usize)> {
        let be = self.big_endian;
        let (secs, sub, caplen, len) =
            (self.u32_at(at, be), self.u32_at(at + 4, be), self.u32_at(at + 8, be), self.u32_at(at + 12, be));
        let nanos = matches!(self.interfaces[0].clock, Clock::Timeval { nanos: true });
        let sane = caplen <= self.interfaces[0].snaplen
            && caplen <= len
            && len <= RESYNC_MAX_WIRE_LEN
            && sub < if nanos { 1_000_000_000 } else { 1_000_000 };
        let ts = self.pcap_time(secs, sub);
        let in_time = after.is_none_or(|a| (-RESYNC_BEFORE_S..=RESYNC_AFTER_S).contains(&ts.secs_since(a)));
        (sane && in_time).then_some((ts, 16 + caplen as usize))
    }

    /// A plausible pcap record starts at `start`, and another one (or the
    /// end of the stream) after it.
    fn plausible_pcap_record(&mut self) -> Result<bool, ReadError> {
        let Some((ts, len)) = self.pcap_header_at(self.start, self.latest) else { return Ok(false) };
        let got = self.fill(len + 16)?;
        if got == len && self.eof {
            return Ok(true);
        }
        Ok(got >= len + 16 && self.pcap_header_at(self.start + len, Some(ts)).is_some())
    }

    /// The type, byte order and length of a pcapng block header at `at`,
    /// when its type is one a writer writes and its length is possible.
    fn block_header_at(&self, at: usize) -> Option<(u32, bool, usize)> {
        let (block_type, big_endian) = match self.u32_at(at, false) {
            SHB_MAGIC => match self.u32_at(at + 8, false) {
                BOM_MAGIC => (SHB_MAGIC, false),
                bom if bom == BOM_MAGIC.swap_bytes() => (SHB_MAGIC, true),
                _ => return None,
            },
            _ => (self.u32_at(at, self.big_endian), self.big_endian),
        };
        let known = matches!(
            block_type,
            SHB_MAGIC
                | IDB_MAGIC
                | PB_MAGIC
                | SPB_MAGIC
                | NRB_MAGIC
                | ISB_MAGIC
                | EPB_MAGIC
                | SJE_MAGIC
                | DSB_MAGIC
                | CB_MAGIC
                | DCB_MAGIC
        );
        let len = self.u32_at(at + 4, big_endian) as usize;
        (known && len >= 12 && len.is_multiple_of(4) && len <= MAX_BLOCK).then_some((block_type, big_endian, len))
    }

    /// A plausible pcapng block starts at `start`: a known type, its
    /// length at both ends, a packet's interface described and its data
    /// within the block; and another block header (or the end) after it.
    fn plausible_block(&mut self) -> Result<bool, ReadError> {
        let Some((block_type, be, len)) = self.block_header_at(self.start) else { return Ok(false) };
        // The next block's header: 12 bytes (a Section Header Block's byte-order magic is its third word).
        let got = self.fill(len + 12)?;
        if got < len {
            return Ok(false);
        }
        let at = self.start;
        if self.u32_at(at + len - 4, be) != len as u32 {
            return Ok(false);
        }
        let described = |interface: u32| (interface as usize) < self.interfaces.len();
        let fits = match block_type {
            EPB_MAGIC => {
                len >= 32 && described(self.u32_at(at + 8, be)) && self.u32_at(at + 20, be) as usize <= len - 32
            }
            PB_MAGIC => self.obsolete_packet(at, len).is_some_and(|(interface, ..)| described(interface as u32)),
            SPB_MAGIC => len >= 16 && described(0),
            SHB_MAGIC => len >= 28,
            _ => true,
        };
        if !fits {
            return Ok(false);
        }
        if got == len && self.eof {
            return Ok(true);
        }
        Ok(got >= len + 12 && self.block_header_at(at + len).is_some())
    }

    // -------------------------------------------------------------- pcapng

    /// Buffers the next whole block: returns where it starts and its length.
    fn ng_block(&mut self, what: &'static str) -> Result<Option<(usize, usize)>, ReadError> {
        match self.fill(12)? {
            0 => return Ok(None),
            got if got < 12 => return Err(ReadError::cut_off(self.offset, what, got, 12)),
            _ => {}
        }
        // A Section Header Block sets its own byte order, read from its
        // byte-order magic (the block type reads the same both ways).
        let big_endian = if self.u32_at(self.start, false) == SHB_MAGIC {
            match self.u32_at(self.start + 8, false) {
                BOM_MAGIC => false,
                bom if bom == BOM_MAGIC.swap_bytes() => true,
                bom => {
                    let why = format!("byte-order magic {bom:#010x}");
                    return Err(ReadError::damaged(self.offset, "section header block", why));
                }
            }
        } else {
            self.big_endian
        };
        let len = self.u32_at(self.start + 4, big_endian) as usize;
        if len < 12 || !len.is_multiple_of(4) || len > MAX_BLOCK {
            let why = format!("its length {len} is not a multiple of 4 from 12 to {MAX_BLOCK}");
            return Err(ReadError::damaged(self.offset, what, why));
        }
        let got = self.fill(len)?;
        if got < len {
            return Err(ReadError::cut_off(self.offset, what, got, len));
        }
        Ok(Some((self.take(len), len)))
    }

    fn parse_block(&self, at: usize, len: usize) -> Result<Block<'_>, String> {
        let bytes = &self.buf[at..at + len];
        let parsed = if self.big_endian { parse_block_be(bytes) } else { parse_block_le(bytes) };
        parsed.map(|(_, block)| block).map_err(refused)
    }

    /// The stream offset of the block buffered at `at`.
    fn offset_of(&self, at: usize) -> u64 {
        self.offset - (self.start - at) as u64
    }

    fn section_header(&mut self, at: usize, len: usize) -> Result<(), ReadError> {
        const WHAT: &str = "section header block";
        let offset = self.offset_of(at);
        let shb = match parse_sectionheaderblock(&self.buf[at..at + len]) {
            Ok((_, shb)) => shb,
            Err(e) => return Err(ReadError::damaged(offset, WHAT, refused(e))),
        };
        // libpcap: "unsupported pcapng savefile version".
        if shb.major_version != 1 {
            let why = format!("version {}.{} is not 1.x", shb.major_version, shb.minor_version);
            return Err(ReadError::damaged(offset, WHAT, why));
        }
        self.big_endian = shb.big_endian();
        self.interfaces.clear();
        Ok(())
    }

    /// Takes in a block that is not a packet; returns what changed.
    fn ng_metadata(&mut self, at: usize, len: usize) -> Result<Option<Record<'static>>, ReadError> {
        let offset = self.offset_of(at);
        if self.u32_at(at, false) == SHB_MAGIC {
            self.section_header(at, len)?;
            return Ok(Some(Record::Section));
        }
        let interface = match self.parse_block(at, len) {
            Ok(Block::InterfaceDescription(idb)) => {
                const WHAT: &str = "interface description block";
                let Some(per_sec) = ticks_per_sec(idb.if_tsresol) else {
                    let why = format!("if_tsresol {:#04x} is finer than 64 bits count", idb.if_tsresol);
                    return Err(ReadError::damaged(offset, WHAT, why));
                };
                let tsoffset = self.option_u64(&idb.options, OptionCode::IfTsoffset).map(|o| o as i64);
                Interface {
                    dlt: linktype_to_dlt(i32::from(idb.linktype.0 as u16)),
                    swapped: self.swapped(),
                    snaplen: adjust_snaplen(idb.snaplen),
                    clock: Clock::Ticks { per_sec, offset: tsoffset.unwrap_or(0) },
                }
            }
            Ok(Block::InterfaceStatistics(isb)) => {
                let drops = Drops {
                    by_interface: self.option_u64(&isb.options, OptionCode::IsbIfDrop).unwrap_or(0),
                    by_os: self.option_u64(&isb.options, OptionCode::IsbOsDrop).unwrap_or(0),
                };
                let interface = isb.if_id as usize;
                let ended = self.end_time(interface, &isb.options);
                return Ok(Some(Record::Statistics { interface, drops, ended }));
            }
            Ok(_) => return Ok(None),
            Err(why) => {
                // Only the blocks tcpka uses must parse; others are skipped whole.
                let block_type = self.u32_at(at, self.big_endian);
                if block_type == 1 {
                    return Err(ReadError::damaged(offset, "interface description block", why));
                }
                return Ok(None);
            }
        };
        self.interfaces.push(interface);
        Ok(Some(Record::Interface(self.interfaces.len() - 1)))
    }

    /// A 64-bit option, in the section's byte order (pcap-parser's own
    /// accessors read these little-endian whatever the byte order).
    fn option_u64(&self, options: &[PcapNGOption<'_>], code: OptionCode) -> Option<u64> {
        let option = options.iter().find(|o| o.code == code)?;
        let bytes: [u8; 8] = option.value().get(..8)?.try_into().ok()?;
        Some(if self.big_endian { u64::from_be_bytes(bytes) } else { u64::from_le_bytes(bytes) })
    }

    /// The `isb_endtime` of an Interface Statistics Block: "the time the
    /// capture ended" (pcapng, draft-ietf-opsawg-pcapng §4.6), two 32-bit
    /// words like an Enhanced Packet Block's time, in ticks of the
    /// interface's `if_tsresol`. dumpcap writes it in microseconds whatever
    /// the resolution (`pcapng_write_interface_statistics_block` in
    /// Wireshark's writecap/pcapio.c gets it from `gettimeofday`), which a
    /// nanosecond interface reads as a time in 1970: a capture cannot end
    /// before the packets it holds, so a time before them is read in
    /// microseconds, and dropped when that is before them too. The block's
    /// own timestamp is not used: text2pcap and others stamp it with the
    /// time the file was written, not captured.
    fn end_time(&self, interface: usize, options: &[PcapNGOption<'_>]) -> Option<Timestamp> {
        let Clock::Ticks { per_sec, offset } = self.interfaces.get(interface)?.clock else { return None };
        let value = options.iter().find(|o| o.code == OptionCode::IsbEndTime)?.value();
        let word = |i: usize| -> Option<u32> {
            let bytes: [u8; 4] = value.get(i * 4..i * 4 + 4)?.try_into().ok()?;
            Some(if self.big_endian { u32::from_be_bytes(bytes) } else { u32::from_le_bytes(bytes) })
        };
        let ticks = (u64::from(word(0)?) << 32) | u64::from(word(1)?);
        let not_before_packets = |t: &Timestamp| self.latest.is_none_or(|l| *t >= l);
        [per_sec, 1_000_000]
            .into_iter()
            .map(|per_sec| Timestamp::from_ticks(ticks, per_sec, offset))
            .find(not_before_packets)
    }

    fn ng_packet(&mut self, at: usize, len: usize) -> Result<Record<'_>, ReadError> {
        const WHAT: &str = "packet block";
        let offset = self.offset_of(at);
        // (interface, time in ticks, where the data starts, captured length)
        let (interface, ticks, data, caplen) = match self.u32_at(at, self.big_endian) {
            PB_MAGIC => self
                .obsolete_packet(at, len)
                .ok_or_else(|| ReadError::damaged(offset, WHAT, "its captured length runs past its end"))?,
            _ => match self.parse_block(at, len) {
                // The data is padded to 32 bits: the captured length says where it ends.
                Ok(Block::EnhancedPacket(epb)) => {
                    let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    (epb.if_id as usize, Some(ticks), at + 28, epb.caplen as usize)
                }
                // A Simple Packet Block is on interface 0, holds the packet up
                // to the snapshot length and has no time (libpcap gives it 0).
                Ok(Block::SimplePacket(spb)) => (0, None, at + 12, spb.data.len().min(spb.origlen as usize)),
                Ok(_) => unreachable!("a packet block type parses as a packet block"),
                Err(why) => return Err(ReadError::damaged(offset, WHAT, why)),
            },
        };
        let Some(iface) = self.interfaces.get(interface) else {
            let why = format!(
                "it is on interface {interface}, but the section describes {} interface(s)",
                self.interfaces.len()
            );
            return Err(ReadError::damaged(offset, WHAT, why));
        };
        let ts = match (ticks, iface.clock) {
            (Some(ticks), Clock::Ticks { per_sec, offset }) => Timestamp::from_ticks(ticks, per_sec, offset),
            _ => Timestamp::default(),
        };
        Ok(self.packet(interface, ts, data, caplen))
    }

    /// The obsolete Packet Block: interface (16 bits), drops (16 bits),
    /// timestamp (2 × 32 bits), captured and original length, data.
    fn obsolete_packet(&self, at: usize, len: usize) -> Option<(usize, Option<u64>, usize, usize)> {
        if len < 32 {
            return None;
        }
        let be = self.big_endian;
        let word = self.u32_at(at + 8, be);
        let interface = if be { word >> 16 } else { word & 0xffff } as usize;
        let ticks = (u64::from(self.u32_at(at + 12, be)) << 32) | u64::from(self.u32_at(at + 16, be));
        let caplen = self.u32_at(at + 20, be) as usize;
        (caplen <= len - 32).then_some((interface, Some(ticks), at + 28, caplen))
    }
}

/// The ticks per second of `if_tsresol`: 10^n, or 2^n with the top bit
/// set; None beyond 64 bits, where libpcap refuses the file too.
/// (`pcap_parser::build_ts_resolution` tests the exponent with the top bit
/// still set, and so refuses every binary resolution above 2^63.)
fn ticks_per_sec(tsresol: u8) -> Option<u64> {
    match tsresol {
        binary if binary & 0x80 != 0 => 1u64.checked_shl(u32::from(binary & 0x7f)),
        decimal => 10u64.checked_pow(u32::from(decimal)),
    }
}

/// DLT_NFLOG.
const DLT_NFLOG: i32 = 239;

/// libpcap's `swap_nflog_header` (pcap-common.c): an NFLOG packet's TLV
/// lengths and types are in the writing host's byte order; a file from a
/// host of the other byte order has them swapped to this host's.
fn swap_nflog_header(data: &mut [u8]) {
    // Version 0 only; the 4-byte header itself is in network byte order.
    if data.len() < 4 || data[1] != 0 {
        return;
    }
    let mut at = 4;
    while data.len() - at >= 4 {
        data.swap(at, at + 1);
        data.swap(at + 2, at + 3);
        let size = u16::from_ne_bytes([data[at], data[at + 1]]) as usize;
        let size = size.next_multiple_of(4);
        if size < 4 || data.len() - at < size {
            return;
        }
        at += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pcapng blocks, written in either byte order.
    struct Ng {
        be: bool,
        bytes: Vec<u8>,
    }

    impl Ng {
        fn new(be: bool) -> Ng {
            let mut ng = Ng { be, bytes: Vec::new() };
            ng.section();
            ng
        }
        fn u16(&self, v: u16) -> [u8; 2] {
            if self.be { v.to_be_bytes() } else { v.to_le_bytes() }
        }
        fn u32(&self, v: u32) -> [u8; 4] {
            if self.be { v.to_be_bytes() } else { v.to_le_bytes() }
        }
        fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Ng {
            let len = (12 + body.len()) as u32;
            let (t, l) = (self.u32(block_type), self.u32(len));
            self.bytes.extend_from_slice(&t);
            self.bytes.extend_from_slice(&l);
            self.bytes.extend_from_slice(body);
            self.bytes.extend_from_slice(&l);
            self
        }
        fn section(&mut self) -> &mut Ng {
            let mut body = self.u32(BOM_MAGIC).to_vec();
            body.extend_from_slice(&self.u16(1));
            body.extend_from_slice(&self.u16(0));
            body.extend_from_slice(&[0xff; 8]);
            self.block(SHB_MAGIC, &body)
        }
        /// An interface with `if_tsresol` and `if_tsoffset` when given.
        fn interface(&mut self, linktype: u16, snaplen: u32, tsresol: Option<u8>, tsoffset: Option<i64>) -> &mut Ng {
            let mut body = self.u16(linktype).to_vec();
            body.extend_from_slice(&[0, 0]);
            body.extend_from_slice(&self.u32(snaplen));
            if let Some(r) = tsresol {
                body.extend_from_slice(&self.u16(9));
                body.extend_from_slice(&self.u16(1));
                body.extend_from_slice(&[r, 0, 0, 0]);
            }
            if let Some(o) = tsoffset {
                body.extend_from_slice(&self.u16(14));
                body.extend_from_slice(&self.u16(8));
                body.extend_from_slice(&if self.be { o.to_be_bytes() } else { o.to_le_bytes() });
            }
            body.extend_from_slice(&[0; 4]); // opt_endofopt
            self.block(1, &body)
        }
        fn padded(data: &[u8]) -> Vec<u8> {
            let mut d = data.to_vec();
            d.resize(data.len().next_multiple_of(4), 0);
            d
        }
        fn enhanced(&mut self, interface: u32, ticks: u64, data: &[u8]) -> &mut Ng {
            let mut body = self.u32(interface).to_vec();
            body.extend_from_slice(&self.u32((ticks >> 32) as u32));
            body.extend_from_slice(&self.u32(ticks as u32));
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(&Ng::padded(data));
            self.block(EPB_MAGIC, &body)
        }
        fn simple(&mut self, origlen: u32, data: &[u8]) -> &mut Ng {
            let mut body = self.u32(origlen).to_vec();
            body.extend_from_slice(&Ng::padded(data));
            self.block(SPB_MAGIC, &body)
        }
        fn statistics(&mut self, interface: u32, if_drop: u64, os_drop: u64) -> &mut Ng {
            let mut body = self.u32(interface).to_vec();
            body.extend_from_slice(&[0; 8]);
            for (code, value) in [(5, if_drop), (7, os_drop)] {
                body.extend_from_slice(&self.u16(code));
                body.extend_from_slice(&self.u16(8));
                body.extend_from_slice(&if self.be { value.to_be_bytes() } else { value.to_le_bytes() });
            }
            body.extend_from_slice(&[0; 4]);
            self.block(5, &body)
        }
        /// A statistics block with only `isb_endtime`, in `ticks`.
        fn ending(&mut self, interface: u32, ticks: u64) -> &mut Ng {
            let mut body = self.u32(interface).to_vec();
            body.extend_from_slice(&[0; 8]);
            body.extend_from_slice(&self.u16(3));
            body.extend_from_slice(&self.u16(8));
            body.extend_from_slice(&self.u32((ticks >> 32) as u32));
            body.extend_from_slice(&self.u32(ticks as u32));
            body.extend_from_slice(&[0; 4]);
            self.block(5, &body)
        }
        fn obsolete(&mut self, interface: u16, ticks: u64, data: &[u8]) -> &mut Ng {
            let mut body = self.u16(interface).to_vec();
            body.extend_from_slice(&self.u16(0));
            body.extend_from_slice(&self.u32((ticks >> 32) as u32));
            body.extend_from_slice(&self.u32(ticks as u32));
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(&Ng::padded(data));
            self.block(PB_MAGIC, &body)
        }
    }

    /// Hands out one byte per read, as a slow pipe may.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else { return Ok(0) };
            if buf.is_empty() {
                return Ok(0);
            }
            buf[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }

    /// Every packet as (interface, time, data), then how reading ended.
    type Packets = (Vec<(usize, Timestamp, Vec<u8>)>, Option<ReadError>);

    fn packets(mut reader: CaptureReader<impl Read>) -> Packets {
        let mut out = Vec::new();
        loop {
            match reader.next_record() {
                Ok(Some(Record::Packet(p))) => out.push((p.interface, p.ts, p.data.to_vec())),
                Ok(Some(_)) => {}
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn read_ng(bytes: &[u8]) -> Packets {
        packets(CaptureReader::new(Format::PcapNg, bytes).expect("a section header"))
    }

    #[test]
    fn sniffs_magic_numbers() {
        assert_eq!(Format::sniff(&[0xd4, 0xc3, 0xb2, 0xa1]), Some(Format::Pcap));
        assert_eq!(Format::sniff(&[0x4d, 0x3c, 0xb2, 0xa1]), Some(Format::Pcap));
        assert_eq!(Format::sniff(&[0x0a, 0x0d, 0x0d, 0x0a]), Some(Format::PcapNg));
        assert_eq!(Format::sniff(b"GIF8"), None);
        assert_eq!(Format::sniff(&[0xd4]), None);
    }

    #[test]
    fn each_interface_has_its_own_link_type_and_clock() {
        for be in [false, true] {
            let mut ng = Ng::new(be);
            // Ethernet in nanoseconds; Linux cooked v2 in 2^-20 s, 100 s ahead.
            ng.interface(1, 0, Some(9), None).interface(276, 0, Some(0x80 | 20), Some(100));
            ng.enhanced(1, 5 << 20 | 1 << 19, b"second").enhanced(0, 1_700_000_000_123_456_789, b"first");
            let mut reader = CaptureReader::new(Format::PcapNg, &ng.bytes[..]).unwrap();
            reader.read_to_first_packet().unwrap();
            assert_eq!(reader.interfaces().iter().map(|i| i.dlt).collect::<Vec<_>>(), [1, 276]);
            assert_eq!(reader.interfaces()[0].swapped, be != cfg!(target_endian = "big"));
            let (got, end) = packets(reader);
            assert!(end.is_none());
            assert_eq!(got[0], (1, Timestamp(105_500_000_000), b"second".to_vec()));
            assert_eq!(got[1], (0, Timestamp(1_700_000_000_123_456_789), b"first".to_vec()));
        }
    }

    #[test]
    fn statistics_blocks_count_drops_in_the_section_byte_order() {
        for be in [false, true] {
            let mut ng = Ng::new(be);
            ng.interface(1, 0, None, None).statistics(0, 3, 0x1_0000_0002);
            let mut reader = CaptureReader::new(Format::PcapNg, &ng.bytes[..]).unwrap();
            assert!(matches!(reader.next_record(), Ok(Some(Record::Interface(0)))));
            let Ok(Some(Record::Statistics { interface, drops, ended: None })) = reader.next_record() else {
                panic!("statistics")
            };
            assert_eq!((interface, drops), (0, Drops { by_interface: 3, by_os: 0x1_0000_0002 }), "big-endian {be}");
        }
    }

    #[test]
    fn statistics_end_times_are_read_in_the_interface_clock_or_as_dumpcap_writes_them() {
        const PACKET_NS: u64 = 1_700_000_000_000_000_000;
        for be in [false, true] {
            let mut ng = Ng::new(be);
            // Nanoseconds, 100 s ahead (if_tsoffset): the end times are too.
            ng.interface(1, 0, Some(9), Some(100)).enhanced(0, PACKET_NS, b"p");
            // 5 s after the packet, in nanoseconds as the interface counts.
            ng.ending(0, PACKET_NS + 5_000_000_000);
            // dumpcap: microseconds (read as nanoseconds, a time in 1970).
            ng.ending(0, PACKET_NS / 1000 + 7_000_000);
            // Before the packet either way: not an end.
            ng.ending(0, 1_000_000);
            // On an interface the section does not describe.
            ng.ending(3, PACKET_NS + 9_000_000_000);
            let mut reader = CaptureReader::new(Format::PcapNg, &ng.bytes[..]).unwrap();
            let mut ends = Vec::new();
            while let Some(record) = reader.next_record().unwrap() {
                if let Record::Statistics { ended, .. } = record {
                    ends.push(ended);
                }
            }
            let at = |s: i64| Some(Timestamp((1_700_000_100 + s) * 1_000_000_000));
            assert_eq!(ends, [at(5), at(7), None, None], "big-endian {be}");
        }
    }

    #[test]
    fn reads_simple_and_obsolete_packet_blocks() {
        let mut ng = Ng::new(false);
        // Snapshot length 4: packets are cut as libpcap cuts them.
        ng.interface(1, 4, None, None);
        ng.simple(3, b"abcdefgh").simple(8, b"abcdefgh").obsolete(0, 2_000_000, b"xyz");
        let (got, end) = read_ng(&ng.bytes);
        assert!(end.is_none());
        // A Simple Packet Block has no time: libpcap gives it 0.
        assert_eq!(got[0], (0, Timestamp(0), b"abc".to_vec()));
        assert_eq!(got[1], (0, Timestamp(0), b"abcd".to_vec()));
        assert_eq!(got[2], (0, Timestamp(2_000_000_000), b"xyz".to_vec()));
    }

    #[test]
    fn a_new_section_starts_over_with_its_own_interfaces_and_byte_order() {
        let mut first = Ng::new(false);
        first.interface(1, 0, None, None).interface(113, 0, None, None).enhanced(1, 1, b"a");
        let mut second = Ng::new(true);
        second.interface(101, 0, None, None).enhanced(0, 2, b"b").enhanced(1, 3, b"c");
        let bytes = [first.bytes, second.bytes.clone()].concat();
        let mut reader = CaptureReader::new(Format::PcapNg, Trickle(&bytes)).unwrap();
        let mut records = Vec::new();
        let err = loop {
            match reader.next_record() {
                Ok(Some(Record::Packet(p))) => records.push(format!("packet {} {:?}", p.interface, p.data)),
                Ok(Some(Record::Section)) => records.push("section".into()),
                Ok(Some(Record::Interface(i))) => records.push(format!("interface {i} {}", reader.interfaces()[i].dlt)),
                Ok(Some(Record::Statistics { interface, .. })) => records.push(format!("statistics {interface}")),
                Ok(None) => panic!("the last block names an interface the section lacks"),
                Err(e) => break e,
            }
        };
        // LINKTYPE_RAW (101) is libpcap's DLT_RAW (12).
        let want = ["interface 0 1", "interface 1 113", "packet 1 [97]", "section", "interface 0 12", "packet 0 [98]"];
        assert_eq!(records, want);
        // Past the section header (28 bytes), the interface (24) and the first packet (36).
        let offset = bytes.len() - second.bytes.len() + 28 + 24 + 36;
        assert_eq!(err.offset, offset as u64);
        assert!(err.to_string().contains("on interface 1, but the section describes 1 interface"), "{err}");
    }

    #[test]
    fn a_cut_off_block_and_a_damaged_length_say_where() {
        let mut ng = Ng::new(false);
        ng.interface(1, 0, None, None).enhanced(0, 1, b"whole").enhanced(0, 2, b"cut");
        let cut = &ng.bytes[..ng.bytes.len() - 5];
        let (got, end) = read_ng(cut);
        assert_eq!(got.len(), 1);
        let end = end.expect("cut off");
        let second = ng.bytes.len() - 36;
        assert_eq!(end.offset, second as u64);
        assert!(matches!(end.kind, ReadErrorKind::CutOff { got: 31, need: 36, .. }), "{end}");

        let mut damaged = ng.bytes.clone();
        damaged[second + 4] = 13; // a length that is not a multiple of 4
        let (got, end) = read_ng(&damaged);
        assert_eq!(got.len(), 1);
        assert!(end.expect("damaged").to_string().contains(&format!("block at byte {second} is damaged")));
    }

    /// A pcap file in either byte order, micro- or nanoseconds.
    fn pcap(be: bool, nanos: bool, linktype: u32, snaplen: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = u32b(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }).to_vec();
        out.extend_from_slice(&u16b(2));
        out.extend_from_slice(&u16b(4));
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&u32b(snaplen));
        out.extend_from_slice(&u32b(linktype));
        for (secs, sub, data) in records {
            for v in [*secs, *sub, data.len() as u32, data.len() as u32] {
                out.extend_from_slice(&u32b(v));
            }
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn pcap_times_are_signed_as_libpcap_reads_them() {
        let records: &[(u32, u32, &[u8])] = &[(0xF000_0000, 5, b"a"), (100, 2_000_000, b"b")];
        for be in [false, true] {
            let bytes = pcap(be, false, 1, 0, records);
            let (got, end) = packets(CaptureReader::new(Format::Pcap, &bytes[..]).unwrap());
            assert!(end.is_none());
            // Signed in this host's byte order, unsigned when swapped (libpcap's SWAPLONG).
            let secs = if be == cfg!(target_endian = "big") { -268_435_456 } else { 0xF000_0000 };
            assert_eq!(got[0].1, Timestamp(secs * 1_000_000_000 + 5_000));
            assert_eq!(got[1].1, Timestamp(102_000_000_000));
        }
        let bytes = pcap(false, true, 1, 0, &[(1, 7, b"n")]);
        let (got, _) = packets(CaptureReader::new(Format::Pcap, &bytes[..]).unwrap());
        assert_eq!(got[0].1, Timestamp(1_000_000_007));
    }

    #[test]
    fn pcap_records_are_cut_to_the_snapshot_length_and_checked() {
        let bytes = pcap(false, false, 101, 2, &[(1, 0, b"abc")]);
        let mut reader = CaptureReader::new(Format::Pcap, Trickle(&bytes)).unwrap();
        assert_eq!(reader.interfaces()[0].dlt, 12, "LINKTYPE_RAW is DLT_RAW");
        let Ok(Some(Record::Packet(p))) = reader.next_record() else { panic!("a packet") };
        assert_eq!(p.data, b"ab");
        let mut huge = pcap(false, false, 1, 0, &[(1, 0, b"abc")]);
        huge[24 + 8..24 + 12].copy_from_slice(&(MAXIMUM_SNAPLEN + 1).to_le_bytes());
        let (_, end) = packets(CaptureReader::new(Format::Pcap, &huge[..]).unwrap());
        let end = end.expect("damaged");
        assert_eq!(end.offset, 24);
        assert!(end.to_string().contains("claims 262145 captured bytes"), "{end}");
    }

    /// Every packet's data, the damaged places as (offset of the damage,
    /// offset resumed at), and how reading ended.
    type ReadThrough = (Vec<Vec<u8>>, Vec<(u64, u64)>, Option<ReadError>);

    /// Reads every packet, resynchronising after each damage.
    fn read_through(mut reader: CaptureReader<impl Read>) -> ReadThrough {
        let (mut data, mut skipped) = (Vec::new(), Vec::new());
        loop {
            match reader.next_record() {
                Ok(Some(Record::Packet(p))) => data.push(p.data.to_vec()),
                Ok(Some(_)) => {}
                Ok(None) => return (data, skipped, None),
                Err(e) => match reader.resync(&e).expect("no read error") {
                    Some(at) => skipped.push((e.offset, at)),
                    None => return (data, skipped, Some(e)),
                },
            }
        }
    }

    #[test]
    fn pcap_reading_resumes_at_the_next_plausible_record_after_damage() {
        let records: &[(u32, u32, &[u8])] =
            &[(100, 1, b"one"), (100, 2, b"two"), (101, 3, b"three"), (102, 4, b"four"), (103, 5, b"five")];
        for be in [false, true] {
            let clean = pcap(be, false, 1, 65535, records);
            // Record 2's header: a captured length no capture holds.
            let two = 24 + 16 + 3;
            let mut bad_length = clean.clone();
            bad_length[two + 8..two + 12].copy_from_slice(&[0xff; 4]);
            let (data, skipped, end) = read_through(CaptureReader::new(Format::Pcap, Trickle(&bad_length)).unwrap());
            assert!(end.is_none());
            assert_eq!(data, [&b"one"[..], b"three", b"four", b"five"]);
            assert_eq!(skipped, [(two as u64, (two + 16 + 3) as u64)], "big-endian {be}");

            // 37 bytes of garbage between records 3 and 4: the header read
            // in them claims a length no capture holds.
            let four = two + 16 + 3 + 16 + 5;
            let mut garbage = clean[..four].to_vec();
            garbage.extend(std::iter::repeat_n(0xee, 37));
            garbage.extend_from_slice(&clean[four..]);
            let (data, skipped, end) = read_through(CaptureReader::new(Format::Pcap, &garbage[..]).unwrap());
            assert!(end.is_none());
            assert_eq!(data, [&b"one"[..], b"two", b"three", b"four", b"five"]);
            assert_eq!(skipped, [(four as u64, (four + 37) as u64)]);
        }
        // Garbage up to the end: nothing to resume at.
        let mut tail = pcap(false, false, 1, 65535, records);
        let good = tail.len();
        tail.extend(std::iter::repeat_n(0xff, 100));
        let (data, skipped, end) = read_through(CaptureReader::new(Format::Pcap, &tail[..]).unwrap());
        assert_eq!((data.len(), skipped.len()), (5, 0));
        assert_eq!(end.expect("damaged").offset, good as u64);
    }

    #[test]
    fn pcap_resync_takes_no_record_with_an_insane_time_or_length() {
        // After the damaged record, a header whose sub-second part is a
        // second, then one whose time is a day before the last packet's
        // (each followed by a sane one): skipped.
        let records: &[(u32, u32, &[u8])] = &[
            (100_000, 0, b"a"),
            (100_000, 1, b"b"),
            (100_001, 1_000_000, b"y"),
            (13_600, 0, b"x"),
            (100_002, 0, b"c"),
            (100_003, 0, b"d"),
        ];
        let mut bytes = pcap(false, false, 1, 65535, records);
        let two = 24 + 16 + 1;
        bytes[two + 8..two + 12].copy_from_slice(&[0xff; 4]);
        let (data, skipped, _) = read_through(CaptureReader::new(Format::Pcap, &bytes[..]).unwrap());
        assert_eq!(data, [&b"a"[..], b"c", b"d"]);
        assert_eq!(skipped, [(two as u64, (two + 3 * 17) as u64)]);
    }

    #[test]
    fn a_record_is_buffered_whole_or_reading_it_reads_the_stream() {
        for be in [false, true] {
            let bytes = pcap(be, false, 1, 0, &[(1, 0, b"one"), (2, 0, b"two")]);
            // The first read ends within the second record's header, then
            // within its data: reading it needs more from the stream (a
            // pipe's writer may not have written it yet).
            for cut in [24 + 19 + 10, 24 + 19 + 17] {
                let mut reader = CaptureReader::new(Format::Pcap, (&bytes[..cut]).chain(&bytes[cut..])).unwrap();
                assert!(matches!(reader.next_record(), Ok(Some(Record::Packet(_)))));
                assert!(!reader.record_buffered(), "cut at {cut}");
                assert!(matches!(reader.next_record(), Ok(Some(Record::Packet(_)))));
                // Nothing buffered, and the stream not known to have ended.
                assert!(!reader.record_buffered());
                assert!(matches!(reader.next_record(), Ok(None)));
                assert!(reader.record_buffered(), "the stream has ended: nothing to wait for");
            }
            let mut reader = CaptureReader::new(Format::Pcap, &bytes[..]).unwrap();
            assert!(matches!(reader.next_record(), Ok(Some(Record::Packet(_)))));
            assert!(reader.record_buffered(), "the second record came with the first read");

            let mut ng = Ng::new(be);
            ng.interface(1, 0, None, None);
            let header = ng.bytes.len();
            ng.enhanced(0, 1, b"one").enhanced(0, 2, b"two");
            let bytes = ng.bytes;
            let mut reader = CaptureReader::new(Format::PcapNg, &bytes[..]).unwrap();
            reader.read_to_first_packet().unwrap();
            assert!(reader.record_buffered());
            assert!(matches!(reader.next_record(), Ok(Some(Record::Packet(_)))));
            assert!(reader.record_buffered(), "the second block came with the first read");
            // Cut within the second block (36 bytes from `header + 36`).
            let cut = header + 36 + 20;
            let mut reader = CaptureReader::new(Format::PcapNg, (&bytes[..cut]).chain(&bytes[cut..])).unwrap();
            reader.read_to_first_packet().unwrap();
            assert!(matches!(reader.next_record(), Ok(Some(Record::Packet(_)))));
            assert!(!reader.record_buffered());
            assert!(matches!(reader.next_record(), Ok(Some(Record::Packet(_)))));
        }
    }

    #[test]
    fn pcapng_reading_resumes_at_the_next_block_whose_lengths_agree() {
        for be in [false, true] {
            let mut ng = Ng::new(be);
            ng.interface(1, 0, None, None);
            let header = ng.bytes.len();
            for (i, data) in [&b"one"[..], b"two", b"three", b"four"].into_iter().enumerate() {
                ng.enhanced(0, i as u64, data);
            }
            let clean = ng.bytes;
            // Block 2 claims 4096 bytes: more than the file holds after it.
            let two = header + 36;
            let mut long = clean.clone();
            let claim = if be { 4096u32.to_be_bytes() } else { 4096u32.to_le_bytes() };
            long[two + 4..two + 8].copy_from_slice(&claim);
            let (data, skipped, end) = read_through(CaptureReader::new(Format::PcapNg, Trickle(&long)).unwrap());
            assert!(end.is_none());
            assert_eq!(data, [&b"one"[..], b"three", b"four"]);
            assert_eq!(skipped, [(two as u64, (two + 36) as u64)], "big-endian {be}");

            // 6 bytes of garbage before block 3 (blocks are no longer
            // aligned), and block 4 on an interface the section lacks.
            let (three, four) = (two + 36, two + 36 + 40);
            let mut shifted = clean[..three].to_vec();
            shifted.extend_from_slice(&[0x06, 0, 0, 0, 0x20, 0]);
            shifted.extend_from_slice(&clean[three..]);
            let at = four + 6 + 8;
            shifted[at..at + 4].copy_from_slice(&[7, 7, 7, 7]);
            let (data, skipped, end) = read_through(CaptureReader::new(Format::PcapNg, &shifted[..]).unwrap());
            assert_eq!(data, [&b"one"[..], b"two", b"three"]);
            assert_eq!(skipped, [(three as u64, (three + 6) as u64)]);
            let end = end.expect("nothing plausible after block 4");
            assert_eq!(end.offset, (four + 6) as u64);
        }
    }

    #[test]
    fn nflog_headers_from_a_host_of_the_other_byte_order_are_swapped() {
        // Family, version 0, resource id; a TLV (length 8, type 1) written big-endian.
        let mut tlv = vec![2, 0, 0, 0, 0, 8, 0, 1, 9, 9, 9, 9];
        let native = |v: u16| v.to_ne_bytes();
        swap_nflog_header(&mut tlv);
        if cfg!(target_endian = "little") {
            assert_eq!(tlv[4..8], [native(8), native(1)].concat()[..]);
        }
        let bytes =
            pcap(cfg!(target_endian = "little"), false, 239, 0, &[(1, 0, &[2, 0, 0, 0, 0, 8, 0, 1, 9, 9, 9, 9])]);
        let (got, _) = packets(CaptureReader::new(Format::Pcap, &bytes[..]).unwrap());
        assert_eq!(got[0].2[4..8], [native(8), native(1)].concat()[..]);
    }
}
