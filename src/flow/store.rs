//! Where the flow table keeps its connections: a slab of compact records
//! ([`Flow`]), stored inline, and an index from a segment's 4-tuple to a
//! slot of the slab.
//!
//! A lookup costs a probe of the index (4 bytes a connection, so even
//! 200,000 open connections take 1–2 MB of it) and the record itself,
//! which starts with the key: the index keeps no copy of it. An IPv4
//! connection's key is its two addresses and ports, 12 bytes; the
//! addresses of any other (IPv6) are kept in a side table the key names,
//! so that every record stays as small as an IPv4 one. So are the VLAN
//! tags, once a connection came with some (most captures have none).

use super::Side;
use super::record::Flow;
use crate::decode::{EndsHash, Segment, VlanPath};
use hashbrown::HashTable;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A connection's place in the [`Store`]; reused once the connection has left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot(u32);

/// A connection's endpoints, the client's first: both IPv4 addresses
/// and the ports in 12 bytes, or (`Wide`) the ports and the index of the
/// addresses in the store's side table. What it holds is the record's
/// [`KeyKind`], the byte after it (in the key, it took 4 with padding).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Key {
    ips: [u32; 2],
    ports: [u16; 2],
}

/// What a [`Key`] holds. A vacant slot of the slab says so next to its
/// key, in the first bytes of the record that a lookup reads anyway (an
/// `Option`'s tag landed in the middle of the record, a cache line more a
/// lookup).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum KeyKind {
    /// No connection: a vacant slot.
    #[default]
    Vacant,
    V4,
    Wide,
}

impl Flow {
    fn is_held(&self) -> bool {
        self.kind != KeyKind::Vacant
    }

    /// The slot vacated before this vacant one, if any ([`Store::vacate`]).
    fn next_vacant(&self) -> Option<Slot> {
        debug_assert!(!self.is_held());
        let next = self.key.ips[0];
        (next != NO_VACANT).then_some(Slot(next))
    }
}

/// What a vacant record's key holds when no slot was vacated before it.
const NO_VACANT: u32 = u32::MAX;

/// The connections held, by 4-tuple and VLAN path.
#[derive(Default)]
pub(super) struct Store {
    /// Slots of the slab, hashed by [`key_hash`].
    index: HashTable<Slot>,
    /// Records; a vacant one's key says so.
    slab: Vec<Flow>,
    /// The latest slot vacated, reused before the slab grows; each vacant
    /// slot's key names the one vacated before it ([`Store::vacate`]).
    /// A `Vec` of the vacant slots beside the slab took 4 bytes a slot
    /// more: when the connections of a capture end (200,000 open at once,
    /// their records still resident), it grew to hold them all (issue 14).
    free: Option<Slot>,
    /// The addresses (client, server) of the connections that are not
    /// IPv4, by the index their key holds; vacant ones are reused.
    wide: Vec<[IpAddr; 2]>,
    wide_free: Vec<u32>,
    /// The VLAN path of each slot's connection (see [`Store::note_vlan`]),
    /// once a connection came with tags: empty until then, all untagged.
    /// Most captures have no tags, and the path took 4 bytes of every
    /// record.
    vlans: Vec<VlanPath>,
    /// A guess of the slot of the connection a key hash stands for, by
    /// the hash's low bits (direct-mapped: the latest connection made or
    /// found there wins): the slot of a packet a few frames ahead, to ask
    /// for its record before it is needed ([`Store::prefetch`]), where
    /// probing the index ahead waited for the index's own misses. A lookup
    /// that the guess answers (the slot's key is the packet's) skips the
    /// index. As many as the slab's slots to twice as many, a power of two
    /// (4 bytes each: 6 bytes a connection with 166,000 open).
    hints: Vec<Slot>,
    /// The segments whose hint was asked for ([`Store::prefetch`]), the
    /// oldest at `asked_next`: the record of each is asked for
    /// [`HINT_LEAD`] segments later, when its hint has come.
    asked: [Option<EndsHash>; HINT_LEAD],
    asked_next: usize,
}

/// How many segments after its hint a segment's record is asked for
/// ([`Store::prefetch`]).
const HINT_LEAD: usize = 4;

/// A hint that names no slot.
const NO_HINT: Slot = Slot(u32::MAX);

