//! Where a capture's bytes come from: a file, a FIFO, a character device
//! such as `/dev/stdin`, process substitution (`<(zcat x)`, a pipe at
//! `/dev/fd/N`) or standard input (`-`). All are read front to back, once,
//! and recognised by their first bytes, never by their names: a capture
//! compressed with gzip, zstd, xz, bzip2 or lz4 is decompressed as it is
//! read, on the reader thread.

use crate::source::file::CaptureError;
use crate::source::reader::Format;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The compressions tcpka reads, by the magic bytes their files start with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
    Bzip2,
    /// The LZ4 frame format (what the `lz4` tool writes).
    Lz4,
}

impl Compression {
    /// The compression of a stream that starts with `head`.
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        Some(match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Compression::Xz,
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Compression::Bzip2,
            [0x04, 0x22, 0x4d, 0x18, ..] => Compression::Lz4,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
            Compression::Lz4 => "lz4",
        }
    }

    /// A decompressor of `compressed`. Each reads concatenated streams
    /// too, as the command-line tools do (`cat a.gz b.gz`, pbzip2's output).
    fn decoder(self, compressed: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(compressed)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(compressed)?),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(compressed)),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(compressed)),
            Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(compressed)),
        })
    }
}

/// Files that are not captures but often hold one, by their magic bytes:
/// what they are, to say so instead of "not a capture".
fn container(head: &[u8]) -> Option<&'static str> {
    Some(match head {
        [b'P', b'K', 0x03, 0x04, ..] => "a zip archive",
        [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, ..] => "a 7-Zip archive",
        [b'R', b'a', b'r', b'!', ..] => "a RAR archive",
        [0x1f, 0x9d, ..] => "compress(1) (.Z) data",
        [b'L', b'Z', b'I', b'P', ..] => "lzip data",
        [0x02, 0x21, 0x4c, 0x18, ..] => "lz4 data in the legacy format (lz4 -l)",
        [0x89, b'L', b'Z', b'O', ..] => "lzop data",
        _ if head.get(257..262) == Some(b"ustar") => "a tar archive",
        _ => return None,
    })
}

/// An opened input, its format recognised.
pub struct Input {
    /// The capture's bytes, from the first, decompressed.
    pub stream: Box<dyn Read + Send>,
    pub format: Format,
    pub compression: Option<Compression>,
    /// Size in bytes of a regular file (for the progress bar); None for pipes and standard input.
    pub size: Option<u64>,
    /// Bytes read from the file so far, compressed (for the progress bar).
    pub read: Arc<AtomicU64>,
    /// The descriptor `stream` reads from when that may wait for a writer
    /// (standard input, a FIFO, a device: not a regular file), open as
    /// long as `stream` is: [`readable`] tells whether a read would wait.
    pub waits: Option<RawFd>,
}

impl Input {
    /// What the input was, for the capture summary: "pcap", "pcapng (zstd)".
    pub fn describe(&self) -> String {
        match self.compression {
            Some(c) => format!("{} ({})", self.format.name(), c.name()),
            None => self.format.name().into(),
        }
    }
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A decompressor whose errors say which compression they come from: a
/// decompressor reports a cut-off or damaged stream as a read error.
struct Decompressed {
    inner: Box<dyn Read + Send>,
    compression: Compression,
}

impl Read for Decompressed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            io::Error::new(e.kind(), format!("the {} data is cut off or damaged ({e})", self.compression.name()))
        })
    }
}

