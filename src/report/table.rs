//! The human report. First one screen, whatever the size of the capture:
//! the captures, the counts by verdict and reset cause, the top keepalive
//! probers with their settings, the servers with the most abnormal endings
//! and the idle timeouts found on their paths. Then the details: each story
//! once (the connections whose endings tell the same story, grouped), with
//! its ladder, diagnosis, evidence, Wireshark filter and the frames of every
//! connection in it. With `--all` (or `--only`), every connection.
//!
//! Every line fits the width: the terminal's, `$COLUMNS`, or 80 in a pipe.
//! Tables drop their least useful columns rather than break a value across
//! lines; paragraphs and evidence wrap between words.

use crate::report::stories::{
    Member, MemberWidths, MergedProber, Story, StoryBook, capture_counts_words, capture_name, duplicates_words,
    evidence_file_frame, merge_probers, verdict_counts,
};
use crate::report::vantage::VantageReport;
use crate::report::{ConnectionReport, EndpointText, Judged, ReportSink, RunReport, ladder};
use crate::verdict::{Bound, EndReason};
use comfy_table::presets::{ASCII_BORDERS_ONLY_CONDENSED, UTF8_BORDERS_ONLY};
use comfy_table::{ColumnConstraint, Table};
use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

/// Without --all, at most this many stories are told in detail.
pub const DEFAULT_DETAIL_LIMIT: usize = 20;
/// Rows of each table in the one-screen summary.
const TOP_PROBERS: usize = 5;
const TOP_SERVERS: usize = 3;
const TOP_PATHS: usize = 2;
/// Width when standard output is not a terminal and `$COLUMNS` is not set.
const PIPE_WIDTH: usize = 80;
/// The lines of a story's list written at once.
const LINES_PER_WRITE: usize = 1024;

