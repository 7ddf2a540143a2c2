//! Which input files make one capture. A capture rotated into several
//! files — `tcpdump -C`/`-G`/`-W` (`x.pcap`, `x.pcap1`, …, `x.pcap00`, …,
//! or strftime names), dumpcap's ring buffer (`x_00001_20240101120000.pcapng`)
//! — is one capture: a connection that spans files is one connection.
//!
//! Files are candidates for one capture when their names differ only in
//! their digits (in one directory), or when they are the files of a
//! directory given as the argument. Candidates are put in the order of
//! their first packets (a ring buffer that wrapped around starts in the
//! middle of its numbers; a shell sorts `x.pcap10` before `x.pcap2`). The
//! reading side then joins a file to the one before it only when it
//! continues it: the same link type, and its first packet no earlier than
//! the other's last ([`continues`]). Captures taken at the same time at two
//! places overlap, so they stay apart. `--concat` and `--separate` force
//! either way.

use crate::source::input;
use crate::source::reader::{CaptureReader, Record};
use crate::time::Timestamp;
use std::cmp::Ordering;
use std::ffi::{OsStr, OsString};
use std::path::Path;

/// How input files are grouped into captures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Joining {
    /// Files of one rotation series or one directory are one capture when
    /// each continues the one before.
    #[default]
    Auto,
    /// All files are one capture, in the order of their first packets.
    Concat,
    /// Every file is a capture of its own.
    Separate,
}

/// One or more files to be read as one capture (when they continue one
/// another: see [`continues`]), in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub files: Vec<OsString>,
    /// The files were joined by `--concat`: no check that they continue.
    pub forced: bool,
}

/// Whether a file whose first packet is at `next_first` on link `next_link`
/// continues a capture whose last packet was at `last` on link `link`: the
/// same link type, and no packet earlier than the capture's last (a
/// rotated capture's files do not overlap; two captures taken at once do).
pub fn continues(link: &str, last: Option<Timestamp>, next_link: &str, next_first: Option<Timestamp>) -> bool {
    let in_order = match (last, next_first) {
        (Some(last), Some(first)) => first >= last,
        _ => true,
    };
    link == next_link && in_order
}

/// Groups the arguments into captures. A directory stands for its files
/// (not its hidden ones or subdirectories); an empty one, or one that
/// cannot be listed, stays as it is, for the reader to name the error.
pub fn group(args: &[OsString], joining: Joining) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    // Auto: the series key of each group formed from single files.
    let mut keys: Vec<Option<OsString>> = Vec::new();
    for arg in args {
        let files = match directory_files(arg) {
            Some(files) if !files.is_empty() => files,
            _ => vec![arg.clone()],
        };
        let is_directory = files.len() > 1 || files[0] != *arg;
        match joining {
            Joining::Separate => {
                groups.extend(files.into_iter().map(|f| Group { files: vec![f], forced: false }));
                continue;
            }
            Joining::Concat => {
                match groups.first_mut() {
                    Some(all) => all.files.extend(files),
                    None => groups.push(Group { files, forced: true }),
                }
                continue;
            }
            Joining::Auto if is_directory => {
                groups.push(Group { files, forced: false });
                keys.push(None);
                continue;
            }
            Joining::Auto => {}
        }
        let key = series_key(arg);
        match key.as_ref().and_then(|k| keys.iter().position(|g| g.as_ref() == Some(k))) {
            Some(i) => groups[i].files.extend(files),
            None => {
                groups.push(Group { files, forced: false });
                keys.push(key);
            }
        }
    }
    for g in groups.iter_mut().filter(|g| g.files.len() > 1) {
        by_first_packet(&mut g.files);
    }
    groups
}

/// The files of a directory, in natural order (`x2` before `x10`); None
/// when `arg` is not a directory or cannot be listed.
fn directory_files(arg: &OsStr) -> Option<Vec<OsString>> {
    let dir = Path::new(arg);
    if arg == "-" || !dir.is_dir() {
        return None;
    }
    let mut files: Vec<OsString> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path().into_os_string())
        .collect();
    files.sort_by(|a, b| natural_order(&a.to_string_lossy(), &b.to_string_lossy()));
    Some(files)
}

