//! How the flow table keeps a connection: a compact record in the store's
//! slab ([`Flow`]), from which the [`Connection`] it hands out is made.
//!
//! Memory grows with the connections open at once (issue 14: at most 400
//! bytes each), and every packet reads and writes its connection's record,
//! so the record is small and what every packet touches comes first:
//!
//! - a packet is referred to in 8 bytes ([`CompactRef`]: its frame and
//!   time counted from the connection's first packet), where a
//!   [`PacketRef`] takes 16; a time whose packet's frame is never read
//!   (where a silence began) in 4 ([`CompactTime`]), and a side's SYN,
//!   which comes early, in 4 ([`EarlyRef`]); the connection's id in 32
//!   bits, the rare wider one's high bits with the rare marks;
//! - the evidence few connections need (probe logs, retransmission runs,
//!   small-message logs, the rare marks and counters; the FINs, with the
//!   packets kept whole, in the origin's [`Cold`] part) is boxed and made
//!   when first needed;
//! - the addresses are the store's key (`store::Key`), not the record's.
//!
//! The record is turned into a [`Connection`] when it leaves the table (its
//! boxes move over) or when the pipeline looks at a held one (they are
//! copied): the verdict rules and the reports read that, with every packet
//! reference whole.

use super::store::{Key, KeyKind};
use super::{
    Connection, Counters, Dropped, Gap, HalfConnection, HeldSegment, KeepaliveLog, LINGER_SECS, LINGER_UNACKED_SECS,
    MAX_HEARTBEAT_GAPS, MAX_PROBES_KEPT, Marks, MaybePacket, PacketRef, Probe, ProbeState, RareMarks, ResetMark,
    RetransmissionRun, RoleSource, SequenceState, Side, SilenceWatch, SmallMessages, Train, Ttls, UnprobedSilence,
    Unreplied, Watch, ZeroWindowSpell,
};
use crate::decode::VlanPath;
use crate::seq::SeqNumber;
use crate::time::{MinMax, Timestamp, secs_of_nanos};
use std::net::SocketAddr;
use thin_vec::ThinVec;

/// A packet of a connection in 8 bytes: its frame and its time counted
/// from the connection's first packet ([`Origin`]), the time in whole
/// microseconds (what a microsecond capture stamps; 71.6 minutes at most).
/// A packet that does not fit (a nanosecond time, a connection older than
/// that, four billion frames later) is kept whole in a slot of the
/// connection's `Origin`, and the reference names the slot.
///
/// Not `Clone`: a reference that names a slot, copied to another field,
/// would change with that field's later writes. Copies go through
/// [`Origin::get`] and [`Origin::set`].
pub(super) struct CompactRef {
    /// Frames after the first packet; [`FAR`]: none, or kept in a slot.
    frame: u32,
    /// Microseconds after the first packet; with `frame` [`FAR`], the slot
    /// (or [`FAR`]: no packet).
    micros: u32,
}

/// See [`CompactRef`].
const FAR: u32 = u32::MAX;

impl CompactRef {
    pub(super) const NONE: CompactRef = CompactRef { frame: FAR, micros: FAR };

    /// The slot of the origin this reference is kept in, if it is.
    fn slot(&self) -> Option<usize> {
        (self.frame == FAR && self.micros != FAR).then_some(self.micros as usize)
    }

    /// The same reference, for a copy of the whole record: valid only
    /// against a copy of the same origin, slots and all.
    pub(super) fn duplicate(&self) -> CompactRef {
        CompactRef { frame: self.frame, micros: self.micros }
    }

    /// Whether the reference took a slot of its origin (it keeps it).
    pub(super) fn in_slot(&self) -> bool {
        self.slot().is_some()
    }
}

impl std::fmt::Debug for CompactRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.frame, self.slot()) {
            (FAR, Some(slot)) => write!(f, "slot {slot}"),
            (FAR, None) => f.write_str("none"),
            (frame, _) => write!(f, "+{frame} +{}us", self.micros),
        }
    }
}

/// Where a connection's [`CompactRef`]s count from: its first packet; and
/// what few connections need ([`Cold`]), made when first needed.
#[derive(Debug)]
pub(super) struct Origin {
    first: PacketRef,
    cold: Option<Box<Cold>>,
}

/// What few connections of those held at once have: the packets too far
/// from the first for a [`CompactRef`], whole, and each side's FIN (only
/// a connection that is closing has one; in each side of the record it
/// took 8 bytes of every connection, issue 14).
#[derive(Debug, Default)]
struct Cold {
    /// One slot per reference that ever needed one: a reference keeps its
    /// slot, so there are at most as many as a record has references.
    far: ThinVec<MaybePacket>,
    /// Each side's first FIN, by [`Side`].
    fin: [CompactRef; 2],
}

impl Cold {
    /// A copy, its references valid against a copy of the same origin.
    fn duplicate(&self) -> Cold {
        Cold { far: self.far.clone(), fin: [self.fin[0].duplicate(), self.fin[1].duplicate()] }
    }

    /// Keeps `p` in a new slot, and says which.
    fn keep_far(&mut self, p: MaybePacket) -> u32 {
        // Grown one at a time: most connections that have slots have one.
        if self.far.len() == self.far.capacity() {
            self.far.reserve_exact(1);
        }
        self.far.push(p);
        (self.far.len() - 1) as u32
    }
}

impl Origin {
    fn new(first: PacketRef) -> Origin {
        Origin { first, cold: None }
    }

    fn far(&self) -> Option<&ThinVec<MaybePacket>> {
        self.cold.as_deref().map(|c| &c.far)
    }

    fn cold_mut(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Default::default)
    }

    /// This side's first FIN, if it sent one.
    #[inline]
    pub(super) fn fin(&self, side: Side) -> Option<PacketRef> {
        self.cold.as_deref().and_then(|c| self.get(&c.fin[side as usize]))
    }

    /// This side sent a FIN `now`: kept if it is its first.
    pub(super) fn put_fin_first(&mut self, side: Side, now: Stamp) {
        if self.fin(side).is_none() {
            // Out of the cold part while it is set: setting it may add a slot there.
            let mut fin = std::mem::take(&mut self.cold_mut().fin[side as usize]);
            self.put(&mut fin, now);
            self.cold_mut().fin[side as usize] = fin;
        }
    }

    /// This side's FIN was not its own after all (see `apply`).
    pub(super) fn clear_fin(&mut self, side: Side) {
        if let Some(cold) = self.cold.as_deref_mut() {
            let mut fin = std::mem::take(&mut cold.fin[side as usize]);
            self.clear(&mut fin);
            self.cold_mut().fin[side as usize] = fin;
        }
    }

    /// The connection's first packet.
    pub(super) fn first(&self) -> PacketRef {
        self.first
    }

    #[inline]
    pub(super) fn get(&self, r: &CompactRef) -> Option<PacketRef> {
        if r.frame != FAR {
            let frame = self.first.frame + u64::from(r.frame);
            return Some(PacketRef { frame, ts: self.first.ts.after_micros(r.micros) });
        }
        self.far().zip(r.slot()).and_then(|(far, slot)| far[slot].get())
    }

    /// The compact reference to `p`, if it fits one.
    #[inline]
    fn near(&self, p: PacketRef) -> Option<CompactRef> {
        let frame = p.frame.wrapping_sub(self.first.frame);
        let micros = p.ts.micros_since(self.first.ts)?;
        (frame < u64::from(FAR)).then_some(CompactRef { frame: frame as u32, micros })
    }

    pub(super) fn maybe(&self, r: &CompactRef) -> MaybePacket {
        self.get(r).into()
    }

    #[inline]
    pub(super) fn is_some(&self, r: &CompactRef) -> bool {
        r.frame != FAR || self.get(r).is_some()
    }

    #[inline]
    pub(super) fn set(&mut self, r: &mut CompactRef, p: PacketRef) {
        match self.near(p) {
            Some(near) if r.slot().is_none() => *r = near,
            _ => self.set_far(r, p),
        }
    }

    /// [`Origin::set`] for a reference kept in a slot, or to be.
    #[cold]
    #[inline(never)]
    fn set_far(&mut self, r: &mut CompactRef, p: PacketRef) {
        let cold = self.cold_mut();
        match r.slot() {
            Some(slot) => cold.far[slot] = Some(p).into(),
            None => *r = CompactRef { frame: FAR, micros: cold.keep_far(Some(p).into()) },
        }
    }

    /// The packet being applied, its compact form worked out once for the
    /// several references a packet sets.
    #[inline]
    pub(super) fn stamp(&self, at: PacketRef) -> Stamp {
        Stamp { at, near: self.near(at).map(|r| (r.frame, r.micros)) }
    }

    /// Sets a reference to the packet being applied.
    #[inline]
    pub(super) fn put(&mut self, r: &mut CompactRef, now: Stamp) {
        match now.near {
            Some((frame, micros)) if r.slot().is_none() => *r = CompactRef { frame, micros },
            _ => self.set_far(r, now.at),
        }
    }

    /// Sets a reference to the packet being applied, unless it is set already.
    #[inline]
    pub(super) fn put_first(&mut self, r: &mut CompactRef, now: Stamp) {
        if !self.is_some(r) {
            self.put(r, now);
        }
    }

    /// Sets `dst` to the packet `src` refers to.
    #[inline]
    fn copy(&mut self, dst: &mut CompactRef, src: &CompactRef) {
        if src.frame != FAR && dst.slot().is_none() {
            // A near reference holds its packet whole: the copy is independent.
            *dst = src.duplicate();
        } else {
            let p = self.maybe(src);
            self.set_maybe(dst, p);
        }
    }

    pub(super) fn set_maybe(&mut self, r: &mut CompactRef, p: MaybePacket) {
        match p.get() {
            Some(p) => self.set(r, p),
            None => self.clear(r),
        }
    }

    pub(super) fn clear(&mut self, r: &mut CompactRef) {
        match (r.slot(), self.cold.as_deref_mut()) {
            (Some(slot), Some(cold)) => cold.far[slot] = MaybePacket::NONE,
            _ => *r = CompactRef::NONE,
        }
    }
}

/// A packet being applied, and its [`CompactRef`] in its connection if it
/// has one ([`Origin::stamp`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Stamp {
    pub(super) at: PacketRef,
    near: Option<(u32, u32)>,
}

/// A time of a connection in 4 bytes, where only the time of a packet is
/// needed (not its frame): microseconds after the connection's first
/// packet below [`TIME_SLOT`]; at or above it, the slot of the
/// connection's [`Origin`] that keeps the time whole (a nanosecond time,
/// or one too far from the first packet). As with a [`CompactRef`], once
/// kept in a slot it stays there; and it is not `Clone` for the same
/// reason (copies go through [`Origin::copy_time`]).
#[derive(Debug)]
pub(super) struct CompactTime(u32);

/// See [`CompactTime`]: 35.8 minutes of microseconds fit below it.
const TIME_SLOT: u32 = 1 << 31;

/// The frame of the packet a slot keeps for a [`CompactTime`]: not kept
/// (any number but 0, which would say the slot holds nothing).
const TIME_ONLY: u64 = u64::MAX;

impl CompactTime {
    /// The connection's first packet's time.
    const FIRST: CompactTime = CompactTime(0);

    fn slot(&self) -> Option<usize> {
        self.0.checked_sub(TIME_SLOT).map(|slot| slot as usize)
    }

