//! What tcpka tells: the report's data model (the JSON document's shape) and
//! its writers. A connection's report is built once, when the connection is
//! judged, and handed to a [`ReportSink`]; the flow table then drops it.

mod connection_json;
pub mod connection_stream;
pub mod diagnosis;
pub mod html;
pub mod json;
pub mod ladder;
pub mod ndjson;
pub mod prose;
mod runwide;
pub mod stories;
pub mod table;
pub mod vantage;

use crate::community::{TCP, community_id};
use crate::duplicates::Duplicate;
use crate::findings::{HostFinding, OsFamily, PathFinding, SettingsOrigin, StormFinding, os_family, settings_origin};
use crate::flow::{Connection, PacketRef, RoleSource, Side};
use crate::infer::TimerSetting;
use crate::time::Fixed;
pub use crate::time::round6;
use crate::verdict::{
    Bound, Confidence, EndReason, Ending, ForgerySign, HandshakeFinding, Heartbeat, InjectedReset, Judgement,
    KeepaliveFinding, ResetCause, ResetFinding, RetransmissionFinding, Verdict, ZeroWindowFinding,
};
use prose::{Prose, put};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::{self, Write};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::sync::Arc;

/// One input file, as read.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CaptureSummary {
    pub path: String,
    /// "pcap" or "pcapng" (from the file's magic number), null if unreadable.
    pub format: Option<String>,
    pub link_types: Vec<String>,
    pub packets: u64,
    pub tcp_packets: u64,
    pub other_packets: u64,
    /// Packets whose headers could not be read (not counted in any connection).
    pub undecodable_packets: u64,
    pub connections: u64,
    /// Connections the capture never showed established both ways (a
    /// handshake that never completed, or one side never heard from), judged
    /// and dropped early because more than [`MAX_UNREPLIED`](crate::flow::MAX_UNREPLIED)
    /// such were held at once (a scan, a SYN flood). Only in the JSON when not zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub unreplied_evicted: u64,
    /// Frames that were copies of a packet captured just before (`tcpdump -i
    /// any` on a router, a mirror port, merged captures), analysed once. Only
    /// in the JSON when there were some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<DuplicateFrames>,
    pub first_packet: Option<String>,
    pub last_packet: Option<String>,
    /// The files, in order, when the capture was read from several that
    /// continue one another (a ring buffer; `path` is the first). Only in
    /// the JSON then.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// When the capture ended, when the file says so and it is after the
    /// last packet (a pcapng's `isb_endtime`): verdicts run to it. Only in
    /// the JSON then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_end: Option<String>,
    pub warnings: Vec<String>,
    /// Why the file could not be read (fully); null when it was.
    pub error: Option<String>,
    /// A live capture's counters (`tcpka live` only: not in analyze's JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_counts: Option<CaptureCounts>,
}

/// A live capture's counters at its end: libpcap's (`pcap_stats`) and tcpka's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CaptureCounts {
    /// Packets that passed the filter (libpcap's `ps_recv`).
    pub received: u32,
    /// Dropped by the kernel for lack of room in its capture ring (`ps_drop`).
    pub dropped_by_kernel: u32,
    /// Dropped by the interface or its driver (`ps_ifdrop`).
    pub dropped_by_interface: u32,
    /// Captured (and written to the `--write` file) but not analysed: the
    /// analysis fell behind and the capture thread does not wait for it.
    pub not_analysed: u64,
}

/// How many frames were dropped as copies, and the first ones.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DuplicateFrames {
    pub dropped: u64,
    /// The first few: each frame and the frame it repeats (the one analysed).
    pub first: Vec<Duplicate>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One keepalive-probing side of a connection.
#[derive(Clone, Debug, Serialize)]
pub struct KeepaliveReport {
    pub prober: String,
    pub prober_role: Side,
    #[serde(flatten)]
    pub facts: KeepaliveFacts,
}

/// What one side's keepalive probes showed, whoever it was.
#[derive(Clone, Debug, Serialize)]
pub struct KeepaliveFacts {
    pub probes_sent: u32,
    pub probes_answered: u32,
    /// Probes of the last train nobody answered.
    pub unanswered_at_end: u32,
    /// Shortest observed idle: last packet received → first probe of a train (s).
    pub idle_observed_s: Option<f64>,
    /// The idle before the last train (s): the one that ended the
    /// connection when the prober gave up.
    pub last_train_idle_s: Option<f64>,
    /// The idle setting (tcp_keepalive_time / TCP_KEEPIDLE) this implies (s).
    pub idle_s: Option<u32>,
    /// All whole seconds that fit the observations, [low, high].
    pub idle_range_s: Option<[u32; 2]>,
    /// Shortest observed gap between an unanswered probe and the next probe (or the reset).
    pub interval_observed_s: Option<f64>,
    /// The interval setting (tcp_keepalive_intvl / TCP_KEEPINTVL) this implies (s).
    pub interval_s: Option<u32>,
    pub interval_range_s: Option<[u32; 2]>,
    /// The probe-count setting (tcp_keepalive_probes / TCP_KEEPCNT) this implies.
    pub probes: Option<u32>,
    /// "exact", or "at-least" when the capture cannot show when the prober would give up.
    pub probes_bound: Option<Bound>,
    /// A Linux-shaped prober that reset after its probes would do the same
    /// with a TCP_USER_TIMEOUT in (low, high] s since the last packet it
    /// received (it overrides the probe count).
    pub user_timeout_between_s: Option<[f64; 2]>,
    /// The prober gave up on this connection.
    pub gave_up: bool,
    /// Payload bytes per probe: 0 (Linux, BSD, macOS) or 1 (Windows, some embedded stacks).
    pub probe_payload_bytes: u8,
    /// The OS family the probe format and TTL suggest.
    pub os_family: OsFamily,
    pub settings_origin: SettingsOrigin,
    pub first_probe_frame: Option<u64>,
}

