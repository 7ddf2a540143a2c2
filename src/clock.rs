//! The capture's clock, frame by frame: steps back and leaps that no TCP
//! timer explains.
//!
//! tcpka measures everything as differences of capture timestamps: idle
//! times, probe intervals, retransmission backoff, how long a connection
//! stayed open. Those timestamps are not always one clock running forward:
//!
//! - a frame stamped a little out of order (a NIC queue, two interfaces of
//!   one pcapng, a glitch: zeek vnc-scanner.pcap's frame 16 is stamped 1 s
//!   late and frame 17 goes 0.9 s back) would give negative intervals. Such
//!   a frame is analysed at the time of the latest frame before it (its
//!   analysis time never goes back), and a warning names it;
//! - a leap of more than [`LEAP_FORWARD_S`] (10.2 h), or a step back of more than
//!   [`STEP_BACK_SPLIT_S`], is two captures of different times in one file
//!   (`mergecap -a`, nDPI's trimmed flows from different days), or a clock
//!   set while capturing (a device that booted in 1970, then synchronised).
//!   Nothing measured across it means anything: the capture is split there,
//!   every connection held is judged as of the last packet before the jump
//!   (the end of that part of the capture), and the analysis starts afresh.

use crate::time::Timestamp;

/// A silence of the whole capture longer than this is not a silence but a
/// jump of the clock: the longest keepalive idle Linux accepts, 32767 s
/// (`MAX_TCP_KEEPIDLE`, include/net/tcp.h), when its timer fires as late as
/// it can (an eighth: [`crate::infer`]), about 10.2 h. Every OS defaults to
/// 7200 s; retransmissions are at most 120 s apart (`TCP_RTO_MAX`) and Linux
/// gives up on them after 924.6 s by default. A capture in which no
/// connection sent a packet for longer was not running: captures of two
/// days in one file (Monday's and Tuesday's, at the same hour) are split.
pub const LEAP_FORWARD_S: f64 = 32_767.0 * 1.125;
/// A step back longer than this is another capture appended, not a frame
/// stamped out of order (those are micro- or milliseconds, at most a second
/// or two: zeek vnc-scanner.pcap, 0.9 s).
pub const STEP_BACK_SPLIT_S: f64 = 60.0;
/// Steps back shorter than this (a microsecond reordering between NIC
/// queues) are not worth a warning; the frame is still analysed in order.
const STEP_BACK_WARN_S: f64 = 0.001;
/// The first few jumps and steps back are named in the warnings.
const EXAMPLES_KEPT: usize = 3;

/// What one frame's timestamp did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tick {
    /// The clock went on (or stood still): analyse the frame at this time.
    On(Timestamp),
    /// The frame is stamped before the frame before it: analyse it at this
    /// (the latest) time.
    SteppedBack(Timestamp),
    /// The clock jumped: the part of the capture before ended at
    /// `previous_end`; the frame starts a new part, at its own time.
    Jumped { previous_end: Timestamp },
}

/// One jump of the clock.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Jump {
    frame: u64,
    from: Timestamp,
    to: Timestamp,
}

/// Watches the timestamps of one capture, in file order.
#[derive(Clone, Default)]
pub struct Clock {
    /// The latest analysis time: the latest timestamp since the last jump.
    latest: Option<Timestamp>,
    jumps: Vec<Jump>,
    jump_count: u64,
    /// Frames stamped before the frame before them (beyond the noise), the
    /// first ones with how far back.
    steps_back: u64,
    back_examples: Vec<(u64, f64)>,
    /// An end time the file gave (a pcapng's `isb_endtime`) that lies a
    /// leap after the last frame: (that frame's time, the end time).
    end_leap: Option<(Timestamp, Timestamp)>,
}

impl Clock {
    /// Frame `frame`, stamped `ts`: at what time to analyse it.
    #[inline]
    pub fn tick(&mut self, frame: u64, ts: Timestamp) -> Tick {
        // Almost every frame: the clock went on by less than a leap. Told
        // in integers (the seconds between two frames take a division).
        if let Some(latest) = self.latest
            && latest <= ts
            && ts <= latest.after_secs(LEAP_FORWARD_S)
        {
            self.latest = Some(ts);
            return Tick::On(ts);
        }
        self.tick_otherwise(frame, ts)
    }

