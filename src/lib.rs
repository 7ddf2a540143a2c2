//! tcpka: why did each long-lived TCP connection end?
//!
//! Data flows one way: a capture source ([`capture`]) → link/IP/TCP decode
//! ([`decode`]) → the flow table, which tracks both directions of every
//! connection and classifies each segment ([`flow`]) → a verdict per
//! finished connection with the keepalive settings it implies ([`verdict`],
//! [`infer`]) → findings across connections (per prober, per path) and
//! the OS and settings they point to ([`findings`]) → reports ([`report`]).
//! [`pipeline`] ties the stages together for files ([`analyze`]) and live
//! capture alike.

pub mod analyze;
pub mod capture;
pub mod decode;
pub mod findings;
pub mod flow;
pub mod infer;
pub mod live;
pub mod pipeline;
pub mod report;
pub mod seq;
pub mod time;
pub mod verdict;
