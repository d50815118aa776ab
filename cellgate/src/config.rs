//! The configuration file of `cellgate run` (real hardware).
//!
//! Every key is checked at load; an unknown key or a bad value stops start-up with a
//! message that names the key. Nothing here trusts anyone by default: with no
//! `trusted_sources`, the gateway accepts no call.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use cellgate_engine::{GatewayConfig, InboundTrust};
use serde::Deserialize;
use thiserror::Error;

/// Why a configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key, or a value of the wrong type (the message names the key
    /// and the line).
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// What and where.
        message: String,
    },
}

/// `[sip]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// Local address to bind, e.g. `0.0.0.0:5060`.
    pub listen: SocketAddr,
    /// Address peers reach us at (Via, Contact, SDP). Defaults to `listen` when that is
    /// a concrete address.
    pub public_addr: Option<SocketAddr>,
    /// Source addresses allowed to place GSM calls. Empty: nobody (safe default).
    #[serde(default)]
    pub trusted_sources: Vec<IpAddr>,
    /// F-6.4.8: SIP status when no line is free.
    #[serde(default = "default_no_line_status")]
    pub no_line_status: u16,
    /// F-6.4.18: seconds before an unanswered call gets 408.
    #[serde(default = "default_no_answer_seconds")]
    pub no_answer_timeout_secs: u64,
}

fn default_no_line_status() -> u16 {
    503
}

fn default_no_answer_seconds() -> u64 {
    75
}

/// One `[[line]]`: a module on a serial port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSection {
    /// Line number, from 1.
    pub id: u16,
    /// Serial device, preferably a stable `/dev/serial/by-id/...` path.
    pub device: PathBuf,
    /// Baud rate.
    #[serde(default = "default_baud")]
    pub baud: u32,
}

fn default_baud() -> u32 {
    115_200
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// SIP side.
    pub sip: SipSection,
    /// Lines.
    #[serde(default, rename = "line")]
    pub lines: Vec<LineSection>,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let config: Config = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if !(300..=699).contains(&config.sip.no_line_status) {
            return Err(invalid(format!(
                "sip.no_line_status = {}: must be a SIP failure status (300-699)",
                config.sip.no_line_status
            )));
        }
        if config.sip.no_answer_timeout_secs == 0 {
            return Err(invalid("sip.no_answer_timeout_secs must be at least 1".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for line in &config.lines {
            if line.id == 0 {
                return Err(invalid("line.id = 0: lines are numbered from 1".into()));
            }
            if !seen.insert(line.id) {
                return Err(invalid(format!("line.id = {} appears twice", line.id)));
            }
        }
        if config.sip.public_addr.is_none() && config.sip.listen.ip().is_unspecified() {
            return Err(invalid(format!(
                "sip.public_addr is required when sip.listen is {} (peers need a concrete address)",
                config.sip.listen
            )));
        }
        Ok(config)
    }

    /// The engine settings this file asks for.
    pub fn gateway_config(&self) -> GatewayConfig {
        let public = self.sip.public_addr.unwrap_or(self.sip.listen);
        let mut config = GatewayConfig::new(public);
        config.trust = if self.sip.trusted_sources.is_empty() {
            InboundTrust::DenyAll
        } else {
            InboundTrust::Addresses(self.sip.trusted_sources.clone())
        };
        config.no_line_status = self.sip.no_line_status;
        config.no_answer_timeout = std::time::Duration::from_secs(self.sip.no_answer_timeout_secs);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn default_trust_is_nobody() {
        let c = parse("[sip]\nlisten = \"192.0.2.1:5060\"\n").unwrap();
        assert_eq!(c.gateway_config().trust, InboundTrust::DenyAll);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse("[sip]\nlisten = \"192.0.2.1:5060\"\nlisten_port = 5060\n").unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse("[sip]\nlisten = \"192.0.2.1:5060\"\nno_line_status = 200\n").unwrap_err();
        assert!(err.to_string().contains("sip.no_line_status"), "{err}");
        let err = parse("[sip]\nlisten = \"0.0.0.0:5060\"\n").unwrap_err();
        assert!(err.to_string().contains("sip.public_addr"), "{err}");
        let err = parse(
            "[sip]\nlisten = \"192.0.2.1:5060\"\n[[line]]\nid = 1\ndevice = \"/dev/a\"\n[[line]]\nid = 1\ndevice = \"/dev/b\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("line.id = 1 appears twice"), "{err}");
    }
}
