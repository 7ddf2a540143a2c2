//! The reset rule: why the RST that ended a connection was sent.

use super::MIN_IDLE_OF_INTEREST_S;
use crate::flow::{Marks, PacketRef, ResetMark, Side};
use serde::Serialize;

/// Why a RST was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetCause {
    /// RST to a SYN: nothing listening, or a firewall rejecting.
    Refused,
    /// The RST's TTL / hop limit differs from that host's other packets: a
    /// firewall or NAT box forged it.
    Middlebox,
    /// A stateless RST from a host that no longer had the connection
    /// (rebooted, or its state timed out), answering a probe or a segment after an idle period.
    PeerLostState,
    /// The application closed the socket right after the peer's last data,
    /// which it never answered: a close with unread data sends RST, not FIN.
    AbortUnreadData,
    /// The application (or the stack) aborted the connection.
    Abort,
}

impl ResetCause {
    pub const ALL: [ResetCause; 5] = [
        ResetCause::Refused,
        ResetCause::Middlebox,
        ResetCause::PeerLostState,
        ResetCause::AbortUnreadData,
        ResetCause::Abort,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResetCause::Refused => "refused",
            ResetCause::Middlebox => "middlebox",
            ResetCause::PeerLostState => "peer-lost-state",
            ResetCause::AbortUnreadData => "abort-unread-data",
            ResetCause::Abort => "abort",
        }
    }
}

/// What the RST that ended a connection shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ResetFinding {
    pub sender: Side,
    pub cause: ResetCause,
    pub rst: PacketRef,
    /// Silence before the RST (or before the segment it answered), seconds.
    pub idle_before_s: f64,
    /// For a forged RST: hops from the capture point to the injector, and to the real host.
    pub injector_hops: Option<u8>,
    pub host_hops: Option<u8>,
}

/// The usual initial TTLs: a packet seen with TTL t left its host with the
/// smallest of these that is at least t.
fn hops(ttl: u8) -> u8 {
    let initial = [32u8, 64, 128, 255].into_iter().find(|&i| i >= ttl).unwrap_or(255);
    initial - ttl
}

/// Judges the RST `rst` that `sender` sent. `me` and `peer` are the marks of
/// the sender and its peer; `sent_other_packets` whether the sender sent
/// anything but the RST; `answered_probe` whether the RST answered the
/// peer's keepalive probe.
pub fn reset_finding(
    sender: Side,
    rst: &ResetMark,
    me: &Marks,
    peer: &Marks,
    sent_other_packets: bool,
    answered_probe: bool,
) -> ResetFinding {
    let idle_before_s = rst.idle_before_s;
    let mut finding = ResetFinding {
        sender,
        cause: ResetCause::Abort,
        rst: rst.at,
        idle_before_s,
        injector_hops: None,
        host_hops: None,
    };
    // Refused: the RST answers a SYN (nothing else came from that side).
    if peer.syn.is_some() && me.syn.is_none() && !sent_other_packets {
        finding.cause = ResetCause::Refused;
        return finding;
    }
    // Forged by a middlebox: the host's own packets arrive with another TTL.
    if let Some(first) = me.first_ttl
        && sent_other_packets
        && first != rst.ttl
    {
        finding.cause = ResetCause::Middlebox;
        finding.injector_hops = Some(hops(rst.ttl));
        finding.host_hops = Some(hops(first));
        return finding;
    }
    // A host that lost the connection answers with a stateless RST: it lacks
    // the timestamp option both SYNs negotiated, or it answers a keepalive probe.
    let negotiated_ts = me.syn_timestamps && peer.syn_timestamps;
    let stateless = negotiated_ts && !rst.has_timestamp;
    if answered_probe || (stateless && idle_before_s >= MIN_IDLE_OF_INTEREST_S) {
        finding.cause = ResetCause::PeerLostState;
        return finding;
    }
    // CLOSED WITH UNREAD DATA. A stack that closes a socket whose receive
    // queue still holds data sends RST instead of FIN, in the close() call
    // itself (RFC 2525 §2.17; Linux tcp_close(): "data_was_unread" →
    // tcp_send_active_reset; Windows and the BSDs do the same). So the RST
    // comes promptly after the peer's last data, which got no reply, from a
    // side that had not closed before. A RST long after that data (an
    // application that waited, then gave up) or after the sender's own FIN
    // is some other abort.
    let unread = peer.last_payload.filter(|p| me.last_payload.is_none_or(|m| m.frame < p.frame));
    if let Some(data) = unread
        && me.fin.is_none()
        && rst.at.ts.secs_since(data.ts) <= UNREAD_DATA_PROMPT_S
    {
        finding.cause = ResetCause::AbortUnreadData;
    }
    finding
}

/// A RST at most this long after the peer's last data can be the close() of
/// a socket with that data unread: an application reads a request, decides
/// and closes within its handling of it. Later, it had waited for something.
pub const UNREAD_DATA_PROMPT_S: f64 = 1.0;
