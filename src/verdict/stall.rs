//! The stall rules: a connection stuck when the capture ended, its data
//! still being retransmitted into a silence, or its receiver's window
//! closed while its peer probes it.

use super::RetransmissionFinding;
use crate::flow::{PacketRef, Side, ZeroWindowSpell};
use crate::time::Timestamp;

/// Why a connection was stuck when the capture ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Stall {
    /// Its data was never acknowledged, and its sender was still
    /// retransmitting with backoff: the peer, or the path to it, is gone.
    Retransmitting(RetransmissionFinding),
    /// A receiver advertised a zero window and kept it closed while its
    /// peer probed: the receiving application stopped reading.
    ZeroWindow(ZeroWindowFinding),
}

/// A zero window that was still closed when the connection was judged.
#[derive(Clone, Debug, PartialEq)]
pub struct ZeroWindowFinding {
    /// The side whose window is closed: its application stopped reading.
    pub receiver: Side,
    /// The first packet of the spell that advertised the zero window.
    pub since: PacketRef,
    /// From `since` to the end of the capture (s).
    pub closed_for_s: f64,
    /// The zero-window probes its peer sent meanwhile.
    pub probes: u32,
    /// Gaps between successive probes (s), from the zero window on: the
    /// persist timer's backoff (RFC 9293 §3.8.6.1; Linux tcp_probe_timer
    /// doubles it up to TCP_RTO_MAX).
    pub probe_gaps_s: Vec<f64>,
    pub first_probe: PacketRef,
    pub last_probe: PacketRef,
}

/// Judges the zero window `receiver` still advertises. None unless its
/// peer probed it: a closed window with nothing waiting to be sent (a
/// server's last segment before it closes, say) stalls nothing.
pub fn zero_window_finding(
    receiver: Side,
    spell: &ZeroWindowSpell,
    capture_end: Timestamp,
) -> Option<ZeroWindowFinding> {
    let (&first_probe, &last_probe) = (spell.probes.first()?, spell.probes.last()?);
    let mut times = vec![spell.since];
    times.extend(spell.probes.iter().copied());
    Some(ZeroWindowFinding {
        receiver,
        since: spell.since,
        closed_for_s: capture_end.secs_since(spell.since.ts).max(0.0),
        probes: spell.probe_count,
        probe_gaps_s: times.windows(2).map(|w| w[1].ts.secs_since(w[0].ts)).collect(),
        first_probe,
        last_probe,
    })
}
