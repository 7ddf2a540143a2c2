//! Maps keyed by addresses, with IPv4 keys held as integers.
//!
//! A key holding an `IpAddr` (17 bytes, aligned to 1) is put together on
//! the stack and read back in 8-byte pieces to be hashed: a
//! store-forwarding stall on every lookup (a fifth of
//! `PathAggregator::add`'s samples, issue 14). It also takes 40 bytes where
//! the same IPv4 key as integers takes 12 to 16, and the findings hold one per
//! service and host of the connections open at once. Keys with an IPv6
//! address are held as they are, in a map of their own.

use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, SocketAddr};

/// A key whose addresses, when all are IPv4, can be held as integers.
pub(super) trait AddressKey: Copy + Eq + Hash {
    /// The key with its IPv4 addresses as integers.
    type V4: Copy + Eq + Hash;
    /// The key as integers, or itself when an address is IPv6 (or a
    /// number does not fit).
    fn to_v4(self) -> Result<Self::V4, Self>;
    fn from_v4(key: Self::V4) -> Self;
}

/// A map from address keys: IPv4 ones as integers, the others as they are.
pub(super) struct ByAddress<K: AddressKey, V> {
    v4: FxHashMap<K::V4, V>,
    wide: FxHashMap<K, V>,
}

impl<K: AddressKey, V> Default for ByAddress<K, V> {
    fn default() -> Self {
        ByAddress { v4: FxHashMap::default(), wide: FxHashMap::default() }
    }
}

impl<K: AddressKey, V> ByAddress<K, V> {
    /// The value of `key`, made by `make` when there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        match key.to_v4() {
            Ok(k) => self.v4.entry(k).or_insert_with(make),
            Err(k) => self.wide.entry(k).or_insert_with(make),
        }
    }

    /// [`ByAddress::get_or_insert_with`] for a key put together only if
    /// it is not held as integers: `v4` is the key as [`AddressKey::to_v4`]
    /// makes it, when it makes one. A key holding an `IpAddr`, put
    /// together on the stack and copied whole, was copied in pieces of
    /// other widths than it was written in (a store-forwarding stall: a
    /// quarter of `Judge::conclude`'s own samples, on the services' key).
    #[inline]
    pub fn get_or_insert_with_v4(
        &mut self,
        v4: Option<K::V4>,
        key: impl FnOnce() -> K,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        match v4 {
            Some(k) => self.v4.entry(k).or_insert_with(make),
            None => self.wide.entry(key()).or_insert_with(make),
        }
    }

    pub fn get(&self, key: K) -> Option<&V> {
        match key.to_v4() {
            Ok(k) => self.v4.get(&k),
            Err(k) => self.wide.get(&k),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.wide.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.wide.is_empty()
    }

    /// The entries, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.v4.iter().map(|(&k, v)| (K::from_v4(k), v)).chain(self.wide.iter().map(|(&k, v)| (k, v)))
    }

    /// The entries, each with its key's [`hash_of`] worked out from the key
    /// as held: a sweep hashes every entry, and converting each key back to
    /// integers to do it took 0.6 M instructions of a run's 1,547 M on a
    /// 30,000-connection capture (issue 14).
    pub fn iter_hashed(&self) -> impl Iterator<Item = (K, u64, &V)> {
        let v4 = self.v4.iter().map(|(&k, v)| (K::from_v4(k), FxBuildHasher.hash_one(k), v));
        v4.chain(self.wide.iter().map(|(&k, v)| (k, FxBuildHasher.hash_one(k), v)))
    }

    /// Keeps the entries `keep` says yes to, given each key's [`hash_of`]
    /// as [`ByAddress::iter_hashed`] gives it.
    pub fn retain_hashed(&mut self, mut keep: impl FnMut(K, u64, &V) -> bool) {
        self.v4.retain(|&k, v| keep(K::from_v4(k), FxBuildHasher.hash_one(k), v));
        self.wide.retain(|&k, v| keep(k, FxBuildHasher.hash_one(k), v));
    }
}