/// The hash of a connection's key as the index and the hint table take
/// it: the endpoints' [`EndsHash`] (made with the segment, on the file
/// source's reader thread), its 32 bits in both halves of the word, so that
/// the hint's low bits and the index's (hashbrown takes a bucket from the
/// low bits and a tag from the top 7) are all well mixed.
#[inline]
fn spread(hash: EndsHash) -> u64 {
    let bits = u64::from(hash.bits());
    (bits << 32) | bits
}

/// The hash of the connection between `a` and `b`, the same in both
/// directions (see [`spread`]).
fn key_hash(a: SocketAddr, b: SocketAddr) -> u64 {
    spread(EndsHash::of(a, b))
}

/// A segment's endpoints as a [`Key`] holds them, to be compared with
/// the keys of the connections held.
enum Ends {
    /// Sender first: addresses and ports.
    V4 { ips: [u32; 2], ports: [u16; 2] },
    /// Any other: compared through the side table.
    Wide { ips: [IpAddr; 2], ports: [u16; 2] },
}

impl Ends {
    fn of(seg: &Segment) -> Ends {
        let ports = [seg.src.port(), seg.dst.port()];
        match (seg.src, seg.dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => Ends::V4 { ips: [s.ip().to_bits(), d.ip().to_bits()], ports },
            (s, d) => Ends::Wide { ips: [s.ip(), d.ip()], ports },
        }
    }

