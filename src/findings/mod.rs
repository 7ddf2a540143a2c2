//! Findings across connections, and classifications of a verdict's
//! findings: per-prober keepalive aggregates ([`hosts`]), path idle timeouts
//! and reconnect storms ([`paths`]), well-known middlebox idle timeouts
//! ([`middlebox`]), OS family and whether settings are an OS default ([`os`]). They return typed values; [`crate::report`] turns
//! them into words and documents.

mod by_address;
pub mod hosts;
pub mod middlebox;
pub mod os;
pub mod paths;

pub use hosts::{HostAggregator, HostFinding, Prober};
pub use os::{OsFamily, SettingsOrigin, os_family, settings_origin};
pub use paths::{PathAggregator, PathFinding, StormFinding};

#[cfg(test)]
mod tests;
