//! The ladder (time-sequence) diagram of a connection's end: the two
//! endpoints as rails, the packets that tell the story as arrows between
//! them (the handshake, the last data each way, the last packet before an
//! idle period, each keepalive probe with its interval and its answer, the
//! retransmissions, a handshake's repeated SYNs, a zero window and the
//! probes of it, the FINs and RSTs), each with its frame number and time,
//! the silences between them with their length, and how it ended: a RST,
//! silence, or stuck when the capture ended. Built once from the connection's marks and verdict, drawn in
//! the terminal here ([`render_text`]) and as SVG in the HTML report.

use crate::flow::{Connection, PacketRef, Side};
use crate::verdict::{Judgement, ResetCause, Stall, Verdict};
use std::collections::BTreeMap;

/// At most this many probes (or retransmissions) of a run are drawn: the
/// first ones and the last, with the number left out in between.
const MAX_RUN_SHOWN: usize = 6;
/// A silence at least this long between two drawn packets gets its own row.
const GAP_ROW_S: f64 = 1.0;

/// What an arrow is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arrow {
    Syn,
    SynAck,
    /// The client's SYN `n` (from 2: a retransmission); `after_s` since the SYN before it.
    SynAgain {
        n: u32,
        after_s: Option<f64>,
    },
    /// The server's SYN-ACK `n` (from 2), likewise.
    SynAckAgain {
        n: u32,
        after_s: Option<f64>,
    },
    /// The last segment with payload this side sent.
    Data,
    /// The last packet the prober received before its idle period.
    LastBeforeIdle,
    /// Keepalive probe `n` of the last train; `after_s` since the probe before it.
    Probe {
        n: u32,
        after_s: Option<f64>,
    },
    ProbeAnswer,
    /// The first transmission of the data that was never acknowledged.
    Unacked,
    /// Retransmission `n` of it; `after_s` since the transmission before it.
    Retransmission {
        n: u32,
        after_s: Option<f64>,
    },
    /// The first packet advertising the zero window its sender then kept closed.
    ZeroWindow,
    /// Zero-window probe `n` of the peer; `after_s` since the probe before it.
    ZeroWindowProbe {
        n: u32,
        after_s: Option<f64>,
    },
    Fin,
    Rst,
    /// A RST in this side's name that a middlebox sent (its TTL differs from the side's packets).
    ForgedRst,
    /// A RST in this side's name after which the side went on: injected, ignored.
    InjectedRst,
    /// The last packet of a side, when nothing above names it.
    Last,
}

impl Arrow {
    /// The arrow's words; short, to fit between the rails.
    pub fn label(self) -> String {
        match self {
            Arrow::Syn => "SYN".into(),
            Arrow::SynAck => "SYN-ACK".into(),
            Arrow::SynAgain { n, after_s: None } => format!("SYN {n}"),
            Arrow::SynAgain { n, after_s: Some(s) } => format!("SYN {n} (+{})", secs(s)),
            Arrow::SynAckAgain { n, after_s: None } => format!("SYN-ACK {n}"),
            Arrow::SynAckAgain { n, after_s: Some(s) } => format!("SYN-ACK {n} (+{})", secs(s)),
            Arrow::Data => "data".into(),
            Arrow::LastBeforeIdle => "last packet before idle".into(),
            Arrow::Probe { n, after_s: None } => format!("keepalive probe {n}"),
            Arrow::Probe { n, after_s: Some(s) } => format!("keepalive probe {n} (+{})", secs(s)),
            Arrow::ProbeAnswer => "ACK: probe answered".into(),
            Arrow::Unacked => "data, never ACKed".into(),
            Arrow::Retransmission { n, after_s: None } => format!("retransmission {n}"),
            Arrow::Retransmission { n, after_s: Some(s) } => format!("retransmission {n} (+{})", secs(s)),
            Arrow::ZeroWindow => "window 0".into(),
            Arrow::ZeroWindowProbe { n, after_s: None } => format!("zero-window probe {n}"),
            Arrow::ZeroWindowProbe { n, after_s: Some(s) } => format!("zero-window probe {n} (+{})", secs(s)),
            Arrow::Fin => "FIN".into(),
            Arrow::Rst => "RST".into(),
            Arrow::ForgedRst => "RST, forged (TTL)".into(),
            Arrow::InjectedRst => "RST, injected (ignored)".into(),
            Arrow::Last => "last packet".into(),
        }
    }

