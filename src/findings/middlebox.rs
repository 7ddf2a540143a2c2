//! Well-known idle timeouts of the boxes that track TCP connections (load
//! balancers, NAT gateways) and forget idle ones: what a path-timeout
//! finding's bounds are compared with, and what makes a silence long
//! enough to matter.

/// A middlebox's default idle timeout, and where it is documented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownTimeout {
    pub name: &'static str,
    pub secs: u32,
    pub source: &'static str,
}

/// The catalogue, shortest first.
pub const KNOWN_IDLE_TIMEOUTS: [KnownTimeout; 6] = [
    KnownTimeout {
        name: "AWS Application Load Balancer",
        secs: 60,
        // "The default idle timeout is 60 seconds" (connection idle timeout attribute).
        source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#connection-idle-timeout",
    },
    KnownTimeout {
        name: "Azure Load Balancer",
        secs: 240,
        // "the default idle timeout of 4 minutes".
        source: "https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout",
    },
    KnownTimeout {
        name: "AWS Network Load Balancer",
        secs: 350,
        // "The default idle timeout value for TCP flows is 350 seconds."
        source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/update-idle-timeout.html",
    },
    KnownTimeout {
        name: "GCP internal passthrough load balancer",
        secs: 600,
        // Connection tracking: idle TCP entries expire after 600 seconds by default.
        source: "https://cloud.google.com/load-balancing/docs/internal#connection-tracking",
    },
    KnownTimeout {
        name: "GCP Cloud NAT",
        secs: 1200,
        // tcpEstablishedIdleTimeoutSec, default 1200 s.
        source: "https://cloud.google.com/nat/docs/tune-nat-configuration#nat-timeouts",
    },
    KnownTimeout {
        name: "a NAT following RFC 5382",
        secs: 7440,
        // REQ-5: the established-connection idle timeout MUST NOT be less than 2 hours 4 minutes.
        source: "https://www.rfc-editor.org/rfc/rfc5382#section-5",
    },
];

/// The well-known defaults a box that forgot a connection after more than
/// `low` s of silence (one survived that long; 0 when none did) and at
/// most `high` s (one died after that long) could have.
pub fn fitting(low: f64, high: f64) -> Vec<KnownTimeout> {
    KNOWN_IDLE_TIMEOUTS.into_iter().filter(|t| f64::from(t.secs) > low && f64::from(t.secs) <= high).collect()
}

/// The well-known defaults shorter than a silence: boxes that, at their
/// defaults, would have forgotten a connection that silent.
pub fn shorter_than(silence_s: f64) -> Vec<KnownTimeout> {
    KNOWN_IDLE_TIMEOUTS.into_iter().filter(|t| f64::from(t.secs) < silence_s).collect()
}

/// "AWS Application Load Balancer (60 s) and Azure Load Balancer (240 s)".
pub fn names(timeouts: &[KnownTimeout]) -> String {
    let items: Vec<String> = timeouts.iter().map(|t| format!("{} ({} s)", t.name, t.secs)).collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_name_the_defaults_between_them() {
        // Survived 300 s, died after 400 s: AWS NLB's 350 s fits.
        let fit = fitting(300.0, 400.0);
        assert_eq!(fit.iter().map(|t| t.secs).collect::<Vec<_>>(), vec![350]);
        // Died after 240 s with nothing survived: ALB (60 s) or Azure (240 s, exactly).
        assert_eq!(fitting(0.0, 240.0).iter().map(|t| t.secs).collect::<Vec<_>>(), vec![60, 240]);
        assert!(fitting(3.0, 6.0).is_empty());
        assert_eq!(names(&fitting(0.0, 240.0)), "AWS Application Load Balancer (60 s) and Azure Load Balancer (240 s)");
    }

    #[test]
    fn only_silences_past_the_shortest_default_matter() {
        assert!(shorter_than(0.0).is_empty());
        assert!(shorter_than(59.9).is_empty());
        assert_eq!(shorter_than(400.0).len(), 3);
        for pair in KNOWN_IDLE_TIMEOUTS.windows(2) {
            assert!(pair[0].secs < pair[1].secs, "the catalogue is shortest first");
        }
    }
}
