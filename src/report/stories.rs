//! What the human formats (table, HTML) tell across connections: stories
//! (connections whose endings tell the same story, grouped so each is told
//! once), the servers with the most abnormal endings, the probers merged
//! across their settings groups, the counts by verdict and cause.

use crate::flow::Side;
use crate::report::{
    CaptureCounts, CaptureSummary, ConnectionReport, DuplicateFrames, EndpointText, Evidence, HostReport, Judged,
    Summary, endpoint,
};
use crate::verdict::{EndReason, Ending, Judgement};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Distinct stories and servers kept: a scan of a million hosts must not
/// hold a million of each (the rest are counted, not grouped).
const MAX_STORIES: usize = 2_000;
const MAX_SERVERS: usize = 65_536;
/// Without --all, a story lists at most this many of its connections.
pub const MEMBERS_LISTED: usize = 10;

/// What makes two connections the same story: how they ended, in which
/// capture, on which server (and VLAN), by which side, and (for a keepalive or retransmission timeout)
/// the setting that ended them: the probe count, or the retransmission
/// limit. Not the idle and interval: timers fire late, so one setting shows
/// as neighbouring whole seconds (the probers table gives the setting).
///
/// A handshake that never completed had no service yet: its server is the
/// host, whatever the port (a port scan's thousand unanswered SYNs are one
/// story), and the story is how it failed (answered or not, the client
/// giving up, its SYN retries). A stall is told by its kind: data
/// retransmitted into a silence, or a zero window kept closed (by which side).
///
/// Made of values, not words: a story's key was five strings (the capture's
/// path, the server in words, the setting through `Debug`) hashed with
/// SipHash, for every connection the table groups (issue 14). Two keys are
/// equal exactly when those strings were.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct StoryKey {
    ending: Ending,
    /// The capture: its place in the book's captures, one per path.
    capture: u32,
    /// The VLAN ids, as `VlanPath::ids` lists them (no zeros), padded with zeros.
    vlan: [u16; 2],
    server: ServerKey,
    ended_by: Option<Side>,
    setting: Setting,
}

/// The setting that ended a connection, as far as it makes a story.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Setting {
    /// None told (the other endings, or a finding missing).
    Untold,
    /// A keepalive timeout: the prober's probe count, when known.
    KeepaliveProbes(Option<u32>),
    /// A retransmission timeout: the tcp_retries2 that fits, and whether the sender reset.
    Retries { retries2: Option<u32>, reset_by_sender: bool },
    /// A handshake that never completed: answered or not, the client
    /// giving up, the SYN retries that fit.
    Handshake { answered: bool, client_stopped: bool, syn_retries: Option<u32> },
    /// A stall: a zero window kept closed by this side.
    ZeroWindow(Side),
    /// A stall: data retransmitted into a silence.
    Retransmitting,
}

impl Setting {
    /// The setting of a connection judged `verdict`.
    fn of_verdict(verdict: &Judgement) -> Setting {
        match verdict.reason() {
            EndReason::KeepaliveTimeout => verdict
                .keepalive()
                .into_iter()
                .find(|k| Some(k.prober) == verdict.ended_by())
                .map_or(Setting::Untold, |k| Setting::KeepaliveProbes(k.probes.map(|p| p.0))),
            EndReason::RetransmissionTimeout => verdict.retransmission().map_or(Setting::Untold, |r| {
                Setting::Retries { retries2: r.retries2, reset_by_sender: r.reset_by_sender.is_some() }
            }),
            EndReason::NeverEstablished => verdict.handshake().map_or(Setting::Untold, |h| Setting::Handshake {
                answered: h.syn_ack_count > 0,
                client_stopped: h.client_stopped,
                syn_retries: h.syn_retries,
            }),
            EndReason::Stalled => {
                verdict.zero_window().map_or(Setting::Retransmitting, |z| Setting::ZeroWindow(z.receiver))
            }
            _ => Setting::Untold,
        }
    }

