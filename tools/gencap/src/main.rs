//! gencap: dev-only generator of a synthetic, reproducible packet capture full of
//! long-lived TCP connections, for the tcpka benchmark (`bench/run.sh`).
//!
//! Not part of the tcpka CLI. Frames are built with `etherparse::PacketBuilder`
//! and written with libpcap's dumper (the `pcap` crate); nothing here hand-writes
//! packet bytes or the pcap file format.
//!
//! Model (all times are as seen at the capture point, which sits at the server):
//! * `--concurrent` connection "slots"; each slot runs connections back to back
//!   (short random gap in between), so about C connections are open at any time.
//! * Each connection: 3-way handshake (random ISNs, ~3% of them closer to 2^32
//!   than the stream is long, so sequence numbers wrap), request/response exchanges with realistic
//!   sizes (mostly small, some multi-segment at the MSS), ACK clocking, delayed
//!   ACKs, TCP timestamps on most connections, then one of three endings:
//!   - 40% "keepalive-timeout": the server is a Linux prober with
//!     tcp_keepalive_time=20, tcp_keepalive_intvl=2, tcp_keepalive_probes=2.
//!     20-22.5 s after the last packet the server received it sends a 0-byte
//!     probe with seq = snd_nxt - 1 (= the client's last ACK - 1), another
//!     2.0-2.25 s later; no answer; RST|ACK from the server 2.0-2.25 s after the
//!     second probe. About a third of these first had 1-2 answered probes.
//!   - 30% "closed" after 1..8 answered keepalive probes (pure ACK with
//!     ack = probe.seq + 1), then a FIN handshake in both directions.
//!   - 30% "closed" without any keepalive (no idle gap reaches 20 s).
//! * A `FILE.truth.json` sidecar records what was generated.
//!
//! `--syn-scan N` writes something else instead: N SYNs nobody answers, 10,000
//! a second, each to its own (address, port), the port scan of tcpka's
//! `tests/memory.rs` (the same frames), for the benchmark's peak-memory row.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use etherparse::{
    IpHeaders, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder, TcpHeader, TcpOptionElement, ip_number,
};
use pcap::{Capture, Linktype, Packet, PacketHeader};

/// Default snap length: tcpdump's historical default (`-s 68`), i.e. a
/// "headers plus a few payload bytes" capture as is usual for long captures of
/// long-lived connections; it keeps the default file near the issue's ~180 MB.
/// The Ethernet/IP/TCP headers (with options) are never cut, whatever the
/// snaplen, so only payload is truncated (caplen < len). `--snaplen 0` keeps
/// whole frames (the default run is then ~870 MB).
const DEFAULT_SNAPLEN: u32 = 68;

#[derive(Parser, Debug)]
#[command(
    name = "gencap",
    about = "Generate a synthetic pcap of long-lived TCP connections (keepalive kills, answered keepalives, normal closes) plus a FILE.truth.json sidecar. Dev-only tool for bench/run.sh."
)]
struct Args {
    /// Total number of TCP connections to generate.
    #[arg(long, default_value_t = 100_000)]
    connections: u64,
    /// Number of connections open at any time (steady state).
    #[arg(long, default_value_t = 2_000)]
    concurrent: u32,
    /// Output pcap file (the truth sidecar is written to FILE.truth.json).
    #[arg(long)]
    out: PathBuf,
    /// PRNG seed; the same seed and arguments give a byte-identical file.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Bytes captured per frame (caplen = min(len, snaplen)); 0 = whole frames.
    /// Always at least the Ethernet+IP+TCP headers, so TCP is never cut.
    #[arg(long, default_value_t = DEFAULT_SNAPLEN)]
    snaplen: u32,
    /// Percentage of connections over IPv6.
    #[arg(long, default_value_t = 10.0)]
    ipv6_percent: f64,
    /// Also write one TSV line per connection (4-tuple, expected end_reason,
    /// scenario, probes, answered probes, packets, ISNs, first/last time) to
    /// FILE.truth.tsv, for debugging a verdict mismatch.
    #[arg(long)]
    connection_log: bool,
    /// Capture start, Unix seconds (default 2025-03-04T09:00:00Z).
    #[arg(long, default_value_t = 1_741_078_800)]
    start: u64,
    /// Instead of connections: N unanswered SYNs (a port scan), 10,000 a
    /// second, as tcpka's tests/memory.rs builds them. --connections,
    /// --concurrent and the other model options are then ignored.
    #[arg(long, value_name = "N")]
    syn_scan: Option<u32>,
}

// ---------------------------------------------------------------- constants

const US: u64 = 1;
const MS: u64 = 1_000 * US;
const SEC: u64 = 1_000 * MS;

/// Server keepalive settings (Linux sysctls) of the prober.
const KA_TIME: u64 = 20 * SEC;
const KA_INTVL: u64 = 2 * SEC;
const KA_PROBES: u32 = 2;

/// Largest idle gap we allow between client packets on connections that must
/// not trigger a keepalive probe (KA_TIME minus a safety margin).
const MAX_QUIET_GAP: u64 = 18_500 * MS;

const F_SYN: u8 = 1;
const F_ACK: u8 = 2;
const F_FIN: u8 = 4;
const F_RST: u8 = 8;
const F_PSH: u8 = 16;

const C2S: usize = 0;
const S2C: usize = 1;

const SERVER_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x3a, 0x71, 0x0c];
const GATEWAY_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01];

