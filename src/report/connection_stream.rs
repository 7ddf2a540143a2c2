//! The connections of a JSON document or an NDJSON stream, written as they
//! are judged: in the analysing thread, or on a thread of their own.
//!
//! Writing a connection's JSON costs about as much as following its
//! packets (the bench capture's 100,000 connections are 240 MB of JSON;
//! by `perf`, the writing was 28% of the analysing thread's samples),
//! while the reader thread leaves most of a core idle. On a thread of its
//! own ([`ConnectionStream::on_thread`]) the writer is handed the judged
//! connections, owned, in batches of [`BATCH`] through a queue of
//! [`QUEUE`] batches (what it may hold in memory: ≤ 16 MiB at 2,000
//! open, issue 14), and writes to the output itself; the analysing thread
//! takes the output back at the end, for what follows the connections.
//! Batches, because waking the writer for each connection cost more than
//! it saved (+33% CPU, branch `jsonw`); and each batch comes back to be
//! emptied where its connections were made: glibc's `free` of a block
//! another thread allocated takes that arena's lock.
//!
//! Only where no one waits for each connection: a JSON document (read
//! when it is whole), NDJSON in [`Flushing::Blocks`]. NDJSON flushed a
//! line at a time, live mode and the table write in the analysing thread.

use super::connection_json::{ConnectionWriter, Naming};
use super::ndjson::{BLOCK, ConnectionRecord, Flushing};
use super::{ConnectionReport, Judged, JudgedConnection};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::io::{self, Write};
use std::thread::JoinHandle;

/// Connections handed to the writing thread at once.
pub const BATCH: usize = 32;
/// Batches handed over and not yet taken by the writing thread, at most.
/// On a busy machine the writer loses its core for a time slice now and
/// then: with 2 batches the analysing thread waited for it (wall 1.11× of
/// the analysing thread writing itself, at load 5, bench capture), with 8
/// (256 connections, ~10 ms of analysing) it runs on (1.03×), for 0.5 MiB
/// more at the peak (13.2 MiB at 2,000 open; the target is ≤ 16 MiB).
pub const QUEUE: usize = 8;

/// A JSON document's connections are gathered in a buffer of this size,
/// then written to the output in one piece.
pub const BUFFER: usize = 64 * 1024;

/// How the connections are set in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `--format json`: the document's start, then the connections, each
    /// on a line of its own, separated by commas (the document's end is the
    /// sink's).
    Document,
    /// NDJSON: one line each, gone out as [`Flushing`] says.
    Lines(Flushing),
}

/// What is written, in whichever thread writes it.
struct Writing<W> {
    out: W,
    /// What is written and not yet handed to `out`: whole lines, then the
    /// one being written.
    buf: Vec<u8>,
    writer: ConnectionWriter,
    naming: Naming,
    framing: Framing,
    written: u64,
    /// [`BUFFER`] or [`BLOCK`]; smaller in the tests.
    block: usize,
}

/// What the writing thread is handed, in order.
// Nearly every job is a connection, moved into its batch's slot: boxing it
// would allocate for each.
#[allow(clippy::large_enum_variant)]
enum Job {
    Judged(JudgedConnection),
    /// A report the live event stream had built (see
    /// [`ReportSink::connection`](super::ReportSink::connection)), to be
    /// written through serde_json.
    Report(Box<ConnectionReport>),
}

/// One connection, as it is written: from its verdict, or from its report.
enum Entry<'a> {
    Judged(&'a Judged<'a>),
    Report(&'a ConnectionReport),
}

impl<W: Write> Writing<W> {
    fn new(out: W, naming: Naming, framing: Framing) -> Writing<W> {
        let block = if framing == Framing::Document { BUFFER } else { BLOCK };
        let capacity = if framing == Framing::Lines(Flushing::EveryLine) { 4096 } else { block + 4096 };
        Writing {
            out,
            buf: Vec::with_capacity(capacity),
            writer: ConnectionWriter::default(),
            naming,
            framing,
            written: 0,
            block,
        }
    }