/// What the RST that ended a connection shows.
#[derive(Clone, Debug, Serialize)]
pub struct ResetReport {
    pub sender: String,
    #[serde(skip)]
    pub by: Side,
    #[serde(flatten)]
    pub facts: ResetFacts,
}

/// What the RST shows, whoever sent it.
#[derive(Clone, Debug, Serialize)]
pub struct ResetFacts {
    pub cause: ResetCause,
    pub frame: u64,
    /// Silence before the RST or the segment it answered (s).
    pub idle_before_s: f64,
    /// For a forged RST: hops from the capture point to whoever sent it, and to the real host.
    pub injector_hops: Option<u8>,
    pub host_hops: Option<u8>,
    /// For a forged RST: "likely", or "possible" (a TTL one hop off and nothing else).
    pub confidence: Option<Confidence>,
    /// For a forged RST: what gives it away ("ttl-differs", "ip-id-out-of-sequence", …).
    pub signs: Vec<ForgerySign>,
}

/// A RST that did not end the connection: its supposed sender went on.
#[derive(Clone, Debug, Serialize)]
pub struct InjectedResetReport {
    /// The host whose name it carried.
    pub sender: String,
    #[serde(skip)]
    pub by: Side,
    #[serde(flatten)]
    pub facts: InjectedResetFacts,
}

/// What an injected RST shows, whoever's name it carried.
#[derive(Clone, Debug, Serialize)]
pub struct InjectedResetFacts {
    pub frame: u64,
    /// The real host's packet after it.
    pub continued_by_frame: u64,
    pub injector_hops: u8,
    pub host_hops: u8,
    /// "ttl-differs", "ip-id-of-peer", "ip-id-out-of-sequence", "ack-is-syn-sequence".
    pub signs: Vec<ForgerySign>,
}

/// Data that was never acknowledged.
#[derive(Clone, Debug, Serialize)]
pub struct RetransmissionReport {
    pub sender: String,
    #[serde(skip)]
    pub by: Side,
    #[serde(flatten)]
    pub facts: RetransmissionFacts,
}

/// What the unacknowledged data shows, whoever sent it.
#[derive(Clone, Debug, Serialize)]
pub struct RetransmissionFacts {
    pub first_unacked_frame: u64,
    pub retransmissions: u32,
    /// Gaps between successive transmissions (s): the exponential backoff.
    pub backoff_s: Vec<f64>,
    /// From the first transmission to the last retransmission, or to the sender's RST (s).
    pub gave_up_after_s: f64,
    pub gave_up: bool,
    /// The capture ended while the sender was still retransmitting, or lost
    /// sight of it (the verdict is then `stalled`).
    pub still_retransmitting: bool,
    /// The capture could not see the sender's packets to its peer from this
    /// frame on: the first of the unanswered ARP / neighbour-discovery
    /// requests for the peer's address while its next retransmission was
    /// due (absent when the capture could see them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_blind_from_frame: Option<u64>,
    pub reset_by_sender: bool,
    /// The Linux tcp_retries2 value whose give-up time fits (null if none does:
    /// TCP_USER_TIMEOUT, or not Linux). For a sender that had sent its FIN
    /// it is net.ipv4.tcp_orphan_retries if its application closed the
    /// socket (8 for that setting's default 0), tcp_retries2 only if it
    /// shut down writing.
    pub tcp_retries2: Option<u32>,
}

/// A handshake that never completed.
#[derive(Clone, Debug, Serialize)]
pub struct HandshakeReport {
    /// SYNs the client sent: the first and its retransmissions.
    pub syns: u32,
    /// Gaps between successive SYNs (s): the retransmission backoff.
    pub syn_gaps_s: Vec<f64>,
    /// SYN-ACKs the server sent (0: nobody answered).
    pub syn_acks: u32,
    pub syn_ack_gaps_s: Vec<f64>,
    /// The shape of the SYN gaps, null when they follow none.
    pub syn_backoff: Option<SynBackoffReport>,
    /// The client sent no SYN when its next one was due, while the capture went on.
    pub client_stopped: bool,
    /// The Linux net.ipv4.tcp_syn_retries (TCP_SYNCNT) the SYNs fit, when they fit one.
    pub tcp_syn_retries: Option<u32>,
    /// The Linux (6.5 and later) net.ipv4.tcp_syn_linear_timeouts the gaps fit.
    pub tcp_syn_linear_timeouts: Option<u32>,
}

/// SYN gaps: `flat_gaps` of `initial_s`, then doubling when `doubled`.
#[derive(Clone, Debug, Serialize)]
pub struct SynBackoffReport {
    pub initial_s: u32,
    pub flat_gaps: u32,
    pub doubled: bool,
}

/// A zero window still closed when the connection was judged, its peer probing it.
#[derive(Clone, Debug, Serialize)]
pub struct ZeroWindowReport {
    /// The side whose window is closed (its application stopped reading).
    pub receiver: String,
    #[serde(skip)]
    pub by: Side,
    #[serde(flatten)]
    pub facts: ZeroWindowFacts,
}

/// How long a zero window stayed closed, and how its peer probed it.
#[derive(Clone, Debug, Serialize)]
pub struct ZeroWindowFacts {
    /// The first packet that advertised the zero window.
    pub since_frame: u64,
    /// From then to the end of the capture (s).
    pub closed_for_s: f64,
    /// Zero-window probes its peer sent meanwhile.
    pub probes: u32,
    /// Gaps from the zero window to each probe, then between probes (s): the persist backoff.
    pub probe_gaps_s: Vec<f64>,
}

/// Small messages at a regular period in one direction.
#[derive(Clone, Debug, Serialize)]
pub struct HeartbeatReport {
    pub from: String,
    #[serde(skip)]
    pub by: Side,
    #[serde(flatten)]
    pub facts: HeartbeatFacts,
}

