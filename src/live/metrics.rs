//! `tcpka live --metrics ADDR:PORT`: Prometheus metrics at `/metrics`, in
//! the OpenMetrics text format, through the official Rust client
//! (`prometheus-client`) and a small HTTP server (`tiny_http`) on a thread
//! of its own.
//!
//! Naming follows Prometheus's conventions
//! (<https://prometheus.io/docs/practices/naming/>): the `tcpka_` prefix,
//! base units (seconds), `_total` on counters, and labels whose values are
//! few (verdicts, reset causes, services, keepalive settings), never a
//! connection's addresses or ports: one connection is an event, not a series.
//!
//! The metrics follow the live event stream: a connection is counted when
//! its `connection-ended` event is made (a later revision is counted apart,
//! in `tcpka_connections_revised_total`), whatever `--events` shows.

use crate::event::ConnectionEnded;
use crate::flow::Side;
use crate::report::ConnectionReport;
use crate::source::Counters;
use crate::verdict::EndReason;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::{Arc, Mutex};

/// A verdict, and for resets their cause (empty otherwise: Prometheus
/// treats an empty label as an absent one).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabels {
    verdict: &'static str,
    reset_cause: &'static str,
}

/// Who killed connections with keepalive, and with which settings.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KillLabels {
    /// The server's port: the service whose connections died (the prober
    /// is that server, or one of its clients, as `prober_role` says).
    service: String,
    prober_role: &'static str,
    /// The inferred settings (`tcp_keepalive_time` / `TCP_KEEPIDLE`, ...):
    /// whole seconds, "unknown" when the capture does not show them;
    /// `probes` is ">=N" when the capture shows only a lower bound.
    idle_s: String,
    interval_s: String,
    probes: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabel {
    verdict: &'static str,
}

/// Where packets were lost.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LostLabel {
    /// "kernel" (its ring was full), "interface" (the driver), or
    /// "not_analysed" (captured, but the analysis was behind).
    by: &'static str,
}

/// Silence buckets (s): seconds, the minutes of NAT and firewall idle
/// timeouts (5 to 60 min), Linux's default keepalive kill (7200 + 9 × 75 = 7875 s), a day.
const SILENCE_BUCKETS: [f64; 16] =
    [1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 7875.0, 14400.0, 43200.0, 86400.0];

fn silence_histogram() -> Histogram {
    Histogram::new(SILENCE_BUCKETS)
}

