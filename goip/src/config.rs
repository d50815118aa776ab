//! Per-line SMS-server settings (GOIP-INTERFACES §1.1, §1.2) and their validation.
//!
//! A GoIP line has its own "SMS Server: Enable / SMS Server IP / SMS Server Port / SMS
//! Client ID / Password". Here that is one [`SmsServerConfig`] per line, meant to be read
//! from a `[line.sms_server]` table (error messages name the keys as
//! `sms_server.<key>`):
//!
//! ```toml
//! [line.sms_server]
//! enabled = true
//! server = "sms.example.net"   # host, host:port or [v6]:port; port 44444 by default
//! client_id = "goip1"
//! password = "secret"
//! local_port = 10991           # default 10990 + line number
//! ```

use std::fmt;

use cellgate_hal::LineId;
use serde::Deserialize;

/// The server port every known SMS server listens on (§1.1).
pub const DEFAULT_SERVER_PORT: u16 = 44444;

/// The first line's local port minus one: line N binds `10990 + N` by default (§1.2).
pub const LOCAL_PORT_BASE: u16 = 10990;

/// The longest client id or password, in bytes: what the vendor's server stores (§2.5).
pub const MAX_CREDENTIAL_BYTES: usize = 64;

/// One line's SMS-server settings, as written in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsServerConfig {
    /// Whether the line registers with an SMS server at all (off by default).
    #[serde(default)]
    pub enabled: bool,
    /// The server: `host`, `host:port`, `[v6-address]:port` or a bare IPv6 address;
    /// the port defaults to [`DEFAULT_SERVER_PORT`].
    #[serde(default)]
    pub server: String,
    /// The line's SMS client id (`id` in every datagram); servers key lines by it.
    #[serde(default)]
    pub client_id: String,
    /// The line's password (`pass`/`password`; also authenticates server commands).
    #[serde(default)]
    pub password: String,
    /// The UDP port the line's socket binds; default `10990 + line` (§1.2).
    #[serde(default)]
    pub local_port: Option<u16>,
}

/// A server as configured: a host name or address and a port, not yet resolved (host
/// names are re-resolved while running, §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    /// Host name or IP address, without brackets.
    pub host: String,
    /// UDP port.
    pub port: u16,
}

impl fmt::Display for ServerAddr {
    /// `host:port`, with brackets around an IPv6 address: the form
    /// `tokio::net::lookup_host` takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// An enabled line's settings after validation: what the shell runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSetup {
    /// The line.
    pub line: LineId,
    /// Where keepalives go.
    pub server: ServerAddr,
    /// `id`.
    pub client_id: String,
    /// `pass` / `password`.
    pub password: String,
    /// The local UDP port of the line's socket.
    pub local_port: u16,
}

/// A setting that cannot be used, naming the line and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {}: sms_server.{key}: {reason}", line.0)]
pub struct ConfigError {
    /// The line whose setting is wrong.
    pub line: LineId,
    /// The key inside the line's `sms_server` table.
    pub key: &'static str,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl SmsServerConfig {
    /// The server address, or why it cannot be used.
    pub fn server_addr(&self) -> Result<ServerAddr, String> {
        parse_server(&self.server)
    }

    /// The local port `line` binds: the configured one or `10990 + line`.
    pub fn local_port_for(&self, line: LineId) -> Option<u16> {
        match self.local_port {
            Some(p) => Some(p),
            None => LOCAL_PORT_BASE.checked_add(line.0),
        }
    }

    /// Checks one line on its own; `Ok(None)` when the function is disabled.
    pub fn validate(&self, line: LineId) -> Result<Option<LineSetup>, ConfigError> {
        if !self.enabled {
            return Ok(None);
        }
        let err = |key: &'static str, reason: String| ConfigError { line, key, reason };
        let server = self.server_addr().map_err(|r| err("server", r))?;
        check_credential(&self.client_id).map_err(|r| err("client_id", r))?;
        check_credential(&self.password).map_err(|r| err("password", r))?;
        let local_port =
            match self.local_port_for(line) {
                Some(0) => return Err(err(
                    "local_port",
                    "0 is not a port; each line needs a fixed local port (default 10990 + line)"
                        .into(),
                )),
                Some(p) => p,
                None => {
                    return Err(err(
                        "local_port",
                        format!("the default 10990 + {} is above 65535; set a port", line.0),
                    ))
                }
            };
        Ok(Some(LineSetup {
            line,
            server,
            client_id: self.client_id.clone(),
            password: self.password.clone(),
            local_port,
        }))
    }
}

