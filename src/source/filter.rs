//! BPF filters for capture files: compiled by libpcap, once per link type,
//! and applied here packet by packet rather than installed with
//! `pcap_setfilter`, so that every packet still gets its frame number (the
//! numbers tcpka shows stay Wireshark's). A pcapng whose interfaces have
//! different link types gets one program per link type, as a filter's
//! offsets depend on the link-layer header.
//!
//! libpcap compiles a filter differently for a capture file than for a
//! "dead" handle: for a file it knows that the file may come from another
//! system (`ip6` on DLT_NULL then matches the address families of every BSD,
//! gencode.c's `gen_linktype`) and whether the file's byte order is this
//! host's (`swapped`, for link-layer fields in the writer's byte order). So
//! filters are compiled on a file handle: a pcap file header with the link
//! type, in the file's byte order, read by libpcap through a pipe.

use pcap::{BpfProgram, Capture};
use std::io::Write;
use std::os::fd::IntoRawFd;

/// A filter expression and its programs, compiled as link types turn up.
pub struct Filter {
    expr: String,
    /// (DLT, byte-swapped, program), in the order they turned up.
    programs: Vec<(i32, bool, BpfProgram)>,
}

/// Compiles `expr` for a capture file of link type `dlt` (a libpcap DLT)
/// whose byte order is not this host's when `swapped`; libpcap's message
/// when it does not compile.
pub fn compile(expr: &str, dlt: i32, swapped: bool) -> Result<BpfProgram, String> {
    let big_endian = swapped != cfg!(target_endian = "big");
    let u32_bytes = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let u16_bytes = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    // Magic, version 2.4, time zone, sigfigs, snapshot length, link type.
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&u32_bytes(0xa1b2_c3d4));
    header.extend_from_slice(&u16_bytes(2));
    header.extend_from_slice(&u16_bytes(4));
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&u32_bytes(crate::source::reader::MAXIMUM_SNAPLEN));
    header.extend_from_slice(&u32_bytes(dlt as u32));
    let (read, mut write) = std::io::pipe().map_err(|e| format!("cannot compile the filter: {e}"))?;
    // 24 bytes fit in any pipe's buffer: this does not wait for the reader.
    write.write_all(&header).map_err(|e| format!("cannot compile the filter: {e}"))?;
    drop(write);
    // SAFETY: the descriptor is open and owned by nobody else (`into_raw_fd`
    // gives up ownership); the capture closes it when dropped.
    let file = unsafe { Capture::from_raw_fd(read.into_raw_fd()) }.map_err(|e| e.to_string())?;
    file.compile(expr, true).map_err(|e| e.to_string())
}

impl Filter {
    pub fn new(expr: &str) -> Filter {
        Filter { expr: expr.into(), programs: Vec::new() }
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The program for link type `dlt` in a file of `swapped` byte order
    /// (an index for [`Filter::matches`]), compiled the first time.
    pub fn program(&mut self, dlt: i32, swapped: bool) -> Result<usize, String> {
        if let Some(i) = self.programs.iter().position(|(d, s, _)| (*d, *s) == (dlt, swapped)) {
            return Ok(i);
        }
        self.programs.push((dlt, swapped, compile(&self.expr, dlt, swapped)?));
        Ok(self.programs.len() - 1)
    }

    /// Whether program `program` accepts the packet `data`.
    pub fn matches(&self, program: usize, data: &[u8]) -> bool {
        self.programs[program].2.filter(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 TCP SYN after a DLT_NULL header holding `family` (in the
    /// byte order given).
    fn null_frame(family: [u8; 4]) -> Vec<u8> {
        let mut frame = family.to_vec();
        frame.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        frame.extend_from_slice(&[0x03, 0xe8, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x03, 0xe8, 0, 0, 0, 0]);
        frame
    }

    #[test]
    fn compiles_for_the_file_byte_order() {
        // AF_INET (2) as written by a host of the file's byte order.
        let native = if cfg!(target_endian = "big") { 2u32.to_be_bytes() } else { 2u32.to_le_bytes() };
        let foreign = if cfg!(target_endian = "big") { 2u32.to_le_bytes() } else { 2u32.to_be_bytes() };
        let mut filter = Filter::new("ip");
        let same = filter.program(0, false).unwrap();
        let swapped = filter.program(0, true).unwrap();
        assert_ne!(same, swapped);
        assert!(filter.matches(same, &null_frame(native)));
        assert!(!filter.matches(same, &null_frame(foreign)));
        assert!(filter.matches(swapped, &null_frame(foreign)));
        assert_eq!(filter.program(0, false), Ok(same), "compiled once");
    }

    #[test]
    fn ip6_on_null_matches_every_bsd_family() {
        // Darwin's AF_INET6 (30): a "dead" handle would only take Linux's (10).
        let mut filter = Filter::new("ip6");
        let program = filter.program(0, false).unwrap();
        let mut frame = if cfg!(target_endian = "big") { 30u32.to_be_bytes() } else { 30u32.to_le_bytes() }.to_vec();
        frame.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, 6, 64]);
        frame.extend_from_slice(&[0; 32]);
        assert!(filter.matches(program, &frame));
    }

    #[test]
    fn bad_expressions_have_libpcap_messages() {
        let e = compile("tcp port", 1, false).err().expect("a syntax error");
        assert!(e.contains("syntax error"), "{e}");
    }
}
