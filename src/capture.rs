//! Capture sources: pcap and pcapng files (or standard input) through libpcap.
//!
//! A BPF filter is compiled by libpcap but applied here, packet by packet,
//! rather than installed with `pcap_setfilter`: that way every packet still
//! gets its frame number, so the numbers tcpka shows are Wireshark's.

use crate::decode::LinkKind;
use crate::time::Timestamp;
use pcap::{Capture, Offline, Precision};
use std::fs::File;
use std::io::Read;
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

/// An open capture file.
pub struct CaptureFile {
    pub path: String,
    pub format: Option<&'static str>,
    pub link: LinkKind,
    pub link_name: String,
    /// File size in bytes, when known (not for standard input).
    pub size: Option<u64>,
    capture: Capture<Offline>,
    filter: Option<pcap::BpfProgram>,
}

/// One packet as read.
pub struct RawPacket<'a> {
    pub ts: Timestamp,
    pub data: &'a [u8],
}

/// The result of reading the next packet.
pub enum Next<'a> {
    Packet(RawPacket<'a>),
    /// Read but rejected by the filter: it still takes a frame number.
    Filtered,
    End,
    /// The file stops in the middle of a packet, or another read error.
    Broken(String),
}

impl CaptureFile {
    /// Opens a file ("-" = standard input), recognising pcap and pcapng by content.
    pub fn open(path: &str, filter: Option<&str>) -> Result<CaptureFile, CaptureError> {
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
        let link_name = dlt.get_name().unwrap_or_else(|_| format!("DLT_{}", dlt.0));
        let Some(link) = LinkKind::from_dlt(dlt.0) else {
            return Err(CaptureError::UnsupportedLink {
                path: path.into(),
                dlt: dlt.0,
                name: link_name,
                description: dlt.get_description().map(|d| format!(", {d}")).unwrap_or_default(),
            });
        };
        let filter = match filter {
            Some(expr) => Some(capture.compile(expr, true).map_err(|e| CaptureError::BadFilter {
                path: path.into(),
                filter: expr.into(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        Ok(CaptureFile { path: path.into(), format, link, link_name, size, capture, filter })
    }

    /// Reads the next packet.
    pub fn next_packet(&mut self) -> Next<'_> {
        match self.capture.next_packet() {
            Ok(packet) => {
                let h = packet.header;
                // With nanosecond precision libpcap puts nanoseconds in tv_usec.
                let ts = Timestamp::from_timeval(h.ts.tv_sec, h.ts.tv_usec);
                if let Some(f) = &self.filter
                    && !f.filter(packet.data)
                {
                    return Next::Filtered;
                }
                Next::Packet(RawPacket { ts, data: packet.data })
            }
            Err(pcap::Error::NoMorePackets) => Next::End,
            Err(e) => Next::Broken(e.to_string()),
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
