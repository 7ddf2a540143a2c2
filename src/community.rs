//! Community ID v1 flow hashes (<https://github.com/corelight/community-id-spec>):
//! the string Zeek, Suricata, Arkime and Elastic log for a flow, so that
//! tcpka's events join their records with a string comparison. The only
//! place they are computed.
//!
//! For TCP: SHA-1 over the seed (2 bytes), the two addresses, the protocol
//! (6) and a zero byte, then the two ports, all in network byte order and
//! ordered so that the smaller address (then port) comes first; `"1:"` and
//! the digest in base64.

use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::{IpAddr, SocketAddr};

/// IP protocol number of TCP.
const TCP: u8 = 6;

/// The Community ID v1 of the TCP connection between `a` and `b` (in either
/// order), with the default seed 0. Empty when the two are of different
/// address families, which no connection is.
pub fn tcp(a: SocketAddr, b: SocketAddr) -> String {
    with_seed(0, a, b)
}

fn with_seed(seed: u16, a: SocketAddr, b: SocketAddr) -> String {
    let octets = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let (a_ip, b_ip) = (octets(a.ip()), octets(b.ip()));
    if a_ip.len() != b_ip.len() {
        return String::new();
    }
    // The spec's order_endpoints: the smaller address first, the ports
    // deciding when the addresses are equal.
    let ((first_ip, first_port), (second_ip, second_port)) = if (&a_ip, a.port()) <= (&b_ip, b.port()) {
        ((a_ip, a.port()), (b_ip, b.port()))
    } else {
        ((b_ip, b.port()), (a_ip, a.port()))
    };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(&first_ip);
    h.update(&second_ip);
    h.update([TCP, 0]);
    h.update(first_port.to_be_bytes());
    h.update(second_port.to_be_bytes());
    format!("1:{}", base64::engine::general_purpose::STANDARD.encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// The TCP rows of the spec's baseline (baseline/baseline_deflt.json
    /// and baseline_seed1.json), each in both directions.
    #[test]
    fn matches_the_specs_baseline() {
        let cases = [
            (
                0,
                "[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943",
                "[2607:f8b0:400c:c03::1a]:25",
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            (0, "128.232.110.120:34855", "66.35.250.204:80", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
            (
                1,
                "[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943",
                "[2607:f8b0:400c:c03::1a]:25",
                "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
            ),
            (1, "128.232.110.120:34855", "66.35.250.204:80", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
        ];
        for (seed, a, b, want) in cases {
            assert_eq!(with_seed(seed, at(a), at(b)), want, "{a} {b} seed {seed}");
            assert_eq!(with_seed(seed, at(b), at(a)), want, "{b} {a} seed {seed}");
        }
        assert_eq!(tcp(at("66.35.250.204:80"), at("128.232.110.120:34855")), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    }

    #[test]
    fn equal_addresses_are_ordered_by_port() {
        let (a, b) = (at("10.0.0.1:1234"), at("10.0.0.1:80"));
        assert_eq!(tcp(a, b), tcp(b, a));
        assert_ne!(tcp(a, b), tcp(at("10.0.0.1:1234"), at("10.0.0.1:81")));
        assert_eq!(tcp(a, at("[::1]:80")), "");
    }
}
