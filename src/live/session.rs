//! The live loop as an object: [`LiveSession::step`] reads what the source
//! has (or waits for it), ticks the pipeline's clock and watches the drop
//! counters; [`LiveSession::stop`] asks the source to stop and
//! [`LiveSession::finish`] ends it. It runs on any [`PacketSource`]: an
//! interface (through the capture thread), or a script in tests.

use crate::event::CaptureStats;
use crate::pipeline::{Judge, Pipeline};
use crate::source::{Counters, Next, PacketSource};
use crate::time::Timestamp;
use std::io;
use std::time::Duration;

/// The loop wakes up (and the pipeline's clock ticks) at least this often.
pub const TICK: Duration = Duration::from_millis(250);
/// How often the capture's drop counters are checked.
const STATS_EVERY: Duration = Duration::from_secs(5);
/// Packets read in a row before the clock is looked at again.
const BATCH: usize = 1024;

/// A live capture going through the pipeline.
pub struct LiveSession<'j, 's, S: PacketSource> {
    source: S,
    pipeline: Pipeline<'j, 's>,
    interface: String,
    next_tick: Timestamp,
    next_stats: Timestamp,
    /// Packets lost (kernel, interface, not analysed) when last warned about.
    lost_reported: u64,
    /// libpcap's message, when the capture broke off.
    broken: Option<String>,
    /// The source has no more packets (a script's end).
    ended: bool,
}

/// How a session ended.
#[derive(Debug)]
pub struct Stopped {
    /// Packets read.
    pub packets: u64,
    /// libpcap's counters at the stop.
    pub counters: Option<Counters>,
    /// libpcap's message, when the capture broke off.
    pub broken: Option<String>,
}

/// Whether what is done every `every` is due at `now`; if so, schedules the
/// next time. The source's clock is the wall clock for an interface: when
/// it is set back, what was scheduled by the old time is due at once rather
/// than after the clock has caught up.
fn due(now: Timestamp, next: &mut Timestamp, every: Duration) -> bool {
    if now < *next && now + every >= *next {
        return false;
    }
    *next = now + every;
    true
}

impl<'j, 's, S: PacketSource> LiveSession<'j, 's, S> {
    /// Starts a session on `source`; its capture is named `live:INTERFACE`.
    pub fn new(source: S, judge: &'j mut Judge<'s>, interface: &str) -> Self {
        let pipeline = Pipeline::new(judge, &format!("live:{interface}"), Some("live"), source.link());
        let now = source.now();
        LiveSession {
            source,
            pipeline,
            interface: interface.into(),
            next_tick: now + TICK,
            next_stats: now + STATS_EVERY,
            lost_reported: 0,
            broken: None,
            ended: false,
        }
    }

    /// The source ended or broke off: nothing more will come.
    pub fn is_over(&self) -> bool {
        self.ended || self.broken.is_some()
    }

    /// Everything the source has (in batches, so the clock is still looked
    /// at under load), else a wait for packets until the next tick; then
    /// what is due by the clock.
    pub fn step(&mut self) -> io::Result<()> {
        let mut read = 0;
        while read < BATCH {
            match self.source.next_packet() {
                Next::Packet(p) => {
                    read += 1;
                    self.pipeline.packet(p.ts, p.data)?;
                }
                Next::Frame(f) => {
                    read += 1;
                    self.pipeline.frame(f)?;
                }
                Next::Link(link) => self.pipeline.set_link(link),
                Next::Filtered => {
                    read += 1;
                    self.pipeline.skip();
                }
                Next::Idle => break,
                Next::End => {
                    self.ended = true;
                    return Ok(());
                }
                Next::Broken(reason) => {
                    self.broken = Some(reason);
                    return Ok(());
                }
            }
        }
        if read == 0 {
            let left = self.next_tick.0.saturating_sub(self.source.now().0).max(0);
            self.source.wait(Duration::from_nanos(left as u64))?;
        }
        let now = self.source.now();
        if due(now, &mut self.next_tick, TICK) {
            self.tick(now)?;
        }
        if due(now, &mut self.next_stats, STATS_EVERY) {
            self.watch_drops(now)?;
        }
        Ok(())
    }

