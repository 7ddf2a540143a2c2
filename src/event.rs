//! Events streamed while a capture runs (`tcpka live`), as values, and the
//! sink trait they go to. The [`Judge`](crate::pipeline::Judge) makes them
//! from what the flow table reports and from the pipeline's clock rules; an
//! [`EventSink`] only writes them out (NDJSON or human lines, `docs/live.md`).

use crate::flow::{Confirmation, PacketRef, Side};
use crate::report::ConnectionReport;
use crate::time::Timestamp;
use crate::verdict::EndReason;
use std::io;
use std::net::SocketAddr;

/// The connection an event is about: its number in the capture, and its two ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The flow table's number for the connection: unique in the capture,
    /// even when a 4-tuple is reused.
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
}

/// Something that happened to one connection.
#[derive(Debug)]
pub enum ConnectionEvent<'a> {
    /// A side sent the first keepalive probe of a train.
    KeepaliveTrain(TrainStarted),
    /// A probe is known to have gone unanswered.
    ProbeUnanswered(ProbeUnanswered),
    /// The connection ended (or an earlier verdict on it was revised).
    ConnectionEnded(ConnectionEnded<'a>),
}

#[derive(Clone, Copy, Debug)]
pub struct TrainStarted {
    pub prober: SocketAddr,
    pub prober_role: Side,
    pub peer: SocketAddr,
    pub first_probe: PacketRef,
    /// Last packet the prober received → first probe (s), rounded to µs; None when not seen.
    pub idle_observed_s: Option<f64>,
    pub probe_payload_bytes: u8,
}

#[derive(Clone, Copy, Debug)]
pub struct ProbeUnanswered {
    pub prober: SocketAddr,
    pub prober_role: Side,
    /// 1-based number of the probe within its train.
    pub probe: u32,
    /// The probe, when it is among those kept (the first ones and the last).
    pub probe_at: Option<PacketRef>,
    pub confirmed_by: Confirmation,
}

/// How an end was detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// The moment a RST or the second FIN was captured.
    Packet,
    /// A prober fell silent after unanswered probes, by the clock.
    Clock,
    /// When the flow table handed the connection out.
    Judged,
}

impl Detection {
    pub fn name(self) -> &'static str {
        match self {
            Detection::Packet => "packet",
            Detection::Clock => "clock",
            Detection::Judged => "judged",
        }
    }
}

#[derive(Debug)]
pub struct ConnectionEnded<'a> {
    pub end_reason: EndReason,
    pub detected_by: Detection,
    /// A later judgment changed an earlier connection-ended.
    pub revised: bool,
    /// How long the side that ended it had heard nothing but probes from
    /// its peer before the end (s); None when a side or packet is missing.
    pub silence_s: Option<f64>,
    pub report: &'a ConnectionReport,
}

/// The capture's counters (libpcap's, and tcpka's own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// libpcap: packets received (that passed the filter).
    pub received: u32,
    /// libpcap: dropped by the kernel for lack of buffer space.
    pub dropped: u32,
    /// libpcap: dropped by the interface or its driver.
    pub if_dropped: u32,
    /// Captured but not analysed (the analysis fell behind).
    pub not_analysed: u64,
    /// Events not written (standard output did not keep up).
    pub events_dropped: u64,
    /// Packets tcpka read.
    pub packets: u64,
    /// Connections still held when the stats were taken.
    pub connections_open: usize,
    /// The last stats of the run.
    pub is_final: bool,
}

/// Where streamed events go.
pub trait EventSink {
    /// One event about a connection; `time` is when it happened (a packet's
    /// time, or the clock's for what the clock decided).
    fn connection_event(&mut self, time: Timestamp, on: Endpoints, event: ConnectionEvent<'_>) -> io::Result<()>;
    /// The capture's counters.
    fn capture_stats(&mut self, time: Timestamp, stats: &CaptureStats) -> io::Result<()>;
    /// No more connection events: the final report follows.
    fn finish(&mut self) -> io::Result<()>;
}