/// The heartbeat's rhythm, whoever sent it.
#[derive(Clone, Debug, Serialize)]
pub struct HeartbeatFacts {
    /// The period as observed, to a tenth of a second (the median gap): an
    /// application timer need not count whole seconds (3.5 s is not 4 s).
    pub period_s: f64,
    pub period_observed_s: f64,
    pub messages: u32,
}

/// One side closed, the other not.
#[derive(Clone, Debug, Serialize)]
pub struct HalfClosedReport {
    pub fin_by: String,
    #[serde(skip)]
    pub by: Side,
    #[serde(flatten)]
    pub facts: HalfClosedFacts,
}

/// How long a half-closed connection stayed so.
#[derive(Clone, Debug, Serialize)]
pub struct HalfClosedFacts {
    /// How long the other side then stayed open, until the capture ended (s).
    pub open_for_s: f64,
}

/// A packet that backs a finding.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub frame: u64,
    pub time: String,
    pub what: String,
    /// For a capture read from several files (a ring buffer): the file
    /// the packet is in, and its frame number in that file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_frame: Option<u64>,
}

/// Which file each frame of a capture comes from, when it was read from
/// several files that continue one another (a ring buffer): its frames are
/// numbered across them, as Wireshark numbers `mergecap -a` of the files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileFrames {
    /// Each file, and the number of frames before its first.
    starts: Vec<(u64, String)>,
}

impl FileFrames {
    /// The next file's frames follow the `frames_before` read so far.
    pub fn add(&mut self, frames_before: u64, path: &str) {
        self.starts.push((frames_before, path.to_string()));
    }

    /// The files, when there are several.
    pub fn paths(&self) -> Vec<String> {
        match self.starts.len() {
            0 | 1 => Vec::new(),
            _ => self.starts.iter().map(|(_, p)| p.clone()).collect(),
        }
    }

    /// The file of frame `frame` and its number there; None for a capture of one file.
    pub fn locate(&self, frame: u64) -> Option<(&str, u64)> {
        if self.starts.len() < 2 {
            return None;
        }
        let i = self.starts.partition_point(|(before, _)| *before < frame).checked_sub(1)?;
        let (before, path) = &self.starts[i];
        Some((path, frame - before))
    }
}

/// One connection's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectionReport {
    /// `"<capture number>-<first frame>"`: unique in a run, the same in every
    /// format and every run over the same files (the capture number is the
    /// file's place on the command line, from 1; live capture is 1).
    pub id: String,
    /// The Community ID v1 of the connection ([`community`](crate::community)),
    /// as Zeek, Suricata and Wireshark print it.
    pub community_id: String,
    pub capture: String,
    pub client: String,
    pub server: String,
    /// `client` and `server` as addresses (the other formats write them as objects).
    #[serde(skip)]
    pub addrs: [SocketAddr; 2],
    pub roles_from: RoleSource,
    pub vlan: Vec<u16>,
    pub first_frame: u64,
    pub last_frame: u64,
    pub start: String,
    pub end: String,
    pub duration_s: f64,
    pub packets: u64,
    pub end_reason: EndReason,
    pub ended_by: Option<String>,
    /// `ended_by` as a side.
    #[serde(skip)]
    pub ended_by_side: Option<Side>,
    /// For `reset`: why ("refused", "middlebox", "peer-lost-state", "abort-unread-data", "abort").
    pub reset_cause: Option<ResetCause>,
    pub diagnosis: String,
    pub keepalive: Vec<KeepaliveReport>,
    pub reset: Option<ResetReport>,
    /// RSTs in a host's name after which that host went on: injected, and ignored.
    pub injected_resets: Vec<InjectedResetReport>,
    pub retransmission: Option<RetransmissionReport>,
    pub zero_window: Option<ZeroWindowReport>,
    pub half_closed: Option<HalfClosedReport>,
    /// For `never-established`: the SYNs and SYN-ACKs.
    pub handshake: Option<HandshakeReport>,
    pub heartbeat: Option<HeartbeatReport>,
    /// For connections still open (or half-closed): silence from the last packet to the end of the capture (s).
    pub idle_at_end_s: Option<f64>,
    pub longest_idle_s: Option<f64>,
    pub retransmissions: u32,
    pub zero_window_probes: u32,
    pub evidence: Vec<Evidence>,
    pub wireshark_filter: String,
    /// The end of the connection as a ladder diagram (the table and HTML draw it).
    #[serde(skip)]
    pub ladder: ladder::Ladder,
}

/// Per-prober aggregate across connections.
#[derive(Clone, Debug, Serialize)]
pub struct HostReport {
    /// "ip:port" for a server, "ip" for a client (its ports change).
    pub prober: String,
    /// `prober` as an address and, for a server, its port.
    #[serde(skip)]
    pub prober_addr: (IpAddr, Option<u16>),
    #[serde(flatten)]
    pub facts: HostFacts,
}

/// What one prober's connections showed.
#[derive(Clone, Debug, Serialize)]
pub struct HostFacts {
    pub role: Side,
    pub connections_probed: u64,
    pub connections_ended: u64,
    pub probes_sent: u64,
    pub probes_answered: u64,
    pub idle_observed_min_s: Option<f64>,
    pub idle_observed_max_s: Option<f64>,
    pub idle_s: Option<u32>,
    pub interval_observed_min_s: Option<f64>,
    pub interval_s: Option<u32>,
    pub probes: Option<u32>,
    pub probes_bound: Option<Bound>,
    pub settings_origin: SettingsOrigin,
    pub summary: String,
}