const SERVER_V4: [[u8; 4]; 3] = [[10, 20, 0, 10], [10, 20, 0, 11], [10, 20, 0, 12]];
const SERVER_V6: [[u8; 16]; 2] = [
    [0x20, 0x01, 0x0d, 0xb8, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11],
];
/// A handful of server ports (TLS, Postgres, Redis, HTTP alt, Kafka, MQTT/TLS).
const SERVER_PORTS: [u16; 6] = [443, 5432, 6379, 8080, 9092, 8883];

// ---------------------------------------------------------------- model

/// One packet of a connection, with sequence numbers relative to the ISNs.
#[derive(Clone, Copy, Debug)]
struct Pkt {
    t: u64,
    dir: u8,
    flags: u8,
    /// Relative to the sender's ISN.
    seq: u32,
    /// Relative to the receiver's ISN (ignored without F_ACK).
    ack: u32,
    len: u16,
}

#[derive(Default)]
struct Conn {
    v6: bool,
    /// [client, server] addresses; IPv4 uses the first 4 bytes.
    ip: [[u8; 16]; 2],
    port: [u16; 2],
    isn: [u32; 2],
    ts_opt: bool,
    ts_base: [u32; 2],
    last_tsval: [u32; 2],
    syn_win: [u16; 2],
    win: [u16; 2],
    wscale: [u8; 2],
    mss: [u16; 2],
    ip_id: [u16; 2],
    ttl: [u8; 2],
    flow: [u32; 2],
    pkts: Vec<Pkt>,
    cur: usize,
}

#[derive(Default, Debug)]
struct Truth {
    connections: u64,
    keepalive_timeout: u64,
    closed_after_keepalive: u64,
    closed_no_keepalive: u64,
    killed_after_answered_keepalive: u64,
    packets: u64,
    bytes_on_wire: u64,
    probes: u64,
    probes_answered: u64,
    ipv6_connections: u64,
    ts_option_connections: u64,
    wrapping_connections: u64,
    probe_seq_wraps: u64,
    client_initiated_close: u64,
    max_concurrent: u64,
    first_ts: u64,
    last_ts: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    KeepaliveKill,
    ClosedAfterKeepalive,
    ClosedNoKeepalive,
}

/// Builds the packet list of one connection (relative sequence numbers).
struct ConnGen<'a> {
    rng: &'a mut fastrand::Rng,
    pkts: &'a mut Vec<Pkt>,
    /// Next relative sequence number per direction.
    nxt: [u32; 2],
    /// Round-trip time server -> client -> server.
    rtt: u64,
    /// Maximum payload per segment per sender.
    seg: [u32; 2],
    /// Time of the latest event so far.
    last: u64,
    /// Time of the latest packet per direction.
    last_dir: [u64; 2],
    /// Time of the latest packet the server received (drives its keepalive timer).
    last_srv_rcv: u64,
    probes: u64,
    probes_answered: u64,
    client_closed: bool,
    /// Server never answers a ka probe by sending, so the probe seq is nxt-1.
    probe_min_seq: u32,
}

