// Unit tests for the verdict rules: whole connections from hand-built
// segments through `judge`, and single rules on hand-built logs.
use super::reset::UNREAD_DATA_PROMPT_S;
use super::*;
use crate::flow::wire::*;
use crate::flow::{
    KeepaliveLog, Marks, MaybePacket, PacketClass, PacketRef, Probe, ResetMark, RstReply, Side, Train, Ttls,
};
use crate::neighbours::NeighbourLog;
use crate::seq::SeqNumber;
use crate::time::Timestamp;

#[test]
fn names_round_trip() {
    for r in EndReason::ALL {
        assert_eq!(r.as_str().parse::<EndReason>(), Ok(r));
        assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.as_str()));
    }
    let err = "nope".parse::<EndReason>().unwrap_err();
    assert!(err.contains("keepalive-timeout"), "{err}");
}

#[test]
fn keepalive_kill_20_2_2() {
    let mut w = Wire::established(1000, 5000);
    assert_eq!(w.send(21.405, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
    assert_eq!(w.send(23.421, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
    assert_eq!(w.send(25.437, seg(S, RST | ACK, 5101, 1011, 0)), PacketClass::Rst);
    let end = Timestamp::from_secs_f64(25.437);
    let conns = w.finish();
    let v = judge(&conns[0], end, &NeighbourLog::default());
    assert_eq!(v.reason(), EndReason::KeepaliveTimeout);
    assert_eq!(v.ended_by(), Some(Side::Server));
    let k = v.keepalive()[0];
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
    let v = judge(&conns[0], Timestamp::from_secs_f64(16.5), &NeighbourLog::default());
    assert_eq!(v.reason(), EndReason::Open);
    assert_eq!(v.keepalive()[0].probes, Some((3, Bound::AtLeast)));
    assert!(!v.keepalive()[0].gave_up);
}

#[test]
fn peer_reset_answers_a_probe() {
    let mut w = Wire::established(1000, 5000);
    w.send(10.0, seg(S, ACK, 5100, 1011, 0));
    assert_eq!(w.send(10.001, seg(C, RST, 5101, 0, 0)), PacketClass::Rst);
    let conns = w.finish();
    let v = judge(&conns[0], Timestamp::from_secs_f64(10.001), &NeighbourLog::default());
    assert_eq!(v.reason(), EndReason::Reset);
    assert_eq!(v.ended_by(), Some(Side::Client));
    assert!(v.keepalive()[0].reset_by_peer.is_some());
    assert_eq!(v.keepalive()[0].probes_answered, 0);
}

#[test]
fn orderly_close_is_closed() {
    let mut w = Wire::established(1000, 5000);
    assert_eq!(w.send(1.0, seg(C, FIN | ACK, 1011, 5101, 0)), PacketClass::Fin);
    assert_eq!(w.send(1.001, seg(S, FIN | ACK, 5101, 1012, 0)), PacketClass::Fin);
    w.send(1.002, seg(C, ACK, 1012, 5102, 0));
    // Same ports, new SYN: the old connection is handed out at once.
    w.send(2.0, seg(C, SYN, 777, 0, 0));
    let conns = w.finish();
    assert_eq!(judge(&conns[0], Timestamp::from_secs_f64(2.0), &NeighbourLog::default()).reason(), EndReason::Closed);
}

fn verdict_at_end(w: Wire, end: f64) -> crate::verdict::Judgement {
    let conns = w.finish();
    judge(&conns[0], Timestamp::from_secs_f64(end), &NeighbourLog::default())
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
    assert_eq!(v.reason(), EndReason::Reset);
    let r = v.reset().unwrap();
    assert_eq!(r.cause, ResetCause::Middlebox);
    assert_eq!((r.injector_hops, r.host_hops), (Some(0), Some(2)));
    assert!((r.idle_before_s - 299.997).abs() < 1e-6);
    assert!((v.idle.died_after_s.unwrap() - 299.997).abs() < 1e-6);
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
    assert_eq!(v.reset().unwrap().cause, ResetCause::PeerLostState);
}

#[test]
fn rst_to_a_syn_is_refused() {
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0));
    w.send(0.001, seg(S, RST | ACK, 0, 1001, 0));
    assert_eq!(verdict_at_end(w, 0.001).reset().unwrap().cause, ResetCause::Refused);
}

#[test]
fn a_bare_rst_answering_the_peers_segment_is_a_host_without_the_connection() {
    // nDPI googledns_android10.pcap, stream 4: the capture starts at the
    // server's FIN; the phone answers at once with RST, no ACK flag, window
    // 0, seq = the FIN's ack: the reply of a host that has no socket for it
    // (RFC 9293 §3.10.7.1; Linux tcp_v4_send_reset). No timestamps, no idle.
    let mut w = Wire::new();
    w.send(47.443, seg(S, FIN | ACK, 1001951235, 2233655244, 0));
    assert_eq!(w.send(47.532, seg(C, RST, 2233655244, 0, 0).window(0)), PacketClass::Rst);
    let v = verdict_at_end(w, 47.532);
    let r = v.reset().unwrap();
    assert_eq!((r.sender, r.cause), (Side::Client, ResetCause::PeerLostState));
    // Its own numbers (not the FIN's ack) are not that reply: an abort.
    let mut w = Wire::new();
    w.send(47.443, seg(S, FIN | ACK, 1001951235, 2233655244, 0));
    w.send(47.532, seg(C, RST, 2233655000, 0, 0).window(0));
    assert_eq!(verdict_at_end(w, 47.532).reset().unwrap().cause, ResetCause::Abort);
    // Nor is the same RST a second after the segment: an answer goes out as
    // the segment arrives. suricata-verify tcp-opt.pcap: the macOS client
    // leaves the server's FIN and its retransmissions unanswered and resets
    // 1.06 s after the fourth, 4.0 s after its own data: its own abort.
    let mut w = Wire::established(1000, 5000);
    w.send(32.638, seg(C, ACK, 1011, 5101, 31));
    w.send(32.754, seg(S, ACK, 5101, 1042, 0));
    for t in [32.755, 33.157, 33.968, 35.577] {
        w.send(t, seg(S, FIN | ACK, 5101, 1042, 31));
    }
    w.send(36.638, seg(C, RST, 1042, 0, 0).window(0));
    assert_eq!(verdict_at_end(w, 36.638).reset().unwrap().cause, ResetCause::Abort);
    // Nor is one with a receive window behind it: a live connection's
    // (zeek fin_retransmission.pcap, RST 5: window 8201, the server's own
    // SND.NXT, after the client's FIN).
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 2187051757, 0, 0));
    w.send(0.305, seg(S, SYN | ACK, 1539553752, 2187051758, 0));
    w.send(0.307, seg(C, FIN | ACK, 2187051757, 1539553753, 0));
    w.send(0.610, seg(S, RST, 1539553753, 0, 0).window(8201));
    assert_eq!(verdict_at_end(w, 0.610).reset().unwrap().cause, ResetCause::Abort);
}

#[test]
fn a_bare_rst_that_answers_nothing_is_an_abort_not_a_lost_connection() {
    // nDPI signal.pcap, streams 2-4: timestamps negotiated, an exchange, the
    // client's last ACKs; 13 s later the client (iOS, changing networks)
    // sends a bare RST with window 0 and no timestamp. Nothing came from the
    // server since: the RST answers nothing, so it is no stateless reply of
    // a host that lost the connection; its own stack dropped it.
    let mut w = Wire::new();
    w.send(1.762, seg(C, SYN, 1000, 0, 0).timestamps());
    w.send(1.871, seg(S, SYN | ACK, 5000, 1001, 0).timestamps());
    w.send(1.872, seg(C, ACK, 1001, 5001, 517).timestamps());
    w.send(2.219, seg(S, ACK, 5001, 1518, 38).timestamps());
    w.send(2.222, seg(C, ACK, 1518, 5039, 0).timestamps());
    assert_eq!(w.send(15.248, seg(C, RST, 1518, 0, 0).window(0)), PacketClass::Rst);
    let v = verdict_at_end(w, 15.248);
    let r = v.reset().unwrap();
    assert_eq!((r.sender, r.cause), (Side::Client, ResetCause::Abort));
    assert_eq!(v.idle.died_after_s, None, "no idle timeout to blame");
}

