//! What the human formats (table, HTML) tell across connections: stories
//! (connections whose endings tell the same story, grouped so each is told
//! once), the servers with the most abnormal endings, the probers merged
//! across their settings groups, the counts by verdict and cause.

use crate::report::{
    CaptureCounts, CaptureSummary, ConnectionReport, DuplicateFrames, Evidence, HostReport, Summary, endpoint,
};
use crate::verdict::{EndReason, Ending};
use std::collections::{HashMap, HashSet};
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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct StoryKey {
    ending: Ending,
    capture: String,
    vlan: Vec<u16>,
    server: String,
    ended_by: Option<crate::flow::Side>,
    settings: String,
}

impl StoryKey {
    fn of(c: &ConnectionReport) -> StoryKey {
        let settings = match c.end_reason {
            EndReason::KeepaliveTimeout => c
                .keepalive
                .iter()
                .find(|k| Some(k.prober_role) == c.ended_by_side)
                .map(|k| format!("{:?}", k.facts.probes))
                .unwrap_or_default(),
            EndReason::RetransmissionTimeout => c
                .retransmission
                .as_ref()
                .map(|r| format!("{:?}/{}", r.facts.tcp_retries2, r.facts.reset_by_sender))
                .unwrap_or_default(),
            EndReason::NeverEstablished => c
                .handshake
                .as_ref()
                .map(|h| format!("{}/{}/{:?}", h.syn_acks > 0, h.client_stopped, h.tcp_syn_retries))
                .unwrap_or_default(),
            EndReason::Stalled => match &c.zero_window {
                Some(z) => format!("zero-window/{:?}", z.by),
                None => "retransmitting".to_string(),
            },
            _ => String::new(),
        };
        StoryKey {
            ending: c.ending(),
            capture: c.capture.clone(),
            vlan: c.vlan.clone(),
            server: server_of(c),
            ended_by: c.ended_by_side,
            settings,
        }
    }
}

/// Whom a connection's abnormal ending counts against: its server (address
/// and port), or for a handshake that never completed, the server's host.
fn server_of(c: &ConnectionReport) -> String {
    match c.end_reason {
        EndReason::NeverEstablished => c.addrs[1].ip().to_string(),
        _ => c.server.clone(),
    }
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
        let (ip, port) = self.ends[0];
        endpoint(SocketAddr::new(ip, port))
    }
    pub fn server(&self) -> String {
        let (ip, port) = self.ends[1];
        endpoint(SocketAddr::new(ip, port))
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
    pub servers: HashSet<SocketAddr>,
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

/// A server, its abnormal endings, and them by ending (most first).
pub type ServerEndings<'a> = (&'a str, u64, Vec<(Ending, u64)>);

/// The connections a human report tells, grouped into stories, and the
/// abnormal endings per server.
#[derive(Default)]
pub struct StoryBook {
    stories: Vec<Story>,
    story_of: HashMap<StoryKey, usize>,
    /// Connections beyond [`MAX_STORIES`] distinct stories: counted only.
    pub ungrouped: u64,
    /// Abnormal endings per server: counts by ending.
    servers: HashMap<String, HashMap<Ending, u64>>,
    captures: Vec<String>,
}

impl StoryBook {
    /// Whether a connection would begin a story: its report is then the one
    /// the story tells in full (the others are listed).
    pub fn begins_a_story(&self, report: &ConnectionReport) -> bool {
        self.stories.len() < MAX_STORIES && !self.story_of.contains_key(&StoryKey::of(report))
    }

    /// Adds a connection: to its story, and to its server's count when abnormal.
    /// `list_all`: every connection of a story is listed, not the first [`MEMBERS_LISTED`].
    pub fn add(&mut self, report: &ConnectionReport, list_all: bool) {
        if report.end_reason.is_abnormal() {
            let servers = self.servers.len();
            let server = server_of(report);
            let by = match self.servers.get_mut(&server) {
                Some(by) => Some(by),
                None if servers < MAX_SERVERS => Some(self.servers.entry(server).or_default()),
                None => None,
            };
            if let Some(by) = by {
                *by.entry(report.ending()).or_default() += 1;
            }
        }
        let capture = match self.captures.iter().position(|c| *c == report.capture) {
            Some(i) => i,
            None => {
                self.captures.push(report.capture.clone());
                self.captures.len() - 1
            }
        };
        let key = StoryKey::of(report);
        let stories = self.stories.len();
        let i = match self.story_of.get(&key) {
            Some(&i) => i,
            None if stories < MAX_STORIES => {
                let host = (report.end_reason == EndReason::NeverEstablished).then(|| server_of(report));
                self.stories.push(Story {
                    first: report.clone(),
                    count: 0,
                    members: Vec::new(),
                    widths: MemberWidths::default(),
                    servers: HashSet::new(),
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
            story.servers.insert(report.addrs[1]);
        }
        if list_all || story.members.len() < MEMBERS_LISTED {
            // `client` and `server` are these addresses, as `endpoint` writes them.
            let w = &mut story.widths;
            (w.id, w.client, w.server) =
                (w.id.max(report.id.len()), w.client.max(report.client.len()), w.server.max(report.server.len()));
            story.members.push(Member {
                id: report.id.as_str().into(),
                ends: report.addrs.map(|a| (a.ip(), a.port())),
                capture: capture as u32,
                first_frame: report.first_frame,
                last_frame: report.last_frame,
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
    pub fn servers(&self) -> Vec<ServerEndings<'_>> {
        let mut out: Vec<ServerEndings<'_>> = self
            .servers
            .iter()
            .map(|(server, by)| {
                let mut endings: Vec<(Ending, u64)> = by.iter().map(|(e, n)| (*e, *n)).collect();
                endings.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                (server.as_str(), endings.iter().map(|e| e.1).sum(), endings)
            })
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        out
    }
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
        assert_eq!((servers[0].0, servers[0].1), (host.as_str(), 4));
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