/// A hash of `key` as a [`ByAddress`] holds it: what a sweep compares
/// (two keys with the same hash are taken for the same: one is only kept
/// when it could have gone).
pub(super) fn hash_of<K: AddressKey>(key: K) -> u64 {
    match key.to_v4() {
        Ok(k) => FxBuildHasher.hash_one(k),
        Err(k) => FxBuildHasher.hash_one(k),
    }
}

/// A server of a capture: the capture (its index in the run) and the
/// server's address and port, as integers in 12 bytes.
impl AddressKey for (usize, SocketAddr) {
    type V4 = (u32, u32, u16);
    fn to_v4(self) -> Result<(u32, u32, u16), Self> {
        server_v4(self.0, self.1).ok_or(self)
    }
    fn from_v4((capture, ip, port): (u32, u32, u16)) -> Self {
        (capture as usize, SocketAddr::new(IpAddr::V4(ip.into()), port))
    }
}

/// A server's key as integers (see the `AddressKey` above), from its
/// parts: when its address is IPv4 and its capture fits.
#[inline]
pub(super) fn server_v4(capture: usize, server: SocketAddr) -> Option<(u32, u32, u16)> {
    match (u32::try_from(capture), server) {
        (Ok(capture), SocketAddr::V4(server)) => Some((capture, server.ip().to_bits(), server.port())),
        _ => None,
    }
}

/// A host of a capture: the capture (its index in the run) and the address.
impl AddressKey for (usize, IpAddr) {
    type V4 = (u32, u32);
    fn to_v4(self) -> Result<(u32, u32), Self> {
        match (u32::try_from(self.0), self.1) {
            (Ok(capture), IpAddr::V4(ip)) => Ok((capture, ip.to_bits())),
            _ => Err(self),
        }
    }
    fn from_v4((capture, ip): (u32, u32)) -> Self {
        (capture as usize, IpAddr::V4(ip.into()))
    }
}

/// A service of a client: the capture, the client's address, the server's
/// address and port. As integers in 12 bytes, the capture in 16 bits (a
/// run of more files than that keeps the later ones' keys whole), where a
/// 32-bit capture made 14 bytes padded to 16: the findings hold one per
/// service of the connections open at once (issue 14).
impl AddressKey for (u32, IpAddr, IpAddr, u16) {
    type V4 = (u16, u32, u32, u16);
    fn to_v4(self) -> Result<(u16, u32, u32, u16), Self> {
        service_v4(self.0, self.1, self.2, self.3).ok_or(self)
    }
    fn from_v4((capture, client, server, port): (u16, u32, u32, u16)) -> Self {
        (u32::from(capture), IpAddr::V4(client.into()), IpAddr::V4(server.into()), port)
    }
}