/// The inferred idle timeout on the path to one server.
#[derive(Clone, Debug, Serialize)]
pub struct PathReport {
    pub server: String,
    #[serde(skip)]
    pub server_addr: SocketAddr,
    #[serde(flatten)]
    pub facts: PathFacts,
}

/// What the connections to one server showed about its path.
#[derive(Clone, Debug, Serialize)]
pub struct PathFacts {
    pub connections: u64,
    /// The longest silence a connection to this server survived (s).
    pub survived_idle_max_s: Option<f64>,
    /// The shortest silence after which a connection died (s).
    pub died_after_idle_min_s: Option<f64>,
    pub died_connections: u64,
    /// [low, high]: the path drops idle connections after more than `low` and at most `high` seconds.
    pub idle_timeout_between_s: Option<[f64; 2]>,
    /// A connection survived a silence at least as long as one that killed another.
    pub conflicting: bool,
    /// Well-known default idle timeouts that fit the bounds, e.g. "AWS Network Load Balancer (350 s)".
    pub fits_defaults: Vec<String>,
    /// Keepalive idle (or heartbeat period) to stay below the timeout, s.
    pub recommended_keepalive_idle_s: Option<u32>,
    pub summary: String,
}

/// One client abandoning connections to one service while opening newer ones.
#[derive(Clone, Debug, Serialize)]
pub struct StormReport {
    pub client: String,
    pub server: String,
    #[serde(skip)]
    pub addrs: (IpAddr, SocketAddr),
    #[serde(flatten)]
    pub facts: StormFacts,
}

/// One client's reconnect storm.
#[derive(Clone, Debug, Serialize)]
pub struct StormFacts {
    /// Older connections left open (unanswered, half-closed by the server,
    /// or long idle), each followed by a newer connection.
    pub abandoned: u64,
    /// Of those, the ones whose last packets went unanswered (half-open).
    pub unanswered: u64,
    /// Of those, the ones the server had closed and the client never did (CLOSE_WAIT).
    pub half_closed_by_server: u64,
    /// The oldest abandoned connection's first frame.
    pub first_frame: u64,
    /// The newest connection's first frame.
    pub newest_frame: u64,
    pub summary: String,
}

/// Totals over the whole run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub captures: u64,
    pub packets: u64,
    pub connections: u64,
    pub by_end_reason: BTreeMap<EndReason, u64>,
    /// The `reset` verdicts by their cause.
    pub by_reset_cause: BTreeMap<ResetCause, u64>,
    pub keepalive_probes: u64,
    pub keepalive_probes_answered: u64,
}

/// Everything reported once, after the last connection. The writers turn
/// the findings into their reports ([`HostReport::new`], ...).
pub struct RunReport<'a> {
    pub captures: &'a [CaptureSummary],
    pub hosts: &'a [HostFinding],
    pub paths: &'a [PathFinding],
    pub reconnect_storms: &'a [StormFinding],
    pub summary: &'a Summary,
    /// Two vantage points compared (`--vantage`), when asked for.
    pub vantage: Option<&'a vantage::VantageReport>,
}

impl RunReport<'_> {
    pub fn host_reports(&self) -> Vec<HostReport> {
        self.hosts.iter().map(HostReport::new).collect()
    }
    pub fn path_reports(&self) -> Vec<PathReport> {
        self.paths.iter().map(PathReport::new).collect()
    }
    pub fn storm_reports(&self) -> Vec<StormReport> {
        self.reconnect_storms.iter().map(StormReport::new).collect()
    }
}

/// Where finished reports go.
pub trait ReportSink {
    /// Whether the sink will use the report of a connection with this verdict.
    /// Building a report (its diagnosis, evidence and strings) costs more than
    /// judging the connection, so it is only built when wanted. A sink that
    /// says no can still count the connection.
    fn wants(&mut self, end_reason: EndReason) -> bool;
    /// A judged connection the sink [`wants`](ReportSink::wants). By
    /// default its whole report is built and handed to
    /// [`connection`](ReportSink::connection); JSON and NDJSON write theirs
    /// straight from the connection and its verdict instead, and the table
    /// and HTML (which tell one connection of each story in full and list
    /// the others) build the report of a story's first connection only.
    fn judged(&mut self, judged: &Judged<'_>) -> io::Result<()> {
        self.connection(&judged.report())
    }
    /// Whether the sink takes its connections owned, through
    /// [`hand_over`](ReportSink::hand_over): one that writes them on a
    /// thread of its own. Others are lent theirs ([`judged`](ReportSink::judged)),
    /// which spares moving each connection and its verdict (~1.9 KB) and
    /// naming its capture: 2% of the CPU of NDJSON flushed a line at a time.
    fn wants_owned(&self) -> bool {
        false
    }
    /// The same, the connection handed over owned: a sink that writes on
    /// a thread of its own sends it there. By default,
    /// [`judged`](ReportSink::judged).
    fn hand_over(&mut self, judged: JudgedConnection) -> io::Result<()> {
        self.judged(&judged.judged())
    }
    /// A connection's report, built: the table and HTML get theirs here,
    /// and every sink gets the whole report of a connection whose end the
    /// live event stream carried (it was built for the event).
    fn connection(&mut self, report: &ConnectionReport) -> io::Result<()>;
    fn finish(&mut self, run: &RunReport<'_>) -> io::Result<()>;
}

/// A connection as the Judge hands it to a sink: what its report is made of.
pub struct Judged<'a> {
    pub conn: &'a Connection,
    pub verdict: &'a Judgement,
    /// The path of the capture it came from, as its report names it.
    pub capture: &'a str,
    /// That capture's place on the command line, from 1 (live capture is 1).
    pub capture_number: usize,
    /// The capture's files, to locate each piece of evidence in them.
    pub files: &'a FileFrames,
}