    /// The same, read from a connection's report.
    fn of_report(c: &ConnectionReport) -> Setting {
        match c.end_reason {
            EndReason::KeepaliveTimeout => c
                .keepalive
                .iter()
                .find(|k| Some(k.prober_role) == c.ended_by_side)
                .map_or(Setting::Untold, |k| Setting::KeepaliveProbes(k.facts.probes)),
            EndReason::RetransmissionTimeout => c.retransmission.as_ref().map_or(Setting::Untold, |r| {
                Setting::Retries { retries2: r.facts.tcp_retries2, reset_by_sender: r.facts.reset_by_sender }
            }),
            EndReason::NeverEstablished => c.handshake.as_ref().map_or(Setting::Untold, |h| Setting::Handshake {
                answered: h.syn_acks > 0,
                client_stopped: h.client_stopped,
                syn_retries: h.tcp_syn_retries,
            }),
            EndReason::Stalled => c.zero_window.as_ref().map_or(Setting::Retransmitting, |z| Setting::ZeroWindow(z.by)),
            _ => Setting::Untold,
        }
    }
}

/// Whom a connection's abnormal ending counts against: its server (address
/// and port), or for a handshake that never completed, the server's host.
/// In words, no two are the same (an address has no port; an IPv6 one as a
/// host has no brackets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ServerKey {
    Host(IpAddr),
    Service(SocketAddr),
}

impl ServerKey {
    fn of(end_reason: EndReason, server: SocketAddr) -> ServerKey {
        match end_reason {
            EndReason::NeverEstablished => ServerKey::Host(server.ip()),
            _ => ServerKey::Service(server),
        }
    }
}

impl fmt::Display for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerKey::Host(ip) => fmt::Display::fmt(ip, f),
            ServerKey::Service(addr) => fmt::Display::fmt(&EndpointText(*addr), f),
        }
    }
}

/// VLAN ids as `VlanPath::ids` lists them (the non-zero ones, in order), padded with zeros.
fn vlan_ids(ids: impl IntoIterator<Item = u16>) -> [u16; 2] {
    let mut out = [0; 2];
    for (slot, id) in out.iter_mut().zip(ids.into_iter().filter(|&id| id != 0)) {
        *slot = id;
    }
    out
}

/// Distinct servers a story counts (a scan's ports): beyond, not counted.
const MAX_STORY_SERVERS: usize = 65_536;

/// One connection of a story, as its list shows it: in 80 bytes and its id
/// (with `--all` the lists hold every connection of the run, where five
/// strings took some 250 bytes a connection).
pub struct Member {
    pub id: Box<str>,
    /// Client and server, as addresses and ports (a `SocketAddr` takes 32 bytes).
    ends: [(IpAddr, u16); 2],
    /// Its capture: its place in the book's captures.
    capture: u32,
    pub first_frame: u64,
    pub last_frame: u64,
}

impl Member {
    pub fn client(&self) -> String {
        endpoint(self.client_addr())
    }
    pub fn server(&self) -> String {
        endpoint(self.server_addr())
    }
    /// The client's address and port, to be written where it is needed
    /// (with [`EndpointText`]) instead of made into a string first.
    pub fn client_addr(&self) -> SocketAddr {
        let (ip, port) = self.ends[0];
        SocketAddr::new(ip, port)
    }
    /// The server's address and port, as [`Self::client_addr`].
    pub fn server_addr(&self) -> SocketAddr {
        let (ip, port) = self.ends[1];
        SocketAddr::new(ip, port)
    }
}

/// The widest id, client and server of a story's list, to line it up.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemberWidths {
    pub id: usize,
    pub client: usize,
    pub server: usize,
}

/// Connections that end the same way: the first told in full, the others listed.
pub struct Story {
    pub first: ConnectionReport,
    pub count: u64,
    pub members: Vec<Member>,
    /// Its members' widest id, client and server.
    pub widths: MemberWidths,
    /// The server addresses and ports its connections went to: one, except
    /// for handshakes to a host's several ports.
    pub servers: FxHashSet<SocketAddr>,
    /// The host its handshakes went to, for a story of never-established connections.
    pub host: Option<String>,
}

