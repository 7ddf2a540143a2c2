//! What depends only on the frames in file order, not on the flow table:
//! each frame's number, its time by the capture's [`Clock`], and whether it
//! is a copy of a frame captured just before ([`DuplicateFilter`]).
//!
//! One [`FrameOrder`] goes with each capture. The pipeline holds it, and
//! steps each frame through it on its one thread when a source hands it
//! packets (live mode); it lends it to a file source's reader thread for
//! the file's length, which steps each batch through it before handing the
//! batch over and hands it back with the file's end (a reading stopped
//! between two batches gets back a [`FrameOrder::snapshot`] taken after
//! the last batch handed over, not the order the reader stepped on
//! ahead). A capture may span
//! several files (a ring buffer's): the next one goes on with the same
//! numbers, clock and recent packets, so a copy across two files is still
//! one, and the analysing thread is left with the flow table and what
//! follows it.

use crate::clock::{Clock, Tick};
use crate::decode::Decoded;
use crate::duplicates::{DuplicateFilter, Print};
use crate::source::Frame;

/// The frame numbers, clock and recent packets of one capture.
#[derive(Default)]
pub struct FrameOrder {
    /// Frames numbered so far (analysed or not: each takes a number, as
    /// Wireshark counts them).
    frames: u64,
    clock: Clock,
    duplicates: DuplicateFilter,
}

/// What [`FrameOrder::step`] made of one frame: two bytes in the batch
/// (with its times, the [`Tick`] took 24; an entry is now 128 bytes, two
/// cache lines, where it took 168 with them and the duplicate check's print).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ordered {
    /// What the frame's timestamp did to the capture's clock.
    pub clock: Clocked,
    /// A TCP segment that copies one captured just before: analysed once,
    /// as the frame it copies (see [`crate::duplicates`]).
    pub copy: bool,
}

/// A [`Tick`] without its times: whoever takes the frames in order knows
/// them. The analysis time of a frame stepped back, and the end of the part
/// of the capture before a jump, are the analysis time of the frame before
/// it (the clock's latest time: the frame before was analysed at it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clocked {
    /// The clock went on: the frame is analysed at its own time (also a
    /// frame not stepped yet, just decoded).
    #[default]
    On,
    /// Stamped before the frame before it: analysed at that frame's time.
    SteppedBack,
    /// The clock jumped: the part of the capture before ended at the frame
    /// before's time; the frame starts a new part, at its own time.
    Jumped,
}

impl From<Tick> for Clocked {
    fn from(tick: Tick) -> Clocked {
        match tick {
            Tick::On(_) => Clocked::On,
            Tick::SteppedBack(_) => Clocked::SteppedBack,
            Tick::Jumped { .. } => Clocked::Jumped,
        }
    }
}

impl FrameOrder {
    /// Numbers `frame`, ticks the clock with its time and checks a TCP
    /// segment, whose duplicate check's [`Print`] is `print`, against the
    /// recent packets; what came of it is kept in the frame ([`Frame::order`]).
    #[inline]
    pub fn step(&mut self, frame: &mut Frame, print: &Print) {
        self.frames += 1;
        let tick = self.clock.tick(self.frames, frame.ts);
        // The copy's window is measured in analysis time: it never goes
        // back within a part of the capture (see `clock`).
        let at = match tick {
            Tick::On(t) | Tick::SteppedBack(t) => t,
            Tick::Jumped { .. } => frame.ts,
        };
        let copy = match &frame.decoded {
            Decoded::Tcp(seg) => self.duplicates.check(self.frames, at, seg, print).is_some(),
            _ => false,
        };
        frame.order = Ordered { clock: tick.into(), copy };
    }

    /// The frame whose print is `print` comes soon: see [`DuplicateFilter::prefetch`].
    #[inline]
    pub fn prefetch(&self, print: &Print) {
        self.duplicates.prefetch(print);
    }

    /// A frame not analysed (rejected by the filter, on a link type tcpka
    /// does not read): it takes a number, and leaves the clock alone.
    #[inline]
    pub fn skip(&mut self) {
        self.frames += 1;
    }

    /// The order as it stands, without the duplicate check's table of
    /// recent packets: its numbers, clock and the copies found, all it
    /// reports. Taken by a file's reader after each batch, so that a
    /// reading stopped between two batches reports what the frames handed
    /// over did, not those the reader had read ahead (`FileSource::stop`).
    /// A few dozen bytes to copy (the clock's and the copies' first few
    /// examples), once for 1,024 frames.
    pub fn snapshot(&self) -> FrameOrder {
        FrameOrder { frames: self.frames, clock: self.clock.clone(), duplicates: self.duplicates.found() }
    }

    /// Frames numbered so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The capture's clock: its latest time, the end time a file gives, its warnings.
    pub fn clock(&mut self) -> &mut Clock {
        &mut self.clock
    }

    /// The copies recognised so far.
    pub fn duplicates(&self) -> &DuplicateFilter {
        &self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LinkKind;
    use crate::testkit::{ACK, arp, frame};
    use crate::time::Timestamp;

    fn at(secs: f64) -> Timestamp {
        Timestamp::from_secs_f64(1_700_000_000.0 + secs)
    }

    fn stepped(order: &mut FrameOrder, ts: Timestamp, data: &[u8]) -> Ordered {
        let (mut f, print) = Frame::decode(LinkKind::Ethernet, ts, data);
        order.step(&mut f, &print);
        f.order
    }

    #[test]
    fn frames_are_numbered_clocked_and_checked_for_copies_in_file_order() {
        let mut order = FrameOrder::default();
        let seg = frame(true, ACK, 1, 1, 10);
        assert_eq!(stepped(&mut order, at(1.0), &seg), Ordered { clock: Clocked::On, copy: false });
        // A filtered frame takes a number and leaves the clock alone.
        order.skip();
        // Not TCP: clocked, never a copy; stamped before the frame before it.
        let arp = arp(false, [10, 0, 0, 1], [10, 0, 0, 2]);
        assert_eq!(stepped(&mut order, at(0.5), &arp), Ordered { clock: Clocked::SteppedBack, copy: false });
        // The same bytes (IP ID 0) 0.2 ms later: a copy, of frame 1, at frame 4.
        assert_eq!(stepped(&mut order, at(1.0002), &seg), Ordered { clock: Clocked::On, copy: true });
        assert_eq!(order.frames(), 4);
        assert_eq!(order.duplicates().dropped(), 1);
        let first = order.duplicates().examples()[0];
        assert_eq!((first.frame, first.copy_of), (4, 1));
        // A day later, another segment: the clock jumped.
        let other = frame(true, ACK, 2, 1, 10);
        let later = at(1.0002 + 86_400.0);
        assert_eq!(stepped(&mut order, later, &other), Ordered { clock: Clocked::Jumped, copy: false });
        assert_eq!(order.clock().latest(), Some(later));
        assert_eq!(stepped(&mut order, later, &other), Ordered { clock: Clocked::On, copy: true });
        // Back by the day, within a millisecond of frame 1: the clock jumps
        // again, and the frame is a copy of frame 1 all the same (of a frame
        // two parts of the capture before, whose slot nothing took since).
        assert_eq!(stepped(&mut order, at(1.0003), &seg), Ordered { clock: Clocked::Jumped, copy: true });
        assert_eq!(order.duplicates().examples()[2].copy_of, 1);
    }
}