    fn job(&mut self, job: &Job) -> io::Result<()> {
        match job {
            Job::Judged(judged) => self.connection(Entry::Judged(&judged.judged())),
            Job::Report(report) => self.connection(Entry::Report(report)),
        }
    }

    fn connection(&mut self, entry: Entry<'_>) -> io::Result<()> {
        if self.framing == Framing::Document {
            self.before_connection()?;
        }
        match entry {
            Entry::Judged(judged) => self.writer.write(&mut self.buf, self.naming, judged)?,
            Entry::Report(report) => match self.naming {
                Naming::Json => serde_json::to_writer(&mut self.buf, report)?,
                Naming::Ndjson => serde_json::to_writer(&mut self.buf, &ConnectionRecord::new(report))?,
            },
        }
        match self.framing {
            Framing::Document => Ok(()),
            Framing::Lines(flushing) => self.after_line(flushing),
        }
    }

    /// The document's start before the first connection, the separator
    /// before the others; then, when the buffer is full, hands it out.
    fn before_connection(&mut self) -> io::Result<()> {
        if self.written == 0 {
            self.start();
        } else {
            self.buf.push(b',');
        }
        self.buf.push(b'\n');
        self.written += 1;
        // Handed out after a newline: standard output's `LineWriter` then
        // passes it on in one `write`, where a buffer ending inside a line
        // was two (the lines, then the part of one it had kept back,
        // copied) — 7,195 writes on the bench capture.
        if self.buf.len() >= self.block { self.hand_out() } else { Ok(()) }
    }

    /// A connection's line is complete.
    fn after_line(&mut self, flushing: Flushing) -> io::Result<()> {
        self.buf.push(b'\n');
        self.written += 1;
        match flushing {
            // A line is of use the moment it is complete (a pipe into jq, a log shipper).
            Flushing::EveryLine => {
                self.hand_out()?;
                self.out.flush()
            }
            // Whole lines in one piece: a writer that buffers less passes
            // it on as it is (`BufWriter`, and standard output's
            // `LineWriter` since it ends with a newline).
            Flushing::Blocks if self.buf.len() >= self.block => self.hand_out(),
            Flushing::Blocks => Ok(()),
        }
    }

    /// The JSON document's start, up to its first connection.
    fn start(&mut self) {
        self.buf.extend_from_slice(b"{\"tool\":\"tcpka\",\"version\":\"");
        self.buf.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
        self.buf.extend_from_slice(b"\",\"connections\":[");
    }

    fn hand_out(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<Written<W>> {
        if self.framing == Framing::Document && self.written == 0 {
            self.start();
        }
        self.hand_out()?;
        Ok(Written { out: self.out, connections: self.written })
    }
}

/// The output back, after the last connection, and how many were written.
pub struct Written<W> {
    pub out: W,
    pub connections: u64,
}

/// A sink's connections, as they are handed to it.
pub struct ConnectionStream<W: Write> {
    place: Place<W>,
}

enum Place<W> {
    Here(Box<Writing<W>>),
    Thread(Thread<W>),
    /// Finished, or the writing thread stopped on an error (said at the
    /// hand-over that found it).
    Gone,
}

impl<W: Write> ConnectionStream<W> {
    /// Written in the thread that hands the connections over.
    pub fn here(out: W, naming: Naming, framing: Framing) -> ConnectionStream<W> {
        ConnectionStream { place: Place::Here(Box::new(Writing::new(out, naming, framing))) }
    }

    /// Gathers blocks of `block` bytes instead (the tests' small blocks).
    #[cfg(test)]
    pub fn here_in_blocks_of(out: W, naming: Naming, framing: Framing, block: usize) -> ConnectionStream<W> {
        let mut writing = Writing::new(out, naming, framing);
        writing.block = block;
        ConnectionStream { place: Place::Here(Box::new(writing)) }
    }

