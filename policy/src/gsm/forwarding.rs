//! SIM call forwarding (manual §6.11) and its status text (F-5.2.4.1).
//!
//! Each of the four forwarding conditions has a [`ForwardPolicy`]; a line's
//! [`ForwardingConfig`] turns them into the settings to apply when its module starts.

use std::fmt;
use std::str::FromStr;

use cellgate_hal::{CallForwarding, ForwardReason};
use serde::{Deserialize, Serialize};

/// Longest forwarding number accepted, in digits (E.164 allows 15; some networks take
/// service prefixes in front).
pub const MAX_NUMBER_DIGITS: usize = 20;

/// Why a forwarding setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardingError {
    /// Not `disable`, `unchanged` or a phone number.
    #[error("call forwarding `{0}`: expected `disable`, `unchanged` or a phone number such as `+8613800000000`")]
    Syntax(String),
    /// The no-reply time is outside what the network takes.
    #[error("no-reply time {0} s: expected 5 to 30 in steps of 5")]
    NoReplySeconds(u8),
    /// `All` and `AllConditional` are groups, not one condition.
    #[error("forwarding reason {0:?}: only Unconditional, Busy, NoReply and NotReachable are configured one by one")]
    Reason(ForwardReason),
}

/// Whether `text` is a phone number the gateway can forward to: an optional leading `+`
/// then 1 to 20 digits.
pub(crate) fn is_phone_number(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    !digits.is_empty()
        && digits.len() <= MAX_NUMBER_DIGITS
        && digits.bytes().all(|b| b.is_ascii_digit())
}

/// What to do with one forwarding condition of the SIM (F-6.11.2 to F-6.11.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ForwardPolicy {
    /// Forward to this number (F-6.11.2).
    Enable(String),
    /// Turn forwarding off (F-6.11.3, the default).
    #[default]
    Disable,
    /// Leave the SIM's forwarding as it is (F-6.11.4), shown as `Not Set`.
    Unchanged,
}

impl FromStr for ForwardPolicy {
    type Err = ForwardingError;

    /// Reads `disable` (or `off`), `unchanged` (or `not set`), or a number (`+` and 1 to 20
    /// digits; spaces and `-` inside the number are dropped).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim().to_ascii_lowercase();
        match text.as_str() {
            "disable" | "disabled" | "off" => return Ok(ForwardPolicy::Disable),
            "unchanged" | "not set" | "not_set" => return Ok(ForwardPolicy::Unchanged),
            _ => {}
        }
        let number: String = text.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if is_phone_number(&number) {
            Ok(ForwardPolicy::Enable(number))
        } else {
            Err(ForwardingError::Syntax(input.to_string()))
        }
    }
}

impl fmt::Display for ForwardPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPolicy::Enable(n) => f.write_str(n),
            ForwardPolicy::Disable => f.write_str("disable"),
            ForwardPolicy::Unchanged => f.write_str("unchanged"),
        }
    }
}

impl TryFrom<String> for ForwardPolicy {
    type Error = ForwardingError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<ForwardPolicy> for String {
    fn from(value: ForwardPolicy) -> Self {
        value.to_string()
    }
}

/// One line's forwarding settings: a policy per condition (F-6.11.1), all `disable` by
/// default. In a configuration file: `busy = "+8613800000000"`, `no_reply = "unchanged"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardingConfig {
    /// Forward every call.
    pub unconditional: ForwardPolicy,
    /// Forward when the SIM is in a call.
    pub busy: ForwardPolicy,
    /// Forward when the call is not answered.
    pub no_reply: ForwardPolicy,
    /// Forward when the SIM is off or out of coverage.
    pub not_reachable: ForwardPolicy,
    /// Ringing time before no-reply forwarding, 5 to 30 s in steps of 5 (3GPP TS 22.082);
    /// `None` leaves the network's default. Not in the manual.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_reply_seconds: Option<u8>,
}

/// The four conditions a line configures, in the order settings are applied.
pub const REASONS: [ForwardReason; 4] = [
    ForwardReason::Unconditional,
    ForwardReason::Busy,
    ForwardReason::NoReply,
    ForwardReason::NotReachable,
];

