// Unit tests for the classification rules, with hand-built segments.
use super::*;
use crate::decode::TcpFlags;
use crate::verdict::{Bound, EndReason, judge};

const C: &str = "10.0.0.1:40000";
const S: &str = "10.0.0.2:7777";
const ACK: u8 = TcpFlags::ACK;
const SYN: u8 = TcpFlags::SYN;
const FIN: u8 = TcpFlags::FIN;
const RST: u8 = TcpFlags::RST;

/// A tiny wire: segments in, classes and finished connections out.
struct Wire {
    table: FlowTable,
    frame: u64,
    done: Vec<Connection>,
}

struct Seg {
    from: &'static str,
    flags: u8,
    seq: u32,
    ack: u32,
    len: u32,
    window: u16,
    sack: Option<(u32, u32)>,
    ttl: u8,
    timestamps: bool,
}

fn seg(from: &'static str, flags: u8, seq: u32, ack: u32, len: u32) -> Seg {
    Seg { from, flags, seq, ack, len, window: 501, sack: None, ttl: 64, timestamps: false }
}

impl Seg {
    fn window(mut self, w: u16) -> Seg {
        self.window = w;
        self
    }
    fn sack(mut self, l: u32, r: u32) -> Seg {
        self.sack = Some((l, r));
        self
    }
    fn ttl(mut self, ttl: u8) -> Seg {
        self.ttl = ttl;
        self
    }
    fn timestamps(mut self) -> Seg {
        self.timestamps = true;
        self
    }
}

impl Wire {
    fn new() -> Wire {
        Wire { table: FlowTable::new(), frame: 0, done: Vec::new() }
    }

    fn send(&mut self, t: f64, s: Seg) -> PacketClass {
        self.frame += 1;
        let to = if s.from == C { S } else { C };
        let segment = Segment {
            vlan: Default::default(),
            src: s.from.parse().unwrap(),
            dst: to.parse().unwrap(),
            seq: SeqNumber(s.seq),
            ack: SeqNumber(s.ack),
            flags: TcpFlags(s.flags),
            window: s.window,
            payload_len: s.len,
            ttl: s.ttl,
            ip_id: None,
            has_timestamp: s.timestamps,
            first_sack: s.sack.map(|(l, r)| (SeqNumber(l), SeqNumber(r))),
        };
        let at = PacketRef { frame: self.frame, ts: Timestamp::from_secs_f64(t) };
        let done = &mut self.done;
        self.table.observe(at, &segment, &mut |c| done.push(*c)).class
    }

    /// Ends the capture and returns every connection, in order.
    fn finish(mut self) -> Vec<Connection> {
        let done = &mut self.done;
        self.table.drain(&mut |c| done.push(*c));
        self.done
    }

    /// Handshake plus one request/response; client ISN `c`, server ISN `s`.
    /// Afterwards the client's next seq is c+11, the server's s+101.
    fn established(c: u32, s: u32) -> Wire {
        let mut w = Wire::new();
        assert_eq!(w.send(0.0, seg(C, SYN, c, 0, 0)), PacketClass::Syn);
        assert_eq!(w.send(0.001, seg(S, SYN | ACK, s, c.wrapping_add(1), 0)), PacketClass::SynAck);
        assert_eq!(w.send(0.002, seg(C, ACK, c.wrapping_add(1), s.wrapping_add(1), 0)), PacketClass::Ack);
        assert_eq!(w.send(0.003, seg(C, ACK, c.wrapping_add(1), s.wrapping_add(1), 10)), PacketClass::Data);
        assert_eq!(w.send(0.004, seg(S, ACK, s.wrapping_add(1), c.wrapping_add(11), 100)), PacketClass::Data);
        assert_eq!(w.send(0.005, seg(C, ACK, c.wrapping_add(11), s.wrapping_add(101), 0)), PacketClass::Ack);
        w
    }
}

