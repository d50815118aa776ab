//! Where an incoming GSM call goes (F-6.8.1 to F-6.8.4, §6.9, F-6.8.18): rejected,
//! forwarded to a fixed VoIP number or by the caller's prefix, or answered for
//! two-stage dialling; with the caller-id rewritten (F-6.8.9).

use std::net::SocketAddr;
use std::time::Instant;

use cellgate_hal::LineId;
use cellgate_policy::routing::{AuthDecision, InboundForward, RepeatVerdict};
use tracing::info;

use super::{ForwardTarget, Gateway};

/// What to do with a GSM call ringing on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum InboundPlan {
    /// INVITE this target.
    Forward(ForwardTarget),
    /// Answer and collect the second-stage number (or first the password, then the
    /// rest as in `then`).
    Collect {
        /// Ask for the password first (§6.9).
        password: bool,
        /// After the password: forward here, or `None` for two-stage dialling.
        then: Option<ForwardTarget>,
    },
    /// Hang up on the caller.
    Reject(&'static str),
}

impl Gateway {
    /// Decides where the GSM call from `caller` on `line` goes.
    pub(super) fn plan_inbound(
        &mut self,
        now: Instant,
        line: LineId,
        caller: Option<&str>,
    ) -> InboundPlan {
        let policy = self.line_policy(line).clone();
        if !policy.inbound_allowed {
            return InboundPlan::Reject("incoming calls disabled on the line (F-6.8.1)");
        }
        if self
            .lines
            .get(line)
            .is_some_and(|l| l.voip_disabled_by_policy)
        {
            return InboundPlan::Reject("line VoIP disabled by the run policy");
        }
        if let (Some(caller), Some(rt)) = (caller, self.line_runtime.get_mut(&line)) {
            if let Some(guard) = rt.repeat.as_mut() {
                if guard.record(caller, now) == RepeatVerdict::Blocked {
                    return InboundPlan::Reject("caller blacklisted for repeated calls (F-6.8.18)");
                }
            }
        }
        let password = match policy.inbound_auth.check(caller.unwrap_or(""), "") {
            AuthDecision::Allow => false,
            AuthDecision::Deny => return InboundPlan::Reject("inbound authentication (§6.9)"),
            AuthDecision::AskPassword => true,
        };
        // Targets from the SIP settings come first (forward URIs per line, a client of
        // the built-in registrar); then the line's forward number.
        let target = match self.forward_target(now, line) {
            Some(t) => Some(t),
            None => match &policy.inbound_forward {
                None => return InboundPlan::Reject("no inbound route for the line"),
                Some(InboundForward::TwoStage) => None,
                Some(InboundForward::Fixed(number)) => {
                    match self.target_for_number(now, line, number) {
                        Some(t) => Some(t),
                        None => return InboundPlan::Reject("forward number unreachable"),
                    }
                }
                Some(InboundForward::ByCaller(map)) => {
                    let Some(number) = map.target_for(caller) else {
                        return InboundPlan::Reject("caller matches no prefix of the forward map");
                    };
                    match self.target_for_number(now, line, number) {
                        Some(t) => Some(t),
                        None => return InboundPlan::Reject("forward number unreachable"),
                    }
                }
            },
        };
        match (password, target) {
            (false, Some(t)) => InboundPlan::Forward(t),
            (password, then) => InboundPlan::Collect { password, then },
        }
    }

    /// A forward target for a VoIP number: `user@host[:port]` as given, else a client
    /// registered under that user with the built-in registrar, else the user at the
    /// extension host (the line's registrar or the trunk's Gateway1).
    pub(super) fn target_for_number(
        &self,
        now: Instant,
        line: LineId,
        number: &str,
    ) -> Option<ForwardTarget> {
        let local_user = format!("line{}", line.0);
        if let Some((user, host)) = number.split_once('@') {
            let next_hop = parse_host(host)?;
            return Some(ForwardTarget {
                uri: format!("sip:{user}@{host}"),
                next_hop,
                local_user,
                credentials: None,
            });
        }
        if let Some(binding) = self.registrar.as_ref().and_then(|r| r.binding(now, number)) {
            return Some(ForwardTarget {
                uri: binding.contact.clone(),
                next_hop: binding.source,
                local_user,
                credentials: None,
            });
        }
        let host = self.config.extension_host?;
        info!(%line, %number, %host, "forward number sent to the extension host");
        Some(ForwardTarget {
            uri: format!("sip:{number}@{host}"),
            next_hop: host,
            local_user,
            credentials: self.line_credentials(line),
        })
    }

    /// Credentials of the account a line registers with, for challenged INVITEs.
    fn line_credentials(&self, line: LineId) -> Option<(String, String)> {
        self.config
            .registrations
            .iter()
            .find(|r| r.lines.is_empty() || r.lines.contains(&line))
            .map(|r| (r.account.auth_id.clone(), r.account.password.clone()))
    }

    /// F-6.8.9: the caller number as passed to SIP, rewritten by the line's CID rules.
    pub(super) fn caller_id_for(&self, line: LineId, caller: &str) -> String {
        self.line_policy(line)
            .cid_rules
            .rewrite(caller, false)
            .unwrap_or_else(|| caller.to_owned())
    }
}

/// `host[:port]` with an IP host (names are resolved when the configuration loads).
fn parse_host(host: &str) -> Option<SocketAddr> {
    if let Ok(addr) = host.parse::<SocketAddr>() {
        return Some(addr);
    }
    host.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 5060))
}