impl ConnGen<'_> {
    fn push(&mut self, t: u64, dir: usize, flags: u8, seq: u32, ack: u32, len: u32) {
        // packets of one direction leave in the order they are pushed (seq order)
        let t = if t <= self.last_dir[dir] && !self.pkts.is_empty() { self.last_dir[dir] + 1 } else { t };
        self.last_dir[dir] = t;
        self.pkts.push(Pkt { t, dir: dir as u8, flags, seq, ack, len: len as u16 });
        if t > self.last {
            self.last = t;
        }
        if dir == C2S && t > self.last_srv_rcv {
            self.last_srv_rcv = t;
        }
    }

    /// Send `len` bytes from `dir` starting at time `t` (MSS segments, ACK
    /// clocked bursts, peer ACKs every second segment, delayed ACK for an odd
    /// final one). Returns (time of last data segment, pending delayed ACK).
    fn send_data(&mut self, t: u64, dir: usize, len: u32) -> (u64, Option<(u64, u32)>) {
        let peer = 1 - dir;
        // one-way delay from the capture point to the sender/peer and back
        let peer_turn = if peer == C2S { self.rtt } else { 0 };
        let mut remaining = len;
        let mut cwnd = 10u32;
        let mut t = t;
        let mut pending = None;
        let mut last_seg_t = t;
        while remaining > 0 {
            let mut in_burst = 0u32;
            let mut burst_end_ack_t = t;
            let mut unacked_segs = 0u32;
            while remaining > 0 && in_burst < cwnd {
                let n = remaining.min(self.seg[dir]);
                let seq = self.nxt[dir];
                let flags = if remaining == n { F_ACK | F_PSH } else { F_ACK };
                let ack = self.nxt[peer];
                self.push(t, dir, flags, seq, ack, n);
                self.nxt[dir] = self.nxt[dir].wrapping_add(n);
                remaining -= n;
                in_burst += 1;
                unacked_segs += 1;
                last_seg_t = t;
                if unacked_segs == 2 {
                    let at = t + peer_turn + self.rng.u64(15..60);
                    let (a_seq, a_ack) = (self.nxt[peer], self.nxt[dir]);
                    self.push(at, peer, F_ACK, a_seq, a_ack, 0);
                    burst_end_ack_t = at;
                    unacked_segs = 0;
                }
                // serialization at ~1 Gbit/s for full segments, a little gap otherwise
                t += if n >= 1000 { self.rng.u64(12..20) } else { self.rng.u64(2..8) };
            }
            if unacked_segs > 0 {
                // odd final segment of the burst: delayed ACK (Linux: up to ~40 ms)
                let at = last_seg_t + peer_turn + self.rng.u64(200..40_000);
                let ack = self.nxt[dir];
                if remaining > 0 {
                    let seq = self.nxt[peer];
                    self.push(at, peer, F_ACK, seq, ack, 0);
                    burst_end_ack_t = at;
                } else {
                    pending = Some((at, ack));
                }
            }
            if remaining > 0 {
                // the next burst is clocked by the ACKs of this one
                let back = if dir == C2S { self.rtt } else { 0 };
                t = burst_end_ack_t.max(t) + back + self.rng.u64(10..40);
                cwnd = cwnd.saturating_mul(2).min(64);
            }
        }
        (last_seg_t, pending)
    }

    fn flush_pending(&mut self, dir: usize, pending: Option<(u64, u32)>, before: u64) {
        // A delayed ACK due before the sender's next packet is sent on its own;
        // otherwise the next packet piggybacks it.
        if let Some((at, ack)) = pending
            && at < before
        {
            let seq = self.nxt[dir];
            self.push(at, dir, F_ACK, seq, ack, 0);
        }
    }

    fn request_size(&mut self) -> u32 {
        let r = self.rng.u32(0..100);
        if r < 70 {
            self.rng.u32(16..200)
        } else if r < 95 {
            self.rng.u32(200..1000)
        } else {
            self.rng.u32(1000..=self.seg[C2S])
        }
    }

    fn response_size(&mut self) -> u32 {
        let r = self.rng.u32(0..100);
        if r < 50 {
            self.rng.u32(2..120)
        } else if r < 90 {
            self.rng.u32(120..=self.seg[S2C])
        } else {
            self.rng.u32(self.seg[S2C] + 1..16_000)
        }
    }

    fn think_time(&mut self) -> u64 {
        let r = self.rng.u32(0..100);
        if r < 30 {
            // exponential, mean 300 ms
            let u = self.rng.f64().max(1e-12);
            ((-u.ln() * 0.3 * SEC as f64) as u64).min(MAX_QUIET_GAP)
        } else if r < 60 {
            self.rng.u64(SEC..10 * SEC)
        } else {
            self.rng.u64(10 * SEC..MAX_QUIET_GAP)
        }
    }

    /// Client request, server response; or (10%) an unsolicited server push.
    /// `start` is when the activity begins at the capture point.
    fn exchange(&mut self, start: u64, client_pending: &mut Option<(u64, u32)>) {
        if self.rng.u32(0..10) == 0 {
            // server push (notification), the client just ACKs it
            let p = client_pending.take();
            self.flush_pending(C2S, p, u64::MAX);
            let len = self.response_size();
            let (_, pend) = self.send_data(start, S2C, len);
            *client_pending = pend;
            return;
        }
        let p = client_pending.take();
        self.flush_pending(C2S, p, start);
        let q = self.request_size();
        let (req_t, _) = self.send_data(start, C2S, q);
        // server processing time; > 40 ms means a delayed ACK goes out first
        let r = self.rng.u32(0..100);
        let proc_t = if r < 80 {
            self.rng.u64(30..3 * MS)
        } else if r < 95 {
            self.rng.u64(3 * MS..40 * MS)
        } else {
            self.rng.u64(40 * MS..400 * MS)
        };
        if proc_t > 40 * MS {
            let at = req_t + self.rng.u64(38 * MS..41 * MS);
            let (seq, ack) = (self.nxt[S2C], self.nxt[C2S]);
            self.push(at, S2C, F_ACK, seq, ack, 0);
        }
        let len = self.response_size();
        let (_, pend) = self.send_data(req_t + proc_t, S2C, len);
        *client_pending = pend;
    }

    /// Linux keepalive probe from the server: 0 bytes, seq = snd_nxt - 1.
    fn probe(&mut self, t: u64) {
        let seq = self.nxt[S2C].wrapping_sub(1);
        let ack = self.nxt[C2S];
        self.push(t, S2C, F_ACK, seq, ack, 0);
        self.probes += 1;
        if seq < self.probe_min_seq {
            self.probe_min_seq = seq;
        }
    }

    /// One answered keepalive round after the connection went idle.
    fn answered_round(&mut self) {
        let t = self.last_srv_rcv + KA_TIME + self.ka_jitter();
        let t = t.max(self.last + 1);
        self.probe(t);
        let at = t + self.rtt + self.rng.u64(10..80);
        let (seq, ack) = (self.nxt[C2S], self.nxt[S2C]);
        self.push(at, C2S, F_ACK, seq, ack, 0);
        self.probes_answered += 1;
    }

    /// Timer slack of the first probe after the idle period: 0..2.5 s.
    fn ka_jitter(&mut self) -> u64 {
        if self.rng.u32(0..10) < 7 { self.rng.u64(0..300 * MS) } else { self.rng.u64(300 * MS..2_500 * MS) }
    }

    /// Server keepalive kill: two unanswered probes, then RST|ACK.
    fn keepalive_kill(&mut self) {
        let mut t = self.last_srv_rcv + KA_TIME + self.ka_jitter();
        t = t.max(self.last + 1);
        for i in 0..KA_PROBES {
            if i > 0 {
                t += KA_INTVL + self.rng.u64(0..250 * MS);
            }
            self.probe(t);
        }
        t += KA_INTVL + self.rng.u64(0..250 * MS);
        // tcp_send_active_reset: seq = snd_nxt, RST|ACK
        let (seq, ack) = (self.nxt[S2C], self.nxt[C2S]);
        self.push(t, S2C, F_RST | F_ACK, seq, ack, 0);
    }

    /// Orderly close: FIN from one side, FIN from the other, last ACK.
    fn close(&mut self, t0: u64, client_first: bool) {
        self.client_closed = client_first;
        let (x, y) = if client_first { (C2S, S2C) } else { (S2C, C2S) };
        // time for a reply from side d to reach the capture point
        let turn = |g: &mut Self, d: usize| {
            if d == C2S { g.rtt + g.rng.u64(20..200) } else { g.rng.u64(20..300) }
        };
        let (seq, ack) = (self.nxt[x], self.nxt[y]);
        self.push(t0, x, F_FIN | F_ACK, seq, ack, 0);
        self.nxt[x] = self.nxt[x].wrapping_add(1);
        let mut t = t0 + turn(self, y);
        if self.rng.bool() {
            let (seq, ack) = (self.nxt[y], self.nxt[x]);
            self.push(t, y, F_ACK, seq, ack, 0);
            t += self.rng.u64(50..5 * MS);
        }
        let (seq, ack) = (self.nxt[y], self.nxt[x]);
        self.push(t, y, F_FIN | F_ACK, seq, ack, 0);
        self.nxt[y] = self.nxt[y].wrapping_add(1);
        t += turn(self, x);
        let (seq, ack) = (self.nxt[x], self.nxt[y]);
        self.push(t, x, F_ACK, seq, ack, 0);
    }
}