/// Checks every line and the rules between lines: two lines may not use one client id on
/// the same server (§1.1: servers key lines by id), nor one local port (§1.2: one socket
/// per line). Returns the enabled lines, ready to run, in the given order; the error
/// names the line (the later one of a clashing pair) and the key.
///
/// "The same server" compares the configured host (case-insensitively) and port, without
/// resolving names.
pub fn validate_all(lines: &[(LineId, SmsServerConfig)]) -> Result<Vec<LineSetup>, ConfigError> {
    let mut setups: Vec<LineSetup> = Vec::new();
    for (line, config) in lines {
        let Some(setup) = config.validate(*line)? else {
            continue;
        };
        for other in &setups {
            if other.line == setup.line {
                return Err(ConfigError {
                    line: setup.line,
                    key: "enabled",
                    reason: "the line has two sms_server settings".into(),
                });
            }
            if other.client_id == setup.client_id
                && other.server.port == setup.server.port
                && other.server.host.eq_ignore_ascii_case(&setup.server.host)
            {
                return Err(ConfigError {
                    line: setup.line,
                    key: "client_id",
                    reason: format!(
                        "\"{}\" is already line {}'s id on the same server {}; every line needs its own id",
                        setup.client_id, other.line.0, setup.server
                    ),
                });
            }
            if other.local_port == setup.local_port {
                return Err(ConfigError {
                    line: setup.line,
                    key: "local_port",
                    reason: format!(
                        "{} is already line {}'s local port; every line needs its own socket",
                        setup.local_port, other.line.0
                    ),
                });
            }
        }
        setups.push(setup);
    }
    Ok(setups)
}

/// An id or password must be sendable in both grammars of §2.2: no `;` (report fields),
/// no blanks (command tokens), no control characters, at most 64 bytes.
fn check_credential(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must be set when the SMS server is enabled".into());
    }
    if value.len() > MAX_CREDENTIAL_BYTES {
        return Err(format!(
            "{} bytes is too long; servers keep at most {MAX_CREDENTIAL_BYTES}",
            value.len()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| *c == ';' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{c:?} cannot be sent: the protocol has no escaping for ';', blanks or control characters"
        ));
    }
    Ok(())
}

