//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[path = "../../src/testkit.rs"]
mod testkit;
#[allow(unused_imports)] // not every test binary uses every helper
pub use testkit::*;

use std::process::{Command, Output};

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
