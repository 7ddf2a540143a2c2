//! The human report: a summary, the keepalive probers, then the abnormal
//! connections with their diagnosis and evidence. With `--all`, every
//! connection. Tables fit the terminal; piped output is not wrapped by width
//! but paragraphs are wrapped at 100 columns.
//!
//! The connections come last but are known first, so the sink keeps them
//! until the end — as little of them as it can: a table row each (its
//! cells in one string), and their findings written out as they come, in
//! a temporary file with `--all` (100,000 connections' reports took 600 MiB
//! when kept whole).

use crate::report::{ConnectionReport, ReportSink, RunReport};
use crate::verdict::EndReason;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Seek, Write};
use unicode_width::UnicodeWidthStr;

/// Without --all, at most this many connections are detailed.
pub const DEFAULT_DETAIL_LIMIT: usize = 20;

/// The connections table's header.
const CONNECTION_COLUMNS: [&str; 8] = ["#", "client", "server", "verdict", "ended by", "duration", "probes", "frames"];
/// Separates the cells of a kept row (no cell contains it).
const CELL_END: char = '\u{1f}';

pub struct TableSink<W: Write> {
    out: W,
    all: bool,
    /// One row of the connections table per connection kept: its cells, each ended by [`CELL_END`].
    rows: Vec<Box<str>>,
    /// The widest cell of each column so far, header included.
    widths: [usize; 8],
    /// The findings of the connections kept, in order, as printed.
    findings: Spool,
    /// Abnormal connections not kept (beyond the limit).
    not_shown: u64,
    width: usize,
    terminal: bool,
}

/// Text written now and read back at the end: in memory, or with `--all` in
/// a temporary file (memory when none can be made).
enum Spool {
    Memory(Vec<u8>),
    File(BufWriter<File>),
}

impl Spool {
    /// A temporary file (deleted when closed), or memory when none can be made.
    fn temporary() -> Spool {
        tempfile::tempfile().map_or(Spool::Memory(Vec::new()), |file| Spool::File(BufWriter::new(file)))
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Spool::Memory(v) => v,
            Spool::File(f) => f,
        }
    }

    /// Copies everything written to `out`.
    fn copy_to(&mut self, out: &mut dyn Write) -> io::Result<()> {
        match self {
            Spool::Memory(v) => out.write_all(v),
            Spool::File(f) => {
                f.flush()?;
                let file = f.get_mut();
                file.rewind()?;
                io::copy(file, out).map(|_| ())
            }
        }
    }
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W, all: bool) -> TableSink<W> {
        let terminal = io::stdout().is_terminal();
        let width = if terminal { textwrap::termwidth().max(60) } else { 100 };
        TableSink {
            out,
            all,
            rows: Vec::new(),
            widths: CONNECTION_COLUMNS.map(UnicodeWidthStr::width),
            findings: if all { Spool::temporary() } else { Spool::Memory(Vec::new()) },
            not_shown: 0,
            width,
            terminal,
        }
    }

    fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        if self.terminal {
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
        if self.rows.len() < DEFAULT_DETAIL_LIMIT {
            return true;
        }
        self.not_shown += 1;
        false
    }

    fn connection(&mut self, c: &ConnectionReport) -> io::Result<()> {
        let number = self.rows.len() + 1;
        let probes: u32 = c.keepalive.iter().map(|k| k.probes_sent).sum();
        let cells = [
            number.to_string(),
            c.client.clone(),
            c.server.clone(),
            c.end_reason.to_string(),
            c.ended_by.clone().unwrap_or_default(),
            format!("{:.1} s", c.duration_s),
            probes.to_string(),
            format!("{}–{}", c.first_frame, c.last_frame),
        ];
        keep_row(&mut self.rows, &mut self.widths, &cells);

        let vlan = if c.vlan.is_empty() {
            String::new()
        } else {
            format!(" vlan {}", c.vlan.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("/"))
        };
        let diagnosis = self.wrap("    ", &c.diagnosis);
        let out = self.findings.writer();
        writeln!(out, "\n[{number}] {} → {}{}: {} ({})", c.client, c.server, vlan, c.end_reason, c.capture)?;
        writeln!(out, "{diagnosis}")?;
        for e in &c.evidence {
            writeln!(out, "    frame {:>7}  {}  {}", e.frame, e.time, e.what)?;
        }
        writeln!(out, "    Wireshark: {}", c.wireshark_filter)
    }

    fn finish(&mut self, run: &RunReport<'_>) -> io::Result<()> {
        let (captures, hosts, summary) = (run.captures, &run.host_reports(), run.summary);
        let out = &mut Vec::new();
        for c in captures {
            let mut line = format!(
                "{}: {}, {}, {} packets ({} TCP), {} connection{}",
                c.path,
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
            for w in &c.warnings {
                writeln!(out, "{}", self.wrap("  warning: ", w))?;
            }
            if let Some(e) = &c.error {
                writeln!(out, "{}", self.wrap("  error: ", e))?;
            }
        }
        let verdicts: Vec<String> = summary.by_end_reason.iter().map(|(r, n)| format!("{r} {n}")).collect();
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
                    h.role.to_string(),
                    format!("{}/{}", h.connections_ended, h.connections_probed),
                    opt_secs(h.idle_s, h.idle_observed_min_s),
                    opt_secs(h.interval_s, h.interval_observed_min_s),
                    match (h.probes, h.probes_bound) {
                        (Some(n), Some(crate::verdict::Bound::AtLeast)) => format!("≥{n}"),
                        (Some(n), _) => n.to_string(),
                        _ => "?".to_string(),
                    },
                    format!("{}/{}", h.probes_answered, h.probes_sent),
                    h.settings_origin.to_string(),
                ]);
            }
            writeln!(out, "{t}")?;
            for h in hosts {
                writeln!(out, "{}", self.wrap("  ", &h.summary))?;
            }
        }

        if !run.paths.is_empty() {
            writeln!(out, "\nIdle timeouts on the path")?;
            for p in run.path_reports() {
                writeln!(out, "{}", self.wrap("  ", &p.summary))?;
            }
        }
        if !run.reconnect_storms.is_empty() {
            writeln!(out, "\nReconnect storms")?;
            for s in run.storm_reports() {
                writeln!(out, "{}", self.wrap("  ", &s.summary))?;
            }
        }

        if self.rows.is_empty() {
            if !self.all {
                writeln!(out, "\nNo abnormal connections (use --all to list every connection).")?;
            }
            self.out.write_all(out)?;
            return self.out.flush();
        }
        writeln!(out, "\n{}", if self.all { "Connections" } else { "Abnormal connections" })?;
        self.out.write_all(out)?;
        // Written as it is drawn: with --all it is a line per connection.
        let fitted = self.terminal.then(|| self.table());
        let mut table = BufWriter::new(&mut self.out);
        write_connections(&mut table, &self.rows, &self.widths, fitted)?;
        if self.not_shown > 0 {
            writeln!(table, "… and {} more abnormal connections (use --all or --format json)", self.not_shown)?;
        }
        writeln!(table, "\nFindings")?;
        self.findings.copy_to(&mut table)?;
        table.flush()?;
        drop(table);
        self.out.flush()
    }
}

