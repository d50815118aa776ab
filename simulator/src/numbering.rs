//! The numbering plan: what happens when a modem dials a number. Pure data (a list of
//! suffix rules) so tests and later configuration can reprogram the network.

use std::time::Duration;

use cellgate_hal::ReleaseCause;

/// How the far end of an outgoing (mobile-originated) call behaves. Times are relative to
/// the dial (`alert_after`) or to the start of alerting (the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalleeBehaviour {
    /// Rings after `alert_after`, answers `answer_after` later and stays up until released.
    Answers {
        /// Dial -> far end alerting.
        alert_after: Duration,
        /// Alerting -> answered.
        answer_after: Duration,
    },
    /// The far end is busy: `BUSY`, cause 17, after `after`.
    Busy {
        /// Dial -> `BUSY`.
        after: Duration,
    },
    /// The number does not exist: `NO CARRIER`, cause 1, after `after`.
    Unassigned {
        /// Dial -> `NO CARRIER`.
        after: Duration,
    },
    /// Rings forever; the network gives up after `give_up_after`: `NO ANSWER`, cause 19.
    NeverAnswers {
        /// Dial -> far end alerting.
        alert_after: Duration,
        /// Alerting -> `NO ANSWER`.
        give_up_after: Duration,
    },
    /// Rings, then the callee rejects: `NO CARRIER`, cause 21.
    Rejects {
        /// Dial -> far end alerting.
        alert_after: Duration,
        /// Alerting -> rejection.
        reject_after: Duration,
    },
    /// The phone is switched off or out of coverage: `NO CARRIER`, cause 20, after `after`.
    Unreachable {
        /// Dial -> `NO CARRIER`.
        after: Duration,
    },
}

/// Which URC a modem prints when the network ends a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseUrc {
    /// `NO CARRIER`: the generic end of a call.
    NoCarrier,
    /// `BUSY` (only with `ATX3`/`ATX4`; `NO CARRIER` otherwise).
    Busy,
    /// `NO ANSWER`.
    NoAnswer,
}

/// One step of a call's scripted progress, the unit the network's call timers execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStep {
    /// The far end starts ringing.
    Alert,
    /// The far end answers.
    Answer,
    /// The network ends the call with this cause and URC.
    Release {
        /// 3GPP TS 24.008 cause for `AT+CEER`.
        cause: ReleaseCause,
        /// What the modem prints.
        urc: ReleaseUrc,
    },
}

impl CalleeBehaviour {
    /// The behaviour as a timed script: each step runs the given delay after the previous.
    pub fn script(&self) -> Vec<(Duration, CallStep)> {
        match *self {
            CalleeBehaviour::Answers {
                alert_after,
                answer_after,
            } => vec![
                (alert_after, CallStep::Alert),
                (answer_after, CallStep::Answer),
            ],
            CalleeBehaviour::Busy { after } => vec![(
                after,
                CallStep::Release {
                    cause: ReleaseCause::USER_BUSY,
                    urc: ReleaseUrc::Busy,
                },
            )],
            CalleeBehaviour::Unassigned { after } => vec![(
                after,
                CallStep::Release {
                    cause: ReleaseCause::UNASSIGNED_NUMBER,
                    urc: ReleaseUrc::NoCarrier,
                },
            )],
            CalleeBehaviour::Unreachable { after } => vec![(
                after,
                CallStep::Release {
                    cause: ReleaseCause(20),
                    urc: ReleaseUrc::NoCarrier,
                },
            )],
            CalleeBehaviour::NeverAnswers {
                alert_after,
                give_up_after,
            } => vec![
                (alert_after, CallStep::Alert),
                (
                    give_up_after,
                    CallStep::Release {
                        cause: ReleaseCause::NO_ANSWER,
                        urc: ReleaseUrc::NoAnswer,
                    },
                ),
            ],
            CalleeBehaviour::Rejects {
                alert_after,
                reject_after,
            } => vec![
                (alert_after, CallStep::Alert),
                (
                    reject_after,
                    CallStep::Release {
                        cause: ReleaseCause::CALL_REJECTED,
                        urc: ReleaseUrc::NoCarrier,
                    },
                ),
            ],
        }
    }