    /// Asks the source to stop: what it captured is still read, then it ends.
    pub fn stop(&mut self) {
        self.source.stop();
    }

    /// The capture's counters now, and the packets analysed so far.
    pub fn counters(&mut self) -> (Option<Counters>, u64) {
        (self.source.counters(), self.pipeline.frames())
    }

    /// The clock moved on to `now`: the pipeline's clock rules.
    pub fn tick(&mut self, now: Timestamp) -> io::Result<()> {
        self.pipeline.tick(now)
    }

    /// Warns (and streams the counters) when more packets were lost: by
    /// the kernel or the interface (libpcap's counters), or not analysed.
    fn watch_drops(&mut self, now: Timestamp) -> io::Result<()> {
        let Some(c) = self.source.counters() else { return Ok(()) };
        let lost = lost(&c);
        if lost <= self.lost_reported {
            return Ok(());
        }
        crate::diag!(
            "tcpka: warning: {} packets lost so far ({} dropped by the kernel, {} by the interface, {} not analysed) of {} received: verdicts may miss packets",
            lost,
            c.dropped,
            c.if_dropped,
            c.not_analysed,
            c.received
        );
        self.lost_reported = lost;
        self.pipeline.stream_stats(now, capture_stats(c, false))
    }

    /// Stops: the counters, the `--write` file flushed and closed, the last
    /// connections judged and the capture recorded. The [`Stopped`] is
    /// there even when streaming the last events failed.
    pub fn finish(self) -> (Stopped, io::Result<()>) {
        let LiveSession { mut source, mut pipeline, interface, broken, .. } = self;
        let now = source.now();
        // What the loop did not read (it ended first) is counted, not lost silently.
        source.abandon();
        let counters = source.counters();
        drop(source);
        if let Some(c) = counters {
            if c.dropped > 0 || c.if_dropped > 0 {
                pipeline.warn(format!(
                    "libpcap reports {} packets dropped by the kernel and {} by the interface (of {} received): the verdicts may miss packets",
                    c.dropped, c.if_dropped, c.received
                ));
            }
            if c.not_analysed > 0 {
                pipeline.warn(format!(
                    "{} packets were captured (and written to the --write file) but not analysed: the analysis fell behind; the verdicts may miss packets",
                    c.not_analysed
                ));
            }
            pipeline.set_capture_counts(c);
        }
        if let Some(e) = &broken {
            pipeline.set_error(format!("the capture on {interface} failed: {e}"));
        }
        let packets = pipeline.frames();
        let streamed = counters.map_or(Ok(()), |c| pipeline.stream_stats(now, capture_stats(c, true)));
        // The pipeline is ended even when the stream has gone away, so the
        // capture is recorded.
        let ended = pipeline.end_at(now);
        (Stopped { packets, counters, broken }, streamed.and(ended))
    }
}

/// Packets lost, all causes.
fn lost(c: &Counters) -> u64 {
    u64::from(c.dropped) + u64::from(c.if_dropped) + c.not_analysed
}

fn capture_stats(c: Counters, is_final: bool) -> CaptureStats {
    // The pipeline fills in its own counts, the event sink its own.
    CaptureStats {
        received: c.received,
        dropped: c.dropped,
        if_dropped: c.if_dropped,
        not_analysed: c.not_analysed,
        is_final,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_due_by_the_clock_even_when_it_is_set_back() {
        let t = |secs: f64| Timestamp::from_secs_f64(secs);
        let mut next = t(100.0) + TICK;
        assert!(!due(t(100.1), &mut next, TICK));
        assert!(due(t(100.25), &mut next, TICK));
        assert_eq!(next, t(100.5));
        // Set back by 50 s: due at once, then a tick later again.
        assert!(due(t(50.0), &mut next, TICK));
        assert_eq!(next, t(50.25));
        assert!(!due(t(50.1), &mut next, TICK));
    }
}