    /// Which label wins when one packet is named twice (a probe's RST is a RST).
    fn rank(self) -> u8 {
        match self {
            Arrow::Last => 0,
            Arrow::Data => 1,
            Arrow::LastBeforeIdle => 2,
            Arrow::ProbeAnswer | Arrow::Unacked | Arrow::ZeroWindow => 3,
            Arrow::Probe { .. } | Arrow::Retransmission { .. } | Arrow::ZeroWindowProbe { .. } => 4,
            Arrow::Syn | Arrow::SynAck | Arrow::SynAgain { .. } | Arrow::SynAckAgain { .. } | Arrow::Fin => 5,
            Arrow::Rst => 6,
            Arrow::ForgedRst | Arrow::InjectedRst => 7,
        }
    }
}

/// One row of the diagram.
#[derive(Clone, Debug, PartialEq)]
pub enum Row {
    /// A packet from `from` to its peer.
    Packet { frame: u64, t_s: f64, from: Side, arrow: Arrow },
    /// Time passing between two drawn packets; `idle` when the capture shows
    /// the connection silent all that time (not just packets left out).
    Gap { secs: f64, idle: bool },
    /// Packets of a run left out.
    Elided { what: &'static str, count: u32 },
    /// How it ended without a last packet: silence, or still open.
    End { words: String },
}

/// A connection's ladder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ladder {
    pub rows: Vec<Row>,
}

fn secs(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} s")
    } else if v >= 10.0 {
        format!("{v:.1} s")
    } else {
        format!("{v:.3} s")
    }
}

impl Row {
    /// The words of a gap, elision or end row.
    pub fn words(&self) -> String {
        match self {
            Row::Packet { arrow, .. } => arrow.label(),
            Row::Gap { secs: s, idle: true } => format!("{} idle", secs(*s)),
            Row::Gap { secs: s, idle: false } => format!("{} later", secs(*s)),
            Row::Elided { what, count: 1 } => format!("1 more {}", what.trim_end_matches('s')),
            Row::Elided { what, count } => format!("{count} more {what}"),
            Row::End { words } => words.clone(),
        }
    }
}

/// The packets to draw, by frame; a packet named twice keeps its stronger name.
struct Picks {
    by_frame: BTreeMap<u64, (Side, Arrow, PacketRef)>,
    elided: Vec<(u64, &'static str, u32)>,
}

impl Picks {
    fn add(&mut self, from: Side, p: PacketRef, arrow: Arrow) {
        let entry = self.by_frame.entry(p.frame).or_insert((from, arrow, p));
        if arrow.rank() > entry.1.rank() {
            *entry = (from, arrow, p);
        }
    }

