//! Standard output of `tcpka live`, written by a thread of its own.
//!
//! The analysis hands each event over to the writer thread through a bounded
//! queue and never waits for it: when the reader of standard output falls
//! behind (a slow `jq`, a terminal scrolled back, a consumer that stopped
//! reading) and the queue is full, the event is counted and dropped, and
//! the capture goes on. The writer gathers what it is given in a 64 KiB
//! buffer and writes it out when the queue runs dry, so a busy stream costs
//! one `write(2)` per buffer, not one per line.
//!
//! The final report is different: it is not dropped. After
//! [`Output::lossless`] writes wait for the writer, and give up only when it
//! has made no progress for [`STALL`], so a stop never hangs on a reader
//! that has gone away without closing the pipe.

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, TryRecvError, TrySendError, bounded};
use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Events the queue holds before they are dropped: a burst of a thousand
/// connection endings (some 2 KB each as JSON) waits, more are dropped.
const QUEUE: usize = 1024;
/// Once lossless, bytes gathered before they are handed over.
const CHUNK: usize = 64 * 1024;
/// How long a lossless write waits for the writer to make progress.
pub const STALL: Duration = Duration::from_secs(1);

/// The analysis's end of the writer thread.
pub struct Output {
    tx: Option<Sender<Vec<u8>>>,
    /// Bytes of the event being written.
    pending: Vec<u8>,
    /// Bytes the writer has written so far.
    written: Arc<AtomicU64>,
    /// The writer's outcome, once it has stopped.
    done: Receiver<io::Result<()>>,
    events_dropped: Arc<AtomicU64>,
    lossless: bool,
}

impl Output {
    /// Starts the writer thread on `out`.
    pub fn spawn<W: Write + Send + 'static>(out: W) -> io::Result<Output> {
        let (tx, rx) = bounded::<Vec<u8>>(QUEUE);
        let (done_tx, done) = bounded(1);
        let written = Arc::new(AtomicU64::new(0));
        let progress = Arc::clone(&written);
        std::thread::Builder::new().name("stdout".into()).spawn(move || {
            let _ = done_tx.send(write_out(out, &rx, &progress));
        })?;
        let events_dropped = Arc::default();
        Ok(Output { tx: Some(tx), pending: Vec::new(), written, done, events_dropped, lossless: false })
    }

    /// Events dropped so far because the writer was behind.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped.load(Ordering::Relaxed)
    }

    /// The count of events dropped, to be read from elsewhere (the metrics).
    pub fn events_dropped_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.events_dropped)
    }

    /// From now on nothing is dropped: writes wait for the writer (but at
    /// most [`STALL`] without progress).
    pub fn lossless(&mut self) {
        self.lossless = true;
    }

    /// Waits until everything handed over is written; gives up when the
    /// writer makes no progress for [`STALL`] (its thread is left blocked,
    /// and ends with the process).
    pub fn finish(mut self) -> io::Result<()> {
        self.lossless = true;
        self.flush()?;
        drop(self.tx.take());
        let mut seen = self.written.load(Ordering::Relaxed);
        loop {
            match self.done.recv_timeout(STALL) {
                Ok(outcome) => return outcome,
                Err(RecvTimeoutError::Timeout) => {
                    let now = self.written.load(Ordering::Relaxed);
                    if now == seen {
                        return Err(stalled());
                    }
                    seen = now;
                }
                Err(RecvTimeoutError::Disconnected) => return Err(io::Error::other("the output thread failed")),
            }
        }
    }

    /// The writer has stopped: why.
    fn writer_error(&self) -> io::Error {
        match self.done.recv_timeout(STALL) {
            Ok(Err(e)) => e,
            _ => io::Error::from(io::ErrorKind::BrokenPipe),
        }
    }

    /// Hands `chunk` over, waiting while the writer makes progress.
    fn send_waiting(&mut self, mut chunk: Vec<u8>) -> io::Result<()> {
        let Some(tx) = self.tx.as_ref() else { return Err(io::Error::from(io::ErrorKind::BrokenPipe)) };
        let mut seen = self.written.load(Ordering::Relaxed);
        loop {
            match tx.send_timeout(chunk, STALL) {
                Ok(()) => return Ok(()),
                Err(SendTimeoutError::Timeout(back)) => {
                    let now = self.written.load(Ordering::Relaxed);
                    if now == seen {
                        return Err(stalled());
                    }
                    (seen, chunk) = (now, back);
                }
                Err(SendTimeoutError::Disconnected(_)) => return Err(self.writer_error()),
            }
        }
    }
}