/// The metrics of one live capture.
pub struct Metrics {
    registry: Registry,
    ended: Family<EndLabels, Counter>,
    revised: Counter,
    kills: Family<KillLabels, Counter>,
    probes_sent: Counter,
    probes_answered: Counter,
    silence: Family<VerdictLabel, Histogram, fn() -> Histogram>,
    received: Counter,
    analysed: Counter,
    lost: Family<LostLabel, Counter>,
    events_dropped: Counter,
    /// The capture counters last added, to add only what grew.
    seen: Mutex<(Counters, u64, u64)>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("tcpka");
        let ended = Family::<EndLabels, Counter>::default();
        registry.register(
            "connections_ended",
            "Connections that ended, by verdict (end_reason) and, for resets, reset cause",
            ended.clone(),
        );
        let revised = Counter::default();
        registry.register(
            "connections_revised",
            "Connections whose verdict changed after their end was counted",
            revised.clone(),
        );
        let kills = Family::<KillLabels, Counter>::default();
        registry.register(
            "keepalive_kills",
            "Connections a keepalive timeout ended, by service (server port), prober role and inferred settings",
            kills.clone(),
        );
        let probes_sent = Counter::default();
        registry.register(
            "keepalive_probes_sent",
            "Keepalive probes sent on connections that ended",
            probes_sent.clone(),
        );
        let probes_answered = Counter::default();
        registry.register(
            "keepalive_probes_answered",
            "Keepalive probes answered on connections that ended",
            probes_answered.clone(),
        );
        let silence = Family::<VerdictLabel, Histogram, fn() -> Histogram>::new_with_constructor(silence_histogram);
        registry.register_with_unit(
            "silence_before_end",
            "How long the side that ended an abnormally ended connection had heard nothing but probes from its peer",
            Unit::Seconds,
            silence.clone(),
        );
        let received = Counter::default();
        registry.register(
            "capture_packets_received",
            "Packets the capture received (after the filter; libpcap's ps_recv)",
            received.clone(),
        );
        let analysed = Counter::default();
        registry.register("capture_packets_analysed", "Packets tcpka analysed", analysed.clone());
        let lost = Family::<LostLabel, Counter>::default();
        registry.register(
            "capture_packets_lost",
            "Packets lost: by the kernel (ring full), the interface, or not analysed (the analysis was behind)",
            lost.clone(),
        );
        let events_dropped = Counter::default();
        registry.register(
            "events_dropped",
            "Events not written because standard output did not keep up",
            events_dropped.clone(),
        );
        Arc::new(Metrics {
            registry,
            ended,
            revised,
            kills,
            probes_sent,
            probes_answered,
            silence,
            received,
            analysed,
            lost,
            events_dropped,
            seen: Mutex::default(),
        })
    }

    /// A connection-ended event was made.
    pub fn connection_ended(&self, e: &ConnectionEnded<'_>) {
        if e.revised {
            self.revised.inc();
            return;
        }
        let report = e.report;
        let reset_cause = report.reset_cause.map_or("", |c| c.as_str());
        self.ended.get_or_create(&EndLabels { verdict: e.end_reason.as_str(), reset_cause }).inc();
        for k in &report.keepalive {
            self.probes_sent.inc_by(u64::from(k.facts.probes_sent));
            self.probes_answered.inc_by(u64::from(k.facts.probes_answered));
        }
        if e.end_reason == EndReason::KeepaliveTimeout
            && let Some(labels) = kill_labels(report)
        {
            self.kills.get_or_create(&labels).inc();
        }
        if e.end_reason.is_abnormal()
            && let Some(s) = e.silence_s
        {
            self.silence.get_or_create(&VerdictLabel { verdict: e.end_reason.as_str() }).observe(s);
        }
    }

    /// The capture's counters now, and the packets analysed and events
    /// dropped so far: the counters grow by what is new.
    pub fn capture(&self, c: Counters, analysed: u64, events_dropped: u64) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (was, was_analysed, was_dropped) = *seen;
        // libpcap's counters are 32 bits and wrap.
        let grew = |now: u32, before: u32| u64::from(now.wrapping_sub(before));
        self.received.inc_by(grew(c.received, was.received));
        self.lost.get_or_create(&LostLabel { by: "kernel" }).inc_by(grew(c.dropped, was.dropped));
        self.lost.get_or_create(&LostLabel { by: "interface" }).inc_by(grew(c.if_dropped, was.if_dropped));
        self.lost
            .get_or_create(&LostLabel { by: "not_analysed" })
            .inc_by(c.not_analysed.saturating_sub(was.not_analysed));
        self.analysed.inc_by(analysed.saturating_sub(was_analysed));
        self.events_dropped.inc_by(events_dropped.saturating_sub(was_dropped));
        *seen = (c, analysed, events_dropped);
    }

    /// The exposition, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The labels of a keepalive kill: the prober that gave up, and what the
/// capture shows of its settings.
fn kill_labels(report: &ConnectionReport) -> Option<KillLabels> {
    let ended_by = report.ended_by.as_deref()?;
    let k = report.keepalive.iter().find(|k| k.prober == ended_by && k.facts.gave_up)?;
    let service = report.server.rsplit(':').next().unwrap_or_default().to_string();
    let setting = |v: Option<u32>| v.map_or("unknown".to_string(), |v| v.to_string());
    let probes = match (k.facts.probes, k.facts.probes_bound) {
        (Some(n), Some(crate::verdict::Bound::AtLeast)) => format!(">={n}"),
        (n, _) => setting(n),
    };
    Some(KillLabels {
        service,
        prober_role: if k.prober_role == Side::Client { "client" } else { "server" },
        idle_s: setting(k.facts.idle_s),
        interval_s: setting(k.facts.interval_s),
        probes,
    })
}

