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

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn adding_then_subtracting_is_the_identity(a: u32, n: u32) {
                let a = SeqNumber(a);
                prop_assert_eq!((a + n) - n, a);
                prop_assert_eq!((a - n) + n, a);
                prop_assert_eq!((a + n).relative_to(a), n);
            }

            #[test]
            fn a_number_up_to_half_the_space_ahead_is_later(a: u32, n in 1u32..(1 << 31)) {
                // RFC 1982: i1 < i2 when 0 < (i2 - i1) mod 2^32 < 2^31, wherever the wrap falls.
                let (a, b) = (SeqNumber(a), SeqNumber(a) + n);
                prop_assert_eq!(a.partial_cmp(&b), Some(Ordering::Less));
                prop_assert_eq!(b.partial_cmp(&a), Some(Ordering::Greater));
                prop_assert_eq!(b.distance(a), n as i32);
                prop_assert_eq!(a.distance(b), -(n as i32));
                prop_assert_eq!(a.max(b), b);
                prop_assert_eq!(b.max(a), b);
            }

            #[test]
            fn comparison_is_a_consistent_order_where_rfc_1982_defines_one(a: u32, b: u32) {
                let (a, b) = (SeqNumber(a), SeqNumber(b));
                // Exactly 2^31 apart the order is undefined (RFC 1982 §3.2).
                prop_assume!(a.distance(b) != i32::MIN);
                let ways = [a < b, a == b, a > b].iter().filter(|&&w| w).count();
                prop_assert_eq!(ways, 1);
                prop_assert_eq!(a < b, b > a);
                prop_assert_eq!(a.max(b), b.max(a));
                prop_assert!(a.max(b) >= a && a.max(b) >= b);
            }
        }
    }
}