impl Story {
    /// Whether its connections went to more than one server port (a scan):
    /// its lists then name each connection's server.
    pub fn several_servers(&self) -> bool {
        self.servers.len() > 1
    }
}

/// A prober across the settings groups the findings split it into (one per
/// implied setting): the totals, and the settings of its largest group.
pub struct MergedProber<'a> {
    pub main: &'a HostReport,
    pub groups: usize,
    pub ended: u64,
    pub probed: u64,
    pub sent: u64,
    pub answered: u64,
}

pub fn merge_probers(hosts: &[HostReport]) -> Vec<MergedProber<'_>> {
    let mut by_prober: Vec<MergedProber<'_>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for h in hosts {
        let f = &h.facts;
        let i = *index.entry(h.prober.as_str()).or_insert_with(|| {
            by_prober.push(MergedProber { main: h, groups: 0, ended: 0, probed: 0, sent: 0, answered: 0 });
            by_prober.len() - 1
        });
        let m = &mut by_prober[i];
        m.groups += 1;
        m.ended += f.connections_ended;
        m.probed += f.connections_probed;
        m.sent += f.probes_sent;
        m.answered += f.probes_answered;
        let main = &m.main.facts;
        if (f.connections_ended, f.connections_probed) > (main.connections_ended, main.connections_probed) {
            m.main = h;
        }
    }
    by_prober
        .sort_by(|a, b| (b.ended, b.probed).cmp(&(a.ended, a.probed)).then_with(|| a.main.prober.cmp(&b.main.prober)));
    by_prober
}

/// "keepalive-timeout 1, reset 3 (middlebox 2, refused 1), closed 5".
pub fn verdict_counts(summary: &Summary) -> Vec<String> {
    summary
        .by_end_reason
        .iter()
        .map(|(&r, n)| {
            let causes: Vec<String> = summary.by_reset_cause.iter().map(|(c, n)| format!("{c} {n}")).collect();
            if r == EndReason::Reset && !causes.is_empty() {
                format!("{r} {n} ({})", causes.join(", "))
            } else {
                format!("{r} {n}")
            }
        })
        .collect()
}

/// A capture's name: its path, or for one read from several files that
/// continue one another (a ring buffer) the first and last, and how many.
pub fn capture_name(c: &CaptureSummary) -> String {
    match c.files.as_slice() {
        [first, .., last] => format!("{first} … {last} ({} files, one capture)", c.files.len()),
        _ => c.path.clone(),
    }
}

/// A live capture's counters in words.
pub fn capture_counts_words(n: &CaptureCounts) -> String {
    format!(
        "{} received; dropped: {} by the kernel, {} by the interface; {} not analysed",
        n.received, n.dropped_by_kernel, n.dropped_by_interface, n.not_analysed
    )
}

/// The frames dropped as copies of a packet captured just before, in words
/// (without the leading "duplicates: ").
pub fn duplicates_words(d: &DuplicateFrames) -> String {
    let first: Vec<String> = d.first.iter().map(|x| format!("{} (of {})", x.frame, x.copy_of)).collect();
    format!(
        "{} frame{} repeated a packet captured just before (same IP ID, or without one the same bytes; same sequence and acknowledgment numbers, flags, length and window) and {} analysed once, as the first copy; first: {}{}",
        d.dropped,
        if d.dropped == 1 { "" } else { "s" },
        if d.dropped == 1 { "was" } else { "were" },
        first.join(", "),
        if d.dropped > first.len() as u64 { ", …" } else { "" }
    )
}

/// For a capture of several files (a ring buffer): the file an evidence
/// packet is in and its frame there, "[file frame N]" (the file's base name).
pub fn evidence_file_frame(e: &Evidence) -> Option<String> {
    match (&e.file, e.file_frame) {
        (Some(file), Some(n)) => Some(format!("[{} frame {n}]", base_name(file))),
        _ => None,
    }
}