#[test]
fn linux_probe_and_its_ack() {
    let mut w = Wire::established(1000, 5000);
    // Server probes: 0 bytes, seq one below what the client acknowledged (5101).
    assert_eq!(w.send(21.405, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
    assert_eq!(w.send(21.406, seg(C, ACK, 1011, 5101, 0)), PacketClass::KeepaliveAck);
    // Plain data afterwards is data again.
    assert_eq!(w.send(30.0, seg(C, ACK, 1011, 5101, 5)), PacketClass::Data);
    let conns = w.finish();
    let server = conns[0].side(Side::Server);
    assert_eq!(server.keepalive().probes_sent, 1);
    assert_eq!(server.keepalive().probes_answered, 1);
    // Idle measured from the last packet the server received (the client's ACK at 0.005 s).
    let idle = server.keepalive().idle_observed.min.unwrap();
    assert!((idle - 21.4).abs() < 1e-9, "{idle}");
    assert_eq!(conns[0].side(Side::Client).keepalive().probes_sent, 0);
}

#[test]
fn keepalive_kill_20_2_2() {
    let mut w = Wire::established(1000, 5000);
    assert_eq!(w.send(21.405, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
    assert_eq!(w.send(23.421, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
    assert_eq!(w.send(25.437, seg(S, RST | ACK, 5101, 1011, 0)), PacketClass::Rst);
    let end = Timestamp::from_secs_f64(25.437);
    let conns = w.finish();
    let v = judge(&conns[0], end);
    assert_eq!(v.end_reason, EndReason::KeepaliveTimeout);
    assert_eq!(v.ended_by, Some(Side::Server));
    let k = &v.keepalive[0];
    assert_eq!((k.probes_sent, k.probes_answered, k.unanswered_at_end), (2, 0, 2));
    assert_eq!(k.idle.unwrap().value, 20);
    assert_eq!(k.interval.unwrap().value, 2);
    assert_eq!(k.probes, Some((2, Bound::Exact)));
    assert!(k.gave_up);
}

#[test]
fn capture_ending_mid_train_gives_a_lower_bound() {
    let mut w = Wire::established(1000, 5000);
    for i in 0..3 {
        w.send(10.0 + 3.0 * i as f64, seg(S, ACK, 5100, 1011, 0));
    }
    let conns = w.finish();
    let v = judge(&conns[0], Timestamp::from_secs_f64(16.5));
    assert_eq!(v.end_reason, EndReason::Open);
    assert_eq!(v.keepalive[0].probes, Some((3, Bound::AtLeast)));
    assert!(!v.keepalive[0].gave_up);
}

#[test]
fn first_probe_recognised_when_capture_starts_mid_idle() {
    let mut w = Wire::new();
    // The first packet of the capture: nothing tells it is a probe yet.
    assert_eq!(w.send(0.0, seg(S, ACK, 5100, 1011, 0)), PacketClass::Undecided);
    // The client's ACK for one past it does: a 0-byte segment is never ACKed otherwise.
    assert_eq!(w.send(0.001, seg(C, ACK, 1011, 5101, 0)), PacketClass::Ack);
    // The next probe follows the ordinary rule.
    assert_eq!(w.send(60.0, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
    assert_eq!(w.send(60.001, seg(C, ACK, 1011, 5101, 0)), PacketClass::KeepaliveAck);
    let conns = w.finish();
    let ka = conns[0].side(Side::Server).keepalive();
    assert_eq!((ka.probes_sent, ka.probes_answered), (2, 2));
    assert_eq!(ka.first_probe.unwrap().frame, 1);
}

#[test]
fn unanswered_probes_at_capture_start_are_recognised_by_repetition() {
    let mut w = Wire::new();
    assert_eq!(w.send(0.0, seg(S, ACK, 5100, 1011, 0)), PacketClass::Undecided);
    assert_eq!(w.send(2.0, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
    assert_eq!(w.send(4.0, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
    let conns = w.finish();
    let ka = conns[0].side(Side::Server).keepalive();
    assert_eq!(ka.probes_sent, 3);
    assert_eq!(ka.train.count, 3);
    assert_eq!(ka.interval_observed.count, 2);
}

#[test]
fn a_first_segment_that_is_not_answered_as_a_probe_stays_ordinary() {
    let mut w = Wire::new();
    assert_eq!(w.send(0.0, seg(C, ACK, 1011, 5101, 0)), PacketClass::Undecided);
    // The server sends data: no ACK one past the client's segment.
    assert_eq!(w.send(0.1, seg(S, ACK, 5101, 1011, 50)), PacketClass::Data);
    let conns = w.finish();
    assert_eq!(conns[0].side(Side::Client).keepalive().probes_sent, 0);
}

#[test]
fn zero_window_probes_are_not_keepalives() {
    let mut w = Wire::established(1000, 5000);
    // The client's window closes.
    assert_eq!(w.send(1.0, seg(C, ACK, 1011, 5101, 0).window(0)), PacketClass::Ack);
    // Linux zero-window probe: exactly the shape of a keepalive.
    assert_eq!(w.send(1.2, seg(S, ACK, 5100, 1011, 0)), PacketClass::ZeroWindowProbe);
    // Windows zero-window probe: one new byte at SND.UNA.
    assert_eq!(w.send(1.6, seg(S, ACK, 5101, 1011, 1)), PacketClass::ZeroWindowProbe);
    // The window opens; the same shape is a keepalive again.
    assert_eq!(w.send(2.0, seg(C, ACK, 1011, 5101, 0).window(100)), PacketClass::Ack);
    assert_eq!(w.send(9.0, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
    let conns = w.finish();
    let server = conns[0].side(Side::Server);
    assert_eq!(server.zero_window_probes, 2);
    assert_eq!(server.keepalive().probes_sent, 1);
}

#[test]
fn unacknowledged_one_byte_retransmission_is_not_a_probe() {
    let mut w = Wire::established(1000, 5000);
    assert_eq!(w.send(1.0, seg(S, ACK, 5101, 1011, 1)), PacketClass::Data);
    // The client never acknowledges byte 5101; the server sends it again.
    assert_eq!(w.send(1.2, seg(S, ACK, 5101, 1011, 1)), PacketClass::Retransmission);
    assert_eq!(w.send(1.6, seg(S, ACK, 5101, 1011, 1)), PacketClass::Retransmission);
    let conns = w.finish();
    let server = conns[0].side(Side::Server);
    assert_eq!(server.keepalive().probes_sent, 0);
    assert_eq!(server.retransmissions, 2);
    let run = server.unacked.as_ref().unwrap();
    assert_eq!(run.first_sent.frame, 7);
    assert_eq!(run.count, 2);
}

#[test]
fn windows_one_byte_probe() {
    let mut w = Wire::established(1000, 5000);
    // The byte before SND.UNA, sent again; the receiver ACKs with a D-SACK.
    assert_eq!(w.send(30.0, seg(C, ACK, 1010, 5101, 1)), PacketClass::KeepaliveProbe);
    assert_eq!(w.send(30.001, seg(S, ACK, 5101, 1011, 0).sack(1010, 1011)), PacketClass::KeepaliveAck);
    let conns = w.finish();
    let client = conns[0].side(Side::Client);
    assert_eq!(client.keepalive().one_byte_probes, 1);
    assert_eq!(client.keepalive().probes_answered, 1);
    assert_eq!(client.retransmissions, 0);
}

#[test]
fn one_byte_probe_at_capture_start_needs_the_dsack() {
    let mut w = Wire::new();
    assert_eq!(w.send(0.0, seg(C, ACK, 1010, 5101, 1)), PacketClass::Undecided);
    w.send(0.001, seg(S, ACK, 5101, 1011, 0).sack(1010, 1011));
    let mut w2 = Wire::new();
    assert_eq!(w2.send(0.0, seg(C, ACK, 1010, 5101, 1)), PacketClass::Undecided);
    // The same ACK without D-SACK: could be new data acknowledged.
    w2.send(0.001, seg(S, ACK, 5101, 1011, 0));
    assert_eq!(w.finish()[0].side(Side::Client).keepalive().probes_sent, 1);
    assert_eq!(w2.finish()[0].side(Side::Client).keepalive().probes_sent, 0);
}

#[test]
fn probes_across_sequence_wrap_around() {
    // The server's ISN sits just below 2^32: after 101 bytes its SND.UNA is 0x54.
    let s_isn = u32::MAX - 10;
    let mut w = Wire::established(1000, s_isn);
    let una = s_isn.wrapping_add(101);
    assert_eq!(una, 90);
    assert_eq!(w.send(8.0, seg(S, ACK, una.wrapping_sub(1), 1011, 0)), PacketClass::KeepaliveProbe);
    // And a probe exactly at the wrap: SND.UNA = 0, probe seq = 2^32 - 1.
    let mut w = Wire::established(1000, u32::MAX - 100);
    assert_eq!(w.send(8.0, seg(S, ACK, u32::MAX, 1011, 0)), PacketClass::KeepaliveProbe);
}

#[test]
fn peer_reset_answers_a_probe() {
    let mut w = Wire::established(1000, 5000);
    w.send(10.0, seg(S, ACK, 5100, 1011, 0));
    assert_eq!(w.send(10.001, seg(C, RST, 5101, 0, 0)), PacketClass::Rst);
    let conns = w.finish();
    let v = judge(&conns[0], Timestamp::from_secs_f64(10.001));
    assert_eq!(v.end_reason, EndReason::Reset);
    assert_eq!(v.ended_by, Some(Side::Client));
    assert!(v.keepalive[0].reset_by_peer.is_some());
    assert_eq!(v.keepalive[0].probes_answered, 0);
}

#[test]
fn orderly_close_then_reuse_of_the_four_tuple() {
    let mut w = Wire::established(1000, 5000);
    assert_eq!(w.send(1.0, seg(C, FIN | ACK, 1011, 5101, 0)), PacketClass::Fin);
    assert_eq!(w.send(1.001, seg(S, FIN | ACK, 5101, 1012, 0)), PacketClass::Fin);
    w.send(1.002, seg(C, ACK, 1012, 5102, 0));
    // Same ports, new SYN: a new connection, and the old one is handed out at once.
    w.send(2.0, seg(C, SYN, 777, 0, 0));
    assert_eq!(w.done.len(), 1);
    let conns = w.finish();
    assert_eq!(conns.len(), 2);
    assert_eq!(judge(&conns[0], Timestamp::from_secs_f64(2.0)).end_reason, EndReason::Closed);
    assert_eq!(conns[1].side(Side::Client).isn, Some(SeqNumber(777)));
}

#[test]
fn finished_connections_leave_after_lingering() {
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(C, RST, 1011, 0, 0));
    w.table.expire(Timestamp::from_secs_f64(5.0), &mut |_| panic!("too early"));
    let mut out = Vec::new();
    w.table.expire(Timestamp::from_secs_f64(1.0 + LINGER_SECS), &mut |c| out.push(c));
    assert_eq!(out.len(), 1);
    assert!(w.table.is_empty());
}

#[test]
fn mid_stream_roles_follow_the_server_port() {
    let mut w = Wire::new();
    w.send(0.0, seg(S, ACK, 5101, 1011, 10));
    let conns = w.finish();
    assert_eq!(conns[0].server(), S.parse().unwrap());
    assert_eq!(conns[0].roles, RoleSource::PortHeuristic);
    assert!(server_port_first(443, 51000));
    assert!(server_port_first(8080, 40000));
    assert!(!server_port_first(50000, 22));
}

#[test]
fn one_way_pure_acks_are_not_probes() {
    // Only the receiver's direction was captured: empty segments with the same
    // sequence number but a growing acknowledgment number.
    let mut w = Wire::new();
    w.send(0.0, seg(C, ACK, 1011, 5101, 0));
    for (i, ack) in [8061u32, 11021, 13941].into_iter().enumerate() {
        assert_ne!(w.send(0.01 * (i + 1) as f64, seg(C, ACK, 1011, ack, 0)), PacketClass::KeepaliveProbe);
    }
    assert_eq!(w.finish()[0].side(Side::Client).keepalive().probes_sent, 0);
}

#[test]
fn connection_state_stays_small() {
    // Memory grows with concurrent connections: keep each one compact
    // (1,000,000 concurrent connections must fit in 1 GiB with the table).
    let size = std::mem::size_of::<Connection>();
    eprintln!("Connection is {size} bytes");
    assert!(size <= 768, "Connection is {size} bytes");
}

#[test]
fn held_empty_segment_below_the_senders_fin_is_an_unanswered_probe() {
    let mut w = Wire::new();
    assert_eq!(w.send(0.0, seg(C, ACK, 1010, 5101, 0)), PacketClass::Undecided);
    // The same side's FIN one above it, nothing from the peer in between.
    assert_eq!(w.send(0.5, seg(C, FIN | ACK, 1011, 5101, 0)), PacketClass::Fin);
    let conns = w.finish();
    let ka = conns[0].side(Side::Client).keepalive();
    assert_eq!((ka.probes_sent, ka.probes_answered), (1, 0));
}

#[test]
fn resent_fin_is_a_retransmission_and_keeps_the_connection() {
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, FIN | ACK, 5101, 1011, 0));
    w.send(1.001, seg(C, FIN | ACK, 1011, 5101, 0)); // the client's FIN does not ACK the server's
    assert_eq!(w.send(1.3, seg(S, FIN | ACK, 5101, 1012, 0)), PacketClass::Retransmission);
    // 13 s later the server resends again: still the same connection.
    w.table.expire(Timestamp::from_secs_f64(14.0), &mut |_| panic!("handed out while its FIN is unacknowledged"));
    assert_eq!(w.send(14.3, seg(S, FIN | ACK, 5101, 1012, 0)), PacketClass::Retransmission);
    let conns = w.finish();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].side(Side::Server).retransmissions, 2);
}

// ---- verdicts beyond keepalive (issue 3), from hand-built packets

use crate::report::paths::PathAggregator;
use crate::verdict::ResetCause;

fn verdict_at_end(w: Wire, end: f64) -> crate::verdict::Verdict {
    let conns = w.finish();
    judge(&conns[0], Timestamp::from_secs_f64(end))
}

#[test]
fn rst_with_a_foreign_ttl_is_from_a_middlebox() {
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0));
    w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0).ttl(62));
    w.send(0.002, seg(C, ACK, 1001, 5001, 10));
    w.send(0.003, seg(S, ACK, 5001, 1011, 0).ttl(62));
    // After 300 s of silence the client writes; "the server" resets with TTL 64.
    w.send(300.0, seg(C, ACK, 1011, 5001, 10));
    w.send(300.001, seg(S, RST | ACK, 5001, 1021, 0).ttl(64));
    let v = verdict_at_end(w, 300.001);
    assert_eq!(v.end_reason, EndReason::Reset);
    let r = v.reset.unwrap();
    assert_eq!(r.cause, ResetCause::Middlebox);
    assert_eq!((r.injector_hops, r.host_hops), (Some(0), Some(2)));
    assert!((r.idle_before_s - 299.997).abs() < 1e-6);
    assert!((v.died_after_idle_s.unwrap() - 299.997).abs() < 1e-6);
}

#[test]
fn stateless_rst_after_idle_means_the_peer_lost_the_connection() {
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0).timestamps());
    w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0).timestamps());
    w.send(0.002, seg(C, ACK, 1001, 5001, 10).timestamps());
    w.send(0.003, seg(S, ACK, 5001, 1011, 0).timestamps());
    w.send(60.0, seg(C, ACK, 1011, 5001, 10).timestamps());
    // The rebooted server answers with a RST without timestamps, seq = the ACK it got.
    w.send(60.001, seg(S, RST, 5001, 0, 0));
    let v = verdict_at_end(w, 60.001);
    assert_eq!(v.reset.unwrap().cause, ResetCause::PeerLostState);
}

#[test]
fn rst_to_a_syn_is_refused() {
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0));
    w.send(0.001, seg(S, RST | ACK, 0, 1001, 0));
    assert_eq!(verdict_at_end(w, 0.001).reset.unwrap().cause, ResetCause::Refused);
}