#[test]
fn fin_null_and_xmas_probes_answered_by_rst_are_refused() {
    // nDPI tcp_scan.pcapng, streams 4-6: nmap's FIN, NULL and Xmas probes
    // (no ACK flag) to closed ports, each answered by RST,ACK seq 0, window
    // 0, ack = SEG.SEQ+SEG.LEN (RFC 793 p.65; RFC 9293 §3.10.7.1): the port
    // is closed, as a RST to a SYN says.
    const PSH: u8 = 0x08;
    const URG: u8 = 0x20;
    for (flags, seq_len) in [(FIN, 1), (0, 0), (FIN | PSH | URG, 1)] {
        let mut w = Wire::new();
        w.send(40.652, seg(C, flags, 4273590571, 0, 0).window(1024));
        assert_eq!(w.send(40.653, seg(S, RST | ACK, 0, 4273590571 + seq_len, 0).window(0)), PacketClass::Rst);
        let v = verdict_at_end(w, 40.653);
        assert_eq!(v.reason(), EndReason::Reset, "flags {flags:#x}");
        assert_eq!(v.reset().unwrap().cause, ResetCause::Refused, "flags {flags:#x}");
    }
}

#[test]
fn copies_of_a_refusal_captured_twice_are_still_only_a_refusal() {
    // nDPI rtsp.pcap, frames 289-296: `-i any` on a router captures the
    // refusal as received (TTL 64) and as forwarded (TTL 63); the copies
    // differ, so both reach the flow table. The server sent nothing but RSTs.
    let mut w = Wire::new();
    w.send(128.836, seg(C, SYN, 439451506, 0, 0).ttl(128));
    w.send(128.838, seg(S, RST | ACK, 0, 439451507, 0).window(0));
    w.send(128.838, seg(S, RST | ACK, 0, 439451507, 0).window(0).ttl(63));
    assert_eq!(verdict_at_end(w, 128.839).reset().unwrap().cause, ResetCause::Refused);
}

#[test]
fn a_refused_syn_retried_with_the_same_isn_is_one_connection() {
    // nDPI rtsp.pcap, frames 289-388: Windows resends a refused SYN 0.5 s
    // later with the same ISN (connect() retries a RST twice); accepted this
    // time, the session runs and the server resets it after a request.
    let mut w = Wire::new();
    w.send(128.836, seg(C, SYN, 439451506, 0, 0).ttl(128));
    w.send(128.838, seg(S, RST | ACK, 0, 439451507, 0).window(0));
    assert_eq!(w.send(129.342, seg(C, SYN, 439451506, 0, 0).ttl(128)), PacketClass::Syn);
    w.send(129.343, seg(S, SYN | ACK, 4056368679, 439451507, 0));
    w.send(129.3432, seg(C, ACK, 439451507, 4056368680, 116).ttl(128));
    w.send(129.4, seg(S, ACK, 4056368680, 439451623, 326));
    w.send(187.860, seg(C, ACK, 439451623, 4056369006, 148).ttl(128));
    w.send(187.8606, seg(S, ACK, 4056369006, 439451771, 0));
    w.send(187.8607, seg(S, RST | ACK, 4056369006, 439451771, 0));
    let conns = w.finish();
    assert_eq!(conns.len(), 1, "one attempt, one connection");
    let v = judge(&conns[0], Timestamp::from_secs_f64(190.0), &NeighbourLog::default());
    let r = v.reset().unwrap();
    assert_eq!((r.rst.frame, r.cause), (9, ResetCause::AbortUnreadData));
    assert_eq!(conns[0].side(Side::Client).marks.syn_count(), 2);
    // Another ISN is another connection: the refused one stays refused.
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0));
    w.send(0.001, seg(S, RST | ACK, 0, 1001, 0).window(0));
    w.send(0.5, seg(C, SYN, 2000, 0, 0));
    let conns = w.finish();
    assert_eq!(conns.len(), 2);
    let v = judge(&conns[0], Timestamp::from_secs_f64(1.0), &NeighbourLog::default());
    assert_eq!(v.reset().unwrap().cause, ResetCause::Refused);
}

#[test]
fn rst_after_the_peers_unanswered_data_is_an_abort_with_unread_data() {
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(C, ACK, 1011, 5101, 200));
    w.send(1.001, seg(S, RST | ACK, 5101, 1211, 0));
    assert_eq!(verdict_at_end(w, 1.001).reset().unwrap().cause, ResetCause::AbortUnreadData);
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, RST | ACK, 5101, 1011, 0));
    assert_eq!(verdict_at_end(w, 1.0).reset().unwrap().cause, ResetCause::Abort);
}

#[test]
fn rst_acknowledging_less_than_the_peer_sent_aborts_a_transfer_in_progress() {
    // suricata-verify bug-2769__issue_no_icmp.pcap: a download through a
    // proxy; the client has ACKed the data up to 23 (25) when it sends
    // RST,ACK 30, which acknowledges just that; the server's 26-29, captured
    // before the RST, had not reached it. Not unread data: an aborted transfer.
    let mut w = Wire::established(1000, 5000);
    w.send(2.165, seg(S, ACK, 5101, 1011, 1352));
    w.send(2.318, seg(C, ACK, 1011, 6453, 0));
    w.send(2.329, seg(S, ACK, 6453, 1011, 1352));
    w.send(2.332, seg(S, ACK, 7805, 1011, 1352));
    w.send(2.358, seg(C, RST | ACK, 1011, 6453, 0).window(0));
    let v = verdict_at_end(w, 2.4);
    let r = v.reset().unwrap();
    assert_eq!((r.sender, r.cause), (Side::Client, ResetCause::Abort));
    assert!(r.peer_still_sending);
    // Acknowledging all of it, at once: the close of a socket with it unread.
    let mut w = Wire::established(1000, 5000);
    w.send(2.165, seg(S, ACK, 5101, 1011, 1352));
    w.send(2.358, seg(C, RST | ACK, 1011, 6453, 0).window(0));
    assert_eq!(verdict_at_end(w, 2.4).reset().unwrap().cause, ResetCause::AbortUnreadData);
}

#[test]
fn a_clients_rst_right_after_the_answer_to_its_own_request_is_no_unread_data() {
    // arkime wireshark-smb-on-windows10.pcap, stream 2: the Windows SMB
    // client's logon request 45, the server's STATUS_LOGON_FAILURE 1.9 ms
    // later, the client's RST,ACK (window 0) acknowledging all of it 0.3 ms
    // after that; it retries the logon on a new connection 19 ms later, so
    // it read the answer: an abortive close.
    let mut w = Wire::established(1000, 5000);
    w.send(226.454929, seg(C, ACK, 1011, 5101, 657).ttl(128));
    w.send(226.456794, seg(S, ACK, 5101, 1668, 77).ttl(128));
    w.send(226.457087, seg(C, RST | ACK, 1668, 5178, 0).window(0).ttl(128));
    let v = verdict_at_end(w, 226.5);
    let r = v.reset().unwrap();
    assert_eq!((r.sender, r.cause), (Side::Client, ResetCause::Abort));
    assert!(r.after_answer_to_own_data);
    // The server's RST right after a client's request is the request unread,
    // even when the server had spoken just before (nDPI rtsp.pcap, 381-388
    // within a second of the server's data is the same as 58 s after it).
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, ACK, 5101, 1011, 326));
    w.send(1.2, seg(C, ACK, 1011, 5427, 148));
    w.send(1.2001, seg(S, RST | ACK, 5427, 1159, 0));
    assert_eq!(verdict_at_end(w, 2.0).reset().unwrap().cause, ResetCause::AbortUnreadData);
    // A client's RST after data that came long after its own request is no answer to it.
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(C, ACK, 1011, 5101, 10));
    w.send(1.01, seg(S, ACK, 5101, 1021, 0));
    w.send(30.0, seg(S, ACK, 5101, 1021, 50));
    w.send(30.0001, seg(C, RST | ACK, 1021, 5151, 0));
    assert_eq!(verdict_at_end(w, 31.0).reset().unwrap().cause, ResetCause::AbortUnreadData);
}