    /// The same time, for a copy of the whole record (see [`CompactRef::duplicate`]).
    fn duplicate(&self) -> CompactTime {
        CompactTime(self.0)
    }
}

impl Origin {
    #[inline]
    fn time(&self, t: &CompactTime) -> Timestamp {
        match t.slot() {
            None => self.first.ts.after_micros(t.0),
            Some(slot) => {
                let far = self.far().expect("a time kept in a slot has its origin's slots");
                far[slot].get().expect("a time's slot keeps it").ts
            }
        }
    }

    #[inline]
    fn set_time(&mut self, t: &mut CompactTime, at: Timestamp) {
        match at.micros_since(self.first.ts).filter(|&m| m < TIME_SLOT) {
            Some(micros) if t.slot().is_none() => t.0 = micros,
            _ => self.set_time_far(t, at),
        }
    }

    /// [`Origin::set_time`] for a time kept in a slot, or to be.
    #[cold]
    #[inline(never)]
    fn set_time_far(&mut self, t: &mut CompactTime, at: Timestamp) {
        // Only the time is kept: nothing else is read.
        let at = Some(PacketRef { frame: TIME_ONLY, ts: at }).into();
        let cold = self.cold_mut();
        match t.slot() {
            Some(slot) => cold.far[slot] = at,
            None => *t = CompactTime(TIME_SLOT + cold.keep_far(at)),
        }
    }

    /// Sets `dst` to the time `src` holds.
    #[inline]
    fn copy_time(&mut self, dst: &mut CompactTime, src: &CompactTime) {
        if src.slot().is_none() && dst.slot().is_none() {
            dst.0 = src.0;
        } else {
            let at = self.time(src);
            self.set_time(dst, at);
        }
    }

    /// Sets `dst` to the time of the packet `src` refers to (a packet
    /// every reference of a heard-from side has).
    #[inline]
    fn copy_time_of(&mut self, dst: &mut CompactTime, src: &CompactRef) {
        // A near reference's microseconds are the time's, when they fit.
        if src.frame != FAR && src.micros < TIME_SLOT && dst.slot().is_none() {
            dst.0 = src.micros;
        } else if let Some(p) = self.get(src) {
            self.set_time(dst, p.ts);
        }
    }
}

/// A packet early in its connection, set once, in 4 bytes: below
/// [`EARLY_SLOT`], its frames after the connection's first packet (11
/// bits) and its microseconds after it (20 bits: 1.05 s); at or above it,
/// the slot of the connection's [`Origin`] that keeps it whole. A side's
/// SYN (or SYN-ACK) is one: most connections have both sides', and most
/// SYN-ACKs follow their SYN within a second and a few hundred frames
/// (issue 14: a [`CompactRef`] took 8 bytes a side).
#[derive(Debug)]
pub(super) struct EarlyRef(u32);

/// See [`EarlyRef`].
const EARLY_SLOT: u32 = 1 << 31;
const EARLY_MICROS_BITS: u32 = 20;

impl EarlyRef {
    const NONE: EarlyRef = EarlyRef(u32::MAX);

    /// The same reference, for a copy of the whole record (see [`CompactRef::duplicate`]).
    fn duplicate(&self) -> EarlyRef {
        EarlyRef(self.0)
    }
}

impl Default for EarlyRef {
    fn default() -> EarlyRef {
        EarlyRef::NONE
    }
}

impl Origin {
    #[inline]
    pub(super) fn early(&self, r: &EarlyRef) -> Option<PacketRef> {
        match r.0 {
            u32::MAX => None,
            slot @ EARLY_SLOT.. => self.far().and_then(|far| far[(slot - EARLY_SLOT) as usize].get()),
            near => {
                let (frame, micros) = (near >> EARLY_MICROS_BITS, near & ((1 << EARLY_MICROS_BITS) - 1));
                Some(PacketRef { frame: self.first.frame + u64::from(frame), ts: self.first.ts.after_micros(micros) })
            }
        }
    }

    /// Sets `r` to the packet being applied, unless it is set already (it
    /// is never set again, so a slot, once taken, keeps its packet).
    pub(super) fn put_early_first(&mut self, r: &mut EarlyRef, now: Stamp) {
        if r.0 != u32::MAX {
            return;
        }
        *r = match now.near {
            Some((frame, micros)) if frame < EARLY_SLOT >> EARLY_MICROS_BITS && micros < 1 << EARLY_MICROS_BITS => {
                EarlyRef(frame << EARLY_MICROS_BITS | micros)
            }
            _ => EarlyRef(EARLY_SLOT + self.cold_mut().keep_far(Some(now.at).into())),
        };
    }
}

/// A silence between two packets of a connection: the packet that ended
/// it (none before the second packet) and when it began (the time of the
/// packet before that one), in 12 bytes. Its length is worked out from the
/// two times as the packet that ended it worked it out (`Flow::arrived`),
/// so it is the same `f64` to the last bit; keeping it took 16 bytes a
/// silence, and a record keeps two (issue 14: memory grows with the
/// connections open at once).
#[derive(Debug)]
pub(super) struct CompactGap {
    ended_by: CompactRef,
    began: CompactTime,
}

impl CompactGap {
    const NONE: CompactGap = CompactGap { ended_by: CompactRef::NONE, began: CompactTime::FIRST };

    fn get(&self, o: &Origin) -> Option<(f64, PacketRef)> {
        o.get(&self.ended_by).map(|p| (Self::length(p, o.time(&self.began)), p))
    }

    /// The silence from `began` to `ended_by`, as `Flow::arrived` measures
    /// it (a capture's times may go backwards: no silence then).
    #[inline]
    fn length(ended_by: PacketRef, began: Timestamp) -> f64 {
        ended_by.ts.secs_since(began).max(0.0)
    }

    /// How long the silence was (s), if there was one.
    #[cfg(test)]
    fn secs(&self, o: &Origin) -> Option<f64> {
        self.get(o).map(|(secs, _)| secs)
    }

    /// Whether a silence of `secs` (`nanos` before the seconds and the
    /// floor at 0) is longer than this one, or this one is none: what
    /// `self.secs(o).is_none_or(|g| secs > g)` says, without working the
    /// seconds out unless the nanoseconds say it may be longer (every
    /// packet asks; seconds never order two silences otherwise than their
    /// nanoseconds do, `Timestamp::nanos_since`).
    #[inline]
    fn shorter_than(&self, o: &Origin, nanos: i64, secs: f64) -> bool {
        let Some(end) = o.get(&self.ended_by) else { return true };
        let began = o.time(&self.began);
        nanos > end.ts.nanos_since(began) && secs > Self::length(end, began)
    }

    /// The silence from `began` to the packet being applied.
    fn set(&mut self, o: &mut Origin, began: Timestamp, ended_by: Stamp) {
        o.set_time(&mut self.began, began);
        o.put(&mut self.ended_by, ended_by);
    }

    fn copy_from(&mut self, o: &mut Origin, other: &CompactGap) {
        o.copy_time(&mut self.began, &other.began);
        o.copy(&mut self.ended_by, &other.ended_by);
    }

    /// The same silence, for a copy of the whole record (see [`CompactRef::duplicate`]).
    fn duplicate(&self) -> CompactGap {
        CompactGap { ended_by: self.ended_by.duplicate(), began: self.began.duplicate() }
    }
}

/// A length of time of a connection in 4 bytes, where only its length is
/// needed (a keepalive idle or interval): whole microseconds below
/// [`SPAN_SLOT`] (35.8 minutes); at or above it, the slot of the
/// connection's [`Origin`] that keeps its nanoseconds whole (a nanosecond
/// capture's, a negative one of times going backwards, or a longer one).
/// As with a [`CompactTime`], once kept in a slot it stays there, and it
/// is not `Clone`.
#[derive(Debug)]
struct CompactSpan(u32);

/// See [`CompactSpan`].
const SPAN_SLOT: u32 = 1 << 31;

impl CompactSpan {
    const ZERO: CompactSpan = CompactSpan(0);

    fn slot(&self) -> Option<usize> {
        self.0.checked_sub(SPAN_SLOT).map(|slot| slot as usize)
    }

    /// The same span, for a copy of the whole record (see [`CompactRef::duplicate`]).
    fn duplicate(&self) -> CompactSpan {
        CompactSpan(self.0)
    }
}

impl Origin {
    /// The span's nanoseconds.
    fn span(&self, s: &CompactSpan) -> i64 {
        match s.slot() {
            None => i64::from(s.0) * 1000,
            Some(slot) => {
                let far = self.far().expect("a span kept in a slot has its origin's slots");
                far[slot].get().expect("a span's slot keeps it").ts.0
            }
        }
    }

    fn set_span(&mut self, s: &mut CompactSpan, nanos: i64) {
        let micros = u32::try_from(nanos / 1000).ok().filter(|&m| nanos % 1000 == 0 && m < SPAN_SLOT);
        match micros {
            Some(micros) if s.slot().is_none() => s.0 = micros,
            _ => {
                // The nanoseconds whole, as a slot keeps a time (its frame not kept).
                let kept = Some(PacketRef { frame: TIME_ONLY, ts: Timestamp(nanos) }).into();
                let cold = self.cold_mut();
                match s.slot() {
                    Some(slot) => cold.far[slot] = kept,
                    None => *s = CompactSpan(SPAN_SLOT + cold.keep_far(kept)),
                }
            }
        }
    }
}

/// The shortest and the longest of some lengths of time: with how many
/// there were ([`ProbeCounts`]), what a [`MinMax`] of their seconds keeps,
/// in 8 bytes where it took 24. The lengths are kept in nanoseconds, and
/// their seconds worked out as [`Timestamp::secs_since`] works them out
/// ([`secs_of_nanos`]): the same `f64`s to the last bit; nanoseconds order
/// as those seconds do, so the shortest in nanoseconds is the shortest in
/// seconds.
#[derive(Debug)]
struct SpanRange {
    min: CompactSpan,
    max: CompactSpan,
}

impl SpanRange {
    const EMPTY: SpanRange = SpanRange { min: CompactSpan::ZERO, max: CompactSpan::ZERO };

    /// What `MinMax::add` of the length's seconds does, to a range of
    /// `count` lengths so far.
    fn add(&mut self, o: &mut Origin, nanos: i64, count: u32) {
        if count == 0 || nanos < o.span(&self.min) {
            o.set_span(&mut self.min, nanos);
        }
        if count == 0 || nanos > o.span(&self.max) {
            o.set_span(&mut self.max, nanos);
        }
    }

    /// The range of `count` lengths.
    fn get(&self, o: &Origin, count: u32) -> MinMax {
        let mut range = MinMax::EMPTY;
        if count > 0 {
            range.add(secs_of_nanos(o.span(&self.min)));
            range.add(secs_of_nanos(o.span(&self.max)));
            range.count = count;
        }
        range
    }

    fn duplicate(&self) -> SpanRange {
        SpanRange { min: self.min.duplicate(), max: self.max.duplicate() }
    }
}

/// What a prober's log counts ([`ProbeCounts`]).
#[derive(Clone, Copy, Debug)]
enum Count {
    ProbesSent,
    ProbesAnswered,
    OneByteProbes,
    /// Most probes seen in one train.
    LongestTrain,
    /// Idles observed (saturating, as a `MinMax`'s count).
    Idles,
    /// Intervals observed (saturating, as a `MinMax`'s count).
    Intervals,
}