#[test]
fn rst_after_the_peers_unanswered_data_is_an_abort_with_unread_data() {
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(C, ACK, 1011, 5101, 200));
    w.send(1.001, seg(S, RST | ACK, 5101, 1211, 0));
    assert_eq!(verdict_at_end(w, 1.001).reset.unwrap().cause, ResetCause::AbortUnreadData);
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, RST | ACK, 5101, 1011, 0));
    assert_eq!(verdict_at_end(w, 1.0).reset.unwrap().cause, ResetCause::Abort);
}

#[test]
fn silent_sender_after_backoff_is_a_retransmission_timeout() {
    let mut w = Wire::established(1000, 5000);
    // Data at 10 s, resent after 0.2, 0.4, 0.8 s (backoff), then nothing.
    for t in [10.0, 10.2, 10.6, 11.4] {
        w.send(t, seg(C, ACK, 1011, 5101, 50));
    }
    // The capture goes on until 20 s: more than twice the last gap.
    let v = verdict_at_end(w, 20.0);
    assert_eq!(v.end_reason, EndReason::RetransmissionTimeout);
    let r = v.retransmission.unwrap();
    assert_eq!(r.sender, Side::Client);
    assert_eq!(r.first_unacked.frame, 7);
    assert_eq!(r.retransmissions, 3);
    let gaps: Vec<f64> = r.backoff_s.iter().map(|g| (g * 1000.0).round() / 1000.0).collect();
    assert_eq!(gaps, vec![0.2, 0.4, 0.8]);
    // tcp_retries2=3 gives up 3.0 s after the first transmission: after 1.4 s, by 3.0 s.
    assert_eq!(r.retries2, Some(3));
    assert!((v.died_after_idle_s.unwrap() - 9.995).abs() < 1e-6);
}