#[test]
fn rst_long_after_the_peers_data_is_an_abort_not_unread_data() {
    // A client waits 30 s for the rest of a download, then aborts (seen from
    // Windows clients in suricata-verify's TLPW1 captures): the server's data
    // was the last payload, but close() with unread data resets at once.
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, ACK, 5101, 1011, 200));
    w.send(1.001, seg(C, ACK, 1011, 5301, 0));
    w.send(31.001, seg(C, RST | ACK, 1011, 5301, 0));
    let v = verdict_at_end(w, 31.001);
    assert_eq!(v.reset().unwrap().cause, ResetCause::Abort);
    assert!((v.reset().unwrap().idle_before_s - 30.0).abs() < 1e-6);

    // Within the prompt window it is the close of a socket with unread data.
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, ACK, 5101, 1011, 200));
    w.send(1.0 + UNREAD_DATA_PROMPT_S, seg(C, RST | ACK, 1011, 5301, 0));
    assert_eq!(verdict_at_end(w, 2.0).reset().unwrap().cause, ResetCause::AbortUnreadData);
}

#[test]
fn rst_after_the_senders_own_fin_is_not_unread_data() {
    // The server closed (FIN), the client's request arrived after it, and
    // the closed socket answered with RST: an abort of a closed socket.
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, FIN | ACK, 5101, 1011, 0));
    w.send(1.1, seg(C, ACK, 1011, 5102, 100));
    w.send(1.101, seg(S, RST, 5102, 0, 0));
    assert_eq!(verdict_at_end(w, 1.101).reset().unwrap().cause, ResetCause::Abort);
}

#[test]
fn the_peers_rst_answering_the_last_retransmission_is_no_give_up() {
    // nDPI googledns_android10.pcap, stream 0: the server's FIN resent with
    // backoff (0.22, 0.22, 0.44, 0.91 s); 1.1 ms after the fifth copy the
    // phone answers with a bare RST, window 0, seq = the FIN's ack: it had no
    // socket for it. The server was still trying; the phone's RST ended it.
    let mut w = Wire::new();
    for t in [0.0, 0.224, 0.447, 0.887, 1.799] {
        w.send(t, seg(S, FIN | ACK, 238841930, 1768149524, 0));
    }
    w.send(1.8, seg(C, RST, 1768149524, 0, 0).window(0));
    let v = verdict_at_end(w, 255.0);
    assert_eq!(v.reason(), EndReason::Reset);
    let r = v.reset().unwrap();
    assert_eq!((r.sender, r.cause), (Side::Client, ResetCause::PeerLostState));
    let unacked = v.retransmission().unwrap();
    assert!(!unacked.gave_up && !unacked.still_retransmitting, "{unacked:?}");
}

#[test]
fn duplicate_acks_then_silence_then_timer_retransmissions_are_a_give_up() {
    // zeek 206_example_b.pcap, stream 0: the client lacks a segment and says
    // so with duplicate ACKs, then vanishes. The server's fast
    // retransmissions just after the last duplicate ACK answer it; then 5
    // retransmissions by timeout with growing gaps into the silence, and the
    // server's RST (BSD-like: tcp_drop after its retransmission limit).
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, ACK, 5101, 1011, 100));
    w.send(1.001, seg(S, ACK, 5201, 1011, 100));
    w.send(1.002, seg(S, ACK, 5301, 1011, 100));
    for t in [1.05, 1.051, 1.052] {
        w.send(t, seg(C, ACK, 1011, 5201, 0)); // duplicate ACKs: 5201 is missing
    }
    w.send(1.06, seg(S, ACK, 5201, 1011, 100)); // fast retransmission
    for t in [1.36, 1.96, 3.16, 5.56, 10.36] {
        assert_eq!(w.send(t, seg(S, ACK, 5201, 1011, 100)), PacketClass::Retransmission);
    }
    w.send(19.96, seg(S, RST | ACK, 5401, 1011, 0));
    let v = verdict_at_end(w, 30.0);
    assert_eq!(v.reason(), EndReason::RetransmissionTimeout);
    let r = v.retransmission().unwrap();
    assert_eq!((r.sender, r.retransmissions, r.before_silence), (Side::Server, 5, 1));
    assert_eq!(r.reset_by_sender.map(|p| p.frame), Some(19));
    assert_eq!(r.backoff_s.len(), 5);
    // Without the silence (the client ACKs the last retransmission) nothing gave up.
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, ACK, 5101, 1011, 100));
    w.send(1.05, seg(C, ACK, 1011, 5101, 0));
    w.send(1.35, seg(S, ACK, 5101, 1011, 100));
    w.send(1.36, seg(C, ACK, 1011, 5201, 0));
    assert_eq!(verdict_at_end(w, 30.0).reason(), EndReason::Open);
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
    assert_eq!(v.reason(), EndReason::RetransmissionTimeout);
    let r = v.retransmission().unwrap();
    assert_eq!(r.sender, Side::Client);
    assert_eq!(r.first_unacked.frame, 7);
    assert_eq!(r.retransmissions, 3);
    let gaps: Vec<f64> = r.backoff_s.iter().map(|g| (g * 1000.0).round() / 1000.0).collect();
    assert_eq!(gaps, vec![0.2, 0.4, 0.8]);
    // tcp_retries2=3 gives up 3.0 s after the first transmission: after 1.4 s, by 3.0 s.
    assert_eq!(r.retries2, Some(3));
    assert!((v.idle.died_after_s.unwrap() - 9.995).abs() < 1e-6);
}

#[test]
fn a_receivers_rst_before_the_next_retransmission_ends_it_not_a_give_up() {
    // nDPI googledns_android10.pcap s0: the server's FIN resent with a
    // growing backoff, then the phone's bare RST (no ACK, seq = the FIN's
    // ack) 1.1 ms after the last copy, and the capture goes on: the RST
    // ended the connection; the server's silence after it proves nothing.
    let mut w = Wire::established(1000, 5000);
    for t in [10.0, 10.22, 10.67, 11.56, 13.36] {
        w.send(t, seg(S, FIN | ACK, 5101, 1011, 0));
    }
    w.send(13.3611, seg(C, RST, 1011, 0, 0));
    let v = verdict_at_end(w, 25.0);
    assert_eq!(v.reason(), EndReason::Reset);
    assert_eq!(v.ended_by(), Some(Side::Client));
    let r = v.retransmission().expect("the unanswered FIN is still told");
    assert!(!r.gave_up && r.retries2.is_none(), "{r:?}");
    // A give-up that came first stands: silent for longer than the next
    // retransmission would have taken, then the receiver's RST much later.
    let mut w = Wire::established(1000, 5000);
    for t in [10.0, 10.2, 10.6, 11.4] {
        w.send(t, seg(C, ACK, 1011, 5101, 50));
    }
    w.send(30.0, seg(S, RST, 5101, 0, 0));
    let v = verdict_at_end(w, 40.0);
    assert_eq!(v.reason(), EndReason::RetransmissionTimeout);
}

/// The link in front of the server 10.0.0.2 asking for it, unanswered, at these times.
fn server_unresolved_at(times: &[f64]) -> NeighbourLog {
    let mut log = NeighbourLog::default();
    let ask = crate::decode::Neighbour { asked_for: Some([10, 0, 0, 2].into()), present: Some([10, 0, 0, 254].into()) };
    for (i, &t) in times.iter().enumerate() {
        log.observe(100 + i as u64, Timestamp::from_secs_f64(t), &ask);
    }
    log
}

#[test]
fn a_silence_the_capture_could_not_see_is_no_give_up() {
    // As silent_sender_after_backoff_is_a_retransmission_timeout, but the
    // router in front of the server asks for its address from 11.4 s on
    // and nothing answers: it drops what comes for the server (Linux
    // neigh_invalidate), so the client's next retransmission, due by
    // 13.0 s, could not have reached a capture on the server's link.
    let retransmitting = || {
        let mut w = Wire::established(1000, 5000);
        for t in [10.0, 10.2, 10.6, 11.4] {
            w.send(t, seg(C, ACK, 1011, 5101, 50));
        }
        w.finish()
    };
    let end = Timestamp::from_secs_f64(20.0);
    let conns = retransmitting();
    let v = judge(&conns[0], end, &server_unresolved_at(&[11.4, 12.4, 13.4, 19.0]));
    assert_eq!(v.reason(), EndReason::Stalled);
    let r = v.retransmission().unwrap();
    assert!(!r.gave_up && r.still_retransmitting);
    assert_eq!(r.retries2, None);
    let blind = r.capture_blind.unwrap();
    assert_eq!((blind.first_request.frame, blind.last_request.frame, blind.requests), (100, 103, 4));
    // Requests only before the retransmissions, answered or not, or a
    // single one, or ones for another host: the capture could see; the
    // silence is a give-up.
    for log in [server_unresolved_at(&[2.0, 3.0]), server_unresolved_at(&[12.0]), NeighbourLog::default()] {
        let v = judge(&conns[0], end, &log);
        assert_eq!(v.reason(), EndReason::RetransmissionTimeout);
        assert_eq!(v.retransmission().unwrap().capture_blind, None);
    }
    let mut answered = server_unresolved_at(&[11.4, 12.4]);
    answered.observe(
        110,
        Timestamp::from_secs_f64(12.5),
        &crate::decode::Neighbour { asked_for: None, present: Some([10, 0, 0, 2].into()) },
    );
    assert_eq!(judge(&conns[0], end, &answered).reason(), EndReason::RetransmissionTimeout);
    // A sender that resets gave up whatever the link shows.
    let mut w = Wire::established(1000, 5000);
    for t in [10.0, 10.2, 10.6, 11.4] {
        w.send(t, seg(C, ACK, 1011, 5101, 50));
    }
    w.send(13.0, seg(C, RST | ACK, 1061, 5101, 0));
    let conns = w.finish();
    let v = judge(&conns[0], end, &server_unresolved_at(&[11.4, 12.4]));
    assert_eq!(v.reason(), EndReason::RetransmissionTimeout);
    assert_eq!(v.retransmission().unwrap().capture_blind, None);
}