    /// A run of probes or retransmissions: `kept` (numbered `number(i)`),
    /// the first and last few of them.
    fn add_run(
        &mut self,
        from: Side,
        kept: &[PacketRef],
        number: impl Fn(usize) -> u32,
        arrow: impl Fn(u32, Option<f64>) -> Arrow,
        what: &'static str,
    ) {
        let head = MAX_RUN_SHOWN / 2;
        // Leaving out a single one would save no row.
        let shown = |i: usize| kept.len() <= MAX_RUN_SHOWN + 1 || i < head || i >= kept.len() - (MAX_RUN_SHOWN - head);
        for (i, p) in kept.iter().enumerate() {
            if !shown(i) {
                continue;
            }
            let after = (i > 0 && number(i) == number(i - 1) + 1).then(|| p.ts.secs_since(kept[i - 1].ts));
            self.add(from, *p, arrow(number(i), after));
        }
        // Left out: the kept ones not drawn, and those the flow table did not keep.
        let Some(last) = kept.len().checked_sub(1) else { return };
        let total = number(last) + 1 - number(0);
        let drawn = (0..kept.len()).filter(|&i| shown(i)).count() as u32;
        let missing = total.saturating_sub(drawn);
        // Told where the first are missing: before the first kept one not
        // drawn, or after the kept one the numbers jump from.
        let first_missing = (1..kept.len()).find(|&i| !shown(i) || number(i) > number(i - 1) + 1);
        if let Some(i) = first_missing.filter(|_| missing > 0) {
            let at = if shown(i) { kept[i - 1].frame } else { kept[i].frame };
            self.elided.push((at, what, missing));
        }
    }
}

/// The ladder of `conn`, judged `verdict`.
pub fn ladder(conn: &Connection, verdict: &Judgement) -> Ladder {
    let mut picks = Picks { by_frame: BTreeMap::new(), elided: Vec::new() };
    for side in [Side::Client, Side::Server] {
        let marks = &conn.side(side).marks;
        if let Some(syn) = marks.syn.get() {
            picks.add(side, syn, if side == Side::Client { Arrow::Syn } else { Arrow::SynAck });
        }
        if let Some(p) = marks.last_payload.get() {
            picks.add(side, p, Arrow::Data);
        }
        if let Some(p) = marks.fin.get() {
            picks.add(side, p, Arrow::Fin);
        }
        if let Some(p) = marks.rst_at() {
            picks.add(side, p, Arrow::Rst);
        }
        if let Some(p) = marks.last_sent.get() {
            picks.add(side, p, Arrow::Last);
        }
    }
    if let Some(r) = verdict.reset().filter(|r| r.cause == ResetCause::Middlebox) {
        picks.add(r.sender, r.rst, Arrow::ForgedRst);
    }
    for i in &verdict.injected {
        picks.add(i.sender, i.rst, Arrow::InjectedRst);
    }
    for k in verdict.keepalive() {
        let peer = k.prober.peer();
        if let Some(from) = k.idle_from {
            picks.add(peer, from, Arrow::LastBeforeIdle);
        }
        // The flow table keeps the first probes and the latest, which is
        // probe `last_train_count` (as the evidence numbers them).
        let shown = k.last_train.len();
        let number = |i: usize| if i + 1 == shown { k.last_train_count } else { i as u32 + 1 };
        picks.add_run(k.prober, &k.last_train, number, |n, after_s| Arrow::Probe { n, after_s }, "probes");
        if let Some(a) = k.last_answer {
            picks.add(peer, a, Arrow::ProbeAnswer);
        }
        if let Some(r) = k.reset_by_peer {
            picks.add(peer, r, Arrow::Rst);
        }
    }
    if let Some(r) = verdict.retransmission() {
        picks.add(r.sender, r.first_unacked, Arrow::Unacked);
        if let Some(run) = conn.side(r.sender).unacked.as_deref().filter(|run| run.first_sent == r.first_unacked) {
            // Numbered as the finding counts them: into the silence only.
            let skip = r.before_silence as usize;
            let into_silence = &run.retransmissions[skip.min(run.retransmissions.len())..];
            let kept = into_silence.len();
            let number = |i: usize| if i + 1 == kept { run.count - skip as u32 } else { i as u32 + 1 };
            let mut all = vec![run.first_sent];
            all.extend(into_silence);
            // Numbered from the first transmission: retransmission n is all[n].
            let numbered = |i: usize| if i == 0 { 0 } else { number(i - 1) };
            picks.add_run(
                r.sender,
                &all,
                numbered,
                |n, after_s| if n == 0 { Arrow::Unacked } else { Arrow::Retransmission { n, after_s } },
                "retransmissions",
            );
        }
    }
    if let Some(h) = verdict.handshake() {
        // The repeated SYNs (and SYN-ACKs) are the handshake's story: the
        // backoff, then silence or a give-up. The flow table keeps the first
        // ones, numbered in order; those beyond are counted.
        for (side, kept, count, what) in
            [(Side::Client, &h.syns, h.syn_count, "SYNs"), (Side::Server, &h.syn_acks, h.syn_ack_count, "SYN-ACKs")]
        {
            let arrow = |n: u32, after_s| match (side, n) {
                (Side::Client, 1) => Arrow::Syn,
                (Side::Server, 1) => Arrow::SynAck,
                (Side::Client, _) => Arrow::SynAgain { n, after_s },
                (Side::Server, _) => Arrow::SynAckAgain { n, after_s },
            };
            picks.add_run(side, kept, |i| i as u32 + 1, arrow, what);
            let beyond = count.saturating_sub(kept.len() as u32);
            if let Some(last) = kept.last().filter(|_| beyond > 0) {
                picks.elided.push((last.frame + 1, what, beyond));
            }
        }
        if let Some(r) = h.client_reset {
            picks.add(Side::Client, r, Arrow::Rst);
        }
    }
    if let Some(z) = verdict.zero_window() {
        // The receiver's window closing, then its peer's probes (the flow
        // table keeps the first and the last; the others are counted).
        picks.add(z.receiver, z.since, Arrow::ZeroWindow);
        let kept: Vec<PacketRef> = if z.probes > 1 { vec![z.first_probe, z.last_probe] } else { vec![z.first_probe] };
        let number = |i: usize| if i == 0 { 1 } else { z.probes };
        picks.add_run(
            z.receiver.peer(),
            &kept,
            number,
            |n, after_s| Arrow::ZeroWindowProbe { n, after_s },
            "zero-window probes",
        );
    }
    let mut rows = Vec::new();
    let mut previous: Option<PacketRef> = None;
    let silences: Vec<(f64, u64)> =
        [conn.longest_gap(), conn.second_longest_gap()].into_iter().flatten().map(|(g, p)| (g, p.frame)).collect();
    let mut elided = picks.elided.clone();
    elided.sort_by_key(|e| e.0);
    let mut elided = elided.into_iter().peekable();
    for (&frame, &(from, arrow, p)) in &picks.by_frame {
        // Packets left out before this one, then the time that passed.
        while let Some(&(_, what, count)) = elided.peek().filter(|e| e.0 < frame) {
            rows.push(Row::Elided { what, count });
            elided.next();
        }
        if let Some(prev) = previous {
            let gap = p.ts.secs_since(prev.ts);
            // A probe's or retransmission's own label says its interval.
            let labelled = matches!(
                arrow,
                Arrow::Probe { after_s: Some(_), .. }
                    | Arrow::Retransmission { after_s: Some(_), .. }
                    | Arrow::SynAgain { after_s: Some(_), .. }
                    | Arrow::SynAckAgain { after_s: Some(_), .. }
                    | Arrow::ZeroWindowProbe { after_s: Some(_), .. }
            );
            // A silence the capture shows ending at this packet is told as
            // idle, with its own length (from the connection's packet before,
            // which may not be drawn); otherwise only the time between the drawn packets.
            let silence = silences.iter().find(|&&(g, f)| f == frame && g >= GAP_ROW_S);
            match silence {
                Some(&(g, _)) if !labelled => rows.push(Row::Gap { secs: g, idle: true }),
                None if gap >= GAP_ROW_S && !labelled => rows.push(Row::Gap { secs: gap, idle: false }),
                _ => {}
            }
        }
        rows.push(Row::Packet { frame, t_s: p.ts.secs_since(conn.first.ts), from, arrow });
        previous = Some(p);
    }
    // Packets left out after the last one drawn (SYNs beyond those kept).
    rows.extend(elided.map(|(_, what, count)| Row::Elided { what, count }));
    if let Some(words) = ending_words(conn, verdict) {
        rows.push(Row::End { words });
    }
    Ladder { rows }
}

/// How a connection ended when no packet ended it.
fn ending_words(conn: &Connection, verdict: &Judgement) -> Option<String> {
    let name = |s: Side| s.name();
    match &verdict.verdict {
        Verdict::KeepaliveTimeout(k) if k.gave_up_with.is_none() => {
            Some(format!("silence: the {} gave up without a RST", name(k.prober)))
        }
        Verdict::RetransmissionTimeout(r) if r.reset_by_sender.is_none() => {
            Some(format!("silence: the {} gave up without a RST", name(r.sender)))
        }
        Verdict::HalfClosed { fin_by, open_for_s, .. } => {
            Some(format!("no FIN from the {} for {}", name(fin_by.peer()), secs(*open_for_s)))
        }
        Verdict::WentSilent(s) => Some(format!("prober stopped: nothing for {}", secs(s.silent_for_s))),
        Verdict::Open { idle_at_end_s } if conn.dropped.is_none() => {
            Some(format!("still open, {} idle at the capture's end", secs(*idle_at_end_s)))
        }
        Verdict::Open { idle_at_end_s } => Some(format!("nothing more for {}", secs(*idle_at_end_s))),
        Verdict::NeverEstablished(h) if h.client_reset.is_some() => {
            Some("the client had no socket for the SYN-ACK".into())
        }
        Verdict::NeverEstablished(h) if h.syn_ack_count > 0 => Some("the client never ACKed the SYN-ACK".into()),
        Verdict::NeverEstablished(h) if h.client_stopped => Some("no answer; the client stopped trying".into()),
        Verdict::NeverEstablished(_) if conn.dropped.is_none() => Some("no answer by the capture's end".into()),
        Verdict::NeverEstablished(h) => Some(format!("no answer for {}", secs(h.quiet_after_s))),
        Verdict::Stalled(stall) => Some(match &**stall {
            // The next retransmissions died before the capture point.
            Stall::Retransmitting(r) if r.capture_blind.is_some() => {
                "peer's address unresolved: rest unseen".to_string()
            }
            Stall::Retransmitting(_) => "still retransmitting at the capture's end".to_string(),
            Stall::ZeroWindow(z) => format!("window still 0 after {}", secs(z.closed_for_s)),
        }),
        _ => None,
    }
}

/// The characters a diagram is drawn with.
struct Pen {
    rail: char,
    quiet_rail: char,
    line: char,
    right: char,
    left: char,
    dots: char,
}

const BOX: Pen = Pen { rail: '│', quiet_rail: '┆', line: '─', right: '▶', left: '◀', dots: '⋮' };
const ASCII: Pen = Pen { rail: '|', quiet_rail: ':', line: '-', right: '>', left: '<', dots: ':' };

/// Columns: frame number, the left rail, the arrows, the right rail, the time.
const FRAME_COLS: usize = 8;
const SPAN: usize = 46;
/// The time column: " t+" and up to 9 characters of seconds.
const TIME_COLS: usize = 12;

/// Draws the ladder in at most 72 columns (with the 4-column indent the
/// table uses: 76), box-drawing characters or, when `ascii`, plain ASCII.
pub fn render_text(ladder: &Ladder, client: &str, server: &str, ascii: bool) -> Vec<String> {
    let pen = if ascii { &ASCII } else { &BOX };
    let mut out = Vec::new();
    let pad = " ".repeat(FRAME_COLS + 1);
    // The endpoints over their rails: the client's name starts at the left
    // rail, the server's ends at the right one (or has its own line).
    // The server's name may reach into the time column.
    let (left, right) = (format!("client {client}"), format!("server {server}"));
    let (left_len, right_len) = (left.chars().count(), right.chars().count());
    let right_end = SPAN + 2;
    if left_len + 2 + right_len <= right_end + TIME_COLS {
        let fill = right_end.saturating_sub(left_len + right_len).max(2);
        out.push(format!("{pad}{left}{}{right}", " ".repeat(fill)));
    } else {
        out.push(format!("{pad}{left}"));
        out.push(format!("{pad}{:>right_end$}", right));
    }
    let rails = |c: char| format!("{pad}{c}{}{c}", " ".repeat(SPAN));
    out.push(rails(pen.rail));
    for row in &ladder.rows {
        match row {
            Row::Packet { frame, t_s, from, arrow } => {
                let label = fit(&arrow.label(), SPAN - 6);
                let len = label.chars().count() + 2;
                let before = (SPAN - len) / 2;
                let after = SPAN - len - before;
                let line = |n: usize| pen.line.to_string().repeat(n);
                let body = match from {
                    Side::Client => format!("{} {label} {}{}", line(before), line(after - 1), pen.right),
                    Side::Server => format!("{}{} {label} {}", pen.left, line(before - 1), line(after)),
                };
                out.push(format!("{frame:>FRAME_COLS$} {}{body}{} t+{}", pen.rail, pen.rail, plain_secs(*t_s)));
            }
            other => {
                let words = fit(&other.words(), SPAN - 4);
                // An end is a statement; a gap or a cut is time passing.
                let text = match other {
                    Row::End { .. } => words,
                    _ => format!("{} {words} {}", pen.dots, pen.dots),
                };
                let len = text.chars().count();
                let before = (SPAN - len) / 2;
                let rail = if matches!(other, Row::End { .. }) { pen.rail } else { pen.quiet_rail };
                out.push(format!("{pad}{rail}{}{text}{}{rail}", " ".repeat(before), " ".repeat(SPAN - len - before)));
            }
        }
    }
    out
}

/// Seconds with three decimals: the time column.
fn plain_secs(v: f64) -> String {
    format!("{v:.3}")
}

/// `s`, cut to `max` characters with an ellipsis.
fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::wire::*;
    use crate::neighbours::NeighbourLog;
    use crate::time::Timestamp;
    use crate::verdict::judge;