#[test]
fn capture_ending_during_the_backoff_is_not_a_timeout_yet() {
    let mut w = Wire::established(1000, 5000);
    for t in [10.0, 10.2, 10.6, 11.4] {
        w.send(t, seg(C, ACK, 1011, 5101, 50));
    }
    let v = verdict_at_end(w, 11.5);
    assert_eq!(v.end_reason, EndReason::Open);
    assert!(!v.retransmission.unwrap().gave_up);
}

#[test]
fn fin_without_the_peers_fin_is_half_closed() {
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(C, FIN | ACK, 1011, 5101, 0));
    w.send(1.001, seg(S, ACK, 5101, 1012, 0));
    let v = verdict_at_end(w, 6.0);
    assert_eq!(v.end_reason, EndReason::HalfClosed);
    assert_eq!(v.ended_by, Some(Side::Client));
    let (side, open_for) = v.half_closed.unwrap();
    assert_eq!(side, Side::Client);
    assert!((open_for - 5.0).abs() < 1e-9);
}

#[test]
fn regular_small_messages_are_a_heartbeat() {
    let mut w = Wire::established(1000, 5000);
    let (mut cseq, mut sseq) = (1011u32, 5101u32);
    for i in 1..=6 {
        let t = 3.0 * i as f64;
        w.send(t, seg(C, ACK, cseq, sseq, 5));
        cseq += 5;
        w.send(t + 0.001, seg(S, ACK, sseq, cseq, 5));
        sseq += 5;
    }
    let v = verdict_at_end(w, 20.0);
    let hb = v.heartbeat.unwrap();
    // Both sides send small messages at the same period; the client's come first.
    assert_eq!(hb.from, Side::Client);
    assert!((hb.period_s - 3.0).abs() < 0.01, "{}", hb.period_s);
    // Irregular small messages are not.
    let mut w = Wire::established(1000, 5000);
    let mut cseq = 1011u32;
    for t in [1.0, 1.5, 7.0, 7.2, 30.0] {
        w.send(t, seg(C, ACK, cseq, 5101, 5));
        cseq += 5;
    }
    assert!(verdict_at_end(w, 31.0).heartbeat.is_none());
}