/// A judged connection, owned, with what its report needs of its capture.
pub struct JudgedConnection {
    pub conn: Connection,
    pub verdict: Judgement,
    pub capture: Arc<CaptureName>,
    /// The capture's place on the command line, from 1 (live capture is 1).
    pub capture_number: usize,
}

/// A capture as its connections' reports name it: its path, and its files
/// (to locate each piece of evidence in them) as read so far.
#[derive(Debug, PartialEq)]
pub struct CaptureName {
    pub path: String,
    pub files: FileFrames,
}

impl JudgedConnection {
    pub fn judged(&self) -> Judged<'_> {
        Judged {
            conn: &self.conn,
            verdict: &self.verdict,
            capture: &self.capture.path,
            capture_number: self.capture_number,
            files: &self.capture.files,
        }
    }
}

impl Judged<'_> {
    /// The whole report, its evidence located in the capture's files.
    pub fn report(&self) -> ConnectionReport {
        let mut report = ConnectionReport::brief(self.conn, self.verdict, self.capture, self.capture_number);
        report.tell(self.conn, self.verdict);
        report.locate(self.files);
        report
    }
}

/// "ip:port", IPv6 as "\[addr\]:port": as `SocketAddr` displays it.
pub fn endpoint(addr: SocketAddr) -> String {
    let mut s = String::with_capacity(21);
    let _ = write!(s, "{}", EndpointText(addr));
    s
}

/// An endpoint in words, as [`endpoint`] names it, written where it is
/// needed (a diagnosis, an evidence line, the JSON) instead of built first.
#[derive(Clone, Copy)]
pub struct EndpointText(pub SocketAddr);

impl fmt::Display for EndpointText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            // IPv4 without the formatting machinery (see `push_ip`), put
            // together on the stack and handed over in one piece.
            SocketAddr::V4(v4) => {
                let mut text = [0u8; "255.255.255.255:65535".len()];
                let mut len = 0;
                let mut put = |bytes: &[u8]| {
                    text[len..len + bytes.len()].copy_from_slice(bytes);
                    len += bytes.len();
                };
                let mut digits = itoa::Buffer::new();
                for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        put(b".");
                    }
                    put(digits.format(octet).as_bytes());
                }
                put(b":");
                put(digits.format(v4.port()).as_bytes());
                f.write_str(std::str::from_utf8(&text[..len]).map_err(|_| fmt::Error)?)
            }
            SocketAddr::V6(_) => fmt::Display::fmt(&self.0, f),
        }
    }
}

/// A side of a connection as the prose and the evidence name it: "ip:port (client)".
#[derive(Clone, Copy)]
pub struct SideText(pub SocketAddr, pub Side);

impl SideText {
    pub fn of(conn: &Connection, side: Side) -> SideText {
        SideText(conn.side(side).addr(), side)
    }
}

impl fmt::Display for SideText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&EndpointText(self.0), f)?;
        f.write_str(" (")?;
        f.write_str(self.1.name())?;
        f.write_char(')')
    }
}

/// Appends the address as `IpAddr` displays it. IPv4 without the
/// formatting machinery, digits straight from `itoa`: a report names its
/// endpoints a dozen times (diagnosis, evidence, filter), and
/// `Ipv4Addr`'s `Display` was a tenth of the time of the JSON output.
fn push_ip(s: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => push_ipv4(s, v4),
        IpAddr::V6(v6) => {
            let _ = write!(s, "{v6}");
        }
    }
}

fn push_ipv4(s: &mut String, ip: Ipv4Addr) {
    let mut digits = itoa::Buffer::new();
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(digits.format(octet));
    }
}

impl ConnectionReport {
    /// Names, for a capture read from several files, the file and frame
    /// there of each piece of evidence.
    pub fn locate(&mut self, files: &FileFrames) {
        for e in &mut self.evidence {
            if let Some((file, frame)) = files.locate(e.frame) {
                e.file = Some(file.to_string());
                e.file_frame = Some(frame);
            }
        }
    }

    /// How it ended, with a reset's cause: `reset:middlebox`.
    pub fn ending(&self) -> Ending {
        Ending { verdict: self.end_reason, cause: self.reset_cause }
    }

    /// The report of `conn`, judged `verdict`, from the `capture_number`th capture (from 1), named `capture`.
    pub fn new(conn: &Connection, verdict: &Judgement, capture: &str, capture_number: usize) -> ConnectionReport {
        let mut report = ConnectionReport::brief(conn, verdict, capture, capture_number);
        report.tell(conn, verdict);
        report
    }

