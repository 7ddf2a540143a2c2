//! `tcpka analyze`: capture files through the pipeline.

use crate::decode::{Decoded, Segment};
use crate::flow::{PacketClass, PacketRef};
use crate::pipeline::{Judge, Pipeline};
use crate::source::file::{FileSource, Skipped};
use crate::source::series::{self, Group, Joining};
use crate::source::{Next, PacketSource, filter};
use crate::vantage::{self, Point};
use std::ffi::OsString;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

/// Called for every TCP segment with its classification (`--trace`).
pub type Tracer<'a> = dyn FnMut(PacketRef, &Segment, PacketClass) -> io::Result<()> + 'a;

/// How many frames ahead of the one analysed a frame's connection is asked
/// for ([`Pipeline::prefetch`]): its hint in the flow table then, and the
/// record the hint names 4 segments later (`HINT_LEAD` in `flow::store`),
/// about 4 frames before it is analysed: enough for each to arrive from
/// memory meanwhile.
const PREFETCH_AHEAD: usize = 8;

/// One `--trace` line in Wireshark's words: the frame, its time, the
/// endpoints, what Wireshark's TCP analysis would call the segment as tcpka
/// classified it ("[TCP Keep-Alive]"), its flags as the Info column shows
/// them and its payload length.
pub fn trace_line(at: PacketRef, seg: &Segment, class: PacketClass) -> String {
    let analysis = class.wireshark_words().map_or(String::new(), |w| format!("[{w}] "));
    format!("{:>8} {} {} → {} {analysis}[{}] Len={}", at.frame, at.ts, seg.src, seg.dst, seg.flags, seg.payload_len)
}

/// Why a run stopped before reading any file, or in the middle.
#[derive(Debug, Error)]
pub enum AnalyzeError {
    /// Checked once, before any file is read.
    #[error("bad filter '{filter}': {reason}")]
    BadFilter { filter: String, reason: String },
    /// Writing the report (or the trace) failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// What a run read.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One message per file that could not be read, or not fully, naming it.
    pub input_errors: Vec<String>,
    /// Files that could be opened and read (fully or up to a damage).
    pub captures_read: usize,
    /// Where reading stopped when the stop flag was set (Ctrl-C): the
    /// capture that was being read ended there, and no file after it was
    /// read. Its report covers what was read; its error says so too.
    pub interrupted: Option<String>,
    /// Files not read at all because reading was interrupted before them.
    pub files_not_read: usize,
}

/// What every file of a run is read with.
struct Reading<'a, 't, P> {
    filter: Option<&'a str>,
    /// Set (by a signal) when reading should stop: checked once a batch.
    stop: &'a AtomicBool,
    progress: P,
    trace: Option<&'a mut Tracer<'t>>,
    outcome: Outcome,
}

/// Reads every file in turn ("-" = standard input). Files that continue
/// one another (a ring buffer, a directory of one; see
/// [`series`]) are read as one capture, unless
/// `joining` says otherwise. A file that cannot be read is reported and
/// skipped; the others are still analysed. The filter is checked first,
/// for Ethernet (the link type whose filters are a superset): a syntax
/// error is said once, before any file is read. When `stop` is set
/// (Ctrl-C), reading stops within a batch of packets: the capture being
/// read ends there, as if the file ended, and no other file is read
/// ([`Outcome::interrupted`]).
pub fn analyze_files(
    judge: &mut Judge<'_>,
    files: &[OsString],
    filter: Option<&str>,
    joining: Joining,
    progress: impl FnMut(&str, u64, Option<u64>),
    trace: Option<&mut Tracer<'_>>,
    stop: &AtomicBool,
) -> Result<Outcome, AnalyzeError> {
    check_filter(filter)?;
    let mut reading = Reading { filter, stop, progress, trace, outcome: Outcome::default() };
    for group in series::group(files, joining) {
        if reading.outcome.interrupted.is_some() {
            reading.outcome.files_not_read += group.files.len();
            continue;
        }
        reading.group(judge, &group)?;
    }
    Ok(reading.outcome)
}