/// A prober's counts: 16 bits each while they fit, 32 bits in a box of
/// their own once one does not (65,536 probes from one side of one
/// connection: a live run's), so that every count is the one a `u32` made,
/// in 16 bytes where six `u32`s took 24 (a prober's box is a 128-byte
/// block of glibc's malloc where it would be 144: one for each prober
/// open at once, issue 14).
#[derive(Clone, Debug)]
enum ProbeCounts {
    Narrow([u16; 6]),
    Wide(Box<[u32; 6]>),
}

impl ProbeCounts {
    fn get(&self, what: Count) -> u32 {
        match self {
            ProbeCounts::Narrow(counts) => u32::from(counts[what as usize]),
            ProbeCounts::Wide(counts) => counts[what as usize],
        }
    }

    fn set(&mut self, what: Count, value: u32) {
        match (&mut *self, u16::try_from(value)) {
            (ProbeCounts::Narrow(counts), Ok(narrow)) => counts[what as usize] = narrow,
            (ProbeCounts::Wide(counts), _) => counts[what as usize] = value,
            (ProbeCounts::Narrow(counts), Err(_)) => {
                let mut wide = Box::new(counts.map(u32::from));
                wide[what as usize] = value;
                *self = ProbeCounts::Wide(wide);
            }
        }
    }

    /// One more, as `+=` counts.
    fn count(&mut self, what: Count) {
        self.set(what, self.get(what) + 1);
    }

    /// One more, saturating.
    fn count_saturating(&mut self, what: Count) {
        self.set(what, self.get(what).saturating_add(1));
    }
}

/// One keepalive probe of a train as the table keeps it: a [`Probe`] with
/// its packet a [`CompactRef`] and without an answer (only a train's
/// latest probe may have one: a train goes on only after an unanswered
/// probe, so its answer is the train's, [`CompactTrain`]), in 16 bytes
/// where a `Probe` takes 40.
#[derive(Debug)]
struct CompactProbe {
    at: CompactRef,
    seq: SeqNumber,
    len: u8,
}

impl CompactProbe {
    fn duplicate(&self) -> CompactProbe {
        CompactProbe { at: self.at.duplicate(), seq: self.seq, len: self.len }
    }
}

/// A keepalive [`Train`] as the table keeps it: its packets as
/// [`CompactRef`]s, its probes [`CompactProbe`]s, the first in the train
/// and the later ones in a `ThinVec` (8 bytes where a `Vec` took 24; its
/// block of 16 + 16 × later probes where a `Vec`'s was 40 × probes, and
/// none for a train of one probe, most trains: an answered probe's), the
/// latest probe's answer with the train.
///
/// A train's probes are set in place: a new train's go where the
/// earlier train's were (those beyond its count are kept for the next
/// trains), so that a probe kept in a slot of the origin (a nanosecond
/// capture's) reuses its slot, train after train, where a new reference
/// would take a slot each.
#[derive(Debug)]
pub(super) struct CompactTrain {
    /// See [`Train::idle_from`].
    idle_from: CompactRef,
    /// The first probe, if `count` says there is one.
    first: CompactProbe,
    /// The next probes of the first [`MAX_PROBES_KEPT`], the last one
    /// always the train's latest (`min(count, MAX_PROBES_KEPT) - 1` of
    /// them), then spares of earlier, longer trains.
    later: ThinVec<CompactProbe>,
    /// The peer's first packet after the latest probe, if `answered` says
    /// there is one.
    answer: CompactRef,
    /// Number of probes, even beyond those kept.
    count: u32,
    answered: Answered,
}

/// Whether a train's latest probe was answered, and how: said apart from
/// the answer's packet, so that asking needs no look at the origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answered {
    No,
    Yes,
    /// By a RST (see [`Probe::reset_by`]).
    ByRst,
}

impl CompactTrain {
    const NONE: CompactTrain = CompactTrain {
        idle_from: CompactRef::NONE,
        first: CompactProbe { at: CompactRef::NONE, seq: SeqNumber(0), len: 0 },
        later: ThinVec::new(),
        answer: CompactRef::NONE,
        count: 0,
        answered: Answered::No,
    };

    /// How many probes of this train are kept.
    fn kept(&self) -> usize {
        (self.count as usize).min(MAX_PROBES_KEPT)
    }

    /// The probe kept in this place of the train (0: the first).
    fn probe(&self, place: usize) -> Option<&CompactProbe> {
        match place.checked_sub(1) {
            _ if place >= self.kept() => None,
            None => Some(&self.first),
            Some(later) => self.later.get(later),
        }
    }

    fn latest(&self) -> Option<&CompactProbe> {
        self.kept().checked_sub(1).and_then(|place| self.probe(place))
    }

    /// Number of probes, even beyond those kept.
    pub(super) fn count(&self) -> u32 {
        self.count
    }

    /// The latest probe's time and frame.
    pub(super) fn latest_at(&self, o: &Origin) -> Option<PacketRef> {
        self.latest().and_then(|p| o.get(&p.at))
    }

    /// The latest probe's length (0 or 1 byte).
    pub(super) fn latest_len(&self) -> Option<u8> {
        self.latest().map(|p| p.len)
    }

    /// The latest probe's sequence number.
    pub(super) fn latest_seq(&self) -> Option<SeqNumber> {
        self.latest().map(|p| p.seq)
    }

    /// The first probe's frame.
    pub(super) fn first_frame(&self, o: &Origin) -> Option<u64> {
        self.probe(0).and_then(|p| o.get(&p.at)).map(|p| p.frame)
    }

    /// What [`Train::unanswered`] says.
    pub(super) fn unanswered(&self) -> bool {
        self.count > 0 && self.answered == Answered::No
    }

    /// What the latest probe's [`Probe::answered_by`] says.
    fn answered_by(&self, o: &Origin) -> Option<PacketRef> {
        if self.answered == Answered::Yes { o.get(&self.answer) } else { None }
    }

    /// A new train, its idle measured from `idle_from`.
    fn restart(&mut self, o: &mut Origin, idle_from: Option<PacketRef>) {
        o.set_maybe(&mut self.idle_from, idle_from.into());
        self.answered = Answered::No;
        self.count = 0;
    }

    /// One more probe: kept among the first, or in the last place kept
    /// (answers are matched against it).
    fn push(&mut self, o: &mut Origin, at: PacketRef, seq: SeqNumber, len: u8) {
        self.count += 1;
        let place = self.kept() - 1;
        let probe = match place.checked_sub(1) {
            None => Some(&mut self.first),
            Some(later) => self.later.get_mut(later),
        };
        match probe {
            Some(probe) => {
                o.set(&mut probe.at, at);
                (probe.seq, probe.len) = (seq, len);
            }
            None => {
                let mut probe = CompactProbe { at: CompactRef::NONE, seq, len };
                o.set(&mut probe.at, at);
                // Grown one at a time: most trains that go on are a few probes long.
                self.later.reserve_exact(1);
                self.later.push(probe);
            }
        }
    }

    /// The train as a handed-out connection keeps it.
    fn to_train(&self, o: &Origin) -> Train {
        let mut train = Train::default();
        self.fill(o, &mut train);
        train
    }

    /// Sets `train` to this train (its probes' `Vec` reused).
    pub(super) fn fill(&self, o: &Origin, train: &mut Train) {
        train.idle_from = o.maybe(&self.idle_from);
        train.count = self.count;
        train.probes.clear();
        train.probes.reserve_exact(self.kept());
        train.probes.extend((0..self.kept()).filter_map(|place| self.probe(place)).map(|p| {
            let at = o.get(&p.at).expect("a kept probe has its packet");
            Probe { at, seq: p.seq, len: p.len, answer: MaybePacket::NONE, answer_is_rst: false }
        }));
        if let Some(latest) = train.probes.last_mut().filter(|_| self.answered != Answered::No) {
            (latest.answer, latest.answer_is_rst) = (o.maybe(&self.answer), self.answered == Answered::ByRst);
        }
    }

    fn duplicate(&self) -> CompactTrain {
        CompactTrain {
            idle_from: self.idle_from.duplicate(),
            first: self.first.duplicate(),
            later: self.later.iter().map(CompactProbe::duplicate).collect(),
            answer: self.answer.duplicate(),
            count: self.count,
            answered: self.answered,
        }
    }
}

/// The train of a side that sent no probe.
static NO_TRAIN: CompactTrain = CompactTrain::NONE;

/// A prober's [`KeepaliveLog`] as the table keeps it while it holds the
/// connection: its packets as [`CompactRef`]s, its idle and interval
/// ranges as [`SpanRange`]s against the connection's origin and its
/// latest train a [`CompactTrain`] (its first probe with it), its counts
/// [`ProbeCounts`], in 104 bytes where the log took 152 (the box around
/// it, `Probing`, is a 128-byte block of glibc's malloc where it was 176,
/// and the train's probes need no block of their own until there are
/// two: one box for each prober open at once, ~52,000 at 200,000 open on
/// the benchmark's capture, issue 14). Handed out, it is a
/// [`KeepaliveLog`] again ([`ProbeLog::into_log`]).
#[derive(Debug)]
pub(super) struct ProbeLog {
    /// The latest train, the one that matters for how the connection ended.
    pub(super) train: CompactTrain,
    /// The first probe the side sent.
    first_probe: CompactRef,
    /// The longest silence after an answered probe with no probe in it
    /// (see [`UnprobedSilence`]): the answer, and the packet that ended it;
    /// none until both are set.
    unprobed_answer: CompactRef,
    unprobed_until: CompactRef,
    /// Observed idle times (last packet received → first probe of a train).
    idle: SpanRange,
    /// Observed gaps between an unanswered probe and the next probe.
    interval: SpanRange,
    counts: ProbeCounts,
}

impl Default for ProbeLog {
    fn default() -> ProbeLog {
        ProbeLog {
            train: CompactTrain::NONE,
            first_probe: CompactRef::NONE,
            unprobed_answer: CompactRef::NONE,
            unprobed_until: CompactRef::NONE,
            idle: SpanRange::EMPTY,
            interval: SpanRange::EMPTY,
            counts: ProbeCounts::Narrow([0; 6]),
        }
    }
}

impl Clone for ProbeLog {
    /// A copy, its references valid against a copy of the same origin
    /// (`FlowSide::duplicate`).
    fn clone(&self) -> ProbeLog {
        ProbeLog {
            train: self.train.duplicate(),
            first_probe: self.first_probe.duplicate(),
            unprobed_answer: self.unprobed_answer.duplicate(),
            unprobed_until: self.unprobed_until.duplicate(),
            idle: self.idle.duplicate(),
            interval: self.interval.duplicate(),
            counts: self.counts.clone(),
        }
    }
}

