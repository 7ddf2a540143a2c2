//! TCP sequence-number arithmetic, modulo 2^32.
//!
//! RFC 793 §3.3 compares sequence numbers "modulo 2**32"; like smoltcp's
//! `TcpSeqNumber`, we order two numbers by the sign of their 32-bit
//! difference (RFC 1982 serial-number arithmetic). This is the only place in
//! tcpka that does wrap-around arithmetic: everything else goes through
//! [`SeqNumber`].

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Sub};

/// A TCP sequence (or acknowledgment) number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Signed distance `self - other`: positive when `self` is after `other`.
    #[inline]
    pub fn distance(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// The offset of `self` from an initial sequence number: the "relative
    /// sequence number" Wireshark shows.
    #[inline]
    pub fn relative_to(self, isn: SeqNumber) -> u32 {
        self.0.wrapping_sub(isn.0)
    }

    /// The later of two sequence numbers.
    #[inline]
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self >= other { self } else { other }
    }
}

/// `seq + n`, wrapping at 2^32.
impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }
}

/// `seq - n`, wrapping at 2^32.
impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn sub(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n))
    }
}

impl PartialOrd for SeqNumber {
    #[inline]
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some(self.distance(*other).cmp(&0))
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq({})", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_across_wrap_around() {
        let before = SeqNumber(u32::MAX - 1);
        let after = before + 5;
        assert_eq!(after, SeqNumber(3));
        assert!(before < after);
        assert!(after > before);
        assert_eq!(after.distance(before), 5);
        assert_eq!(before.distance(after), -5);
        assert_eq!(after - 5, before);
        assert_eq!(before.max(after), after);
        assert_eq!(after.max(before), after);
    }

    #[test]
    fn relative_numbers_wrap() {
        let isn = SeqNumber(0xffff_fff0);
        assert_eq!(SeqNumber(0x10).relative_to(isn), 0x20);
        assert_eq!((isn + 1).relative_to(isn), 1);
    }

    #[test]
    fn equal_numbers_compare_equal() {
        let a = SeqNumber(42);
        assert_eq!(a.partial_cmp(&SeqNumber(42)), Some(Ordering::Equal));
        assert!(a <= SeqNumber(42) && a >= SeqNumber(42));
    }
}