/// Compiles the filter once, before any file is read, so that a bad one is
/// said once rather than once per file.
fn check_filter(filter: Option<&str>) -> Result<(), AnalyzeError> {
    match filter {
        Some(expr) => filter::compile(expr, 1, false)
            .map(drop)
            .map_err(|reason| AnalyzeError::BadFilter { filter: expr.into(), reason }),
        None => Ok(()),
    }
}

/// Reads two captures of the same connections taken at once at two points
/// of their path (`points`: each point's name and file), each as a capture
/// of its own, and compares them ([`vantage`]): which connection at one
/// point is which at the other, and which packets one point saw and the
/// other did not. A capture that cannot be read is reported as by
/// [`analyze_files`]; the comparison then is not made. Nor is it when
/// `stop` cut the reading short, as for [`analyze_files`].
pub fn analyze_vantage(
    judge: &mut Judge<'_>,
    points: &[(String, OsString)],
    filter: Option<&str>,
    progress: impl FnMut(&str, u64, Option<u64>),
    trace: Option<&mut Tracer<'_>>,
    stop: &AtomicBool,
) -> Result<Outcome, AnalyzeError> {
    check_filter(filter)?;
    let mut reading = Reading { filter, stop, progress, trace, outcome: Outcome::default() };
    let mut seen = Vec::new();
    for (name, file) in points {
        if reading.outcome.interrupted.is_some() {
            reading.outcome.files_not_read += 1;
            continue;
        }
        let Some(mut source) = reading.open_next(&mut std::iter::once(file), |path, e| judge.add_unreadable(path, e))
        else {
            continue;
        };
        let mut point = Point::new(name, &source.path);
        let format = source.format.clone();
        let mut pipeline = Pipeline::new(judge, &source.path, Some(&format), source.link());
        reading.file(&mut pipeline, &mut source, false, Some(&mut point))?;
        point.ended = source.capture_end();
        pipeline.end()?;
        seen.push(point);
    }
    if let ([a, b], None) = (seen.as_slice(), &reading.outcome.interrupted) {
        judge.add_vantage(&vantage::compare(a, b));
    }
    Ok(reading.outcome)
}

