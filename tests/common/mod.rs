//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[path = "../../src/testkit.rs"]
mod testkit;
#[allow(unused_imports)] // not every test binary uses every helper
pub use testkit::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs the tcpka binary.
pub fn tcpka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpka")).args(args).output().expect("run tcpka")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `tcpka analyze --format json` and parses the document.
pub fn analyze_json(args: &[&str]) -> (serde_json::Value, Output) {
    let mut full = vec!["analyze", "--format", "json"];
    full.extend_from_slice(args);
    let out = tcpka(&full);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}\nstderr: {}", stdout(&out), stderr(&out)));
    (doc, out)
}

/// Whether `tool` runs here (`tool ARG` exits 0). When it does not: says so
/// loudly and returns false, or fails the test when `CI` is set (CI installs
/// every tool the tests use: scripts/deps.sh).
pub fn have_tool(test: &str, tool: &str, arg: &str) -> bool {
    let works = Command::new(tool)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if works {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: `{tool}` is missing; CI must have it (scripts/deps.sh installs it)");
    }
    // Straight to the stderr descriptor: the harness captures the output of passing tests.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: `{tool}` is not installed");
    false
}

/// Every capture in fixtures/ (the real-kernel ones, with their truth files).
pub fn fixture_captures() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    out.sort();
    assert!(out.len() >= 13, "fixtures missing in {}", dir.display());
    out
}

/// tools/gencap's 100,000-connection capture (the benchmark's), made once
/// under target/ and reused (tests/summary.rs, tests/memory.rs).
pub fn capture_100k() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/summary");
    let path = dir.join("100k.pcap");
    if path.exists() && path.with_extension("pcap.truth.json").exists() {
        return path;
    }
    std::fs::create_dir_all(&dir).unwrap();
    // Written under another name, then renamed: a run stopped halfway leaves no capture to reuse.
    let partial = dir.join("100k.partial.pcap");
    gencap(&partial, 100_000, 2_000);
    std::fs::rename(partial.with_extension("pcap.truth.json"), path.with_extension("pcap.truth.json")).unwrap();
    std::fs::rename(&partial, &path).unwrap();
    path
}

/// Writes tools/gencap's capture of `connections`, at most `concurrent`
/// open at once (seed 1), to `path`, and its truth beside it
/// (`PATH.truth.json`).
pub fn gencap(path: &Path, connections: u32, concurrent: u32) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = root.join("tools/gencap/Cargo.toml");
    let built = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .status()
        .expect("run cargo");
    assert!(built.success(), "tools/gencap does not build");
    let made = Command::new(root.join("tools/gencap/target/release/gencap"))
        .args(["--connections", &connections.to_string(), "--concurrent", &concurrent.to_string()])
        .args(["--seed", "1", "--out"])
        .arg(path)
        .status()
        .expect("run gencap");
    assert!(made.success(), "gencap failed");
}

/// The peak resident set of `tcpka ARGS` alone, in bytes (its own
/// `rusage`, from `wait4`: the tests of this binary run in parallel, and
/// `RUSAGE_CHILDREN` is the largest of all their children).
// Waited for by `wait4`, which clippy does not know of.
#[allow(clippy::zombie_processes)]
pub fn peak_rss_of(args: &[&str]) -> u64 {
    let child = Command::new(env!("CARGO_BIN_EXE_tcpka")).args(args).stdout(Stdio::null()).spawn().unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 only writes the status and the struct it is given; the
    // child is ours and waited for once.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "tcpka {args:?}: status {status}");
    // ru_maxrss is in KiB on Linux.
    usage.ru_maxrss as u64 * 1024
}