#[test]
fn capture_ending_during_the_backoff_is_not_a_timeout_yet() {
    let mut w = Wire::established(1000, 5000);
    for t in [10.0, 10.2, 10.6, 11.4] {
        w.send(t, seg(C, ACK, 1011, 5101, 50));
    }
    let v = verdict_at_end(w, 11.5);
    // Still retransmitting when the capture ended: stalled, not (yet) a timeout.
    assert_eq!(v.reason(), EndReason::Stalled);
    assert!(!v.retransmission().unwrap().gave_up);
    assert!(v.retransmission().unwrap().still_retransmitting);
    assert_eq!(v.ended_by(), None);
    assert_eq!(v.idle_at_end_s(), None);
}

#[test]
fn fin_without_the_peers_fin_is_half_closed() {
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(C, FIN | ACK, 1011, 5101, 0));
    w.send(1.001, seg(S, ACK, 5101, 1012, 0));
    let v = verdict_at_end(w, 6.0);
    assert_eq!(v.reason(), EndReason::HalfClosed);
    assert_eq!(v.ended_by(), Some(Side::Client));
    let Verdict::HalfClosed { fin_by: side, open_for_s: open_for, .. } = v.verdict else { panic!("{:?}", v.verdict) };
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
fn a_survived_silence_as_long_as_the_fatal_one_still_counts() {
    // Silences are told apart by the packet that ended them, not by length.
    let mut w = Wire::established(1000, 5000);
    // 100 s of silence survived...
    w.send(100.005, seg(C, ACK, 1011, 5101, 10));
    w.send(100.006, seg(S, ACK, 5101, 1021, 0));
    // ...then exactly as long a silence, and a forged RST answers the data after it.
    w.send(200.006, seg(C, ACK, 1021, 5101, 10));
    w.send(200.007, seg(S, RST | ACK, 5101, 1031, 0).ttl(50));
    let v = verdict_at_end(w, 200.007);
    assert_eq!(v.reset().unwrap().cause, ResetCause::Middlebox);
    assert_eq!(v.idle.died_after_s, Some(100.0));
    assert_eq!(v.idle.survived_s, Some(100.0));
}

fn packet(frame: u64, t: f64) -> PacketRef {
    PacketRef { frame, ts: Timestamp::from_secs_f64(t) }
}

#[test]
fn keepalive_rule_reads_only_the_probers_log_and_marks() {
    let probe = |frame, t| Probe::new(packet(frame, t), SeqNumber(5100), 0);
    let mut log = KeepaliveLog::default();
    log.probes_sent = 3;
    log.longest_train = 3;
    log.first_probe = Some(packet(7, 60.0)).into();
    log.train = Train {
        idle_from: Some(packet(6, 0.0)).into(),
        probes: vec![probe(7, 60.0), probe(8, 70.0), probe(9, 80.0)],
        count: 3,
    };
    log.idle_observed.add(60.0);
    log.interval_observed.add(10.0);
    log.interval_observed.add(10.0);
    let marks = Marks { last_sent: Some(packet(9, 80.0)).into(), ttl: Some(Ttls::of(64)), ..Default::default() };
    // Silent for three intervals after its last probe while the capture went on: it gave up.
    let k = keepalive_finding(Side::Server, &log, &marks, None, Timestamp::from_secs_f64(110.0));
    assert!(k.gave_up);
    assert_eq!(k.gave_up_with, None);
    assert_eq!(k.end_packet(), Some(packet(9, 80.0)));
    assert_eq!(k.probes, Some((3, Bound::AtLeast)));
    assert_eq!((k.idle.unwrap().value, k.interval.unwrap().value), (60, 10));
    // Not yet: it may still send.
    let k = keepalive_finding(Side::Server, &log, &marks, None, Timestamp::from_secs_f64(105.0));
    assert!(!k.gave_up);
    // The link in front of the client (10.0.0.2's peer, 10.0.0.1) could not
    // resolve it from the last probe on: the silence was not seen, so no
    // give-up however long the capture went on.
    let mut link = NeighbourLog::default();
    let ask = crate::decode::Neighbour { asked_for: Some([10, 0, 0, 1].into()), present: None };
    link.observe(20, Timestamp::from_secs_f64(80.5), &ask);
    link.observe(21, Timestamp::from_secs_f64(95.0), &ask);
    let unresolved = link.unresolved([10, 0, 0, 1].into());
    let k = keepalive_finding(Side::Server, &log, &marks, unresolved, Timestamp::from_secs_f64(500.0));
    assert!(!k.gave_up);
    assert_eq!(k.capture_blind.map(|b| (b.first_request.frame, b.requests)), Some((20, 2)));
    assert_eq!(k.probes, Some((3, Bound::AtLeast)));
    // It reset the connection one interval after the last probe: exactly 3 probes.
    let rst = plain_rst(packet(10, 90.0), 64, 10.0, packet(9, 80.0));
    let marks = Marks { last_sent: Some(packet(10, 90.0)).into(), ..marks }.with_reset(rst);
    let k = keepalive_finding(Side::Server, &log, &marks, None, Timestamp::from_secs_f64(90.0));
    assert_eq!((k.gave_up, k.gave_up_with, k.probes), (true, Some(packet(10, 90.0)), Some((3, Bound::Exact))));
}

/// A RST with nothing known of its IP ID, numbers or neighbours.
fn plain_rst(at: PacketRef, ttl: u8, idle_before_s: f64, follows: PacketRef) -> ResetMark {
    ResetMark {
        at,
        ttl,
        ip_id: None,
        seq: SeqNumber(0),
        ack_number: SeqNumber(0),
        has_ack: false,
        sender_ttl_before: None,
        sender_ip_id_before: None,
        peer_ip_id_before: None,
        peer_syn_number: SeqNumber(0),
        has_peer_syn: false,
        peer_payload_before: MaybePacket::NONE,
        sender_payload_before: MaybePacket::NONE,
        has_timestamp: false,
        idle_before_s,
        follows,
        reply: RstReply::Unprompted,
        receiver_went_on: MaybePacket::NONE,
        peer_data_in_flight: false,
    }
}

#[test]
fn reset_rule_reads_only_the_rst_and_the_marks() {
    let rst = ResetMark {
        at: packet(9, 300.001),
        ttl: 64,
        ip_id: Some(0),
        seq: SeqNumber(5101),
        ack_number: SeqNumber(0),
        has_ack: false,
        // The host's own packets arrive with TTL 62: the RST was forged next to the capture point.
        sender_ttl_before: Some(62),
        sender_ip_id_before: Some(0x4000),
        peer_ip_id_before: Some(0x1234),
        peer_syn_number: SeqNumber(1000),
        has_peer_syn: true,
        peer_payload_before: MaybePacket::NONE,
        sender_payload_before: MaybePacket::NONE,
        has_timestamp: false,
        idle_before_s: 299.997,
        follows: packet(8, 300.0),
        reply: RstReply::AfterPeer,
        receiver_went_on: MaybePacket::NONE,
        peer_data_in_flight: false,
    };
    let peer = Marks { syn: Some(packet(1, 0.0)).into(), ..Default::default() };
    let me = Marks { syn: Some(packet(2, 0.001)).into(), ttl: Some(Ttls::of(62)), ..Default::default() };
    let r = reset_finding(Side::Server, &rst, &me, &peer, false);
    assert_eq!(r.cause, ResetCause::Middlebox);
    assert_eq!((r.injector_hops, r.host_hops), (Some(0), Some(2)));
    assert_eq!(r.confidence, Some(Confidence::Likely));
    // The RST as the host's only packet, to a SYN: refused.
    let me = Marks { ttl: Some(Ttls::of(64)), ..Default::default() };
    let rst = ResetMark { sender_ttl_before: None, sender_ip_id_before: None, ..rst };
    assert_eq!(reset_finding(Side::Server, &rst, &me, &peer, false).cause, ResetCause::Refused);
}