/// Exchanges per connection are 1 + uniform(0..=EXTRA_EXCHANGES_MAX); tuned so
/// that the default run has ~24.7 packets per connection (~2.47 M in all).
const EXTRA_EXCHANGES_MAX: u32 = 7;

struct World {
    rng: fastrand::Rng,
    clients_v4: Vec<[u8; 4]>,
    clients_v6: Vec<[u8; 16]>,
    used_tuples: HashSet<([u8; 16], u16, [u8; 16], u16)>,
    ipv6_percent: f64,
}

impl World {
    fn new(seed: u64, ipv6_percent: f64, connections: u64) -> World {
        let mut rng = fastrand::Rng::with_seed(seed);
        let n4 = (connections / 5).clamp(50, 20_000) as usize;
        let n6 = (n4 / 8).max(10);
        let mut clients_v4 = Vec::with_capacity(n4);
        let mut seen = HashSet::new();
        while clients_v4.len() < n4 {
            // a mix of RFC 1918 and documentation / CGNAT-looking space
            let a = match rng.u32(0..10) {
                0..=3 => [10, rng.u8(30..=250), rng.u8(..), rng.u8(1..=254)],
                4..=5 => [172, rng.u8(16..=31), rng.u8(..), rng.u8(1..=254)],
                6 => [192, 168, rng.u8(..), rng.u8(1..=254)],
                7 => [100, rng.u8(64..=127), rng.u8(..), rng.u8(1..=254)],
                8 => [198, rng.u8(18..=19), rng.u8(..), rng.u8(1..=254)],
                _ => [203, 0, 113, rng.u8(1..=254)],
            };
            if seen.insert(a) {
                clients_v4.push(a);
            }
        }
        let mut clients_v6 = Vec::with_capacity(n6);
        for _ in 0..n6 {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            a[4] = rng.u8(..);
            a[5] = rng.u8(..);
            for b in &mut a[8..] {
                *b = rng.u8(..);
            }
            clients_v6.push(a);
        }
        World { rng, clients_v4, clients_v6, used_tuples: HashSet::new(), ipv6_percent }
    }

