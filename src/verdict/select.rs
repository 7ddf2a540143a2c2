//! Picking connections by how they ended: `--only` and `--fail-on` take
//! `VERDICT` or `VERDICT:CAUSE` (`reset:middlebox`), the same words the
//! reports print in their verdict column.

use super::{EndReason, ResetCause};
use std::fmt;
use std::str::FromStr;

/// How a connection ended, as precisely as the reports name it: the
/// verdict and, for a reset, its cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ending {
    pub verdict: EndReason,
    pub cause: Option<ResetCause>,
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cause {
            Some(cause) => write!(f, "{}:{cause}", self.verdict),
            None => write!(f, "{}", self.verdict),
        }
    }
}

/// One `--only` / `--fail-on` word: a verdict, or a verdict and a cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Selector {
    pub verdict: EndReason,
    /// None: any cause.
    pub cause: Option<ResetCause>,
}

impl Selector {
    pub fn matches(self, ending: Ending) -> bool {
        self.verdict == ending.verdict && self.cause.is_none_or(|c| ending.cause == Some(c))
    }
}

impl From<EndReason> for Selector {
    fn from(verdict: EndReason) -> Selector {
        Selector { verdict, cause: None }
    }
}

impl FromStr for Selector {
    type Err = String;
    fn from_str(s: &str) -> Result<Selector, String> {
        let (verdict, cause) = match s.split_once(':') {
            Some((v, c)) => (v, Some(c)),
            None => (s, None),
        };
        let verdict: EndReason = verdict.trim().parse()?;
        let Some(cause) = cause else { return Ok(verdict.into()) };
        // Only a reset has causes (the RST's sender and TTL tell them).
        if verdict != EndReason::Reset {
            let causes: Vec<String> = ResetCause::ALL.iter().map(|c| format!("reset:{c}")).collect();
            return Err(format!("'{s}': only reset has causes ({})", causes.join(", ")));
        }
        Ok(Selector { verdict, cause: Some(cause.trim().parse()?) })
    }
}

/// Whether any of `selectors` picks `ending`; an empty list picks everything.
pub fn any_matches(selectors: &[Selector], ending: Ending) -> bool {
    selectors.is_empty() || selectors.iter().any(|s| s.matches(ending))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_is_listed() {
        // Fails to compile when a cause is added: add it to ResetCause::ALL too.
        let index = |c: ResetCause| match c {
            ResetCause::Refused => 0,
            ResetCause::Middlebox => 1,
            ResetCause::PeerLostState => 2,
            ResetCause::AbortUnreadData => 3,
            ResetCause::Abort => 4,
        };
        for (i, c) in ResetCause::ALL.into_iter().enumerate() {
            assert_eq!(index(c), i, "{c}");
            assert_eq!(c.as_str().parse::<ResetCause>(), Ok(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        }
    }

    #[test]
    fn parses_verdicts_and_causes() {
        for verdict in EndReason::ALL {
            assert_eq!(verdict.as_str().parse(), Ok(Selector { verdict, cause: None }));
        }
        for cause in ResetCause::ALL {
            let s: Selector = format!("reset:{cause}").parse().unwrap();
            assert_eq!(s, Selector { verdict: EndReason::Reset, cause: Some(cause) });
            assert_eq!(Ending { verdict: EndReason::Reset, cause: Some(cause) }.to_string(), format!("reset:{cause}"));
        }
        let err = "reset:gremlins".parse::<Selector>().unwrap_err();
        assert!(err.contains("middlebox") && err.contains("gremlins"), "{err}");
        let err = "closed:middlebox".parse::<Selector>().unwrap_err();
        assert!(err.contains("only reset has causes") && err.contains("reset:refused"), "{err}");
        assert!("meltdown".parse::<Selector>().unwrap_err().contains("keepalive-timeout"));
    }

    #[test]
    fn a_verdict_matches_every_cause_a_cause_only_itself() {
        let middlebox = Ending { verdict: EndReason::Reset, cause: Some(ResetCause::Middlebox) };
        let refused = Ending { verdict: EndReason::Reset, cause: Some(ResetCause::Refused) };
        let closed = Ending { verdict: EndReason::Closed, cause: None };
        let reset: Selector = "reset".parse().unwrap();
        let only_middlebox: Selector = "reset:middlebox".parse().unwrap();
        assert!(reset.matches(middlebox) && reset.matches(refused) && !reset.matches(closed));
        assert!(only_middlebox.matches(middlebox) && !only_middlebox.matches(refused));
        assert!(any_matches(&[], closed));
        assert!(!any_matches(&[only_middlebox], closed));
        assert!(any_matches(&[only_middlebox, "closed".parse().unwrap()], closed));
    }
}
