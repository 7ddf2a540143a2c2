//! The reset rule: why the RST that ended a connection was sent.

use super::MIN_IDLE_OF_INTEREST_S;
use crate::flow::{IgnoredReset, Marks, PacketRef, ResetMark, RstReply, Side};
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
    /// Every cause, in the order reports list them. A new cause goes here
    /// too (the `every_cause_is_listed` test fails to compile until it does):
    /// `--only`, `--fail-on` and the reports' counts are driven by it.
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

impl std::fmt::Display for ResetCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ResetCause {
    type Err = String;
    fn from_str(s: &str) -> Result<ResetCause, String> {
        ResetCause::ALL.iter().copied().find(|c| c.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = ResetCause::ALL.iter().map(|c| c.as_str()).collect();
            format!("unknown reset cause '{s}' (expected one of: {})", names.join(", "))
        })
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
    /// For a forged RST: how sure, and why.
    pub confidence: Option<Confidence>,
    pub signs: Vec<ForgerySign>,
    /// The last data each side had sent before the RST.
    pub peer_data_before: Option<PacketRef>,
    pub own_data_before: Option<PacketRef>,
    /// Peer-lost-state rests on the RST's shape alone: the no-socket answer
    /// to the peer's segment it follows ([`RstReply::ToAcked`]).
    pub no_socket_reply: bool,
    /// The connection's packet before it: what it answered, if it answered anything.
    pub follows: PacketRef,
    /// It acknowledged less than the peer had sent: the peer was still
    /// sending, and its later data had not arrived.
    pub peer_still_sending: bool,
    /// A client's RST at once after its peer's prompt answer to its own
    /// data: a reaction to the answer, not the answer left unread.
    pub after_answer_to_own_data: bool,
}

/// A RST that did not end the connection: its supposed sender went on
/// with it afterwards ([`IgnoredReset`]), so it was injected.
#[derive(Clone, Debug, PartialEq)]
pub struct InjectedReset {
    /// The side whose name it carried.
    pub sender: Side,
    pub rst: PacketRef,
    /// The real host's packet after it.
    pub continued_by: PacketRef,
    /// Hops from the capture point to whoever sent the RST, and to the real host.
    pub injector_hops: u8,
    pub host_hops: u8,
    /// What else the wire shows of the forgery.
    pub signs: Vec<ForgerySign>,
}

/// Signs of a forged RST that the wire shows (Weaver, Sommer and Paxson,
/// "Detecting Forged TCP Reset Packets", NDSS 2009: TTL, IP ID, sequence and
/// acknowledgment numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForgerySign {
    /// Its TTL is not that of the host's own packets.
    TtlDiffers,
    /// Its IP ID is that of the peer's packet it reacted to: built from a copy.
    IpIdOfPeer,
    /// Its IP ID is far from the host's own sequence of IDs.
    IpIdOutOfSequence,
    /// It acknowledges the peer's SYN's own sequence number: a host
    /// answering a SYN acknowledges one past it (RFC 9293 §3.10.7.1).
    AckIsSynSequence,
}

/// How far after the host's last IP ID its next packet's may be and still
/// be in its sequence (a per-connection or global counter moves by the
/// packets sent meanwhile).
const IP_ID_STEP_MAX: u16 = 256;

/// Judges a RST its sender went on after.
pub fn injected_reset(sender: Side, ignored: &IgnoredReset) -> InjectedReset {
    let rst = &ignored.rst;
    let mut signs = Vec::new();
    if rst.ttl != ignored.host_ttl {
        signs.push(ForgerySign::TtlDiffers);
    }
    if let (Some(id), Some(peer)) = (rst.ip_id, rst.peer_ip_id_before)
        && id != 0
        && id == peer
    {
        signs.push(ForgerySign::IpIdOfPeer);
    } else if let (Some(id), Some(before)) = (rst.ip_id, rst.sender_ip_id_before)
        && id.wrapping_sub(before) > IP_ID_STEP_MAX
    {
        signs.push(ForgerySign::IpIdOutOfSequence);
    }
    if rst.ack().is_some() && rst.ack() == rst.peer_syn_seq() {
        signs.push(ForgerySign::AckIsSynSequence);
    }
    InjectedReset {
        sender,
        rst: rst.at,
        continued_by: ignored.continued_by,
        injector_hops: hops(rst.ttl),
        host_hops: hops(ignored.host_ttl),
        signs,
    }
}