/// The content type of [`Metrics::encode`]'s text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of [`text_format`]'s.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The OpenMetrics exposition in Prometheus's older text format (0.0.4),
/// for scrapers that do not ask for OpenMetrics (curl, `promtool check
/// metrics`, older agents), as Prometheus's Go client negotiates. The two
/// differ, for what `prometheus-client` writes, in three ways: a counter's
/// HELP and TYPE name its samples (`x_total`, where OpenMetrics names the
/// family `x`), and there are no `# UNIT` or `# EOF` lines.
pub fn text_format(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> =
        openmetrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find_map(|p| Some((p, line.strip_prefix(p)?)));
        match meta {
            Some((prefix, rest)) if counters.contains(rest.split(' ').next().unwrap_or_default()) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(&format!("{prefix}{name}_total {tail}"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Serves `/metrics` on `addr` from a thread of its own; returns the
/// address it listens on.
pub fn serve(addr: &str, metrics: Arc<Metrics>) -> Result<std::net::SocketAddr, String> {
    let server = tiny_http::Server::http(addr).map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
    let local =
        server.server_addr().to_ip().ok_or_else(|| format!("cannot serve metrics on {addr}: not an IP address"))?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let path = request.url().split('?').next().unwrap_or_default().to_string();
                let openmetrics = request
                    .headers()
                    .iter()
                    .any(|h| h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text"));
                let response = match (request.method(), path.as_str()) {
                    (tiny_http::Method::Get, "/metrics") if openmetrics => {
                        text_response(200, OPENMETRICS, metrics.encode())
                    }
                    (tiny_http::Method::Get, "/metrics") => {
                        text_response(200, TEXT_FORMAT, text_format(&metrics.encode()))
                    }
                    (tiny_http::Method::Get, "/") => {
                        text_response(200, "text/plain; charset=utf-8", "tcpka live: metrics at /metrics\n".into())
                    }
                    _ => text_response(404, "text/plain; charset=utf-8", "not found: try /metrics\n".into()),
                };
                // A scraper that went away: nothing to do.
                let _ = request.respond(response);
            }
        })
        .map_err(|e| format!("cannot serve metrics: {e}"))?;
    Ok(local)
}

fn text_response(status: u16, content_type: &str, body: String) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let header = tiny_http::Header::from_bytes("Content-Type", content_type).expect("a valid header");
    tiny_http::Response::from_string(body).with_status_code(status).with_header(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_counters_by_their_samples_and_has_no_unit_or_eof() {
        let om = "# HELP tcpka_kills Connections killed.\n# TYPE tcpka_kills counter\ntcpka_kills_total{a=\"b\"} 1\n\
                  # HELP tcpka_silence_seconds Silence.\n# TYPE tcpka_silence_seconds histogram\n\
                  # UNIT tcpka_silence_seconds seconds\ntcpka_silence_seconds_sum 3.0\n\
                  tcpka_silence_seconds_count 1\ntcpka_silence_seconds_bucket{le=\"+Inf\"} 1\n# EOF\n";
        assert_eq!(
            text_format(om),
            "# HELP tcpka_kills_total Connections killed.\n# TYPE tcpka_kills_total counter\ntcpka_kills_total{a=\"b\"} 1\n\
             # HELP tcpka_silence_seconds Silence.\n# TYPE tcpka_silence_seconds histogram\n\
             tcpka_silence_seconds_sum 3.0\ntcpka_silence_seconds_count 1\ntcpka_silence_seconds_bucket{le=\"+Inf\"} 1\n"
        );
    }

    #[test]
    fn capture_counters_grow_by_what_is_new_across_the_32_bit_wrap() {
        let m = Metrics::new();
        let c = |received, dropped| Counters { received, dropped, if_dropped: 0, not_analysed: 0 };
        m.capture(c(u32::MAX - 1, 5), 10, 0);
        m.capture(c(3, 7), 20, 2);
        let text = m.encode();
        // u32::MAX - 1, then 5 more across the wrap.
        assert!(
            text.contains(&format!("tcpka_capture_packets_received_total {}\n", u64::from(u32::MAX) + 4)),
            "{text}"
        );
        assert!(text.contains("tcpka_capture_packets_lost_total{by=\"kernel\"} 7\n"), "{text}");
        assert!(text.contains("tcpka_capture_packets_analysed_total 20\n"), "{text}");
        assert!(text.contains("tcpka_events_dropped_total 2\n"), "{text}");
    }
}