pub struct TableSink<W: Write> {
    out: W,
    all: bool,
    /// Draw with plain ASCII, not box-drawing characters (`--ascii`).
    ascii: bool,
    /// Colour headings, verdicts and the ladder's RSTs and probes (`--color`).
    color: bool,
    width: usize,
    book: StoryBook,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W, all: bool) -> TableSink<W> {
        TableSink { out, all, ascii: false, color: false, width: default_width(), book: StoryBook::default() }
    }

    /// Draws tables and ladders with plain ASCII.
    pub fn ascii(mut self, ascii: bool) -> TableSink<W> {
        self.ascii = ascii;
        self
    }

    /// Colours headings, verdicts, RSTs and probes with ANSI escapes.
    pub fn color(mut self, color: bool) -> TableSink<W> {
        self.color = color;
        self
    }

    /// Fits every line in `width` columns.
    pub fn width(mut self, width: usize) -> TableSink<W> {
        self.width = width.max(MIN_WIDTH);
        self
    }

    fn wrap(&self, indent: &str, text: &str) -> String {
        wrap_hanging(indent, indent, text, self.width)
    }

    /// A table of `header` and `rows` that fits the width: the columns
    /// whose number comes last in `drop_order` go first, rather than a
    /// value being broken across lines.
    fn table(&self, header: &[&str], rows: Vec<Vec<String>>, drop_order: &[usize]) -> Vec<String> {
        let mut t = Table::new();
        t.load_style(if self.ascii { ASCII_BORDERS_ONLY_CONDENSED } else { UTF8_BORDERS_ONLY });
        t.set_header(header.to_vec());
        for r in rows {
            t.add_row(r);
        }
        let fits = |t: &Table| t.lines().all(|l| l.chars().count() <= self.width);
        for &column in drop_order.iter().rev() {
            if fits(&t) {
                break;
            }
            if let Some(c) = t.column_mut(column) {
                c.set_constraint(ColumnConstraint::Hidden);
            }
        }
        t.lines().collect()
    }

    fn summary_lines(&self, run: &RunReport<'_>) -> Vec<String> {
        let mut out = Vec::new();
        let captures = run.captures;
        if captures.len() <= 3 {
            for c in captures {
                out.push(self.wrap("", &capture_line(c)));
                if let Some(n) = &c.capture_counts {
                    out.push(self.wrap("  ", &capture_counts_words(n)));
                }
                if let Some(d) = &c.duplicates {
                    out.push(wrap_hanging("  duplicates: ", "    ", &duplicates_words(d), self.width));
                }
            }
        } else {
            let packets: u64 = captures.iter().map(|c| c.packets).sum();
            let duplicates: u64 = captures.iter().filter_map(|c| c.duplicates.as_ref()).map(|d| d.dropped).sum();
            let mut line = format!("{} captures, {packets} packets", captures.len());
            if duplicates > 0 {
                line.push_str(&format!(
                    ", {duplicates} duplicate frames analysed once (--format json lists the first of each capture)"
                ));
            }
            out.push(self.wrap("", &line));
        }
        // Warnings and errors: the first few, each on its own (wrapped) line.
        let notes: Vec<(&str, &str, &str)> = captures
            .iter()
            .flat_map(|c| {
                let errors = c.error.iter().map(move |e| (c.path.as_str(), "error", e.as_str()));
                errors.chain(c.warnings.iter().map(move |w| (c.path.as_str(), "warning", w.as_str())))
            })
            .collect();
        for (path, kind, text) in notes.iter().take(3) {
            let head = if captures.len() <= 3 { format!("  {kind}: ") } else { format!("  {kind}: {path}: ") };
            out.push(wrap_hanging(&head, "    ", text, self.width));
        }
        if notes.len() > 3 {
            out.push(format!("  … and {} more warnings (--format json lists them)", notes.len() - 3));
        }
        let summary = run.summary;
        let verdicts = verdict_counts(summary);
        out.push(String::new());
        out.push(self.wrap(
            "",
            &format!(
                "{} connection{}: {}",
                summary.connections,
                if summary.connections == 1 { "" } else { "s" },
                if verdicts.is_empty() { "none".to_string() } else { verdicts.join(", ") }
            ),
        ));
        out.push(format!(
            "keepalive probes: {} sent, {} answered",
            summary.keepalive_probes, summary.keepalive_probes_answered
        ));

        let hosts = run.host_reports();
        let probers = merge_probers(&hosts);
        if !probers.is_empty() {
            out.push(String::new());
            out.push(top_heading("Keepalive probers", probers.len(), TOP_PROBERS, "by connections ended"));
            let rows = probers.iter().take(TOP_PROBERS).map(prober_row).collect();
            let header = ["prober", "role", "ended/probed", "idle", "interval", "probes", "answered", "settings"];
            out.extend(self.table(&header, rows, &[0, 3, 4, 5, 2, 7, 1, 6]));
        }

        let servers = self.book.servers();
        if !servers.is_empty() {
            out.push(String::new());
            out.push(top_heading("Servers with the most abnormal endings", servers.len(), TOP_SERVERS, ""));
            for (server, total, endings) in servers.iter().take(TOP_SERVERS) {
                let words: Vec<String> = endings.iter().map(|(e, n)| format!("{e} {n}")).collect();
                out.push(wrap_hanging(
                    "  ",
                    "      ",
                    &format!("{server}: {total} ({})", words.join(", ")),
                    self.width,
                ));
            }
        }

        let mut paths = run.path_reports();
        paths.sort_by_key(|p| std::cmp::Reverse(p.facts.died_connections));
        if !paths.is_empty() {
            out.push(String::new());
            out.push(top_heading("Idle timeouts on the path", paths.len(), TOP_PATHS, ""));
            for p in paths.iter().take(TOP_PATHS) {
                let f = &p.facts;
                let died = match (f.idle_timeout_between_s, f.died_after_idle_min_s) {
                    // A longer silence survived elsewhere: no one timeout did it.
                    (_, Some(d)) if f.conflicting => format!(
                        "died after {d:.0} s idle, yet one survived {:.0} s: not one idle timeout",
                        f.survived_idle_max_s.unwrap_or(0.0)
                    ),
                    (Some([lo, hi]), _) => format!("dies idle between {lo:.0} and {hi:.0} s"),
                    (None, Some(d)) => format!("died after {d:.0} s idle"),
                    (None, None) => "died idle".to_string(),
                };
                let fits = if f.fits_defaults.is_empty() {
                    String::new()
                } else {
                    format!(" (fits {})", f.fits_defaults.join(", "))
                };
                let advice =
                    f.recommended_keepalive_idle_s.map_or(String::new(), |r| format!("; keepalive idle ≤ {r} s"));
                let line = format!(
                    "{}: {} of {} connections {died}{fits}{advice}",
                    p.server, f.died_connections, f.connections
                );
                out.push(wrap_hanging("  ", "      ", &line, self.width));
            }
        }
        if !run.reconnect_storms.is_empty() {
            out.push(String::new());
            out.push(top_heading("Reconnect storms", run.reconnect_storms.len(), TOP_PATHS, ""));
            for s in run.storm_reports().iter().take(TOP_PATHS) {
                let f = &s.facts;
                let mut how = Vec::new();
                if f.unanswered > 0 {
                    how.push(format!("{} unanswered", f.unanswered));
                }
                if f.half_closed_by_server > 0 {
                    how.push(format!("{} closed by the server only", f.half_closed_by_server));
                }
                let how = if how.is_empty() { String::new() } else { format!(" ({})", how.join(", ")) };
                let line = format!(
                    "{} → {}: {} older connections left open{how}, frames {}–{}",
                    s.client, s.server, f.abandoned, f.first_frame, f.newest_frame
                );
                out.push(wrap_hanging("  ", "      ", &line, self.width));
            }
        }
        out
    }

    fn story_lines(&self, i: usize, story: &Story, several_captures: bool) -> Vec<String> {
        let c = &story.first;
        let mut out = vec![String::new()];
        let vlan = if c.vlan.is_empty() {
            String::new()
        } else {
            format!(" vlan {}", c.vlan.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("/"))
        };
        let head = if story.several_servers() {
            // Handshakes to several ports of one host (a scan).
            format!(
                "[{}] {}: {} connections to {} ({} ports){vlan}, same story; the first, from {} to {}, as told ({}):",
                i + 1,
                c.ending(),
                story.count,
                story.host.as_deref().unwrap_or(&c.server),
                story.servers.len(),
                c.client,
                c.server,
                c.capture
            )
        } else if story.count > 1 {
            format!(
                "[{}] {}: {} connections to {}{vlan}, same story; the first, from {}, as told ({}):",
                i + 1,
                c.ending(),
                story.count,
                c.server,
                c.client,
                c.capture
            )
        } else {
            format!("[{}] {}: {} → {}{vlan} ({})", i + 1, c.ending(), c.client, c.server, c.capture)
        };
        out.push(wrap_hanging("", "    ", &head, self.width));
        if c.end_reason.is_abnormal() {
            out.extend(
                ladder::render_text(&c.ladder, &c.client, &c.server, self.ascii)
                    .into_iter()
                    .map(|l| format!("    {l}")),
            );
            out.push(String::new());
        }
        out.push(self.wrap("    ", &c.diagnosis));
        for e in &c.evidence {
            let head = format!("    frame {:<8} {}  ", e.frame, time_of_day(&e.time));
            let indent = " ".repeat(head.chars().count());
            // A capture of several files: the file and its frame there too.
            let what = match evidence_file_frame(e) {
                Some(place) => format!("{} {place}", e.what),
                None => e.what.clone(),
            };
            out.push(wrap_hanging(&head, &indent, &what, self.width));
        }
        out.push(wrap_hanging("    Wireshark: ", "      ", &c.wireshark_filter, self.width));
        if story.count > 1 {
            out.push(format!(
                "    The {} connections of this story (id, client{}, frames{}):",
                story.count,
                if story.several_servers() { " → server" } else { "" },
                if several_captures { ", capture" } else { "" }
            ));
        }
        out
    }

    /// The list of a story's connections (after [`Self::story_lines`]),
    /// written a chunk of lines at a time: with `--all` a story may list
    /// every connection of the run. Each line is written into one text for
    /// its chunk, not made as a string of its own: with `--all` there is a
    /// line for every connection of the run, and nearly all fit the width.
    fn write_members(&mut self, book: &StoryBook, story: &Story, several_captures: bool) -> io::Result<()> {
        if story.count <= 1 {
            return Ok(());
        }
        let servers = story.several_servers();
        let widths = story.widths;
        let (mut line, mut text) = (String::new(), String::new());
        for chunk in story.members.chunks(LINES_PER_WRITE) {
            text.clear();
            for m in chunk {
                line.clear();
                member_line(&mut line, m, widths, servers, several_captures.then(|| book.capture_of(m)));
                match one_line(MEMBER_INDENT, &line, self.width) {
                    Some(fitted) => {
                        text.push_str(MEMBER_INDENT);
                        text.push_str(fitted);
                    }
                    None => text.push_str(&wrap_hanging(MEMBER_INDENT, "        ", &line, self.width)),
                }
                text.push('\n');
            }
            self.write_text(text.as_str().into())?;
        }
        let unlisted = story.count - story.members.len() as u64;
        if unlisted > 0 {
            self.write_lines(&[format!("      … and {unlisted} more (--all, or --format ndjson, lists them)")])?;
        }
        Ok(())
    }

    /// Writes lines, each ended by a newline, in ASCII or colour if asked.
    fn write_lines(&mut self, lines: &[String]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut text = lines.join("\n");
        text.push('\n');
        self.write_text(text.into())
    }

    /// Writes `text`, lines each ended by a newline, in ASCII or colour if asked.
    fn write_text(&mut self, mut text: Cow<'_, str>) -> io::Result<()> {
        if self.ascii {
            // The prose has arrows, dashes and ellipses too; line ends stay.
            text = to_ascii(&text).into();
        }
        if self.color {
            text = (text.lines().map(paint).collect::<Vec<_>>().join("\n") + "\n").into();
        }
        self.out.write_all(text.as_bytes())
    }

    /// Two vantage points (`--vantage`): which connection is which, the
    /// clocks' offset, and what only one point saw.
    fn vantage_lines(&self, v: &VantageReport) -> Vec<String> {
        let mut out = vec![String::new()];
        let points: Vec<String> = v.points.iter().map(|p| format!("{} ({})", p.name, p.capture)).collect();
        out.push(wrap_hanging("Vantage points: ", "  ", &points.join(", "), self.width));
        if let Some(offset) = v.clock_offset_s {
            let line = format!(
                "{}'s clock minus {}'s, with the path between: {offset:+.6} s",
                v.points[1].name, v.points[0].name
            );
            out.push(self.wrap("  ", &line));
        }
        for (i, c) in v.connections.iter().enumerate() {
            out.push(String::new());
            out.push(wrap_hanging(&format!("[{}] ", i + 1), "    ", &c.summary, self.width));
        }
        let unmatched: Vec<String> =
            v.points.iter().zip(&v.unmatched).map(|(p, n)| format!("{n} only at {}", p.name)).collect();
        out.push(String::new());
        out.push(wrap_hanging("Connections seen at one point only: ", "  ", &unmatched.join(", "), self.width));
        out
    }
}