fn parse_server(text: &str) -> Result<ServerAddr, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("must be set when the SMS server is enabled (host or host:port)".into());
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("\"{text}\": missing ']' after the IPv6 address"))?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("\"{text}\": expected ':port' after ']'")),
            },
        }
    } else if text.matches(':').count() > 1 {
        // A bare IPv6 address: no port can be told apart.
        (text, None)
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(format!("\"{text}\": the host is missing"));
    }
    if let Some(c) = host
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '/')
    {
        return Err(format!("\"{text}\": {c:?} cannot be in a host name"));
    }
    let port = match port {
        None => DEFAULT_SERVER_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => {
                return Err(format!(
                    "\"{text}\": the port must be a number from 1 to 65535"
                ))
            }
            Ok(p) => p,
        },
    };
    Ok(ServerAddr {
        host: host.to_owned(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(server: &str, id: &str) -> SmsServerConfig {
        SmsServerConfig {
            enabled: true,
            server: server.into(),
            client_id: id.into(),
            password: "pw".into(),
            local_port: None,
        }
    }

    #[test]
    fn reads_toml_with_defaults() {
        let c: SmsServerConfig =
            toml::from_str("enabled = true\nserver = \"sms.example.net\"\nclient_id = \"goip1\"\npassword = \"x\"\n")
                .unwrap();
        let s = c.validate(LineId(3)).unwrap().unwrap();
        assert_eq!(
            s.server,
            ServerAddr {
                host: "sms.example.net".into(),
                port: 44444
            }
        );
        assert_eq!(s.local_port, 10993);
        assert_eq!(s.client_id, "goip1");
        let off: SmsServerConfig = toml::from_str("").unwrap();
        assert_eq!(off, SmsServerConfig::default());
        assert_eq!(off.validate(LineId(1)).unwrap(), None);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<SmsServerConfig>("enabled = true\nserver_port = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server_port"), "{err}");
    }

    #[test]
    fn server_forms() {
        let p = |s: &str| parse_server(s);
        assert_eq!(p("10.0.0.1:5000").unwrap().port, 5000);
        assert_eq!(p("10.0.0.1").unwrap().port, 44444);
        assert_eq!(
            p("[::1]:9").unwrap(),
            ServerAddr {
                host: "::1".into(),
                port: 9
            }
        );
        assert_eq!(p("[::1]").unwrap().port, 44444);
        assert_eq!(p("fe80::1").unwrap().host, "fe80::1");
        assert_eq!(p("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert_eq!(p("h:1").unwrap().to_string(), "h:1");
        for bad in [
            "", ":44444", "h:0", "h:70000", "h:x", "[::1", "[::1]x", "a b:1",
        ] {
            assert!(p(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn empty_id_or_password_is_named_f_6_13_6() {
        let mut c = enabled("h", "");
        let e = c.validate(LineId(2)).unwrap_err();
        assert_eq!((e.line, e.key), (LineId(2), "client_id"));
        assert!(e.to_string().starts_with("line 2: sms_server.client_id: "));
        c.client_id = "g".into();
        c.password.clear();
        assert_eq!(c.validate(LineId(2)).unwrap_err().key, "password");
        c.password = "a;b".into();
        assert_eq!(c.validate(LineId(2)).unwrap_err().key, "password");
        c.password = "a b".into();
        assert_eq!(c.validate(LineId(2)).unwrap_err().key, "password");
        c.password = "x".repeat(65);
        assert_eq!(c.validate(LineId(2)).unwrap_err().key, "password");
    }

    #[test]
    fn bad_ports_are_named() {
        let e = enabled("h:0", "g").validate(LineId(4)).unwrap_err();
        assert_eq!((e.line, e.key), (LineId(4), "server"));
        let c = SmsServerConfig {
            local_port: Some(0),
            ..enabled("h", "g")
        };
        assert_eq!(c.validate(LineId(4)).unwrap_err().key, "local_port");
        let e = enabled("h", "g").validate(LineId(60000)).unwrap_err();
        assert_eq!(e.key, "local_port");
    }

    #[test]
    fn disabled_lines_are_not_checked() {
        let c = SmsServerConfig {
            enabled: false,
            server: "h:0".into(),
            ..SmsServerConfig::default()
        };
        assert_eq!(validate_all(&[(LineId(1), c)]).unwrap(), vec![]);
    }

    #[test]
    fn one_id_twice_on_one_server_is_rejected_f_6_13_6() {
        let lines = [
            (LineId(1), enabled("SMS.example.net", "goip")),
            (LineId(2), enabled("other.example.net", "goip")),
            (LineId(3), enabled("sms.example.net:44444", "goip")),
        ];
        let e = validate_all(&lines).unwrap_err();
        assert_eq!((e.line, e.key), (LineId(3), "client_id"));
        assert!(e.reason.contains("line 1"), "{e}");
        // The same id on different servers, or different ids on one server, are fine.
        let ok = validate_all(&lines[..2]).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].local_port, 10992);
    }

    #[test]
    fn one_local_port_twice_is_rejected() {
        let lines = [
            (LineId(1), enabled("h", "a")),
            (
                LineId(2),
                SmsServerConfig {
                    local_port: Some(10991),
                    ..enabled("h", "b")
                },
            ),
        ];
        let e = validate_all(&lines).unwrap_err();
        assert_eq!((e.line, e.key), (LineId(2), "local_port"));
    }
}
