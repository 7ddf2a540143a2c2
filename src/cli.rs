//! What the command line needs besides its argument definitions (which are
//! in `src/main.rs`): durations, signals, and telling a closed pipe from an error.

use std::error::Error;
use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
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

/// Sets the returned flag on SIGINT or SIGTERM; a second SIGINT/SIGTERM exits at once (status 130/143).
pub fn stop_on_signals() -> io::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag before this signal sets it.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
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
    fn finds_a_broken_pipe_behind_other_errors() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&pipe()));
        assert!(is_broken_pipe(&InterfaceError::Io(pipe())));
        assert!(!is_broken_pipe(&io::Error::other("disk full")));
        assert!(!is_broken_pipe(&InterfaceError::List("no".into())));
    }
}