    fn ladder_of(w: Wire, end: f64) -> Ladder {
        let conns = w.finish();
        ladder(&conns[0], &judge(&conns[0], Timestamp::from_secs_f64(end), &NeighbourLog::default()))
    }

    /// The CTO's picture: 20 s after the last message, two probes 2 s
    /// apart, unanswered, then the prober's RST.
    fn keepalive_kill() -> Wire {
        let mut w = Wire::established(1000, 5000);
        w.send(20.005, seg(S, ACK, 5100, 1011, 0));
        w.send(22.005, seg(S, ACK, 5100, 1011, 0));
        w.send(24.005, seg(S, RST | ACK, 5101, 1011, 0));
        w
    }

    #[test]
    fn a_keepalive_kill_shows_the_idle_the_numbered_probes_and_the_rst() {
        let l = ladder_of(keepalive_kill(), 24.005);
        let packets: Vec<(u64, Side, String)> = l
            .rows
            .iter()
            .filter_map(|r| match r {
                Row::Packet { frame, from, arrow, .. } => Some((*frame, *from, arrow.label())),
                _ => None,
            })
            .collect();
        assert_eq!(
            packets,
            vec![
                (1, Side::Client, "SYN".to_string()),
                (2, Side::Server, "SYN-ACK".to_string()),
                (4, Side::Client, "data".to_string()),
                (5, Side::Server, "data".to_string()),
                (6, Side::Client, "last packet before idle".to_string()),
                (7, Side::Server, "keepalive probe 1".to_string()),
                (8, Side::Server, "keepalive probe 2 (+2.000 s)".to_string()),
                (9, Side::Server, "RST".to_string()),
            ]
        );
        // The silence before the first probe is a row of its own, and known idle.
        let gaps: Vec<&Row> = l.rows.iter().filter(|r| matches!(r, Row::Gap { .. })).collect();
        assert_eq!(gaps.len(), 2, "{:?}", l.rows);
        assert!(matches!(gaps[0], Row::Gap { secs, idle: true } if (secs - 20.0).abs() < 1e-9), "{gaps:?}");
        assert!(!l.rows.iter().any(|r| matches!(r, Row::End { .. })), "a RST ended it");
    }

