//! What one AT command is and how its answer is shaped.
//!
//! A command carries everything the codec needs to classify the lines that come back
//! (which info prefix belongs to it, whether dial finals apply, whether a `> ` prompt and
//! a body follow) so the codec itself stays free of per-command tables.

use std::time::Duration;

/// Error building an [`AtCommand`]: the line would break the line discipline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The command line contains CR, LF, Ctrl-Z, ESC or another control character, which
    /// would end the command early or inject a second one.
    #[error("command line contains control characters: {0:?}")]
    ControlCharacter(String),
    /// The command line does not start with `AT`.
    #[error("command line does not start with AT: {0:?}")]
    NotAt(String),
}

/// Which lines between the command and its final result code belong to the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoShape {
    /// No information lines expected (`ATE0`, `AT+CMEE=1`, `ATD..;`).
    None,
    /// Lines starting with this prefix (e.g. `+CLCC:`) belong to the command.
    Prefix {
        /// The prefix including the colon, e.g. `+CREG:`.
        prefix: String,
        /// Only the first matching line is the answer; later ones are URCs. Used where the
        /// read-form prefix is also a URC prefix (`+CREG:`, `+CPIN:`), so an unsolicited
        /// `+CREG:` arriving during `AT+CREG?` cannot double the answer.
        single: bool,
        /// Each prefixed line is followed by one PDU line (`+CMGR:`, `+CMGL:`).
        pdu_follows: bool,
    },
    /// Any line that is not a URC or a final result code belongs to the command
    /// (`AT+CGSN`, `AT+CGMI`, `ATI`...).
    Bare,
}

/// One AT command to send, with what its answer looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtCommand {
    line: String,
    info: InfoShape,
    dial: bool,
    body: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

/// Extended commands whose answers are bare lines without a `+XXX:` prefix.
const BARE_COMMANDS: &[&str] = &[
    "AT+CGSN", "AT+GSN", "AT+CGMI", "AT+GMI", "AT+CGMM", "AT+GMM", "AT+CGMR", "AT+GMR", "AT+CIMI",
    "AT+QCCID", "AT+CCID", "AT+ICCID", "AT+GCAP",
];

/// Info prefixes that are also URC prefixes: only the first line answers the command.
const SINGLE_PREFIXES: &[&str] = &["+CREG:", "+CGREG:", "+CPIN:", "+CFUN:", "+CUSD:"];

impl AtCommand {
    /// Build a command from its line (without the trailing CR), inferring the answer shape:
    /// `AT+XXX...` expects `+XXX:` info lines, identity queries and `ATI` expect bare lines,
    /// `ATD` uses dial finals (`NO CARRIER`, `BUSY`...), other basic commands expect none.
    pub fn new(line: impl Into<String>) -> Result<Self, CommandError> {
        let line = line.into();
        if line.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(CommandError::ControlCharacter(line));
        }
        let upper = line.to_ascii_uppercase();
        if !upper.starts_with("AT") {
            return Err(CommandError::NotAt(line));
        }
        let dial = upper.starts_with("ATD");
        let info = infer_shape(&upper);
        Ok(Self {
            line,
            info,
            dial,
            body: None,
            timeout: None,
        })
    }

    /// Override the inferred answer shape.
    pub fn with_info(mut self, info: InfoShape) -> Self {
        self.info = info;
        self
    }

    /// Override the timeout the channel would pick from its [`Timeouts`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Attach a body sent after the module's `> ` prompt, terminated with Ctrl-Z
    /// (`AT+CMGS=<len>` followed by the PDU hex).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The command line as sent, without the CR.
    pub fn line(&self) -> &str {
        &self.line
    }

    /// How information lines are recognised.
    pub fn info(&self) -> &InfoShape {
        &self.info
    }

    /// Whether `NO CARRIER`/`BUSY`/`NO ANSWER`/`NO DIALTONE` end this command.
    pub fn is_dial(&self) -> bool {
        self.dial
    }

    /// The body sent after the prompt, if any.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// The explicit timeout, if one was set.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

fn infer_shape(upper: &str) -> InfoShape {
    if upper == "ATI" || upper.starts_with("ATI") && upper[3..].bytes().all(|b| b.is_ascii_digit())
    {
        return InfoShape::Bare;
    }
    let Some(rest) = upper.strip_prefix("AT+") else {
        return InfoShape::None;
    };
    let name_len = rest.find(['=', '?', ';']).unwrap_or(rest.len());
    let name = &rest[..name_len];
    let full = format!("AT+{name}");
    let suffix = &rest[name_len..];
    if BARE_COMMANDS.contains(&full.as_str()) && (suffix.is_empty() || suffix == "?") {
        return InfoShape::Bare;
    }
    let prefix = format!("+{name}:");
    let single = SINGLE_PREFIXES.contains(&prefix.as_str());
    let pdu_follows = matches!(name, "CMGR" | "CMGL");
    InfoShape::Prefix {
        prefix,
        single,
        pdu_follows,
    }
}