    /// [`Clock::tick`] for the first frame, a step back or a jump.
    #[cold]
    fn tick_otherwise(&mut self, frame: u64, ts: Timestamp) -> Tick {
        let Some(latest) = self.latest else {
            self.latest = Some(ts);
            return Tick::On(ts);
        };
        let ahead = ts.secs_since(latest);
        if !(-STEP_BACK_SPLIT_S..=LEAP_FORWARD_S).contains(&ahead) {
            self.jump_count += 1;
            if self.jumps.len() < EXAMPLES_KEPT {
                self.jumps.push(Jump { frame, from: latest, to: ts });
            }
            self.latest = Some(ts);
            return Tick::Jumped { previous_end: latest };
        }
        if ahead >= 0.0 {
            self.latest = Some(ts);
            return Tick::On(ts);
        }
        if -ahead >= STEP_BACK_WARN_S {
            self.steps_back += 1;
            if self.back_examples.len() < EXAMPLES_KEPT {
                self.back_examples.push((frame, -ahead));
            }
        }
        Tick::SteppedBack(latest)
    }

    /// The latest analysis time: the end of the current part of the
    /// capture (the pipeline keeps it from the frames' ticks).
    #[cfg(test)]
    pub fn latest(&self) -> Option<Timestamp> {
        self.latest
    }

    /// The file says the capture ran until `end` (a pcapng's statistics):
    /// the end of the last part of the capture, when that is after its
    /// latest frame. An end a leap after it (more than [`LEAP_FORWARD_S`])
    /// is a clock that jumped as any other, not a silence while the capture
    /// ran on: it is named in the warnings and not used, since nothing is
    /// measured across a jump.
    pub fn ran_until(&mut self, end: Timestamp) -> Option<Timestamp> {
        let latest = self.latest?;
        let after = end.secs_since(latest);
        if after <= 0.0 {
            return None;
        }
        if after > LEAP_FORWARD_S {
            self.end_leap = Some((latest, end));
            return None;
        }
        Some(end)
    }

    /// What the capture's clock did, for its summary: one warning for its
    /// jumps, one for its steps back.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.jumps.is_empty() {
            let named: Vec<String> = self
                .jumps
                .iter()
                .map(|j| {
                    let by = j.to.secs_since(j.from);
                    format!(
                        "{} by {} at frame {} ({} → {})",
                        if by > 0.0 { "forward" } else { "back" },
                        span(by.abs()),
                        j.frame,
                        j.from.to_rfc3339(),
                        j.to.to_rfc3339()
                    )
                })
                .collect();
            let more = self.jump_count - self.jumps.len() as u64;
            out.push(format!(
                "the capture's clock jumps {}{}: parts of different times in one file (mergecap -a, trimmed flows from different days) or a clock set while capturing (a device that booted in 1970). No TCP timer waits 10 h and time never goes back, so the capture was split there: the connections held at a jump were judged as of the last packet before it, and no interval is measured across it",
                named.join("; "),
                if more > 0 { format!(" (and {more} more)") } else { String::new() },
            ));
        }
        if !self.back_examples.is_empty() {
            let named: Vec<String> =
                self.back_examples.iter().map(|(f, by)| format!("frame {f} by {}", span(*by))).collect();
            let more = self.steps_back - self.back_examples.len() as u64;
            out.push(format!(
                "time goes back at {}{}: a frame stamped before the frame before it (out of order, or a glitch); each is analysed at the time of the latest frame before it, so no interval is negative",
                named.join(", "),
                if more > 0 { format!(" and {more} more frame{}", if more == 1 { "" } else { "s" }) } else { String::new() }
            ));
        }
        if let Some((last, end)) = self.end_leap {
            out.push(format!(
                "the capture's statistics say it ran until {}, {} after its last packet ({}): no TCP timer waits that long, so the clock jumped; the capture is judged as of its last packet",
                end.to_rfc3339(),
                span(end.secs_since(last)),
                last.to_rfc3339()
            ));
        }
        out
    }
}