/// Below this width nothing useful fits (the ladder needs 76 columns).
const MIN_WIDTH: usize = 60;

/// The terminal's width, or `$COLUMNS`, or [`PIPE_WIDTH`].
fn default_width() -> usize {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|&c| c > 0);
    let width = match columns {
        Some(c) => c,
        None if io::stdout().is_terminal() => textwrap::termwidth(),
        None => PIPE_WIDTH,
    };
    width.max(MIN_WIDTH)
}

/// `text` wrapped to `width` between words, the first line after `first`,
/// the others after `rest`.
fn wrap_hanging(first: &str, rest: &str, text: &str, width: usize) -> String {
    match one_line(first, text, width) {
        Some(line) => [first, line].concat(),
        None => optimal_fit(first, rest, text, width),
    }
}

/// [`wrap_hanging`] by textwrap's optimal fit.
fn optimal_fit(first: &str, rest: &str, text: &str, width: usize) -> String {
    // textwrap's optimal fit lets a line overflow the width when that costs
    // less than a short line (its default overflow penalty is 50² per
    // column: an 81-column story header before a long capture path). Output
    // fits 80 columns: only a word longer than the width may overflow. A
    // layout that fitted before keeps its cost, so it stays the same.
    let penalties = textwrap::wrap_algorithms::Penalties { overflow_penalty: 1 << 40, ..Default::default() };
    let opts = textwrap::Options::new(width)
        .wrap_algorithm(textwrap::WrapAlgorithm::OptimalFit(penalties))
        .initial_indent(first)
        .subsequent_indent(rest)
        // Lines break at spaces only: a path, an address or a filter stays whole.
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(false);
    textwrap::fill(text, opts)
}