#[test]
fn one_unanswered_probe_with_no_known_interval_is_still_probing_not_a_timeout() {
    // A single probe, then nothing from the prober for 100 s while the
    // capture goes on: its next probe may simply not be due (Linux waits
    // tcp_keepalive_intvl, 75 s by default and up to 32767 s, between
    // probes), so only an RST or silence over known intervals is a give-up.
    let mut w = Wire::established(1000, 5000);
    assert_eq!(w.send(20.0, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
    let v = verdict_at_end(w, 120.0);
    assert_eq!(v.reason(), EndReason::Open);
    let k = v.keepalive()[0];
    assert!(!k.gave_up);
    assert_eq!((k.unanswered_at_end, k.probes), (1, Some((1, Bound::AtLeast))));
    assert_eq!(k.interval, None);

    // With the interval known from the train (two probes 2 s apart), three
    // intervals of silence are a give-up.
    let mut w = Wire::established(1000, 5000);
    w.send(20.0, seg(S, ACK, 5100, 1011, 0));
    w.send(22.0, seg(S, ACK, 5100, 1011, 0));
    let v = verdict_at_end(w, 28.5);
    assert_eq!(v.reason(), EndReason::KeepaliveTimeout);
    assert_eq!(v.keepalive()[0].gave_up_with, None);
}

#[test]
fn when_both_ends_probe_a_cut_path_each_train_and_give_up_is_its_own() {
    // Both Linux ends probe (0-byte, idle 10 s, interval 2 s, 3 probes) and
    // the path between them is cut: the capture point sees both trains
    // interleaved. A 0-byte probe is below the receiver's window
    // (tcp_sequence fails), so it never clears the receiver's own probe
    // count: neither train answers the other, and each side resets after
    // its own 3 probes (tcp_keepalive_timer: probes_out >= keepalive_probes).
    let mut w = Wire::established(1000, 5000);
    for i in 0..3 {
        let t = 10.004 + 2.0 * f64::from(i);
        assert_eq!(w.send(t, seg(S, ACK, 5100, 1011, 0)), PacketClass::KeepaliveProbe);
        assert_eq!(w.send(t + 0.001, seg(C, ACK, 1010, 5101, 0)), PacketClass::KeepaliveProbe);
    }
    assert_eq!(w.send(16.004, seg(S, RST | ACK, 5101, 1011, 0)), PacketClass::Rst);
    assert_eq!(w.send(16.005, seg(C, RST | ACK, 1011, 5101, 0)), PacketClass::Rst);
    let v = verdict_at_end(w, 16.005);
    // The server gave up first; the client gave up too, on its own.
    assert_eq!(v.reason(), EndReason::KeepaliveTimeout);
    assert_eq!(v.ended_by(), Some(Side::Server));
    let [client, server] = [v.keepalive()[0], v.keepalive()[1]];
    for k in [client, server] {
        assert_eq!((k.probes_sent, k.probes_answered, k.last_train_count), (3, 0, 3));
        assert!(k.gave_up && k.gave_up_with.is_some(), "{k:?}");
        assert_eq!(k.probes, Some((3, Bound::Exact)));
        assert_eq!((k.idle.unwrap().value, k.interval.unwrap().value), (10, 2));
        assert_eq!(k.reset_by_peer, None);
    }
    assert_eq!(client.prober, Side::Client);
}

#[test]
fn a_linux_give_up_is_also_what_tcp_user_timeout_gives() {
    // 20 s idle, 2 probes 2 s apart, RST one interval later. With
    // TCP_USER_TIMEOUT set, tcp_keepalive_timer resets at the first firing
    // where the time since the last packet received reaches the user
    // timeout (and a probe is out), whatever TCP_KEEPCNT says: any user
    // timeout above the second probe's time and up to the RST's fits.
    let mut w = Wire::established(1000, 5000);
    w.send(21.405, seg(S, ACK, 5100, 1011, 0));
    w.send(23.421, seg(S, ACK, 5100, 1011, 0));
    w.send(25.437, seg(S, RST | ACK, 5101, 1011, 0));
    let v = verdict_at_end(w, 25.437);
    let [low, high] = v.keepalive()[0].user_timeout_between_s.unwrap();
    // From the client's last ACK at 0.005 s.
    assert!((low - 23.416).abs() < 1e-9 && (high - 25.432).abs() < 1e-9, "{low} {high}");

    // One probe then the RST: the first firing always probes, so any user
    // timeout up to the RST fits.
    let mut w = Wire::established(1000, 5000);
    w.send(21.405, seg(S, ACK, 5100, 1011, 0));
    w.send(23.421, seg(S, RST | ACK, 5101, 1011, 0));
    let [low, high] = verdict_at_end(w, 23.421).keepalive()[0].user_timeout_between_s.unwrap();
    assert!(low == 0.0 && (high - 23.416).abs() < 1e-9, "{low} {high}");

    // A 1-byte (Windows-shaped) prober has no TCP_USER_TIMEOUT story.
    let mut w = Wire::established(1000, 5000);
    w.send(30.0, seg(C, ACK, 1010, 5101, 1));
    w.send(31.0, seg(C, ACK, 1010, 5101, 1));
    w.send(32.0, seg(C, RST | ACK, 1011, 5101, 0));
    let v = verdict_at_end(w, 32.0);
    assert_eq!(v.reason(), EndReason::KeepaliveTimeout);
    assert_eq!(v.keepalive()[0].user_timeout_between_s, None);
}

#[test]
fn the_killing_trains_idle_is_its_own_and_the_settings_come_from_every_train() {
    let mut w = Wire::established(1000, 5000);
    // A first train, answered, 21.4 s after the client's last ACK (0.005 s).
    w.send(21.405, seg(S, ACK, 5100, 1011, 0));
    w.send(21.406, seg(C, ACK, 1011, 5101, 0));
    // Data at 30 s, then a train 20.5 s later that ends in a RST.
    w.send(30.0, seg(C, ACK, 1011, 5101, 10));
    w.send(30.001, seg(S, ACK, 5101, 1021, 0));
    w.send(50.5, seg(S, ACK, 5100, 1021, 0));
    w.send(52.516, seg(S, ACK, 5100, 1021, 0));
    w.send(54.532, seg(S, RST | ACK, 5101, 1021, 0));
    let v = verdict_at_end(w, 54.532);
    assert_eq!(v.reason(), EndReason::KeepaliveTimeout);
    let k = v.keepalive()[0];
    assert!((k.train_idle_s.unwrap() - 20.5).abs() < 1e-9, "{:?}", k.train_idle_s);
    // Both trains (21.4 s and 20.5 s of idle) fit one setting: 20 s.
    assert_eq!(k.idle_observed.count, 2);
    assert_eq!(k.idle.unwrap().value, 20);
}

#[test]
fn syns_nobody_answered_never_established_with_their_backoff() {
    // A Linux client with tcp_syn_retries=3: SYNs at 0, 1, 3, 7 s (RTO 1 s
    // doubled, RFC 6298 §5.5), then it gives up at 15 s; the capture goes on.
    let mut w = Wire::new();
    for t in [0.0, 1.004, 3.012, 7.028] {
        assert_eq!(w.send(t, seg(C, SYN, 1000, 0, 0)), PacketClass::Syn);
    }
    let v = verdict_at_end(w, 30.0);
    assert_eq!(v.reason(), EndReason::NeverEstablished);
    assert_eq!(v.ended_by(), None);
    assert_eq!(v.idle_at_end_s(), None, "never 'open', so no idle-timeout advice");
    let h = v.handshake().unwrap();
    assert_eq!((h.syn_count, h.syn_ack_count), (4, 0));
    assert_eq!(h.syns.iter().map(|p| p.frame).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(h.schedule, Some(SynSchedule { initial_s: 1, flat_gaps: 1, doubled: true }));
    assert_eq!(h.schedule.and_then(SynSchedule::linear_timeouts), Some(0));
    assert!(h.client_stopped);
    assert_eq!(h.syn_retries, Some(3));
    assert_eq!(v.end_packet().map(|p| p.frame), Some(4));
}

#[test]
fn linux_6_5_keeps_its_first_syn_retransmissions_at_one_second() {
    // tcp_syn_retries=3 with tcp_syn_linear_timeouts=4 (the default since
    // 6.5): 3 + 4 retransmissions, the first five gaps 1 s, then 2 and 4 s;
    // connect() fails 8 s after the last SYN (as fixtures/syn-unanswered.pcap).
    let mut w = Wire::new();
    for t in [0.0, 1.03, 2.054, 3.082, 4.102, 5.126, 7.146, 11.338] {
        w.send(t, seg(C, SYN, 1000, 0, 0));
    }
    let h = verdict_at_end(w, 25.0).handshake().cloned().unwrap();
    assert_eq!(h.syn_count, 8);
    assert_eq!(h.schedule, Some(SynSchedule { initial_s: 1, flat_gaps: 5, doubled: true }));
    assert_eq!(h.schedule.and_then(SynSchedule::linear_timeouts), Some(4));
    assert_eq!(h.syn_retries, Some(3));
    // Still in its flat part: the linear count is not known yet, nor the retries.
    let mut w = Wire::new();
    for t in [0.0, 1.0, 2.0] {
        w.send(t, seg(C, SYN, 1000, 0, 0));
    }
    let h = verdict_at_end(w, 25.0).handshake().cloned().unwrap();
    assert_eq!(h.schedule, Some(SynSchedule { initial_s: 1, flat_gaps: 2, doubled: false }));
    assert_eq!((h.schedule.and_then(SynSchedule::linear_timeouts), h.syn_retries), (None, None));
}

#[test]
fn a_handshake_cut_by_the_capture_end_may_still_be_retrying() {
    // SYNs at 0 and 1 s, the capture ends at 2.5 s: the next was due at 3 s.
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0));
    w.send(1.0, seg(C, SYN, 1000, 0, 0));
    let h = verdict_at_end(w, 2.5).handshake().cloned().unwrap();
    assert!(!h.client_stopped);
    assert_eq!(h.syn_retries, None);
    // Windows: 3 s initial RTO, doubled (SYNs at 0, 3, 9 s), gave up at 21 s.
    let mut w = Wire::new();
    for t in [0.0, 3.01, 9.02] {
        w.send(t, seg(C, SYN, 1000, 0, 0));
    }
    let h = verdict_at_end(w, 40.0).handshake().cloned().unwrap();
    assert_eq!(h.schedule, Some(SynSchedule { initial_s: 3, flat_gaps: 1, doubled: true }));
    assert!(h.client_stopped);
    assert_eq!(h.syn_retries, None, "tcp_syn_retries is Linux's, and the gaps are not Linux's");
    // One SYN never retransmitted although the capture went on: no stack
    // waits more than 3 s for its first SYN retransmission (a scan's probe).
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0));
    let h = verdict_at_end(w, 10.0).handshake().cloned().unwrap();
    assert!(h.client_stopped);
    assert_eq!((h.syn_count, h.schedule), (1, None));
}