/// The last component of a path (a file of a ring buffer, in evidence).
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A server in words, its abnormal endings, and them by ending (most first).
pub type ServerEndings = (String, u64, Vec<(Ending, u64)>);

/// The connections a human report tells, grouped into stories, and the
/// abnormal endings per server.
#[derive(Default)]
pub struct StoryBook {
    stories: Vec<Story>,
    /// FxHash, not SipHash: the keys are the program's own values, looked
    /// up once per connection the report groups.
    story_of: FxHashMap<StoryKey, usize>,
    /// Connections beyond [`MAX_STORIES`] distinct stories: counted only.
    pub ungrouped: u64,
    /// Abnormal endings per server: counts by ending (a server has few).
    servers: FxHashMap<ServerKey, Vec<(Ending, u64)>>,
    captures: Vec<String>,
}

/// A connection's line in its story's list, made only when it is listed.
struct Listed {
    id: Box<str>,
    /// The lengths of its id, client and server in words.
    widths: MemberWidths,
}

impl StoryBook {
    /// Adds a judged connection, as [`add`](Self::add) adds its report,
    /// without building the report unless the connection begins a story
    /// (the one told in full): a story's other connections need only what
    /// groups them and their line in its list.
    pub fn judged(&mut self, judged: &Judged<'_>, list_all: bool) {
        let (conn, verdict) = (judged.conn, judged.verdict);
        let ending = verdict.ending();
        let addrs = [conn.client(), conn.server()];
        let key = StoryKey {
            ending,
            capture: self.capture_index(judged.capture),
            vlan: vlan_ids(conn.vlan.0),
            server: ServerKey::of(ending.verdict, addrs[1]),
            ended_by: verdict.ended_by(),
            setting: Setting::of_verdict(verdict),
        };
        let listed = || {
            let id: Box<str> = format!("{}-{}", judged.capture_number, conn.first.frame).into();
            let widths = MemberWidths {
                id: id.len(),
                client: text_len(EndpointText(addrs[0])),
                server: text_len(EndpointText(addrs[1])),
            };
            Listed { id, widths }
        };
        self.file(key, addrs, [conn.first.frame, conn.last.frame], list_all, || judged.report(), listed);
    }

    /// Adds a connection: to its story, and to its server's count when abnormal.
    /// `list_all`: every connection of a story is listed, not the first [`MEMBERS_LISTED`].
    pub fn add(&mut self, report: &ConnectionReport, list_all: bool) {
        let key = self.key_of(report);
        // `client` and `server` are these addresses, as `endpoint` writes them.
        let listed = || Listed {
            id: report.id.as_str().into(),
            widths: MemberWidths { id: report.id.len(), client: report.client.len(), server: report.server.len() },
        };
        let frames = [report.first_frame, report.last_frame];
        self.file(key, report.addrs, frames, list_all, || report.clone(), listed);
    }

    /// Whether a connection would begin a story (its report told in full).
    #[cfg(test)]
    fn begins_a_story(&mut self, report: &ConnectionReport) -> bool {
        let key = self.key_of(report);
        self.stories.len() < MAX_STORIES && !self.story_of.contains_key(&key)
    }

    /// What groups a connection, read from its report.
    fn key_of(&mut self, report: &ConnectionReport) -> StoryKey {
        StoryKey {
            ending: report.ending(),
            capture: self.capture_index(&report.capture),
            vlan: vlan_ids(report.vlan.iter().copied()),
            server: ServerKey::of(report.end_reason, report.addrs[1]),
            ended_by: report.ended_by_side,
            setting: Setting::of_report(report),
        }
    }

    /// The place of the capture at `path` among the book's captures (added when new).
    fn capture_index(&mut self, path: &str) -> u32 {
        let i = match self.captures.iter().position(|c| c == path) {
            Some(i) => i,
            None => {
                self.captures.push(path.to_string());
                self.captures.len() - 1
            }
        };
        // Captures are the files of the command line: far fewer than 2^32.
        i as u32
    }

