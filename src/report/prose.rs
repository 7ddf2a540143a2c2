//! Text tcpka words itself (the diagnosis, the evidence), written piece by
//! piece: literal words copied as they are, numbers through `itoa`,
//! seconds through [`Fixed`], endpoints put together in place. The
//! formatting machinery (`write!`), which parses its template and calls
//! each value through a `Formatter` at run time, was most of the cost of a
//! JSON run's diagnosis; `put!` does the same in straight-line code, and
//! writes what `write!` with `{}` would.
//!
//! A connection's two endpoints are named a dozen times in its report
//! (the diagnosis, the evidence, the filter, the JSON's members): a
//! `Prose` words each of the last two endpoints it named once, and copies
//! those words after (an IPv6 address through core's formatting cost as
//! much as the rest of its sentence).
//!
//! A `Prose` also knows where a JSON string of it would need escaping
//! (a quote, a backslash, a control character): its literal words are
//! looked at when the program is compiled, its numbers, seconds,
//! endpoints and addresses never hold such a character, and only what
//! else is put in it (a few words chosen at run time, the sentences few
//! connections need) is looked at as it is written. The JSON writer then
//! copies a connection's diagnosis, evidence and filter without looking
//! at each byte again.

use super::{EndpointText, SideText, push_ip, push_ipv4};
use crate::time::Fixed;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

/// A text being worded, reused from connection to connection.
#[derive(Default, Debug)]
pub struct Prose {
    text: String,
    /// Where the last piece that JSON would have to escape ends (0: none):
    /// the text from there on needs no escaping.
    escape_end: usize,
    /// The last two endpoints named (a connection's two ends).
    names: [Named; 2],
    /// Which of `names` the next new endpoint replaces.
    next_name: usize,
}

/// An endpoint's words, kept for the next time it is named.
#[derive(Default, Debug)]
struct Named {
    addr: Option<SocketAddr>,
    /// "ip:port", "\[ip\]:port", "\[ip%scope\]:port": as `SocketAddr` displays it.
    text: String,
    /// Where the address is in `text`, as `IpAddr` displays it.
    ip: Range<usize>,
}

impl Named {
    fn word(&mut self, addr: SocketAddr) {
        let text = &mut self.text;
        text.clear();
        let mut digits = itoa::Buffer::new();
        match addr {
            SocketAddr::V4(v4) => {
                push_ipv4(text, *v4.ip());
                self.ip = 0..text.len();
            }
            // As core's `SocketAddrV6` displays it: "[ip]:port", with
            // "%scope" after the address when the scope id is not 0.
            SocketAddr::V6(v6) => {
                text.push('[');
                push_ip(text, IpAddr::V6(*v6.ip()));
                self.ip = 1..text.len();
                if v6.scope_id() != 0 {
                    text.push('%');
                    text.push_str(digits.format(v6.scope_id()));
                }
                text.push(']');
            }
        }
        text.push(':');
        text.push_str(digits.format(addr.port()));
        self.addr = Some(addr);
    }
}