/// A service's key as integers (see the `AddressKey` above), from its
/// parts: when its addresses are IPv4 and its capture fits.
#[inline]
pub(super) fn service_v4(capture: u32, client: IpAddr, server: IpAddr, port: u16) -> Option<(u16, u32, u32, u16)> {
    match (u16::try_from(capture), client, server) {
        (Ok(capture), IpAddr::V4(client), IpAddr::V4(server)) => {
            Some((capture, client.to_bits(), server.to_bits(), port))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_by_its_parts_is_the_key_given_whole() {
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let keys = [(1, v4, v4, 80), (1, v4, v6, 80), (1, v6, v4, 443), (70_000, v4, v4, 80)];
        type Services = ByAddress<(u32, IpAddr, IpAddr, u16), u32>;
        let (mut whole, mut parts) = (Services::default(), Services::default());
        for (i, &(capture, client, server, port)) in keys.iter().enumerate() {
            let key = (capture, client, server, port);
            assert_eq!(service_v4(capture, client, server, port), key.to_v4().ok(), "{key:?}");
            *whole.get_or_insert_with(key, || 0) += i as u32 + 1;
            let v4 = service_v4(capture, client, server, port);
            *ByAddress::get_or_insert_with_v4(&mut parts, v4, || key, || 0) += i as u32 + 1;
        }
        let server: SocketAddr = "10.0.0.2:443".parse().unwrap();
        assert_eq!(server_v4(3, server), (3, server).to_v4().ok());
        assert_eq!(server_v4(3, server), Some((3, 0x0a00_0002, 443)));
        assert_eq!(<(usize, SocketAddr)>::from_v4((3, 0x0a00_0002, 443)), (3, server));
        assert_eq!(server_v4(3, "[2001:db8::1]:443".parse().unwrap()), None);
        // A capture past 16 bits, or an IPv6 address, is held whole.
        assert_eq!(service_v4(70_000, v4, v4, 80), None);
        assert_eq!(service_v4(1, v4, v6, 80), None);
        let sorted = |m: &Services| {
            let mut all: Vec<_> = m.iter().map(|(k, &v)| (k, v)).collect();
            all.sort();
            all
        };
        assert_eq!(sorted(&whole), sorted(&parts));
        assert_eq!(parts.len(), keys.len());
    }

    #[test]
    fn keys_of_either_family_are_held_and_given_back_as_they_were() {
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let keys = [(1, v4, v4, 80), (1, v4, v6, 80), (1, v6, v4, 80), (2, v4, v4, 80), (1, mapped, v4, 80)];
        let mut map: ByAddress<(u32, IpAddr, IpAddr, u16), u32> = ByAddress::default();
        for (i, k) in keys.iter().enumerate() {
            *map.get_or_insert_with(*k, || 0) += i as u32 + 1;
        }
        *map.get_or_insert_with(keys[0], || 100) += 10;
        assert_eq!(map.len(), keys.len(), "an IPv4-mapped IPv6 address is not its IPv4 address");
        assert_eq!(map.get(keys[0]), Some(&11));
        assert_eq!(map.get(keys[4]), Some(&5));
        assert_eq!(map.get((3, v4, v4, 80)), None);
        let mut back: Vec<_> = map.iter().map(|(k, &v)| (k, v)).collect();
        back.sort();
        let mut want: Vec<_> =
            keys.iter().enumerate().map(|(i, &k)| (k, i as u32 + 1 + 10 * u32::from(i == 0))).collect();
        want.sort();
        assert_eq!(back, want);
        map.retain_hashed(|k, _, _| k.1 == v4);
        assert_eq!(map.len(), 3);
        assert_eq!(hash_of(keys[0]), hash_of((1, v4, v4, 80)));
        for (k, hash, _) in map.iter_hashed() {
            assert_eq!(hash, hash_of(k), "{k:?}");
        }
        let mut seen = Vec::new();
        map.retain_hashed(|k, hash, _| {
            seen.push((k, hash == hash_of(k)));
            k.2 == v4
        });
        seen.sort();
        assert_eq!(seen, [((1, v4, v4, 80), true), ((1, v4, v6, 80), true), ((2, v4, v4, 80), true)]);
        assert_eq!(map.len(), 2, "those with an IPv4 server");
        assert_ne!(hash_of(keys[0]), hash_of(keys[3]));

        // A capture index too large for 32 bits stays whole.
        let mut hosts: ByAddress<(usize, IpAddr), u8> = ByAddress::default();
        let big = (usize::MAX, v4);
        hosts.get_or_insert_with(big, || 1);
        hosts.get_or_insert_with((0, v4), || 2);
        hosts.get_or_insert_with((0, v6), || 3);
        assert_eq!((hosts.get(big), hosts.get((0, v4)), hosts.get((0, v6))), (Some(&1), Some(&2), Some(&3)));
        assert_eq!(hosts.len(), 3);

        // So does a service's capture index too large for 16 bits.
        let far = (u32::from(u16::MAX) + 1, v4, v4, 80);
        assert!(far.to_v4().is_err());
        map.get_or_insert_with(far, || 7);
        assert_eq!((map.get(far), map.get((0, v4, v4, 80))), (Some(&7), None));
        assert_eq!(map.iter().filter(|&(k, _)| k == far).count(), 1);
    }
}