    /// The report without the telling: no diagnosis, evidence, Wireshark
    /// filter or ladder (see [`ConnectionReport::tell`]).
    fn brief(conn: &Connection, verdict: &Judgement, capture: &str, capture_number: usize) -> ConnectionReport {
        let keepalive: Vec<KeepaliveReport> =
            verdict.keepalive().into_iter().map(|k| keepalive_report(conn, k)).collect();
        let (client, server) = (endpoint(conn.client()), endpoint(conn.server()));
        let named = |s: Side| match s {
            Side::Client => client.clone(),
            Side::Server => server.clone(),
        };
        ConnectionReport {
            id: format!("{capture_number}-{}", conn.first.frame),
            community_id: community_id(conn.client(), conn.server(), TCP),
            capture: capture.to_string(),
            addrs: [conn.client(), conn.server()],
            roles_from: conn.roles,
            vlan: conn.vlan.ids(),
            first_frame: conn.first.frame,
            last_frame: conn.last.frame,
            start: conn.first.ts.to_rfc3339(),
            end: conn.last.ts.to_rfc3339(),
            duration_s: round6(conn.last.ts.secs_since(conn.first.ts)),
            packets: conn.packets(),
            end_reason: verdict.reason(),
            ended_by: verdict.ended_by().map(named),
            ended_by_side: verdict.ended_by(),
            reset_cause: verdict.reset().map(|r| r.cause),
            diagnosis: String::new(),
            keepalive,
            reset: verdict.reset().map(|r| ResetReport { sender: named(r.sender), by: r.sender, facts: r.into() }),
            injected_resets: verdict
                .injected
                .iter()
                .map(|i| InjectedResetReport { sender: named(i.sender), by: i.sender, facts: i.into() })
                .collect(),
            retransmission: verdict.retransmission().map(|r| RetransmissionReport {
                sender: named(r.sender),
                by: r.sender,
                facts: r.into(),
            }),
            zero_window: verdict.zero_window().map(|z| ZeroWindowReport {
                receiver: named(z.receiver),
                by: z.receiver,
                facts: z.into(),
            }),
            half_closed: half_closed(verdict).map(|(fin_by, facts)| HalfClosedReport {
                fin_by: named(fin_by),
                by: fin_by,
                facts,
            }),
            handshake: verdict.handshake().map(HandshakeReport::from),
            heartbeat: verdict.heartbeat.as_ref().map(|h| HeartbeatReport {
                from: named(h.from),
                by: h.from,
                facts: h.into(),
            }),
            idle_at_end_s: verdict.idle_at_end_s().map(round6),
            longest_idle_s: conn.longest_gap().map(|(g, _)| round6(g)),
            retransmissions: conn.sides.iter().map(|h| h.counts.retransmissions).sum(),
            zero_window_probes: conn.sides.iter().map(|h| h.counts.zero_window_probes).sum(),
            evidence: Vec::new(),
            wireshark_filter: String::new(),
            ladder: ladder::Ladder::default(),
            // Last: `named` clones them until here.
            client,
            server,
        }
    }

    /// Adds to a [`brief`](ConnectionReport::brief) report what tells the
    /// connection's story: the diagnosis, the evidence, the Wireshark filter, the ladder.
    pub fn tell(&mut self, conn: &Connection, verdict: &Judgement) {
        self.diagnosis = diagnosis::describe(conn, verdict);
        self.evidence = evidence(conn, verdict);
        self.wireshark_filter = wireshark_filter(conn);
        self.ladder = ladder::ladder(conn, verdict);
    }
}

fn keepalive_report(conn: &Connection, k: &KeepaliveFinding) -> KeepaliveReport {
    KeepaliveReport { prober: endpoint(conn.side(k.prober).addr()), prober_role: k.prober, facts: k.into() }
}

// What each finding shows, in the report's units (seconds to the
// microsecond), whoever it is about: shared by the report model and the
// JSON written straight from the verdict (`connection_json`).

impl From<&KeepaliveFinding> for KeepaliveFacts {
    fn from(k: &KeepaliveFinding) -> KeepaliveFacts {
        KeepaliveFacts {
            probes_sent: k.probes_sent,
            probes_answered: k.probes_answered,
            unanswered_at_end: k.unanswered_at_end,
            idle_observed_s: k.idle_observed.min().map(round6),
            last_train_idle_s: k.train_idle_s.map(round6),
            idle_s: k.idle.map(|s| s.value),
            idle_range_s: k.idle.map(range),
            interval_observed_s: k.interval_observed.min().map(round6),
            interval_s: k.interval.map(|s| s.value),
            interval_range_s: k.interval.map(range),
            probes: k.probes.map(|p| p.0),
            probes_bound: k.probes.map(|p| p.1),
            user_timeout_between_s: k.user_timeout_between_s.map(|[lo, hi]| [round6(lo), round6(hi)]),
            gave_up: k.gave_up,
            probe_payload_bytes: k.probe_bytes,
            os_family: os_family(k.probe_bytes, k.ttl),
            settings_origin: settings_origin(k.idle.map(|s| s.value), k.interval.map(|s| s.value), k.probes),
            first_probe_frame: k.first_probe.map(|p| p.frame),
        }
    }
}

impl From<&ResetFinding> for ResetFacts {
    fn from(r: &ResetFinding) -> ResetFacts {
        ResetFacts {
            cause: r.cause,
            frame: r.rst.frame,
            idle_before_s: round6(r.idle_before_s),
            injector_hops: r.injector_hops,
            host_hops: r.host_hops,
            confidence: r.confidence,
            signs: r.signs.clone(),
        }
    }
}

impl From<&InjectedReset> for InjectedResetFacts {
    fn from(i: &InjectedReset) -> InjectedResetFacts {
        InjectedResetFacts {
            frame: i.rst.frame,
            continued_by_frame: i.continued_by.frame,
            injector_hops: i.injector_hops,
            host_hops: i.host_hops,
            signs: i.signs.clone(),
        }
    }
}

impl From<&RetransmissionFinding> for RetransmissionFacts {
    fn from(r: &RetransmissionFinding) -> RetransmissionFacts {
        RetransmissionFacts {
            first_unacked_frame: r.first_unacked.frame,
            retransmissions: r.retransmissions,
            backoff_s: r.backoff_s.iter().copied().map(round6).collect(),
            gave_up_after_s: round6(r.gave_up_after_s),
            gave_up: r.gave_up,
            still_retransmitting: r.still_retransmitting,
            capture_blind_from_frame: r.capture_blind.map(|b| b.first_request.frame),
            reset_by_sender: r.reset_by_sender.is_some(),
            tcp_retries2: r.retries2,
        }
    }
}

impl From<&ZeroWindowFinding> for ZeroWindowFacts {
    fn from(z: &ZeroWindowFinding) -> ZeroWindowFacts {
        ZeroWindowFacts {
            since_frame: z.since.frame,
            closed_for_s: round6(z.closed_for_s),
            probes: z.probes,
            probe_gaps_s: z.probe_gaps_s.iter().copied().map(round6).collect(),
        }
    }
}