fn stalled() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("standard output is not being read (nothing written for {} s)", STALL.as_secs()),
    )
}

/// Everything written is gathered until [`flush`](Write::flush), which hands
/// it over as one event (or, once lossless, in chunks as it grows).
impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.lossless && self.pending.len() >= CHUNK {
            let chunk = std::mem::take(&mut self.pending);
            self.send_waiting(chunk)?;
        }
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.pending);
        if self.lossless {
            return self.send_waiting(chunk);
        }
        let Some(tx) = self.tx.as_ref() else { return Err(io::Error::from(io::ErrorKind::BrokenPipe)) };
        match tx.try_send(chunk) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                if self.events_dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    crate::diag!(
                        "tcpka: warning: standard output is not keeping up: events are dropped (counted in capture-stats)"
                    );
                }
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(self.writer_error()),
        }
    }
}

/// The writer thread: writes what it is handed, flushing whenever the
/// queue runs dry; stops at the first error (a closed pipe) or when the
/// analysis's end is dropped.
fn write_out<W: Write>(out: W, rx: &Receiver<Vec<u8>>, written: &AtomicU64) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(CHUNK, out);
    loop {
        let chunk = match rx.try_recv() {
            Ok(chunk) => chunk,
            Err(TryRecvError::Empty) => {
                out.flush()?;
                match rx.recv() {
                    Ok(chunk) => chunk,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        out.write_all(&chunk)?;
        written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A reader that never reads: the first write blocks until the test ends.
    struct Stuck(mpsc::Receiver<()>);
    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            let _ = self.0.recv();
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn events_and_the_report_arrive_in_order() {
        let kept = crate::testkit::SharedOutput::default();
        let mut out = Output::spawn(kept.clone()).unwrap();
        for i in 0..100 {
            writeln!(out, "event {i}").unwrap();
            out.flush().unwrap();
        }
        out.lossless();
        let report = vec![b'r'; 3 * CHUNK + 5];
        out.write_all(&report).unwrap();
        out.finish().unwrap();
        let got = kept.0.lock().unwrap().clone();
        let text = String::from_utf8_lossy(&got[..got.len() - report.len()]).into_owned();
        assert_eq!(text.lines().count(), 100);
        assert!(text.starts_with("event 0\n") && text.ends_with("event 99\n"));
        assert!(got.ends_with(&report));
    }

    #[test]
    fn a_reader_that_never_reads_drops_events_and_stalls_the_report_for_a_second_only() {
        let (release, stuck) = mpsc::channel();
        let mut out = Output::spawn(Stuck(stuck)).unwrap();
        // The writer takes what fits its buffer and blocks writing it out;
        // then the queue fills, and the rest is dropped.
        let event = [b'e'; 100];
        let fit = CHUNK / event.len() + 1;
        for _ in 0..fit + QUEUE + 1000 {
            out.write_all(&event).unwrap();
            out.flush().unwrap();
        }
        assert!(out.events_dropped() >= 999, "dropped {}", out.events_dropped());
        let t = std::time::Instant::now();
        out.lossless();
        out.write_all(b"the final report\n").unwrap();
        let e = out.finish().unwrap_err();
        let took = t.elapsed();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(took >= STALL && took < STALL * 3, "gave up after {took:?}");
        drop(release);
    }

    #[test]
    fn a_closed_pipe_is_reported_as_one() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out = Output::spawn(Closed).unwrap();
        out.write_all(b"event\n").unwrap();
        out.flush().unwrap();
        // The writer fails on it and stops; the next event says why.
        let mut err = None;
        for _ in 0..100 {
            out.write_all(b"event\n").unwrap();
            if let Err(e) = out.flush() {
                err = Some(e);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(err.expect("an error").kind(), io::ErrorKind::BrokenPipe);
    }
}
