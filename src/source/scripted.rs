//! The scripted source, for tests: packets at given times, and a clock that
//! moves only when the reader waits (as hyperfine's mock executor stands in
//! for running commands). Live mode's loop runs on it without root.

use crate::decode::LinkKind;
use crate::source::{Link, Next, Packet, PacketSource};
use crate::time::Timestamp;
use std::io;
use std::time::Duration;

/// Ethernet frames at times (seconds after the script's start), then a quiet
/// clock until the script's end.
pub struct ScriptedSource {
    link: Link,
    frames: Vec<(Timestamp, Vec<u8>)>,
    /// The next frame to hand out.
    next: usize,
    clock: Timestamp,
    until: Timestamp,
}

impl ScriptedSource {
    /// `frames` in time order, at `start + t` seconds (as a capture file of
    /// them would stamp them); the clock starts at `start` and the script
    /// ends `until` seconds after it.
    pub fn new(start: f64, frames: Vec<(f64, Vec<u8>)>, until: f64) -> ScriptedSource {
        let link = Link { kind: LinkKind::Ethernet, name: "EN10MB".into() };
        let frames = frames.into_iter().map(|(t, f)| (Timestamp::from_secs_f64(start + t), f)).collect();
        let (clock, until) = (Timestamp::from_secs_f64(start), Timestamp::from_secs_f64(start + until));
        ScriptedSource { link, frames, next: 0, clock, until }
    }
}

impl PacketSource for ScriptedSource {
    fn link(&self) -> &Link {
        &self.link
    }

    /// The frames whose time has come, one by one; then `Idle` until the
    /// clock moves on, and `End` once the script is over.
    fn next_packet(&mut self) -> Next<'_> {
        match self.frames.get(self.next) {
            Some(&(ts, _)) if ts <= self.clock => {
                self.next += 1;
                Next::Packet(Packet { ts, data: &self.frames[self.next - 1].1 })
            }
            None if self.clock > self.until => Next::End,
            _ => Next::Idle,
        }
    }

    /// Moves the clock on by `timeout`, or to the next frame when it comes sooner.
    fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        let later = self.clock + timeout;
        self.clock = self.frames.get(self.next).map_or(later, |&(ts, _)| ts.clamp(self.clock, later));
        Ok(())
    }

    fn now(&self) -> Timestamp {
        self.clock
    }
}