impl From<&HandshakeFinding> for HandshakeReport {
    fn from(h: &HandshakeFinding) -> HandshakeReport {
        HandshakeReport {
            syns: h.syn_count,
            syn_gaps_s: h.syn_gaps_s.iter().copied().map(round6).collect(),
            syn_acks: h.syn_ack_count,
            syn_ack_gaps_s: h.syn_ack_gaps_s.iter().copied().map(round6).collect(),
            syn_backoff: h.schedule.map(|s| SynBackoffReport {
                initial_s: s.initial_s,
                flat_gaps: s.flat_gaps,
                doubled: s.doubled,
            }),
            client_stopped: h.client_stopped,
            tcp_syn_retries: h.syn_retries,
            tcp_syn_linear_timeouts: h.schedule.and_then(|s| s.linear_timeouts()),
        }
    }
}

impl From<&Heartbeat> for HeartbeatFacts {
    fn from(h: &Heartbeat) -> HeartbeatFacts {
        HeartbeatFacts {
            period_s: (h.period_s * 10.0).round() / 10.0,
            period_observed_s: round6(h.period_s),
            messages: h.messages,
        }
    }
}

/// Who half-closed, and for how long, when that is the verdict.
fn half_closed(verdict: &Judgement) -> Option<(Side, HalfClosedFacts)> {
    match verdict.verdict {
        Verdict::HalfClosed { fin_by, open_for_s, .. } => {
            Some((fin_by, HalfClosedFacts { open_for_s: round6(open_for_s) }))
        }
        _ => None,
    }
}

fn range(s: TimerSetting) -> [u32; 2] {
    [s.low, s.high]
}

fn evidence(conn: &Connection, verdict: &Judgement) -> Vec<Evidence> {
    let mut list = EvidenceList::default();
    let mut text = Prose::default();
    list.build(&mut text, conn, verdict);
    list.iter(&text)
        .map(|(p, what)| Evidence {
            frame: p.frame,
            time: p.ts.to_rfc3339(),
            what: what.to_string(),
            file: None,
            file_frame: None,
        })
        .collect()
}

/// The packets that back a connection's findings, in frame order, and what
/// each shows. The words of all of them are written into one text (the
/// JSON writer's, after the diagnosis: the endpoints are worded once), and
/// the list is reused from connection to connection: a report's evidence
/// was a dozen small strings.
#[derive(Default)]
pub struct EvidenceList {
    /// Each packet and where its words are in the text.
    items: Vec<(PacketRef, Range<usize>)>,
}