#[test]
fn a_syn_ack_never_acknowledged_is_never_established_and_a_rst_to_a_syn_stays_refused() {
    // The server answers and retransmits its SYN-ACK; the client (a SYN
    // scanner) never sends the third packet.
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0));
    for t in [0.06, 3.06, 9.07] {
        assert_eq!(w.send(t, seg(S, SYN | ACK, 5000, 1001, 0)), PacketClass::SynAck);
    }
    let v = verdict_at_end(w, 30.0);
    assert_eq!(v.reason(), EndReason::NeverEstablished);
    let h = v.handshake().unwrap();
    assert_eq!((h.syn_count, h.syn_ack_count), (1, 3));
    assert_eq!(h.syn_ack_gaps_s.len(), 2);
    // A SYN answered by RST is refused, not never established.
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0));
    w.send(0.001, seg(S, RST | ACK, 0, 1001, 0));
    let v = verdict_at_end(w, 30.0);
    assert_eq!(v.reason(), EndReason::Reset);
    assert_eq!(v.reset().unwrap().cause, ResetCause::Refused);
}

#[test]
fn a_rst_its_sender_goes_on_after_was_injected_and_the_connection_goes_on() {
    // zeek rst-inject-rae.pcap: a RST in the server's name, TTL 46, the
    // client SYN's IP ID, acknowledging the SYN's own sequence number; then
    // the real server's SYN-ACK (TTL 49) and the handshake and data go on.
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0).ttl(62).ip_id(0x1555));
    assert_eq!(w.send(0.23, seg(S, RST | ACK, 0, 1000, 0).ttl(46).ip_id(0x1555)), PacketClass::Rst);
    w.send(1.26, seg(S, SYN | ACK, 5000, 1001, 0).ttl(49).ip_id(0x7f4c));
    w.send(1.27, seg(C, ACK, 1001, 5001, 0).ttl(62).ip_id(0x1a9d));
    w.send(1.28, seg(C, ACK, 1001, 5001, 25).ttl(62).ip_id(0x1a9e));
    w.send(2.85, seg(S, ACK, 5001, 1026, 0).ttl(49).ip_id(0x8013));
    let v = verdict_at_end(w, 3.0);
    assert_eq!(v.reason(), EndReason::Open, "the injected RST did not end it");
    let i = &v.injected[0];
    assert_eq!((i.sender, i.rst.frame, i.continued_by.frame), (Side::Server, 2, 3));
    assert_eq!((i.injector_hops, i.host_hops), (18, 15));
    assert_eq!(i.signs, [ForgerySign::TtlDiffers, ForgerySign::IpIdOfPeer, ForgerySign::AckIsSynSequence]);

    // The real server then aborts: RST,ACK whose IP ID follows its own (0x8014
    // after 0x8013), 1.6 s after the client's data: an abort, not a peer
    // that lost state (timestamps negotiated, none on the RST).
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0).timestamps());
    w.send(0.23, seg(S, RST | ACK, 0, 1000, 0).ttl(46));
    w.send(1.26, seg(S, SYN | ACK, 5000, 1001, 0).ttl(49).ip_id(0x7f4c).timestamps());
    w.send(1.27, seg(C, ACK, 1001, 5001, 25));
    w.send(2.85, seg(S, ACK, 5001, 1026, 0).ttl(49).ip_id(0x8013));
    w.send(2.851, seg(S, RST | ACK, 5001, 1026, 0).ttl(49).ip_id(0x8014));
    // Data the client sent after the RST was not what the server left unread.
    w.send(2.853, seg(C, ACK, 1026, 5001, 150));
    let v = verdict_at_end(w, 5.0);
    let r = v.reset().unwrap();
    assert_eq!((r.rst.frame, r.cause), (6, ResetCause::Abort));
    assert_eq!(r.peer_data_before.map(|p| p.frame), Some(4));
    assert_eq!(v.injected.len(), 1);
}

#[test]
fn a_rst_its_sender_goes_on_after_stands_without_a_forgery_sign_or_a_receiver_carrying_on() {
    // zeek modbus-and-non-modbus-p502.pcap, frames 62-66: a stateless
    // scanner's raw SYN (seq 0), the honeypot's SYN-ACK, the scanner
    // kernel's bare RST (window 0, seq = the SYN-ACK's ack: no socket for
    // it, RFC 9293 §3.10.7.1); 15.6 s later its user-space stack sends data
    // on the dead flow, and the honeypot, which took the RST, answers that
    // with its own no-socket RST. Same TTL, same IP ID 0: nothing forged,
    // and the receiver never carried on. Never established: a half-open scan.
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 0, 0, 0).ttl(44).ip_id(0));
    w.send(0.0001, seg(S, SYN | ACK, 3565456408, 1, 0).window(64240).ip_id(0));
    assert_eq!(w.send(0.117, seg(C, RST, 1, 0, 0).window(0).ttl(44).ip_id(0)), PacketClass::Rst);
    w.send(15.708, seg(C, ACK, 1, 3565456409, 109).ttl(44).ip_id(0));
    w.send(15.709, seg(S, RST, 3565456409, 0, 0).window(0).ip_id(0));
    let v = verdict_at_end(w, 20.0);
    assert_eq!(v.reason(), EndReason::NeverEstablished);
    assert!(v.injected.is_empty(), "{:?}", v.injected);
    let h = v.handshake().unwrap();
    assert_eq!(h.client_reset.map(|p| p.frame), Some(3));
    assert_eq!((h.syn_count, h.syn_ack_count), (1, 1));

    // The same going on, no sign on the RST, but the receiver carries on
    // with the real host: injected, and the connection goes on.
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, RST | ACK, 5101, 1011, 0));
    w.send(1.01, seg(S, ACK, 5101, 1011, 20));
    w.send(1.02, seg(C, ACK, 1011, 5121, 0));
    let v = verdict_at_end(w, 2.0);
    assert_eq!(v.reason(), EndReason::Open);
    assert_eq!(v.injected.len(), 1);
    assert!(v.injected[0].signs.is_empty());
}