impl ProbeLog {
    /// A probe of `len` bytes sent at `at`; `idle_start` says where the
    /// idle before it began, if it starts a train.
    pub(super) fn record_probe(
        &mut self,
        o: &mut Origin,
        at: PacketRef,
        seq: SeqNumber,
        len: u8,
        idle_start: impl FnOnce(&Origin) -> Option<PacketRef>,
    ) {
        self.counts.count(Count::ProbesSent);
        if len == 1 {
            self.counts.count(Count::OneByteProbes);
        }
        if !o.is_some(&self.first_probe) {
            o.set(&mut self.first_probe, at);
        }
        // Nothing from the peer answered the last probe (its own crossing
        // probes do not, see `answers_a_probe`): the train goes on.
        let continues = self.train.unanswered();
        if let Some(last) = self.train.latest_at(o).filter(|_| continues) {
            self.interval.add(o, at.ts.nanos_since(last.ts), self.counts.get(Count::Intervals));
            self.counts.count_saturating(Count::Intervals);
        } else {
            let idle_from = idle_start(o).filter(|p| p.ts <= at.ts);
            if let Some(from) = idle_from {
                self.idle.add(o, at.ts.nanos_since(from.ts), self.counts.get(Count::Idles));
                self.counts.count_saturating(Count::Idles);
            }
            self.train.restart(o, idle_from);
        }
        self.train.push(o, at, seq, len);
        let longest = self.counts.get(Count::LongestTrain).max(self.train.count);
        self.counts.set(Count::LongestTrain, longest);
    }

    /// The peer's packet `at` answered the latest probe (a RST: it reset
    /// the connection instead), if it was unanswered.
    pub(super) fn answer(&mut self, o: &mut Origin, at: PacketRef, is_rst: bool) -> bool {
        if !self.train.unanswered() {
            return false;
        }
        o.set(&mut self.train.answer, at);
        self.train.answered = if is_rst { Answered::ByRst } else { Answered::Yes };
        if !is_rst {
            self.counts.count(Count::ProbesAnswered);
        }
        true
    }

    /// The longest silence after an answered probe so far (see
    /// [`KeepaliveLog::unprobed_after_answer`]).
    pub(super) fn unprobed_after_answer(&self, o: &Origin) -> Option<UnprobedSilence> {
        Some(UnprobedSilence { answer: o.get(&self.unprobed_answer)?, until: o.get(&self.unprobed_until)? })
    }

    pub(super) fn set_unprobed(&mut self, o: &mut Origin, silence: UnprobedSilence) {
        o.set(&mut self.unprobed_answer, silence.answer);
        o.set(&mut self.unprobed_until, silence.until);
    }

    /// Where the measure of the silence after the latest answer stands,
    /// `until` the packet that ended it (see `Probing::watch_until`); read
    /// only while the side's watch is on.
    pub(super) fn watch(&self, o: &Origin, until: &CompactRef) -> SilenceWatch {
        Watch { answer: self.train.answered_by(o).into(), until: o.maybe(until) }.get()
    }

    /// The log as a handed-out connection keeps it.
    pub(super) fn into_log(self, o: &Origin) -> KeepaliveLog {
        KeepaliveLog {
            probes_sent: self.counts.get(Count::ProbesSent),
            probes_answered: self.counts.get(Count::ProbesAnswered),
            one_byte_probes: self.counts.get(Count::OneByteProbes),
            idle_observed: self.idle.get(o, self.counts.get(Count::Idles)),
            interval_observed: self.interval.get(o, self.counts.get(Count::Intervals)),
            longest_train: self.counts.get(Count::LongestTrain),
            first_probe: o.maybe(&self.first_probe),
            unprobed: self.unprobed_after_answer(o).map_or(Watch::OFF, Watch::ended),
            train: self.train.to_train(o),
        }
    }
}

/// One connection as the table keeps it. `repr(C)`: the key and the fields
/// every packet reads come first. (Aligned to a cache line, a record would
/// span one line fewer now and then, but the slab could no longer grow in
/// place: the allocator copies an over-aligned block to grow it.)
#[repr(C)]
#[derive(Debug)]
pub(super) struct Flow {
    /// The endpoints, as the store keys the connection (its VLAN tags,
    /// which are not part of its key, are kept by the store too).
    pub(super) key: Key,
    /// What the key holds.
    pub(super) kind: KeyKind,
    pub(super) roles: RoleSource,
    /// Every segment seen carried SYN.
    pub(super) handshake_only: bool,
    /// The side that sent the latest packet: the latest packet is that
    /// side's `last_sent` (kept once, not twice: memory grows with the
    /// connections open at once).
    last_from: Side,
    /// The time of the packet before the latest one (the first packet's
    /// until there is a second): the silence before the latest packet is
    /// measured from it (its frame is never read: 4 bytes, not 8).
    before_last: CompactTime,
    /// Sequential id within the analysis, in order of first packet: its
    /// low 32 bits (`SIDE_WIDE_ID` on the client side says the rest is in
    /// that side's rare marks: four billion connections, a live run's).
    id_low: u32,
    pub(super) origin: Origin,
    /// The longest silence between two packets, and the second longest.
    gaps: [CompactGap; 2],
    pub(super) sides: [FlowSide; 2],
}

/// One direction of a connection as the table keeps it, named by its
/// sender: what [`HalfConnection`] holds, the packets compact, the counters
/// that few sides need with the rare marks. The fields most packets read
/// come first.
#[repr(C)]
#[derive(Debug, Default)]
pub(super) struct FlowSide {
    pub(super) seq: SequenceState,
    /// Packets this side sent, modulo 2^24, in the high 24 bits (the wraps
    /// are counted with the rare marks: a live run may see 16 million
    /// packets of one side), and the `SIDE_*` bits in the low 8. A byte of
    /// its own took 8 more a side, with padding (issue 14).
    packets_and_flags: u32,
    /// TTL / hop limit of this side's first and latest segments that were
    /// not RSTs, when `SIDE_TTL` says there was one.
    ttl: Ttls,
    /// IPv4 identification of this side's latest segment that was not a
    /// RST, when `SIDE_IP_ID` says it had one. (Two `Option`s took 7 bytes
    /// where these take 2 and two bits.)
    ip_id: u16,
    /// The latest packet (the "last heard from" of keepalive idle times),
    /// and the latest traffic unless `SIDE_PROBED_SINCE_TRAFFIC` says
    /// otherwise (see [`FlowSide::last_traffic`]).
    pub(super) last_sent: CompactRef,
    /// Whether this side probes, or holds back a segment that may be a
    /// probe; and its latest traffic while its latest packets are probes.
    pub(super) probe: ProbeState,
    /// Unacknowledged data and its retransmissions, while there is some.
    pub(super) unacked: Option<Box<RetransmissionRun>>,
    /// The last segment with payload this side sent.
    pub(super) last_payload: CompactRef,
    /// What few sides ever have, made when first needed.
    rare: Option<Box<RareMarks>>,
    /// The small messages this side sent (candidate heartbeats, see
    /// [`SmallMessages`]): the gaps between them (made with the third: the
    /// second's gap is told by the first and the latest while they are the
    /// only two, see `FlowSide::unkept_gap`), the first and the latest; how
    /// many is one more than the gaps, and
    /// the rare marks count those after the gaps kept (a count of its own
    /// took 8 bytes more a side, with padding). In the record, not boxed:
    /// most sides that send data send some, and each one read the box.
    small_gaps: ThinVec<f32>,
    small_first: CompactRef,
    /// Only the latest small message's time is read (the gap to the next).
    small_last: CompactTime,
    /// This side's first SYN (or SYN-ACK); its FIN is with the origin's
    /// cold part (`Origin::fin`).
    pub(super) syn: EarlyRef,
}

/// The capacities a side's small-message gaps grow through. A `ThinVec`
/// of its own doubles from 4 (blocks of 48, 64, 96, 160, 288 bytes); with
/// its 16-byte header, 16 + 4 × capacity + 8 a multiple of 16 fills a block
/// of glibc's malloc (the size asked for plus 8, rounded up to 16): 32, 48,
/// 64, 80, 112, 160, 224 bytes, and 288 for the 64 gaps kept. Most sides
/// keep a few gaps (issue 14: memory grows with the connections open at once).
const SMALL_GAP_CAPACITIES: [usize; 8] = [2, 6, 10, 14, 22, 34, 50, MAX_HEARTBEAT_GAPS];

/// One packet in [`FlowSide::packets_and_flags`]: its low 8 bits are the `SIDE_*` bits.
const ONE_PACKET: u32 = 1 << 8;
/// The bits of a side's packet count in the record.
const PACKET_COUNT_BITS: u32 = 24;

/// This side's SYN carried the timestamp option (RFC 7323).
const SIDE_SYN_TIMESTAMPS: u8 = 1;
/// The latest probe of this side's keepalive train is unanswered so far:
/// what `keepalive().train.unanswered()` says, kept here so that a packet
/// need not read the probe log to ask (every packet from the peer does).
const SIDE_PROBE_OUTSTANDING: u8 = 2;
/// The silence after this side's answered probe is being measured (the
/// log's watch is on): only then does a packet need to read the log.
const SIDE_WATCHING: u8 = 4;
/// This side holds back a segment that may be a probe (its probe state is
/// `ProbeKind::Held`): every packet asks, and only then is the box read.
const SIDE_HOLDING: u8 = 8;
/// The connection's id does not fit in the record's 32 bits: its high
/// bits are with this side's rare marks (only ever the client side's).
const SIDE_WIDE_ID: u8 = 64;
/// This side sent a segment that was not a RST: `ttl` holds its TTLs.
const SIDE_TTL: u8 = 16;
/// This side's latest segment that was not a RST had an IPv4
/// identification: `ip_id` holds it.
const SIDE_IP_ID: u8 = 32;
/// This side's latest packets are probes (keepalive or zero-window) or
/// held back, sent since its latest traffic: its probe box keeps that
/// (`ProbeState::traffic`). Otherwise its latest traffic is its latest
/// packet, `last_sent`.
const SIDE_PROBED_SINCE_TRAFFIC: u8 = 128;

impl Default for Ttls {
    fn default() -> Ttls {
        Ttls::of(0)
    }
}

impl Default for CompactTime {
    fn default() -> CompactTime {
        CompactTime::FIRST
    }
}

impl Default for CompactRef {
    fn default() -> CompactRef {
        CompactRef::NONE
    }
}

impl FlowSide {
    /// Packets this side sent.
    pub(super) fn packets(&self) -> u64 {
        let wraps = self.rare_marks().map_or(0, |r| r.packets_wrapped);
        (u64::from(wraps) << PACKET_COUNT_BITS) | u64::from(self.packets_and_flags / ONE_PACKET)
    }

    /// Whether this side sent anything (read for every packet: the rare
    /// marks only when the count is a multiple of 2^24).
    pub(super) fn heard_from(&self) -> bool {
        self.packets_and_flags >= ONE_PACKET || self.rare_marks().is_some_and(|r| r.packets_wrapped > 0)
    }

    /// One more packet from this side.
    pub(super) fn count_packet(&mut self) {
        // The count is the word's high bits: it wraps without touching the flags.
        self.packets_and_flags = self.packets_and_flags.wrapping_add(ONE_PACKET);
        if self.packets_and_flags < ONE_PACKET {
            self.rare_mut().packets_wrapped += 1;
        }
    }

    /// A segment that was not a RST: its TTL and IPv4 identification (None: IPv6).
    pub(super) fn note_ttl_and_ip_id(&mut self, ttl: u8, ip_id: Option<u16>) {
        if self.flag(SIDE_TTL) {
            self.ttl.last = ttl;
        } else {
            self.ttl = Ttls::of(ttl);
            self.set_flag(SIDE_TTL, true);
        }
        self.ip_id = ip_id.unwrap_or(0);
        self.set_flag(SIDE_IP_ID, ip_id.is_some());
    }