/// What the names of a rotation series share: the directory and the name
/// without its digits (`x.pcap`, `x.pcap1`, `x.pcap12` → `x.pcap`: without
/// `-W`, `tcpdump -C` names its first file without a number). None for
/// standard input and what is not a regular file (a FIFO can be read only
/// once, and is never part of a series).
fn series_key(arg: &OsStr) -> Option<OsString> {
    let path = Path::new(arg);
    if arg == "-" || !path.is_file() {
        return None;
    }
    let name = path.file_name()?.to_string_lossy();
    let stripped: String = name.chars().filter(|c| !c.is_ascii_digit()).collect();
    let mut key = path.parent().map(|p| p.as_os_str().to_owned()).unwrap_or_default();
    key.push("/");
    key.push(stripped);
    Some(key)
}

/// Orders names with their digit runs compared as numbers.
fn natural_order(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let order = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    pa.len().cmp(&pb.len()).then_with(|| a.cmp(b))
}

/// Sorts files by the time of their first packet, read from each file's
/// first blocks (a stable sort: files without one keep their place after
/// the others).
fn by_first_packet(files: &mut [OsString]) {
    let mut keyed: Vec<(Option<Timestamp>, OsString)> =
        files.iter().map(|f| (first_packet_time(f), f.clone())).collect();
    keyed.sort_by_key(|(t, _)| (t.is_none(), *t));
    for (slot, (_, f)) in files.iter_mut().zip(keyed) {
        *slot = f;
    }
}

/// The time of a file's first packet, when it can be read.
fn first_packet_time(file: &OsStr) -> Option<Timestamp> {
    let input = input::open(file).ok()?;
    let mut reader = CaptureReader::new(input.format, input.stream).ok()?;
    loop {
        match reader.next_record().ok()?? {
            Record::Packet(p) => return Some(p.ts),
            _ => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_their_numbers_as_numbers() {
        let mut names = ["x.pcap10", "x.pcap2", "x.pcap", "x.pcap1", "x.pcap002"];
        names.sort_by(|a, b| natural_order(a, b));
        // Equal numbers (2, 002) fall back to the names' plain order.
        assert_eq!(names, ["x.pcap", "x.pcap1", "x.pcap002", "x.pcap2", "x.pcap10"]);
    }

    #[test]
    fn files_of_a_series_or_a_directory_are_grouped_in_the_order_of_their_first_packets() {
        use crate::testkit::{frame, write_pcap};
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).into_os_string();
        // A ring buffer (tcpdump -C -W 3) that wrapped: x.pcap2 holds the oldest packets.
        for (name, t) in [("x.pcap", 10.0), ("x.pcap1", 20.0), ("x.pcap2", 0.0), ("y.pcap", 5.0)] {
            write_pcap(Path::new(&path(name)), 1, &[(t, frame(true, 0x02, 1, 0, 0))]);
        }
        let args = [path("x.pcap1"), path("y.pcap"), path("x.pcap"), "-".into(), path("x.pcap2")];
        let groups = group(&args, Joining::Auto);
        let files: Vec<Vec<OsString>> = groups.iter().map(|g| g.files.clone()).collect();
        assert_eq!(
            files,
            [vec![path("x.pcap2"), path("x.pcap"), path("x.pcap1")], vec![path("y.pcap")], vec!["-".into()]]
        );
        assert!(groups.iter().all(|g| !g.forced));
        // A directory: its files, one group; --separate: each file alone.
        let as_dir = group(&[dir.path().as_os_str().to_owned()], Joining::Auto);
        assert_eq!(as_dir.len(), 1);
        assert_eq!(as_dir[0].files, [path("x.pcap2"), path("y.pcap"), path("x.pcap"), path("x.pcap1")]);
        assert_eq!(group(&[dir.path().as_os_str().to_owned()], Joining::Separate).len(), 4);
        // --concat: everything, forced.
        let all = group(&args, Joining::Concat);
        assert_eq!(all.len(), 1);
        assert!(all[0].forced);
        assert_eq!(all[0].files.len(), 5);
    }

    #[test]
    fn a_file_continues_a_capture_on_its_link_type_from_its_last_packet_on() {
        let t = |s: i64| Some(Timestamp(s * 1_000_000_000));
        assert!(continues("EN10MB", t(10), "EN10MB", t(10)));
        assert!(continues("EN10MB", t(10), "EN10MB", t(500)));
        assert!(!continues("EN10MB", t(10), "EN10MB", t(9)), "overlapping times: two captures at once");
        assert!(!continues("EN10MB", t(10), "LINUX_SLL2", t(11)), "another link type");
        assert!(continues("EN10MB", None, "EN10MB", t(1)), "nothing read yet");
    }
}