/// `text` as [`wrap_hanging`] lays it out when it fits on its first line
/// (after `first`): without its trailing spaces, as textwrap drops them.
/// Most lines fit (a story's list, evidence, the summary), and for those
/// the optimal fit only finds that one line costs least: every further line
/// costs its `nline_penalty`, more than the last line's penalty for being
/// short (`textwrap::wrap_algorithms::optimal_fit`). `None` for a text
/// textwrap would not lay out as it is on one line: too wide, several
/// lines, empty (it writes no indent then), or with an escape sequence,
/// whose width textwrap counts over the whole sequence, spaces included,
/// so that the words' widths need not add up to the text's.
fn one_line<'t>(first: &str, text: &'t str, width: usize) -> Option<&'t str> {
    // Bytes, not `char`s: a pattern of two characters is matched a decoded
    // character at a time; both are ASCII, never part of another character.
    if text.is_empty() || text.bytes().any(|b| b == b'\n' || b == b'\x1b') {
        return None;
    }
    let line = text.trim_end_matches(' ');
    // textwrap's first line: the width less the indent's, at least 1.
    let room = width.saturating_sub(textwrap::core::display_width(first)).max(1);
    (columns(line) <= room).then_some(line)
}

/// The columns `text` takes as textwrap counts them
/// (`textwrap::core::display_width`), for a text without escape sequences,
/// where the characters' widths add up: a printable ASCII character takes
/// one (`unicode-width`'s table, which `display_width` reads; textwrap's
/// own `fill` takes a byte for at most a column too), any other what
/// `display_width` gives it. With `--all` every connection's line is
/// measured, and nearly all of it is ASCII.
fn columns(text: &str) -> usize {
    let mut utf8 = [0; 4];
    text.chars()
        .map(|c| if matches!(c, ' '..='~') { 1 } else { textwrap::core::display_width(c.encode_utf8(&mut utf8)) })
        .sum()
}

