//! The capture thread, and the source the analysis reads it through.
//!
//! One thread does nothing but empty the kernel's capture ring: it reads
//! the interface, writes the `--write` file, and hands the packets over in
//! batches through a bounded queue. It never waits for the analysis: when
//! the queue is full, the batch is counted ([`Counters::not_analysed`]) and
//! dropped, so a slow analysis (or a standard output nobody reads, further
//! on) costs verdicts, not packets the kernel throws away unseen (the file
//! still gets every packet). [`RelaySource`] is the other end, a
//! [`PacketSource`] like any other for the live loop.

use crate::source::interface::{InterfaceSource, Read};
use crate::source::savefile::Savefile;
use crate::source::{Counters, Link, Next, Packet, PacketSource};
use crate::time::Timestamp;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError, bounded};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Packets per batch handed over (fewer when the capture goes idle).
const BATCH_PACKETS: usize = 1024;
/// Bytes of packets the queue holds (each packet's bytes as captured, and
/// 16 for its time and place): 256 MiB, some three million small packets,
/// seconds of a busy server's traffic while the analysis is short of CPU
/// (it catches up when the burst is over). Taken only while it is behind.
const QUEUE_BYTES: usize = 256 << 20;
/// Batches kept for reuse once the analysis is done with them.
const SPARE_BATCHES: usize = 64;
/// The capture thread's longest wait for packets, and so how long it takes
/// to see that it must stop.
const WAIT: Duration = Duration::from_millis(50);
/// How often the thread publishes libpcap's counters.
const COUNTERS_EVERY: Duration = Duration::from_millis(500);
/// How long [`RelaySource::abandon`] waits for the capture thread's last word.
const ABANDON_WAIT: Duration = Duration::from_millis(200);
/// How often the `--write` file is written out when packets keep coming.
const WRITE_OUT_EVERY: Duration = Duration::from_secs(1);

/// Packets copied out of the ring: their bytes end to end, and each one's
/// time and end offset.
#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    packets: Vec<(Timestamp, usize)>,
}

impl Batch {
    /// What the batch counts for in the queue's [`QUEUE_BYTES`].
    fn bytes(&self) -> usize {
        self.data.len() + 16 * self.packets.len()
    }

    fn push(&mut self, ts: Timestamp, data: &[u8]) {
        self.data.extend_from_slice(data);
        self.packets.push((ts, self.data.len()));
    }

    fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
    }
}

/// How the capture ended.
struct Ended {
    counters: Option<Counters>,
    broken: Option<String>,
}

enum Message {
    Packets(Batch),
    Ended(Ended),
}

/// What the two threads share besides the queue.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    counters: Mutex<Option<Counters>>,
    /// Bytes of the batches in the queue.
    queued: AtomicUsize,
}

/// The capture thread's side.
struct Capture {
    source: InterfaceSource,
    file: Option<Savefile>,
    tx: Sender<Message>,
    recycle: Receiver<Batch>,
    shared: Arc<Shared>,
    batch: Batch,
    not_analysed: u64,
}

impl Capture {
    fn run(mut self) {
        let broken = self.capture();
        // The capture is over: what is left is handed over even if that
        // means waiting (nothing more comes from the ring).
        let broken = broken.or_else(|| self.file.as_mut().and_then(|f| f.flush().err()).map(|e| e.to_string()));
        let batch = std::mem::take(&mut self.batch);
        if !batch.packets.is_empty() {
            let _ = self.tx.send(Message::Packets(batch));
        }
        let counters = self.counters();
        let _ = self.tx.send(Message::Ended(Ended { counters, broken }));
    }

    /// Reads until told to stop or the capture breaks off (the message).
    fn capture(&mut self) -> Option<String> {
        let mut next_write_out = Instant::now() + WRITE_OUT_EVERY;
        let mut next_counters = Instant::now();
        while !self.shared.stop.load(Ordering::Relaxed) {
            let mut idle = false;
            for _ in 0..BATCH_PACKETS {
                match self.source.read() {
                    Read::Packet { ts, orig_len, data } => {
                        if let Some(file) = self.file.as_mut()
                            && let Err(e) = file.write(ts, orig_len, data)
                        {
                            return Some(e.to_string());
                        }
                        self.batch.push(ts, data);
                        if self.batch.packets.len() >= BATCH_PACKETS && !self.hand_over() {
                            return None;
                        }
                    }
                    Read::Idle => {
                        idle = true;
                        break;
                    }
                    Read::Broken(reason) => return Some(reason),
                }
            }
            if !self.batch.packets.is_empty() && !self.hand_over() {
                return None;
            }
            let now = Instant::now();
            if idle || now >= next_write_out {
                next_write_out = now + WRITE_OUT_EVERY;
                if let Some(e) = self.file.as_mut().and_then(|f| f.flush().err()) {
                    return Some(e.to_string());
                }
            }
            if now >= next_counters {
                next_counters = now + COUNTERS_EVERY;
                let counters = self.counters();
                *self.shared.counters.lock().unwrap_or_else(|p| p.into_inner()) = counters;
            }
            if idle && let Err(e) = self.source.wait(WAIT) {
                return Some(e.to_string());
            }
        }
        None
    }