    /// Generates the next connection, starting at `t0`, into `c` (reusing its buffers).
    fn make_conn(
        &mut self,
        c: &mut Conn,
        t0: u64,
        truth: &mut Truth,
        log: Option<&mut std::io::BufWriter<std::fs::File>>,
    ) {
        let rng = &mut self.rng;
        c.pkts.clear();
        c.cur = 0;
        c.v6 = rng.f64() * 100.0 < self.ipv6_percent;
        // unique 4-tuple for the whole capture: no tuple reuse ambiguity
        loop {
            let mut cip = [0u8; 16];
            let mut sip = [0u8; 16];
            if c.v6 {
                cip = self.clients_v6[rng.usize(..self.clients_v6.len())];
                sip = SERVER_V6[rng.usize(..SERVER_V6.len())];
            } else {
                cip[..4].copy_from_slice(&self.clients_v4[rng.usize(..self.clients_v4.len())]);
                sip[..4].copy_from_slice(&SERVER_V4[rng.usize(..SERVER_V4.len())]);
            }
            let cport = rng.u16(32768..=60999);
            let sport = SERVER_PORTS[rng.usize(..SERVER_PORTS.len())];
            if self.used_tuples.insert((cip, cport, sip, sport)) {
                c.ip = [cip, sip];
                c.port = [cport, sport];
                break;
            }
        }
        c.ts_opt = rng.u32(0..100) < 70;
        c.ts_base = [rng.u32(..), rng.u32(..)];
        c.last_tsval = [0, 0];
        c.syn_win = [if c.ts_opt { 64240 } else { 65535 }, 65160];
        c.wscale = [if c.ts_opt { 7 } else { 8 }, 7];
        c.win = [rng.u16(501..2100), rng.u16(502..520)];
        let mss: u16 = if c.v6 { 1440 } else { 1460 };
        c.mss = [mss, mss];
        c.ip_id = [rng.u16(..), rng.u16(..)];
        c.ttl = if rng.u32(0..4) == 0 { [rng.u8(110..=127), 64] } else { [rng.u8(48..=63), 64] };
        c.flow = [rng.u32(..) & 0xfffff, rng.u32(..) & 0xfffff];

        let outcome = match rng.u32(0..10) {
            0..=3 => Outcome::KeepaliveKill,
            4..=6 => Outcome::ClosedAfterKeepalive,
            _ => Outcome::ClosedNoKeepalive,
        };
        // round-trip time: LAN, metro, WAN
        let rtt = match rng.u32(0..10) {
            0..=3 => rng.u64(150..2 * MS),
            4..=6 => rng.u64(2 * MS..20 * MS),
            _ => rng.u64(20 * MS..150 * MS),
        };
        let seg_len = u32::from(mss) - if c.ts_opt { 12 } else { 0 };
        let rng_ptr: &mut fastrand::Rng = rng;
        let mut g = ConnGen {
            rng: rng_ptr,
            pkts: &mut c.pkts,
            nxt: [0, 0],
            rtt,
            seg: [seg_len, seg_len],
            last: t0,
            last_dir: [0, 0],
            last_srv_rcv: t0,
            probes: 0,
            probes_answered: 0,
            client_closed: false,
            probe_min_seq: u32::MAX,
        };

        // handshake
        g.push(t0, C2S, F_SYN, 0, 0, 0);
        let t = t0 + g.rng.u64(20..120);
        g.push(t, S2C, F_SYN | F_ACK, 0, 1, 0);
        let t = t + rtt + g.rng.u64(20..200);
        g.push(t, C2S, F_ACK, 1, 1, 0);
        g.nxt = [1, 1];

        let mut pending: Option<(u64, u32)> = None;
        // first request follows the handshake closely (piggybacks nothing)
        let k = 1 + g.rng.u32(0..=EXTRA_EXCHANGES_MAX);
        let mut start = g.last + g.rng.u64(50..2 * MS);
        for i in 0..k {
            if i > 0 {
                start = g.last_srv_rcv.max(g.last) + g.think_time();
                // stay below the keepalive threshold measured from the server's
                // last received packet
                start = start.min(g.last_srv_rcv + MAX_QUIET_GAP).max(g.last + 1);
            }
            g.exchange(start, &mut pending);
        }

        let mut killed_after_answered = false;
        match outcome {
            Outcome::ClosedNoKeepalive => {
                let t = (g.last_srv_rcv + g.think_time()).min(g.last_srv_rcv + MAX_QUIET_GAP).max(g.last + 1);
                g.flush_pending(C2S, pending.take(), t);
                let client_first = g.rng.u32(0..10) < 6;
                g.close(t, client_first);
            }
            Outcome::ClosedAfterKeepalive => {
                g.flush_pending(C2S, pending.take(), u64::MAX);
                let rounds = match g.rng.u32(0..100) {
                    0..=49 => 1,
                    50..=79 => 2,
                    80..=94 => 3,
                    _ => g.rng.u32(4..=8),
                };
                for r in 0..rounds {
                    g.answered_round();
                    // sometimes the client wakes up between rounds
                    if r + 1 < rounds && g.rng.u32(0..4) == 0 {
                        let s = g.last + g.rng.u64(SEC..15 * SEC);
                        g.exchange(s, &mut pending);
                        g.flush_pending(C2S, pending.take(), u64::MAX);
                    }
                }
                let t = g.last + g.rng.u64(100 * MS..MAX_QUIET_GAP - KA_INTVL);
                let client_first = g.rng.u32(0..10) < 6;
                g.close(t, client_first);
            }
            Outcome::KeepaliveKill => {
                g.flush_pending(C2S, pending.take(), u64::MAX);
                if g.rng.u32(0..3) == 0 {
                    killed_after_answered = true;
                    for _ in 0..g.rng.u32(1..=2) {
                        g.answered_round();
                    }
                }
                g.keepalive_kill();
            }
        }
        let probes = g.probes;
        let answered = g.probes_answered;
        let client_closed = g.client_closed;
        let probe_min_seq = g.probe_min_seq;
        let srv_bytes = g.nxt[S2C];
        let cli_bytes = g.nxt[C2S];
        // (`g` borrows `c.pkts` and the PRNG; its last use is above)

        // order by time (stable: causal order for equal stamps)
        c.pkts.sort_by_key(|p| p.t);

        // ISNs: random, ~3% close to 2^32 so the stream wraps, and a few keepalive
        // connections where the probe's seq (snd_nxt - 1) is exactly 0xffffffff.
        let mut wraps = false;
        for d in [C2S, S2C] {
            let bytes = if d == C2S { cli_bytes } else { srv_bytes };
            let r = rng.u32(0..1000);
            c.isn[d] = if r < 30 {
                wraps = true;
                0u32.wrapping_sub(rng.u32(1..=bytes.max(2)))
            } else {
                rng.u32(..)
            };
        }
        if probes > 0 && rng.u32(0..200) == 0 {
            // snd_nxt at probe time becomes 0 => probe seq 0xffffffff
            c.isn[S2C] = 0u32.wrapping_sub(probe_min_seq.wrapping_add(1));
            wraps = true;
            truth.probe_seq_wraps += 1;
        }

        truth.connections += 1;
        match outcome {
            Outcome::KeepaliveKill => {
                truth.keepalive_timeout += 1;
                if killed_after_answered {
                    truth.killed_after_answered_keepalive += 1;
                }
            }
            Outcome::ClosedAfterKeepalive => truth.closed_after_keepalive += 1,
            Outcome::ClosedNoKeepalive => truth.closed_no_keepalive += 1,
        }
        if outcome != Outcome::KeepaliveKill && client_closed {
            truth.client_initiated_close += 1;
        }
        truth.probes += probes;
        truth.probes_answered += answered;
        truth.ipv6_connections += u64::from(c.v6);
        truth.ts_option_connections += u64::from(c.ts_opt);
        truth.wrapping_connections += u64::from(wraps);

        if let Some(w) = log {
            use std::io::Write;
            let addr = |a: &[u8; 16]| -> String {
                if c.v6 {
                    std::net::Ipv6Addr::from(*a).to_string()
                } else {
                    std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()
                }
            };
            let scenario = match outcome {
                Outcome::KeepaliveKill if killed_after_answered => "keepalive-timeout-after-answered-probes",
                Outcome::KeepaliveKill => "keepalive-timeout",
                Outcome::ClosedAfterKeepalive => "closed-after-answered-keepalive",
                Outcome::ClosedNoKeepalive => "closed-without-keepalive",
            };
            let end_reason = if outcome == Outcome::KeepaliveKill { "keepalive-timeout" } else { "closed" };
            let first = c.pkts.first().map(|p| p.t).unwrap_or(0);
            let last = c.pkts.last().map(|p| p.t).unwrap_or(0);
            writeln!(
                w,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}.{:06}\t{}.{:06}",
                addr(&c.ip[0]),
                c.port[0],
                addr(&c.ip[1]),
                c.port[1],
                if c.v6 { 6 } else { 4 },
                end_reason,
                scenario,
                probes,
                answered,
                c.pkts.len(),
                c.isn[0],
                c.isn[1],
                first / SEC,
                first % SEC,
                last / SEC,
                last % SEC,
            )
            .expect("write connection log");
        }
    }
}

