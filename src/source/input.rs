//! Where a capture's bytes come from: a file, a FIFO, a character device
//! such as `/dev/stdin`, process substitution (`<(zcat x)`, a pipe at
//! `/dev/fd/N`) or standard input (`-`). All are read front to back, once,
//! and recognised by their first bytes, never by their names.

use crate::source::file::CaptureError;
use crate::source::reader::Format;
use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// An opened input, its format recognised.
pub struct Input {
    /// The capture's bytes, from the first.
    pub stream: Box<dyn Read + Send>,
    pub format: Format,
    /// Size in bytes of a regular file (for the progress bar); None for pipes and standard input.
    pub size: Option<u64>,
    /// Bytes read from the file so far (for the progress bar).
    pub read: Arc<AtomicU64>,
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

/// Opens `path` ("-" = standard input) and recognises its format.
pub fn open(path: &str) -> Result<Input, CaptureError> {
    let open_error = |source| CaptureError::Open { path: path.into(), source };
    let read = Arc::new(AtomicU64::new(0));
    let (raw, size): (Box<dyn Read + Send>, Option<u64>) = if path == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let file = File::open(path).map_err(open_error)?;
        let meta = file.metadata().map_err(open_error)?;
        if meta.is_dir() {
            return Err(open_error(io::Error::other("is a directory")));
        }
        // A FIFO or a device has no size: only reading tells whether it is empty.
        if meta.is_file() && meta.len() == 0 {
            return Err(CaptureError::Empty { path: path.into() });
        }
        (Box::new(file), meta.is_file().then_some(meta.len()))
    };
    let mut stream = Counted { inner: raw, read: Arc::clone(&read) };
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut stream, &mut magic).map_err(open_error)?;
    if n == 0 {
        return Err(CaptureError::Empty { path: path.into() });
    }
    let Some(format) = Format::sniff(&magic[..n]) else {
        return Err(CaptureError::NotACapture {
            path: path.into(),
            reason: format!("the file starts with {:02x?}, which is neither pcap nor pcapng magic", &magic[..n]),
        });
    };
    let stream = Box::new(io::Cursor::new(magic[..n].to_vec()).chain(stream));
    Ok(Input { stream, format, size, read })
}
