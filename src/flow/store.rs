//! Where the flow table keeps its connections: a slab of connections, stored
//! inline, and an index from a segment's 4-tuple to a slot of the slab.
//!
//! A lookup costs a probe of the index (4 bytes a connection, so even
//! 200,000 open connections take 1–2 MB of it) and the connection itself,
//! which holds the key: the index keeps no copy of the two socket addresses
//! (the key the table used to hold was 72 bytes, the boxed connection behind
//! it a second cache miss). The segment's addresses are compared with the
//! connection's, in both directions.

use super::Connection;
use crate::decode::Segment;
use hashbrown::HashTable;
use std::hash::Hasher;
use std::net::SocketAddr;

/// A connection's place in the [`Store`]; reused once the connection has left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot(u32);

/// The connections held, by 4-tuple and VLAN path.
#[derive(Default)]
pub(super) struct Store {
    /// Slots of the slab, hashed by [`key_hash`].
    index: HashTable<Slot>,
    slab: Vec<Option<Connection>>,
    /// Vacant slots, reused before the slab grows.
    free: Vec<Slot>,
}

/// The hash of a connection's key, the same in both directions: the two
/// endpoints in a fixed order, as a few machine words
/// (hashing every address byte by byte was a tenth of the run time). FxHash:
/// keys come from the capture, not from an adversary who could aim at
/// collisions, and SipHash was a tenth of the run time.
fn key_hash(a: SocketAddr, b: SocketAddr) -> u64 {
    fn bits(a: &SocketAddr) -> (u128, u16) {
        match a {
            SocketAddr::V4(v4) => (u128::from(v4.ip().to_bits()), v4.port()),
            SocketAddr::V6(v6) => (v6.ip().to_bits(), v6.port()),
        }
    }
    let (a, b) = (bits(&a), bits(&b));
    let ((lo, lo_port), (hi, hi_port)) = if a <= b { (a, b) } else { (b, a) };
    let mut h = rustc_hash::FxHasher::default();
    h.write_u64((u64::from(lo_port) << 16) | u64::from(hi_port));
    if lo >> 32 == 0 && hi >> 32 == 0 {
        h.write_u64(((lo as u64) << 32) | hi as u64);
    } else {
        h.write_u128(lo);
        h.write_u128(hi);
    }
    h.finish()
}

fn hash_of(conn: &Connection) -> u64 {
    key_hash(conn.client(), conn.server())
}

/// The segment belongs to the connection: the same two endpoints, whatever
/// VLAN tags it came with. One direction of a connection is often seen
/// tagged and the other not, or with other tags (a trunk on one side of the
/// capture point and an access port on the other, a SPAN session, `-i any`
/// on a router with VLAN subinterfaces): suricata-verify bug-4376 has every
/// client packet on VLAN 3136 and every server packet untagged. Wireshark's
/// `tcp.stream` and Zeek's connection key (its default five-tuple; VLANs
/// only with the opt-in `vlan_fivetuple` key since 8.0) ignore VLANs for the
/// same reason. The price: the same 4-tuple in use at once on two VLANs with
/// overlapping address plans is taken for one connection.
fn carries(conn: &Connection, seg: &Segment) -> bool {
    let [c, s] = [conn.sides[0].addr, conn.sides[1].addr];
    (c.is(seg.src) && s.is(seg.dst)) || (s.is(seg.src) && c.is(seg.dst))
}

impl Store {
    /// Connections held.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of the connection the segment belongs to, if one is held.
    pub(super) fn find(&self, seg: &Segment) -> Option<Slot> {
        let slab = &self.slab;
        let hash = key_hash(seg.src, seg.dst);
        self.index.find(hash, |&Slot(i)| slab[i as usize].as_ref().is_some_and(|c| carries(c, seg))).copied()
    }

    /// The connection in this slot, if the slot is taken.
    pub(super) fn get(&self, slot: Slot) -> Option<&Connection> {
        self.slab.get(slot.0 as usize).and_then(Option::as_ref)
    }

    /// The connection in a slot that is taken.
    pub(super) fn get_mut(&mut self, slot: Slot) -> &mut Connection {
        self.slab[slot.0 as usize].as_mut().expect("a slot handed out by find or insert")
    }

    /// Holds a connection no other held connection has the key of.
    pub(super) fn insert(&mut self, conn: Connection) -> Slot {
        let hash = hash_of(&conn);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot.0 as usize] = Some(conn);
                slot
            }
            None => {
                let slot = Slot(u32::try_from(self.slab.len()).expect("fewer than 2^32 connections held at once"));
                self.slab.push(Some(conn));
                slot
            }
        };
        let slab = &self.slab;
        self.index.insert_unique(hash, slot, |&Slot(i)| slab[i as usize].as_ref().map_or(0, hash_of));
        slot
    }

    /// Takes the connection out of a slot that is taken.
    pub(super) fn remove(&mut self, slot: Slot) -> Connection {
        let conn = self.slab[slot.0 as usize].take().expect("a slot handed out by find or insert");
        if let Ok(entry) = self.index.find_entry(hash_of(&conn), |&s| s == slot) {
            entry.remove();
        }
        self.free.push(slot);
        conn
    }

    /// Every connection held, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Connection> {
        self.slab.iter().filter_map(Option::as_ref)
    }

    /// The slots taken, in order of their connections' ids (sorting the
    /// slots moves 8 bytes each, sorting the connections hundreds).
    pub(super) fn slots_by_id(&self) -> Vec<Slot> {
        let mut taken: Vec<(u64, Slot)> =
            self.slab.iter().enumerate().filter_map(|(i, c)| Some((c.as_ref()?.id, Slot(i as u32)))).collect();
        taken.sort_unstable_by_key(|&(id, _)| id);
        taken.into_iter().map(|(_, slot)| slot).collect()
    }
}