/// Per-command timeouts, chosen from the command line unless a command sets its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Everything not listed below (5 s).
    pub default: Duration,
    /// `ATA`, `ATD` and `AT+CHLD=` (30 s): the network may take long to set up, hold or
    /// retrieve the call.
    pub call: Duration,
    /// `AT+CMGS` / `AT+CMSS` (60 s): waits for the network's acknowledgement.
    pub sms_send: Duration,
    /// `AT+COPS=?` (180 s): a full band scan.
    pub operator_scan: Duration,
    /// `AT+CFUN=...` (15 s): radio power changes and restarts.
    pub power: Duration,
    /// Supplementary services that wait for the network (`AT+CUSD`, `AT+CCFC`,
    /// `AT+CLCK`, `AT+CCWA=<n>,<mode>`; 30 s).
    pub supplementary: Duration,
    /// `AT+CGATT=<state>` (75 s): a GPRS attach or detach waits for the network (the
    /// maximum response time module manuals give).
    pub packet_attach: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            default: Duration::from_secs(5),
            call: Duration::from_secs(30),
            sms_send: Duration::from_secs(60),
            operator_scan: Duration::from_secs(180),
            power: Duration::from_secs(15),
            supplementary: Duration::from_secs(30),
            packet_attach: Duration::from_secs(75),
        }
    }
}

impl Timeouts {
    /// The timeout for a command: its own if set, else the one for its kind.
    pub fn for_command(&self, cmd: &AtCommand) -> Duration {
        if let Some(t) = cmd.timeout() {
            return t;
        }
        let upper = cmd.line().to_ascii_uppercase();
        if upper == "ATA" || upper.starts_with("ATD") || upper.starts_with("AT+CHLD=") {
            self.call
        } else if upper.starts_with("AT+CMGS") || upper.starts_with("AT+CMSS") {
            self.sms_send
        } else if upper.starts_with("AT+COPS=?")
            || (upper.starts_with("AT+COPS=") && !upper.starts_with("AT+COPS=3"))
        {
            // A scan, or a selection that makes the module register anew.
            self.operator_scan
        } else if upper.starts_with("AT+CUSD=")
            || upper.starts_with("AT+CCFC=")
            || upper.starts_with("AT+CLCK=")
            // With a <mode> the network is asked; `AT+CCWA=1` alone is local.
            || (upper.starts_with("AT+CCWA=") && upper.contains(','))
        {
            self.supplementary
        } else if upper.starts_with("AT+CGATT=") && !upper.starts_with("AT+CGATT=?") {
            self.packet_attach
        } else if upper.starts_with("AT+CFUN=") {
            self.power
        } else {
            self.default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str, single: bool) -> InfoShape {
        InfoShape::Prefix {
            prefix: p.into(),
            single,
            pdu_follows: false,
        }
    }

    #[test]
    fn shapes_are_inferred() {
        let shape = |l: &str| AtCommand::new(l).map(|c| c.info().clone());
        assert_eq!(shape("AT+CLCC"), Ok(prefix("+CLCC:", false)));
        assert_eq!(shape("AT+CREG?"), Ok(prefix("+CREG:", true)));
        assert_eq!(shape("AT+COPS=3,0"), Ok(prefix("+COPS:", false)));
        assert_eq!(shape("AT+CGSN"), Ok(InfoShape::Bare));
        assert_eq!(shape("at+qccid"), Ok(InfoShape::Bare));
        assert_eq!(shape("ATI"), Ok(InfoShape::Bare));
        assert_eq!(shape("ATE0"), Ok(InfoShape::None));
        assert_eq!(shape("ATD123;"), Ok(InfoShape::None));
        assert_eq!(
            shape("AT+CMGR=3"),
            Ok(InfoShape::Prefix {
                prefix: "+CMGR:".into(),
                single: false,
                pdu_follows: true
            })
        );
        assert!(AtCommand::new("ATD123;").is_ok_and(|c| c.is_dial()));
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(AtCommand::new("ATD123;\rAT+CFUN=0").is_err());
        assert!(AtCommand::new("AT+CMGS=1\x1a").is_err());
        assert!(AtCommand::new("hello").is_err());
    }

    #[test]
    fn timeouts_by_kind() {
        let t = Timeouts::default();
        let of = |l: &str| AtCommand::new(l).map(|c| t.for_command(&c));
        assert_eq!(of("AT"), Ok(Duration::from_secs(5)));
        assert_eq!(of("ATA"), Ok(Duration::from_secs(30)));
        assert_eq!(of("ATD+4912345;"), Ok(Duration::from_secs(30)));
        assert_eq!(of("AT+CMGS=23"), Ok(Duration::from_secs(60)));
        assert_eq!(of("AT+COPS=?"), Ok(Duration::from_secs(180)));
        assert_eq!(of("AT+COPS?"), Ok(Duration::from_secs(5)));
        assert_eq!(of("AT+COPS=0"), Ok(Duration::from_secs(180)));
        assert_eq!(of("AT+COPS=3,0"), Ok(Duration::from_secs(5)));
        assert_eq!(of("AT+CUSD=1,\"*100#\",15"), Ok(Duration::from_secs(30)));
        assert_eq!(of("AT+CCFC=0,2"), Ok(Duration::from_secs(30)));
        assert_eq!(of("AT+CCWA=1,0"), Ok(Duration::from_secs(30)));
        assert_eq!(of("AT+CCWA=1"), Ok(Duration::from_secs(5)));
        assert_eq!(of("AT+CHLD=2"), Ok(Duration::from_secs(30)));
        assert_eq!(of("AT+CGATT=1"), Ok(Duration::from_secs(75)));
        assert_eq!(of("AT+CGATT=0"), Ok(Duration::from_secs(75)));
        assert_eq!(of("AT+CGATT?"), Ok(Duration::from_secs(5)));
        assert_eq!(of("AT+CGATT=?"), Ok(Duration::from_secs(5)));
        assert_eq!(of("AT+CLIR=1"), Ok(Duration::from_secs(5)));
        let explicit =
            AtCommand::new("AT").map(|c| t.for_command(&c.with_timeout(Duration::from_secs(1))));
        assert_eq!(explicit, Ok(Duration::from_secs(1)));
    }
}
