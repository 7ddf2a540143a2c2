//! A tiny wire for unit tests: hand-built segments into a flow table,
//! classes and finished connections out.

use super::{Connection, FlowTable, PacketClass, PacketRef, Side, Train};
use crate::decode::{Segment, TcpFlags};
use crate::seq::SeqNumber;
use crate::time::Timestamp;

pub use crate::testkit::{ACK, CLIENT as C, FIN, RST, SERVER as S, SYN};

/// A tiny wire: segments in, classes and finished connections out.
pub struct Wire {
    pub table: FlowTable,
    frame: u64,
    pub done: Vec<Connection>,
}

pub struct Seg {
    from: &'static str,
    flags: u8,
    seq: u32,
    ack: u32,
    len: u32,
    window: u16,
    sack: Option<(u32, u32)>,
    ttl: u8,
    ip_id: Option<u16>,
    timestamps: bool,
}

pub fn seg(from: &'static str, flags: u8, seq: u32, ack: u32, len: u32) -> Seg {
    Seg { from, flags, seq, ack, len, window: 501, sack: None, ttl: 64, ip_id: None, timestamps: false }
}

impl Seg {
    /// The side that sends it (the server's port is the well-known one:
    /// the server it is, mid-stream too).
    pub fn side(&self) -> Side {
        if self.from == C { Side::Client } else { Side::Server }
    }
    pub fn window(mut self, w: u16) -> Seg {
        self.window = w;
        self
    }
    pub fn sack(mut self, l: u32, r: u32) -> Seg {
        self.sack = Some((l, r));
        self
    }
    pub fn ttl(mut self, ttl: u8) -> Seg {
        self.ttl = ttl;
        self
    }
    pub fn ip_id(mut self, id: u16) -> Seg {
        self.ip_id = Some(id);
        self
    }
    pub fn timestamps(mut self) -> Seg {
        self.timestamps = true;
        self
    }
}

impl Wire {
    pub fn new() -> Wire {
        Wire { table: FlowTable::new(), frame: 0, done: Vec::new() }
    }

    pub fn send(&mut self, t: f64, s: Seg) -> PacketClass {
        let at = PacketRef { frame: self.frame + 1, ts: Timestamp::from_secs_f64(t) };
        self.send_at(at, s)
    }

    /// Sends a segment as this frame, at this time (frames from here on
    /// are numbered after it).
    pub fn send_at(&mut self, at: PacketRef, s: Seg) -> PacketClass {
        self.frame = at.frame;
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
            ip_id: s.ip_id,
            has_timestamp: s.timestamps,
            first_sack: s.sack.map(|(l, r)| (SeqNumber(l), SeqNumber(r))),
        };
        let done = &mut self.done;
        self.table.observe(at, &segment, &mut |c| done.push(c)).class
    }

    /// The slot of the connection between the client and the server, if
    /// the table holds it.
    pub(super) fn slot(&self) -> Option<super::Slot> {
        self.table.flows.find(&Self::any_segment()).map(|(slot, _)| slot)
    }

    /// A segment of the connection between the client and the server.
    fn any_segment() -> Segment {
        Segment {
            vlan: Default::default(),
            src: C.parse().unwrap(),
            dst: S.parse().unwrap(),
            seq: SeqNumber(0),
            ack: SeqNumber(0),
            flags: TcpFlags(ACK),
            window: 0,
            payload_len: 0,
            ttl: 64,
            ip_id: None,
            has_timestamp: false,
            first_sack: None,
        }
    }

    /// The keepalive trains (client's, server's) of the connection between
    /// the client and the server, as the pipeline asks for them
    /// (`FlowTable::trains_of`), if the table holds it.
    pub fn trains(&mut self) -> Option<[Train; 2]> {
        self.table.trains_of(&Self::any_segment()).map(|trains| trains.map(Train::clone))
    }

    /// The record the table holds for the connection between the client
    /// and the server, if it holds one.
    pub(super) fn record(&self) -> Option<&super::Flow> {
        self.table.flows.get(self.slot()?)
    }

    /// That connection as it stands (a look at one held: `Flow::to_connection`).
    pub fn look(&self) -> Option<Connection> {
        let (flows, slot) = (&self.table.flows, self.slot()?);
        Some(flows.get(slot)?.to_connection(flows.endpoints(slot), flows.vlan(slot)))
    }

    /// Ends the capture and returns every connection, in order.
    pub fn finish(mut self) -> Vec<Connection> {
        let done = &mut self.done;
        self.table.drain(&mut |c| done.push(c));
        self.done
    }

    /// Handshake plus one request/response; client ISN `c`, server ISN `s`.
    /// Afterwards the client's next seq is c+11, the server's s+101.
    pub fn established(c: u32, s: u32) -> Wire {
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
