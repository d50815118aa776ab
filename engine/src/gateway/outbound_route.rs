//! Which line takes a VoIP -> GSM call and what it dials: own-number two-stage calls
//! (F-2.2.3), line prefixes and the 603 rule (F-6.3.13 to F-6.3.18), per-line outbound
//! permission, policy locks, SIM limits, the rest rule, outbound authentication (§6.7),
//! dial rules (Appendix G), call memory (F-6.6.2) and line selection (F-6.4.2 to 4).

use std::time::Instant;

use cellgate_hal::LineId;
use cellgate_policy::routing::{AuthDecision, PrefixRoute};
use tracing::info;

use super::line_policy::OutboundForward;
use super::Gateway;

/// What to do with an admitted INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum OutboundPlan {
    /// Dial `number` on `line` (marked busy).
    Dial {
        /// Line.
        line: LineId,
        /// Number for `ATD` (after stripping and dial rules).
        number: String,
        /// DTMF to send 1 s after the GSM callee answers (`M1:` mode, F-6.6.7).
        then_dtmf: Option<String>,
        /// The line came from call memory (the rest rule is skipped, F-6.6.2).
        from_memory: bool,
    },
    /// Answer, then collect digits on `line` (marked busy): the password (§6.7) when
    /// `password_then` holds the number to dial after it, else the second-stage number
    /// (F-2.2.3).
    Collect {
        /// Line.
        line: LineId,
        /// Number to dial once the password is right; `None` for two-stage dialling.
        password_then: Option<String>,
    },
    /// Refuse with this status.
    Refuse(u16),
}

/// Why a candidate line cannot take the call (the strongest reason decides the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unfit {
    /// Busy, not registered, resting, limits used up, locked by policy.
    Unavailable,
    /// Authentication or strict dial rules refuse it.
    Forbidden,
}

impl Gateway {
    /// Plans an outbound call from `caller` to `callee` (the Request-URI user).
    pub(super) fn plan_outbound(
        &mut self,
        now: Instant,
        caller: &str,
        callee: &str,
    ) -> OutboundPlan {
        let local = self.local_time(now);
        // F-2.2.3: a call to the gateway's own number is a two-stage call.
        if let Some(lines) = self.config.routing.own_numbers.get(callee).cloned() {
            let eligible = |id: LineId| lines.is_empty() || lines.contains(&id);
            let Some(line) = self.take_line(None, |g, id| {
                eligible(id).then_some(()).ok_or(Unfit::Forbidden)?;
                g.line_can_call_out(now, local, id, true)
            }) else {
                return OutboundPlan::Refuse(self.config.no_line_status);
            };
            let policy = self.line_policy(line);
            return match policy.outbound_forward.clone() {
                Some(OutboundForward::Fixed(number)) => OutboundPlan::Dial {
                    line,
                    number,
                    then_dtmf: None,
                    from_memory: false,
                },
                Some(OutboundForward::ServiceDtmf(_)) | None => OutboundPlan::Collect {
                    line,
                    password_then: None,
                },
            };
        }
        let (candidates, number) = match self.config.routing.prefixes.as_ref() {
            None => (None, callee.to_owned()),
            Some(prefixes) => match prefixes.route(caller, callee) {
                PrefixRoute::Any => (None, callee.to_owned()),
                PrefixRoute::Lines { lines, number } => (Some(lines), number),
                PrefixRoute::NoMatch => {
                    info!(%caller, %callee, "no line prefix matches: 603");
                    return OutboundPlan::Refuse(603);
                }
            },
        };
        let memory = if self.config.routing.call_memory {
            self.call_memory.recall(&number, now)
        } else {
            None
        };
        let mut worst = None;
        let chosen = self.take_line(memory, |g, id| {
            if candidates.as_ref().is_some_and(|c| !c.contains(&id)) {
                return Err(Unfit::Forbidden);
            }
            let result = g
                .line_can_call_out(now, local, id, memory == Some(id))
                .and_then(|()| {
                    let policy = g.line_policy(id);
                    if policy.outbound_auth.check(caller, &number) == AuthDecision::Deny {
                        return Err(Unfit::Forbidden);
                    }
                    policy
                        .dial_rules
                        .rewrite(&number, policy.strict_dial_rules)
                        .map(|_| ())
                        .ok_or(Unfit::Forbidden)
                });
            if let Err(reason) = result {
                worst = worst.max(Some(reason));
            }
            result
        });
        let Some(line) = chosen else {
            return match worst {
                Some(Unfit::Forbidden) if !self.any_line_unavailable_only(&candidates) => {
                    info!(%caller, %callee, "refused by authentication or strict dial rules");
                    OutboundPlan::Refuse(403)
                }
                _ => OutboundPlan::Refuse(self.config.no_line_status),
            };
        };
        let policy = self.line_policy(line);
        let Some(dialled) = policy.dial_rules.rewrite(&number, policy.strict_dial_rules) else {
            self.lines.release(line);
            return OutboundPlan::Refuse(403);
        };
        let from_memory = memory == Some(line);
        if policy.outbound_auth.check(caller, &number) == AuthDecision::AskPassword {
            return OutboundPlan::Collect {
                line,
                password_then: Some(dialled),
            };
        }
        match policy.outbound_forward.clone() {
            Some(OutboundForward::ServiceDtmf(service)) => OutboundPlan::Dial {
                line,
                number: service,
                then_dtmf: Some(format!("{dialled}#")),
                from_memory,
            },
            _ => OutboundPlan::Dial {
                line,
                number: dialled,
                then_dtmf: None,
                from_memory,
            },
        }
    }

    /// Whether `line` may place an outbound call now: F-6.6.5, the run policy's locks,
    /// the SIM limits (§6.10) and, unless the call comes from call memory, the rest rule.
    fn line_can_call_out(
        &self,
        now: Instant,
        local: Option<time::PrimitiveDateTime>,
        line: LineId,
        skip_rest: bool,
    ) -> Result<(), Unfit> {
        let policy = self.line_policy(line);
        if !policy.outbound_allowed {
            return Err(Unfit::Forbidden);
        }
        let state = self.lines.get(line).ok_or(Unfit::Unavailable)?;
        if state.policy_blocked() {
            return Err(Unfit::Unavailable);
        }
        let runtime = self.runtime(line);
        if let Some(rt) = runtime {
            if rt
                .counters
                .usage
                .outbound_allowed(&policy.limits, local)
                .is_err()
            {
                return Err(Unfit::Unavailable);
            }
            if !skip_rest && rt.rest.resting(now) {
                return Err(Unfit::Unavailable);
            }
        }
        Ok(())
    }

    /// Whether some candidate line failed only for being unavailable (then the
    /// no-line status is right, not 403).
    fn any_line_unavailable_only(&self, candidates: &Option<Vec<LineId>>) -> bool {
        self.lines.lines().iter().any(|l| {
            candidates.as_ref().is_none_or(|c| c.contains(&l.id))
                && self.line_policy(l.id).outbound_allowed
                && !l.available()
        })
    }

    /// Takes the first line the selection rule offers among those `fit` accepts.
    fn take_line(
        &mut self,
        preferred: Option<LineId>,
        mut fit: impl FnMut(&Self, LineId) -> Result<(), Unfit>,
    ) -> Option<LineId> {
        let ids: Vec<LineId> = self.lines.lines().iter().map(|l| l.id).collect();
        let fitting: Vec<LineId> = ids
            .into_iter()
            .filter(|&id| fit(self, id).is_ok())
            .collect();
        self.lines
            .take_where(preferred, |l| fitting.contains(&l.id))
    }
}
