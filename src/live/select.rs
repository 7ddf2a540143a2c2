//! `--events`: which connection events the stream shows. On a busy server
//! every orderly close would drown the endings that matter, so by default
//! the stream shows the abnormal endings and the keepalive trains.

use crate::event::ConnectionEvent;
use crate::verdict::{EndReason, ResetCause};
use std::collections::BTreeSet;
use std::str::FromStr;

/// The default of `--events`.
pub const DEFAULT: &str = "abnormal,trains";

/// Which connection events are shown (capture events always are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSelection {
    /// `keepalive-train` and `probe-unanswered`.
    trains: bool,
    /// `connection-ended` with these verdicts.
    verdicts: BTreeSet<EndReason>,
    /// When only some resets are chosen (`reset:CAUSE`): their causes.
    reset_causes: BTreeSet<ResetCause>,
}

impl Default for EventSelection {
    fn default() -> Self {
        DEFAULT.parse().expect("the default parses")
    }
}

impl EventSelection {
    /// Whether `event` is shown.
    pub fn wants(&self, event: &ConnectionEvent<'_>) -> bool {
        match event {
            ConnectionEvent::KeepaliveTrain(_) | ConnectionEvent::ProbeUnanswered(_) => self.trains,
            ConnectionEvent::ConnectionEnded(e) => {
                self.verdicts.contains(&e.end_reason)
                    || (e.end_reason == EndReason::Reset
                        && e.report.reset_cause.is_some_and(|c| self.reset_causes.contains(&c)))
            }
        }
    }
}

/// A comma-separated list of: `all`, `none`, `abnormal` (keepalive-timeout,
/// retransmission-timeout, reset, half-closed), `trains`, a verdict, or
/// `reset:CAUSE`.
impl FromStr for EventSelection {
    type Err = String;

    fn from_str(s: &str) -> Result<EventSelection, String> {
        let mut sel = EventSelection { trains: false, verdicts: BTreeSet::new(), reset_causes: BTreeSet::new() };
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                "all" => {
                    sel.trains = true;
                    sel.verdicts.extend(EndReason::ALL);
                }
                "none" => {}
                "abnormal" => sel.verdicts.extend(EndReason::ALL.into_iter().filter(|r| r.is_abnormal())),
                "trains" => sel.trains = true,
                _ => match item.split_once(':') {
                    Some(("reset", cause)) => {
                        let cause = ResetCause::ALL.into_iter().find(|c| c.as_str() == cause).ok_or_else(|| {
                            let names: Vec<&str> = ResetCause::ALL.iter().map(|c| c.as_str()).collect();
                            format!("unknown reset cause '{cause}' (expected one of: {})", names.join(", "))
                        })?;
                        sel.reset_causes.insert(cause);
                    }
                    _ => {
                        let verdict = item
                            .parse::<EndReason>()
                            .map_err(|e| format!("{e}; or all, none, abnormal, trains, reset:CAUSE"))?;
                        sel.verdicts.insert(verdict);
                    }
                },
            }
        }
        Ok(sel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ConnectionEnded, Detection};
    use crate::report::ConnectionReport;

    fn ended(report: &ConnectionReport) -> ConnectionEvent<'_> {
        ConnectionEvent::ConnectionEnded(ConnectionEnded {
            end_reason: report.end_reason,
            detected_by: Detection::Packet,
            revised: false,
            silence_s: None,
            report,
        })
    }

    fn report_of(frames: &[(f64, Vec<u8>)]) -> ConnectionReport {
        crate::live::tests::reports_of(frames).remove(0)
    }

    #[test]
    fn by_default_abnormal_endings_and_trains() {
        use crate::testkit::{ACK, FIN, RST, SYN, frame};
        let sel = EventSelection::default();
        let handshake = || {
            vec![
                (0.0, frame(true, SYN, 1000, 0, 0)),
                (0.001, frame(false, SYN | ACK, 5000, 1001, 0)),
                (0.002, frame(true, ACK, 1001, 5001, 0)),
            ]
        };
        let mut closed = handshake();
        closed.extend([
            (0.5, frame(true, FIN | ACK, 1001, 5001, 0)),
            (0.501, frame(false, FIN | ACK, 5001, 1002, 0)),
            (0.502, frame(true, ACK, 1002, 5002, 0)),
        ]);
        let closed = report_of(&closed);
        assert_eq!(closed.end_reason, EndReason::Closed);
        let mut reset = handshake();
        reset.push((0.5, frame(true, RST | ACK, 1001, 5001, 0)));
        let reset = report_of(&reset);
        assert_eq!(reset.end_reason, EndReason::Reset);
        let cause = reset.reset_cause.expect("a reset's cause");

        assert!(!sel.wants(&ended(&closed)));
        assert!(sel.wants(&ended(&reset)));
        let all: EventSelection = "all".parse().unwrap();
        assert!(all.wants(&ended(&closed)) && all.wants(&ended(&reset)));
        let none: EventSelection = "none".parse().unwrap();
        assert!(!none.wants(&ended(&reset)));
        let closes: EventSelection = "closed".parse().unwrap();
        assert!(closes.wants(&ended(&closed)) && !closes.wants(&ended(&reset)));
        let this_cause: EventSelection = format!("reset:{}", cause.as_str()).parse().unwrap();
        assert!(this_cause.wants(&ended(&reset)) && !this_cause.wants(&ended(&closed)));
        let other = ResetCause::ALL.into_iter().find(|&c| c != cause).unwrap();
        let other_cause: EventSelection = format!("reset:{}", other.as_str()).parse().unwrap();
        assert!(!other_cause.wants(&ended(&reset)));
    }

    #[test]
    fn names_what_it_takes_when_an_item_is_wrong() {
        let e = "keepalive-timeout,bogus".parse::<EventSelection>().unwrap_err();
        assert!(e.contains("unknown verdict 'bogus'") && e.contains("reset:CAUSE"), "{e}");
        let e = "reset:bogus".parse::<EventSelection>().unwrap_err();
        assert!(e.contains("middlebox"), "{e}");
        let sel: EventSelection = "keepalive-timeout, trains".parse().unwrap();
        assert!(sel.trains && sel.verdicts == BTreeSet::from([EndReason::KeepaliveTimeout]));
    }
}
