//! Community ID v1: the flow hash Zeek, Suricata, Wireshark (`tcp &&
//! communityid == "1:…"`), Arkime and Elastic print for a connection, so a
//! connection tcpka reports can be found in their logs with one string.
//!
//! The algorithm is corelight's community-id-spec ("Community ID Flow
//! Hashing", version 1): SHA-1 over the seed, both addresses, the protocol,
//! one zero byte of padding and both ports, all in network byte order, with
//! the endpoints ordered so that the smaller (address, port) comes first
//! (the ID does not depend on which side sent first); then base64, prefixed
//! with the version, `1:`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};
use std::net::{IpAddr, SocketAddr};

/// IP protocol number of TCP (RFC 9293), the only protocol tcpka follows.
pub const TCP: u8 = 6;

/// The Community ID v1 of the flow between `a` and `b` (either order) over
/// IP protocol `proto`, with the spec's default seed 0.
pub fn community_id(a: SocketAddr, b: SocketAddr, proto: u8) -> String {
    community_id_seeded(a, b, proto, 0)
}

/// The Community ID v1 with a seed ("domains" of Community ID use: two
/// sites with different seeds get different IDs for the same flow).
pub fn community_id_seeded(a: SocketAddr, b: SocketAddr, proto: u8, seed: u16) -> String {
    let mut id = String::with_capacity(30);
    push_community_id(&mut id, a, b, proto, seed);
    id
}

/// Appends [`community_id_seeded`] to `out`: a JSON writer names every
/// connection's, and builds no string for it.
pub fn push_community_id(out: &mut String, a: SocketAddr, b: SocketAddr, proto: u8, seed: u16) {
    // The spec orders by address, then by port when the addresses are equal;
    // addresses compare as their network-byte-order bytes.
    let (ka, kb) = (AddressBytes::of(a.ip()), AddressBytes::of(b.ip()));
    let (first, second) =
        if (kb.bytes(), b.port()) < (ka.bytes(), a.port()) { ((kb, b), (ka, a)) } else { ((ka, a), (kb, b)) };
    let mut hash = Sha1::new();
    hash.update(seed.to_be_bytes());
    hash.update(first.0.bytes());
    hash.update(second.0.bytes());
    hash.update([proto, 0]);
    hash.update(first.1.port().to_be_bytes());
    hash.update(second.1.port().to_be_bytes());
    out.push_str("1:");
    STANDARD.encode_string(hash.finalize(), out);
}

/// 4 bytes for IPv4, 16 for IPv6. An IPv4-mapped IPv6 address stays 16
/// bytes: the spec hashes the addresses as the packets carry them.
#[derive(Clone, Copy)]
struct AddressBytes {
    octets: [u8; 16],
    len: usize,
}

impl AddressBytes {
    fn of(ip: IpAddr) -> AddressBytes {
        match ip {
            IpAddr::V4(v4) => {
                let mut octets = [0; 16];
                octets[..4].copy_from_slice(&v4.octets());
                AddressBytes { octets, len: 4 }
            }
            IpAddr::V6(v6) => AddressBytes { octets: v6.octets(), len: 16 },
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.octets[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: &str, port: u16) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), port)
    }

    /// The spec's reference data (community-id-spec, baseline/baseline_deflt.json
    /// and baseline_seed1.json): every entry with ports, both directions.
    #[test]
    fn matches_the_spec_baseline() {
        let cases: [(u8, &str, u16, &str, u16, &str, &str); 4] = [
            (
                TCP,
                "2001:470:e5bf:dead:4957:2174:e82c:4887",
                63943,
                "2607:f8b0:400c:c03::1a",
                25,
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
                "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
            ),
            (
                TCP,
                "128.232.110.120",
                34855,
                "66.35.250.204",
                80,
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
                "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
            ),
            // UDP and SCTP hash the same way with their protocol numbers.
            (
                17,
                "192.168.1.52",
                54585,
                "8.8.8.8",
                53,
                "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
                "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
            ),
            (
                132,
                "192.168.170.8",
                7,
                "192.168.170.56",
                7,
                "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
                "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=",
            ),
        ];
        for (proto, sip, sport, dip, dport, default_seed, seed1) in cases {
            let (s, d) = (addr(sip, sport), addr(dip, dport));
            assert_eq!(community_id(s, d, proto), default_seed, "{s} {d}");
            assert_eq!(community_id(d, s, proto), default_seed, "{d} {s}");
            assert_eq!(community_id_seeded(s, d, proto, 1), seed1, "{s} {d} seed 1");
            assert_eq!(community_id_seeded(d, s, proto, 1), seed1, "{d} {s} seed 1");
        }
    }

    #[test]
    fn equal_addresses_are_ordered_by_port() {
        // The spec's example: both directions order to 10.0.0.1, 127.0.0.1, 1234, 80;
        // with one address on both ends, the smaller port goes first.
        let (a, b) = (addr("10.0.0.1", 1234), addr("127.0.0.1", 80));
        assert_eq!(community_id(a, b, TCP), community_id(b, a, TCP));
        let (a, b) = (addr("10.0.0.1", 1234), addr("10.0.0.1", 80));
        // Computed apart from this code, from the spec's pseudo code (Python's hashlib).
        assert_eq!(community_id(a, b, TCP), "1:WaobEo3Uyp/JjlL9QX3lvrl1Oag=");
        assert_eq!(community_id(b, a, TCP), "1:WaobEo3Uyp/JjlL9QX3lvrl1Oag=");
        assert_ne!(community_id(a, b, TCP), community_id(addr("10.0.0.1", 1235), b, TCP));
    }
}
