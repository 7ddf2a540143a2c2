//! What a prober's keepalive settings and probe shape say about its OS.

use crate::verdict::Bound;
pub use crate::verdict::initial_ttl;
use serde::Serialize;
use std::fmt;

/// OS defaults: (idle s, interval s, probes).
pub const LINUX_DEFAULTS: (u32, u32, u32) = (7200, 75, 9);
pub const WINDOWS_DEFAULTS: (u32, u32, u32) = (7200, 1, 10);
pub const MACOS_DEFAULTS: (u32, u32, u32) = (7200, 75, 8);

/// The OS family a probe's shape and TTL suggest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum OsFamily {
    /// 0-byte probes, initial TTL 64.
    #[serde(rename = "linux-bsd-macos")]
    LinuxOrBsd,
    /// 1-byte probes (the byte before SND.UNA sent again) and initial TTL 128.
    #[serde(rename = "windows")]
    Windows,
    /// 0-byte probes with TTL above 128: routers, switches, Solaris.
    #[serde(rename = "network-device")]
    NetworkDevice,
    #[serde(rename = "unknown")]
    Unknown,
}

/// The OS family of a prober from its probes' payload bytes and its TTL.
///
/// One byte alone does not prove Windows: some embedded stacks (PLCs, old
/// BSD-derived firmware) send the byte before SND.UNA again too. Windows
/// also starts at TTL 128, so only both together name it; a 1-byte prober
/// whose packets start at 64 or 255 is no Windows host, and its OS unknown.
pub fn os_family(probe_bytes: u8, ttl: Option<u8>) -> OsFamily {
    match (probe_bytes, ttl.map(initial_ttl)) {
        (1, Some(128)) => OsFamily::Windows,
        (0, Some(32 | 64)) => OsFamily::LinuxOrBsd,
        (0, Some(255)) => OsFamily::NetworkDevice,
        _ => OsFamily::Unknown,
    }
}

/// Whether inferred keepalive settings are an OS default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SettingsOrigin {
    LinuxDefault,
    MacosDefault,
    WindowsDefault,
    /// Not an OS default: someone set them.
    Tuned,
    /// Too little is known to tell.
    Unknown,
}

impl SettingsOrigin {
    /// The name used in the reports (the JSON value).
    pub fn as_str(self) -> &'static str {
        match self {
            SettingsOrigin::LinuxDefault => "linux-default",
            SettingsOrigin::MacosDefault => "macos-default",
            SettingsOrigin::WindowsDefault => "windows-default",
            SettingsOrigin::Tuned => "tuned",
            SettingsOrigin::Unknown => "unknown",
        }
    }
}

impl fmt::Display for SettingsOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether inferred settings match an OS default.
pub fn settings_origin(idle: Option<u32>, interval: Option<u32>, probes: Option<(u32, Bound)>) -> SettingsOrigin {
    let (Some(idle), Some(interval)) = (idle, interval) else {
        // Every OS defaults to 7200 s of idle: only another value says "tuned".
        return if idle.is_some_and(|i| i != 7200) { SettingsOrigin::Tuned } else { SettingsOrigin::Unknown };
    };
    let fits = |d: (u32, u32, u32)| {
        idle == d.0
            && interval == d.1
            && match probes {
                Some((n, Bound::Exact)) => n == d.2,
                Some((n, Bound::AtLeast)) => n <= d.2,
                None => true,
            }
    };
    // Linux and macOS differ only in the probe count; without an exact count, say Linux.
    if fits(LINUX_DEFAULTS) {
        SettingsOrigin::LinuxDefault
    } else if fits(MACOS_DEFAULTS) {
        SettingsOrigin::MacosDefault
    } else if fits(WINDOWS_DEFAULTS) {
        SettingsOrigin::WindowsDefault
    } else {
        SettingsOrigin::Tuned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_os_defaults() {
        assert_eq!(settings_origin(Some(7200), Some(75), Some((9, Bound::Exact))), SettingsOrigin::LinuxDefault);
        assert_eq!(settings_origin(Some(7200), Some(75), Some((8, Bound::Exact))), SettingsOrigin::MacosDefault);
        assert_eq!(settings_origin(Some(7200), Some(1), Some((10, Bound::Exact))), SettingsOrigin::WindowsDefault);
        assert_eq!(settings_origin(Some(20), Some(2), Some((2, Bound::Exact))), SettingsOrigin::Tuned);
        assert_eq!(settings_origin(None, None, None), SettingsOrigin::Unknown);
    }

    #[test]
    fn probe_shape_points_to_os_family() {
        assert_eq!(os_family(0, Some(64)), OsFamily::LinuxOrBsd);
        assert_eq!(os_family(1, Some(128)), OsFamily::Windows);
        assert_eq!(os_family(0, Some(255)), OsFamily::NetworkDevice);
        assert_eq!(os_family(0, Some(128)), OsFamily::Unknown);
        // One byte alone is not Windows: with TTL 64 or 255 it is some other
        // stack (PLCs send 1-byte probes too); with 128 both point to Windows.
        assert_eq!(os_family(1, Some(119)), OsFamily::Windows);
        assert_eq!(os_family(1, Some(64)), OsFamily::Unknown);
        assert_eq!(os_family(1, Some(255)), OsFamily::Unknown);
        assert_eq!(os_family(1, None), OsFamily::Unknown);
    }

    #[test]
    fn serialized_names_are_the_report_names() {
        let family = |f: OsFamily| serde_json::to_string(&f).unwrap();
        assert_eq!(family(OsFamily::LinuxOrBsd), "\"linux-bsd-macos\"");
        assert_eq!(family(OsFamily::Windows), "\"windows\"");
        assert_eq!(family(OsFamily::NetworkDevice), "\"network-device\"");
        assert_eq!(family(OsFamily::Unknown), "\"unknown\"");
        for o in [
            SettingsOrigin::LinuxDefault,
            SettingsOrigin::MacosDefault,
            SettingsOrigin::WindowsDefault,
            SettingsOrigin::Tuned,
            SettingsOrigin::Unknown,
        ] {
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{o}\""));
        }
    }
}