    /// Which side of the connection keyed `key` (its addresses in `wide`
    /// when it is wide) sent the segment, if it belongs to it: the same
    /// two endpoints, whatever VLAN tags it came with. One direction of a
    /// connection is often seen tagged and the other not, or with other
    /// tags (a trunk on one side of the capture point and an access port on
    /// the other, a SPAN session, `-i any` on a router with VLAN
    /// subinterfaces): suricata-verify bug-4376 has every client packet on
    /// VLAN 3136 and every server packet untagged. Wireshark's `tcp.stream`
    /// and Zeek's connection key (its default five-tuple; VLANs only with
    /// the opt-in `vlan_fivetuple` key since 8.0) ignore VLANs for the same
    /// reason. The price: the same 4-tuple in use at once on two VLANs with
    /// overlapping address plans is taken for one connection. A segment
    /// from an endpoint to itself is the client's.
    /// Always inlined: as a call (`#[inline]` was not taken), the segment's
    /// ends went to it through the stack, stored and loaded back at once,
    /// and the call's result came back in registers to be tested again;
    /// inlined, the comparison works on the registers the segment was read
    /// into (the analysing thread 0.88–0.90× with the prefetch below).
    #[inline(always)]
    fn sender(&self, key: &Key, kind: KeyKind, wide: &[[IpAddr; 2]]) -> Option<Side> {
        let reversed = |[a, b]: [u16; 2]| [b, a];
        match self {
            Ends::V4 { ips, ports } if kind == KeyKind::V4 => {
                if key.ips == *ips && key.ports == *ports {
                    Some(Side::Client)
                } else if key.ips == [ips[1], ips[0]] && key.ports == reversed(*ports) {
                    Some(Side::Server)
                } else {
                    None
                }
            }
            Ends::Wide { ips, ports } if kind == KeyKind::Wide => {
                let held = &wide[key.ips[0] as usize];
                if held == ips && key.ports == *ports {
                    Some(Side::Client)
                } else if *held == [ips[1], ips[0]] && key.ports == reversed(*ports) {
                    Some(Side::Server)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

impl Store {
    /// Connections held.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of the connection the segment belongs to, if one is held,
    /// and which side of it sent the segment.
    pub(super) fn find(&self, seg: &Segment) -> Option<(Slot, Side)> {
        let hash = spread(EndsHash::of_segment(seg));
        self.hinted(seg, hash).or_else(|| self.probe(seg, hash))
    }

    /// [`Store::find`]; the hint of a connection the index found is made
    /// its slot (a hint is written only then: most lookups the hint
    /// answers, and writing it again made its line dirty each time).
    /// `ends` is the segment's [`EndsHash`], made with it.
    #[inline]
    pub(super) fn locate(&mut self, seg: &Segment, ends: EndsHash) -> Option<(Slot, Side)> {
        let hash = spread(ends);
        if let Some(found) = self.hinted(seg, hash) {
            return Some(found);
        }
        let found = self.probe(seg, hash);
        if let Some((slot, _)) = found
            && let Some(hint) = self.hint_mut(hash)
        {
            *hint = slot;
        }
        found
    }

    /// Asks for what the lookup of a segment a few frames ahead, whose
    /// endpoints hash to `ends`, will read: its hint now, and the record
    /// its hint names [`HINT_LEAD`] segments later, when the hint has come.
    /// Nothing is hashed (the hash came with the segment). The hint table
    /// is 4 bytes a slot, but with 200,000 connections open it is 2 MiB,
    /// read at random: reading the hint to ask for the record waited for
    /// it (`perf`: nearly half of `Reading::file`'s samples on that load).
    /// Whatever the slab's size: when the hash was made here, asking cost
    /// 4% of the run with 2,000 open (a slab within the core's 2 MiB L2)
    /// and saved nothing, so it was done only from 8,192 slots on; with the
    /// hash made on the reader's thread it costs a load of the hint table
    /// and saves a little there too (bench/results.md, `thread6`).
    #[inline]
    pub(super) fn prefetch(&mut self, ends: EndsHash) {
        if let Some(hint) = self.hint(spread(ends)) {
            prefetch_line(std::ptr::from_ref(hint).addr());
        }
        let older = self.asked[self.asked_next].replace(ends);
        self.asked_next = (self.asked_next + 1) % HINT_LEAD;
        if let Some(older) = older
            && let Some(&Slot(i)) = self.hint(spread(older))
            && let Some(flow) = self.slab.get(i as usize)
        {
            prefetch_record(flow);
        }
    }

    fn hint(&self, hash: u64) -> Option<&Slot> {
        self.hints.get(hash as usize & self.hints.len().wrapping_sub(1))
    }

    fn hint_mut(&mut self, hash: u64) -> Option<&mut Slot> {
        let mask = self.hints.len().wrapping_sub(1);
        self.hints.get_mut(hash as usize & mask)
    }

    /// The connection the hint for `hash` names, if it is the segment's.
    #[inline]
    fn hinted(&self, seg: &Segment, hash: u64) -> Option<(Slot, Side)> {
        let &Slot(i) = self.hint(hash)?;
        let flow = self.slab.get(i as usize)?;
        // The key is the segment's, and held keys are unique: its connection.
        Ends::of(seg).sender(&flow.key, flow.kind, &self.wide).map(|from| (Slot(i), from))
    }

    /// The connection the segment belongs to, by the index.
    fn probe(&self, seg: &Segment, hash: u64) -> Option<(Slot, Side)> {
        let (slab, wide) = (&self.slab, &self.wide);
        let ends = Ends::of(seg);
        let mut from = None;
        let slot = self.index.find(hash, |&Slot(i)| {
            let flow = &slab[i as usize];
            from = ends.sender(&flow.key, flow.kind, wide);
            from.is_some()
        })?;
        Some((*slot, from?))
    }

    /// The connection in this slot, if the slot is taken.
    pub(super) fn get(&self, slot: Slot) -> Option<&Flow> {
        self.slab.get(slot.0 as usize).filter(|c| c.is_held())
    }

    /// The connection in a slot that is taken.
    pub(super) fn get_mut(&mut self, slot: Slot) -> &mut Flow {
        let flow = &mut self.slab[slot.0 as usize];
        assert!(flow.is_held(), "a slot handed out by find or insert");
        flow
    }

    /// The endpoints (client, server) of a record's key.
    fn ends(&self, flow: &Flow) -> [SocketAddr; 2] {
        ends(&self.wide, flow)
    }

    /// The endpoints (client, server) of the connection in a slot that is taken.
    pub(super) fn endpoints(&self, slot: Slot) -> [SocketAddr; 2] {
        self.ends(&self.slab[slot.0 as usize])
    }

    /// The VLAN tags every packet of the connection in a slot that is
    /// taken came with.
    pub(super) fn vlan(&self, slot: Slot) -> VlanPath {
        self.vlans.get(slot.0 as usize).copied().unwrap_or_default()
    }

    /// A packet of the connection in a slot that is taken came with these
    /// tags: it keeps those all its packets share. (A connection that came
    /// without tags keeps none, so nothing is kept until one comes with them.)
    #[inline]
    pub(super) fn note_vlan(&mut self, slot: Slot, seen: VlanPath) {
        if let Some(path) = self.vlans.get_mut(slot.0 as usize) {
            *path = path.shared_with(seen);
        }
    }

    /// Holds a connection between `client` and `server`, its first packet
    /// tagged `vlan`, no other held connection has the endpoints of.
    pub(super) fn insert(&mut self, mut flow: Flow, [client, server]: [SocketAddr; 2], vlan: VlanPath) -> Slot {
        let hash = key_hash(client, server);
        let ports = [client.port(), server.port()];
        (flow.key, flow.kind) = match (client.ip(), server.ip()) {
            (IpAddr::V4(c), IpAddr::V4(s)) => (Key { ips: [c.to_bits(), s.to_bits()], ports }, KeyKind::V4),
            ips => {
                let ips = [ips.0, ips.1];
                let i = match self.wide_free.pop() {
                    Some(i) => {
                        self.wide[i as usize] = ips;
                        i
                    }
                    None => {
                        self.wide.push(ips);
                        u32::try_from(self.wide.len() - 1).expect("fewer than 2^32 connections held at once")
                    }
                };
                (Key { ips: [i, 0], ports }, KeyKind::Wide)
            }
        };
        let slot = match self.free {
            Some(slot) => {
                let vacant = std::mem::replace(&mut self.slab[slot.0 as usize], flow);
                self.free = vacant.next_vacant();
                slot
            }
            None => {
                let slot = Slot(u32::try_from(self.slab.len()).expect("fewer than 2^32 connections held at once"));
                if self.slab.len() == self.slab.capacity() {
                    // Doubled, as `push` would; what it held was moved.
                    self.slab.reserve(self.slab.capacity().max(4));
                    huge_pages_for(&mut self.slab, 0);
                }
                self.slab.push(flow);
                // The huge page this record completes, if it completes one.
                let size = std::mem::size_of::<Flow>();
                let from = (self.slab.len() * size).saturating_sub(HUGE_PAGE + size);
                huge_pages_for(&mut self.slab, from);
                slot
            }
        };
        if vlan != VlanPath::default() || !self.vlans.is_empty() {
            self.vlans.resize(self.slab.len(), VlanPath::default());
            self.vlans[slot.0 as usize] = vlan;
        }
        let Store { index, slab, wide, .. } = self;
        index.insert_unique(hash, slot, |&Slot(i)| {
            let [a, b] = ends(wide, &slab[i as usize]);
            key_hash(a, b)
        });
        if self.hints.len() < self.slab.len() {
            self.rehint();
        }
        if let Some(hint) = self.hint_mut(hash) {
            *hint = slot;
        }
        slot
    }

    /// Makes the hint table twice the slab's slots or less, each held
    /// connection's hint its slot.
    #[cold]
    fn rehint(&mut self) {
        let len = (2 * self.slab.len()).next_power_of_two().max(1024);
        self.hints = vec![NO_HINT; len];
        huge_pages_for(&mut self.hints, 0);
        let mask = len - 1;
        for (i, flow) in self.slab.iter().enumerate().filter(|(_, f)| f.is_held()) {
            let [a, b] = ends(&self.wide, flow);
            self.hints[key_hash(a, b) as usize & mask] = Slot(i as u32);
        }
    }

    /// Takes the connection out of a slot that is taken, with its
    /// endpoints (client, server) and its VLAN path.
    pub(super) fn remove(&mut self, slot: Slot) -> (Flow, [SocketAddr; 2], VlanPath) {
        let vacant = self.vacate();
        let flow = std::mem::replace(&mut self.slab[slot.0 as usize], vacant);
        assert!(flow.is_held(), "a slot handed out by find or insert");
        let endpoints = self.ends(&flow);
        if let Ok(entry) = self.index.find_entry(key_hash(endpoints[0], endpoints[1]), |&s| s == slot) {
            entry.remove();
        }
        if flow.kind == KeyKind::Wide {
            self.wide_free.push(flow.key.ips[0]);
        }
        let vlan = self.vlan(slot);
        self.free = Some(slot);
        (flow, endpoints, vlan)
    }

    /// A vacant record to put in a slot about to join the vacant ones:
    /// its key names the slot vacated before it, if there is one (a
    /// vacant key is never compared with a segment's: [`Ends::sender`]
    /// asks its kind first).
    fn vacate(&self) -> Flow {
        let mut vacant = Flow::vacant();
        vacant.key.ips[0] = self.free.map_or(NO_VACANT, |Slot(i)| i);
        vacant
    }

    /// Every connection held, with its endpoints (client, server) and its
    /// VLAN path, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = ([SocketAddr; 2], VlanPath, &Flow)> {
        self.slab
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_held())
            .map(|(i, c)| (self.ends(c), self.vlan(Slot(i as u32)), c))
    }

    /// The endpoints (client, server) of every connection held, in the
    /// slab's order: what a sweep of the path finding needs of each
    /// (`PathAggregator::forget_done_services`). The walk reads one line of
    /// each record, its key, and each is a cache miss: the records are 264
    /// bytes apart (a stride the hardware's prefetch did not follow: `perf`
    /// put 30% of `Pipeline::expire`'s samples, 1.3% of the run at 200,000
    /// open, on the load of the key, issue 14), so it asks for the key
    /// [`WALK_AHEAD`] records on while it hashes this one's.
    pub(super) fn held_ends(&self) -> impl Iterator<Item = [SocketAddr; 2]> + '_ {
        self.slab.iter().enumerate().filter_map(move |(i, flow)| {
            if let Some(ahead) = self.slab.get(i + WALK_AHEAD) {
                prefetch_line(std::ptr::from_ref(&ahead.kind).addr());
            }
            flow.is_held().then(|| self.ends(flow))
        })
    }

    /// The slots taken, in order of their connections' ids (sorting the
    /// slots moves 8 bytes each, sorting the connections hundreds).
    pub(super) fn slots_by_id(&self) -> Vec<Slot> {
        let mut taken: Vec<(u64, Slot)> =
            self.slab.iter().enumerate().filter(|(_, c)| c.is_held()).map(|(i, c)| (c.id(), Slot(i as u32))).collect();
        taken.sort_unstable_by_key(|&(id, _)| id);
        taken.into_iter().map(|(_, slot)| slot).collect()
    }
}

/// The endpoints (client, server) a record's key stands for, its
/// addresses in `wide` when it is wide.
fn ends(wide: &[[IpAddr; 2]], flow: &Flow) -> [SocketAddr; 2] {
    let key = &flow.key;
    let ips = match flow.kind {
        KeyKind::Wide => wide[key.ips[0] as usize],
        KeyKind::V4 | KeyKind::Vacant => key.ips.map(|ip| IpAddr::V4(Ipv4Addr::from_bits(ip))),
    };
    [SocketAddr::new(ips[0], key.ports[0]), SocketAddr::new(ips[1], key.ports[1])]
}

/// A transparent huge page of x86_64 (and of most 64-bit systems).
const HUGE_PAGE: usize = 2 << 20;

/// The smallest table worth backing with huge pages: two of them (a
/// smaller one seldom holds a whole one, aligned as the kernel maps them),
/// and a slab far larger than 2,000 open connections need.
pub(super) const HUGE_PAGES_FROM: usize = 2 * HUGE_PAGE;

/// Asks the kernel to map what a table of [`HUGE_PAGES_FROM`] or more
/// holds from byte `from` on with huge pages (2 MiB), each that it fills
/// whole (`MADV_COLLAPSE`, Linux 6.1: the 4 KiB pages written are copied
/// into one, whatever the THP mode says). With 200,000 connections open
/// the slab is 60 MB, 15,000 pages of 4 KiB: nearly every packet's
/// record, looked up at random, was a TLB miss and a page walk as well as
/// a cache miss, and the prefetch ahead waited for the walk (`perf`: a
/// third of `Reading::file`'s samples, on the prefetch). Only what is
/// written: `MADV_HUGEPAGE` on the room not written yet made each page
/// fault take 2 MiB at once, up to 2 MiB more than the table held (130
/// bytes an open connection at 16,500 open: tests/memory_open.rs). So a
/// table asks when it grows (`realloc` moves its pages as they were) and
/// as each huge page's worth is filled. Advice only: where the kernel
/// cannot take it (no THP, an older kernel, another system), the memory
/// is what it was.
fn huge_pages_for<T>(table: &mut Vec<T>, from: usize) {
    let size = std::mem::size_of::<T>();
    if table.capacity() * size < HUGE_PAGES_FROM {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let base = table.as_mut_ptr();
        let written = table.len() * size;
        if let Some((start, len)) = whole_pages(base.addr() + from, written.saturating_sub(from), HUGE_PAGE) {
            // SAFETY: the advice changes no byte of the memory, only how
            // the kernel maps it; the range is whole pages within what the
            // table has written. The result is ignored: advice that cannot
            // be taken changes nothing.
            unsafe { libc::madvise(base.with_addr(start).cast(), len, libc::MADV_COLLAPSE) };
        }
    }
}

/// The whole pages of `page` bytes within `bytes` from `addr` (a huge
/// page partly outside the range may hold someone else's memory, or
/// memory not written yet): their start and length, if there is one.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), expect(dead_code, reason = "asked on Linux only"))]
fn whole_pages(addr: usize, bytes: usize, page: usize) -> Option<(usize, usize)> {
    let start = addr.checked_next_multiple_of(page)?;
    let end = (addr + bytes) / page * page;
    (end > start).then(|| (start, end - start))
}

/// How many records ahead [`Store::held_ends`] asks for a key: a sweep
/// takes some tens of nanoseconds a record (four hashes, looked up in sets
/// of tens of thousands), a miss to memory a hundred or more, and 8 records
/// are 2 KiB, well within the huge page the walk is in.
const WALK_AHEAD: usize = 8;

/// Asks for every cache line of a record: a packet reads nearly all of it.
#[inline]
fn prefetch_record(flow: &Flow) {
    const LINE: usize = 64;
    let start = std::ptr::from_ref(flow).addr();
    let end = start + std::mem::size_of::<Flow>();
    let mut line = start & !(LINE - 1);
    while line < end {
        prefetch_line(line);
        line += LINE;
    }
}

/// Asks for the cache line at `addr`.
#[inline]
fn prefetch_line(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch reads nothing and never faults, whatever
        // the address; SSE, which it needs, is part of every x86_64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::without_provenance::<i8>(addr)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(port: u16) -> [SocketAddr; 2] {
        ["10.0.0.1:40000".parse().unwrap(), SocketAddr::new("10.0.0.2".parse().unwrap(), port)]
    }

    #[test]
    fn vacated_slots_are_reused_before_the_slab_grows() {
        let mut store = Store::default();
        let slots: Vec<Slot> = (1..=4).map(|p| store.insert(Flow::vacant(), ends(p), VlanPath::default())).collect();
        assert_eq!(slots, [Slot(0), Slot(1), Slot(2), Slot(3)]);
        // Vacated in this order, they are taken again latest first.
        for (slot, port) in [(Slot(1), 2), (Slot(3), 4), (Slot(0), 1)] {
            let (_, endpoints, _) = store.remove(slot);
            assert_eq!(endpoints, ends(port));
            assert!(store.get(slot).is_none(), "{slot:?} is vacant");
        }
        assert_eq!(store.len(), 1);
        let again: Vec<Slot> = (5..=8).map(|p| store.insert(Flow::vacant(), ends(p), VlanPath::default())).collect();
        assert_eq!(again, [Slot(0), Slot(3), Slot(1), Slot(4)]);
        assert_eq!(store.slab.len(), 5);
        // Each slot holds the connection put there last, and the one that
        // stayed is where it was.
        for (slot, port) in [(Slot(0), 5), (Slot(3), 6), (Slot(1), 7), (Slot(4), 8), (Slot(2), 3)] {
            assert_eq!(store.endpoints(slot), ends(port));
        }
        assert_eq!(store.len(), 5);
    }

    #[test]
    fn whole_pages_lie_within_the_range() {
        // Aligned at both ends: all of it.
        assert_eq!(whole_pages(8192, 3 * 4096, 4096), Some((8192, 3 * 4096)));
        // Neither end aligned: the pages inside only.
        assert_eq!(whole_pages(8192 + 16, 3 * 4096, 4096), Some((3 * 4096, 2 * 4096)));
        assert_eq!(whole_pages(4095, 4096 + 2, 4096), Some((4096, 4096)));
        // Less than one whole page.
        assert_eq!(whole_pages(4097, 4096, 4096), None);
        assert_eq!(whole_pages(0, 4095, 4096), None);
        // At the top of the address space: no page past it.
        assert_eq!(whole_pages(usize::MAX - 10, 5, 4096), None);
    }
}
