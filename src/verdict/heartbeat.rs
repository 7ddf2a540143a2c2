//! The heartbeat rule: small messages at a regular period in one direction.

use crate::flow::{Side, SmallMessages};
use smallvec::SmallVec;

/// An application heartbeat: small messages at a regular period in one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct Heartbeat {
    pub from: Side,
    pub period_s: f64,
    pub messages: u32,
}

/// At least this many small messages make a heartbeat.
const HEARTBEAT_MIN_MESSAGES: u32 = 4;
/// This share of the gaps must be within `HEARTBEAT_TOLERANCE` of the median.
const HEARTBEAT_REGULAR_SHARE: f64 = 0.75;
const HEARTBEAT_TOLERANCE: f64 = 0.2;
const HEARTBEAT_MIN_PERIOD_S: f64 = 0.5;

/// Whether the small messages `side` sent make a heartbeat.
pub fn heartbeat_of(side: Side, m: &SmallMessages) -> Option<Heartbeat> {
    if m.count < HEARTBEAT_MIN_MESSAGES || m.gaps.len() + 1 < HEARTBEAT_MIN_MESSAGES as usize {
        return None;
    }
    // On the stack: the flow table keeps at most 64 gaps a side
    // (`flow::MAX_HEARTBEAT_GAPS`); a `Vec` was an allocation per judged
    // side with four small messages (more would spill to the heap).
    let mut gaps: SmallVec<[f64; 64]> = m.gaps.iter().map(|&g| f64::from(g)).collect();
    // The middle gap in order (the upper one of an even count), found
    // without sorting them all: the count below does not need them in order.
    let middle = gaps.len() / 2;
    let median = *gaps.select_nth_unstable_by(middle, f64::total_cmp).1;
    if median < HEARTBEAT_MIN_PERIOD_S {
        return None;
    }
    let regular = gaps.iter().filter(|&&g| (g - median).abs() <= HEARTBEAT_TOLERANCE * median).count();
    (regular as f64 >= HEARTBEAT_REGULAR_SHARE * gaps.len() as f64).then_some(Heartbeat {
        from: side,
        period_s: median,
        messages: m.count,
    })
}
