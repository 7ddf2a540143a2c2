//! What the command line needs besides its argument definitions (which are
//! in `src/main.rs`): durations, signals, and telling a closed pipe from an error.

use std::error::Error;
use std::ffi::OsString;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Parses a duration: humantime's (`250ms`, `30s`, `5m`, `1h`, `1h30m`, …),
/// or plain seconds (`90`, `1.5`), or a fraction of one unit (`1.5m`), which
/// humantime does not take. Zero, and what does not fit a [`Duration`], are errors.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let parsed = if unit.is_empty() || number.contains('.') {
        let value: f64 = number
            .parse()
            .map_err(|_| format!("'{s}' is not a duration (expected e.g. 30s, 5m, 1h30m or plain seconds)"))?;
        let factor = match unit.trim() {
            "" | "s" | "sec" | "secs" => 1.0,
            "ms" => 0.001,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            other => return Err(format!("unknown unit '{other}' in '{s}' (use ms, s, m or h)")),
        };
        Duration::try_from_secs_f64(value * factor).map_err(|_| format!("'{s}': too long a duration"))?
    } else {
        humantime::parse_duration(t).map_err(|e| format!("'{s}' is not a duration ({e}); e.g. 30s, 5m, 1h30m"))?
    };
    if parsed.is_zero() {
        return Err(format!("'{s}': the duration must be more than zero"));
    }
    Ok(parsed)
}

/// The words a BPF filter expression starts with (pcap-filter(7)): its
/// primitives' qualifiers and protocols, and the operators that may open it.
const FILTER_WORDS: &[&str] = &[
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "ether",
    "vlan",
    "mpls",
    "pppoes",
    "host",
    "net",
    "port",
    "portrange",
    "src",
    "dst",
    "proto",
    "gateway",
    "broadcast",
    "multicast",
    "less",
    "greater",
    "len",
    "inbound",
    "outbound",
    "not",
    "!",
    "(",
];

/// Whether `arg` looks like the start of a BPF filter (`tcp`, `port 80`,
/// `tcp[13] & 2 != 0`, `not host …`) rather than a file name.
fn starts_a_filter(arg: &str) -> bool {
    let first = arg.split_whitespace().next().unwrap_or("");
    let word = first.split(['[', '(']).next().unwrap_or("");
    FILTER_WORDS.contains(&first) || (!word.is_empty() && FILTER_WORDS.contains(&word.to_ascii_lowercase().as_str()))
}

/// Where `tcpka analyze` gets its files and filter, typed as tcpdump users
/// type them: `-r FILE` (any number of times) and a filter expression after
/// the files (`tcpka analyze -r x.pcap tcp port 80`, or `tcpka analyze x.pcap
/// tcp port 80`), as well as `-f EXPR`. With `-r`, every other argument is
/// the filter, as in tcpdump; without, the arguments up to the first that
/// is no file and starts a filter are the files. Errors say what to type.
pub fn files_and_filter(
    args: Vec<OsString>,
    read: Vec<OsString>,
    filter: Option<String>,
) -> Result<(Vec<OsString>, Option<String>), String> {
    let (files, trailing) = if read.is_empty() {
        let is_filter =
            |a: &OsString| a != "-" && !std::path::Path::new(a).exists() && a.to_str().is_some_and(starts_a_filter);
        match args.iter().position(is_filter) {
            Some(i) => (args[..i].to_vec(), args[i..].to_vec()),
            None => (args, Vec::new()),
        }
    } else {
        (read, args)
    };
    let trailing: Vec<String> = trailing.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let filter = match (filter, trailing.is_empty()) {
        (filter, true) => filter,
        (None, false) => Some(trailing.join(" ")),
        (Some(f), false) => {
            return Err(format!(
                "two filters: -f '{f}' and '{}' after the files; give one (tcpka analyze -f EXPR FILE...)",
                trailing.join(" ")
            ));
        }
    };
    if files.is_empty() {
        return Err("no capture file: tcpka analyze FILE... (or -r FILE, or - for standard input)".into());
    }
    Ok((files, filter))
}

/// Sets the returned flag on SIGINT or SIGTERM; a second SIGINT/SIGTERM exits at once (status 130/143).
pub fn stop_on_signals() -> io::Result<Arc<AtomicBool>> {
    catch_stop_signals().map(|signals| signals.stop)
}