#[test]
fn packets_from_another_host_after_a_rst_do_not_revive_the_connection() {
    let mut w = Wire::established(1000, 5000);
    w.send(5.0, seg(S, RST | ACK, 5101, 1011, 0));
    // In the server's name but 14 hops further: another host.
    w.send(5.1, seg(S, ACK, 5101, 1011, 10).ttl(50));
    // The server's TTL, but far out of its sequence space.
    w.send(5.2, seg(S, ACK, 5101 + (1 << 30), 1011, 10));
    // A repeated pure ACK is no proof either (it may have been queued before the RST).
    w.send(5.3, seg(S, ACK, 5101, 1011, 0));
    let v = verdict_at_end(w, 6.0);
    assert_eq!(v.reason(), EndReason::Reset);
    assert_eq!(v.reset().unwrap().rst.frame, 7);
    assert!(v.injected.is_empty());
    // A FIN in the server's name before its SYN-ACK is not the server's
    // (suricata-verify with_evasion_windows.pcap, frames 2-4): open.
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0).ip_id(0x7f0b));
    w.send(0.02, seg(S, RST | ACK, 0, 1001, 0).ip_id(0x7f0b));
    w.send(0.021, seg(S, FIN | ACK, 0, 1001, 0).ip_id(0x7f0b));
    w.send(0.03, seg(S, SYN | ACK, 59247, 1001, 0));
    w.send(0.031, seg(C, ACK, 1001, 59248, 0));
    w.send(0.032, seg(C, ACK, 1001, 59248, 100));
    w.send(0.05, seg(S, ACK, 59248, 1101, 200));
    let v = verdict_at_end(w, 0.06);
    assert_eq!(v.reason(), EndReason::Open);
    assert_eq!(v.injected[0].continued_by.frame, 4);
}

#[test]
fn a_ttl_one_hop_off_alone_is_only_a_possible_forgery() {
    let rst_after = |rst: Seg| {
        let mut w = Wire::established(1000, 5000);
        w.send(100.0, seg(C, ACK, 1011, 5101, 10));
        w.send(100.001, rst);
        verdict_at_end(w, 100.001)
    };
    // One hop, nothing else: possible.
    let v = rst_after(seg(S, RST, 5101, 0, 0).ttl(63));
    let r = v.reset().unwrap();
    assert_eq!((r.cause, r.confidence), (ResetCause::Middlebox, Some(Confidence::Possible)));
    // One hop and an IP ID out of the server's sequence (a REJECT's ID 0): likely.
    let mut w = Wire::established(1000, 5000);
    w.send(100.0, seg(S, ACK, 5101, 1011, 5).ip_id(0x4000));
    w.send(100.5, seg(C, ACK, 1011, 5106, 10));
    w.send(100.501, seg(S, RST, 5106, 0, 0).ttl(63).ip_id(0));
    let r = verdict_at_end(w, 100.501).reset().cloned().unwrap();
    assert_eq!((r.cause, r.confidence), (ResetCause::Middlebox, Some(Confidence::Likely)));
    assert_eq!(r.signs, [ForgerySign::TtlDiffers, ForgerySign::IpIdOutOfSequence]);
    // Compared with the host's packets nearest the RST, not its first: a SYN
    // proxy answered the handshake at TTL 39, the server's data and RST come
    // at 231 (nDPI alexa-app.pcapng, stream 70).
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0));
    w.send(0.01, seg(S, SYN | ACK, 5000, 1001, 0).ttl(39));
    w.send(0.02, seg(C, ACK, 1001, 5001, 0));
    w.send(3.5, seg(C, FIN | ACK, 1001, 5001, 0));
    w.send(3.6, seg(S, ACK, 5001, 1002, 7).ttl(231));
    w.send(3.601, seg(S, RST | ACK, 5008, 1002, 0).ttl(231));
    let r = verdict_at_end(w, 4.0).reset().cloned().unwrap();
    assert_ne!(r.cause, ResetCause::Middlebox);
}

/// A handshake from a client whose packets start at `client_ttl`, then a
/// request (10 bytes) and an answer (100); the client's next seq is 1011.
fn established_with_client_ttl(client_ttl: u8) -> Wire {
    let mut w = Wire::new();
    w.send(0.0, seg(C, SYN, 1000, 0, 0).ttl(client_ttl));
    w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0));
    w.send(0.002, seg(C, ACK, 1001, 5001, 10).ttl(client_ttl));
    w.send(0.004, seg(S, ACK, 5001, 1011, 100));
    w.send(0.005, seg(C, ACK, 1011, 5101, 0).ttl(client_ttl));
    w
}

#[test]
fn after_a_partial_ack_the_run_starts_at_the_oldest_unacknowledged_segment() {
    // suricata-verify http-sha256-drop-02: the sender's segments A, B, C go
    // out; the peer acknowledges A only (up to B's start). B is now the
    // oldest unacknowledged segment: its retransmissions are timed from its
    // first transmission (Linux: retrans_stamp is the head's tx time), not
    // from its first retransmission.
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, ACK, 5101, 1011, 100)); // A, frame 7
    w.send(1.001, seg(S, ACK, 5201, 1011, 100)); // B, frame 8
    w.send(1.002, seg(S, ACK, 5301, 1011, 50)); // C, frame 9
    w.send(1.1, seg(C, ACK, 1011, 5201, 0)); // partial ACK: A only
    for t in [1.3, 1.6, 2.2, 3.4, 5.8] {
        assert_eq!(w.send(t, seg(S, ACK, 5201, 1011, 100)), PacketClass::Retransmission);
    }
    w.send(15.4, seg(S, RST | ACK, 5351, 1011, 0).ttl(128));
    let v = verdict_at_end(w, 15.4);
    assert_eq!(v.reason(), EndReason::RetransmissionTimeout);
    let r = v.retransmission().unwrap();
    assert_eq!(r.first_unacked.frame, 8);
    assert_eq!(r.retransmissions, 5);
    assert!((r.backoff_s[0] - 0.299).abs() < 1e-9, "{:?}", r.backoff_s);
    assert!((r.gave_up_after_s - 14.399).abs() < 1e-9, "{}", r.gave_up_after_s);

    // A partial ACK inside the oldest segment keeps it, trimmed: the
    // retransmission starts at the new SND.UNA (tcp_retransmit_skb trims).
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, ACK, 5101, 1011, 100)); // frame 7
    w.send(1.1, seg(C, ACK, 1011, 5151, 0));
    assert_eq!(w.send(1.3, seg(S, ACK, 5151, 1011, 50)), PacketClass::Retransmission);
    assert_eq!(w.send(1.7, seg(S, ACK, 5151, 1011, 50)), PacketClass::Retransmission);
    let r = verdict_at_end(w, 1.8).retransmission().cloned().unwrap();
    assert_eq!((r.first_unacked.frame, r.retransmissions), (7, 2));
}

#[test]
fn equal_gaps_are_no_backoff_and_prove_no_give_up() {
    // nDPI zoom.pcap: the same 199 bytes sent 3 more times, 2.1 s apart,
    // then silence. RFC 6298 §5.5 doubles the timer at each expiry, so
    // equal gaps are not a TCP sender's backoff: no give-up is inferred.
    let mut w = Wire::established(1000, 5000);
    for t in [10.0, 12.1, 14.2, 16.3] {
        w.send(t, seg(C, ACK, 1011, 5101, 199));
    }
    let v = verdict_at_end(w, 30.0);
    assert_eq!(v.reason(), EndReason::Open);
    let r = v.retransmission().unwrap();
    assert!(!r.gave_up && !r.still_retransmitting);
    assert_eq!(r.retries2, None);
}