    /// Files a connection under `key`: `first` makes its report when it
    /// begins a story, `listed` its line when the story lists it.
    fn file(
        &mut self,
        key: StoryKey,
        addrs: [SocketAddr; 2],
        [first_frame, last_frame]: [u64; 2],
        list_all: bool,
        first: impl FnOnce() -> ConnectionReport,
        listed: impl FnOnce() -> Listed,
    ) {
        if key.ending.verdict.is_abnormal() {
            let servers = self.servers.len();
            let by = match self.servers.get_mut(&key.server) {
                Some(by) => Some(by),
                None if servers < MAX_SERVERS => Some(self.servers.entry(key.server).or_default()),
                None => None,
            };
            if let Some(by) = by {
                match by.iter_mut().find(|(e, _)| *e == key.ending) {
                    Some((_, n)) => *n += 1,
                    None => by.push((key.ending, 1)),
                }
            }
        }
        let stories = self.stories.len();
        let i = match self.story_of.get(&key) {
            Some(&i) => i,
            None if stories < MAX_STORIES => {
                let host = match key.server {
                    ServerKey::Host(_) => Some(key.server.to_string()),
                    ServerKey::Service(_) => None,
                };
                self.stories.push(Story {
                    first: first(),
                    count: 0,
                    members: Vec::new(),
                    widths: MemberWidths::default(),
                    servers: FxHashSet::default(),
                    host,
                });
                self.story_of.insert(key, stories);
                stories
            }
            None => {
                self.ungrouped += 1;
                return;
            }
        };
        let story = &mut self.stories[i];
        story.count += 1;
        if story.servers.len() < MAX_STORY_SERVERS {
            story.servers.insert(addrs[1]);
        }
        if list_all || story.members.len() < MEMBERS_LISTED {
            let Listed { id, widths } = listed();
            let w = &mut story.widths;
            (w.id, w.client, w.server) =
                (w.id.max(widths.id), w.client.max(widths.client), w.server.max(widths.server));
            story.members.push(Member {
                id,
                ends: addrs.map(|a| (a.ip(), a.port())),
                capture: key.capture,
                first_frame,
                last_frame,
            });
        }
    }

    /// The stories, the largest first; equal ones in the order they began.
    pub fn by_size(&self) -> Vec<&Story> {
        let mut order: Vec<&Story> = self.stories.iter().collect();
        order.sort_by_key(|s| std::cmp::Reverse(s.count));
        order
    }

    /// Connections added.
    pub fn connections(&self) -> u64 {
        self.stories.iter().map(|s| s.count).sum::<u64>() + self.ungrouped
    }

    /// The capture a member of a story is from.
    pub fn capture_of(&self, m: &Member) -> &str {
        &self.captures[m.capture as usize]
    }

    /// Whether the connections come from more than one capture (their lists then name it).
    pub fn several_captures(&self) -> bool {
        self.captures.len() > 1
    }

