//! Capture timestamps and time arithmetic: differences in seconds, the
//! smallest and largest of observed durations, rounding for reports.

use chrono::{DateTime, SecondsFormat, Utc};
use std::fmt;
use std::ops::Add;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A packet timestamp: nanoseconds since the Unix epoch, as libpcap gives it
/// (files are opened with nanosecond precision; microsecond files are scaled).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// A length of time of `nanos` nanoseconds in seconds: what
/// [`Timestamp::secs_since`] gives for two times that far apart (a length
/// kept as nanoseconds gives back the same `f64` to the last bit).
pub fn secs_of_nanos(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

impl Timestamp {
    pub fn from_secs_f64(secs: f64) -> Timestamp {
        Timestamp((secs * 1e9).round() as i64)
    }

    pub fn from_timeval(secs: i64, nanos: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    /// A pcapng timestamp: `ticks` of `1/per_sec` s since the epoch, plus
    /// the interface's `offset_secs` (`if_tsresol`, `if_tsoffset`). As
    /// libpcap's `pcap_ng_next_packet` computes it: whole seconds, then the
    /// fraction scaled to nanoseconds, truncated. `per_sec` is never 0.
    pub fn from_ticks(ticks: u64, per_sec: u64, offset_secs: i64) -> Timestamp {
        let secs = ((ticks / per_sec) as i64).wrapping_add(offset_secs);
        // Below 2^64 · 10^9: the product fits in 128 bits.
        let nanos = (u128::from(ticks % per_sec) * 1_000_000_000 / u128::from(per_sec)) as i64;
        Timestamp::from_timeval(secs, nanos)
    }

    /// Seconds elapsed from `earlier` to `self` (negative if `earlier` is later).
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        secs_of_nanos(self.nanos_since(earlier))
    }

    /// Nanoseconds elapsed from `earlier` to `self`, saturating: what
    /// [`Timestamp::secs_since`] divides, and orders as it does (a longer
    /// time is never fewer seconds), so that two times can be compared
    /// without the division.
    #[inline]
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// `secs` seconds later, saturating at the ends of the range (a
    /// capture's timestamps can be anything).
    pub fn after_secs(self, secs: f64) -> Timestamp {
        Timestamp(self.0.saturating_add((secs * 1e9) as i64))
    }

    /// Whole microseconds from `base` to this time, when that is exactly
    /// what separates them and fits in 32 bits (71.6 minutes): how a
    /// connection keeps the times of its packets, 4 bytes each instead of
    /// 8 (`flow::CompactRef`). None for a time before `base`, too far after
    /// it, or not a whole number of microseconds after it (a nanosecond
    /// capture): the time is then kept whole.
    #[inline]
    pub fn micros_since(self, base: Timestamp) -> Option<u32> {
        let ns = self.0.checked_sub(base.0)?;
        if ns < 0 || ns % 1000 != 0 {
            return None;
        }
        u32::try_from(ns / 1000).ok()
    }

    /// `micros` microseconds later: the inverse of [`Timestamp::micros_since`].
    #[inline]
    pub fn after_micros(self, micros: u32) -> Timestamp {
        Timestamp(self.0.saturating_add(i64::from(micros) * 1000))
    }

    /// The time now, by the system's wall clock (the clock libpcap stamps
    /// live packets with).
    pub fn now() -> Timestamp {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Time since the Unix epoch, as a pcap record stores it (0 for times
    /// before the epoch, which a record cannot hold).
    pub fn since_epoch(self) -> Duration {
        Duration::from_nanos(u64::try_from(self.0).unwrap_or(0))
    }

    fn to_utc(self) -> Option<DateTime<Utc>> {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000) as u32;
        DateTime::<Utc>::from_timestamp(secs, nanos)
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-21T05:35:03.123456Z`.
    pub fn to_rfc3339(self) -> String {
        match self.to_utc() {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Micros, true),
            None => format!("{:.6}", self.0 as f64 / 1e9),
        }
    }

    /// Local time with the date, microseconds and the UTC offset, e.g.
    /// `2026-11-21 14:05:03.123456+01:00`: a line read later, or on another
    /// host, still says when.
    pub fn to_local(self) -> String {
        match self.to_utc() {
            Some(utc) => utc.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S%.6f%:z").to_string(),
            None => self.to_rfc3339(),
        }
    }
}

/// Writes times as [`Timestamp::to_rfc3339`] does, the date and time of
/// day worded once per second: a JSON report names a dozen times for each
/// connection, most of them in seconds named shortly before, and chrono
/// built a string for each.
pub struct Rfc3339Writer {
    /// The seconds worded last, each in the slot of its remainder by
    /// [`SECONDS_KEPT`], with its words up to the fraction (`…:SS.`).
    seconds: Vec<Option<i64>>,
    words: Vec<String>,
    text: String,
}

/// Seconds whose words are kept: 17 minutes. The connections judged
/// together are named by their starts, ends and evidence, which can lie
/// minutes apart (a keepalive idle, a retransmission timeout): with 64
/// seconds kept, a tenth of the bench capture's times (50 minutes long)
/// found their slot taken by another second and were worded by chrono
/// again. About 40 KiB, the words' text allocated only when first used.
const SECONDS_KEPT: usize = 1024;

impl Default for Rfc3339Writer {
    fn default() -> Rfc3339Writer {
        Rfc3339Writer {
            seconds: vec![None; SECONDS_KEPT],
            words: vec![String::new(); SECONDS_KEPT],
            text: String::new(),
        }
    }
}

impl Rfc3339Writer {
    /// `t` in RFC 3339, as `to_rfc3339` words it.
    pub fn format(&mut self, t: Timestamp) -> &str {
        let second = t.0.div_euclid(NANOS_PER_SEC);
        let slot = second.rem_euclid(SECONDS_KEPT as i64) as usize;
        if self.seconds[slot] != Some(second) {
            self.text = t.to_rfc3339();
            // Only chrono's wording ends in the fraction, `.ffffffZ`: a
            // time it cannot represent is worded in seconds, and not kept.
            if t.to_utc().is_some() {
                let words = &mut self.words[slot];
                words.clear();
                words.push_str(&self.text[..self.text.len() - "ffffffZ".len()]);
                self.seconds[slot] = Some(second);
            }
            return &self.text;
        }
        // The microseconds, truncated as chrono's SecondsFormat::Micros
        // truncates them: six digits, then "Z". itoa words them with a
        // leading 1 put above the six to keep their zeros (pushed one
        // character at a time, or checked as UTF-8, the digits were most
        // of a kept second's cost).
        let micros = (t.0.rem_euclid(NANOS_PER_SEC) / 1_000) as u32;
        let mut digits = itoa::Buffer::new();
        self.text.clear();
        self.text.push_str(&self.words[slot]);
        self.text.push_str(&digits.format(1_000_000 + micros)[1..]);
        self.text.push('Z');
        &self.text
    }
}

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// `t + d`, saturating at the end of time.
impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// The smallest and largest of a series of observations.
///
/// 20 bytes: the smallest and largest are known once `count` is not 0
/// (two `Option<f64>` took 16 bytes more, in every prober's log), and
/// packed to 4-byte alignment, which `count`'s padding took to 24 (two in
/// every prober's log, issue 14; the fields are only ever copied out).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C, packed(4))]
pub struct MinMax {
    min: f64,
    max: f64,
    /// Observations (saturating: it stays above 0 once there is one).
    pub count: u32,
}

impl MinMax {
    pub const EMPTY: MinMax = MinMax { min: 0.0, max: 0.0, count: 0 };

    /// The smallest observation, if any.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }
    /// The largest observation, if any.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }
    pub fn add(&mut self, v: f64) {
        let (lo, hi) = if self.count == 0 { (v, v) } else { (self.min.min(v), self.max.max(v)) };
        (self.min, self.max) = (lo, hi);
        self.count = self.count.saturating_add(1);
    }
    pub fn merge(&mut self, other: &MinMax) {
        if other.count == 0 {
            return;
        }
        let (lo, hi) =
            if self.count == 0 { (other.min, other.max) } else { (self.min.min(other.min), self.max.max(other.max)) };
        (self.min, self.max) = (lo, hi);
        self.count = self.count.saturating_add(other.count);
    }
}

/// `value` with `decimals` digits after the point, as
/// `format!("{value:.decimals$}")` writes it: the exact binary value
/// rounded half to even (core's `float_to_decimal_common_exact`), a `-`
/// before any negative value, -0.0 too. The diagnosis words a connection's
/// seconds a dozen times, and core's exact formatting, through the
/// formatting machinery, was most of its cost; this works it out in
/// integers instead (an `f64` is `m · 2^e` exactly, `m` < 2^53), for
/// values below 2^63 and up to 9 decimals, and leaves the rest (NaN, the
/// infinities, larger values or more decimals) to core.
#[derive(Clone, Copy, Debug)]
pub struct Fixed {
    pub value: f64,
    pub decimals: usize,
}

/// The longest text [`Fixed`] works out itself: a sign, 19 digits before
/// the point (below 2^63), the point and 9 digits after it.
const FIXED_TEXT_MAX: usize = 1 + 19 + 1 + 9;

/// Decimals [`Fixed`] works out itself: `m · 10^9` stays below 2^83, and
/// the rounded result, below 2^63 · 10^9, below 2^93.
const FIXED_DECIMALS_MAX: usize = 9;

impl Fixed {
    /// Appends the text to `out`.
    pub fn push_to(self, out: &mut String) {
        let mut buf = [0u8; FIXED_TEXT_MAX];
        match self.worded(&mut buf) {
            Some(text) => out.push_str(text),
            None => {
                // Writing into a String cannot fail.
                let _ = fmt::Write::write_fmt(out, format_args!("{:.*}", self.decimals, self.value));
            }
        }
    }

    /// The text in `buf`, or None when core must word it.
    fn worded(self, buf: &mut [u8; FIXED_TEXT_MAX]) -> Option<&str> {
        let bits = self.value.to_bits();
        let negative = bits >> 63 == 1;
        let biased_exponent = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        if biased_exponent == 0x7ff || self.decimals > FIXED_DECIMALS_MAX {
            return None;
        }
        // value = m · 2^e (IEEE 754 binary64; subnormals without the implicit bit).
        let (m, e) =
            if biased_exponent == 0 { (fraction, -1074) } else { (fraction | 1 << 52, biased_exponent - 1075) };
        if e > 10 {
            return None; // 2^63 or more
        }
        let pow10 = 10u128.pow(self.decimals as u32);
        let scaled = u128::from(m) * pow10;
        // value · 10^decimals, rounded half to even.
        let rounded = if e >= 0 {
            scaled << e
        } else {
            let shift = e.unsigned_abs();
            if shift >= 128 {
                0 // below 2^83 ÷ 2^128: under half of the last digit
            } else {
                let quotient = scaled >> shift;
                let remainder = scaled - (quotient << shift);
                let half = 1u128 << (shift - 1);
                if remainder > half || (remainder == half && quotient & 1 == 1) { quotient + 1 } else { quotient }
            }
        };
        let (whole, mut part) = ((rounded / pow10) as u64, rounded % pow10);
        let mut len = 0;
        let mut put = |bytes: &[u8]| {
            buf[len..len + bytes.len()].copy_from_slice(bytes);
            len += bytes.len();
        };
        if negative {
            put(b"-");
        }
        put(itoa::Buffer::new().format(whole).as_bytes());
        if self.decimals > 0 {
            let mut digits = [b'0'; FIXED_DECIMALS_MAX];
            let digits = &mut digits[..self.decimals];
            for d in digits.iter_mut().rev() {
                *d = b'0' + (part % 10) as u8;
                part /= 10;
            }
            put(b".");
            put(digits);
        }
        std::str::from_utf8(&buf[..len]).ok()
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; FIXED_TEXT_MAX];
        match self.worded(&mut buf) {
            Some(text) => f.write_str(text),
            None => write!(f, "{:.*}", self.decimals, self.value),
        }
    }
}

/// Rounds seconds to microseconds, the precision of most captures.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_times_saturate_at_the_ends_of_the_range() {
        let t = Timestamp::from_secs_f64(100.0);
        assert_eq!(t.after_secs(27.5), Timestamp::from_secs_f64(127.5));
        assert_eq!(Timestamp(i64::MAX - 5).after_secs(1.0), Timestamp(i64::MAX));
        assert_eq!(Timestamp(i64::MIN + 5).after_secs(-1.0), Timestamp(i64::MIN));
        assert_eq!(t.after_secs(f64::INFINITY), Timestamp(i64::MAX));
    }

    proptest::proptest! {
        #[test]
        fn the_rfc3339_writer_words_times_as_to_rfc3339(
            start in proptest::prelude::any::<i64>(),
            steps in proptest::collection::vec((-70_000_000_000i64..70_000_000_000, -1i64..=1), 1..40),
        ) {
            // Times in the same second, the ones before and after it, and
            // seconds that share a slot (a whole number of SECONDS_KEPT
            // apart, give or take a few), anywhere in the range.
            let mut writer = Rfc3339Writer::default();
            let mut t = start;
            for (step, slots) in steps {
                let ts = Timestamp(t);
                proptest::prop_assert_eq!(writer.format(ts), ts.to_rfc3339());
                let step = if slots == 0 { step } else { slots * SECONDS_KEPT as i64 * NANOS_PER_SEC + step % 3_000_000_000 };
                t = t.saturating_add(step);
            }
        }
    }

    #[test]
    fn the_rfc3339_writer_words_a_capture_s_times_as_to_rfc3339() {
        let mut writer = Rfc3339Writer::default();
        for ns in [
            1_700_000_000_123_456_789,
            1_700_000_000_999_999_999,
            1_700_000_001_000_000_000,
            1_700_000_001_000_000_999,
            -1,
            0,
            -1_000_000_001,
        ] {
            assert_eq!(writer.format(Timestamp(ns)), Timestamp(ns).to_rfc3339(), "{ns}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fixed_words_any_value_as_core_does(bits in proptest::prelude::any::<u64>(), decimals in 0usize..12) {
            // Any bit pattern: subnormals, NaNs, infinities, -0.0, values
            // past 2^63, and more decimals than it works out itself.
            let value = f64::from_bits(bits);
            let fixed = Fixed { value, decimals };
            let mut pushed = String::new();
            fixed.push_to(&mut pushed);
            let core = format!("{value:.decimals$}");
            proptest::prop_assert_eq!(&pushed, &core);
            proptest::prop_assert_eq!(fixed.to_string(), core);
        }

        #[test]
        fn fixed_words_seconds_as_core_does(micros in 0i64..100_000_000_000, scale in 0u32..4, decimals in 0usize..4) {
            // Seconds as a capture's differences make them: whole
            // microseconds (or coarser) divided into seconds, and the
            // ties that rounding half to even decides.
            let value = micros as f64 / 10f64.powi(scale as i32 + 3);
            for v in [value, -value, value + 0.5, (micros % 1000) as f64 / 8.0] {
                let mut pushed = String::new();
                Fixed { value: v, decimals }.push_to(&mut pushed);
                proptest::prop_assert_eq!(pushed, format!("{v:.decimals$}"));
            }
        }
    }

    #[test]
    fn fixed_rounds_ties_to_even_and_keeps_the_sign() {
        let cases = [
            (0.5, 0, "0"),
            (1.5, 0, "2"),
            (2.5, 0, "2"),
            (0.125, 2, "0.12"),
            (0.375, 2, "0.38"),
            (-0.0, 2, "-0.00"),
            (-0.001, 1, "-0.0"),
            (5e-324, 3, "0.000"),
            (20.320819, 2, "20.32"),
            (2.091375, 3, "2.091"),
            (9_223_372_036_854_774_784.0, 1, "9223372036854774784.0"),
        ];
        for (value, decimals, text) in cases {
            let mut pushed = String::new();
            Fixed { value, decimals }.push_to(&mut pushed);
            assert_eq!((pushed.as_str(), format!("{value:.decimals$}").as_str()), (text, text), "{value:?}");
        }
    }

    #[test]
    fn whole_microseconds_after_a_time_and_back() {
        let base = Timestamp::from_timeval(1_700_000_000, 123_456_789);
        let later = Timestamp(base.0 + 4_294_967_295_000);
        assert_eq!(later.micros_since(base), Some(u32::MAX));
        assert_eq!(base.after_micros(u32::MAX), later);
        assert_eq!(base.micros_since(base), Some(0));
        // Not whole microseconds, too far, or before: none.
        assert_eq!(Timestamp(base.0 + 1_500).micros_since(base), None);
        assert_eq!(Timestamp(later.0 + 1_000).micros_since(base), None);
        assert_eq!(Timestamp(base.0 - 1_000).micros_since(base), None);
        assert_eq!(Timestamp(i64::MAX).micros_since(Timestamp(i64::MIN)), None);
    }

    #[test]
    fn formats_utc_with_micros() {
        let t = Timestamp::from_timeval(1_700_000_000, 123_456_789);
        assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20.123456Z");
        assert_eq!(t.secs_since(Timestamp::from_timeval(1_699_999_998, 123_456_789)), 2.0);
    }
}