impl ForwardingConfig {
    /// Checks what parsing cannot: the no-reply time.
    pub fn validate(&self) -> Result<(), ForwardingError> {
        match self.no_reply_seconds {
            Some(s) if !(5..=30).contains(&s) || !s.is_multiple_of(5) => {
                Err(ForwardingError::NoReplySeconds(s))
            }
            _ => Ok(()),
        }
    }

    /// The policy of one condition; `None` for the `All` and `AllConditional` groups.
    pub fn get(&self, reason: ForwardReason) -> Option<&ForwardPolicy> {
        match reason {
            ForwardReason::Unconditional => Some(&self.unconditional),
            ForwardReason::Busy => Some(&self.busy),
            ForwardReason::NoReply => Some(&self.no_reply),
            ForwardReason::NotReachable => Some(&self.not_reachable),
            ForwardReason::All | ForwardReason::AllConditional => None,
        }
    }

    /// Sets the policy of one condition; refuses the `All` and `AllConditional` groups.
    pub fn set(
        &mut self,
        reason: ForwardReason,
        policy: ForwardPolicy,
    ) -> Result<(), ForwardingError> {
        let slot = match reason {
            ForwardReason::Unconditional => &mut self.unconditional,
            ForwardReason::Busy => &mut self.busy,
            ForwardReason::NoReply => &mut self.no_reply,
            ForwardReason::NotReachable => &mut self.not_reachable,
            other => return Err(ForwardingError::Reason(other)),
        };
        *slot = policy;
        Ok(())
    }

    /// The settings to apply when the module starts, in [`REASONS`] order; `Unchanged`
    /// conditions are left out.
    pub fn commands(&self) -> Vec<CallForwarding> {
        REASONS
            .iter()
            .filter_map(|&reason| {
                let policy = self.get(reason)?;
                match policy {
                    ForwardPolicy::Unchanged => None,
                    ForwardPolicy::Disable => Some(CallForwarding {
                        reason,
                        enabled: false,
                        number: None,
                        no_reply_seconds: None,
                    }),
                    ForwardPolicy::Enable(number) => Some(CallForwarding {
                        reason,
                        enabled: true,
                        number: Some(number.clone()),
                        no_reply_seconds: if reason == ForwardReason::NoReply {
                            self.no_reply_seconds
                        } else {
                            None
                        },
                    }),
                }
            })
            .collect()
    }
}