/// A story's list's indent.
const MEMBER_INDENT: &str = "      ";

/// A member's line in its story's list, into `line`: its id, client (and
/// server, when the story's connections went to several) lined up to the
/// story's widest, its frames, and its capture when the run has several.
/// Each piece is written in place, padded as `{:<width$}` pads (to a count of
/// characters), not formatted into a string of its own first: with `--all`
/// there is a line for each connection of the run.
fn member_line(line: &mut String, m: &Member, widths: MemberWidths, servers: bool, capture: Option<&str>) {
    use std::fmt::Write as _;
    let MemberWidths { id: id_width, client: client_width, server: server_width } = widths;
    let padded = |line: &mut String, start: usize, width: usize| {
        let written = line[start..].chars().count();
        line.extend(std::iter::repeat_n(' ', width.saturating_sub(written)));
    };
    let start = line.len();
    line.push_str(&m.id);
    padded(line, start, id_width);
    line.push_str("  ");
    let start = line.len();
    // Writing to a `String` cannot fail.
    let _ = write!(line, "{}", EndpointText(m.client_addr()));
    padded(line, start, client_width);
    if servers {
        line.push_str(" → ");
        let start = line.len();
        let _ = write!(line, "{}", EndpointText(m.server_addr()));
        padded(line, start, server_width);
    }
    let mut digits = itoa::Buffer::new();
    line.push_str("  ");
    line.push_str(digits.format(m.first_frame));
    line.push('–');
    line.push_str(digits.format(m.last_frame));
    if let Some(capture) = capture {
        line.push_str("  ");
        line.push_str(capture);
    }
}

/// "14:05:03.123456Z" from an RFC 3339 time (the date is in the JSON).
fn time_of_day(rfc3339: &str) -> &str {
    rfc3339.split_once('T').map_or(rfc3339, |(_, t)| t)
}

fn top_heading(what: &str, total: usize, shown: usize, by: &str) -> String {
    if total <= shown {
        what.to_string()
    } else {
        let by = if by.is_empty() { String::new() } else { format!(" {by}") };
        format!("{what} (top {shown} of {total}{by})")
    }
}