/// Keeps a row of the connections table as one string, and widens its columns to fit it.
fn keep_row(rows: &mut Vec<Box<str>>, widths: &mut [usize; 8], cells: &[String; 8]) {
    let mut row = String::new();
    for (cell, widest) in cells.iter().zip(widths) {
        *widest = (*widest).max(cell.width());
        row.push_str(cell);
        row.push(CELL_END);
    }
    rows.push(row.into_boxed_str());
}

/// Draws the connections table as comfy-table's `UTF8_FULL_CONDENSED` does
/// when the output is not a terminal (no arrangement: each column as wide as
/// its widest cell, plus one space each side), row by row: comfy-table would
/// first copy every row into cells of its own. On a terminal, `fitted` is a
/// comfy-table that fits the width, and gets the rows.
fn write_connections(
    out: &mut dyn Write,
    rows: &[Box<str>],
    widths: &[usize; 8],
    fitted: Option<Table>,
) -> io::Result<()> {
    if let Some(mut t) = fitted {
        t.set_header(CONNECTION_COLUMNS.to_vec());
        for row in rows {
            t.add_row(row.split_terminator(CELL_END).collect::<Vec<_>>());
        }
        return writeln!(out, "{t}");
    }
    let rule = |out: &mut dyn Write, [left, line, cross, right]: [&str; 4]| -> io::Result<()> {
        out.write_all(left.as_bytes())?;
        for (i, w) in widths.iter().enumerate() {
            if i > 0 {
                out.write_all(cross.as_bytes())?;
            }
            out.write_all(line.repeat(w + 2).as_bytes())?;
        }
        writeln!(out, "{right}")
    };
    let row = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        out.write_all("│".as_bytes())?;
        for (i, (cell, w)) in cells.zip(widths).enumerate() {
            if i > 0 {
                out.write_all("┆".as_bytes())?;
            }
            write!(out, " {cell}{:pad$} ", "", pad = w - cell.width())?;
        }
        writeln!(out, "│")
    };
    rule(out, ["┌", "─", "┬", "┐"])?;
    row(out, &mut CONNECTION_COLUMNS.into_iter())?;
    rule(out, ["╞", "═", "╪", "╡"])?;
    for r in rows {
        row(out, &mut r.split_terminator(CELL_END))?;
    }
    rule(out, ["└", "─", "┴", "┘"])
}

fn opt_secs(setting: Option<u32>, observed: Option<f64>) -> String {
    match (setting, observed) {
        (Some(s), Some(o)) => format!("{s} s ({o:.3})"),
        (None, Some(o)) => format!("? ({o:.3})"),
        (Some(s), None) => format!("{s} s"),
        (None, None) => "?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connections_table_is_drawn_as_comfy_table_draws_it() {
        let rows = [
            ["1", "10.0.1.2:40022", "10.0.2.2:7777", "retransmission-timeout", "10.0.1.2:40022", "11.0 s", "0", "1–17"],
            ["2", "[2001:db8::1]:443", "[2001:db8:20::10]:55000", "reset", "", "0.0 s", "12", "18–1234567"],
            ["3", "1.2.3.4:5", "6.7.8.9:10", "keepalive-timeout", "6.7.8.9:10", "86400.5 s", "2", "99999999–100000000"],
        ];
        let (mut kept, mut widths) = (Vec::new(), CONNECTION_COLUMNS.map(UnicodeWidthStr::width));
        let mut comfy = Table::new();
        comfy.load_style(UTF8_FULL_CONDENSED);
        comfy.set_header(CONNECTION_COLUMNS.to_vec());
        for row in rows {
            keep_row(&mut kept, &mut widths, &row.map(str::to_string));
            comfy.add_row(row.to_vec());
        }
        let mut drawn = Vec::new();
        write_connections(&mut drawn, &kept, &widths, None).unwrap();
        assert_eq!(String::from_utf8(drawn).unwrap(), format!("{comfy}\n"));
    }
}