/// A length of time in the largest unit that fits: "0.900 s", "4.2 min",
/// "3.0 h", "23 days", "3.3 years".
fn span(secs: f64) -> String {
    const MINUTE: f64 = 60.0;
    const HOUR: f64 = 3600.0;
    const DAY: f64 = 86_400.0;
    const YEAR: f64 = 365.25 * DAY;
    if secs >= YEAR {
        format!("{:.1} years", secs / YEAR)
    } else if secs >= 2.0 * DAY {
        format!("{:.0} days", secs / DAY)
    } else if secs >= HOUR {
        format!("{:.1} h", secs / HOUR)
    } else if secs >= MINUTE {
        format!("{:.1} min", secs / MINUTE)
    } else {
        format!("{secs:.3} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: f64) -> Timestamp {
        Timestamp::from_secs_f64(secs)
    }

    #[test]
    fn a_frame_stamped_out_of_order_is_analysed_at_the_latest_time() {
        // zeek vnc-scanner.pcap: frame 16 stamped 1 s late, 17 goes 0.9 s back.
        let mut c = Clock::default();
        assert_eq!(c.tick(15, t(100.4747)), Tick::On(t(100.4747)));
        assert_eq!(c.tick(16, t(101.4748)), Tick::On(t(101.4748)));
        assert_eq!(c.tick(17, t(100.5753)), Tick::SteppedBack(t(101.4748)));
        assert_eq!(c.tick(18, t(100.5755)), Tick::SteppedBack(t(101.4748)));
        assert_eq!(c.tick(19, t(101.6)), Tick::On(t(101.6)));
        let w = c.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("time goes back at frame 17 by 0.899 s, frame 18 by 0.899 s:"), "{w:?}");
    }

    #[test]
    fn a_leap_of_years_or_a_step_back_of_minutes_splits_the_capture() {
        // A device that booted in 1970, then set its clock.
        let mut c = Clock::default();
        c.tick(1, t(30.0));
        c.tick(2, t(31.0));
        let synced = 1_700_000_000.0;
        assert_eq!(c.tick(3, t(synced)), Tick::Jumped { previous_end: t(31.0) });
        assert_eq!(c.tick(4, t(synced + 1.0)), Tick::On(t(synced + 1.0)));
        // `mergecap -a` of an earlier capture after it: back by 2 hours.
        assert_eq!(c.tick(5, t(synced - 7200.0)), Tick::Jumped { previous_end: t(synced + 1.0) });
        // 10 h of silence is still a silence (a keepalive idle of 32767 s
        // fired late); 10.3 h is not.
        assert_eq!(c.tick(6, t(synced - 7200.0 + 36_000.0)), Tick::On(t(synced - 7200.0 + 36_000.0)));
        assert!(matches!(c.tick(7, t(synced - 7200.0 + 36_000.0 + 37_000.0)), Tick::Jumped { .. }));
        let w = c.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("forward by 53.9 years at frame 3 (1970-01-01T00:00:31.000000Z"), "{w:?}");
        assert!(w[0].contains("back by 2.0 h at frame 5"), "{w:?}");
        assert!(!w[0].contains("more)") && w[0].contains("at frame 7"), "{w:?}");
    }

    #[test]
    fn a_silence_of_exactly_a_leap_is_still_a_silence_and_a_nanosecond_more_is_a_jump() {
        let mut c = Clock::default();
        let start = Timestamp(1_700_000_000_000_000_000);
        c.tick(1, start);
        let leap = start.after_secs(LEAP_FORWARD_S);
        assert_eq!(leap.secs_since(start), LEAP_FORWARD_S);
        assert_eq!(c.tick(2, leap), Tick::On(leap));
        // A leap after the frame before, and a nanosecond more.
        let beyond = Timestamp(leap.after_secs(LEAP_FORWARD_S).0 + 1);
        assert_eq!(c.tick(3, beyond), Tick::Jumped { previous_end: leap });
        // Standing still is going on.
        assert_eq!(c.tick(4, beyond), Tick::On(beyond));
        assert_eq!(c.jump_count, 1);
    }

    #[test]
    fn an_end_time_a_leap_after_the_last_frame_is_a_jump_not_the_end() {
        let mut c = Clock::default();
        assert_eq!(c.ran_until(t(100.0)), None, "no frame yet");
        c.tick(1, t(100.0));
        assert_eq!(c.ran_until(t(50.0)), None, "before the last frame");
        assert_eq!(c.ran_until(t(130.0)), Some(t(130.0)));
        assert!(c.warnings().is_empty());
        // 10 h on is still a capture that ran on quietly; 3 years is not.
        assert_eq!(c.ran_until(t(100.0 + 36_000.0)), Some(t(100.0 + 36_000.0)));
        assert_eq!(c.ran_until(t(100.0 + 1e8)), None);
        let w = c.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("3.2 years after its last packet (1970-01-01T00:01:40.000000Z)"), "{w:?}");
    }
}