    #[test]
    fn a_rst_its_sender_went_on_after_is_drawn_as_injected() {
        // An out-of-window RST in the server's name (TTL 50, the server's
        // own are 64), then the server's next data: the RST was not its own.
        let mut w = Wire::established(1000, 5000);
        w.send(1.0, seg(S, RST | ACK, 5101 + (1 << 20), 1011, 0).ttl(50));
        w.send(1.1, seg(S, ACK, 5101, 1011, 10));
        w.send(1.2, seg(C, RST, 1011, 0, 0));
        let l = ladder_of(w, 1.2);
        let arrows: Vec<(u64, Arrow)> = l
            .rows
            .iter()
            .filter_map(|r| match r {
                Row::Packet { frame, arrow, .. } => Some((*frame, *arrow)),
                _ => None,
            })
            .collect();
        assert!(arrows.contains(&(7, Arrow::InjectedRst)), "{arrows:?}");
        assert!(arrows.contains(&(9, Arrow::Rst)), "{arrows:?}");
        assert_eq!(Arrow::InjectedRst.label(), "RST, injected (ignored)");
    }

    #[test]
    fn the_text_fits_80_columns_with_its_indent_in_both_pens() {
        let l = ladder_of(keepalive_kill(), 24.005);
        for ascii in [false, true] {
            let lines = render_text(&l, "10.0.0.1:40000", "10.0.0.2:7777", ascii);
            let text = lines.join("\n");
            assert!(lines.iter().all(|l| l.chars().count() + 4 <= 80), "{text}");
            assert!(text.contains("⋮ 20.0 s idle ⋮") || text.contains(": 20.0 s idle :"), "{text}");
            assert!(text.contains("keepalive probe 2 (+2.000 s)"), "{text}");
            assert!(text.contains("client 10.0.0.1:40000") && text.contains("server 10.0.0.2:7777"), "{text}");
            if ascii {
                assert!(text.is_ascii(), "{text}");
                assert!(text.contains("       9 |<-"), "{text}");
            } else {
                assert!(text.contains("       9 │◀─"), "{text}");
                assert!(text.contains("       1 │─") && text.contains("─▶│ t+0.000"), "{text}");
            }
        }
        // IPv6 endpoints too long for one line get a line each.
        let lines = render_text(&l, "[fd00:1:2:3:4:5:6:7]:40000", "[fd00:1:2:3:4:5:6:8]:7777", false);
        assert!(lines.iter().all(|l| l.chars().count() + 4 <= 80));
        assert!(lines[0].trim_start().starts_with("client [fd00") && lines[1].trim_end().ends_with(":7777"));
    }