/// How sure a forged-RST finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// A TTL two or more hops off the host's own packets, or one hop and
    /// another sign (an IP ID out of the host's sequence).
    Likely,
    /// A TTL one hop off and nothing else: a route that changed by one hop,
    /// or a load balancer's other leg, gives the same.
    Possible,
}

/// The usual initial TTLs: a packet seen with TTL t left its host with the
/// smallest of these that is at least t.
fn hops(ttl: u8) -> u8 {
    let initial = [32u8, 64, 128, 255].into_iter().find(|&i| i >= ttl).unwrap_or(255);
    initial - ttl
}

/// Judges the RST `rst` that `sender` sent. `me` and `peer` are the marks of
/// the sender and its peer; `answered_probe` whether the RST answered the
/// peer's keepalive probe.
pub fn reset_finding(sender: Side, rst: &ResetMark, me: &Marks, peer: &Marks, answered_probe: bool) -> ResetFinding {
    let idle_before_s = rst.idle_before_s;
    // Whether the sender had sent anything but RSTs before this one (its
    // RSTs leave no TTL mark: copies of one RST captured again a hop
    // further, as `-i any` on a router does, are still only RSTs; nDPI
    // rtsp.pcap, frames 293-296).
    let sent_other_packets = rst.sender_ttl_before.is_some();
    let mut finding = ResetFinding {
        sender,
        cause: ResetCause::Abort,
        rst: rst.at,
        idle_before_s,
        injector_hops: None,
        host_hops: None,
        confidence: None,
        signs: Vec::new(),
        peer_data_before: rst.peer_payload_before.get(),
        own_data_before: rst.sender_payload_before.get(),
        no_socket_reply: false,
        follows: rst.follows,
        peer_still_sending: rst.peer_data_in_flight,
        after_answer_to_own_data: false,
    };
    // REFUSED: the RST is all that came from that side, and it answers a
    // SYN, or any segment without ACK: a closed port answers a FIN, NULL or
    // Xmas scan probe with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> as it
    // answers a SYN (RFC 793 p.65 and RFC 9293 §3.10.7.1: "If the
    // connection does not exist (CLOSED) ... a reset is sent"; nmap's
    // FIN/NULL/Xmas scans read a closed port from it). Nothing was established.
    if !sent_other_packets && ((peer.syn.is_some() && me.syn.is_none()) || rst.reply == RstReply::ToUnacked) {
        finding.cause = ResetCause::Refused;
        return finding;
    }
    // FORGED BY A MIDDLEBOX: the host's own packets just before the RST
    // arrive with another TTL. Compared with the nearest, not the first: a
    // SYN proxy may answer the handshake from elsewhere (nDPI alexa-app,
    // stream 70: SYN-ACK at TTL 39, data and RST at 231). One hop alone is
    // not proof (a route that changed, another leg of a load balancer):
    // "possible", unless the IP ID is out of the host's sequence too (a
    // firewall's REJECT sends ID 0: fixtures/rst-middlebox.pcap).
    if let Some(before) = rst.sender_ttl_before
        && sent_other_packets
        && before != rst.ttl
    {
        finding.cause = ResetCause::Middlebox;
        finding.injector_hops = Some(hops(rst.ttl));
        finding.host_hops = Some(hops(before));
        finding.signs.push(ForgerySign::TtlDiffers);
        if let (Some(id), Some(before_id)) = (rst.ip_id, rst.sender_ip_id_before)
            && id.wrapping_sub(before_id) > IP_ID_STEP_MAX
        {
            finding.signs.push(ForgerySign::IpIdOutOfSequence);
        }
        let one_hop = before.abs_diff(rst.ttl) == 1;
        finding.confidence =
            Some(if one_hop && finding.signs.len() == 1 { Confidence::Possible } else { Confidence::Likely });
        return finding;
    }
    // A host that lost the connection answers with a stateless RST: it lacks
    // the timestamp option both SYNs negotiated, or it answers a keepalive probe.
    let negotiated_ts = me.syn_timestamps && peer.syn_timestamps;
    // Not stateless, though: a RST with the ACK flag whose IP ID continues
    // the sender's own sequence came from the live connection (an abort). A
    // host without the connection answers a segment that carries ACK with
    // <SEQ=SEG.ACK><CTL=RST>, no ACK flag (RFC 9293 §3.10.7.1), and its
    // IP ID has nothing to do with the lost socket's (zeek
    // rst-inject-rae.pcap: RST,ACK 7 with IP ID 0x8014 after 6's 0x8013).
    let from_the_live_connection = rst.ack().is_some()
        && matches!((rst.ip_id, rst.sender_ip_id_before),
            (Some(id), Some(before)) if id != 0 && before != 0 && id.wrapping_sub(before) <= IP_ID_STEP_MAX);
    // And a stateless RST answers something: the peer's packet just before
    // it. One that follows the sender's own packets answers nothing: its
    // own stack dropped the connection (nDPI signal.pcap, frames 168-170:
    // an iPhone's bare RSTs on three idle connections within 32 µs, 13 s
    // after its own last ACKs, as it changed networks).
    let answers_peer = rst.reply != RstReply::Unprompted;
    let stateless = negotiated_ts && !rst.has_timestamp && !from_the_live_connection && answers_peer;
    if answered_probe || (stateless && idle_before_s >= MIN_IDLE_OF_INTEREST_S) {
        finding.cause = ResetCause::PeerLostState;
        return finding;
    }
    // NO SOCKET. A RST without ACK, window 0, whose sequence number is the
    // ack of the peer's segment it promptly follows is the answer of a host
    // that has no connection for that segment (RFC 9293 §3.10.7.1; Linux
    // tcp_v4_send_reset with no socket; see `RstReply`); a live socket that
    // aborts sends RST,ACK (tcp_send_active_reset). Not after the sender's own FIN: a
    // closed socket answers what arrives after the close the same way
    // (Linux tcp_rcv_state_process: data after shutdown → tcp_reset), and
    // the close is the story (nDPI googledns_android10.pcap, RST 158: the
    // phone answers the server's FIN 157 with it, no socket left).
    if rst.reply == RstReply::ToAcked && me.fin.is_none() {
        finding.cause = ResetCause::PeerLostState;
        finding.no_socket_reply = true;
        return finding;
    }
    // CLOSED WITH UNREAD DATA. A stack that closes a socket whose receive
    // queue still holds data sends RST instead of FIN, in the close() call
    // itself (RFC 2525 §2.17; Linux tcp_close(): "data_was_unread" →
    // tcp_send_active_reset; Windows and the BSDs do the same). So the RST
    // comes promptly after the peer's last data, which got no reply, from a
    // side that had not closed before. A RST long after that data (an
    // application that waited, then gave up) or after the sender's own FIN
    // is some other abort. So is a RST that acknowledges less than the peer
    // had sent: the peer was still sending, its later data still on the way
    // (capture order is not arrival order: what the RST acknowledges is
    // what had arrived), and the sender aborted a transfer in progress, not
    // a request it left unread (suricata-verify bug-2769: RST,ACK 30 acks up
    // to 23, which the client had ACKed; 26-29 were in flight).
    //
    // Nor is the answer to the sender's own request left unread: a client
    // that sent data and got its peer's answer promptly was waiting for it,
    // and a RST at once after it is its reaction to that answer, read: an
    // abortive close (arkime wireshark-smb-on-windows10.pcap, 45-47: the
    // Windows SMB client's logon request, STATUS_LOGON_FAILURE 1.9 ms later,
    // RST,ACK 0.3 ms after that, and the logon retried on a new connection
    // 19 ms later). A server's RST after a client's data is the other way
    // round: a new request it did not read (nDPI rtsp.pcap, 381 and 388).
    let (peer_payload_before, sender_payload_before) = (rst.peer_payload_before.get(), rst.sender_payload_before.get());
    let unread = peer_payload_before.filter(|p| sender_payload_before.is_none_or(|m| m.frame < p.frame));
    let answer_to_own = sender == Side::Client
        && matches!((unread, sender_payload_before),
            (Some(answer), Some(request)) if answer.ts.secs_since(request.ts) <= ANSWER_WITHIN_S);
    if let Some(data) = unread
        && me.fin.is_none()
        && !rst.peer_data_in_flight
        && rst.at.ts.secs_since(data.ts) <= UNREAD_DATA_PROMPT_S
    {
        if answer_to_own {
            finding.after_answer_to_own_data = true;
        } else {
            finding.cause = ResetCause::AbortUnreadData;
        }
    }
    finding
}

/// The peer's data at most this long after the sender's own is its answer
/// to it: a round trip and the peer's handling (the SMB server's
/// STATUS_LOGON_FAILURE came 1.9 ms after the request). Later data the
/// peer sent on its own.
const ANSWER_WITHIN_S: f64 = 0.5;

/// A RST at most this long after the peer's last data can be the close() of
/// a socket with that data unread: an application reads a request, decides
/// and closes within its handling of it. Later, it had waited for something.
pub const UNREAD_DATA_PROMPT_S: f64 = 1.0;