    /// TTL / hop limit of this side's first and latest segments that were not RSTs.
    pub(super) fn ttls(&self) -> Option<Ttls> {
        self.flag(SIDE_TTL).then_some(self.ttl)
    }

    /// IPv4 identification of this side's latest segment that was not a RST.
    pub(super) fn last_ip_id(&self) -> Option<u16> {
        self.flag(SIDE_IP_ID).then_some(self.ip_id)
    }

    /// This side's latest keepalive train (empty when it sent no probe).
    pub(super) fn train(&self) -> &CompactTrain {
        self.probe.log().map_or(&NO_TRAIN, |log| &log.train)
    }

    fn flag(&self, bit: u8) -> bool {
        self.packets_and_flags & u32::from(bit) != 0
    }

    fn set_flag(&mut self, bit: u8, on: bool) {
        if on {
            self.packets_and_flags |= u32::from(bit);
        } else {
            self.packets_and_flags &= !u32::from(bit);
        }
    }

    pub(super) fn note_syn_timestamps(&mut self, present: bool) {
        if present {
            self.set_flag(SIDE_SYN_TIMESTAMPS, true);
        }
    }

    /// This side's latest packet that was not a keepalive or zero-window
    /// probe nor held back, if it sent one: the peer's keepalive idle runs
    /// from it (`idle_start`). Kept apart from the latest packet only while
    /// they differ (a record kept both: 8 bytes a side, issue 14).
    pub(super) fn last_traffic(&self, o: &Origin) -> Option<PacketRef> {
        if self.flag(SIDE_PROBED_SINCE_TRAFFIC) {
            self.probe.traffic().and_then(|r| o.get(r))
        } else {
            o.get(&self.last_sent)
        }
    }

    /// This side sent the packet being applied, traffic or not (a probe,
    /// or a segment held back): it is the latest; the latest traffic, if
    /// it is not, is the one before the first such packet since traffic.
    pub(super) fn note_sent(&mut self, o: &mut Origin, now: Stamp, traffic: bool) {
        match (traffic, self.flag(SIDE_PROBED_SINCE_TRAFFIC)) {
            (true, true) => {
                self.set_flag(SIDE_PROBED_SINCE_TRAFFIC, false);
                self.probe.traffic_again();
            }
            (false, false) => {
                // The latest packet so far was the latest traffic (or none).
                let FlowSide { probe, last_sent, .. } = self;
                o.copy(probe.traffic_mut(), last_sent);
                self.set_flag(SIDE_PROBED_SINCE_TRAFFIC, true);
            }
            (true, false) | (false, true) => {}
        }
        o.put(&mut self.last_sent, now);
    }

    /// The latest keepalive probe of this side is unanswered so far.
    pub(super) fn probe_outstanding(&self) -> bool {
        debug_assert_eq!(self.flag(SIDE_PROBE_OUTSTANDING), self.train().unanswered());
        self.flag(SIDE_PROBE_OUTSTANDING)
    }

    /// A probe was recorded (`true`), or the latest one answered.
    pub(super) fn set_probe_outstanding(&mut self, outstanding: bool) {
        self.set_flag(SIDE_PROBE_OUTSTANDING, outstanding);
    }

    /// A small message (a candidate heartbeat) sent `now`: the gap since
    /// the one before is kept (the first [`MAX_HEARTBEAT_GAPS`]).
    pub(super) fn note_small_message(&mut self, o: &mut Origin, now: Stamp) {
        // The first small message is the one `small_first` keeps.
        if o.is_some(&self.small_first) {
            let unkept = self.unkept_gap(o);
            let kept = self.small_gaps.len() + usize::from(unkept.is_some());
            if kept < MAX_HEARTBEAT_GAPS {
                let last = o.time(&self.small_last);
                // The second small message's gap is told by the two times
                // kept (`unkept_gap`) unless it came at the first's time.
                if kept > 0 || now.at.ts == last {
                    if let Some(first_gap) = unkept {
                        self.push_small_gap(first_gap);
                    }
                    self.push_small_gap(now.at.ts.secs_since(last) as f32);
                }
            } else {
                let rare = self.rare_mut();
                rare.small_beyond = rare.small_beyond.wrapping_add(1);
            }
        }
        o.put_first(&mut self.small_first, now);
        o.set_time(&mut self.small_last, now.at.ts);
    }

    /// Keeps a gap between small messages, the block grown through
    /// [`SMALL_GAP_CAPACITIES`].
    fn push_small_gap(&mut self, gap: f32) {
        let gaps = &mut self.small_gaps;
        if gaps.len() == gaps.capacity() {
            let grown = SMALL_GAP_CAPACITIES.iter().find(|&&c| c > gaps.len()).copied();
            gaps.reserve_exact(grown.unwrap_or(MAX_HEARTBEAT_GAPS) - gaps.len());
        }
        gaps.push(gap);
    }

    /// The gap between this side's first two small messages while they are
    /// its only two: not in `small_gaps` but told by the times of the first
    /// and the latest, the gap `note_small_message` measured to the last
    /// bit (both times are kept whole). A block of its own for that one gap
    /// took 32 bytes a side, ~56,000 sides at 165,000 open on the
    /// benchmark's capture (issue 14). A second message at the first's very
    /// time has its gap (0) kept, so that equal times say there is one.
    fn unkept_gap(&self, o: &Origin) -> Option<f32> {
        if !self.small_gaps.is_empty() {
            return None;
        }
        let first = o.get(&self.small_first)?.ts;
        let last = o.time(&self.small_last);
        (last != first).then(|| last.secs_since(first) as f32)
    }

    /// Small messages this side sent (modulo 2^32, as a `SmallMessages`
    /// counts): the first, one more a gap kept, and those after.
    fn small_messages(&self, o: &Origin) -> u32 {
        if !o.is_some(&self.small_first) {
            return 0;
        }
        let beyond = self.rare_marks().map_or(0, |r| r.small_beyond);
        let gaps = self.small_gaps.len() + usize::from(self.unkept_gap(o).is_some());
        (1 + gaps as u32).wrapping_add(beyond)
    }

    /// The segment this side holds back, if any.
    pub(super) fn held(&self) -> Option<&HeldSegment> {
        debug_assert_eq!(self.flag(SIDE_HOLDING), self.probe.held().is_some());
        if self.flag(SIDE_HOLDING) { self.probe.held() } else { None }
    }

    pub(super) fn hold(&mut self, segment: HeldSegment) {
        self.probe.hold(segment);
        self.set_flag(SIDE_HOLDING, true);
    }

    /// Settles a held segment: nothing is then held.
    pub(super) fn take_held(&mut self) -> Option<HeldSegment> {
        if !self.flag(SIDE_HOLDING) {
            return None;
        }
        self.set_flag(SIDE_HOLDING, false);
        self.probe.take_held()
    }

    /// The silence after this side's answered probe is being measured.
    pub(super) fn watching(&self) -> bool {
        self.flag(SIDE_WATCHING)
    }

    pub(super) fn set_watching(&mut self, watching: bool) {
        self.set_flag(SIDE_WATCHING, watching);
    }

    fn rare_marks(&self) -> Option<&RareMarks> {
        self.rare.as_deref()
    }

    pub(super) fn rare_mut(&mut self) -> &mut RareMarks {
        self.rare.get_or_insert_with(Default::default)
    }

    /// Drops the rare parts once nothing is left in them.
    fn tidy_rare(&mut self) {
        if self.rare.as_deref().is_some_and(RareMarks::is_empty) {
            self.rare = None;
        }
    }

    /// This side's first RST and what it showed, if it sent one.
    pub(super) fn reset(&self) -> Option<&ResetMark> {
        self.rare_marks()?.rst.as_deref()
    }

    /// The RSTs in this side's name a receiver may have gone on after: the
    /// first, and one already found not to be this side's.
    pub(super) fn resets_mut(&mut self) -> impl Iterator<Item = &mut ResetMark> {
        let (rst, ignored) = match self.rare.as_deref_mut() {
            Some(m) => (m.rst.as_deref_mut(), m.ignored_rst.as_deref_mut().map(|i| &mut i.rst)),
            None => (None, None),
        };
        rst.into_iter().chain(ignored)
    }

    /// This side's RST did not end the connection after all (a refusal
    /// whose SYN was retried): forgotten, and the rare parts with it when
    /// nothing else is left in them.
    pub(super) fn forget_reset(&mut self) {
        if let Some(rare) = self.rare.as_deref_mut() {
            rare.rst = None;
        }
        self.tidy_rare();
    }

    /// The zero window this side advertises, while it does.
    pub(super) fn zero_window(&self) -> Option<&ZeroWindowSpell> {
        self.rare_marks()?.zero_window.as_deref()
    }

    pub(super) fn zero_window_mut(&mut self) -> Option<&mut ZeroWindowSpell> {
        self.rare.as_deref_mut()?.zero_window.as_deref_mut()
    }

    /// The zero window this side advertised is open again.
    pub(super) fn window_opened(&mut self) {
        if let Some(rare) = self.rare.as_deref_mut()
            && rare.zero_window.take().is_some()
        {
            self.tidy_rare();
        }
    }

    pub(super) fn count_retransmission(&mut self) {
        self.rare_mut().retransmissions += 1;
    }

    pub(super) fn count_zero_window_probe(&mut self) {
        self.rare_mut().zero_window_probes += 1;
    }

    /// TTL / hop limit of this side's latest segment that was not a RST.
    pub(super) fn last_ttl(&self) -> Option<u8> {
        self.ttls().map(|t| t.last)
    }

    /// This side refused the connection: it sent a RST and nothing else
    /// (a RST leaves no TTL mark).
    pub(super) fn refused_only(&self) -> bool {
        self.reset().is_some() && !self.flag(SIDE_TTL)
    }

    /// The side as a [`HalfConnection`]; its boxes move over.
    fn into_half(self, o: &Origin, side: Side, addr: SocketAddr) -> HalfConnection {
        // The rare marks move over as they are, counters and all (read from
        // the `Counters` from now on).
        let (retransmissions, zero_window_probes) =
            self.rare.as_deref().map_or((0, 0), |r| (r.retransmissions, r.zero_window_probes));
        let (packets, ttl, last_ip_id) = (self.packets(), self.ttls(), self.last_ip_id());
        let small_count = self.small_messages(o);
        let unkept_gap = self.unkept_gap(o);
        let syn_timestamps = self.flag(SIDE_SYN_TIMESTAMPS);
        let last_traffic = self.last_traffic(o).into();
        let rare = self.rare;
        HalfConnection {
            addr: super::Endpoint::of(addr),
            seq: self.seq,
            counts: Counters { packets, retransmissions, zero_window_probes },
            marks: Marks {
                last_sent: o.maybe(&self.last_sent),
                last_traffic,
                last_payload: o.maybe(&self.last_payload),
                syn: o.early(&self.syn).into(),
                fin: o.fin(side).into(),
                rare,
                ttl,
                last_ip_id,
                syn_timestamps,
            },
            keepalive: self.probe.into_log().map(|log| Box::new(log.into_log(o))),
            unacked: self.unacked,
            small_messages: SmallMessages {
                count: small_count,
                first: o.maybe(&self.small_first),
                last: if o.is_some(&self.small_first) { o.time(&self.small_last) } else { Default::default() },
                gaps: match unkept_gap {
                    Some(gap) => {
                        let mut gaps = ThinVec::with_capacity(SMALL_GAP_CAPACITIES[0]);
                        gaps.push(gap);
                        gaps
                    }
                    None => self.small_gaps,
                },
            },
        }
    }