    /// The servers by abnormal endings, most first: each with its total and
    /// its endings, most first.
    pub fn servers(&self) -> Vec<ServerEndings> {
        let mut out: Vec<ServerEndings> = self
            .servers
            .iter()
            .map(|(server, by)| {
                let mut endings = by.clone();
                endings.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                (server.to_string(), endings.iter().map(|e| e.1).sum(), endings)
            })
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

/// The length of `value` in words, counted as it is written (nothing kept).
fn text_len(value: impl fmt::Display) -> usize {
    struct Count(usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = fmt::write(&mut count, format_args!("{value}"));
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::wire::*;
    use crate::neighbours::NeighbourLog;
    use crate::time::Timestamp;
    use crate::verdict::judge;

    fn report_of(w: Wire, end: f64) -> ConnectionReport {
        let conns = w.finish();
        ConnectionReport::new(
            &conns[0],
            &judge(&conns[0], Timestamp::from_secs_f64(end), &NeighbourLog::default()),
            "test.pcap",
            1,
        )
    }

    /// SYNs at 0, 1 and 3 s (a 1 s RTO doubled), nobody answering.
    fn unanswered() -> ConnectionReport {
        let mut w = Wire::new();
        for t in [0.0, 1.004, 3.012] {
            w.send(t, seg(C, SYN, 1000, 0, 0));
        }
        report_of(w, 30.0)
    }

    /// The same connection sent to another port of the server's host.
    fn to_port(mut r: ConnectionReport, port: u16) -> ConnectionReport {
        r.addrs[1].set_port(port);
        r.server = r.addrs[1].to_string();
        r.id = format!("1-{port}");
        r
    }

    #[test]
    fn unanswered_handshakes_to_one_host_are_one_story_across_its_ports() {
        let mut book = StoryBook::default();
        let first = unanswered();
        assert_eq!(first.end_reason, EndReason::NeverEstablished);
        let host = first.addrs[1].ip().to_string();
        assert!(book.begins_a_story(&first));
        book.add(&first, false);
        // Told once: the others of the story need no diagnosis.
        assert!(!book.begins_a_story(&to_port(unanswered(), 22)));
        book.add(&to_port(unanswered(), 22), false);
        book.add(&to_port(unanswered(), 443), false);
        // Answered by a SYN-ACK the client never acknowledged: another story.
        let mut w = Wire::new();
        w.send(0.0, seg(C, SYN, 1000, 0, 0));
        w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0));
        let answered = report_of(w, 30.0);
        assert!(book.begins_a_story(&answered));
        book.add(&answered, false);

        let stories = book.by_size();
        assert_eq!(stories.len(), 2);
        let scan = stories[0];
        assert_eq!((scan.count, scan.servers.len(), scan.several_servers()), (3, 3, true));
        assert_eq!(scan.host.as_deref(), Some(host.as_str()));
        let ports: Vec<u16> =
            scan.members.iter().map(|m| m.server().rsplit(':').next().unwrap().parse().unwrap()).collect();
        assert_eq!(ports, [first.addrs[1].port(), 22, 443]);
        assert_eq!((stories[1].count, stories[1].several_servers()), (1, false));
        // The host is counted once, with every abnormal ending of its ports.
        let servers = book.servers();
        assert_eq!(servers.len(), 1);
        assert_eq!((servers[0].0.as_str(), servers[0].1), (host.as_str(), 4));
    }

    /// Files every connection it is handed both ways: from its verdict
    /// (what the table and HTML do) and from its whole report (what the
    /// live event stream hands them), and says where the two differ.
    #[derive(Default)]
    struct BothWays {
        compared: usize,
        differences: Vec<String>,
    }

    impl crate::report::ReportSink for BothWays {
        fn wants(&mut self, _: EndReason) -> bool {
            true
        }
        fn judged(&mut self, judged: &Judged<'_>) -> std::io::Result<()> {
            let report = judged.report();
            for list_all in [false, true] {
                let (mut by_verdict, mut by_report) = (StoryBook::default(), StoryBook::default());
                by_verdict.judged(judged, list_all);
                by_report.add(&report, list_all);
                let key_by_verdict = by_verdict.story_of.keys().next().copied();
                let key_by_report = by_report.story_of.keys().next().copied();
                let shown = |b: &StoryBook| {
                    let s = &b.stories[0];
                    let m = &s.members[0];
                    let line = (&*m.id, m.client(), m.server(), m.first_frame, m.last_frame, b.capture_of(m));
                    let w = s.widths;
                    let first = serde_json::to_string(&s.first).unwrap();
                    format!("{line:?} {:?} {:?} {:?} {first}", (w.id, w.client, w.server), s.host, b.servers())
                };
                if key_by_verdict != key_by_report || shown(&by_verdict) != shown(&by_report) {
                    self.differences.push(format!(
                        "{} {}: {key_by_verdict:?} / {key_by_report:?}\n  {}\n  {}",
                        judged.capture,
                        report.id,
                        shown(&by_verdict),
                        shown(&by_report)
                    ));
                }
            }
            self.compared += 1;
            Ok(())
        }
        fn connection(&mut self, _: &ConnectionReport) -> std::io::Result<()> {
            panic!("no live event stream here: every connection comes through `judged`")
        }
        fn finish(&mut self, _: &crate::report::RunReport<'_>) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_connection_is_filed_from_its_verdict_as_from_its_report() {
        // Every verdict, reset cause, setting and VLAN the fixtures hold.
        let files = crate::testkit::every_fixture_capture();
        assert!(files.len() >= 60, "{files:?}");
        let mut sink = BothWays::default();
        let mut judge = crate::pipeline::Judge::new(&mut sink, Default::default());
        for file in files {
            let group = [file.into_os_string()];
            crate::analyze::analyze_files(
                &mut judge,
                &group,
                None,
                crate::source::series::Joining::Auto,
                |_, _, _| {},
                None,
                &Default::default(),
            )
            .unwrap();
        }
        judge.finish().unwrap();
        assert!(sink.compared > 1000, "{} connections", sink.compared);
        assert!(
            sink.differences.is_empty(),
            "{} differ:\n{}",
            sink.differences.len(),
            sink.differences[..3.min(sink.differences.len())].join("\n")
        );
    }

    #[test]
    fn keys_of_values_group_as_the_words_did() {
        // Keepalive timeouts: a probe count unknown is not "no setting".
        let untold = Setting::Untold;
        assert_ne!(untold, Setting::KeepaliveProbes(None));
        assert_ne!(Setting::KeepaliveProbes(None), Setting::KeepaliveProbes(Some(9)));
        // VLAN ids as `VlanPath::ids` lists them: a zero is no tag, wherever it is.
        assert_eq!(vlan_ids([0, 100]), vlan_ids([100, 0]));
        assert_eq!(vlan_ids([0, 100]), [100, 0]);
        assert_ne!(vlan_ids([100, 42]), vlan_ids([42, 100]));
        // A host and a service in words, as the reports named them.
        let v6: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        assert_eq!(ServerKey::Host(v6.ip()).to_string(), "2001:db8::1");
        assert_eq!(ServerKey::Service(v6).to_string(), endpoint(v6));
        let v4: SocketAddr = "10.0.0.1:80".parse().unwrap();
        assert_eq!(ServerKey::Host(v4.ip()).to_string(), "10.0.0.1");
        assert_eq!(ServerKey::Service(v4).to_string(), "10.0.0.1:80");
        assert_eq!(text_len(EndpointText(v6)), endpoint(v6).len());
    }

    #[test]
    fn stalls_of_either_kind_on_one_server_are_two_stories() {
        // Data retransmitted with backoff until the capture ends.
        let mut w = Wire::established(1000, 5000);
        for t in [10.0, 10.2, 10.6, 11.4] {
            w.send(t, seg(C, ACK, 1011, 5101, 50));
        }
        let retransmitting = report_of(w, 11.5);
        // A zero window the client keeps closed while the server probes it.
        let mut w = Wire::established(1000, 5000);
        w.send(1.0, seg(S, ACK, 5101, 1011, 100));
        w.send(1.001, seg(C, ACK, 1011, 5201, 0).window(0));
        let mut t = 1.201;
        for _ in 0..3 {
            w.send(t, seg(S, ACK, 5200, 1011, 0));
            w.send(t + 0.001, seg(C, ACK, 1011, 5201, 0).window(0));
            t += 2.0 * (t - 1.001);
        }
        let zero_window = report_of(w, 20.0);
        assert_eq!((retransmitting.end_reason, zero_window.end_reason), (EndReason::Stalled, EndReason::Stalled));
        assert_eq!(retransmitting.server, zero_window.server);

        let mut book = StoryBook::default();
        book.add(&retransmitting, false);
        book.add(&zero_window, false);
        book.add(&zero_window, false);
        let sizes: Vec<u64> = book.by_size().iter().map(|s| s.count).collect();
        assert_eq!(sizes, [2, 1]);
        assert!(book.by_size()[0].first.zero_window.is_some());
        // One server, both stalls counted against it.
        assert_eq!(book.servers()[0].1, 3);
    }
}