    /// Whether a thread of their own writes them: it must be handed them owned.
    pub fn on_a_thread(&self) -> bool {
        matches!(self.place, Place::Thread(_))
    }

    /// A connection handed over owned (see [`ReportSink::hand_over`](super::ReportSink::hand_over)).
    pub fn hand_over(&mut self, judged: JudgedConnection) -> io::Result<()> {
        self.send(Job::Judged(judged))
    }

    /// A connection lent: written at once here; its report built and
    /// handed over to a writing thread (it cannot keep what is lent).
    pub fn judged(&mut self, judged: &Judged<'_>) -> io::Result<()> {
        match &mut self.place {
            Place::Here(writing) => writing.connection(Entry::Judged(judged)),
            _ => self.report(&judged.report()),
        }
    }

    /// A report built for the live event stream.
    pub fn report(&mut self, report: &ConnectionReport) -> io::Result<()> {
        match &mut self.place {
            Place::Here(writing) => writing.connection(Entry::Report(report)),
            _ => self.send(Job::Report(Box::new(report.clone()))),
        }
    }

    fn send(&mut self, job: Job) -> io::Result<()> {
        match &mut self.place {
            Place::Here(writing) => writing.job(&job),
            Place::Thread(thread) => {
                thread.batch.push(job);
                if thread.batch.len() < BATCH || thread.send_batch() {
                    return Ok(());
                }
                // The writer stopped: its error (a closed pipe) is the one to say.
                let Place::Thread(thread) = std::mem::replace(&mut self.place, Place::Gone) else {
                    unreachable!("matched above")
                };
                match join(thread.worker) {
                    Err(e) => Err(e),
                    Ok(_) => Err(io::Error::other("the connections' writer stopped")),
                }
            }
            Place::Gone => Err(io::Error::other("the connections' writer had stopped")),
        }
    }