#[test]
fn path_timeout_is_bounded_by_survived_and_fatal_silences() {
    let mut paths = PathAggregator::default();
    // One connection survives a 100 s silence...
    let mut w = Wire::established(1000, 5000);
    w.send(100.0, seg(C, ACK, 1011, 5101, 10));
    w.send(100.001, seg(S, ACK, 5101, 1021, 10));
    let conns = w.finish();
    paths.add(&conns[0], &judge(&conns[0], Timestamp::from_secs_f64(100.001)), 0);
    // ...another dies after 400 s (a forged RST).
    let mut w = Wire::established(1000, 5000);
    w.send(400.0, seg(C, ACK, 1011, 5101, 10));
    w.send(400.001, seg(S, RST | ACK, 5101, 1021, 0).ttl(50));
    let conns = w.finish();
    paths.add(&conns[0], &judge(&conns[0], Timestamp::from_secs_f64(400.001)), 0);
    let report = paths.paths();
    assert_eq!(report.len(), 1);
    let [low, high] = report[0].idle_timeout_between_s.unwrap();
    assert!((low - 99.995).abs() < 1e-3 && (high - 399.995).abs() < 1e-3, "{low} {high}");
    assert_eq!(report[0].recommended_keepalive_idle_s, Some(49));
}

#[test]
fn several_open_connections_from_one_client_are_a_reconnect_storm() {
    let mut paths = PathAggregator::default();
    for port in 0..4u16 {
        let conns = Wire::established(1000, 5000).finish();
        let mut conn = conns.into_iter().next().unwrap();
        conn.sides[0].addr.set_port(41000 + port);
        let v = judge(&conn, Timestamp::from_secs_f64(1.0));
        assert_eq!(v.end_reason, EndReason::Open);
        paths.add(&conn, &v, 0);
    }
    let storms = paths.storms();
    assert_eq!(storms.len(), 1);
    assert_eq!(storms[0].still_open, 4);
}