    /// Short name for the event log.
    pub fn label(&self) -> &'static str {
        match self {
            CalleeBehaviour::Answers { .. } => "answers",
            CalleeBehaviour::Busy { .. } => "busy",
            CalleeBehaviour::Unassigned { .. } => "unassigned",
            CalleeBehaviour::NeverAnswers { .. } => "never answers",
            CalleeBehaviour::Rejects { .. } => "rejects",
            CalleeBehaviour::Unreachable { .. } => "unreachable",
        }
    }
}

/// A numbering-plan rule: dialled numbers ending in `suffix` get `behaviour`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRule {
    /// Digits the dialled number must end with (leading `+` of the number is ignored).
    pub suffix: String,
    /// What the far end does.
    pub behaviour: CalleeBehaviour,
}

/// The network's numbering plan: rules tried in order, first match wins, else `fallback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberingPlan {
    /// Suffix rules, in priority order.
    pub rules: Vec<NumberRule>,
    /// Behaviour of every number no rule matches.
    pub fallback: CalleeBehaviour,
}

/// Dial -> alerting for every default rule that rings.
pub const DEFAULT_ALERT_AFTER: Duration = Duration::from_secs(1);
/// Alerting -> answer for ordinary numbers.
pub const DEFAULT_ANSWER_AFTER: Duration = Duration::from_secs(3);
/// Alerting -> `NO ANSWER` for `…480`.
pub const DEFAULT_NO_ANSWER_AFTER: Duration = Duration::from_secs(60);
/// Alerting -> rejection for `…603` (so the rejection lands 3 s after the dial).
pub const DEFAULT_REJECT_AFTER: Duration = Duration::from_secs(2);

impl Default for NumberingPlan {
    /// The documented default plan (see `docs/simulator.md`): `…486` busy, `…404`
    /// unassigned, `…480` never answers, `…603` rejects, everything else answers.
    fn default() -> Self {
        let rule = |suffix: &str, behaviour| NumberRule {
            suffix: suffix.to_owned(),
            behaviour,
        };
        NumberingPlan {
            rules: vec![
                rule(
                    "486",
                    CalleeBehaviour::Busy {
                        after: DEFAULT_ALERT_AFTER,
                    },
                ),
                rule(
                    "404",
                    CalleeBehaviour::Unassigned {
                        after: DEFAULT_ALERT_AFTER,
                    },
                ),
                rule(
                    "480",
                    CalleeBehaviour::NeverAnswers {
                        alert_after: DEFAULT_ALERT_AFTER,
                        give_up_after: DEFAULT_NO_ANSWER_AFTER,
                    },
                ),
                rule(
                    "603",
                    CalleeBehaviour::Rejects {
                        alert_after: DEFAULT_ALERT_AFTER,
                        reject_after: DEFAULT_REJECT_AFTER,
                    },
                ),
            ],
            fallback: CalleeBehaviour::Answers {
                alert_after: DEFAULT_ALERT_AFTER,
                answer_after: DEFAULT_ANSWER_AFTER,
            },
        }
    }
}

impl NumberingPlan {
    /// What the far end of a call to `dialled` does. Matching uses the digits only: a
    /// leading `+` is ignored.
    pub fn resolve(&self, dialled: &str) -> &CalleeBehaviour {
        let digits = dialled.strip_prefix('+').unwrap_or(dialled);
        self.rules
            .iter()
            .find(|r| digits.ends_with(r.suffix.as_str()))
            .map(|r| &r.behaviour)
            .unwrap_or(&self.fallback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plan_matches_suffixes() {
        let plan = NumberingPlan::default();
        assert_eq!(plan.resolve("5551486").label(), "busy");
        assert_eq!(plan.resolve("+86555404").label(), "unassigned");
        assert_eq!(plan.resolve("480").label(), "never answers");
        assert_eq!(plan.resolve("123603").label(), "rejects");
        assert_eq!(plan.resolve("5551234").label(), "answers");
        assert_eq!(plan.resolve("4861").label(), "answers");
    }

    #[test]
    fn reject_lands_three_seconds_after_dial() {
        let plan = NumberingPlan::default();
        let total: Duration = plan.resolve("603").script().iter().map(|(d, _)| *d).sum();
        assert_eq!(total, Duration::from_secs(3));
    }
}