/// What the first SIGINT or SIGTERM leaves behind ([`catch_stop_signals`]).
pub struct StopSignals {
    /// Set by the first signal: stop, and finish what was started.
    pub stop: Arc<AtomicBool>,
    /// The first signal's number; 0 before it.
    signal: Arc<AtomicUsize>,
}

impl StopSignals {
    /// The first signal caught, if any (SIGINT or SIGTERM).
    pub fn caught(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            n => i32::try_from(n).ok(),
        }
    }

    /// The exit status of a process that stopped on `signal`, as a shell
    /// reports one killed by it: 128 + its number (130 for SIGINT, 143 for SIGTERM).
    pub fn exit_status(signal: i32) -> u8 {
        u8::try_from(128 + signal).unwrap_or(u8::MAX)
    }
}

/// Catches SIGINT and SIGTERM: the first sets [`StopSignals::stop`] and
/// records which it was; a second exits at once with its status (130/143),
/// for when finishing takes too long.
pub fn catch_stop_signals() -> io::Result<StopSignals> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    let signal = Arc::new(AtomicUsize::new(0));
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag before this signal sets it.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&stop))?;
        // The number before the flag: whoever sees the flag finds the number.
        let number = usize::try_from(sig).expect("signal numbers are positive");
        signal_hook::flag::register_usize(sig, Arc::clone(&signal), number)?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(StopSignals { stop, signal })
}

/// Whether an error, or one it was caused by, is a broken pipe: standard
/// output was closed (`tcpka ... | head`). As ripgrep does, the binary then
/// exits quietly with success.
pub fn is_broken_pipe(mut err: &(dyn Error + 'static)) -> bool {
    loop {
        if let Some(io) = err.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::BrokenPipe
        {
            return true;
        }
        match err.source() {
            Some(cause) => err = cause,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::interface::InterfaceError;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("99999999999999999999").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
        assert!(parse_duration("1.5 parsecs").is_err());
    }

    #[test]
    fn takes_files_and_a_filter_as_tcpdump_users_type_them() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.pcap");
        std::fs::write(&file, b"").unwrap();
        let f = file.to_str().unwrap();
        // A trailing expression after the files.
        assert_eq!(
            files_and_filter(os(&[f, "tcp", "port", "80"]), vec![], None),
            Ok((os(&[f]), Some("tcp port 80".to_string())))
        );
        assert_eq!(
            files_and_filter(os(&[f, "-", "not host 10.0.0.1"]), vec![], None).unwrap().1.as_deref(),
            Some("not host 10.0.0.1")
        );
        assert_eq!(
            files_and_filter(os(&[f, "tcp[13] & 2 != 0"]), vec![], None).unwrap().1.as_deref(),
            Some("tcp[13] & 2 != 0")
        );
        // -r: every other argument is the filter, as in tcpdump.
        assert_eq!(
            files_and_filter(os(&["port", "7777"]), os(&[f]), None),
            Ok((os(&[f]), Some("port 7777".to_string())))
        );
        // Only files; a missing file that is no filter word stays a file (its error names it).
        assert_eq!(files_and_filter(os(&[f, "missing.pcap"]), vec![], None), Ok((os(&[f, "missing.pcap"]), None)));
        assert_eq!(files_and_filter(os(&[f]), vec![], Some("tcp".into())), Ok((os(&[f]), Some("tcp".into()))));
        // Two filters, or none of the files: said.
        let err = files_and_filter(os(&[f, "port", "80"]), vec![], Some("tcp".into())).unwrap_err();
        assert!(err.contains("two filters"), "{err}");
        let err = files_and_filter(os(&["tcp", "port", "80"]), vec![], None).unwrap_err();
        assert!(err.contains("no capture file"), "{err}");
    }

    #[test]
    fn finds_a_broken_pipe_behind_other_errors() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&pipe()));
        assert!(is_broken_pipe(&InterfaceError::Io(pipe())));
        assert!(!is_broken_pipe(&io::Error::other("disk full")));
        assert!(!is_broken_pipe(&InterfaceError::List("no".into())));
    }
}
