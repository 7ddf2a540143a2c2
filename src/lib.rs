//! tcpka: why did each long-lived TCP connection end?
//!
//! Data flows one way: a packet source ([`source`]) → link/IP/TCP decode
//! ([`decode`]) → the flow table, which tracks both directions of every
//! connection and classifies each segment ([`flow`]) → a verdict per
//! finished connection with the keepalive settings it implies ([`verdict`],
//! [`infer`]) → findings across connections (per prober, per path) and
//! the OS and settings they point to ([`findings`]) → reports ([`report`]).
//! [`pipeline`] ties the stages together for files ([`analyze`]) and live
//! capture ([`live`]) alike; live capture also streams events ([`event`])
//! as they happen. `ARCHITECTURE.md` says which module may use which.

// The modules are private (the binary is the only user of the library), and
// these docs describe them: `cargo doc --document-private-items` links them.
#![allow(rustdoc::private_intra_doc_links)]
// Tests may print (clippy.toml forbids it elsewhere: see `diag`).
#![cfg_attr(test, allow(clippy::disallowed_macros))]

mod analyze;
mod cli;
mod clock;
mod community;
mod decode;
#[doc(hidden)] // only for the `diag!` macro, which the binary uses
pub mod diag;
mod duplicates;
mod event;
mod findings;
mod flow;
mod infer;
mod live;
mod neighbours;
mod pipeline;
mod report;
mod seq;
mod source;
#[cfg(test)]
mod testkit;
mod time;
mod vantage;
mod verdict;

// The library's API is what the binary uses, and only that: everything
// else is crate-private, so the compiler reports code nothing calls.
pub use analyze::{Tracer, analyze_files, analyze_vantage, trace_line};
pub use cli::{StopSignals, catch_stop_signals, files_and_filter, is_broken_pipe, parse_duration, stop_on_signals};
pub use decode::Segment;
#[doc(hidden)] // the cap tests/memory.rs checks the eviction count against
pub use flow::MAX_UNREPLIED;
pub use flow::{PacketClass, PacketRef};
pub use live::select::{DEFAULT as DEFAULT_EVENTS, EventSelection};
pub use live::{LiveOptions, run as run_live};
pub use pipeline::Judge;
pub use report::ReportSink;
pub use report::html::HtmlSink;
pub use report::json::JsonSink;
pub use report::ndjson::NdjsonSink;
pub use report::table::TableSink;
pub use source::interface::{DEFAULT_BUFFER_MIB, DEFAULT_SNAPLEN, libpcap_version, list_interfaces};
pub use source::series::Joining;
pub use verdict::{EndReason, ResetCause, Selector};

/// What the fuzz targets (`fuzz/`, a separate dev-only crate) drive besides
/// the API above: the capture reader, the decoder, the live event stream and
/// the report model. Only with the `fuzzing` feature, so that an ordinary
/// build still reports dead code.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::decode::{LinkKind, decode};
    pub use crate::live::events::LiveEvents;
    pub use crate::report::{ConnectionReport, RunReport};
    pub use crate::source::file::FileSource;
    pub use crate::source::{Next, PacketSource};
}
