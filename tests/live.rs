//! `tcpka live` on real interfaces, with the real Linux kernel producing the
//! traffic: two network namespaces joined by a veth pair, python3 endpoints,
//! tcpka capturing in the server namespace.
//!
//! These tests need root and `ip netns`. Without them they print
//! "SKIPPED: ... needs root" on stderr and pass — unless the environment
//! variable `CI` is set (CI runs as root), where they fail instead.
// Tests may print: clippy.toml forbids it in tcpka itself (see src/diag.rs).
#![allow(clippy::disallowed_macros)]

use serde_json::Value;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TCPKA: &str = env!("CARGO_BIN_EXE_tcpka");

fn tcpka(args: &[&str]) -> Output {
    Command::new(TCPKA).args(args).output().expect("run tcpka")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn command_works(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Whether this test can run here. When it cannot: says so loudly and
/// returns false, or fails the test when `CI` is set.
fn can_run(test: &str, needs_netns: bool) -> bool {
    let why = if !is_root() {
        Some("not running as root")
    } else if needs_netns && !command_works("ip", &["netns", "list"]) {
        Some("`ip netns` is not available")
    } else if needs_netns && !command_works("python3", &["--version"]) {
        Some("python3 is not available")
    } else {
        None
    };
    match why {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("{test}: {why}; CI must run these tests as root with iproute2 and python3")
        }
        Some(why) => {
            // Straight to the stderr descriptor: the test harness captures
            // eprintln! of passing tests, and this must be seen.
            let _ = writeln!(io::stderr(), "SKIPPED: {test}: {why}; it needs root (capture, network namespaces)");
            false
        }
    }
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd} {args:?}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?} failed: {}", text(&out.stderr));
}

/// Two namespaces joined by a veth pair, and every process started in them.
/// Dropped (also on panic): the processes are killed and the namespaces deleted.
struct Lab {
    client_ns: String,
    server_ns: String,
    /// Interface in the client / server namespace.
    client_if: String,
    server_if: String,
    client_ip: String,
    server_ip: String,
    children: Vec<Child>,
}

impl Lab {
    fn new() -> Lab {
        // Tests run in parallel: each lab has its own names (interface
        // names fit IFNAMSIZ: "tkm" + lab + "c" + pid is at most 13 bytes).
        static LABS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = LABS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        let net = 20 + pid % 200;
        let lab = Lab {
            client_ns: format!("tkm{n}-c-{pid}"),
            server_ns: format!("tkm{n}-s-{pid}"),
            client_if: format!("tkm{n}c{pid}"),
            server_if: format!("tkm{n}s{pid}"),
            client_ip: format!("10.99.{net}.1"),
            server_ip: format!("10.99.{net}.2"),
            children: Vec::new(),
        };
        for ns in [&lab.client_ns, &lab.server_ns] {
            if Path::new("/run/netns").join(ns).exists() {
                let _ = Command::new("ip").args(["netns", "del", ns]).status();
            }
        }
        run("ip", &["netns", "add", &lab.client_ns]);
        run("ip", &["netns", "add", &lab.server_ns]);
        let (c, s) = (lab.client_ns.as_str(), lab.server_ns.as_str());
        let (ci, si) = (lab.client_if.as_str(), lab.server_if.as_str());
        run("ip", &["link", "add", ci, "netns", c, "type", "veth", "peer", "name", si, "netns", s]);
        run("ip", &["-n", c, "addr", "add", &format!("{}/24", lab.client_ip), "dev", ci]);
        run("ip", &["-n", s, "addr", "add", &format!("{}/24", lab.server_ip), "dev", si]);
        for (ns, dev) in [(c, ci), (s, si)] {
            run("ip", &["-n", ns, "link", "set", "lo", "up"]);
            run("ip", &["-n", ns, "link", "set", dev, "up"]);
        }
        // The server keeps sending to the client's MAC after the client's
        // address is gone (no ARP that would fail and stop the probes).
        let mac = Command::new("ip").args(["-n", c, "-br", "link", "show", ci]).output().unwrap();
        let mac = text(&mac.stdout).split_whitespace().nth(2).expect("client MAC").to_string();
        run("ip", &["-n", s, "neigh", "replace", &lab.client_ip, "lladdr", &mac, "dev", si, "nud", "permanent"]);
        lab
    }

    /// Starts a command in a namespace; stdout is piped.
    fn spawn(&mut self, ns: &str, program: &str, args: &[&str]) -> usize {
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("ip netns exec {ns} {program}: {e}"));
        self.children.push(child);
        self.children.len() - 1
    }

    /// The lines a started process writes to stdout, with the time each arrived.
    fn lines(&mut self, i: usize) -> Receiver<(SystemTime, String)> {
        let out = self.children[i].stdout.take().expect("piped stdout");
        let (tx, rx) = channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send((SystemTime::now(), line)).is_err() {
                    break;
                }
            }
        });
        rx
    }

    /// Everything a started process writes to stderr, once it has exited.
    fn stderr_of(&mut self, i: usize) -> thread::JoinHandle<String> {
        let mut err = self.children[i].stderr.take().expect("piped stderr");
        thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        })
    }

    fn pid(&self, i: usize) -> u32 {
        self.children[i].id()
    }

    /// Waits for a started process to exit, at most `limit`.
    fn wait(&mut self, i: usize, limit: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(status) = self.children[i].try_wait().unwrap() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        for ns in [&self.client_ns, &self.server_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Waits for a line matching `pred`, keeping every line read in `seen`.
fn wait_line(
    rx: &Receiver<(SystemTime, String)>,
    seen: &mut Vec<(SystemTime, String)>,
    limit: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> (SystemTime, String) {
    let end = Instant::now() + limit;
    if let Some(hit) = seen.iter().find(|(_, l)| pred(l)) {
        return hit.clone();
    }
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(item) => {
                let hit = pred(&item.1);
                seen.push(item.clone());
                if hit {
                    return item;
                }
            }
            Err(_) => {
                let lines: Vec<&str> = seen.iter().map(|(_, l)| l.as_str()).collect();
                panic!("timed out waiting for {what}; lines so far:\n{}", lines.join("\n"))
            }
        }
    }
}

/// A server on PORT: echoes one message, then waits for more and reports how
/// the connection ended. With keepalive args: SO_KEEPALIVE + TCP_KEEPIDLE/INTVL/CNT.
const SERVER: &str = r#"
import socket, sys
ip, port, ka = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "ka"
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port)); s.listen(1); print("READY", flush=True)
s.settimeout(25); c, _ = s.accept(); c.settimeout(25)
if ka:
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 2)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
c.sendall(c.recv(100))
try:
    print("EOF" if c.recv(100) == b"" else "DATA", flush=True)
