//! What both targets share: the input as a capture file.
#![allow(dead_code)] // each target uses part of it

use std::path::PathBuf;

/// Writes the input to this process's capture file and returns its path:
/// the reader is libpcap's, which reads files. One file per process, so
/// parallel fuzzing jobs do not share one.
pub fn capture_file(data: &[u8]) -> std::ffi::OsString {
    thread_local! {
        static PATH: PathBuf = {
            let dir = std::path::Path::new("/dev/shm");
            let dir = if dir.is_dir() { dir.to_path_buf() } else { std::env::temp_dir() };
            dir.join(format!("tcpka-fuzz-{}.cap", std::process::id()))
        };
    }
    PATH.with(|path| {
        std::fs::write(path, data).expect("write the capture file");
        path.as_os_str().to_owned()
    })
}
