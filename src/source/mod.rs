//! Where packets come from: a capture file ([`mod@file`]), a network interface
//! ([`interface`], read on its own thread by [`relay`], which also writes
//! the `--write` file, [`savefile`]) or, in tests, a script of packets and
//! clock times (`scripted`). Every source hands out the same [`Next`] values; the
//! conversions from libpcap's terms (link type, timestamps) live here, once.

pub mod file;
pub mod filter;
pub mod input;
pub mod interface;
pub mod order;
pub mod reader;
pub mod relay;
pub mod savefile;
#[cfg(test)]
pub mod scripted;
pub mod series;

use crate::decode::{Decoded, EndsHash, LinkKind, decode_into};
use crate::duplicates::Print;
use crate::source::order::Ordered;
use crate::time::Timestamp;
use std::io;
use std::time::Duration;

/// A source's link layer: how its frames are decoded, and libpcap's name for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub kind: LinkKind,
    /// libpcap's name of the DLT, e.g. `EN10MB`, `LINUX_SLL`.
    pub name: String,
}

/// Why a link type cannot be read: its DLT number and libpcap's name for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedLink {
    pub dlt: i32,
    pub name: String,
}

impl Link {
    /// The link of a libpcap DLT, when tcpka decodes it.
    pub fn of(dlt: pcap::Linktype) -> Result<Link, UnsupportedLink> {
        let name = dlt.get_name().unwrap_or_else(|_| format!("DLT_{}", dlt.0));
        match LinkKind::from_dlt(dlt.0) {
            Some(kind) => Ok(Link { kind, name }),
            None => Err(UnsupportedLink { dlt: dlt.0, name }),
        }
    }
}

/// The DLT value libpcap gives a file's LINKTYPE value (`linktype_to_dlt`
/// in libpcap's pcap-common.c): the same number, except for the few link
/// types whose DLT values differ between systems; these are Linux's.
pub fn linktype_to_dlt(linktype: i32) -> i32 {
    match linktype {
        100 => 11, // LINKTYPE_ATM_RFC1483 → DLT_ATM_RFC1483
        101 => 12, // LINKTYPE_RAW → DLT_RAW
        102 => 15, // LINKTYPE_SLIP_BSDOS → DLT_SLIP_BSDOS
        103 => 16, // LINKTYPE_PPP_BSDOS → DLT_PPP_BSDOS
        106 => 19, // LINKTYPE_ATM_CLIP → DLT_ATM_CLIP
        other => other,
    }
}

/// The LINKTYPE value a file gives libpcap's DLT `dlt` (`dlt_to_linktype`
/// in libpcap's pcap-common.c): the inverse of [`linktype_to_dlt`].
pub fn dlt_to_linktype(dlt: i32) -> i32 {
    match dlt {
        11 => 100,
        12 => 101,
        15 => 102,
        16 => 103,
        19 => 106,
        other => other,
    }
}

/// A packet's time from libpcap's header. With nanosecond precision libpcap
/// puts nanoseconds in `tv_usec` (`nanos`), else microseconds.
pub fn timestamp(ts: &libc::timeval, nanos: bool) -> Timestamp {
    // timeval's field types differ between platforms.
    #[allow(clippy::useless_conversion)]
    let (secs, sub) = (i64::from(ts.tv_sec), i64::from(ts.tv_usec));
    Timestamp::from_timeval(secs, if nanos { sub } else { sub * 1000 })
}

/// One packet as read.
pub struct Packet<'a> {
    pub ts: Timestamp,
    pub data: &'a [u8],
}

/// One frame as the analysis takes it: decoded, and what the capture's
/// [`FrameOrder`](order::FrameOrder) made of it (how its time moved the
/// capture's clock, whether it is a copy). None of it needs the flow table,
/// so a source may make it on the thread that reads (the file source does:
/// the analysing thread then has only the flow table and what follows it).
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    /// As stamped.
    pub ts: Timestamp,
    pub decoded: Decoded,
    /// Set by [`FrameOrder::step`](order::FrameOrder::step).
    pub order: Ordered,
    /// A TCP segment's endpoints hashed, made with it (the default for any
    /// other frame): where the flow table looks for its connection, and
    /// what asking for its record ahead reads. In the entry's padding:
    /// the batch entry stays 128 bytes.
    pub ends: EndsHash,
}