// ---------------------------------------------------------------- frames

const PAYLOAD_TEXT: &[u8] = b"GET /api/v2/session/heartbeat HTTP/1.1\r\nHost: svc.internal.example\r\n\
User-Agent: app-client/4.2\r\nAccept: application/json\r\nConnection: keep-alive\r\n\r\n\
{\"id\":48213,\"status\":\"ok\",\"items\":[{\"k\":\"alpha\",\"v\":1},{\"k\":\"beta\",\"v\":2}],\"ttl\":20}\n";

fn payload_buf() -> Vec<u8> {
    let mut v = Vec::with_capacity(65536);
    while v.len() < 65536 {
        v.extend_from_slice(PAYLOAD_TEXT);
    }
    v.truncate(65536);
    v
}

fn build_frame(c: &mut Conn, p: &Pkt, payload: &[u8], out: &mut Vec<u8>) {
    let d = p.dir as usize;
    let peer = 1 - d;
    let (src_mac, dst_mac) = if d == C2S { (GATEWAY_MAC, SERVER_MAC) } else { (SERVER_MAC, GATEWAY_MAC) };
    let ip = if c.v6 {
        IpHeaders::Ipv6(
            Ipv6Header {
                traffic_class: 0,
                flow_label: Ipv6FlowLabel::try_new(c.flow[d]).unwrap(),
                payload_length: 0,
                next_header: ip_number::TCP,
                hop_limit: c.ttl[d],
                source: c.ip[d],
                destination: c.ip[peer],
            },
            Default::default(),
        )
    } else {
        let mut h = Ipv4Header::new(
            0,
            c.ttl[d],
            ip_number::TCP,
            c.ip[d][..4].try_into().unwrap(),
            c.ip[peer][..4].try_into().unwrap(),
        )
        .unwrap();
        h.identification = c.ip_id[d];
        c.ip_id[d] = c.ip_id[d].wrapping_add(1);
        h.dont_fragment = true;
        IpHeaders::Ipv4(h, Default::default())
    };
    let syn = p.flags & F_SYN != 0;
    let window = if syn { c.syn_win[d] } else { c.win[d] };
    let mut tcp = TcpHeader::new(c.port[d], c.port[peer], c.isn[d].wrapping_add(p.seq), window);
    tcp.syn = syn;
    tcp.fin = p.flags & F_FIN != 0;
    tcp.rst = p.flags & F_RST != 0;
    tcp.psh = p.flags & F_PSH != 0;
    if p.flags & F_ACK != 0 {
        tcp.ack = true;
        tcp.acknowledgment_number = c.isn[peer].wrapping_add(p.ack);
    }
    // TCP timestamps: 1 kHz clock per host
    let tsval = c.ts_base[d].wrapping_add((p.t / MS) as u32);
    let tsecr = c.last_tsval[peer];
    c.last_tsval[d] = tsval;
    let opts: &[TcpOptionElement] = if syn {
        if c.ts_opt {
            &[
                TcpOptionElement::MaximumSegmentSize(c.mss[d]),
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                TcpOptionElement::Timestamp(tsval, if d == S2C { tsecr } else { 0 }),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(c.wscale[d]),
            ]
        } else {
            &[
                TcpOptionElement::MaximumSegmentSize(c.mss[d]),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(c.wscale[d]),
                TcpOptionElement::Noop,
                TcpOptionElement::Noop,
                TcpOptionElement::SelectiveAcknowledgementPermitted,
            ]
        }
    } else if c.ts_opt && !tcp.rst {
        &[TcpOptionElement::Noop, TcpOptionElement::Noop, TcpOptionElement::Timestamp(tsval, tsecr)]
    } else {
        &[]
    };
    tcp.set_options(opts).expect("tcp options fit");
    let start = (p.t as usize).wrapping_mul(31) % 4096;
    let body = &payload[start..start + p.len as usize];
    out.clear();
    PacketBuilder::ethernet2(src_mac, dst_mac).ip(ip).tcp_header(tcp).write(out, body).expect("frame builds");
}