/// Reads until `buf` is full or the stream ends (a pipe hands out what it
/// has, which may be less than asked for): returns how many bytes were read.
fn read_up_to(stream: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The first bytes of `stream`, and the stream again from its first byte.
fn peek(mut stream: Box<dyn Read + Send>, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut head = vec![0; n];
    let got = read_up_to(&mut stream, &mut head)?;
    head.truncate(got);
    let again = Box::new(io::Cursor::new(head.clone()).chain(stream));
    Ok((head, again))
}

/// Opens `file` ("-" = standard input) and recognises its compression and format.
pub fn open(file: &OsStr) -> Result<Input, CaptureError> {
    // Names that are not UTF-8 are opened as they are and shown lossily.
    let path = &*file.to_string_lossy();
    let open_error = |source| CaptureError::Open { path: path.into(), source };
    let not_a_capture = |reason: String| CaptureError::NotACapture { path: path.into(), reason };
    let read = Arc::new(AtomicU64::new(0));
    let (raw, size, waits): (Box<dyn Read + Send>, Option<u64>, Option<RawFd>) = if file == "-" {
        (Box::new(io::stdin()), None, Some(io::stdin().as_raw_fd()))
    } else {
        let file = File::open(file).map_err(open_error)?;
        let meta = file.metadata().map_err(open_error)?;
        if meta.is_dir() {
            return Err(open_error(io::Error::other("is a directory")));
        }
        // A FIFO or a device has no size: only reading tells whether it is empty.
        if meta.is_file() && meta.len() == 0 {
            return Err(CaptureError::Empty { path: path.into() });
        }
        let waits = (!meta.is_file()).then(|| file.as_raw_fd());
        (Box::new(file), meta.is_file().then_some(meta.len()), waits)
    };
    // Enough for every magic number, a tar header's included.
    let (head, stream) = peek(Box::new(Counted { inner: raw, read: Arc::clone(&read) }), 262).map_err(open_error)?;
    if head.is_empty() {
        return Err(CaptureError::Empty { path: path.into() });
    }
    let compression = Compression::sniff(&head);
    let (magic, stream) = match compression {
        None => (head[..head.len().min(4)].to_vec(), stream),
        Some(c) => {
            let decoder = c.decoder(stream).map_err(open_error)?;
            let (magic, stream) = peek(Box::new(Decompressed { inner: decoder, compression: c }), 4).map_err(|e| {
                CaptureError::Damaged { path: path.into(), reason: format!("{e}, before the capture's first bytes") }
            })?;
            if magic.is_empty() {
                return Err(not_a_capture(format!("its {} data decompresses to 0 bytes", c.name())));
            }
            (magic, stream)
        }
    };
    let Some(format) = Format::sniff(&magic) else {
        let reason = match (compression, container(&head)) {
            (None, Some(what)) => format!(
                "it is {what}; tcpka reads captures compressed with gzip, zstd, xz, bzip2 or lz4: extract the capture first"
            ),
            (None, None) => format!("the file starts with {magic:02x?}, which is neither pcap nor pcapng magic"),
            (Some(c), _) => {
                format!("its {} data starts with {magic:02x?}, which is neither pcap nor pcapng magic", c.name())
            }
        };
        return Err(not_a_capture(reason));
    };
    Ok(Input { stream, format, compression, size, read, waits })
}

/// Whether reading `fd` now returns at once: data is there, or the writer
/// has gone (poll(2) with no timeout: POLLIN, or POLLHUP / POLLERR, which
/// it reports whatever was asked).
pub fn readable(fd: RawFd) -> bool {
    let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd, ours, for the call's length; poll(2) reads no
    // other memory, and a closed descriptor is reported in `revents` (POLLNVAL).
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_compressions_and_containers() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8, 0]), Some(Compression::Gzip));
        assert_eq!(Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Some(Compression::Zstd));
        assert_eq!(Compression::sniff(b"\xfd7zXZ\x00\x00"), Some(Compression::Xz));
        assert_eq!(Compression::sniff(b"BZh91AY&SY"), Some(Compression::Bzip2));
        assert_eq!(Compression::sniff(b"BZh0"), None);
        assert_eq!(Compression::sniff(&[0x04, 0x22, 0x4d, 0x18, 0x64]), Some(Compression::Lz4));
        assert_eq!(Compression::sniff(&[0xd4, 0xc3, 0xb2, 0xa1]), None);
        assert_eq!(Compression::sniff(&[0x1f]), None);
        assert_eq!(container(b"PK\x03\x04...."), Some("a zip archive"));
        let mut tar = vec![0; 262];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(container(&tar), Some("a tar archive"));
        assert_eq!(container(&[0xd4, 0xc3, 0xb2, 0xa1]), None);
    }
}