impl<P: FnMut(&str, u64, Option<u64>)> Reading<'_, '_, P> {
    /// Opens the next file of `files` that can be read; each one that cannot
    /// is recorded with `unreadable`.
    fn open_next<'f>(
        &mut self,
        files: &mut impl Iterator<Item = &'f OsString>,
        mut unreadable: impl FnMut(&str, String),
    ) -> Option<FileSource> {
        for file in files {
            match FileSource::open(file, self.filter) {
                Ok(source) => {
                    self.outcome.captures_read += 1;
                    return Some(source);
                }
                Err(e) => {
                    unreadable(&file.to_string_lossy(), e.to_string());
                    self.outcome.input_errors.push(e.to_string());
                }
            }
        }
        None
    }

    /// Reads a group of files: as one capture while each file continues
    /// the one before it (or always, when the group was forced together).
    fn group(&mut self, judge: &mut Judge<'_>, group: &Group) -> Result<(), AnalyzeError> {
        let several = group.files.len() > 1;
        let mut files = group.files.iter();
        let Some(mut source) = self.open_next(&mut files, |path, e| judge.add_unreadable(path, e)) else {
            return Ok(());
        };
        loop {
            let format = source.format.clone();
            let mut pipeline = Pipeline::new(judge, &source.path, Some(&format), source.link());
            let next = loop {
                let link = source.link().name.clone();
                self.file(&mut pipeline, &mut source, several, None)?;
                if self.outcome.interrupted.is_some() {
                    self.outcome.files_not_read += files.len();
                    break None;
                }
                let Some(next) = self.open_next(&mut files, |path, e| pipeline.add_unreadable(path, e)) else {
                    break None;
                };
                source = next;
                let first = source.first_time();
                if !group.forced && !series::continues(&link, pipeline.last_time(), &source.link().name, first) {
                    break Some(source);
                }
                pipeline.next_file(&source.path, source.link());
            };
            pipeline.end()?;
            match next {
                Some(next) => source = next,
                None => return Ok(()),
            }
        }
    }

    /// Reads one file into the capture `pipeline` is reading; `several`
    /// when the capture may span several files (its warnings then name the
    /// file); every TCP packet also to `point`, when given.
    fn file(
        &mut self,
        pipeline: &mut Pipeline<'_, '_>,
        source: &mut FileSource,
        several: bool,
        mut point: Option<&mut Point>,
    ) -> Result<(), AnalyzeError> {
        let name = source.path.clone();
        let size = source.size;
        let frames_before = pipeline.frames();
        let mut reported = 0;
        let mut broken = None;
        // The reader's thread numbers, clocks and checks the frames for copies.
        source.start(pipeline.lend_order());
        loop {
            if source.bytes_done() != reported {
                reported = source.bytes_done();
                (self.progress)(&name, reported, size);
            }
            if let Some(ahead) = source.ahead(PREFETCH_AHEAD) {
                pipeline.prefetch(ahead);
            }
            match source.next_packet() {
                // The file source decodes on its reader's thread.
                Next::Frame(f) => {
                    if let (Some(class), Decoded::Tcp(seg)) = (pipeline.frame(f)?, &f.decoded) {
                        self.follow(PacketRef { frame: pipeline.frames(), ts: f.ts }, seg, class, &mut point)?;
                    }
                }
                Next::Packet(p) => {
                    if let Some((seg, class)) = pipeline.packet(p.ts, p.data)? {
                        self.follow(PacketRef { frame: pipeline.frames(), ts: p.ts }, &seg, class, &mut point)?;
                    }
                }
                Next::Link(link) => pipeline.set_link(link),
                Next::Filtered => pipeline.skip(),
                // Between two batches, or the next one is late (a stalled
                // pipe). Checked there: an atomic load a packet would cost
                // for nothing, and a stop between batches knows the order
                // as of the last frame analysed.
                Next::Idle => {
                    if self.stop.load(Ordering::Relaxed) {
                        let frame = pipeline.frames() - frames_before;
                        let why = format!("{name}: interrupted at frame {frame}: the rest of the file was not read");
                        let order = source.stop().expect("the capture's order was lent to the source");
                        pipeline.stopped_reading(why.clone(), order);
                        self.outcome.interrupted = Some(why);
                        return Ok(());
                    }
                }
                Next::End => break,
                Next::Broken(reason) => {
                    // Numbered in this file, for Wireshark.
                    broken = Some((pipeline.frames() - frames_before, reason));
                    break;
                }
            }
        }
        let order = source.take_order().expect("the reader hands the capture's order back with the file's end");
        pipeline.return_order(order);
        // The capture's error: what was read around it is in the report.
        if let Some(msg) = damage_report(&name, &source.take_skipped(), broken) {
            pipeline.set_error(msg.clone());
            self.outcome.input_errors.push(msg);
        }
        for warning in source.take_warnings() {
            pipeline.warn(if several { format!("{name}: {warning}") } else { warning });
        }
        if let Some(end) = source.capture_end() {
            pipeline.ran_until(end);
        }
        (self.progress)(&name, size.unwrap_or(0), size);
        Ok(())
    }

    /// A TCP segment `at` and its class, to the trace and to `point`, when asked for.
    fn follow(
        &mut self,
        at: PacketRef,
        seg: &Segment,
        class: PacketClass,
        point: &mut Option<&mut Point>,
    ) -> Result<(), AnalyzeError> {
        if let Some(t) = self.trace.as_mut() {
            t(at, seg, class)?;
        }
        if let Some(point) = point.as_mut() {
            point.record(at, seg, class);
        }
        Ok(())
    }
}

/// Damaged places listed one by one in a capture's error; more are counted.
const DAMAGE_LISTED: usize = 5;

