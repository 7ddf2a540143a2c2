//! `--format html` rendered by a real browser: Debian's headless Chromium
//! prints the report of two fixtures to PDF (its text is what a reader sees,
//! and what a printed ticket holds) and takes a screenshot an engineer can
//! look at: target/html/report.png. Fails, not skips, in CI without
//! chromium or pdftotext (scripts/deps.sh installs them).
// Tests may print: clippy.toml forbids it in tcpka itself (see src/diag.rs).
#![allow(clippy::disallowed_macros)]
mod common;

use common::have_tool;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name).to_str().unwrap().to_string()
}

/// Headless Chromium on `page` with `args` (root needs --no-sandbox).
fn chromium(page: &Path, args: &[String]) {
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/html");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_html_report_renders_in_chromium_with_its_verdicts_and_settings() {
    let test = "the_html_report_renders_in_chromium_with_its_verdicts_and_settings";
    if !have_tool(test, "chromium", "--version") || !have_tool(test, "pdftotext", "-v") {
        return;
    }
    let out = common::tcpka(&[
        "analyze",
        "--format",
        "html",
        &fixture("ka-sysctl-sll2.pcap"),
        &fixture("rst-middlebox.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let html = common::stdout(&out);
    // Self-contained: nothing to fetch, no script. The only URL is SVG's namespace name.
    for needle in ["<script", "src=", "<link", "url(", "@import"] {
        assert!(!html.contains(needle), "{needle} in the page");
    }
    assert_eq!(html.matches("http").count(), html.matches("http://www.w3.org/2000/svg").count(), "a URL in the page");

    let dir = out_dir();
    let page = dir.join("report.html");
    std::fs::write(&page, &html).unwrap();

    // What the reader sees: the printed page's text.
    let pdf = dir.join("report.pdf");
    chromium(&page, &[format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer".into()]);
    let text = Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-").output().expect("run pdftotext");
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for words in [
        // The verdicts, the reset's cause, the counts.
        "2 connections: keepalive-timeout 1, reset 1 (middlebox 1)",
        "keepalive-timeout: 10.0.1.2:40002 → 10.0.2.2:7777",
        "reset:middlebox: 10.0.1.2:40021 → 10.0.2.2:7777",
        // The prober's settings, in the diagnosis.
        "tcp_keepalive_time=20, tcp_keepalive_intvl=2, tcp_keepalive_probes=2",
        // The ladder (SVG text): the probes with their frames and interval, the RST.
        "keepalive probe 2 (+2.016 s)",
        "RST, forged (TTL)",
        // Evidence and the Wireshark filter.
        "ip.addr==10.0.1.2 && tcp.port==40002 && ip.addr==10.0.2.2 && tcp.port==7777",
        "Community ID 1:",
    ] {
        assert!(folded.contains(words), "'{words}' not in the printed page:\n{text}");
    }
    // The prober and its settings, a row of the table (the PDF's text spaces cells its own way).
    let squeezed: String = text.split_whitespace().collect();
    assert!(squeezed.contains("10.0.2.2:7777server1/120s2s20/2tuned"), "the prober's row:\n{text}");
    for frame in ["11", "12", "13"] {
        assert!(text.lines().any(|l| l.trim_start().starts_with(frame)), "frame {frame} missing:\n{text}");
    }

    // The screenshot for people: a real PNG of the window's size.
    let png = dir.join("report.png");
    chromium(&page, &[format!("--screenshot={}", png.display()), "--window-size=1000,2200".into()]);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) =
        (u32::from_be_bytes(bytes[16..20].try_into().unwrap()), u32::from_be_bytes(bytes[20..24].try_into().unwrap()));
    assert_eq!((w, h), (1000, 2200));
    assert!(bytes.len() > 40_000, "an empty page? {} bytes", bytes.len());
    eprintln!("screenshot: {}", png.display());
}
