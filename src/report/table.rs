//! The human report: a summary, the keepalive probers, then the abnormal
//! connections with their diagnosis and evidence. With `--all`, every
//! connection. Tables fit the terminal; piped output is not wrapped by width
//! but paragraphs are wrapped at 100 columns.

use crate::report::{ConnectionReport, ReportSink, RunReport, Summary, ladder};
use crate::verdict::EndReason;
use comfy_table::presets::{ASCII_FULL_CONDENSED, UTF8_FULL_CONDENSED};
use comfy_table::{ContentArrangement, Table};
use std::io::{self, IsTerminal, Write};

/// Without --all, at most this many connections are detailed.
pub const DEFAULT_DETAIL_LIMIT: usize = 20;

pub struct TableSink<W: Write> {
    out: W,
    all: bool,
    kept: Vec<ConnectionReport>,
    /// Abnormal connections not kept (beyond the limit).
    not_shown: u64,
    width: usize,
    /// Draw with plain ASCII, not box-drawing characters (`--ascii`).
    ascii: bool,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W, all: bool) -> TableSink<W> {
        let width = if io::stdout().is_terminal() { textwrap::termwidth().max(60) } else { 100 };
        TableSink { out, all, kept: Vec::new(), not_shown: 0, width, ascii: false }
    }

    /// Draws tables and ladders with plain ASCII.
    pub fn ascii(mut self, ascii: bool) -> TableSink<W> {
        self.ascii = ascii;
        self
    }

    fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_style(if self.ascii { ASCII_FULL_CONDENSED } else { UTF8_FULL_CONDENSED });
        if io::stdout().is_terminal() {
            t.set_content_arrangement(ContentArrangement::Dynamic);
            t.set_width(self.width as u16);
        }
        t
    }

    fn wrap(&self, indent: &str, text: &str) -> String {
        let opts = textwrap::Options::new(self.width).initial_indent(indent).subsequent_indent(indent);
        textwrap::fill(text, opts)
    }
}

impl<W: Write> ReportSink for TableSink<W> {
    fn wants(&mut self, end_reason: EndReason) -> bool {
        if self.all {
            return true;
        }
        if !end_reason.is_abnormal() {
            return false;
        }
        if self.kept.len() < DEFAULT_DETAIL_LIMIT {
            return true;
        }
        self.not_shown += 1;
        false
    }

    fn connection(&mut self, report: &ConnectionReport) -> io::Result<()> {
        self.kept.push(report.clone());
        Ok(())
    }