fn capture_line(c: &crate::report::CaptureSummary) -> String {
    let mut line = format!(
        "{}: {}, {}, {} packets ({} TCP), {} connection{}",
        capture_name(c),
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
    line
}

fn prober_row(m: &MergedProber<'_>) -> Vec<String> {
    let h = &m.main.facts;
    // A prober split by settings shows its largest group's, marked "~".
    let mark = if m.groups > 1 { "~" } else { "" };
    vec![
        m.main.prober.clone(),
        h.role.to_string(),
        format!("{}/{}", m.ended, m.probed),
        format!("{mark}{}", opt_secs(h.idle_s)),
        format!("{mark}{}", opt_secs(h.interval_s)),
        match (h.probes, h.probes_bound) {
            (Some(n), Some(Bound::AtLeast)) => format!("≥{n}"),
            (Some(n), _) => n.to_string(),
            _ => "?".to_string(),
        },
        format!("{}/{}", m.answered, m.sent),
        h.settings_origin.to_string(),
    ]
}

impl<W: Write> ReportSink for TableSink<W> {
    fn wants(&mut self, end_reason: EndReason) -> bool {
        self.all || end_reason.is_abnormal()
    }

    // Only the first connection of each story is told: the book builds its
    // report, and files the others from their verdicts.
    fn judged(&mut self, judged: &Judged<'_>) -> io::Result<()> {
        self.book.judged(judged, self.all);
        Ok(())
    }

    fn connection(&mut self, report: &ConnectionReport) -> io::Result<()> {
        self.book.add(report, self.all);
        Ok(())
    }

    // Written as it is made, a story at a time: with `--all` the stories'
    // lists hold every connection of the run.
    fn finish(&mut self, run: &RunReport<'_>) -> io::Result<()> {
        let mut lines = self.summary_lines(run);
        let book = std::mem::take(&mut self.book);
        let connections = book.connections();
        let ordered = book.by_size();
        lines.push(String::new());
        if ordered.is_empty() {
            if !self.all {
                lines.push("No abnormal connections (use --all to list every connection).".to_string());
            }
        } else {
            let what = if self.all { "Connections" } else { "Abnormal connections" };
            let stories = ordered.len();
            let told = if self.all { stories } else { stories.min(DEFAULT_DETAIL_LIMIT) };
            let mut heading = format!(
                "{what}: {connections} in {stories} stor{} (the same ending on the same server, told once)",
                if stories == 1 { "y" } else { "ies" }
            );
            if told < stories {
                heading.push_str(&format!("; the {told} largest below (the rest: --only, --all or --format ndjson)"));
            }
            lines.push(self.wrap("", &heading));
            let several = book.several_captures();
            for (n, story) in ordered.iter().take(told).enumerate() {
                lines.extend(self.story_lines(n, story, several));
                self.write_lines(&lines)?;
                lines.clear();
                self.write_members(&book, story, several)?;
            }
            if book.ungrouped > 0 {
                lines.push(format!("\n… and {} more connections in further stories (--format ndjson)", book.ungrouped));
            }
        }
        if let Some(v) = run.vantage {
            lines.extend(self.vantage_lines(v));
        }
        self.write_lines(&lines)?;
        self.out.flush()
    }
}

/// One line with colours, laid out as it is: headings bold, the verdict of a
/// story red (yellow for half-closed), the ladder's RSTs red, probes yellow,
/// retransmissions magenta.
fn paint(line: &str) -> String {
    use anstyle::{AnsiColor, Style};
    let bold = Style::new().bold();
    let headings = [
        "Keepalive probers",
        "Servers with the most",
        "Idle timeouts on",
        "Reconnect storms",
        "Vantage points",
        "Connections seen at one",
        "Abnormal connections",
        "Connections:",
    ];
    if headings.iter().any(|h| line.starts_with(h)) {
        return format!("{bold}{line}{bold:#}");
    }
    if let Some(rest) = line.strip_prefix('[')
        && let Some((number, rest)) = rest.split_once("] ")
        && let Some((verdict, rest)) = rest.split_once(": ")
        && verdict.split(':').next().is_some_and(|v| v.parse::<EndReason>().is_ok())
    {
        let colour = if verdict.starts_with("half-closed") { AnsiColor::Yellow } else { AnsiColor::Red };
        let verdict_style = bold.fg_color(Some(colour.into()));
        return format!("{bold}[{number}]{bold:#} {verdict_style}{verdict}{verdict_style:#}: {rest}");
    }
    let colour = if line.contains(" RST") {
        Some(AnsiColor::Red)
    } else if line.contains("keepalive probe ") {
        Some(AnsiColor::Yellow)
    } else if line.contains("retransmission ") || line.contains("never ACKed") {
        Some(AnsiColor::Magenta)
    } else {
        None
    };
    // Only the ladder's packet rows: a frame number, then a rail.
    let ladder_row =
        line.trim_start().starts_with(|c: char| c.is_ascii_digit()) && (line.contains('│') || line.contains('|'));
    match colour {
        Some(c) if ladder_row => {
            let style = Style::new().fg_color(Some(c.into()));
            format!("{style}{line}{style:#}")
        }
        _ => line.to_string(),
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

fn opt_secs(setting: Option<u32>) -> String {
    setting.map_or("?".to_string(), |s| format!("{s} s"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_line_overflows_the_width_only_for_a_word_longer_than_it() {
        // icsnpp-s7comm/s7comm_plus.pcap from the shared corpus: the optimal
        // fit put "as told (path):" on an 81-column line.
        let head = "[1] open: 2 connections to 192.168.0.1:102, same story; the first, from 192.168.0.3:49154, as told (../shared/corpus/icsnpp-s7comm/s7comm_plus.pcap):";
        let text = wrap_hanging("", "    ", head, 80);
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        assert!(text.ends_with("    (../shared/corpus/icsnpp-s7comm/s7comm_plus.pcap):"), "{text}");
        // A path longer than the width stays whole, on a line of its own.
        let long = format!("as told ({}):", "d/".repeat(45));
        let text = wrap_hanging("", "    ", &long, 80);
        assert_eq!(text.lines().nth(1).map(str::trim), Some(format!("({}):", "d/".repeat(45)).as_str()), "{text}");
    }

    #[test]
    fn a_text_that_fits_is_laid_out_as_the_optimal_fit_lays_it_out() {
        // Around the edge of the width (60 columns less a 6-column indent),
        // with spaces where textwrap keeps or drops them, characters two
        // columns wide, an indent as wide as the width, escape sequences.
        let texts = [
            "1-109  10.103.35.103:47797  109–10948".to_string(),
            format!("{} {}", "a".repeat(40), "b".repeat(13)),
            format!("{} {}", "a".repeat(40), "b".repeat(14)),
            format!("{} {}", "a".repeat(40), "b".repeat(15)),
            format!("{}   ", "a".repeat(54)),
            format!("  {}", "a".repeat(52)),
            format!("  {}", "a".repeat(53)),
            "a  b   c".to_string(),
            "   ".to_string(),
            " ".to_string(),
            String::new(),
            "two\nlines".to_string(),
            "连接 ".repeat(10),
            "连接 ".repeat(11),
            "a \x1b[ b c".to_string(),
            "\x1b[1mbold\x1b[0m text".to_string(),
            "→ – … ≥".to_string(),
            format!("a\tb\r c\u{7f} {}", "d".repeat(47)),
            format!("a\tb\r c\u{7f} {}", "d".repeat(48)),
            format!("a\u{200b}b {}", "d".repeat(51)),
        ];
        let indents = ["", "      ", &" ".repeat(60), &" ".repeat(70)];
        let mut fitted = 0;
        for text in &texts {
            for first in indents {
                for width in [60, 80] {
                    let wrapped = optimal_fit(first, "        ", text, width);
                    assert_eq!(wrap_hanging(first, "        ", text, width), wrapped, "{first:?} {text:?} {width}");
                    if let Some(line) = one_line(first, text, width) {
                        assert_eq!([first, line].concat(), wrapped, "{first:?} {text:?} {width}");
                        fitted += 1;
                    }
                }
            }
        }
        // The fast path is taken: on both sides of the width.
        assert!(fitted > 20 && fitted < texts.len() * indents.len() * 2, "{fitted}");
        assert_eq!(one_line("      ", &format!("{} {}", "a".repeat(40), "b".repeat(13)), 60).map(str::len), Some(54));
        assert_eq!(one_line("      ", &format!("{} {}", "a".repeat(40), "b".repeat(14)), 60), None);
        // Counted as textwrap counts: control characters, zero-width and
        // double-width ones, dashes and arrows, ASCII.
        for text in &texts {
            if !text.contains('\x1b') {
                assert_eq!(columns(text), textwrap::core::display_width(text), "{text:?}");
            }
        }
    }
}