/// A capture's error, when it was damaged: the places reading went on
/// after (`skipped`), and where it broke off for good (`broken`: the
/// packets read before it, and why), naming the file. Frame numbers go on
/// after a skipped place as if it held no packet; Wireshark stops at the
/// first, so the message says from which packet on it cannot show them.
fn damage_report(name: &str, skipped: &[Skipped], broken: Option<(u64, String)>) -> Option<String> {
    let Some(first) = skipped.first() else {
        return broken.map(|(frames, reason)| {
            format!("{name}: the file is cut off or damaged after packet {frames}: {reason}; the packets before it were analysed")
        });
    };
    let mut places: Vec<String> = skipped
        .iter()
        .take(DAMAGE_LISTED)
        .map(|s| {
            format!(
                "after packet {}: {}; reading resumed {} ({} bytes skipped)",
                s.after_packet, s.damage, s.resumed_at, s.bytes
            )
        })
        .collect();
    if skipped.len() > DAMAGE_LISTED {
        places.push(format!("{} more damaged places, each skipped", skipped.len() - DAMAGE_LISTED));
    }
    let count = match skipped.len() {
        1 => "damaged".to_string(),
        n => format!("damaged in {n} places:"),
    };
    let end = match broken {
        Some((frames, reason)) => format!(
            "; and it is cut off or damaged after packet {frames}: {reason}; the packets between and before were analysed"
        ),
        None => "; the packets on both sides were analysed".into(),
    };
    Some(format!(
        "{name}: the file is {count} {}{end}; packets after the damage are numbered on from {} (Wireshark stops at the damage: it does not show them)",
        places.join("; "),
        first.after_packet + 1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;
    use crate::seq::SeqNumber;
    use crate::time::Timestamp;

    fn segment(flags: u8, payload_len: u32) -> Segment {
        Segment {
            vlan: Default::default(),
            src: "10.0.2.2:7777".parse().unwrap(),
            dst: "10.0.1.2:40002".parse().unwrap(),
            seq: SeqNumber(5100),
            ack: SeqNumber(1011),
            flags: TcpFlags(flags),
            window: 501,
            payload_len,
            ttl: 64,
            ip_id: None,
            has_timestamp: false,
            first_sack: None,
        }
    }

    #[test]
    fn a_stop_ends_the_capture_where_reading_stopped_and_reads_no_other_file() {
        use crate::testkit::{scan_refusal, scan_syn, write_pcap_from};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.pcap");
        // 20,000 frames: many batches of the reader's.
        let frames = (0..10_000u16).flat_map(|i| {
            let t = f64::from(i) * 0.001;
            [(t, scan_syn(1024 + i, [10, 1, 0, 1], 80)), (t + 0.0005, scan_refusal(1024 + i, [10, 1, 0, 1], 80))]
        });
        write_pcap_from(&path, 1, frames);
        let files = [path.clone().into_os_string(), path.into_os_string()];
        let mut doc = Vec::new();
        let mut sink = crate::report::json::JsonSink::new(&mut doc);
        let mut judge = Judge::new(&mut sink, Default::default());
        // Set before the first packet: reading stops after the first batch.
        let stop = AtomicBool::new(true);
        let outcome = analyze_files(&mut judge, &files, None, Joining::Separate, |_, _, _| {}, None, &stop).unwrap();
        judge.finish().unwrap();
        let said = outcome.interrupted.expect("reading was interrupted");
        assert_eq!(outcome.files_not_read, 1, "the second file");
        assert_eq!(outcome.captures_read, 1);
        assert!(outcome.input_errors.is_empty(), "{:?}", outcome.input_errors);
        // The sink borrows the output until it goes (it may own a writing thread).
        drop(sink);
        let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        let captures = doc["captures"].as_array().unwrap();
        assert_eq!(captures.len(), 1);
        let read = captures[0]["packets"].as_u64().unwrap();
        assert!(read > 0 && read < 20_000, "{read} frames read");
        let name = files[0].to_string_lossy();
        assert_eq!(said, format!("{name}: interrupted at frame {read}: the rest of the file was not read"));
        assert_eq!(captures[0]["error"], said.as_str());
        // Every connection begun was judged, the last one perhaps in its handshake.
        assert_eq!(doc["summary"]["connections"].as_u64(), Some(read.div_ceil(2)));
        assert_eq!(doc["connections"].as_array().unwrap().len() as u64, read.div_ceil(2));
    }

    #[test]
    fn a_stopped_capture_reports_the_copies_and_clock_of_the_frames_analysed() {
        use crate::testkit::{ACK, frame, write_pcap_from};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pcap");
        // 2,000 segments 10 ms apart: a copy (frame 3, of frame 2) and a
        // frame stamped back (frame 5) in the reader's first batch, the
        // same again in its second (frames 1,503 and 1,505).
        let frames = (1..=2000u32).map(|n| match n {
            3 | 1503 => (f64::from(n - 1) * 0.01 + 0.0002, frame(true, ACK, n - 1, 1, 10)),
            5 | 1505 => (f64::from(n) * 0.01 - 0.5, frame(true, ACK, n, 1, 10)),
            _ => (f64::from(n) * 0.01, frame(true, ACK, n, 1, 10)),
        });
        write_pcap_from(&path, 1, frames);
        let mut doc = Vec::new();
        let mut sink = crate::report::json::JsonSink::new(&mut doc);
        let mut judge = Judge::new(&mut sink, Default::default());
        // Set before the first packet: reading stops after the first batch.
        let stop = AtomicBool::new(true);
        let files = [path.into_os_string()];
        let outcome = analyze_files(&mut judge, &files, None, Joining::Separate, |_, _, _| {}, None, &stop).unwrap();
        judge.finish().unwrap();
        assert!(outcome.interrupted.is_some());
        // The sink's connection stream ends (its writer, if any, joined) when dropped.
        drop(sink);
        let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        let capture = &doc["captures"][0];
        assert_eq!(capture["packets"].as_u64(), Some(1024), "the first batch");
        // Those of the frames analysed, not of those the reader read ahead.
        assert_eq!(capture["duplicates"]["dropped"].as_u64(), Some(1), "{capture}");
        assert_eq!(capture["duplicates"]["first"], serde_json::json!([{"frame": 3, "copy_of": 2}]));
        let warnings: Vec<&str> = capture["warnings"].as_array().unwrap().iter().filter_map(|w| w.as_str()).collect();
        let back: Vec<&&str> = warnings.iter().filter(|w| w.starts_with("time goes back")).collect();
        assert_eq!(back.len(), 1, "{warnings:?}");
        assert!(back[0].starts_with("time goes back at frame 5 by 0.490 s: "), "{}", back[0]);
    }

    #[test]
    fn a_trace_line_says_what_wireshark_would_call_the_segment() {
        let at = PacketRef { frame: 11, ts: Timestamp::from_secs_f64(21.996) };
        let probe = trace_line(at, &segment(TcpFlags::ACK, 0), PacketClass::KeepaliveProbe);
        assert!(probe.starts_with("      11 "), "{probe}");
        assert!(probe.ends_with("10.0.2.2:7777 → 10.0.1.2:40002 [TCP Keep-Alive] [ACK] Len=0"), "{probe}");
        // Segments Wireshark's analysis has no word for: their flags and length only.
        let data = trace_line(at, &segment(TcpFlags::PSH | TcpFlags::ACK, 100), PacketClass::Data);
        assert!(data.ends_with("10.0.1.2:40002 [PSH, ACK] Len=100"), "{data}");
        let fin = trace_line(at, &segment(TcpFlags::FIN | TcpFlags::PSH | TcpFlags::ACK, 0), PacketClass::Fin);
        assert!(fin.ends_with(" [FIN, PSH, ACK] Len=0"), "{fin}");
        let syn_ack = trace_line(at, &segment(TcpFlags::SYN | TcpFlags::ACK, 0), PacketClass::SynAck);
        assert!(syn_ack.ends_with(" [SYN, ACK] Len=0"), "{syn_ack}");
        let retransmission = trace_line(at, &segment(TcpFlags::ACK, 50), PacketClass::Retransmission);
        assert!(retransmission.ends_with(" [TCP Retransmission] [ACK] Len=50"), "{retransmission}");
        let none = trace_line(at, &segment(0, 0), PacketClass::Ack);
        assert!(none.ends_with(" [<None>] Len=0"), "{none}");
    }
}