impl Prose {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.escape_end = 0;
    }

    /// Whether what was written from `start` on holds nothing a JSON
    /// string must escape (`start` where a piece began).
    pub fn is_plain_from(&self, start: usize) -> bool {
        self.escape_end <= start
    }

    /// Appends `s`, looked at for what JSON would have to escape.
    pub fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
        if needs_escaping(s.as_bytes()) {
            self.escape_end = self.text.len();
        }
    }

    pub fn push(&mut self, c: char) {
        self.text.push(c);
        if c < ' ' || c == '"' || c == '\\' {
            self.escape_end = self.text.len();
        }
    }

    /// Appends a literal, looked at when the program was compiled.
    pub fn push_literal(&mut self, literal: Literal) {
        self.text.push_str(literal.text);
        if !literal.plain {
            self.escape_end = self.text.len();
        }
    }

    /// The words of `addr`, as `SocketAddr` displays it: worded the first
    /// time it is named while it is one of the last two.
    pub fn endpoint(&mut self, addr: SocketAddr) -> &str {
        let i = self.named(addr);
        &self.names[i].text
    }

    /// The words of the address of `addr`, as `IpAddr` displays it.
    pub fn ip(&mut self, addr: SocketAddr) -> &str {
        let i = self.named(addr);
        &self.names[i].text[self.names[i].ip.clone()]
    }

    /// Which of `names` holds the words of `addr`, worded there if none did.
    fn named(&mut self, addr: SocketAddr) -> usize {
        // An IPv4 endpoint compared as integers: compared whole, `addr` was
        // loaded in one 16-byte piece from the caller's smaller stores, a
        // store-forwarding stall where `perf annotate` put three fifths of
        // this function's samples (issue 14).
        let found = match addr {
            SocketAddr::V4(v4) => {
                let (ip, port) = (v4.ip().to_bits(), v4.port());
                self.names.iter().position(|n| match n.addr {
                    Some(SocketAddr::V4(a)) => a.ip().to_bits() == ip && a.port() == port,
                    _ => false,
                })
            }
            SocketAddr::V6(_) => self.names.iter().position(|n| n.addr == Some(addr)),
        };
        if let Some(i) = found {
            return i;
        }
        let i = self.next_name;
        self.next_name = (i + 1) % self.names.len();
        self.names[i].word(addr);
        i
    }

    /// An endpoint's words (digits, hexadecimal digits, dots, colons,
    /// brackets, a percent sign: nothing to escape).
    fn put_endpoint(&mut self, addr: SocketAddr) {
        let i = self.named(addr);
        self.text.push_str(&self.names[i].text);
    }

    /// An address as `IpAddr` displays it (nothing to escape): copied from
    /// the words of an endpoint named last, if it is one of theirs.
    fn put_ip(&mut self, ip: IpAddr) {
        match self.names.iter().find(|n| n.addr.is_some_and(|a| a.ip() == ip)) {
            Some(n) => self.text.push_str(&n.text[n.ip.clone()]),
            None => push_ip(&mut self.text, ip),
        }
    }

    /// Copies what was worded in `range` to the end.
    pub fn repeat(&mut self, range: Range<usize>) {
        let plain = self.is_plain_from(range.start);
        self.text.extend_from_within(range);
        if !plain {
            self.escape_end = self.text.len();
        }
    }

    /// Upper-cases the first letter of what was written from `start` on
    /// (no upper-case letter is a character JSON escapes).
    pub fn capitalise_from(&mut self, start: usize) {
        if let Some(first) = self.text[start..].chars().next() {
            let upper: String = first.to_uppercase().collect();
            self.text.replace_range(start..start + first.len_utf8(), &upper);
            if self.escape_end > start {
                // The text after it may have moved: all of it is looked at.
                self.escape_end = self.text.len();
            }
        }
    }
}

/// A literal word of a sentence, and whether JSON would have to escape it:
/// worked out when the program is compiled (`put!` makes one of each
/// string literal in a `const` block).
#[derive(Clone, Copy)]
pub struct Literal {
    text: &'static str,
    plain: bool,
}

impl Literal {
    pub const fn new(text: &'static str) -> Literal {
        Literal { text, plain: !needs_escaping(text.as_bytes()) }
    }
}

/// Whether serde_json would escape any of these bytes: a control
/// character, a quote or a backslash (its `ESCAPE` table). Without an
/// early exit, so it compiles to a vector loop, and `const` for the
/// literals `put!` writes.
pub const fn needs_escaping(bytes: &[u8]) -> bool {
    let mut any = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        any |= (b < 0x20) | (b == b'"') | (b == b'\\');
        i += 1;
    }
    any
}