#[test]
fn who_gave_up_is_judged_by_the_senders_os() {
    // Windows (initial TTL 128) resets after TcpMaxDataRetransmissions = 5
    // (arkime CVE-2018-6794.pcap: gaps 0.3, 0.6, 1.2, 2.4, 4.8 s, then RST).
    let mut w = established_with_client_ttl(128);
    for t in [1.0, 1.3, 1.9, 3.1, 5.5, 10.3] {
        w.send(t, seg(C, ACK, 1011, 5101, 409).ttl(128));
    }
    w.send(19.9, seg(C, RST | ACK, 1420, 5101, 0).ttl(128));
    let v = verdict_at_end(w, 19.9);
    let r = v.retransmission().unwrap();
    assert!(r.gave_up && r.reset_by_sender.is_some());
    assert_eq!((r.retransmissions, r.sender_initial_ttl, r.retries2), (5, Some(128), None));

    // A Windows host that falls silent is not fitted to tcp_retries2: only
    // a Linux-like sender (initial TTL 64) gives up silently.
    let mut w = established_with_client_ttl(128);
    for t in [10.0, 10.2, 10.6, 11.4] {
        w.send(t, seg(C, ACK, 1011, 5101, 50).ttl(128));
    }
    let v = verdict_at_end(w, 20.0);
    assert_eq!(v.reason(), EndReason::RetransmissionTimeout);
    assert_eq!(v.retransmission().unwrap().retries2, None);
}

#[test]
fn a_zero_window_kept_closed_while_the_peer_probes_is_a_stall() {
    // The client's application stops reading: its window closes and stays
    // closed; the server's zero-window probes back off (RFC 9293
    // §3.8.6.1; Linux tcp_probe_timer doubles the interval) and are
    // answered with the window still zero.
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, ACK, 5101, 1011, 100));
    w.send(1.001, seg(C, ACK, 1011, 5201, 0).window(0)); // frame 8
    let mut t = 1.201;
    for _ in 0..5 {
        assert_eq!(w.send(t, seg(S, ACK, 5200, 1011, 0)), PacketClass::ZeroWindowProbe);
        w.send(t + 0.001, seg(C, ACK, 1011, 5201, 0).window(0));
        t += 2.0 * (t - 1.001);
    }
    let v = verdict_at_end(w, 20.0);
    assert_eq!(v.reason(), EndReason::Stalled);
    let z = v.zero_window().unwrap();
    assert_eq!((z.receiver, z.since.frame, z.probes), (Side::Client, 8, 5));
    assert!(z.probe_gaps_s.windows(2).all(|g| g[1] > g[0]), "{:?}", z.probe_gaps_s);
    assert!((z.closed_for_s - 18.999).abs() < 1e-9);

    // The window opens again: no stall.
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(S, ACK, 5101, 1011, 100));
    w.send(1.001, seg(C, ACK, 1011, 5201, 0).window(0));
    w.send(1.201, seg(S, ACK, 5200, 1011, 0));
    w.send(1.5, seg(C, ACK, 1011, 5201, 0).window(300));
    let v = verdict_at_end(w, 20.0);
    assert_eq!(v.reason(), EndReason::Open);
    assert!(v.zero_window().is_none());
    // A zero window that nobody probed (nothing was waiting) stalls nothing.
    let mut w = Wire::established(1000, 5000);
    w.send(1.0, seg(C, ACK, 1011, 5101, 0).window(0));
    assert_eq!(verdict_at_end(w, 20.0).reason(), EndReason::Open);
}

/// A client that probes after 45 s of idle, each probe answered at once
/// (nDPI wechat.pcap, 192.168.1.103:38657: frames 343/344, 472/473, 838/839).
fn answered_prober() -> Wire {
    let mut w = Wire::established(1000, 5000);
    for t in [45.005, 90.06, 135.11] {
        assert_eq!(w.send(t, seg(C, ACK, 1010, 5101, 0)), PacketClass::KeepaliveProbe);
        w.send(t + 0.05, seg(S, ACK, 5101, 1011, 0));
    }
    w
}

#[test]
fn an_answered_prober_that_stops_probing_went_silent_not_open() {
    // Linux tcp_keepalive_timer re-arms itself for as long as the socket
    // is open with SO_KEEPALIVE, and an answer restarts the idle
    // (keepalive_time_elapsed counts from the last packet received): the
    // next probe was due 45 s after 135.16. Three idles (135 s) without
    // it, while the capture went on, and no FIN or RST: the capture can
    // no longer call it open.
    let v = verdict_at_end(answered_prober(), 500.0);
    assert_eq!(v.reason(), EndReason::WentSilent);
    assert!(v.reason().is_abnormal() && v.reason().not_ended());
    assert_eq!((v.ended_by(), v.end_packet()), (None, None));
    let Verdict::WentSilent(s) = &v.verdict else { unreachable!() };
    assert_eq!(s.prober, Side::Client);
    assert_eq!(s.probes_answered, 3);
    assert!((s.every_s - 45.0).abs() < 1e-6 && (s.longest_idle_s - 45.005).abs() < 1e-6, "{s:?}");
    assert!((s.silent_for_s - (500.0 - 135.16)).abs() < 1e-6, "{s:?}");
    assert_eq!(s.last_probe.ts, Timestamp::from_secs_f64(135.11));
    // The prober's finding is still told, and it did not give up.
    assert!(!v.keepalive()[0].gave_up);

    // Less than three idles of silence: the next probes may still come.
    assert_eq!(verdict_at_end(answered_prober(), 260.0).reason(), EndReason::Open);
    // One answered probe is no period yet.
    let mut w = Wire::established(1000, 5000);
    w.send(45.005, seg(C, ACK, 1010, 5101, 0));
    w.send(45.055, seg(S, ACK, 5101, 1011, 0));
    assert_eq!(verdict_at_end(w, 1000.0).reason(), EndReason::Open);
    // The link in front of the server could not resolve it while the
    // probes were due: they died before the capture point.
    let conns = answered_prober().finish();
    let blind = server_unresolved_at(&[150.0, 151.0, 152.0, 200.0]);
    assert_eq!(judge(&conns[0], Timestamp::from_secs_f64(500.0), &blind).reason(), EndReason::Open);
}

#[test]
fn a_one_byte_prober_that_is_not_windows_may_fire_a_slow_tick_early() {
    // nDPI h323.pcap s2: an embedded stack (TTL 64, 1-byte probes: 4.4BSD's
    // TCP_COMPAT_42) probes 14.96 s after the last packet it received. Its
    // slow timer counts 500 ms ticks and may fire up to a tick early, so 15 s
    // fits as well as 14 s fired late; a 0-byte (Linux-shaped) prober's timer
    // never fires early: 14 s.
    let idle_of = |bytes: u32, ttl: u8| {
        // The server, the prober, sends every packet with this TTL.
        let mut w = Wire::new();
        w.send(0.0, seg(C, SYN, 1000, 0, 0));
        w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0).ttl(ttl));
        w.send(0.002, seg(C, ACK, 1001, 5001, 10));
        w.send(0.003, seg(S, ACK, 5001, 1011, 100).ttl(ttl));
        w.send(10.0, seg(C, ACK, 1011, 5101, 0));
        assert_eq!(w.send(24.96, seg(S, ACK, 5100, 1011, bytes).ttl(ttl)), PacketClass::KeepaliveProbe);
        w.send(24.961, seg(C, ACK, 1011, 5101, 0));
        let v = verdict_at_end(w, 25.0);
        let k = v.keepalive()[0];
        (k.timer, k.idle.map(|i| (i.value, i.low, i.high)))
    };
    assert_eq!(idle_of(1, 64), (crate::infer::TimerModel::SlowTickOrLate, Some((15, 14, 15))));
    assert_eq!(idle_of(0, 64), (crate::infer::TimerModel::Late, Some((14, 14, 14))));
    // A 1-byte prober with TTL 128 looks like Windows: its timer fires
    // within a 100 ms tick either way (15 s, 40 ms early), or it is 14 s
    // fired late.
    assert_eq!(idle_of(1, 128), (crate::infer::TimerModel::WindowsTickOrLate, Some((15, 14, 15))));
}