impl EvidenceList {
    /// The packets in frame order, and what each shows: `text` is the one
    /// [`build`](EvidenceList::build) wrote into.
    pub fn iter<'a>(&'a self, text: &'a Prose) -> impl Iterator<Item = (PacketRef, &'a str)> {
        self.items.iter().map(|(p, what)| (*p, &text.as_str()[what.clone()]))
    }

    /// Adds `p`, and what `words` write of it into `text`.
    fn push(&mut self, text: &mut Prose, p: PacketRef, words: impl FnOnce(&mut Prose)) {
        let start = text.len();
        words(text);
        self.items.push((p, start..text.len()));
    }

    fn has(&self, frame: u64) -> bool {
        self.items.iter().any(|(p, _)| p.frame == frame)
    }

    /// The evidence of `conn`, judged `verdict`, in place of what was
    /// there, its words appended to `text`.
    pub fn build(&mut self, text: &mut Prose, conn: &Connection, verdict: &Judgement) {
        self.items.clear();
        let name = |s: Side| SideText::of(conn, s);
        if let Some(syn) = conn.side(Side::Client).marks.syn.get() {
            self.push(text, syn, |t| put!(t, "SYN from ", name(Side::Client)));
        }
        for k in verdict.keepalive() {
            let peer = k.prober.peer();
            if let Some(from) = k.idle_from {
                self.push(text, from, |t| {
                    put!(
                        t,
                        "last packet ",
                        name(k.prober),
                        " received from ",
                        EndpointText(conn.side(peer).addr()),
                        " before the idle period"
                    )
                });
            }
            let shown = k.last_train.len();
            for (i, p) in k.last_train.iter().enumerate() {
                let number = if i + 1 == shown { k.last_train_count as usize } else { i + 1 };
                self.push(text, *p, |t| {
                    put!(t, "keepalive probe ", number, " of the last train, from ", name(k.prober))
                });
            }
            if let Some(a) = k.last_answer {
                self.push(text, a, |t| put!(t, name(peer), " answered the probe"));
            }
            if let Some(r) = k.reset_by_peer {
                // A RST a box forged in the peer's name is not the peer's answer.
                if verdict.reset().is_some_and(|f| f.rst == r && f.cause == ResetCause::Middlebox) {
                    self.push(text, r, |t| {
                        put!(t, "RST in the name of ", name(peer), " answered the probe: forged by a middlebox")
                    });
                } else {
                    self.push(text, r, |t| put!(t, name(peer), " answered the probe with RST"));
                }
            }
        }
        if let Some(h) = verdict.handshake() {
            for (i, p) in h.syns.iter().enumerate().skip(1) {
                self.push(text, *p, |t| put!(t, "SYN ", i + 1, " (retransmitted) from ", name(Side::Client)));
            }
            for (i, p) in h.syn_acks.iter().enumerate() {
                self.push(text, *p, |t| put!(t, "SYN-ACK ", i + 1, " from ", name(Side::Server)));
            }
            if let Some(r) = h.client_reset {
                self.push(text, r, |t| put!(t, "RST from ", name(Side::Client), ": no socket for the SYN-ACK"));
            }
        }
        for i in &verdict.injected {
            self.push(text, i.rst, |t| put!(t, "RST in the name of ", name(i.sender), ": injected, ignored"));
            self.push(text, i.continued_by, |t| put!(t, name(i.sender), " went on after the RST"));
        }
        if let Some(r) = verdict.retransmission() {
            self.push(text, r.first_unacked, |t| {
                put!(t, "first transmission of data ", name(r.sender), " never got acknowledged")
            });
            if verdict.reason() == EndReason::Stalled && r.still_retransmitting && r.last != r.first_unacked {
                match r.capture_blind {
                    None => self.push(text, r.last, |t| {
                        put!(t, "last retransmission from ", name(r.sender), "; the capture ended before the next")
                    }),
                    Some(_) => self.push(text, r.last, |t| {
                        put!(
                            t,
                            "last retransmission from ",
                            name(r.sender),
                            " seen; the next could not reach the capture point"
                        )
                    }),
                }
            }
            if let Some(blind) = r.capture_blind {
                let peer = name(r.sender.peer());
                self.push(text, blind.first_request, |t| put!(t, "first unanswered request for the address of ", peer));
                self.push(text, blind.last_request, |t| {
                    put!(t, "last unanswered request for it (", blind.requests, " in all)")
                });
            }
        }
        if let Some(z) = verdict.zero_window() {
            self.push(text, z.since, |t| put!(t, "zero window advertised by ", name(z.receiver)));
            self.push(text, z.first_probe, |t| put!(t, "first zero-window probe from ", name(z.receiver.peer())));
            if z.last_probe != z.first_probe {
                self.push(text, z.last_probe, |t| put!(t, "last zero-window probe from ", name(z.receiver.peer())));
            }
        }
        if let (Some(side), Some(p)) = (verdict.ended_by(), verdict.end_packet())
            && !self.has(p.frame)
        {
            let rst = conn.side(side).rst() == Some(p);
            match verdict.reason() {
                EndReason::KeepaliveTimeout if rst => {
                    self.push(text, p, |t| put!(t, "RST from ", name(side), " after its unanswered probes"))
                }
                EndReason::KeepaliveTimeout => {
                    self.push(text, p, |t| put!(t, "last probe from ", name(side), "; nothing after it"))
                }
                EndReason::Reset => self.push(text, p, |t| put!(t, "RST from ", name(side))),
                EndReason::Closed => self.push(text, p, |t| put!(t, "last FIN")),
                EndReason::RetransmissionTimeout if rst => {
                    self.push(text, p, |t| put!(t, "RST from ", name(side), " after its retransmissions"))
                }
                EndReason::RetransmissionTimeout => {
                    self.push(text, p, |t| put!(t, "last retransmission from ", name(side), "; nothing after it"))
                }
                EndReason::HalfClosed => {
                    self.push(text, p, |t| put!(t, "FIN from ", name(side), "; the other side never closed"))
                }
                EndReason::NeverEstablished | EndReason::Stalled | EndReason::WentSilent | EndReason::Open => {
                    self.push(text, p, |_| {})
                }
            }
        }
        if let Verdict::WentSilent(s) = &verdict.verdict {
            let silent = Fixed { value: s.silent_for_s, decimals: 0 };
            match self.items.iter().position(|(p, _)| p.frame == s.last_packet.frame) {
                // Its words, then the silence's: written anew at the end of the text.
                Some(i) => {
                    let before = self.items[i].1.clone();
                    let start = text.len();
                    text.repeat(before);
                    put!(text, "; nothing more from either side for the last ", silent, " s");
                    self.items[i].1 = start..text.len();
                }
                None => self.push(text, s.last_packet, |t| {
                    put!(t, "last packet; nothing more from either side for the last ", silent, " s")
                }),
            }
        }
        // Stable: packets of one frame keep the order they were found in.
        self.items.sort_by_key(|(p, _)| p.frame);
    }
}

/// A Wireshark display filter that shows just this connection.
pub fn wireshark_filter(conn: &Connection) -> String {
    let mut f = Prose::default();
    push_wireshark_filter(&mut f, conn);
    f.into_string()
}

/// Appends [`wireshark_filter`].
pub fn push_wireshark_filter(f: &mut Prose, conn: &Connection) {
    let (c, s) = (conn.client(), conn.server());
    let field = if c.is_ipv6() { "ipv6.addr" } else { "ip.addr" };
    for (i, end) in [c, s].into_iter().enumerate() {
        if i > 0 {
            f.push_str(" && ");
        }
        put!(f, field, "==", end.ip(), " && tcp.port==", end.port());
    }
    for id in conn.vlan.ids() {
        put!(f, " && vlan.id==", id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv6Addr;

    /// Every fixture capture analysed into `sink`, each on its own, and
    /// the run finished: the tests that compare two ways of writing it.
    /// Drop the sink before reading its output (it may own a writing thread).
    pub(in crate::report) fn judge_every_fixture(sink: &mut dyn ReportSink) {
        let mut judge = crate::pipeline::Judge::new(sink, Default::default());
        for file in crate::testkit::every_fixture_capture() {
            let files = [std::ffi::OsString::from(file)];
            let joining = crate::source::series::Joining::Separate;
            crate::analyze::analyze_files(&mut judge, &files, None, joining, |_, _, _| {}, None, &Default::default())
                .unwrap();
        }
        judge.finish().unwrap();
    }

    proptest! {
        #[test]
        fn endpoints_read_as_socket_addresses_display_them(v4 in any::<u32>(), v6 in any::<u128>(), port in any::<u16>()) {
            for addr in [SocketAddr::from((Ipv4Addr::from(v4), port)), SocketAddr::from((Ipv6Addr::from(v6), port))] {
                prop_assert_eq!(endpoint(addr), addr.to_string());
                prop_assert_eq!(SideText(addr, Side::Server).to_string(), format!("{addr} (server)"));
                let mut ip = String::new();
                push_ip(&mut ip, addr.ip());
                prop_assert_eq!(ip, addr.ip().to_string());
            }
        }
    }
}