/// The text of one condition on the forwarding status page (F-5.2.4.1): the number when
/// forwarding is on, `OFF` when off, `Not Set` when the policy is `Unchanged` (F-6.11.4).
///
/// `setting` is what the module read back for the condition: it wins over the policy, so
/// the page shows the SIM's real state. Before anything was read back the policy's
/// intended value is shown. Forwarding that is on without a known number shows `ON`.
pub fn status_text(setting: Option<&CallForwarding>, policy: &ForwardPolicy) -> String {
    match (policy, setting) {
        (ForwardPolicy::Unchanged, _) => "Not Set".to_string(),
        (_, Some(s)) if s.enabled => s.number.clone().unwrap_or_else(|| "ON".to_string()),
        (_, Some(_)) => "OFF".to_string(),
        (ForwardPolicy::Enable(n), None) => n.clone(),
        (ForwardPolicy::Disable, None) => "OFF".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_6_11_policy_parse() {
        assert_eq!("disable".parse(), Ok(ForwardPolicy::Disable));
        assert_eq!("OFF".parse(), Ok(ForwardPolicy::Disable));
        assert_eq!("unchanged".parse(), Ok(ForwardPolicy::Unchanged));
        assert_eq!("Not Set".parse(), Ok(ForwardPolicy::Unchanged));
        assert_eq!(
            "+86 138-0000-0000".parse(),
            Ok(ForwardPolicy::Enable("+8613800000000".into()))
        );
        assert_eq!("1001".parse(), Ok(ForwardPolicy::Enable("1001".into())));
        for bad in ["", "+", "abc", "12a4", "1234567890123456789012", "++1"] {
            let e = bad.parse::<ForwardPolicy>().unwrap_err();
            assert_eq!(e, ForwardingError::Syntax(bad.into()));
            assert!(e.to_string().contains("expected `disable`"));
        }
    }

    #[test]
    fn f_6_11_3_default_is_disable_for_all_four() {
        let c = ForwardingConfig::default();
        let cmds = c.commands();
        assert_eq!(cmds.len(), 4);
        for (cmd, reason) in cmds.iter().zip(REASONS) {
            assert_eq!(cmd.reason, reason);
            assert!(!cmd.enabled);
            assert_eq!(cmd.number, None);
        }
    }

    #[test]
    fn f_6_11_1_commands_per_condition_unchanged_left_out() {
        let c = ForwardingConfig {
            unconditional: ForwardPolicy::Unchanged,
            busy: ForwardPolicy::Enable("+8613800000000".into()),
            no_reply: ForwardPolicy::Enable("1002".into()),
            not_reachable: ForwardPolicy::Disable,
            no_reply_seconds: Some(20),
        };
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(
            c.commands(),
            vec![
                CallForwarding {
                    reason: ForwardReason::Busy,
                    enabled: true,
                    number: Some("+8613800000000".into()),
                    no_reply_seconds: None,
                },
                CallForwarding {
                    reason: ForwardReason::NoReply,
                    enabled: true,
                    number: Some("1002".into()),
                    no_reply_seconds: Some(20),
                },
                CallForwarding {
                    reason: ForwardReason::NotReachable,
                    enabled: false,
                    number: None,
                    no_reply_seconds: None,
                },
            ]
        );
    }

    #[test]
    fn f_6_11_config_get_set_and_validate() {
        let mut c = ForwardingConfig::default();
        assert_eq!(
            c.set(ForwardReason::NotReachable, ForwardPolicy::Unchanged),
            Ok(())
        );
        assert_eq!(
            c.get(ForwardReason::NotReachable),
            Some(&ForwardPolicy::Unchanged)
        );
        assert_eq!(c.get(ForwardReason::All), None);
        assert_eq!(
            c.set(ForwardReason::AllConditional, ForwardPolicy::Disable),
            Err(ForwardingError::Reason(ForwardReason::AllConditional))
        );
        for bad in [0, 3, 35, 12] {
            c.no_reply_seconds = Some(bad);
            assert_eq!(c.validate(), Err(ForwardingError::NoReplySeconds(bad)));
        }
    }

    #[test]
    fn f_6_11_config_deserialises() {
        let c: ForwardingConfig =
            serde_json::from_str(r#"{"busy": "1001", "unconditional": "unchanged"}"#).unwrap();
        assert_eq!(c.busy, ForwardPolicy::Enable("1001".into()));
        assert_eq!(c.unconditional, ForwardPolicy::Unchanged);
        assert_eq!(c.no_reply, ForwardPolicy::Disable);
        let e = serde_json::from_str::<ForwardingConfig>(r#"{"busy": "x1"}"#).unwrap_err();
        assert!(e.to_string().contains("`x1`"), "{e}");
        assert!(serde_json::from_str::<ForwardingConfig>(r#"{"always": "1"}"#).is_err());
    }

    #[test]
    fn f_5_2_4_1_status_text() {
        let on = CallForwarding {
            reason: ForwardReason::Busy,
            enabled: true,
            number: Some("1001".into()),
            no_reply_seconds: None,
        };
        let off = CallForwarding {
            enabled: false,
            number: None,
            ..on.clone()
        };
        let enable = ForwardPolicy::Enable("1001".into());
        assert_eq!(status_text(Some(&on), &enable), "1001");
        assert_eq!(status_text(None, &enable), "1001");
        assert_eq!(status_text(Some(&off), &ForwardPolicy::Disable), "OFF");
        assert_eq!(status_text(None, &ForwardPolicy::Disable), "OFF");
        // F-6.11.4: Unchanged shows Not Set whatever the SIM has.
        assert_eq!(status_text(Some(&on), &ForwardPolicy::Unchanged), "Not Set");
        assert_eq!(status_text(None, &ForwardPolicy::Unchanged), "Not Set");
        // The read-back wins: enabling failed at the network.
        assert_eq!(status_text(Some(&off), &enable), "OFF");
        let on_unknown = CallForwarding {
            number: None,
            ..on.clone()
        };
        assert_eq!(
            status_text(Some(&on_unknown), &ForwardPolicy::Disable),
            "ON"
        );
    }
}