except OSError as e:
    print("ERROR", e.errno, flush=True)
c.close()
"#;

/// A client: connects, exchanges one message, then closes ("close") or holds the connection open ("hold").
const CLIENT: &str = r#"
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(b"hello"); c.recv(100); print("EXCHANGED", flush=True)
if sys.argv[3] == "close":
    c.shutdown(socket.SHUT_WR); c.recv(100); c.close(); print("CLOSED", flush=True)
else:
    time.sleep(30)
"#;

fn port_of(endpoint: &Value) -> u16 {
    endpoint.as_str().and_then(|s| s.rsplit(':').next()).and_then(|p| p.parse().ok()).unwrap_or(0)
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn rfc3339_secs(v: &Value) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a time")).expect("RFC 3339");
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
}

#[test]
fn live_explains_a_keepalive_kill_and_a_close_as_they_happen() {
    if !can_run("live_explains_a_keepalive_kill_and_a_close_as_they_happen", true) {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("live.pcap");
    let pcap = pcap.to_str().unwrap();
    let mut lab = Lab::new();
    let (cns, sns) = (lab.client_ns.clone(), lab.server_ns.clone());
    let (cip, sip) = (lab.client_ip.clone(), lab.server_ip.clone());

    let sif = lab.server_if.clone();
    let live = lab.spawn(&sns, TCPKA, &["live", "-i", &sif, "--format", "json", "--write", pcap, "--events", "all"]);
    let events = lab.lines(live);
    let live_err = lab.stderr_of(live);
    let mut seen = Vec::new();
    wait_line(&events, &mut seen, Duration::from_secs(10), "capture-started", |l| l.contains("\"capture-started\""));
    // A second capture with the default events (the kill, not the close)
    // and --only keepalive-timeout (its final report: the kill only).
    let default_live = lab.spawn(&sns, TCPKA, &["live", "-i", &sif, "--format", "json", "--only", "keepalive-timeout"]);
    let default_events = lab.lines(default_live);
    let mut default_seen = Vec::new();
    wait_line(&default_events, &mut default_seen, Duration::from_secs(10), "capture-started", |l| {
        l.contains("\"capture-started\"")
    });

    // (2) a normal close on port 7002, (1) a keepalive kill on port 7001.
    let close_srv = lab.spawn(&sns, "python3", &["-u", "-c", SERVER, &sip, "7002", "plain"]);
    let ka_srv = lab.spawn(&sns, "python3", &["-u", "-c", SERVER, &sip, "7001", "ka"]);
    let close_srv_out = lab.lines(close_srv);
    let ka_srv_out = lab.lines(ka_srv);
    let mut ka_srv_lines = Vec::new();
    wait_line(&close_srv_out, &mut Vec::new(), Duration::from_secs(10), "server READY", |l| l == "READY");
    wait_line(&ka_srv_out, &mut ka_srv_lines, Duration::from_secs(10), "server READY", |l| l == "READY");
    let closer = lab.spawn(&cns, "python3", &["-u", "-c", CLIENT, &sip, "7002", "close"]);
    let closer_out = lab.lines(closer);
    let mut l = Vec::new();
    wait_line(&closer_out, &mut l, Duration::from_secs(10), "client CLOSED", |l| l == "CLOSED");

    let holder = lab.spawn(&cns, "python3", &["-u", "-c", CLIENT, &sip, "7001", "hold"]);
    let holder_out = lab.lines(holder);
    let mut l = Vec::new();
    wait_line(&holder_out, &mut l, Duration::from_secs(10), "client EXCHANGED", |l| l == "EXCHANGED");
    // Let the client's ACK of the echo go out, then make the client vanish:
    // its address goes away, so it silently drops the server's probes.
    thread::sleep(Duration::from_millis(300));
    run("ip", &["-n", &cns, "addr", "flush", "dev", &lab.client_if.clone()]);

    // Linux: 2 s idle, 2 probes 1 s apart, RST 1 s after the last one.
    let (_, outcome) =
        wait_line(&ka_srv_out, &mut ka_srv_lines, Duration::from_secs(15), "the keepalive server's outcome", |l| {
            l.starts_with("ERROR") || l == "EOF" || l == "DATA"
        });
    assert_eq!(outcome, "ERROR 110", "the server's connection should end with ETIMEDOUT");
    let (arrived, ended) = wait_line(&events, &mut seen, Duration::from_secs(5), "connection-ended 7001", |l| {
        l.contains("\"connection-ended\"") && l.contains(":7001\"")
    });

    // The second capture reads the same packets in a process of its own: on a
    // loaded machine it may be a moment behind. Ctrl-C stops a capture where it
    // is (as tcpdump's does), so wait until it has seen the kill too.
    wait_line(&default_events, &mut default_seen, Duration::from_secs(5), "default connection-ended 7001", |l| {
        l.contains("\"connection-ended\"") && l.contains(":7001\"")
    });
    // Stop tcpka as Ctrl-C would.
    // SAFETY: kill(2) on the pid of a child we started and have not reaped.
    assert_eq!(unsafe { libc::kill(lab.pid(default_live) as i32, libc::SIGINT) }, 0);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(lab.pid(live) as i32, libc::SIGINT) }, 0);
    let status = lab.wait(live, Duration::from_secs(10)).expect("tcpka live stops within 10 s of SIGINT");
    let stderr = live_err.join().unwrap();
    // The reader thread ends with stdout: collect the rest.
    while let Ok(item) = events.recv_timeout(Duration::from_secs(2)) {
        seen.push(item);
    }
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    let lines: Vec<Value> =
        seen.iter().map(|(_, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("not NDJSON ({e}): {l}"))).collect();
    let dump = || seen.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n");
    for e in &lines {
        assert!(e["event"].is_string() && e["time"].is_string(), "{e}");
        assert!(e.get("client").is_some() && e.get("server").is_some(), "{e}");
    }

    // The keepalive kill, streamed: the train, the unanswered probes, the verdict.
    let of = |event: &str, port: u16| -> Vec<&Value> {
        lines.iter().filter(|e| e["event"] == event && port_of(&e["server"]) == port).collect()
    };
    let train = of("keepalive-train", 7001);
    assert_eq!(train.len(), 1, "{}", dump());
    assert_eq!(train[0]["prober"], format!("{sip}:7001"));
    assert_eq!(train[0]["prober_role"], "server");
    let unanswered: Vec<u64> = of("probe-unanswered", 7001).iter().map(|e| e["probe"].as_u64().unwrap()).collect();
    assert_eq!(unanswered, [1, 2], "{}", dump());
    let ka_end = of("connection-ended", 7001);
    assert_eq!(ka_end.len(), 1, "{}", dump());
    let conn = &ka_end[0]["connection"];
    assert_eq!(ka_end[0]["end_reason"], "keepalive-timeout");
    assert_eq!(conn["end_reason"], "keepalive-timeout");
    assert_eq!(conn["ended_by"], format!("{sip}:7001"));
    assert_eq!(conn["client"].as_str().unwrap().split(':').next(), Some(cip.as_str()));
    let ka = &conn["keepalive"][0];
    assert_eq!(ka["prober"], format!("{sip}:7001"));
    assert_eq!(ka["idle_s"], 2, "{ka}");
    assert_eq!(ka["interval_s"], 1, "{ka}");
    assert_eq!(ka["probes"], 2, "{ka}");
    assert_eq!(ka["probes_bound"], "exact", "{ka}");
    // Explained as soon as the RST was captured, well within one probe interval (1 s).
    let rst_time = rfc3339_secs(&conn["end"]);
    let latency = secs(arrived) - rst_time;
    eprintln!("live: connection-ended for the keepalive kill arrived {:.3} s after the RST", latency);
    assert!(latency < 1.0, "connection-ended came {latency:.3} s after the RST: {ended}");

    // The close, streamed once, when the second FIN was seen.
    let closed = of("connection-ended", 7002);
    assert_eq!(closed.len(), 1, "{}", dump());
    assert_eq!(closed[0]["end_reason"], "closed");
    assert_eq!(closed[0]["detected_by"], "packet");
    // Each connection's events carry its number and Community ID; the two
    // connections' differ.
    let ids = |port: u16| -> Vec<(Value, Value)> {
        lines
            .iter()
            .filter(|e| port_of(&e["server"]) == port)
            .map(|e| (e["connection_id"].clone(), e["community_id"].clone()))
            .collect()
    };
    let (ka_ids, close_ids) = (ids(7001), ids(7002));
    assert!(ka_ids.iter().all(|i| *i == ka_ids[0]) && close_ids.iter().all(|i| *i == close_ids[0]));
    assert!(ka_ids[0].0.is_u64() && ka_ids[0].1.as_str().is_some_and(|c| c.starts_with("1:") && c.len() == 30));
    assert_ne!(ka_ids[0], close_ids[0]);

    // The default events: the keepalive kill, its train, not the close.
    let status = lab.wait(default_live, Duration::from_secs(10)).expect("the second capture stops");
    assert_eq!(status.code(), Some(0));
    while let Ok(item) = default_events.recv_timeout(Duration::from_secs(2)) {
        default_seen.push(item);
    }
    let kinds: Vec<(String, u16)> = default_seen
        .iter()
        .map(|(_, l)| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["client"].is_string())
        .map(|e| (e["event"].as_str().unwrap().to_string(), port_of(&e["server"])))
        .collect();
    let want =
        [("keepalive-train", 7001), ("probe-unanswered", 7001), ("probe-unanswered", 7001), ("connection-ended", 7001)];
    assert_eq!(kinds, want.map(|(e, p)| (e.to_string(), p)), "default events");

    // Capture counts, then the final report last: analyze's document.
    let stats = lines.iter().rfind(|e| e["event"] == "capture-stats").expect("capture-stats");
    assert_eq!(stats["final"], true);
    assert_eq!(stats["dropped"], 0);
    assert!(stats["received"].as_u64().unwrap() > 10, "{stats}");
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "final-report", "{}", dump());
    let report = &last["report"];
    assert_eq!(report["tool"], "tcpka");
    let reasons = |doc: &Value| -> Vec<(u16, String)> {
        let mut v: Vec<(u16, String)> = doc["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (port_of(&c["server"]), c["end_reason"].as_str().unwrap().to_string()))
            .collect();
        v.sort();
        v
    };
    let live_reasons = reasons(report);
    assert_eq!(live_reasons, [(7001, "keepalive-timeout".to_string()), (7002, "closed".to_string())], "{report}");
    // --only: the second capture's final report lists the kill alone; its totals count both.
    let only_report = default_seen
        .iter()
        .map(|(_, l)| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|e| e["event"] == "final-report")
        .expect("the --only capture's final-report");
    let only_report = &only_report["report"];
    assert_eq!(reasons(only_report), [(7001, "keepalive-timeout".to_string())], "{only_report}");
    assert_eq!(only_report["summary"]["connections"], 2, "{only_report}");
    assert_eq!(report["captures"][0]["path"], format!("live:{}", lab.server_if));
    assert!(stderr.contains("packets captured"), "{stderr}");

    // The saved capture gives the same verdicts.
    let out = tcpka(&["analyze", "--format", "json", pcap]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("analyze JSON");
    assert_eq!(reasons(&doc), live_reasons);
    let ka_file = doc["connections"].as_array().unwrap().iter().find(|c| port_of(&c["server"]) == 7001).unwrap();
    assert_eq!(ka_file["keepalive"][0]["idle_s"], 2);
    assert_eq!(ka_file["keepalive"][0]["interval_s"], 1);
    assert_eq!(ka_file["keepalive"][0]["probes"], 2);
    eprintln!("live: scenario took {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn live_names_the_interfaces_when_one_does_not_exist() {
    let out = tcpka(&["live", "-i", "does-not-exist0"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("does-not-exist0"), "{err}");
    assert!(err.contains("interfaces"), "{err}");
    // The loopback interface is always there to be listed.
    assert!(err.lines().any(|l| l.trim_start().starts_with("lo ")), "{err}");
}

#[test]
fn live_lists_interfaces() {
    let out = tcpka(&["live", "--list-interfaces"]);
    let text_out = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lo = text_out.lines().find(|l| l.trim_start().starts_with("lo ")).unwrap_or_else(|| panic!("{text_out}"));
    assert!(lo.contains("loopback") && lo.contains("up") && lo.contains("127.0.0.1"), "{lo}");

    let out = tcpka(&["live", "--list-interfaces", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let all: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let lo = all.iter().find(|i| i["name"] == "lo").expect("lo listed");
    assert_eq!(lo["loopback"], true);
    assert!(lo["addresses"].as_array().unwrap().iter().any(|a| a == "127.0.0.1"), "{lo}");
}

#[test]
fn live_rejects_a_bad_filter_with_libpcaps_message() {
    if !can_run("live_rejects_a_bad_filter_with_libpcaps_message", false) {
        return;
    }
    let out = tcpka(&["live", "-f", "bogus filter ((("]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad filter 'bogus filter ((('"), "{err}");
    assert!(err.contains("syntax error"), "libpcap's own message: {err}");
}

#[test]
fn live_stops_after_duration_with_a_final_report() {
    if !can_run("live_stops_after_duration_with_a_final_report", false) {
        return;
    }
    let t = Instant::now();
    let out = tcpka(&["live", "-i", "lo", "--duration", "1s", "-f", "tcp port 9", "--format", "json"]);
    let took = t.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!((0.9..5.0).contains(&took), "took {took} s");
    let lines: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.first().unwrap()["event"], "capture-started");
    assert_eq!(lines.first().unwrap()["filter"], "tcp port 9");
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "final-report");
    assert_eq!(last["report"]["captures"][0]["path"], "live:lo");
    assert!(last["report"]["summary"].is_object());

    let out = tcpka(&["live", "-i", "lo", "--duration", "0.3", "-f", "tcp port 9"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("live:lo"), "the final table: {}", text(&out.stdout));
}

/// An echo server on PORT for any number of connections.
const ECHO_SERVER: &str = r#"
import socket, sys, threading
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port)); s.listen(128); print("READY", flush=True)
def serve(c):
    try:
        while True:
            d = c.recv(1000)
            if not d: break
            c.sendall(d)
    except OSError: pass
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// A client: N small messages on one connection, each waiting for its echo.
const CHATTER: &str = r#"
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print("CONNECTED", flush=True)
for i in range(int(sys.argv[3])):
    c.sendall(b"0123456789"); c.recv(100)
print("DONE", flush=True)
"#;

/// A client: N connections, each aborted with a RST after one exchange (SO_LINGER 0).
const RESETS: &str = r#"
import socket, struct, sys
for i in range(int(sys.argv[3])):
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    c.sendall(b"x"); c.recv(10)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
print("DONE", flush=True)
"#;

/// Starts the echo server in the lab's server namespace and waits until it listens.
fn echo_server(lab: &mut Lab, port: &str) {
    let (sns, sip) = (lab.server_ns.clone(), lab.server_ip.clone());
    let srv = lab.spawn(&sns, "python3", &["-u", "-c", ECHO_SERVER, &sip, port]);
    let out = lab.lines(srv);
    wait_line(&out, &mut Vec::new(), Duration::from_secs(10), "echo server READY", |l| l == "READY");
}

/// A small tmpfs mounted on a temporary directory; unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn new(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        run("mount", &["-t", "tmpfs", "-o", &format!("size={size}"), "tkm-full", dir.path().to_str().unwrap()]);
        SmallDisk { dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn live_stops_with_a_report_and_a_whole_file_when_the_write_disk_fills_up() {
    if !can_run("live_stops_with_a_report_and_a_whole_file_when_the_write_disk_fills_up", true) {
        return;
    }
    let disk = SmallDisk::new("96k");
    let pcap = disk.dir.path().join("live.pcap");
    let pcap = pcap.to_str().unwrap();
    let mut lab = Lab::new();
    let (cns, sns, sip, sif) =
        (lab.client_ns.clone(), lab.server_ns.clone(), lab.server_ip.clone(), lab.server_if.clone());
    let live = lab.spawn(&sns, TCPKA, &["live", "-i", &sif, "--format", "json", "-w", pcap]);
    let events = lab.lines(live);
    let live_err = lab.stderr_of(live);
    let mut seen = Vec::new();
    wait_line(&events, &mut seen, Duration::from_secs(10), "capture-started", |l| l.contains("\"capture-started\""));
    echo_server(&mut lab, "7003");
    // About 20,000 packets of 66 to 76 bytes: far more than 96 KiB of records.
    let _client = lab.spawn(&cns, "python3", &["-u", "-c", CHATTER, &sip, "7003", "10000"]);

    // tcpka stops by itself, at once, when the disk is full.
    let status = lab.wait(live, Duration::from_secs(20)).expect("tcpka live stops when the -w disk is full");
    let stderr = live_err.join().unwrap();
    while let Ok(item) = events.recv_timeout(Duration::from_secs(2)) {
        seen.push(item);
    }
    assert_eq!(status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let kept: u64 = stderr
        .split("keeps the first ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the message says how many packets the file keeps: {stderr}"));
    assert!(kept > 100, "{stderr}");
    assert!(stderr.contains("packets captured"), "the stats: {stderr}");

    // The stats and the final report, which says why the capture stopped.
    let lines: Vec<Value> = seen.iter().map(|(_, l)| serde_json::from_str(l).unwrap()).collect();
    let stats = lines.iter().rfind(|e| e["event"] == "capture-stats").expect("capture-stats");
    assert_eq!(stats["final"], true);
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "final-report");
    let error = last["report"]["captures"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("No space left on device"), "{last}");

    // The file ends on a whole packet: it reads to its end, every packet.
    let out = tcpka(&["analyze", "--format", "json", pcap]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["captures"][0]["packets"], kept, "{}", doc["captures"][0]);
    assert!(doc["captures"][0]["error"].is_null(), "{}", doc["captures"][0]);
    let size = std::fs::metadata(pcap).unwrap().len();
    assert!(size <= 96 * 1024, "{size}");
}

#[test]
fn live_stops_within_a_second_or_two_when_standard_output_is_never_read() {
    if !can_run("live_stops_within_a_second_or_two_when_standard_output_is_never_read", true) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("final.json");
    let report = report.to_str().unwrap();
    let mut lab = Lab::new();
    let (cns, sns, sip, sif) =
        (lab.client_ns.clone(), lab.server_ns.clone(), lab.server_ip.clone(), lab.server_if.clone());
    // Two captures whose standard output nobody reads: one with --report.
    // The filter keeps out the namespace's own chatter (IPv6 neighbour
    // discovery), so that nothing arrives after the test's traffic.
    let with_report =
        lab.spawn(&sns, TCPKA, &["live", "-i", &sif, "-f", "tcp port 7004", "--format", "json", "--report", report]);
    let without = lab.spawn(&sns, TCPKA, &["live", "-i", &sif, "-f", "tcp port 7004", "--format", "json"]);
    let (err_with, err_without) = (lab.stderr_of(with_report), lab.stderr_of(without));
    echo_server(&mut lab, "7004");
    thread::sleep(Duration::from_millis(500)); // both are listening
    // 1500 resets: 1500 connection-ended events of some 2 KB each, more
    // than a pipe (64 KiB), the output's buffer (64 KiB) and its queue
    // (1024 events) take.
    let resets = lab.spawn(&cns, "python3", &["-u", "-c", RESETS, &sip, "7004", "1500"]);
    let resets_out = lab.lines(resets);
    wait_line(&resets_out, &mut Vec::new(), Duration::from_secs(60), "the resets DONE", |l| l == "DONE");
    thread::sleep(Duration::from_millis(500)); // the last RSTs are captured

    let t = Instant::now();
    for i in [with_report, without] {
        // SAFETY: kill(2) on the pid of a child we started and have not reaped.
        assert_eq!(unsafe { libc::kill(lab.pid(i) as i32, libc::SIGTERM) }, 0);
    }
    let status_with = lab.wait(with_report, Duration::from_secs(10)).expect("stops after SIGTERM");
    let took_with = t.elapsed().as_secs_f64();
    let status_without = lab.wait(without, Duration::from_secs(10)).expect("stops after SIGTERM");
    let took = t.elapsed().as_secs_f64();
    let (err_with, err_without) = (err_with.join().unwrap(), err_without.join().unwrap());
    eprintln!(
        "live: stopped {took_with:.2} s (with --report) and {took:.2} s after SIGTERM with standard output never read"
    );
    // The capture ends within a quarter of a second and standard output
    // gets one second; the rest is judging 1500 connections for the report
    // (a debug build, on a machine shared with other builds).
    assert!(took < 4.0, "took {took:.2} s");

    // With --report: the report is whole, and nothing the capture saw is missing.
    assert_eq!(status_with.code(), Some(0), "{err_with}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).expect("the report file is JSON");
    // More endings than the queue (1024 events) and the two 64 KiB buffers
    // (at most 128 events of 1 KB or more) hold were dropped, and tcpka said
    // so. A debug build on a loaded machine may analyse fewer (counted below).
    let ended = doc["summary"]["by_end_reason"]["reset"].as_u64().unwrap_or(0);
    if ended > 1024 + 128 {
        assert!(err_with.contains("events dropped"), "{ended} ended\n{err_with}");
    }
    assert_eq!(doc["tool"], "tcpka");
    // Every packet is accounted for (the traffic was over before the stop,
    // so libpcap's count is final): analysed, or counted as not analysed
    // (a debug build's analysis on a busy machine may fall behind, and the
    // stop does not wait long for it).
    let capture = &doc["captures"][0];
    let counts = &capture["capture_counts"];
    let not_analysed = counts["not_analysed"].as_u64().unwrap();
    assert_eq!(counts["dropped_by_kernel"], 0, "{capture}");
    assert_eq!(capture["packets"].as_u64().unwrap() + not_analysed, counts["received"].as_u64().unwrap(), "{capture}");
    if not_analysed == 0 {
        assert_eq!(doc["summary"]["by_end_reason"]["reset"], 1500, "{}\n{err_with}", doc["summary"]);
    } else {
        assert!(err_with.contains("not analysed"), "{err_with}");
    }
    // Without: the report could not be delivered, and tcpka says so.
    assert_eq!(status_without.code(), Some(2), "{err_without}");
    assert!(err_without.contains("standard output is not being read"), "{err_without}");
    assert!(err_without.contains("--report FILE"), "{err_without}");
}

#[test]
fn live_reports_and_exits_2_when_its_interface_is_deleted() {
    if !can_run("live_reports_and_exits_2_when_its_interface_is_deleted", true) {
        return;
    }
    let mut lab = Lab::new();
    let (cns, sns, sip, sif) =
        (lab.client_ns.clone(), lab.server_ns.clone(), lab.server_ip.clone(), lab.server_if.clone());
    let live = lab.spawn(&sns, TCPKA, &["live", "-i", &sif, "--format", "json"]);
    let events = lab.lines(live);
    let live_err = lab.stderr_of(live);
    let mut seen = Vec::new();
    wait_line(&events, &mut seen, Duration::from_secs(10), "capture-started", |l| l.contains("\"capture-started\""));
    echo_server(&mut lab, "7005");
    let client = lab.spawn(&cns, "python3", &["-u", "-c", CHATTER, &sip, "7005", "5"]);
    let client_out = lab.lines(client);
    wait_line(&client_out, &mut Vec::new(), Duration::from_secs(10), "client DONE", |l| l == "DONE");
    thread::sleep(Duration::from_millis(300));

    let t = Instant::now();
    run("ip", &["-n", &sns, "link", "del", &sif]);
    let status = lab.wait(live, Duration::from_secs(10)).expect("tcpka live stops when its interface goes away");
    let took = t.elapsed().as_secs_f64();
    let stderr = live_err.join().unwrap();
    while let Ok(item) = events.recv_timeout(Duration::from_secs(2)) {
        seen.push(item);
    }
    eprintln!("live: stopped {took:.2} s after the interface was deleted");
    assert!(took < 2.0, "took {took:.2} s");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the capture failed"), "{stderr}");
    let lines: Vec<Value> = seen.iter().map(|(_, l)| serde_json::from_str(l).unwrap()).collect();
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "final-report");
    let capture = &last["report"]["captures"][0];
    assert!(capture["error"].as_str().is_some_and(|e| e.contains(&sif)), "{capture}");
    // What was captured before is in the report: the echo connection.
    let conns = last["report"]["connections"].as_array().unwrap();
    assert!(conns.iter().any(|c| port_of(&c["server"]) == 7005), "{last}");
}

/// Whether the tools a test needs are installed. When one is not: says so
/// loudly and returns false, or fails the test when `CI` is set.
fn has_tools(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> =
        tools.iter().copied().filter(|t| !command_works("sh", &["-c", &format!("command -v {t}")])).collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {} not installed; scripts/deps.sh installs them for CI", missing.join(", "));
    }
    let _ = writeln!(io::stderr(), "SKIPPED: {test}: {} not installed", missing.join(", "));
    false
}

/// An HTTP GET from inside a namespace (Python's urllib): argv URL, then
/// optionally a query for `?query=` and an Accept header. Prints the body;
/// exits 1 on an HTTP or connection error.
const HTTP_GET: &str = r#"
import sys, urllib.request, urllib.parse
url = sys.argv[1]
if len(sys.argv) > 2 and sys.argv[2]:
    url += "?" + urllib.parse.urlencode({"query": sys.argv[2]})
headers = {"Accept": sys.argv[3]} if len(sys.argv) > 3 else {}
try:
    body = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5).read()
except Exception as e:
    print(e, file=sys.stderr); sys.exit(1)
sys.stdout.write(body.decode())
"#;

fn http_get(ns: &str, url: &str, query: &str, accept: Option<&str>) -> Option<String> {
    let mut args = vec!["netns", "exec", ns, "python3", "-c", HTTP_GET, url, query];
    args.extend(accept);
    let out = Command::new("ip").args(&args).output().expect("run python3");
    out.status.success().then(|| text(&out.stdout))
}

/// Asks Prometheus (in `ns`, port 9090) until `query` has a result, at most `limit`.
fn prometheus_query(ns: &str, query: &str, limit: Duration) -> Vec<Value> {
    let end = Instant::now() + limit;
    let mut last = String::new();
    while Instant::now() < end {
        if let Some(body) = http_get(ns, "http://127.0.0.1:9090/api/v1/query", query, None) {
            let v: Value = serde_json::from_str(&body).expect("Prometheus answers JSON");
            assert_eq!(v["status"], "success", "{v}");
            if let Some(r) = v["data"]["result"].as_array().filter(|r| !r.is_empty()) {
                return r.clone();
            }
            last = body;
        }
        thread::sleep(Duration::from_millis(250));
    }
    panic!("Prometheus had no result for {query} within {limit:?}; last answer: {last}")
}

/// A sample's value, as Prometheus's query API gives it (a string).
fn sample_value(sample: &Value) -> f64 {
    sample["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no value: {sample}"))
}

