//! Diagnostics on standard error.
//!
//! `eprintln!` panics when standard error cannot be written (`2>/dev/full`,
//! a closed pipe): a message about a failure would then turn it into a
//! crash (exit 101). Every diagnostic the binary and the library print goes
//! through [`diag!`](macro@crate::diag) instead, which drops what cannot be
//! written: a message has nowhere else to go, and the exit status still
//! tells what happened.

use std::fmt;
use std::io::{self, Write};

/// Writes one line to standard error; a failure to write is ignored.
pub fn line(message: fmt::Arguments<'_>) {
    let _ = write_line(&mut io::stderr().lock(), message);
}

/// One line, written in one go (standard error is unbuffered: a line
/// written in pieces could interleave with another thread's).
fn write_line(out: &mut dyn Write, message: fmt::Arguments<'_>) -> io::Result<()> {
    let mut text = message.to_string();
    text.push('\n');
    out.write_all(text.as_bytes())
}

/// `eprintln!` that never panics: see the [module](mod@crate::diag) documentation.
#[macro_export]
macro_rules! diag {
    ($($arg:tt)*) => {
        $crate::diag::line(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that always fails, as standard error does on `/dev/full`.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(libc::ENOSPC))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_one_line_and_reports_a_failure_instead_of_panicking() {
        let mut out = Vec::new();
        write_line(&mut out, format_args!("tcpka: {}", 42)).unwrap();
        assert_eq!(out, b"tcpka: 42\n");
        assert_eq!(write_line(&mut Full, format_args!("lost")).unwrap_err().raw_os_error(), Some(libc::ENOSPC));
    }
}