    #[test]
    fn a_silent_give_up_ends_in_silence_and_long_trains_are_cut() {
        // Nine probes 1 s apart after 10 s of idle, then nothing (the capture goes on).
        let mut w = Wire::established(1000, 5000);
        for i in 0..9 {
            w.send(10.005 + f64::from(i), seg(C, ACK, 1010, 5101, 0));
        }
        let l = ladder_of(w, 40.0);
        let probes: Vec<u32> = l
            .rows
            .iter()
            .filter_map(|r| match r {
                Row::Packet { arrow: Arrow::Probe { n, .. }, .. } => Some(*n),
                _ => None,
            })
            .collect();
        assert_eq!(probes, vec![1, 2, 3, 7, 8, 9]);
        assert!(l.rows.contains(&Row::Elided { what: "probes", count: 3 }), "{:?}", l.rows);
        assert_eq!(l.rows.last(), Some(&Row::End { words: "silence: the client gave up without a RST".into() }));
    }

    fn packet_labels(l: &Ladder) -> Vec<(u64, Side, String)> {
        l.rows
            .iter()
            .filter_map(|r| match r {
                Row::Packet { frame, from, arrow, .. } => Some((*frame, *from, arrow.label())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn unanswered_syns_are_numbered_with_their_backoff_and_end_in_no_answer() {
        // A Linux client with tcp_syn_retries=3: SYNs at 0, 1, 3, 7 s (RTO
        // 1 s doubled, RFC 6298 §5.5), then it gives up; the capture goes on.
        let mut w = Wire::new();
        for t in [0.0, 1.004, 3.012, 7.028] {
            w.send(t, seg(C, SYN, 1000, 0, 0));
        }
        let l = ladder_of(w, 30.0);
        assert_eq!(
            packet_labels(&l),
            vec![
                (1, Side::Client, "SYN".to_string()),
                (2, Side::Client, "SYN 2 (+1.004 s)".to_string()),
                (3, Side::Client, "SYN 3 (+2.008 s)".to_string()),
                (4, Side::Client, "SYN 4 (+4.016 s)".to_string()),
            ]
        );
        // Each SYN's label says its interval: no gap rows between them.
        assert!(!l.rows.iter().any(|r| matches!(r, Row::Gap { .. })), "{:?}", l.rows);
        assert_eq!(l.rows.last(), Some(&Row::End { words: "no answer; the client stopped trying".into() }));

        // Answered by SYN-ACKs the client never acknowledges: both sides' repeats.
        let mut w = Wire::new();
        w.send(0.0, seg(C, SYN, 1000, 0, 0));
        w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0));
        w.send(1.001, seg(S, SYN | ACK, 5000, 1001, 0));
        let l = ladder_of(w, 3.0);
        let labels: Vec<String> = packet_labels(&l).into_iter().map(|p| p.2).collect();
        assert_eq!(labels, ["SYN", "SYN-ACK", "SYN-ACK 2 (+1.000 s)"]);
        assert!(matches!(l.rows.last(), Some(Row::End { words }) if words == "the client never ACKed the SYN-ACK"));
    }

    #[test]
    fn a_zero_window_stall_shows_the_window_closing_and_the_probes_with_those_left_out_between() {
        // As the verdict's test: the client stops reading, the server's
        // zero-window probes back off (RFC 9293 §3.8.6.1) and are answered
        // with the window still closed.
        let mut w = Wire::established(1000, 5000);
        w.send(1.0, seg(S, ACK, 5101, 1011, 100));
        w.send(1.001, seg(C, ACK, 1011, 5201, 0).window(0)); // frame 8
        let mut t = 1.201;
        for _ in 0..5 {
            w.send(t, seg(S, ACK, 5200, 1011, 0));
            w.send(t + 0.001, seg(C, ACK, 1011, 5201, 0).window(0));
            t += 2.0 * (t - 1.001);
        }
        let l = ladder_of(w, 20.0);
        let labels = packet_labels(&l);
        assert!(labels.contains(&(8, Side::Client, "window 0".to_string())), "{labels:?}");
        assert!(labels.contains(&(9, Side::Server, "zero-window probe 1".to_string())), "{labels:?}");
        assert!(labels.contains(&(17, Side::Server, "zero-window probe 5".to_string())), "{labels:?}");
        // The three probes the flow table did not keep are told between the first and the last.
        let at = |want: &dyn Fn(&Row) -> bool| l.rows.iter().position(want).unwrap();
        let elided = at(&|r| *r == Row::Elided { what: "zero-window probes", count: 3 });
        let first = at(&|r| matches!(r, Row::Packet { frame: 9, .. }));
        let last = at(&|r| matches!(r, Row::Packet { frame: 17, .. }));
        assert!(first < elided && elided < last, "{:?}", l.rows);
        assert_eq!(l.rows.last(), Some(&Row::End { words: "window still 0 after 19.0 s".into() }));
    }
}