    /// A copy, its references valid against a copy of the same origin.
    fn duplicate(&self) -> FlowSide {
        FlowSide {
            seq: self.seq,
            packets_and_flags: self.packets_and_flags,
            last_sent: self.last_sent.duplicate(),
            probe: self.probe.clone(),
            unacked: self.unacked.clone(),
            last_payload: self.last_payload.duplicate(),
            syn: self.syn.duplicate(),
            rare: self.rare.clone(),
            small_gaps: self.small_gaps.clone(),
            small_first: self.small_first.duplicate(),
            small_last: self.small_last.duplicate(),
            ttl: self.ttl,
            ip_id: self.ip_id,
        }
    }
}

impl Flow {
    /// What a vacant slot of the store's slab holds: no connection.
    pub(super) fn vacant() -> Flow {
        Flow {
            key: Key::default(),
            kind: KeyKind::Vacant,
            last_from: Side::Client,
            before_last: CompactTime::FIRST,
            origin: Origin::new(PacketRef { frame: 0, ts: Default::default() }),
            sides: Default::default(),
            gaps: [CompactGap::NONE, CompactGap::NONE],
            id_low: 0,
            roles: RoleSource::Handshake,
            handshake_only: false,
        }
    }

    pub(super) fn new(id: u64, at: PacketRef, roles: RoleSource, handshake_only: bool) -> Flow {
        let mut flow = Flow {
            key: Key::default(),
            kind: KeyKind::Vacant,
            last_from: Side::Client,
            before_last: CompactTime::FIRST,
            id_low: id as u32,
            origin: Origin::new(at),
            sides: Default::default(),
            gaps: [CompactGap::NONE, CompactGap::NONE],
            roles,
            handshake_only,
        };
        let high = (id >> 32) as u32;
        if high != 0 {
            let client = &mut flow.sides[Side::Client as usize];
            client.rare_mut().id_high = high;
            client.set_flag(SIDE_WIDE_ID, true);
        }
        flow
    }

    /// Sequential id within the analysis, in order of first packet.
    #[inline]
    pub(super) fn id(&self) -> u64 {
        let client = &self.sides[Side::Client as usize];
        let high = if client.flag(SIDE_WIDE_ID) { client.rare_marks().map_or(0, |r| r.id_high) } else { 0 };
        (u64::from(high) << 32) | u64::from(self.id_low)
    }

    /// The connection's latest packet (its first until one is applied).
    pub(super) fn last(&self) -> PacketRef {
        if !self.heard_from() {
            return self.origin.first();
        }
        let side = &self.sides[self.last_from as usize];
        self.origin.get(&side.last_sent).expect("the side that sent the latest packet has a latest packet")
    }

    /// Whether a packet of the connection has been applied.
    fn heard_from(&self) -> bool {
        self.sides.iter().any(FlowSide::heard_from)
    }

    /// Both sides sent FIN, or one sent RST.
    pub(super) fn is_finished(&self) -> bool {
        self.sides.iter().any(|h| h.reset().is_some())
            || [Side::Client, Side::Server].iter().all(|&s| self.origin.fin(s).is_some())
    }

    /// How long the connection stays in the table after its last packet once finished.
    pub(super) fn linger_secs(&self) -> f64 {
        let reset = self.sides.iter().any(|h| h.reset().is_some());
        if !reset && self.sides.iter().any(|h| h.unacked.is_some()) { LINGER_UNACKED_SECS } else { LINGER_SECS }
    }

    /// What the connection is, as of its latest packet (None: both sides
    /// spoke after the handshake). A connection only ever moves down:
    /// handshake, one-way, both ways.
    pub(super) fn unreplied(&self) -> Option<Unreplied> {
        if self.handshake_only {
            Some(Unreplied::Handshake)
        } else if !self.sides.iter().all(FlowSide::heard_from) {
            Some(Unreplied::OneWay)
        } else {
            None
        }
    }

    /// A packet `at` from `from` arrived: it is the latest (once applied:
    /// it is `from`'s `last_sent`), and the silence before it may be one of
    /// the two longest. Returns the silences before it and before the
    /// packet before it (s), and that packet.
    pub(super) fn arrived(&mut self, now: Stamp, from: Side) -> (f64, f64, PacketRef) {
        let seen = self.heard_from();
        let previous = self.last();
        let Flow { origin: o, last_from, before_last, gaps, sides, .. } = self;
        let before = o.time(before_last);
        let gap = if seen { now.at.ts.secs_since(previous.ts).max(0.0) } else { 0.0 };
        if seen {
            let [longest, second] = gaps;
            let nanos = now.at.ts.nanos_since(previous.ts);
            if longest.shorter_than(o, nanos, gap) {
                second.copy_from(o, longest);
                longest.set(o, previous.ts, now);
            } else if second.shorter_than(o, nanos, gap) {
                second.set(o, previous.ts, now);
            }
        }
        // The silence before the packet before this one (0 before the second packet).
        let gap_before_previous = previous.ts.secs_since(before).max(0.0);
        if seen {
            o.copy_time_of(before_last, &sides[*last_from as usize].last_sent);
        }
        *last_from = from;
        (gap, gap_before_previous, previous)
    }

    /// The connection handed out: its boxes move to the [`Connection`].
    pub(super) fn into_connection(
        self,
        [client, server]: [SocketAddr; 2],
        vlan: VlanPath,
        dropped: Option<Dropped>,
    ) -> Connection {
        let last = self.last();
        let id = self.id();
        let o = &self.origin;
        let gap =
            |g: &CompactGap| g.get(o).map_or_else(Gap::default, |(secs, p)| Gap { secs, ended_by: Some(p).into() });
        let [c, s] = self.sides;
        Connection {
            id,
            vlan,
            roles: self.roles,
            first: o.first(),
            last,
            longest_gap: gap(&self.gaps[0]),
            second_longest_gap: gap(&self.gaps[1]),
            sides: [c.into_half(o, Side::Client, client), s.into_half(o, Side::Server, server)],
            handshake_only: self.handshake_only,
            dropped,
        }
    }

