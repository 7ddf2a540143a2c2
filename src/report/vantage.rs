//! Two vantage points compared ([`crate::vantage`]): the JSON's `vantage`
//! and its words.

use crate::flow::PacketClass;
use crate::report::{endpoint, round6};
use crate::vantage::{Between, Comparison, Matched, MatchedBy, Missing};
use serde::Serialize;

/// The comparison of two captures of the same connections taken at once.
#[derive(Clone, Debug, Serialize)]
pub struct VantageReport {
    pub points: Vec<PointReport>,
    /// The second point's clock minus the first's, with the path's delay
    /// between them (the median over packets both saw), s.
    pub clock_offset_s: Option<f64>,
    pub connections: Vec<MatchReport>,
    /// Connections only one point saw, per point.
    pub unmatched: Vec<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PointReport {
    pub name: String,
    pub capture: String,
}

/// One connection both points saw.
#[derive(Clone, Debug, Serialize)]
pub struct MatchReport {
    /// "client → server" as each point saw it.
    pub seen_as: Vec<String>,
    /// The points saw other addresses or ports (a NAT between them).
    pub translated: bool,
    /// "initial-sequence-numbers" or "sequence-numbers".
    pub matched_by: &'static str,
    /// "certain" (both initial sequence numbers) or "likely".
    pub sure: &'static str,
    pub packets_both_saw: usize,
    pub between: Vec<BetweenReport>,
    pub summary: String,
}

/// Packets one point saw and the other did not.
#[derive(Clone, Debug, Serialize)]
pub struct BetweenReport {
    /// "lost", "injected" or "one-point-only" (the TTLs do not tell which
    /// point is nearer their sender).
    pub kind: &'static str,
    pub seen_at: String,
    pub frames: Vec<u64>,
    pub missing_at: String,
    pub what: String,
    pub sentence: String,
}

impl VantageReport {
    pub fn new(c: &Comparison) -> VantageReport {
        let names = [c.points[0].0.as_str(), c.points[1].0.as_str()];
        VantageReport {
            points: c
                .points
                .iter()
                .map(|(name, capture)| PointReport { name: name.clone(), capture: capture.clone() })
                .collect(),
            clock_offset_s: c.clock_offset_s.map(round6),
            connections: c.matched.iter().map(|m| match_report(m, names)).collect(),
            unmatched: c.unmatched.to_vec(),
        }
    }
}

fn match_report(m: &Matched, names: [&str; 2]) -> MatchReport {
    let seen_as: Vec<String> = m.ends.iter().map(|e| format!("{} → {}", endpoint(e[0]), endpoint(e[1]))).collect();
    let translated = m.ends[0] != m.ends[1];
    let how = match m.by {
        MatchedBy::Isn => "by their initial sequence numbers (certain)".to_string(),
        MatchedBy::Sequence => format!("by {} packets with the same sequence numbers (likely)", m.shared),
    };
    let through = if translated { ", through a NAT" } else { "" };
    let mut summary =
        format!("{} at {} is {} at {}{through}: matched {how}.", seen_as[0], names[0], seen_as[1], names[1]);
    let between: Vec<BetweenReport> =
        m.missing.iter().map(|(b, missing)| between_report(*b, missing, m, names)).collect();
    if between.is_empty() {
        summary.push_str(" Each point saw every packet the other saw while both were capturing.");
    }
    for b in &between {
        summary.push(' ');
        summary.push_str(&b.sentence);
    }
    MatchReport {
        seen_as,
        translated,
        matched_by: match m.by {
            MatchedBy::Isn => "initial-sequence-numbers",
            MatchedBy::Sequence => "sequence-numbers",
        },
        sure: match m.by {
            MatchedBy::Isn => "certain",
            MatchedBy::Sequence => "likely",
        },
        packets_both_saw: m.shared,
        between,
        summary,
    }
}

fn between_report(between: Between, missing: &Missing, m: &Matched, names: [&str; 2]) -> BetweenReport {
    let (seen, gone) = (missing.seen_at, missing.missing_at);
    let (from, to) = (missing.from, 1 - missing.from);
    let frames: Vec<u64> = missing.packets.iter().map(|(p, _)| p.at.frame).collect();
    let (what, plural) = what(missing);
    let frame_words = format!("frame{} {}", if frames.len() == 1 { "" } else { "s" }, ranges(&frames));
    let sentence = match between {
        Between::Lost => format!(
            "{} left {} ({} capture, {frame_words}) and never reached {} ({} capture): lost between the two points.",
            capitalised(&what),
            endpoint(m.ends[seen][from]),
            names[seen],
            endpoint(m.ends[gone][to]),
            names[gone]
        ),
        Between::Injected => format!(
            "{} {} received ({} {frame_words}) {} never sent by {} ({} capture): injected between the two points.",
            capitalised(&what),
            endpoint(m.ends[seen][to]),
            names[seen],
            if plural { "were" } else { "was" },
            endpoint(m.ends[gone][from]),
            names[gone]
        ),
        Between::Unplaced => format!(
            "{} from {} ({} capture, {frame_words}) {} not seen at {} although it was capturing; the TTLs do not tell which point is nearer {}.",
            capitalised(&what),
            endpoint(m.ends[seen][from]),
            names[seen],
            if plural { "were" } else { "was" },
            names[gone],
            endpoint(m.ends[seen][from])
        ),
    };
    BetweenReport {
        kind: match between {
            Between::Lost => "lost",
            Between::Injected => "injected",
            Between::Unplaced => "one-point-only",
        },
        seen_at: names[seen].to_string(),
        frames,
        missing_at: names[gone].to_string(),
        what,
        sentence,
    }
}

/// What a run of packets was, in words ("keepalive probes 1–3 and the
/// RST"), and whether that is more than one packet.
fn what(missing: &Missing) -> (String, bool) {
    let probes: Vec<u64> = missing.packets.iter().filter_map(|(_, n)| n.map(u64::from)).collect();
    let mut parts = Vec::new();
    match probes.as_slice() {
        [] => {}
        [n] => parts.push(format!("keepalive probe {n}")),
        many => parts.push(format!("keepalive probes {}", ranges(many))),
    }
    // The other packets by kind, in the order they first came.
    let mut kinds: Vec<(&'static str, &'static str, usize)> = Vec::new();
    for (p, n) in &missing.packets {
        if n.is_some() {
            continue;
        }
        let (one, many) = match p.class {
            PacketClass::Syn => ("the SYN", "SYNs"),
            PacketClass::SynAck => ("the SYN-ACK", "SYN-ACKs"),
            PacketClass::Data | PacketClass::Retransmission => ("a data segment", "data segments"),
            PacketClass::Ack | PacketClass::KeepaliveAck => ("an ACK", "ACKs"),
            PacketClass::KeepaliveProbe | PacketClass::Undecided => ("a 0- or 1-byte segment", "0- or 1-byte segments"),
            PacketClass::ZeroWindowProbe => ("a zero-window probe", "zero-window probes"),
            PacketClass::Fin => ("the FIN", "FINs"),
            PacketClass::Rst => ("the RST", "RSTs"),
            // Not in a connection's packets (copies stop before the flow
            // table), named all the same should that change.
            PacketClass::Duplicate => ("a duplicate frame", "duplicate frames"),
        };
        match kinds.iter_mut().find(|k| k.0 == one) {
            Some(k) => k.2 += 1,
            None => kinds.push((one, many, 1)),
        }
    }
    parts.extend(kinds.iter().map(|&(one, many, n)| if n == 1 { one.to_string() } else { format!("{n} {many}") }));
    let text = match parts.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    (text, missing.packets.len() > 1)
}

/// Numbers as ranges: "11–14", "3, 5–6".
fn ranges(numbers: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        out.push(if j == i { numbers[i].to_string() } else { format!("{}–{}", numbers[i], numbers[j]) });
        i = j + 1;
    }
    out.join(", ")
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;
    use crate::flow::PacketRef;
    use crate::seq::SeqNumber;
    use crate::time::Timestamp;
    use crate::vantage::Seen;