    /// Waits for the connections handed over to be written, and gives the
    /// output back. A write that failed on the writing thread fails here.
    pub fn finish(mut self) -> io::Result<Written<W>> {
        match std::mem::replace(&mut self.place, Place::Gone) {
            Place::Here(writing) => writing.finish(),
            Place::Thread(mut thread) => {
                if !thread.batch.is_empty() {
                    // A writer that stopped says why when joined.
                    thread.send_batch();
                }
                drop(thread.jobs);
                let writing = join(thread.worker);
                // The last batches' connections, dropped here (see the module's comment).
                drop(thread.done);
                // The end is written here: a stream dropped unfinished (the
                // analysis failed) writes no document's start.
                writing?.finish()
            }
            Place::Gone => Err(io::Error::other("the connections' writer had stopped")),
        }
    }
}

impl<W: Write> Drop for ConnectionStream<W> {
    /// A stream dropped unfinished (the analysis failed) ends as it would
    /// in the analysing thread: what was handed out goes to the output
    /// (its writer flushes when dropped), and the process does not exit
    /// while the writing thread still holds it.
    fn drop(&mut self) {
        if let Place::Thread(thread) = std::mem::replace(&mut self.place, Place::Gone) {
            drop(thread.jobs);
            // The analysis has its own error to say; this one would hide it.
            let _ = thread.worker.join();
        }
    }
}

/// The writing thread's end; its panic, if it panicked, goes on here.
fn join<W>(worker: JoinHandle<io::Result<Writing<W>>>) -> io::Result<Writing<W>> {
    worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

impl<W: Write + Send + 'static> ConnectionStream<W> {
    /// Written on a thread of their own, which owns `out` until
    /// [`finish`](ConnectionStream::finish).
    pub fn on_thread(out: W, naming: Naming, framing: Framing) -> io::Result<ConnectionStream<W>> {
        let (jobs, queue) = bounded::<Vec<Job>>(QUEUE);
        // Never full: no more batches exist than the queue, the one being
        // written, the one being filled, and one made while those are out.
        let (written, done) = bounded::<Vec<Job>>(QUEUE + 4);
        let mut writing = Writing::new(out, naming, framing);
        let worker = std::thread::Builder::new().name("tcpka-write".into()).spawn(move || {
            for batch in queue {
                for job in &batch {
                    // On an error (a closed pipe, a full disk) the queue is
                    // dropped: the next hand-over fails, and says why.
                    writing.job(job)?;
                }
                let _ = written.send(batch);
            }
            Ok(writing)
        })?;
        let batch = Vec::with_capacity(BATCH);
        Ok(ConnectionStream { place: Place::Thread(Thread { batch, jobs, done, worker }) })
    }
}

/// The analysing thread's side of the writing thread.
struct Thread<W> {
    /// The connections not handed over yet.
    batch: Vec<Job>,
    jobs: Sender<Vec<Job>>,
    /// Batches written, to be emptied and filled again.
    done: Receiver<Vec<Job>>,
    worker: JoinHandle<io::Result<Writing<W>>>,
}

impl<W> Thread<W> {
    /// Hands the batch over (waiting while the queue is full). False when
    /// the writer has stopped.
    fn send_batch(&mut self) -> bool {
        let next = match self.done.try_recv() {
            Ok(mut written) => {
                written.clear();
                written
            }
            Err(_) => Vec::with_capacity(BATCH),
        };
        let full = std::mem::replace(&mut self.batch, next);
        self.jobs.send(full).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::wire::*;
    use crate::neighbours::NeighbourLog;
    use crate::report::{CaptureName, FileFrames};
    use crate::testkit::SharedOutput;
    use crate::time::Timestamp;
    use crate::verdict::judge;
    use std::sync::Arc;

    /// Judged connections of three shapes (closed, a keepalive kill, a
    /// reset), `n` of each: more than a batch.
    fn judged(n: usize) -> Vec<JudgedConnection> {
        let capture = Arc::new(CaptureName { path: "a \"b\".pcap".into(), files: FileFrames::default() });
        let mut out = Vec::new();
        for i in 0..n {
            let mut closed = Wire::established(1000, 5000);
            closed.send(1.0, seg(C, FIN | ACK, 1011, 5101, 0));
            closed.send(1.1, seg(S, FIN | ACK, 5101, 1012, 0));
            closed.send(1.2, seg(C, ACK, 1012, 5102, 0));
            let mut kill = Wire::established(1000, 5000);
            kill.send(21.405, seg(S, ACK, 5100, 1011, 0));
            kill.send(23.421, seg(S, ACK, 5100, 1011, 0));
            kill.send(25.437, seg(S, RST | ACK, 5101, 1011, 0));
            let mut reset = Wire::established(1000, 5000);
            reset.send(3.0 + i as f64, seg(C, RST | ACK, 1011, 5101, 0));
            for conn in [closed, kill, reset].into_iter().flat_map(Wire::finish) {
                let verdict = judge(&conn, Timestamp::from_secs_f64(100.0 + i as f64), &NeighbourLog::default());
                out.push(JudgedConnection { conn, verdict, capture: Arc::clone(&capture), capture_number: 1 });
            }
        }
        out
    }

    fn written(mut stream: ConnectionStream<Vec<u8>>, n: usize) -> (String, u64) {
        // A report built for the live event stream, between two handed over: written in its place.
        let report = judged(1)[1].judged().report();
        for (i, c) in judged(n).into_iter().enumerate() {
            stream.hand_over(c).unwrap();
            if i == 3 {
                stream.report(&report).unwrap();
            }
        }
        let Written { out, connections } = stream.finish().unwrap();
        (String::from_utf8(out).unwrap(), connections)
    }

    const FRAMINGS: [Framing; 3] =
        [Framing::Document, Framing::Lines(Flushing::EveryLine), Framing::Lines(Flushing::Blocks)];

    fn naming(framing: Framing) -> Naming {
        if framing == Framing::Document { Naming::Json } else { Naming::Ndjson }
    }

    #[test]
    fn a_thread_of_their_own_writes_what_the_analysing_thread_writes() {
        for framing in FRAMINGS {
            // 0 to 3 batches and more; past a buffer (64 KiB) at 200 of each.
            for n in [0, 1, BATCH, 3 * BATCH + 5, 200] {
                let naming = naming(framing);
                let here = written(ConnectionStream::here(Vec::new(), naming, framing), n);
                let thread = written(ConnectionStream::on_thread(Vec::new(), naming, framing).unwrap(), n);
                assert_eq!(here, thread, "{framing:?}, {n} of each shape");
                let expected = if n > 1 { 3 * n as u64 + 1 } else { 3 * n as u64 };
                assert_eq!(here.1, expected);
                if framing == Framing::Document {
                    assert!(here.0.starts_with("{\"tool\":\"tcpka\""), "{}", &here.0[..40]);
                    assert_eq!(here.0.matches("\n{\"id\":").count() as u64, expected);
                } else {
                    assert_eq!(here.0.lines().count() as u64, expected);
                    assert!(here.0.lines().all(|l| l.starts_with("{\"type\":\"connection\"")));
                }
            }
        }
    }

    #[test]
    fn a_stream_dropped_unfinished_writes_no_document_start() {
        // The analysis failed before any connection (a bad filter): no
        // document's start, in either thread.
        let out = SharedOutput::default();
        drop(ConnectionStream::on_thread(out.clone(), Naming::Json, Framing::Document).unwrap());
        assert!(out.0.lock().unwrap().is_empty());
        drop(ConnectionStream::here(out.clone(), Naming::Json, Framing::Document));
        assert!(out.0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_stream_dropped_unfinished_has_written_what_it_was_handed_before_it_is_gone() {
        // The analysis failed after many connections: the writing thread has
        // written all it was handed out once the stream is dropped, as the
        // analysing thread would have (the process may exit right after).
        for framing in [Framing::Document, Framing::Lines(Flushing::Blocks)] {
            let out = SharedOutput::default();
            let mut stream = ConnectionStream::on_thread(out.clone(), naming(framing), framing).unwrap();
            for c in judged(10 * BATCH) {
                stream.hand_over(c).unwrap();
            }
            // What the analysing thread would have handed out by then.
            let here = SharedOutput::default();
            let mut same = ConnectionStream::here(here.clone(), naming(framing), framing);
            for c in judged(10 * BATCH) {
                same.hand_over(c).unwrap();
            }
            drop(same);
            drop(stream);
            let (on_thread, here) = (out.0.lock().unwrap().clone(), here.0.lock().unwrap().clone());
            // Whole batches (30 of them) were handed over: the thread wrote
            // every buffer the analysing thread would have handed out.
            assert!(here.len() > BUFFER, "{framing:?}: {} bytes", here.len());
            assert_eq!(String::from_utf8(on_thread).unwrap(), String::from_utf8(here).unwrap(), "{framing:?}");
        }
    }

    /// An output that breaks after `ok` bytes, as a pipe whose reader went away.
    struct Breaks {
        ok: usize,
    }

    impl Write for Breaks {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.ok < buf.len() {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.ok -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_that_fails_on_the_writing_thread_fails_the_analysis() {
        // Whether a hand-over finds the writer stopped or the end does,
        // its error is the one said (main handles a closed pipe quietly).
        for framing in FRAMINGS {
            let mut stream = ConnectionStream::on_thread(Breaks { ok: 1000 }, naming(framing), framing).unwrap();
            let mut error = None;
            for c in judged(20 * BATCH) {
                if let Err(e) = stream.hand_over(c) {
                    error = Some(e);
                    break;
                }
            }
            let error = error.or_else(|| stream.finish().err()).expect("the write failed");
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{framing:?}");
        }
    }
}
