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
//! as they happen.

// Tests may print (clippy.toml forbids it elsewhere: see `diag`).
#![cfg_attr(test, allow(clippy::disallowed_macros))]

pub mod analyze;
pub mod cli;
pub mod decode;
pub mod diag;
pub mod event;
pub mod findings;
pub mod flow;
pub mod infer;
pub mod live;
pub mod pipeline;
pub mod report;
pub mod seq;
pub mod source;
pub mod time;
pub mod verdict;