#[test]
fn prometheus_scrapes_a_keepalive_kill_from_live() {
    let test = "prometheus_scrapes_a_keepalive_kill_from_live";
    if !can_run(test, true) || !has_tools(test, &["prometheus", "promtool"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut lab = Lab::new();
    let (cns, sns) = (lab.client_ns.clone(), lab.server_ns.clone());
    let (sip, sif, cif) = (lab.server_ip.clone(), lab.server_if.clone(), lab.client_if.clone());
    // Both listen on the namespace's own loopback: its ports are all free.
    let live = lab.spawn(&sns, TCPKA, &["live", "-i", &sif, "--format", "json", "--metrics", "127.0.0.1:9187"]);
    let events = lab.lines(live);
    let live_err = lab.stderr_of(live);
    let mut seen = Vec::new();
    wait_line(&events, &mut seen, Duration::from_secs(10), "capture-started", |l| l.contains("\"capture-started\""));

    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: tcpka\n    static_configs:\n      - targets: ['127.0.0.1:9187']\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let prometheus = lab.spawn(
        &sns,
        "prometheus",
        &[
            &format!("--config.file={}", config.display()),
            &format!("--storage.tsdb.path={}", data.display()),
            "--web.listen-address=127.0.0.1:9090",
        ],
    );
    let prometheus_log = lab.stderr_of(prometheus);
    let up = prometheus_query(&sns, r#"up{job="tcpka"} == 1"#, Duration::from_secs(30));
    assert_eq!(sample_value(&up[0]), 1.0);

    // The kernel's keepalive kill, as in the first test: 2 s idle, 2 probes 1 s apart.
    let ka_srv = lab.spawn(&sns, "python3", &["-u", "-c", SERVER, &sip, "7001", "ka"]);
    let ka_srv_out = lab.lines(ka_srv);
    let mut ka_srv_lines = Vec::new();
    wait_line(&ka_srv_out, &mut ka_srv_lines, Duration::from_secs(10), "server READY", |l| l == "READY");
    let holder = lab.spawn(&cns, "python3", &["-u", "-c", CLIENT, &sip, "7001", "hold"]);
    let holder_out = lab.lines(holder);
    wait_line(&holder_out, &mut Vec::new(), Duration::from_secs(10), "client EXCHANGED", |l| l == "EXCHANGED");
    thread::sleep(Duration::from_millis(300));
    run("ip", &["-n", &cns, "addr", "flush", "dev", &cif]);
    let (_, outcome) =
        wait_line(&ka_srv_out, &mut ka_srv_lines, Duration::from_secs(15), "the keepalive server's outcome", |l| {
            l.starts_with("ERROR") || l == "EOF" || l == "DATA"
        });
    assert_eq!(outcome, "ERROR 110", "the server's connection should end with ETIMEDOUT");

    // Read back through Prometheus: the kill, by service and settings.
    let kills = prometheus_query(&sns, "tcpka_keepalive_kills_total", Duration::from_secs(15));
    assert_eq!(kills.len(), 1, "{kills:?}");
    let labels = &kills[0]["metric"];
    assert_eq!(labels["job"], "tcpka");
    assert_eq!(labels["service"], "7001", "{labels}");
    assert_eq!(labels["prober_role"], "server", "{labels}");
    assert_eq!((&labels["idle_s"], &labels["interval_s"], &labels["probes"]), (&"2".into(), &"1".into(), &"2".into()));
    assert_eq!(sample_value(&kills[0]), 1.0);
    let ended =
        prometheus_query(&sns, r#"tcpka_connections_ended_total{verdict="keepalive-timeout"}"#, Duration::from_secs(5));
    assert_eq!(sample_value(&ended[0]), 1.0);
    let probes = prometheus_query(&sns, "tcpka_keepalive_probes_sent_total", Duration::from_secs(5));
    assert_eq!(sample_value(&probes[0]), 2.0);
    // Silence before death: 2 s idle + 2 probes 1 s apart + 1 s to the RST, and timer lateness.
    let silence = prometheus_query(
        &sns,
        r#"tcpka_silence_before_end_seconds_sum{verdict="keepalive-timeout"} / tcpka_silence_before_end_seconds_count"#,
        Duration::from_secs(5),
    );
    let s = sample_value(&silence[0]);
    assert!((4.0..5.5).contains(&s), "silence {s}");
    let received = prometheus_query(&sns, "tcpka_capture_packets_received_total", Duration::from_secs(5));
    assert!(sample_value(&received[0]) >= 10.0, "{received:?}");
    let lost = prometheus_query(&sns, "sum(tcpka_capture_packets_lost_total)", Duration::from_secs(5));
    assert_eq!(sample_value(&lost[0]), 0.0);

    // The exposition passes Prometheus's own linter (the text format, as
    // curl gets it), and OpenMetrics is what Prometheus asked for.
    let exposition = http_get(&sns, "http://127.0.0.1:9187/metrics", "", None).expect("GET /metrics");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(checked.status.success(), "promtool: {}{}\n{exposition}", text(&checked.stdout), text(&checked.stderr));
    let om = http_get(&sns, "http://127.0.0.1:9187/metrics", "", Some("application/openmetrics-text; version=1.0.0"))
        .expect("GET /metrics as OpenMetrics");
    assert!(om.ends_with("# EOF\n"), "{om}");

    // SAFETY: kill(2) on the pid of a child we started and have not reaped.
    assert_eq!(unsafe { libc::kill(lab.pid(live) as i32, libc::SIGINT) }, 0);
    let status = lab.wait(live, Duration::from_secs(10)).expect("tcpka live stops after SIGINT");
    let stderr = live_err.join().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("serving Prometheus metrics at http://127.0.0.1:9187/metrics"), "{stderr}");
    drop(lab);
    let _ = prometheus_log.join();
}

/// A server for the host-settings test: "sys" sets only SO_KEEPALIVE (the
/// namespace's sysctls apply), "sock" also TCP_KEEPIDLE 5, TCP_KEEPINTVL 1,
/// TCP_KEEPCNT 3. Prints READY, then how the connection ended.
const KA_SERVER: &str = r#"
import socket, sys
ip, port, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port)); s.listen(1); print("READY", flush=True)
s.settimeout(60); c, _ = s.accept(); c.settimeout(60)
c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
if how == "sock":
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
c.sendall(c.recv(100))
try:
    print("EOF" if c.recv(100) == b"" else "DATA", flush=True)
except OSError as e:
    print("ERROR", e.errno, flush=True)
"#;

#[test]
fn live_names_the_hosts_settings_and_the_process_when_it_is_the_prober() {
    let test = "live_names_the_hosts_settings_and_the_process_when_it_is_the_prober";
    if !can_run(test, true) {
        return;
    }
    let mut lab = Lab::new();
    let (cns, sns, cip, sip) =
        (lab.client_ns.clone(), lab.server_ns.clone(), lab.client_ip.clone(), lab.server_ip.clone());
    let (cif, sif) = (lab.client_if.clone(), lab.server_if.clone());
    // The server namespace's sysctls: 20 s idle, probes 2 s apart, 2 of them.
    for (name, value) in [("time", 20), ("intvl", 2), ("probes", 2)] {
        run(
            "ip",
            &["netns", "exec", &sns, "sh", "-c", &format!("echo {value} > /proc/sys/net/ipv4/tcp_keepalive_{name}")],
        );
    }
    // tcpka on the probers' host, and on the other host.
    let here = lab.spawn(&sns, TCPKA, &["live", "-i", &sif, "--format", "json", "-f", "tcp"]);
    let there = lab.spawn(&cns, TCPKA, &["live", "-i", &cif, "--format", "json", "-f", "tcp"]);
    let (here_out, there_out) = (lab.lines(here), lab.lines(there));
    let (mut here_seen, mut there_seen) = (Vec::new(), Vec::new());
    let started = |l: &str| l.contains("\"capture-started\"");
    wait_line(&here_out, &mut here_seen, Duration::from_secs(10), "capture-started", started);
    wait_line(&there_out, &mut there_seen, Duration::from_secs(10), "capture-started", started);

    let mut servers = Vec::new();
    for (port, how) in [("7011", "sys"), ("7012", "sock")] {
        let srv = lab.spawn(&sns, "python3", &["-u", "-c", KA_SERVER, &sip, port, how]);
        let out = lab.lines(srv);
        let mut seen = Vec::new();
        wait_line(&out, &mut seen, Duration::from_secs(10), "server READY", |l| l == "READY");
        let holder = lab.spawn(&cns, "python3", &["-u", "-c", CLIENT, &sip, port, "hold"]);
        let holder_out = lab.lines(holder);
        wait_line(&holder_out, &mut Vec::new(), Duration::from_secs(10), "client EXCHANGED", |l| l == "EXCHANGED");
        servers.push((port.parse::<u16>().unwrap(), lab.pid(srv), out, seen));
    }
    thread::sleep(Duration::from_millis(300));
    run("ip", &["-n", &cns, "addr", "flush", "dev", &cif]);
    // The per-socket one dies after 5 + 3 × 1 s, the system one after 20 + 2 × 2 s.
    for (port, _, out, seen) in &mut servers {
        let (_, outcome) =
            wait_line(out, seen, Duration::from_secs(40), "the server's outcome", |l| l.starts_with("ERROR"));
        assert_eq!(outcome, "ERROR 110", "port {port}");
    }
    let ended = |rx: &Receiver<(SystemTime, String)>, seen: &mut Vec<(SystemTime, String)>, port: u16| -> Value {
        let (_, l) = wait_line(rx, seen, Duration::from_secs(5), "connection-ended", |l| {
            l.contains("\"connection-ended\"") && l.contains(&format!("{sip}:{port}\""))
        });
        serde_json::from_str(&l).unwrap()
    };
    let train = |seen: &[(SystemTime, String)], port: u16| -> Value {
        seen.iter()
            .map(|(_, l)| serde_json::from_str::<Value>(l).unwrap())
            .find(|e| e["event"] == "keepalive-train" && port_of(&e["server"]) == port)
            .unwrap_or_else(|| panic!("no keepalive-train for {port}"))
    };

    let sysctl = serde_json::json!({"tcp_keepalive_time": 20, "tcp_keepalive_intvl": 2, "tcp_keepalive_probes": 2});
    for (port, pid, _, _) in &servers {
        let end = ended(&here_out, &mut here_seen, *port);
        let ka = &end["connection"]["keepalive"][0];
        let host = &end["host"];
        assert_eq!(end["end_reason"], "keepalive-timeout", "{end}");
        assert_eq!(host["sysctl"], sysctl, "{end}");
        let (settings, want) = if *port == 7011 { ((20, 2, 2), "system") } else { ((5, 1, 3), "per-socket") };
        assert_eq!(
            (&ka["idle_s"], &ka["interval_s"], &ka["probes"]),
            (&settings.0.into(), &settings.1.into(), &settings.2.into()),
            "{ka}"
        );
        assert_eq!(host["settings_from"], want, "{end}");
        // The process that owns the socket, as the kernel said at the train.
        for note in [&train(&here_seen, *port)["host"], host] {
            assert_eq!(note["socket"]["pid"], *pid, "{note}");
            assert_eq!(note["socket"]["process"], "python3", "{note}");
            assert_eq!(note["socket"]["uid"], 0, "{note}");
        }
        let due = train(&here_seen, *port)["host"]["socket"]["keepalive_timer_s"].as_f64().expect("a keepalive timer");
        assert!(due > 0.0 && due <= 2.0, "the next probe is due within an interval: {due}");

        // On the other host: the same kill, and nothing of the kind.
        let there_end = ended(&there_out, &mut there_seen, *port);
        assert_eq!(there_end["end_reason"], "keepalive-timeout");
        assert!(there_end.get("host").is_none(), "{there_end}");
        assert!(train(&there_seen, *port).get("host").is_none());
        assert_eq!(there_end["client"].as_str().unwrap().split(':').next(), Some(cip.as_str()));
    }
}

#[test]
fn the_documented_systemd_unit_runs_a_valid_command_line() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/systemd.md")).unwrap();
    let exec = doc.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("an ExecStart= line");
    // systemd's quoting, as far as the example uses it: words, and "quoted words".
    let words: Vec<String> = exec
        .split('"')
        .enumerate()
        .flat_map(|(i, part)| {
            if i % 2 == 1 { vec![part.to_string()] } else { part.split_whitespace().map(str::to_string).collect() }
        })
        .collect();
    assert!(words[0].ends_with("/tcpka"), "{exec}");
    let mut args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    // Every option parses: the run gets as far as opening the interface,
    // which is named here so that it does not exist.
    let i = args.iter().position(|&a| a == "-i").expect("an interface");
    args[i + 1] = "does-not-exist0";
    let out = tcpka(&args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no interface named 'does-not-exist0'"), "the command line parses: {err}");
}