// ---------------------------------------------------------------- main

/// `--syn-scan N`: N SYNs from 10.9.9.9 to 10.2.x.y, none answered; SYN i
/// at i × 100 µs from source port 40000 + i mod 20000 to port 1 + i / 65536,
/// seq = source port × 256 (tcpka's `testkit::scan_syn`).
/// Writes `truth` beside the capture `out`, as `OUT.truth.json`; exits on failure.
fn write_truth(out: &std::path::Path, truth: &serde_json::Value) {
    let mut truth_path = out.to_path_buf().into_os_string();
    truth_path.push(".truth.json");
    std::fs::write(&truth_path, serde_json::to_string_pretty(truth).unwrap() + "\n").unwrap_or_else(|e| {
        eprintln!("gencap: cannot write truth file: {e}");
        std::process::exit(1);
    });
}

fn write_syn_scan(args: &Args, syns: u32) {
    let started = Instant::now();
    let cap = Capture::dead(Linktype::ETHERNET).unwrap_or_else(|e| {
        eprintln!("gencap: pcap_open_dead: {e}");
        std::process::exit(1);
    });
    let mut save = cap.savefile(&args.out).unwrap_or_else(|e| {
        eprintln!("gencap: cannot create {}: {e}", args.out.display());
        std::process::exit(1);
    });
    let epoch = args.start * SEC;
    let mut frame = Vec::with_capacity(64);
    let mut last = epoch;
    for i in 0..syns {
        let sport = 40_000 + (i % 20_000) as u16;
        let dst = [10, 2, (i >> 8) as u8, i as u8];
        let dport = 1 + (i >> 16) as u16;
        frame.clear();
        PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([10, 9, 9, 9], dst, 64)
            .tcp(sport, dport, u32::from(sport) << 8, 1024)
            .syn()
            .write(&mut frame, &[])
            .expect("frame builds");
        last = epoch + u64::from(i) * 100 * US;
        let len = frame.len() as u32;
        let header = PacketHeader {
            ts: libc::timeval { tv_sec: (last / SEC) as libc::time_t, tv_usec: (last % SEC) as libc::suseconds_t },
            caplen: len,
            len,
        };
        save.write(&Packet::new(&header, &frame));
    }
    save.flush().unwrap_or_else(|e| {
        eprintln!("gencap: flush {}: {e}", args.out.display());
        std::process::exit(1);
    });
    drop(save);
    let file_size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    let span = (last - epoch) as f64 / SEC as f64;
    let truth_json = serde_json::json!({
        "generator": "gencap",
        "args": { "syn_scan": syns, "start": args.start, "connections": syns, "concurrent": syns, "seed": 0 },
        "file": args.out.display().to_string(),
        "file_bytes": file_size,
        "link_type": "EN10MB",
        "packets": syns,
        "first_packet_unix": epoch as f64 / SEC as f64,
        "last_packet_unix": last as f64 / SEC as f64,
        "span_seconds": span,
        "connections": syns,
    });
    write_truth(&args.out, &truth_json);
    eprintln!(
        "gencap: a scan of {syns} unanswered SYNs, {:.1} MB, {span:.0} s of traffic -> {} in {:.1} s",
        file_size as f64 / 1e6,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let args = Args::parse();
    if let Some(syns) = args.syn_scan {
        write_syn_scan(&args, syns);
        return;
    }
    if args.connections == 0 || args.concurrent == 0 {
        eprintln!("gencap: --connections and --concurrent must be > 0");
        std::process::exit(2);
    }
    let started = Instant::now();
    let mut world = World::new(args.seed, args.ipv6_percent, args.connections);
    let mut truth = Truth::default();

    let cap = Capture::dead(Linktype::ETHERNET).unwrap_or_else(|e| {
        eprintln!("gencap: pcap_open_dead: {e}");
        std::process::exit(1);
    });
    let mut save = cap.savefile(&args.out).unwrap_or_else(|e| {
        eprintln!("gencap: cannot create {}: {e}", args.out.display());
        std::process::exit(1);
    });

    let mut conn_log = if args.connection_log {
        let mut path = args.out.clone().into_os_string();
        path.push(".truth.tsv");
        let f = std::fs::File::create(&path).unwrap_or_else(|e| {
            eprintln!("gencap: cannot create {}: {e}", path.to_string_lossy());
            std::process::exit(1);
        });
        let mut w = std::io::BufWriter::new(f);
        use std::io::Write;
        writeln!(w, "client_ip\tclient_port\tserver_ip\tserver_port\tip\tend_reason\tscenario\tprobes\tprobes_answered\tpackets\tclient_isn\tserver_isn\tfirst_ts\tlast_ts").unwrap();
        Some(w)
    } else {
        None
    };

    let epoch = args.start * SEC;
    let slots = args.concurrent.min(args.connections.min(u32::MAX as u64) as u32) as usize;
    let mut conns: Vec<Conn> = (0..slots).map(|_| Conn::default()).collect();
    let mut active = vec![false; slots];
    // ramp: slot start times spread over the first minute
    let ramp = 60 * SEC;
    let mut slot_free: BinaryHeap<Reverse<(u64, usize)>> =
        (0..slots).map(|i| Reverse((epoch + world.rng.u64(0..ramp), i))).collect();
    // next packet per active connection: (time, tie-break, slot)
    let mut next_pkt: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::with_capacity(slots);
    let mut tiebreak = 0u64;
    let payload = payload_buf();
    let mut frame = Vec::with_capacity(2048);
    let snaplen = if args.snaplen == 0 { u32::MAX } else { args.snaplen };
    let mut created = 0u64;
    let mut open_now = 0u64;

    loop {
        let next_start =
            if created < args.connections { slot_free.peek().map(|r| r.0.0).unwrap_or(u64::MAX) } else { u64::MAX };
        while let Some(&Reverse((t, _, slot))) = next_pkt.peek() {
            if t > next_start {
                break;
            }
            next_pkt.pop();
            let c = &mut conns[slot];
            let p = c.pkts[c.cur];
            c.cur += 1;
            build_frame(c, &p, &payload, &mut frame);
            let len = frame.len() as u32;
            // never cut into the TCP header: at least Ethernet + IP + TCP headers
            let hdrs = len - u32::from(p.len);
            let caplen = len.min(snaplen.max(hdrs));
            let header = PacketHeader {
                ts: libc::timeval { tv_sec: (p.t / SEC) as libc::time_t, tv_usec: (p.t % SEC) as libc::suseconds_t },
                caplen,
                len,
            };
            save.write(&Packet::new(&header, &frame[..caplen as usize]));
            truth.packets += 1;
            truth.bytes_on_wire += u64::from(len);
            if truth.first_ts == 0 {
                truth.first_ts = p.t;
            }
            truth.last_ts = p.t;
            if c.cur < c.pkts.len() {
                tiebreak += 1;
                next_pkt.push(Reverse((c.pkts[c.cur].t, tiebreak, slot)));
            } else {
                active[slot] = false;
                open_now -= 1;
            }
        }
        if created >= args.connections {
            break;
        }
        let Reverse((t0, slot)) = slot_free.pop().expect("slots");
        debug_assert!(!active[slot]);
        world.make_conn(&mut conns[slot], t0, &mut truth, conn_log.as_mut());
        created += 1;
        active[slot] = true;
        open_now += 1;
        truth.max_concurrent = truth.max_concurrent.max(open_now);
        let end = conns[slot].pkts.last().map(|p| p.t).unwrap_or(t0);
        tiebreak += 1;
        next_pkt.push(Reverse((conns[slot].pkts[0].t, tiebreak, slot)));
        // the slot's next connection starts shortly after this one ends
        let gap = world.rng.u64(MS..1500 * MS);
        slot_free.push(Reverse((end + gap, slot)));
    }
    save.flush().unwrap_or_else(|e| {
        eprintln!("gencap: flush {}: {e}", args.out.display());
        std::process::exit(1);
    });
    drop(save);
    if let Some(mut w) = conn_log.take() {
        use std::io::Write;
        w.flush().expect("flush connection log");
    }
    let file_size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    let span = (truth.last_ts - truth.first_ts) as f64 / SEC as f64;
    let elapsed = started.elapsed().as_secs_f64();

    let truth_json = serde_json::json!({
        "generator": "gencap",
        "args": {
            "connections": args.connections,
            "concurrent": args.concurrent,
            "seed": args.seed,
            "snaplen": args.snaplen,
            "ipv6_percent": args.ipv6_percent,
            "start": args.start,
        },
        "file": args.out.display().to_string(),
        "file_bytes": file_size,
        "link_type": "EN10MB",
        "packets": truth.packets,
        "bytes_on_wire": truth.bytes_on_wire,
        "first_packet_unix": truth.first_ts as f64 / SEC as f64,
        "last_packet_unix": truth.last_ts as f64 / SEC as f64,
        "span_seconds": span,
        "connections": truth.connections,
        // keys match tcpka's `end_reason` values / `summary.by_end_reason`
        "by_end_reason": {
            "keepalive-timeout": truth.keepalive_timeout,
            "closed": truth.closed_after_keepalive + truth.closed_no_keepalive,
        },
        "scenarios": {
            "keepalive-timeout": truth.keepalive_timeout,
            "keepalive-timeout-after-answered-probes": truth.killed_after_answered_keepalive,
            "closed-after-answered-keepalive": truth.closed_after_keepalive,
            "closed-without-keepalive": truth.closed_no_keepalive,
            "client-initiated-close": truth.client_initiated_close,
        },
        "keepalive": {
            "prober": "server",
            "settings": {"tcp_keepalive_time": KA_TIME / SEC, "tcp_keepalive_intvl": KA_INTVL / SEC, "tcp_keepalive_probes": KA_PROBES},
            "probes": truth.probes,
            "probes_answered": truth.probes_answered,
            "probes_unanswered": truth.probes - truth.probes_answered,
        },
        "ipv6_connections": truth.ipv6_connections,
        "tcp_timestamps_connections": truth.ts_option_connections,
        "seq_wrapping_connections": truth.wrapping_connections,
        "probe_seq_0xffffffff_connections": truth.probe_seq_wraps,
        "max_concurrent": truth.max_concurrent,
    });
    write_truth(&args.out, &truth_json);
    eprintln!(
        "gencap: {} connections, {} packets, {:.1} MB, {:.0} s of traffic, max {} open, {} probes ({} answered) -> {} in {:.1} s",
        truth.connections,
        truth.packets,
        file_size as f64 / 1e6,
        span,
        truth.max_concurrent,
        truth.probes,
        truth.probes_answered,
        args.out.display(),
        elapsed
    );
}