    /// The connection as it stands, for a look at one still held: its
    /// boxes are copied.
    pub(super) fn to_connection(&self, endpoints: [SocketAddr; 2], vlan: VlanPath) -> Connection {
        let [c, s] = &self.sides;
        let copy = Flow {
            key: self.key,
            kind: self.kind,
            last_from: self.last_from,
            before_last: self.before_last.duplicate(),
            id_low: self.id_low,
            origin: Origin {
                first: self.origin.first,
                cold: self.origin.cold.as_deref().map(|c| Box::new(c.duplicate())),
            },
            sides: [c.duplicate(), s.duplicate()],
            gaps: [self.gaps[0].duplicate(), self.gaps[1].duplicate()],
            roles: self.roles,
            handshake_only: self.handshake_only,
        };
        copy.into_connection(endpoints, vlan, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sides_packet_count_goes_on_past_2_to_the_32() {
        // The record counts a side's packets in 24 bits beside the side's
        // flags, and its wraps with the rare marks: the count handed out is
        // exact, past 2^24 and 2^32, and the flags stay as they were.
        let mut side = FlowSide { packets_and_flags: u32::MAX - ONE_PACKET, ..FlowSide::default() };
        side.rare_mut().packets_wrapped = 255;
        let flags = u32::from(SIDE_WIDE_ID | SIDE_TTL | SIDE_SYN_TIMESTAMPS);
        side.packets_and_flags &= !(ONE_PACKET - 1);
        side.packets_and_flags |= flags;
        assert!(side.heard_from());
        assert_eq!(side.packets(), u64::from(u32::MAX) - 1);
        side.count_packet();
        assert_eq!(side.packets(), u64::from(u32::MAX));
        side.count_packet();
        assert_eq!(side.packets_and_flags, flags, "the count wrapped, the flags stay");
        assert!(side.heard_from(), "a count that wrapped is not zero");
        side.count_packet();
        assert_eq!(side.packets(), (1 << 32) + 1);
        assert!(side.flag(SIDE_WIDE_ID) && side.flag(SIDE_TTL) && side.flag(SIDE_SYN_TIMESTAMPS));
        assert!(!side.flag(SIDE_HOLDING) && !side.flag(SIDE_IP_ID));
        let origin = Origin::new(PacketRef { frame: 1, ts: Default::default() });
        let half = side.into_half(&origin, Side::Client, "10.0.0.1:1".parse().unwrap());
        assert_eq!(half.counts.packets, (1 << 32) + 1);
        assert!(half.marks.syn_timestamps);
        // The first wrap, past 2^24.
        let mut side = FlowSide::default();
        assert!(!side.heard_from());
        for _ in 0..(1 << 24) + 1 {
            side.count_packet();
        }
        assert_eq!((side.packets(), side.rare_marks().map(|r| r.packets_wrapped)), ((1 << 24) + 1, Some(1)));
    }

    #[test]
    fn a_sides_count_of_small_messages_goes_on_past_2_to_the_16() {
        // The record counts a side's small messages by the gaps it keeps
        // between them, and those after with the rare marks: the count
        // handed out is exact, and so are the first, the latest and the
        // gaps between them.
        let t0 = Timestamp::from_timeval(1_700_000_000, 0);
        let at = |frame: u64| PacketRef { frame, ts: Timestamp(t0.0 + frame as i64 * 1_000_000) };
        let mut o = Origin::new(at(1));
        let mut side = FlowSide::default();
        let n = (1 << 16) + 3;
        for frame in 1..=n {
            let now = o.stamp(at(frame));
            side.note_small_message(&mut o, now);
        }
        assert_eq!(side.rare_marks().map(|r| r.small_beyond), Some(n as u32 - 1 - MAX_HEARTBEAT_GAPS as u32));
        assert_eq!(side.small_messages(&o), n as u32);
        let half = side.into_half(&o, Side::Client, "10.0.0.1:1".parse().unwrap());
        let small = &half.small_messages;
        assert_eq!((small.count, small.first.get(), small.last), (n as u32, Some(at(1)), at(n).ts));
        assert_eq!(small.gaps.len(), MAX_HEARTBEAT_GAPS);
        assert_eq!(small.gaps.capacity(), MAX_HEARTBEAT_GAPS, "the gaps stop growing at those kept");
        assert!(small.gaps.iter().all(|&g| g == 0.001_f64 as f32), "a millisecond apart");
        let none = FlowSide::default().into_half(&o, Side::Client, "10.0.0.1:1".parse().unwrap()).small_messages;
        assert_eq!((none.count, none.first.get(), none.last), (0, None, Timestamp::default()));
    }

    #[test]
    fn a_sides_only_two_small_messages_need_no_block_for_their_gap() {
        // While a side has sent two small messages, the gap between them is
        // told by the times of the first and the latest (`unkept_gap`): no
        // block. Handed out, the gap is the one measured to the last bit: at
        // nanoseconds, more than 35.8 minutes after the connection's first
        // packet (the times in slots of its origin), and backwards (a capture
        // out of order). A third message keeps both gaps, in order.
        let t0 = Timestamp::from_timeval(1_700_000_000, 0);
        let addr: SocketAddr = "10.0.0.1:1".parse().unwrap();
        for (first, second, third) in [
            (1_000_000, 1_250_000, 1_750_000),
            (1_000_000_001, 2_000_000_003, 2_000_000_004),
            (3_000_000_000_000, 3_000_000_000_007, 3_600_000_000_000),
            (5_000_000, 4_000_000, 6_000_000),
        ] {
            let at = |frame: u64, nanos: i64| PacketRef { frame, ts: Timestamp(t0.0 + nanos) };
            let mut o = Origin::new(at(1, 0));
            let mut side = FlowSide::default();
            let now = o.stamp(at(2, first));
            side.note_small_message(&mut o, now);
            let now = o.stamp(at(3, second));
            side.note_small_message(&mut o, now);
            let gap = at(3, second).ts.secs_since(at(2, first).ts) as f32;
            assert_eq!(side.small_gaps.capacity(), 0, "no block for one gap ({first}, {second})");
            assert_eq!(side.small_messages(&o), 2);
            let small = side.duplicate().into_half(&o, Side::Client, addr).small_messages;
            assert_eq!((small.count, small.first.get(), small.last), (2, Some(at(2, first)), at(3, second).ts));
            assert_eq!(small.gaps.as_slice(), [gap]);
            let now = o.stamp(at(4, third));
            side.note_small_message(&mut o, now);
            let next = at(4, third).ts.secs_since(at(3, second).ts) as f32;
            assert_eq!(side.small_gaps.as_slice(), [gap, next]);
            assert_eq!(side.small_messages(&o), 3);
            let small = side.into_half(&o, Side::Client, addr).small_messages;
            assert_eq!((small.count, small.gaps.as_slice()), (3, [gap, next].as_slice()));
        }
        // A second message at the first's very time keeps its gap, 0: one
        // message and two at the same time are told apart.
        let mut o = Origin::new(PacketRef { frame: 1, ts: t0 });
        let mut side = FlowSide::default();
        for frame in [1, 2] {
            let now = o.stamp(PacketRef { frame, ts: t0 });
            side.note_small_message(&mut o, now);
            assert_eq!(side.small_messages(&o), frame as u32);
        }
        assert_eq!(side.small_gaps.as_slice(), [0.0]);
        let small = side.into_half(&o, Side::Client, addr).small_messages;
        assert_eq!((small.count, small.gaps.as_slice()), (2, [0.0_f32].as_slice()));
    }

    #[test]
    fn small_message_gaps_grow_to_fill_malloc_blocks() {
        // Each capacity the gaps grow through but the last fills a block of
        // glibc's malloc with a `ThinVec`'s 16-byte header; the gaps grow
        // through each in turn, and each gap is the one measured.
        let (last, growing) = SMALL_GAP_CAPACITIES.split_last().unwrap();
        for cap in growing {
            assert_eq!((16 + 4 * cap + 8) % 16, 0, "capacity {cap}");
        }
        assert_eq!(*last, MAX_HEARTBEAT_GAPS);
        let t0 = Timestamp::from_timeval(1_700_000_000, 0);
        let mut o = Origin::new(PacketRef { frame: 1, ts: t0 });
        let mut side = FlowSide::default();
        let mut capacities = Vec::new();
        for i in 0..=(MAX_HEARTBEAT_GAPS as i64 + 1) {
            let at = PacketRef { frame: 1 + i as u64, ts: Timestamp(t0.0 + i * i * 1_000_000) };
            let now = o.stamp(at);
            side.note_small_message(&mut o, now);
            let cap = side.small_gaps.capacity();
            if cap > 0 && capacities.last() != Some(&cap) {
                capacities.push(cap);
            }
        }
        assert_eq!(capacities, SMALL_GAP_CAPACITIES);
        let gaps = side.into_half(&o, Side::Client, "10.0.0.1:1".parse().unwrap()).small_messages.gaps;
        let expected: Vec<f32> =
            (1..=MAX_HEARTBEAT_GAPS as i64).map(|i| ((2 * i - 1) as f64 / 1000.0) as f32).collect();
        assert_eq!(gaps.as_slice(), expected.as_slice());
    }

    #[test]
    fn a_connections_id_goes_on_past_2_to_the_32() {
        // The record keeps the id's low 32 bits, and the rest with the
        // client side's rare marks: the id handed out and compared is exact.
        let at = PacketRef { frame: 1, ts: Default::default() };
        let ends = ["10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap()];
        for id in [0, 7, u64::from(u32::MAX), (1 << 32) + 5, u64::MAX] {
            let flow = Flow::new(id, at, RoleSource::Handshake, true);
            assert_eq!(flow.id(), id);
            assert_eq!(flow.sides[0].rare_marks().is_some(), id > u64::from(u32::MAX), "id {id}");
            assert_eq!(flow.to_connection(ends, VlanPath::default()).id, id);
            assert_eq!(flow.into_connection(ends, VlanPath::default(), None).id, id);
        }
    }

    #[test]
    fn a_silences_beginning_is_kept_exact_however_far() {
        // A silence keeps when it began in 4 bytes: whole microseconds up
        // to 35.8 minutes after the first packet, else the time whole in a
        // slot; its length is the one measured, to the last bit.
        let t0 = Timestamp::from_timeval(1_700_000_000, 1);
        let mut o = Origin::new(PacketRef { frame: 1, ts: t0 });
        let ends = PacketRef { frame: 9, ts: Timestamp(t0.0 + 3_000_000_000_000) };
        for began_ns in [0, 1_000, 1_234, (1 << 31) * 1000 - 1000, (1 << 31) * 1000, 2_999_999_999_999] {
            let began = Timestamp(t0.0 + began_ns);
            let mut gap = CompactGap::NONE;
            assert_eq!(gap.secs(&o), None);
            let now = o.stamp(ends);
            gap.set(&mut o, began, now);
            let measured = ends.ts.secs_since(began).max(0.0);
            assert_eq!(gap.get(&o), Some((measured, ends)), "began {began_ns} ns after the first");
            // Compared as the seconds compare, whatever the nanoseconds say.
            let length = ends.ts.nanos_since(began);
            for nanos in [length - 1, length, length + 1, length + 1_000_000, 0, -5] {
                let secs = (nanos as f64 / 1e9).max(0.0);
                assert_eq!(gap.shorter_than(&o, nanos, secs), secs > measured, "{nanos} ns against {length}");
            }
            assert!(CompactGap::NONE.shorter_than(&o, 0, 0.0), "any silence is longer than none");
            let mut copy = CompactGap::NONE;
            copy.copy_from(&mut o, &gap);
            assert_eq!(copy.secs(&o), Some(measured));
            // A beginning after the end (times going backwards): no silence.
            let mut back = CompactGap::NONE;
            let now = o.stamp(ends);
            back.set(&mut o, Timestamp(ends.ts.0 + 1), now);
            assert_eq!(back.secs(&o), Some(0.0));
        }
    }

    #[test]
    fn a_probers_ranges_are_the_min_max_of_their_seconds_however_long() {
        // A keepalive idle or interval is kept in 4 bytes: whole
        // microseconds below 2^31, else its nanoseconds whole in a slot
        // (negative ones too: a capture's times may go backwards). The
        // range handed out is the `MinMax` of the seconds `secs_since`
        // gives, to the last bit, and a span kept in a slot keeps it.
        let t0 = Timestamp::from_timeval(1_700_000_000, 0);
        let limit = i64::from(SPAN_SLOT) * 1000;
        let cases: [&[i64]; 6] = [
            &[75_000_000_000],
            &[limit - 1000, 0, 1_000],
            &[limit, limit - 1000, 7_200_000_000_000],
            &[1_234, 1_000, 999],
            &[5_000_000_000, -1_000_000, -5, i64::MAX, i64::MIN],
            &[3_000_000_000_001, 2_000_000_000_000, 2_999_999_999_999, 10],
        ];
        for spans in cases {
            let mut o = Origin::new(PacketRef { frame: 1, ts: t0 });
            let (mut kept, mut expected) = (SpanRange::EMPTY, MinMax::EMPTY);
            assert_eq!(kept.get(&o, 0), MinMax::EMPTY);
            for (count, &nanos) in (0..).zip(spans) {
                kept.add(&mut o, nanos, count);
                expected.add(Timestamp(nanos).secs_since(Timestamp(0)));
                assert_eq!(kept.get(&o, count + 1), expected, "{spans:?} through {nanos}");
                assert_eq!(kept.duplicate().get(&o, count + 1), expected);
            }
            let fits = |n: i64| n >= 0 && n % 1000 == 0 && n < limit;
            let slots = o.far().map_or(0, |far| far.len());
            // One slot at most for each end, and none while every span fits.
            assert!(slots <= 2, "{spans:?}: {slots} slots");
            assert_eq!(slots > 0, !spans.iter().all(|&n| fits(n)), "{spans:?}");
        }
        // A span in a slot keeps it, set again and again.
        let mut o = Origin::new(PacketRef { frame: 1, ts: t0 });
        let mut span = CompactSpan::ZERO;
        for nanos in [7, 1_000, limit + 5, 2_000, -3] {
            o.set_span(&mut span, nanos);
            assert_eq!(o.span(&span), nanos);
        }
        assert_eq!(o.far().map_or(0, |far| far.len()), 1);
    }

    #[test]
    fn a_syn_is_kept_exact_however_late_and_a_fin_in_the_cold_part() {
        // A side's SYN is kept in 4 bytes when it comes within 2,047 frames
        // and 2^20 microseconds of the connection's first packet; later, or
        // at a time of nanoseconds, whole in a slot. Its FIN is kept with
        // the origin's cold part, made with the first FIN.
        let t0 = Timestamp::from_timeval(1_700_000_000, 0);
        let cases = [
            (0, 0),
            (1, 120_000),
            (2047, (1 << 20) - 1_000),
            (2048, 5_000),
            (3, 1 << 20),
            (3, (1 << 20) * 1_000),
            (3, 7),
            (1 << 33, 1_000),
        ];
        for (frames, ns) in cases {
            let mut o = Origin::new(PacketRef { frame: 10, ts: t0 });
            let syn_at = PacketRef { frame: 10 + frames, ts: Timestamp(t0.0 + ns) };
            let mut syn = EarlyRef::NONE;
            assert_eq!(o.early(&syn), None);
            let now = o.stamp(syn_at);
            o.put_early_first(&mut syn, now);
            let near = frames < 2048 && ns % 1_000 == 0 && ns < (1 << 20) * 1_000;
            assert_eq!((syn.0 < EARLY_SLOT, o.cold.is_some()), (near, !near), "{frames} frames, {ns} ns");
            // Set once: a later SYN leaves it.
            let later = PacketRef { frame: syn_at.frame + 1, ts: Timestamp(syn_at.ts.0 + 1_000) };
            let now = o.stamp(later);
            o.put_early_first(&mut syn, now);
            assert_eq!(o.early(&syn), Some(syn_at), "{frames} frames, {ns} ns");

            let fin_at = PacketRef { frame: syn_at.frame + 5, ts: Timestamp(syn_at.ts.0 + 2_000_000_000) };
            assert_eq!((o.fin(Side::Client), o.fin(Side::Server)), (None, None));
            let now = o.stamp(fin_at);
            o.put_fin_first(Side::Server, now);
            let now = o.stamp(later);
            o.put_fin_first(Side::Server, now);
            assert_eq!((o.fin(Side::Client), o.fin(Side::Server)), (None, Some(fin_at)));
            let copy = Origin { first: o.first, cold: o.cold.as_deref().map(|c| Box::new(c.duplicate())) };
            o.clear_fin(Side::Server);
            assert_eq!((o.fin(Side::Server), o.early(&syn)), (None, Some(syn_at)));
            assert_eq!((copy.fin(Side::Server), copy.early(&syn.duplicate())), (Some(fin_at), Some(syn_at)));
        }
    }

    #[test]
    fn a_sides_latest_traffic_in_a_slot_keeps_it_spell_after_spell() {
        // At times of nanoseconds each packet a record refers to is kept
        // whole in a slot of its origin, and a reference keeps its slot. A
        // side's latest traffic kept apart through its zero-window probes
        // is exact, and the box that keeps it stays with its slot after the
        // traffic: spell after spell take one slot, not one each.
        use crate::flow::PacketClass;
        use crate::flow::wire::*;
        let mut w = Wire::established(1000, 5000);
        let t0 = Timestamp::from_timeval(1_700_000_001, 0);
        let mut frame = 6;
        let mut send = |w: &mut Wire, s: Seg, class: PacketClass| {
            frame += 1;
            let at = PacketRef { frame, ts: Timestamp(t0.0 + frame as i64 * 1_000_000_123) };
            assert_eq!(w.send_at(at, s), class, "frame {frame}");
            at
        };
        let slots = |w: &Wire| w.record().unwrap().origin.far().map_or(0, |far| far.len());
        let mut kept = Vec::new();
        let mut data = None;
        for spell in 0..6 {
            let una = 5101 + 20 * spell;
            send(&mut w, seg(C, ACK, 1011, una, 0).window(0), PacketClass::Ack);
            let probe = send(&mut w, seg(S, ACK, una - 1, 1011, 0), PacketClass::ZeroWindowProbe);
            let server = w.look().unwrap().sides[Side::Server as usize].marks.clone();
            assert_eq!(server.last_sent.get(), Some(probe));
            let before = data.or_else(|| server.last_payload.get()).expect("the server sent data");
            assert_eq!(server.last_traffic.get(), Some(before), "spell {spell}");
            send(&mut w, seg(C, ACK, 1011, una, 0).window(100), PacketClass::Ack);
            data = Some(send(&mut w, seg(S, ACK, una, 1011, 20), PacketClass::Data));
            let server = w.look().unwrap().sides[Side::Server as usize].marks.clone();
            assert_eq!(server.last_traffic, server.last_sent);
            send(&mut w, seg(C, ACK, 1011, una + 20, 0), PacketClass::Ack);
            kept.push(slots(&w));
        }
        // (The record's other references take their slots in the first
        // two spells.)
        assert!(kept[0] > 0, "the packets are kept in slots");
        assert!(kept[1..].iter().all(|&n| n == kept[1]), "slots after each spell: {kept:?}");
    }

    #[test]
    fn a_trains_probes_are_kept_exact_and_reuse_their_slots_train_after_train() {
        // At times of nanoseconds each probe is kept whole in a slot of the
        // origin. A train longer than the probes kept counts them all and
        // keeps the first and, last, the latest; the next, shorter trains
        // set their probes where the earlier train's were, slots and all:
        // train after train take no more slots, and each train handed out
        // (or looked at, or asked for by the pipeline) is the one sent.
        use crate::flow::PacketClass;
        use crate::flow::wire::*;
        let mut w = Wire::established(1000, 5000);
        let t0 = Timestamp::from_timeval(1_700_000_001, 0);
        let mut frame = 6;
        let mut next = |secs: i64| {
            frame += 1;
            PacketRef { frame, ts: Timestamp(t0.0 + secs * 1_000_000_000 + 123) }
        };
        let slots = |w: &Wire| w.record().unwrap().origin.far().map_or(0, |far| far.len());
        let (mut t, mut kept) = (100, Vec::new());
        for (round, length) in [40u32, 2, 1, 3, 1, 1, 2, 1].into_iter().enumerate() {
            let mut sent = Vec::new();
            for _ in 0..length {
                t += 10;
                let at = next(t);
                assert_eq!(w.send_at(at, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe, "{round}");
                sent.push(at);
            }
            let answer = next(t);
            let expected: Vec<PacketRef> = if sent.len() > MAX_PROBES_KEPT {
                sent[..MAX_PROBES_KEPT - 1].iter().chain(sent.last()).copied().collect()
            } else {
                sent.clone()
            };
            let check = |train: &Train, answered: bool| {
                assert_eq!(train.count, length, "round {round}");
                assert_eq!(train.probes.iter().map(|p| p.at).collect::<Vec<_>>(), expected, "round {round}");
                assert!(train.probes.iter().all(|p| p.seq == SeqNumber(5100) && p.len == 0));
                let answers: Vec<_> = train.probes.iter().map(|p| p.answered_by().get()).collect();
                let mut want = vec![None; expected.len()];
                *want.last_mut().unwrap() = answered.then_some(answer);
                assert_eq!(answers, want, "round {round}");
                assert_eq!(train.unanswered(), !answered);
            };
            check(&w.look().unwrap().side(Side::Server).keepalive().train, false);
            assert_eq!(w.send_at(answer, seg(C, ACK, 1011, 5101, 0)), PacketClass::KeepaliveAck);
            check(&w.look().unwrap().side(Side::Server).keepalive().train, true);
            check(&w.trains().unwrap()[Side::Server as usize], true);
            kept.push(slots(&w));
        }
        let log = w.look().unwrap().side(Side::Server).keepalive().clone();
        assert_eq!((log.probes_sent, log.probes_answered, log.longest_train), (51, 8, 40));
        // The first train's probes took their slots (and the log's other
        // references theirs in the first two trains: where the second's
        // idle began); the next trains none more.
        assert!(kept[0] > MAX_PROBES_KEPT, "the probes are kept in slots: {kept:?}");
        assert!(kept[2..].iter().all(|&n| n == kept[1]), "slots after each train: {kept:?}");
    }

    #[test]
    fn a_train_of_one_probe_needs_no_block_of_its_own() {
        // Most trains are one answered probe: it is kept with the train, and
        // only the probes after it in a block of their own.
        use crate::flow::PacketClass;
        use crate::flow::wire::*;
        let mut w = Wire::established(1000, 5000);
        let later = |w: &Wire| {
            let train = &w.record().unwrap().sides[Side::Server as usize].probe.log().unwrap().train;
            (train.count, train.later.len(), train.later.capacity())
        };
        assert_eq!(w.send(60.0, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
        assert_eq!(later(&w), (1, 0, 0));
        assert_eq!(w.send(60.001, seg(C, ACK, 1011, 5101, 0)), PacketClass::KeepaliveAck);
        assert_eq!(w.send(120.0, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
        assert_eq!(later(&w), (1, 0, 0), "a new train of one");
        assert_eq!(w.send(130.0, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
        assert_eq!(later(&w), (2, 1, 1));
        let train = w.look().unwrap().side(Side::Server).keepalive().train.clone();
        let at: Vec<f64> = train.probes.iter().map(|p| p.at.ts.secs_since(Timestamp(0))).collect();
        assert_eq!((train.count, at), (2, vec![120.0, 130.0]));
    }

    #[test]
    fn a_probers_counts_go_on_past_2_to_the_16() {
        // The counts are 16 bits each until one needs more: then all are
        // 32 bits, each as it was, and counted as a `u32` counted them (the
        // ranges' counts saturating, as a `MinMax`'s).
        let mut counts = ProbeCounts::Narrow([0; 6]);
        counts.set(Count::OneByteProbes, 7);
        counts.set(Count::Idles, u32::from(u16::MAX) - 1);
        counts.count_saturating(Count::Idles);
        assert!(matches!(counts, ProbeCounts::Narrow(_)));
        assert_eq!(counts.get(Count::Idles), u32::from(u16::MAX));
        counts.count_saturating(Count::Idles);
        assert!(matches!(counts, ProbeCounts::Wide(_)));
        assert_eq!((counts.get(Count::Idles), counts.get(Count::OneByteProbes)), (1 << 16, 7));
        counts.set(Count::Intervals, u32::MAX);
        counts.count_saturating(Count::Intervals);
        counts.count(Count::ProbesSent);
        let all = [Count::ProbesSent, Count::ProbesAnswered, Count::OneByteProbes, Count::LongestTrain];
        assert_eq!(all.map(|c| counts.get(c)), [1, 0, 7, 0]);
        assert_eq!((counts.get(Count::Intervals), counts.get(Count::Idles)), (u32::MAX, 1 << 16));
        // Each count on its own, past the 16 bits.
        for what in [Count::ProbesSent, Count::ProbesAnswered, Count::LongestTrain, Count::Intervals] {
            let mut counts = ProbeCounts::Narrow([3; 6]);
            counts.set(what, u32::from(u16::MAX));
            counts.count(what);
            assert_eq!(counts.get(what), 1 << 16, "{what:?}");
            assert_eq!(counts.get(Count::OneByteProbes), 3, "{what:?}");
        }
    }

    #[test]
    fn a_train_longer_than_16_bits_counts_every_probe() {
        // 65,539 probes in one train, unanswered, then answered: every
        // count of the log handed out is the one sent, past 2^16.
        use crate::flow::PacketClass;
        use crate::flow::wire::*;
        let mut w = Wire::established(1000, 5000);
        let n = (1u32 << 16) + 3;
        let t0 = Timestamp::from_timeval(1_700_000_001, 0);
        let at = |i: u32| PacketRef { frame: 7 + u64::from(i), ts: Timestamp(t0.0 + i64::from(i) * 2_000_000_000) };
        for i in 0..n {
            assert_eq!(w.send_at(at(i), seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe, "probe {i}");
        }
        assert_eq!(w.send_at(at(n), seg(C, ACK, 1011, 5101, 0)), PacketClass::KeepaliveAck);
        let log = w.finish()[0].side(Side::Server).keepalive().clone();
        assert_eq!((log.probes_sent, log.longest_train, log.train.count), (n, n, n));
        assert_eq!((log.probes_answered, log.one_byte_probes), (1, 0));
        assert_eq!((log.interval_observed.count, log.interval_observed.min()), (n - 1, Some(2.0)));
        assert_eq!(log.idle_observed.count, 1);
        assert_eq!(log.train.probes.len(), MAX_PROBES_KEPT);
        assert_eq!(log.train.probes.last().map(|p| (p.at, p.answered_by().get())), Some((at(n - 1), Some(at(n)))));
    }

    #[test]
    fn ttls_and_ip_ids_are_kept_as_the_segments_had_them() {
        let mut side = FlowSide::default();
        assert_eq!((side.ttls(), side.last_ip_id()), (None, None));
        side.note_ttl_and_ip_id(64, Some(7));
        side.note_ttl_and_ip_id(63, Some(8));
        assert_eq!(side.ttls(), Some(Ttls { first: 64, last: 63 }));
        assert_eq!(side.last_ip_id(), Some(8));
        // An IPv6 segment has no identification.
        side.note_ttl_and_ip_id(62, None);
        assert_eq!((side.ttls(), side.last_ip_id()), (Some(Ttls { first: 64, last: 62 }), None));
    }
}
