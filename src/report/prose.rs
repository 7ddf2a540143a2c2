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

use super::{EndpointText, SideText, push_ip, push_ipv4};
use crate::time::Fixed;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

/// A text being worded, reused from connection to connection.
#[derive(Default, Debug)]
pub struct Prose {
    text: String,
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
    }

    pub fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
    }

    pub fn push(&mut self, c: char) {
        self.text.push(c);
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
        if let Some(i) = self.names.iter().position(|n| n.addr == Some(addr)) {
            return i;
        }
        let i = self.next_name;
        self.next_name = (i + 1) % self.names.len();
        self.names[i].word(addr);
        i
    }

    fn put_endpoint(&mut self, addr: SocketAddr) {
        let i = self.named(addr);
        self.text.push_str(&self.names[i].text);
    }

    /// An address as `IpAddr` displays it: copied from the words of an
    /// endpoint named last, if it is one of theirs.
    fn put_ip(&mut self, ip: IpAddr) {
        match self.names.iter().find(|n| n.addr.is_some_and(|a| a.ip() == ip)) {
            Some(n) => self.text.push_str(&n.text[n.ip.clone()]),
            None => push_ip(&mut self.text, ip),
        }
    }

    /// Copies what was worded in `range` to the end.
    pub fn repeat(&mut self, range: std::ops::Range<usize>) {
        self.text.extend_from_within(range);
    }

    /// Upper-cases the first letter of what was written from `start` on.
    pub fn capitalise_from(&mut self, start: usize) {
        if let Some(first) = self.text[start..].chars().next() {
            let upper: String = first.to_uppercase().collect();
            self.text.replace_range(start..start + first.len_utf8(), &upper);
        }
    }
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
                out.push_str(itoa::Buffer::new().format(self));
            }
        }
    )*};
}
integer_pieces!(u8, u16, u32, u64, usize, i64);

impl Piece for Fixed {
    fn put(self, out: &mut Prose) {
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
        EndpointText(self.0).put(out);
        out.push_str(" (");
        out.push_str(self.1.name());
        out.push(')');
    }
}

/// Appends each piece to a [`Prose`], in order: `put!(out, "SYN from ",
/// name, " at ", frame)` writes what `write!(out, "SYN from {} at {}",
/// name, frame)` would.
macro_rules! put {
    ($out:expr $(, $piece:expr)+ $(,)?) => {{
        let out: &mut $crate::report::prose::Prose = $out;
        $( $crate::report::prose::Piece::put($piece, out); )+
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
                put!(&mut out, "from ", EndpointText(addr), " and ", SideText(addr, Side::Client), ", ", addr.ip(), '.');
                prop_assert_eq!(out.as_str(), format!("from {addr} and {addr} (client), {}.", addr.ip()));
            }
            let fixed = Fixed { value: secs, decimals };
            let mut out = Prose::default();
            put!(&mut out, n, " ", n as u8, " ", n as u16, " ", n as u32, " ", n as usize, " ", n as i64, " ", fixed);
            let mut expected = String::new();
            write!(expected, "{n} {} {} {} {} {} {secs:.decimals$}", n as u8, n as u16, n as u32, n as usize, n as i64).unwrap();
            prop_assert_eq!(out.as_str(), expected);
        }
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
