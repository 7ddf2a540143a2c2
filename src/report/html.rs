//! `--format html`: one self-contained page to attach to a ticket. No
//! script, no font, image or style sheet fetched: the style is inline and
//! the ladders are inline SVG, so it works offline and prints (each story
//! on its own, never split across pages). Everything is real text.
//!
//! It tells what the table tells: the counts by verdict and cause, the
//! keepalive probers with their settings, the servers with the most
//! abnormal endings, the idle timeouts on their paths, then each story
//! (identical endings grouped) with its ladder, diagnosis, evidence, the
//! Wireshark filter and the frames of its connections; with two vantage
//! points, what each saw.

use crate::flow::Side;
use crate::report::ladder::{Arrow, Ladder, Row};
use crate::report::stories::{
    Story, StoryBook, capture_counts_words, capture_name, duplicates_words, evidence_file_frame, merge_probers,
    verdict_counts,
};
use crate::report::vantage::VantageReport;
use crate::report::{ConnectionReport, Judged, ReportSink, RunReport};
use crate::verdict::{Bound, EndReason};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::io::{self, Write};

/// Without --all, at most this many stories are told in detail.
const DETAIL_LIMIT: usize = 50;
/// Rows of the servers table.
const TOP_SERVERS: usize = 10;

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 15px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1b1b1b; margin: 2em auto; max-width: 60em; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .2em .6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
td.mono, .nowrap { white-space: nowrap; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: .92em; }
.meta { color: #555; }
.verdict { font-weight: bold; }
article { border: 1px solid #ddd; border-radius: 6px; padding: .2em 1em 1em; margin: 1em 0; }
svg.ladder { max-width: 100%; height: auto; }
svg.ladder text { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12px; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  article { break-inside: avoid; }
  .scroll { overflow: visible; }
  table { font-size: 9.5pt; }
  h2 { break-after: avoid; }
}
"#;

pub struct HtmlSink<W: Write> {
    out: W,
    all: bool,
    book: StoryBook,
}

impl<W: Write> HtmlSink<W> {
    pub fn new(out: W, all: bool) -> HtmlSink<W> {
        HtmlSink { out, all, book: StoryBook::default() }
    }
}

impl<W: Write> ReportSink for HtmlSink<W> {
    fn wants(&mut self, end_reason: EndReason) -> bool {
        self.all || end_reason.is_abnormal()
    }

    // As the table: the book builds the report of a story's first connection only.
    fn judged(&mut self, judged: &Judged<'_>) -> io::Result<()> {
        self.book.judged(judged, self.all);
        Ok(())
    }

    fn connection(&mut self, report: &ConnectionReport) -> io::Result<()> {
        self.book.add(report, self.all);
        Ok(())
    }

    fn finish(&mut self, run: &RunReport<'_>) -> io::Result<()> {
        let page = page(run, &self.book, self.all);
        self.out.write_all(page.into_string().as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

fn page(run: &RunReport<'_>, book: &StoryBook, all: bool) -> Markup {
    let summary = run.summary;
    let hosts = run.host_reports();
    let probers = merge_probers(&hosts);
    let servers = book.servers();
    let paths = run.path_reports();
    let storms = run.storm_reports();
    let stories = book.by_size();
    let told = if all { stories.len() } else { stories.len().min(DETAIL_LIMIT) };
    let title = format!(
        "tcpka: why {} connection{} ended",
        summary.connections,
        if summary.connections == 1 { "" } else { "s" }
    );
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(format!("tcpka {}", env!("CARGO_PKG_VERSION")));
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (title) }
                    p.meta {
                        "tcpka " (env!("CARGO_PKG_VERSION")) ". "
                        @for c in run.captures {
                            span.mono { (capture_name(c)) } ": " (c.format.as_deref().unwrap_or("unreadable")) ", "
                            (c.packets) " packets, " (c.connections) " connections"
                            @if let (Some(first), Some(last)) = (&c.first_packet, &c.last_packet) {
                                ", " (first) " to " (last)
                            }
                            ". "
                            @if let Some(n) = &c.capture_counts { br; "Capture: " (capture_counts_words(n)) "." }
                            @if let Some(d) = &c.duplicates { br; "Duplicates: " (duplicates_words(d)) "." }
                            @for w in &c.warnings { br; "Warning: " (w) }
                            @if let Some(e) = &c.error { br; "Error: " (e) }
                            br;
                        }
                    }
                }
                section #summary {
                    h2 { "Summary" }
                    p {
                        strong { (summary.connections) " connections: " }
                        (verdict_counts(summary).join(", "))
                    }
                    p { "Keepalive probes: " (summary.keepalive_probes) " sent, " (summary.keepalive_probes_answered) " answered." }
                }
                @if !probers.is_empty() {
                    section #probers {
                        h2 { "Keepalive probers and their settings" }
                        div.scroll { table {
                            thead { tr { th { "prober" } th { "role" } th { "ended / probed" } th { "idle" }
                                th { "interval" } th { "probes" } th { "answered / sent" } th { "settings" } } }
                            tbody {
                                @for m in &probers {
                                    @let f = &m.main.facts;
                                    @let mark = if m.groups > 1 { "~" } else { "" };
                                    tr {
                                        td.mono { (m.main.prober) }
                                        td { (f.role.to_string()) }
                                        td.n { (m.ended) " / " (m.probed) }
                                        td.n { (mark) (opt_secs(f.idle_s)) }
                                        td.n { (mark) (opt_secs(f.interval_s)) }
                                        td.n { (probes(f.probes, f.probes_bound)) }
                                        td.n { (m.answered) " / " (m.sent) }
                                        td { (f.settings_origin.to_string()) }
                                    }
                                }
                            }
                        } }
                        p.meta { "idle: tcp_keepalive_time (TCP_KEEPIDLE); interval: tcp_keepalive_intvl (TCP_KEEPINTVL); probes: tcp_keepalive_probes (TCP_KEEPCNT)." }
                        @if probers.iter().any(|m| m.groups > 1) {
                            p.meta { "~: the prober's connections imply neighbouring settings (timers fire late); its largest group's are shown." }
                        }
                    }
                }
                @if !servers.is_empty() {
                    section #servers {
                        h2 { "Servers with the most abnormal endings" }
                        table {
                            thead { tr { th { "server" } th { "abnormal endings" } th { "by verdict" } } }
                            tbody {
                                @for (server, total, endings) in servers.iter().take(TOP_SERVERS) {
                                    tr {
                                        td.mono { (server) }
                                        td.n { (total) }
                                        td { (endings.iter().map(|(e, n)| format!("{e} {n}")).collect::<Vec<_>>().join(", ")) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !paths.is_empty() || !storms.is_empty() {
                    section #paths {
                        h2 { "Findings on the path" }
                        @for p in &paths { p { (p.facts.summary) } }
                        @for s in &storms { p { (s.facts.summary) } }
                    }
                }
                @if let Some(v) = run.vantage { (vantage_markup(v)) }
                section #connections {
                    h2 { (if all { "Connections" } else { "Abnormal connections" }) }
                    @if stories.is_empty() {
                        p { "No abnormal connections." }
                    } @else {
                        p {
                            (book.connections()) " connections in " (stories.len()) " stories: connections that ended the same way on the same server are told once."
                            @if told < stories.len() { " The " (told) " largest stories are below; tcpka --format ndjson lists every connection." }
                        }
                        @for (n, story) in stories.iter().take(told).enumerate() {
                            (story_markup(n + 1, story, book))
                        }
                    }
                }
            }
        }
    }
}

fn story_markup(n: usize, story: &Story, book: &StoryBook) -> Markup {
    let several_captures = book.several_captures();
    let c = &story.first;
    let id = format!("story-{n}");
    html! {
        article id=(id) {
            h3 {
                "[" (n) "] " span.verdict { (c.ending().to_string()) } ": "
                @if story.several_servers() {
                    (story.count) " connections to " span.mono { (story.host.as_deref().unwrap_or(&c.server)) } " ("
                    (story.servers.len()) " ports), the same story; the first, from " span.mono { (c.client) }
                    " to " span.mono { (c.server) } ":"
                } @else if story.count > 1 {
                    (story.count) " connections to " span.mono { (c.server) } ", the same story; the first, from " span.mono { (c.client) } ":"
                } @else {
                    span.mono { (c.client) } " → " span.mono { (c.server) }
                }
            }
            p.meta { "Capture " span.mono { (c.capture) } ", connection " (c.id) ", Community ID " span.mono { (c.community_id) } "." }
            @if c.end_reason.is_abnormal() { (svg_ladder(&c.ladder, &c.client, &c.server, &format!("{id}-title"))) }
            p { (c.diagnosis) }
            table {
                thead { tr { th { "frame" } th { "time (UTC)" } th { "evidence" } } }
                tbody {
                    @for e in &c.evidence {
                        tr {
                            td.n { (e.frame) }
                            td.mono { (e.time) }
                            td { (e.what) @if let Some(place) = evidence_file_frame(e) { " " span.mono { (place) } } }
                        }
                    }
                }
            }
            p { "Wireshark filter: " code { (c.wireshark_filter) } }
            @if story.count > 1 {
                details open[story.count <= 10] {
                    summary { "The " (story.count) " connections of this story" }
                    table {
                        thead { tr { th { "id" } th { "client" } @if story.several_servers() { th { "server" } } th { "frames" } @if several_captures { th { "capture" } } } }
                        tbody {
                            @for m in &story.members {
                                tr {
                                    td.mono { (m.id) } td.mono { (m.client()) }
                                    @if story.several_servers() { td.mono { (m.server()) } }
                                    td.n { (m.first_frame) "–" (m.last_frame) }
                                    @if several_captures { td.mono { (book.capture_of(m)) } }
                                }
                            }
                        }
                    }
                    @if (story.members.len() as u64) < story.count {
                        p.meta { "… and " (story.count - story.members.len() as u64) " more: tcpka --format ndjson lists them." }
                    }
                }
            }
        }
    }
}

/// Two vantage points (`--vantage`): which connection is which, the clocks'
/// offset, and what only one point saw.
fn vantage_markup(v: &VantageReport) -> Markup {
    html! {
        section #vantage {
            h2 { "Vantage points" }
            p {
                @for (i, p) in v.points.iter().enumerate() {
                    @if i > 0 { ", " }
                    strong { (p.name) } " (" span.mono { (p.capture) } ")"
                }
                "."
                @if let Some(offset) = v.clock_offset_s {
                    " " (v.points[1].name) "'s clock minus " (v.points[0].name) "'s, with the path between: "
                    (format!("{offset:+.6}")) " s."
                }
            }
            @for c in &v.connections { p { (c.summary) } }
            p.meta {
                "Connections seen at one point only: "
                (v.points.iter().zip(&v.unmatched).map(|(p, n)| format!("{n} only at {}", p.name)).collect::<Vec<_>>().join(", "))
                "."
            }
        }
    }
}

fn opt_secs(v: Option<u32>) -> String {
    v.map_or("?".to_string(), |s| format!("{s} s"))
}

fn probes(n: Option<u32>, bound: Option<Bound>) -> String {
    match (n, bound) {
        (Some(n), Some(Bound::AtLeast)) => format!("≥ {n}"),
        (Some(n), _) => n.to_string(),
        _ => "?".to_string(),
    }
}

/// Geometry of the SVG ladder (px).
const WIDTH: u32 = 720;
const LEFT: u32 = 200;
const RIGHT: u32 = 600;
const ROW: u32 = 26;
const TOP: u32 = 44;

/// The ladder as an SVG picture: the same rows as the terminal's, with the
/// frame numbers on the left and the times on the right, as text.
fn svg_ladder(ladder: &Ladder, client: &str, server: &str, title_id: &str) -> Markup {
    let height = TOP + ROW * ladder.rows.len() as u32 + 12;
    let y_of = |i: usize| TOP + ROW * i as u32 + ROW / 2;
    html! {
        svg.ladder xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby=(title_id)
            width=(WIDTH) height=(height) viewBox=(format!("0 0 {WIDTH} {height}")) {
            title id=(title_id) { "Ladder diagram: " (client) " (client) and " (server) " (server)" }
            text x=(LEFT) y="16" text-anchor="middle" font-weight="bold" { "client" }
            text x=(LEFT) y="32" text-anchor="middle" { (client) }
            text x=(RIGHT) y="16" text-anchor="middle" font-weight="bold" { "server" }
            text x=(RIGHT) y="32" text-anchor="middle" { (server) }
            text x="70" y="32" text-anchor="end" fill="#555" { "frame" }
            @for (i, row) in ladder.rows.iter().enumerate() {
                @let (top, bottom) = (TOP + ROW * i as u32, TOP + ROW * (i as u32 + 1));
                @let dash = if matches!(row, Row::Gap { .. } | Row::Elided { .. }) { "4 4" } else { "none" };
                line x1=(LEFT) y1=(top) x2=(LEFT) y2=(bottom) stroke="#333" stroke-dasharray=(dash) {}
                line x1=(RIGHT) y1=(top) x2=(RIGHT) y2=(bottom) stroke="#333" stroke-dasharray=(dash) {}
                @let y = y_of(i);
                @match row {
                    Row::Packet { frame, t_s, from, arrow } => {
                        @let (x1, x2) = if *from == Side::Client { (LEFT, RIGHT) } else { (RIGHT, LEFT) };
                        @let colour = colour(*arrow);
                        @let head = if *from == Side::Client { format!("{},{} {},{} {},{}", x2, y + 4, x2 - 10, y, x2 - 10, y + 8) } else { format!("{},{} {},{} {},{}", x2, y + 4, x2 + 10, y, x2 + 10, y + 8) };
                        text x="70" y=(y + 8) text-anchor="end" { (frame) }
                        line x1=(x1) y1=(y + 4) x2=(x2) y2=(y + 4) stroke=(colour) stroke-width="2" {}
                        polygon points=(head) fill=(colour) {}
                        text x=((LEFT + RIGHT) / 2) y=(y - 1) text-anchor="middle" fill=(colour) { (arrow.label()) }
                        text x=(RIGHT + 14) y=(y + 8) { "t+" (format!("{t_s:.3}")) }
                    }
                    Row::End { .. } => {
                        text x=((LEFT + RIGHT) / 2) y=(y + 8) text-anchor="middle" font-weight="bold" { (row.words()) }
                    }
                    _ => {
                        text x=((LEFT + RIGHT) / 2) y=(y + 8) text-anchor="middle" font-style="italic" fill="#555" { (row.words()) }
                    }
                }
            }
        }
    }
}

/// RSTs red, probes (keepalive, zero-window) amber, retransmissions purple,
/// handshakes and FINs blue.
fn colour(arrow: Arrow) -> &'static str {
    match arrow {
        Arrow::Rst | Arrow::ForgedRst | Arrow::InjectedRst => "#c62828",
        Arrow::Probe { .. } | Arrow::ZeroWindowProbe { .. } => "#b26a00",
        Arrow::ProbeAnswer => "#2e7d32",
        Arrow::Unacked | Arrow::Retransmission { .. } => "#6a1b9a",
        Arrow::Syn | Arrow::SynAck | Arrow::SynAgain { .. } | Arrow::SynAckAgain { .. } | Arrow::Fin => "#1565c0",
        Arrow::Data | Arrow::LastBeforeIdle | Arrow::Last | Arrow::ZeroWindow => "#333333",
    }
}