impl Frame {
    /// Decodes the frame `data`, on `link`, captured at `ts` (not stepped
    /// through the capture's order yet), with its duplicate check's print.
    pub fn decode(link: LinkKind, ts: Timestamp, data: &[u8]) -> (Frame, Print) {
        let mut frame = Frame { ts, decoded: Decoded::Malformed, order: Ordered::default(), ends: EndsHash::default() };
        let mut print = Print::default();
        frame.decode_into(link, data, &mut print);
        (frame, print)
    }

    /// Decodes the frame `data`, on `link`, into this frame (its time
    /// stays), where it is kept (the file source decodes into its batch),
    /// and makes the duplicate check's `print` of a TCP segment (the
    /// default for any other frame). The print is needed only until the
    /// frame is stepped through the capture's order: it stays with the
    /// reader, out of the batch that crosses to the analysing thread. A
    /// segment's [`EndsHash`] is made here too, with the segment.
    #[inline]
    pub fn decode_into(&mut self, link: LinkKind, data: &[u8], print: &mut Print) {
        let tcp_bytes = decode_into(link, data, &mut self.decoded);
        match &self.decoded {
            Decoded::Tcp(seg) => {
                print.set(seg, tcp_bytes);
                self.ends = EndsHash::of_segment(seg);
            }
            _ => {
                *print = Print::default();
                self.ends = EndsHash::default();
            }
        }
    }
}

/// The result of asking a source for its next packet.
pub enum Next<'a> {
    /// A packet's bytes, to be decoded (live sources).
    Packet(Packet<'a>),
    /// A packet decoded by the source (the file source, on its reader's thread).
    Frame(&'a Frame),
    /// The packets from here on are on this link (a pcapng whose
    /// interfaces have different link types); sources with one link never say it.
    Link(&'a Link),
    /// Read but not to be analysed (rejected by the filter, or on an
    /// interface whose link type tcpka does not read): it still takes a frame number.
    Filtered,
    /// Nothing ready now (live sources): [`PacketSource::wait`], then ask
    /// again. The file source says it between two batches, and while the
    /// next one is late (a stalled pipe): where reading may be stopped
    /// ([`file::FileSource::stop`]); ask again to go on.
    Idle,
    /// The source has no more packets.
    End,
    /// The source broke off (a file cut in the middle of a packet, an
    /// interface that went away): libpcap's message.
    Broken(String),
}

/// Where packets come from.
pub trait PacketSource {
    /// The link layer of the packets (until a [`Next::Link`] says otherwise).
    fn link(&self) -> &Link;
    /// The next packet, without waiting.
    fn next_packet(&mut self) -> Next<'_>;
    /// Waits until a packet may be ready, or `timeout` is over.
    fn wait(&mut self, timeout: Duration) -> io::Result<()>;
    /// The time now, by the clock the packets' timestamps come from.
    fn now(&self) -> Timestamp;
    /// The capture's counters, when the source keeps them (libpcap's
    /// `received`, `dropped`, `if_dropped`, and the packets not analysed).
    fn counters(&mut self) -> Option<Counters> {
        None
    }
    /// Stops capturing (live sources): what was captured is still handed
    /// out, then [`Next::End`]. Other sources end by themselves.
    fn stop(&mut self) {}
    /// Stops capturing and drops what is left unread, counting it as not
    /// analysed in [`counters`](Self::counters) (live sources, when the
    /// loop ends before the source did).
    fn abandon(&mut self) {}
}

/// libpcap's capture counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets received (that passed the filter).
    pub received: u32,
    /// Dropped by the kernel for lack of buffer space.
    pub dropped: u32,
    /// Dropped by the interface or its driver.
    pub if_dropped: u32,
    /// Captured (and written to the `--write` file) but not analysed: the
    /// analysis had fallen behind and the capture thread does not wait for it.
    pub not_analysed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlt_and_linktype_map_back_and_forth() {
        for dlt in [1, 11, 12, 15, 16, 19, 113, 276, 239] {
            assert_eq!(linktype_to_dlt(dlt_to_linktype(dlt)), dlt, "DLT {dlt}");
        }
        assert_eq!(dlt_to_linktype(12), 101, "DLT_RAW is written as LINKTYPE_RAW");
        assert_eq!(dlt_to_linktype(1), 1);
    }
}