    fn finish(&mut self, run: &RunReport<'_>) -> io::Result<()> {
        let (captures, hosts, summary) = (run.captures, &run.host_reports(), run.summary);
        let out = &mut Vec::new();
        for c in captures {
            // A capture read from several files: the first and last, and how many.
            let path = match c.files.as_slice() {
                [first, .., last] => format!("{first} … {last} ({} files, one capture)", c.files.len()),
                _ => c.path.clone(),
            };
            let mut line = format!(
                "{}: {}, {}, {} packets ({} TCP), {} connection{}",
                path,
                c.format.as_deref().unwrap_or("unreadable"),
                if c.link_types.is_empty() { "-".to_string() } else { c.link_types.join("+") },
                c.packets,
                c.tcp_packets,
                c.connections,
                if c.connections == 1 { "" } else { "s" }
            );
            if c.undecodable_packets > 0 {
                line.push_str(&format!(", {} undecodable", c.undecodable_packets));
            }
            if c.unreplied_evicted > 0 {
                line.push_str(&format!(
                    ", {} unreplied connection{} judged early (more than {} at once)",
                    c.unreplied_evicted,
                    if c.unreplied_evicted == 1 { "" } else { "s" },
                    crate::flow::MAX_UNREPLIED
                ));
            }
            writeln!(out, "{line}")?;
            if let Some(n) = &c.capture_counts {
                writeln!(
                    out,
                    "  {} received; dropped: {} by the kernel, {} by the interface; {} not analysed",
                    n.received, n.dropped_by_kernel, n.dropped_by_interface, n.not_analysed
                )?;
            }
            if let Some(d) = &c.duplicates {
                let first: Vec<String> = d.first.iter().map(|x| format!("{} (of {})", x.frame, x.copy_of)).collect();
                let text = format!(
                    "duplicates: {} frame{} repeated a packet captured just before (same IP ID, or without one the same bytes; same sequence and acknowledgment numbers, flags, length and window) and {} analysed once, as the first copy; first: {}{}",
                    d.dropped,
                    if d.dropped == 1 { "" } else { "s" },
                    if d.dropped == 1 { "was" } else { "were" },
                    first.join(", "),
                    if d.dropped > first.len() as u64 { ", …" } else { "" }
                );
                writeln!(out, "{}", self.wrap("  ", &text))?;
            }
            for w in &c.warnings {
                writeln!(out, "{}", self.wrap("  warning: ", w))?;
            }
            if let Some(e) = &c.error {
                writeln!(out, "{}", self.wrap("  error: ", e))?;
            }
        }
        let verdicts = verdict_counts(summary);
        writeln!(
            out,
            "\n{} connection{}: {}",
            summary.connections,
            if summary.connections == 1 { "" } else { "s" },
            if verdicts.is_empty() { "none".to_string() } else { verdicts.join(", ") }
        )?;
        writeln!(
            out,
            "keepalive probes: {} sent, {} answered",
            summary.keepalive_probes, summary.keepalive_probes_answered
        )?;

        if !hosts.is_empty() {
            writeln!(out, "\nKeepalive probers")?;
            let mut t = self.table();
            t.set_header(vec![
                "prober",
                "role",
                "ended/probed",
                "idle setting",
                "interval",
                "probes",
                "answered",
                "settings",
            ]);
            for h in hosts {
                t.add_row(vec![
                    h.prober.clone(),
                    h.facts.role.to_string(),
                    format!("{}/{}", h.facts.connections_ended, h.facts.connections_probed),
                    opt_secs(h.facts.idle_s, h.facts.idle_observed_min_s),
                    opt_secs(h.facts.interval_s, h.facts.interval_observed_min_s),
                    match (h.facts.probes, h.facts.probes_bound) {
                        (Some(n), Some(crate::verdict::Bound::AtLeast)) => format!("≥{n}"),
                        (Some(n), _) => n.to_string(),
                        _ => "?".to_string(),
                    },
                    format!("{}/{}", h.facts.probes_answered, h.facts.probes_sent),
                    h.facts.settings_origin.to_string(),
                ]);
            }
            writeln!(out, "{t}")?;
            for h in hosts {
                writeln!(out, "{}", self.wrap("  ", &h.facts.summary))?;
            }
        }

        if !run.paths.is_empty() {
            writeln!(out, "\nIdle timeouts on the path")?;
            for p in run.path_reports() {
                writeln!(out, "{}", self.wrap("  ", &p.facts.summary))?;
            }
        }
        if !run.reconnect_storms.is_empty() {
            writeln!(out, "\nReconnect storms")?;
            for s in run.storm_reports() {
                writeln!(out, "{}", self.wrap("  ", &s.facts.summary))?;
            }
        }

        if !self.kept.is_empty() {
            writeln!(out, "\n{}", if self.all { "Connections" } else { "Abnormal connections" })?;
            let mut t = self.table();
            t.set_header(vec!["#", "client", "server", "verdict", "ended by", "duration", "probes", "frames"]);
            for (i, c) in self.kept.iter().enumerate() {
                let probes: u32 = c.keepalive.iter().map(|k| k.facts.probes_sent).sum();
                t.add_row(vec![
                    (i + 1).to_string(),
                    c.client.clone(),
                    c.server.clone(),
                    c.ending().to_string(),
                    c.ended_by.clone().unwrap_or_default(),
                    format!("{:.1} s", c.duration_s),
                    probes.to_string(),
                    format!("{}–{}", c.first_frame, c.last_frame),
                ]);
            }
            writeln!(out, "{t}")?;
            if self.not_shown > 0 {
                writeln!(out, "… and {} more abnormal connections (use --all or --format json)", self.not_shown)?;
            }
            writeln!(out, "\nFindings")?;
            for (i, c) in self.kept.iter().enumerate() {
                let vlan = if c.vlan.is_empty() {
                    String::new()
                } else {
                    format!(" vlan {}", c.vlan.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("/"))
                };
                writeln!(out, "\n[{}] {} → {}{}: {} ({})", i + 1, c.client, c.server, vlan, c.ending(), c.capture)?;
                if c.end_reason.is_abnormal() {
                    for line in ladder::render_text(&c.ladder, &c.client, &c.server, self.ascii) {
                        writeln!(out, "    {line}")?;
                    }
                    writeln!(out)?;
                }
                writeln!(out, "{}", self.wrap("    ", &c.diagnosis))?;
                for e in &c.evidence {
                    // A capture of several files: the file and its frame there too.
                    let file = match (&e.file, e.file_frame) {
                        (Some(file), Some(n)) => format!(" [{} frame {n}]", base_name(file)),
                        _ => String::new(),
                    };
                    writeln!(out, "    frame {:>7}  {}  {}{file}", e.frame, e.time, e.what)?;
                }
                writeln!(out, "    Wireshark: {}", c.wireshark_filter)?;
            }
        } else if !self.all {
            writeln!(out, "\nNo abnormal connections (use --all to list every connection).")?;
        }
        if let Some(v) = run.vantage {
            let points: Vec<String> = v.points.iter().map(|p| format!("{} ({})", p.name, p.capture)).collect();
            writeln!(out, "\nVantage points: {}", points.join(", "))?;
            if let Some(offset) = v.clock_offset_s {
                let line = format!(
                    "{}'s clock minus {}'s, with the path between: {offset:+.6} s",
                    v.points[1].name, v.points[0].name
                );
                writeln!(out, "{}", self.wrap("  ", &line))?;
            }
            for (i, c) in v.connections.iter().enumerate() {
                writeln!(out, "\n[{}] {}", i + 1, self.wrap("", &c.summary).trim_start())?;
            }
            let unmatched: Vec<String> =
                v.points.iter().zip(&v.unmatched).map(|(p, n)| format!("{n} only at {}", p.name)).collect();
            writeln!(out, "\nConnections seen at one point only: {}", unmatched.join(", "))?;
        }
        if self.ascii {
            // The prose has arrows, dashes and ellipses too; line ends stay.
            self.out.write_all(to_ascii(&String::from_utf8_lossy(out)).as_bytes())?;
        } else {
            self.out.write_all(out)?;
        }
        self.out.flush()
    }
}

/// `text` in ASCII: each other character by its transliteration (→ as ->).
fn to_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(deunicode::deunicode_char(c).unwrap_or("?"));
        }
    }
    out
}

/// "keepalive-timeout 1, reset 3 (middlebox 2, refused 1), closed 5".
fn verdict_counts(summary: &Summary) -> Vec<String> {
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

fn opt_secs(setting: Option<u32>, observed: Option<f64>) -> String {
    match (setting, observed) {
        (Some(s), Some(o)) => format!("{s} s ({o:.3})"),
        (None, Some(o)) => format!("? ({o:.3})"),
        (Some(s), None) => format!("{s} s"),
        (None, None) => "?".to_string(),
    }
}

/// The last component of a path (a file of a ring buffer, in evidence).
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