    /// Hands the batch over, or counts it dropped when the queue is full.
    /// False when the analysis has gone away.
    fn hand_over(&mut self) -> bool {
        let fresh = match self.recycle.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Batch::default(),
        };
        let batch = std::mem::replace(&mut self.batch, fresh);
        let bytes = batch.bytes();
        if self.shared.queued.load(Ordering::Relaxed) + bytes > QUEUE_BYTES {
            self.not_analysed += batch.packets.len() as u64;
            self.batch = batch;
            self.batch.clear();
            return true;
        }
        self.shared.queued.fetch_add(bytes, Ordering::Relaxed);
        match self.tx.try_send(Message::Packets(batch)) {
            Ok(()) => true,
            Err(TrySendError::Full(Message::Packets(mut batch))) => {
                self.shared.queued.fetch_sub(bytes, Ordering::Relaxed);
                self.not_analysed += batch.packets.len() as u64;
                batch.clear();
                self.batch = batch;
                true
            }
            Err(TrySendError::Full(Message::Ended(_))) => true,
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn counters(&mut self) -> Option<Counters> {
        let mut c = self.source.counters()?;
        c.not_analysed = self.not_analysed;
        Some(c)
    }
}

/// The analysis's side: the packets the capture thread hands over.
pub struct RelaySource {
    link: Link,
    rx: Receiver<Message>,
    recycle: Sender<Batch>,
    shared: Arc<Shared>,
    current: Batch,
    /// The next packet of `current` to hand out.
    next: usize,
    ended: Option<Ended>,
    /// Packets handed over but abandoned unread.
    abandoned: u64,
    thread: Option<JoinHandle<()>>,
}

impl RelaySource {
    /// Starts the capture thread on `source`, writing every packet to `file`.
    pub fn spawn(source: InterfaceSource, file: Option<Savefile>) -> io::Result<RelaySource> {
        // Bounded by bytes (`Shared::queued`); the count bound is only a backstop.
        let (tx, rx) = bounded(QUEUE_BYTES / 1024);
        let (recycle, recycled) = bounded(SPARE_BATCHES);
        let shared = Arc::new(Shared::default());
        let link = source.link().clone();
        let capture = Capture {
            source,
            file,
            tx,
            recycle: recycled,
            shared: Arc::clone(&shared),
            batch: Batch::default(),
            not_analysed: 0,
        };
        let thread = std::thread::Builder::new().name("capture".into()).spawn(move || capture.run())?;
        Ok(RelaySource {
            link,
            rx,
            recycle,
            shared,
            current: Batch::default(),
            next: 0,
            ended: None,
            abandoned: 0,
            thread: Some(thread),
        })
    }

    fn take(&mut self, message: Message) {
        match message {
            Message::Packets(batch) => {
                self.shared.queued.fetch_sub(batch.bytes(), Ordering::Relaxed);
                let done = std::mem::replace(&mut self.current, batch);
                self.next = 0;
                let _ = self.recycle.try_send(done);
            }
            Message::Ended(ended) => self.ended = Some(ended),
        }
    }

    fn has_packets(&self) -> bool {
        self.next < self.current.packets.len()
    }

    fn thread_gone(&mut self) {
        self.ended = Some(Ended { counters: None, broken: Some("the capture thread ended unexpectedly".into()) });
    }
}

impl PacketSource for RelaySource {
    fn link(&self) -> &Link {
        &self.link
    }

    fn next_packet(&mut self) -> Next<'_> {
        while !self.has_packets() && self.ended.is_none() {
            match self.rx.try_recv() {
                Ok(message) => self.take(message),
                Err(TryRecvError::Empty) => return Next::Idle,
                Err(TryRecvError::Disconnected) => self.thread_gone(),
            }
        }
        if self.has_packets() {
            let (ts, end) = self.current.packets[self.next];
            let start = self.next.checked_sub(1).map_or(0, |i| self.current.packets[i].1);
            self.next += 1;
            return Next::Packet(Packet { ts, data: &self.current.data[start..end] });
        }
        match self.ended.as_ref().and_then(|e| e.broken.clone()) {
            Some(reason) => Next::Broken(reason),
            None => Next::End,
        }
    }

    fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        if self.has_packets() || self.ended.is_some() {
            return Ok(());
        }
        match self.rx.recv_timeout(timeout) {
            Ok(message) => self.take(message),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => self.thread_gone(),
        }
        Ok(())
    }

    /// The wall clock: libpcap stamps live packets with it.
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    /// The counters at the end of the capture once it has ended, else the
    /// latest the capture thread published; with what was abandoned.
    fn counters(&mut self) -> Option<Counters> {
        let mut c = match &self.ended {
            Some(ended) => ended.counters,
            None => *self.shared.counters.lock().unwrap_or_else(|p| p.into_inner()),
        }?;
        c.not_analysed += self.abandoned;
        Some(c)
    }

    /// Tells the capture thread to stop; what it captured is still handed
    /// out, then [`Next::End`].
    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// Counts the packets left unread, and waits a little for the capture
    /// thread's final counters.
    fn abandon(&mut self) {
        self.stop();
        self.abandoned += (self.current.packets.len() - self.next) as u64;
        self.next = self.current.packets.len();
        let until = Instant::now() + ABANDON_WAIT;
        while self.ended.is_none() {
            match self.rx.recv_deadline(until) {
                Ok(Message::Packets(batch)) => {
                    self.shared.queued.fetch_sub(batch.bytes(), Ordering::Relaxed);
                    self.abandoned += batch.packets.len() as u64;
                }
                Ok(Message::Ended(ended)) => self.ended = Some(ended),
                Err(_) => break,
            }
        }
    }
}

impl Drop for RelaySource {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Unblocks a capture thread waiting to hand over its last batch.
        drop(std::mem::replace(&mut self.rx, crossbeam_channel::never()));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