/// `write!` still works, for the words few connections need.
impl fmt::Write for Prose {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

/// Something `put!` can write: what its `Display` would write with `{}`.
pub trait Piece {
    fn put(self, out: &mut Prose);
}

impl Piece for &str {
    fn put(self, out: &mut Prose) {
        out.push_str(self);
    }
}

impl Piece for &String {
    fn put(self, out: &mut Prose) {
        out.push_str(self);
    }
}

impl Piece for char {
    fn put(self, out: &mut Prose) {
        out.push(self);
    }
}

macro_rules! integer_pieces {
    ($($t:ty),*) => {$(
        impl Piece for $t {
            fn put(self, out: &mut Prose) {
                // Digits and a sign: nothing to escape.
                out.text.push_str(itoa::Buffer::new().format(self));
            }
        }
    )*};
}
integer_pieces!(u8, u16, u32, u64, usize, i64);

impl Piece for Fixed {
    fn put(self, out: &mut Prose) {
        // Digits, a sign and a point, or NaN or inf: nothing to escape.
        self.push_to(&mut out.text);
    }
}

impl Piece for IpAddr {
    fn put(self, out: &mut Prose) {
        out.put_ip(self);
    }
}

impl Piece for EndpointText {
    fn put(self, out: &mut Prose) {
        out.put_endpoint(self.0);
    }
}

impl Piece for SideText {
    fn put(self, out: &mut Prose) {
        put!(out, EndpointText(self.0), " (", self.1.name(), ")");
    }
}

/// Appends each piece to a [`Prose`], in order: `put!(out, "SYN from ",
/// name, " at ", frame)` writes what `write!(out, "SYN from {} at {}",
/// name, frame)` would. A literal piece must be a string literal (`'.'`
/// or `7` do not compile, `"."` and `"7"` do): it is a [`Literal`], looked at for what JSON would
/// escape when the program is compiled; any other piece is written by its
/// [`Piece`] impl.
macro_rules! put {
    (@ $out:ident;) => {};
    (@ $out:ident; $literal:literal $(, $($rest:tt)*)?) => {
        $out.push_literal(const { $crate::report::prose::Literal::new($literal) });
        $( $crate::report::prose::put!(@ $out; $($rest)*); )?
    };
    (@ $out:ident; $piece:expr $(, $($rest:tt)*)?) => {
        $crate::report::prose::Piece::put($piece, $out);
        $( $crate::report::prose::put!(@ $out; $($rest)*); )?
    };
    ($out:expr, $($pieces:tt)+) => {{
        let out: &mut $crate::report::prose::Prose = $out;
        $crate::report::prose::put!(@ out; $($pieces)+);
    }};
}
pub(crate) use put;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Side;
    use proptest::prelude::*;
    use std::fmt::Write;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};

    proptest! {
        #[test]
        fn pieces_write_what_display_writes(
            v4 in any::<u32>(), v6 in any::<u128>(), port in any::<u16>(), scope in any::<u32>(),
            n in any::<u64>(), secs in 0.0f64..1e7, decimals in 0usize..4,
        ) {
            let v6_scoped = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(v6), port, 0, scope));
            for addr in [SocketAddr::from((Ipv4Addr::from(v4), port)), SocketAddr::from((Ipv6Addr::from(v6), port)), v6_scoped] {
                let mut out = Prose::default();
                put!(&mut out, "from ", EndpointText(addr), " and ", SideText(addr, Side::Client), ", ", addr.ip(), ".");
                prop_assert_eq!(out.as_str(), format!("from {addr} and {addr} (client), {}.", addr.ip()));
                prop_assert!(out.is_plain_from(0));
            }
            let fixed = Fixed { value: secs, decimals };
            let mut out = Prose::default();
            put!(&mut out, n, " ", n as u8, " ", n as u16, " ", n as u32, " ", n as usize, " ", n as i64, " ", fixed);
            let mut expected = String::new();
            write!(expected, "{n} {} {} {} {} {} {secs:.decimals$}", n as u8, n as u16, n as u32, n as usize, n as i64).unwrap();
            prop_assert_eq!(out.as_str(), expected);
        }

        #[test]
        fn numbers_seconds_endpoints_and_addresses_never_need_escaping(
            v4 in any::<u32>(), v6 in any::<u128>(), port in any::<u16>(), scope in any::<u32>(),
            n in any::<i64>(), bits in any::<u64>(), decimals in 0usize..12,
        ) {
            // What `put!` writes of them without looking at it: any
            // integer, any f64 (NaN, infinities, beyond 2^63 through core),
            // any endpoint and address.
            let v6_scoped = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(v6), port, 0, scope));
            let mut out = Prose::default();
            for addr in [SocketAddr::from((Ipv4Addr::from(v4), port)), SocketAddr::from((Ipv6Addr::from(v6), port)), v6_scoped] {
                put!(&mut out, EndpointText(addr), SideText(addr, Side::Server), addr.ip());
                let other = IpAddr::from(Ipv6Addr::from(v6.rotate_left(7)));
                put!(&mut out, other);
            }
            put!(&mut out, n, n as u64, n as u32, n as u16, n as u8, n as usize, Fixed { value: f64::from_bits(bits), decimals });
            prop_assert!(out.is_plain_from(0));
            prop_assert!(!needs_escaping(out.as_str().as_bytes()), "{}", out.as_str());
        }
    }

    #[test]
    fn a_text_is_plain_until_something_json_escapes_is_put_in_it() {
        let mut out = Prose::default();
        let frame = 7u64;
        put!(&mut out, "Closed normally: ", frame, " × ", "…");
        assert!(out.is_plain_from(0));
        // A literal with a backslash, looked at when compiled.
        assert!(!Literal::new("Tcpip\\Parameters").plain && Literal::new("é × –").plain);
        let windows = out.len();
        put!(&mut out, "the registry value (Tcpip\\Parameters)");
        let after = out.len();
        put!(&mut out, "; then plain words");
        assert!(!out.is_plain_from(0) && !out.is_plain_from(windows) && out.is_plain_from(after));
        // What is written at run time is looked at as it is written.
        for escaped in ["a \"quoted\" word", "a\ttab", "\u{1f}"] {
            let start = out.len();
            put!(&mut out, escaped);
            assert!(!out.is_plain_from(start), "{escaped:?}");
            let start = out.len();
            write!(out, "{escaped}").unwrap();
            assert!(!out.is_plain_from(start), "{escaped:?}");
            let start = out.len();
            out.push_str(escaped);
            assert!(!out.is_plain_from(start), "{escaped:?}");
            let start = out.len();
            put!(&mut out, "plain ", "words");
            write!(out, " and {} more", 3).unwrap();
            assert!(out.is_plain_from(start), "{escaped:?}");
        }
        for c in ['"', '\\', '\n', '\u{0}'] {
            let start = out.len();
            out.push(c);
            assert!(!out.is_plain_from(start), "{c:?}");
        }
        // Words copied from a range that needed escaping need it again.
        let start = out.len();
        out.repeat(windows..after);
        assert!(!out.is_plain_from(start));
        // And from a range after the last that did, none.
        let plain = out.len();
        put!(&mut out, "plain words");
        let start = out.len();
        out.repeat(plain..start);
        assert!(out.is_plain_from(start) && out.as_str().ends_with("plain wordsplain words"));
        // A capital letter moves what follows it, never makes it plain.
        let start = out.len();
        put!(&mut out, "ﬀ then \"");
        out.capitalise_from(start);
        assert!(out.as_str().ends_with("FF then \"") && !out.is_plain_from(start));
        out.clear();
        put!(&mut out, "plain again");
        assert!(out.is_plain_from(0));
    }

    #[test]
    fn endpoints_named_again_are_copied_and_others_worded_anew() {
        // Three endpoints named in turn (only two kept), and addresses of
        // named endpoints, of endpoints no longer kept, of none: each as
        // Display words it.
        let v6 = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let ends = [
            v6("[2001:db8::1]:443"),
            v6("10.0.0.1:80"),
            v6("[fe80::1%7]:22"),
            v6("[::ffff:10.0.0.1]:80"),
            v6("[2001:db8::1]:444"),
            // IPv4 endpoints are compared as integers: another port, another address.
            v6("10.0.0.1:81"),
            v6("10.0.0.2:80"),
        ];
        let mut out = Prose::default();
        let mut expected = String::new();
        for (i, &a) in ends.iter().chain(ends.iter().rev()).enumerate() {
            let other = ends[(i * 3) % ends.len()];
            put!(&mut out, EndpointText(a), " ", a.ip(), " ", other.ip(), " ", SideText(other, Side::Server), ";");
            write!(expected, "{a} {} {} {other} (server);", a.ip(), other.ip()).unwrap();
            assert_eq!(out.endpoint(other), other.to_string());
            assert_eq!(out.ip(a), a.ip().to_string());
        }
        assert_eq!(out.as_str(), expected);
        let unnamed: IpAddr = "2001:db8::99".parse().unwrap();
        put!(&mut out, unnamed);
        assert!(out.as_str().ends_with(";2001:db8::99"), "{}", out.as_str());
    }

    #[test]
    fn capitalises_the_first_letter_written_from_a_point() {
        let mut out = Prose::default();
        put!(&mut out, "It had ", "élan.");
        out.capitalise_from(7);
        assert_eq!(out.as_str(), "It had Élan.");
        let start = out.len();
        out.capitalise_from(start);
        assert_eq!(out.as_str(), "It had Élan.");
    }
}