    fn seen(class: PacketClass) -> Seen {
        Seen {
            at: PacketRef { frame: 1, ts: Timestamp(0) },
            src: "10.0.0.1:1".parse().unwrap(),
            dst: "10.0.0.2:2".parse().unwrap(),
            seq: SeqNumber(0),
            ack: SeqNumber(0),
            flags: TcpFlags(TcpFlags::ACK),
            payload_len: 0,
            ttl: 64,
            class,
        }
    }

    #[test]
    fn runs_of_packets_in_words() {
        assert_eq!(ranges(&[11, 12, 13, 14]), "11–14");
        assert_eq!(ranges(&[3, 5, 6, 9]), "3, 5–6, 9");
        let run = |packets: Vec<(Seen, Option<u32>)>| Missing { from: 1, seen_at: 1, missing_at: 0, packets };
        let probe = |n| (seen(PacketClass::KeepaliveProbe), Some(n));
        let rst = (seen(PacketClass::Rst), None);
        assert_eq!(
            what(&run(vec![probe(1), probe(2), probe(3), rst])),
            ("keepalive probes 1–3 and the RST".into(), true)
        );
        assert_eq!(what(&run(vec![rst])), ("the RST".into(), false));
        let ack = (seen(PacketClass::Ack), None);
        let data = (seen(PacketClass::Data), None);
        assert_eq!(what(&run(vec![data, ack, data, ack, ack])), ("2 data segments and 3 ACKs".into(), true));
        assert_eq!(capitalised("the RST"), "The RST");
    }
}
