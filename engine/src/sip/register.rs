//! Registration client (RFC 3261 §10) as a sans-IO state machine, one per SIP account:
//! the single-server account, each line's (per-line mode), each group's, or the trunk's
//! optional registration (F-6.3.2 to F-6.3.24).
//!
//! It sends REGISTER with `Expires`, answers 401/407 with digest credentials (MD5 or
//! SHA-256, `qop=auth`), honours 423 `Min-Expires`, refreshes at half the granted
//! expiry, backs off after failures, and moves between a primary and a backup server.
//!
//! Fail-over and fail-back (F-6.3.12; the manual leaves the criteria open, these are
//! ours and `docs/sip.md` states them):
//! - the primary counts as *down* after `failover_after` consecutive REGISTER
//!   transactions that got no answer at all (Timer F) or `503 Service Unavailable`;
//!   the account then registers with the backup at once;
//! - while on the backup, the primary is probed with `OPTIONS` every `probe_interval`;
//!   the first probe that gets *any* response makes the account register with the
//!   primary again (fail-back). The backup binding is left to expire.
//! - any other failure (403, 404, wrong password...) is the account's problem, not the
//!   server's: no fail-over, retry with back-off.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ezk_sip_types::header::typed::{CSeq, CallID, MinExpires};
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::{Method, Name};
use tracing::{info, warn};

use super::digest::DigestClient;
use super::ids::IdGenerator;
use super::message::{Request, Response};
use super::timers::SipTimers;
use super::uac::NonInviteClient;
use super::uas::TimerOutcome;

/// One SIP server an account registers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Registrar address (F-6.3.6).
    pub registrar: SocketAddr,
    /// Home domain of the account's URI (F-6.3.11); default: the registrar address.
    pub domain: Option<String>,
    /// Outbound proxy (F-6.3.10): requests go there, with a `Route` header naming it.
    pub outbound_proxy: Option<SocketAddr>,
    /// Transport toward the next hop (UDP, TCP or TLS; issue #5).
    pub transport: crate::connections::SipTransportKind,
}

impl ServerConfig {
    /// A server at `registrar` with no domain or proxy.
    pub fn new(registrar: SocketAddr) -> Self {
        Self {
            registrar,
            domain: None,
            outbound_proxy: None,
            transport: crate::connections::SipTransportKind::Udp,
        }
    }

    /// The domain used in the account's URIs.
    pub fn domain(&self) -> String {
        self.domain
            .clone()
            .unwrap_or_else(|| self.registrar.to_string())
    }

    /// Where requests are sent.
    pub fn next_hop(&self) -> SocketAddr {
        self.outbound_proxy.unwrap_or(self.registrar)
    }
}

/// The account's identity and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// Authentication id (F-6.3.3).
    pub auth_id: String,
    /// Password (F-6.3.4).
    pub password: String,
    /// Phone number: the user part of the account URI (F-6.3.8); default `auth_id`.
    pub phone_number: Option<String>,
    /// Display name in `From` (F-6.3.9).
    pub display_name: Option<String>,
}

impl std::fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountConfig")
            .field("auth_id", &self.auth_id)
            .field("password", &"<hidden>")
            .field("phone_number", &self.phone_number)
            .field("display_name", &self.display_name)
            .finish()
    }
}

impl AccountConfig {
    /// The user part of the account URI.
    pub fn user(&self) -> &str {
        self.phone_number.as_deref().unwrap_or(&self.auth_id)
    }
}

/// Settings of one registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationConfig {
    /// What it is for: `single`, `line 3`, `group 2`, `trunk` (logs and status).
    pub label: String,
    /// Identity and secret.
    pub account: AccountConfig,
    /// The server normally used.
    pub primary: ServerConfig,
    /// The server used while the primary is down (F-6.3.12).
    pub backup: Option<ServerConfig>,
    /// Requested registration lifetime in seconds (F-6.3.7).
    pub expires: u32,
    /// Consecutive unanswered REGISTERs (or 503s) before failing over.
    pub failover_after: u32,
    /// How often the primary is probed while on the backup.
    pub probe_interval: Duration,
    /// First retry delay after a failure; doubles up to `retry_max`.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Lines this account stands for (per-line and per-group modes); empty = the whole
    /// gateway. The account is paused while none of them may use VoIP (F-5.2.1.6,
    /// F-6.10.3, F-6.16.8).
    pub lines: Vec<cellgate_hal::LineId>,
}

impl RegistrationConfig {
    /// A registration with the defaults: 3600 s, fail over after 2 timeouts, probe
    /// every 30 s, retry 10 s doubling to 300 s.
    pub fn new(label: &str, account: AccountConfig, primary: ServerConfig) -> Self {
        Self {
            label: label.to_owned(),
            account,
            primary,
            backup: None,
            expires: 3600,
            failover_after: 2,
            probe_interval: Duration::from_secs(30),
            retry_min: Duration::from_secs(10),
            retry_max: Duration::from_secs(300),
            lines: Vec::new(),
        }
    }
}

/// Which configured server is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRole {
    /// The primary.
    Primary,
    /// The backup.
    Backup,
}

/// What an operator sees for one registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationStatus {
    /// Registered now.
    pub registered: bool,
    /// Server in use.
    pub role: ServerRole,
    /// Its address.
    pub server: SocketAddr,
    /// Why (e.g. `registered for 3600 s`, `no answer from 192.0.2.1:5060`,
    /// `refused: 403 Forbidden`, `authentication failed`).
    pub reason: String,
    /// When the binding lapses unless refreshed.
    pub expires_at: Option<Instant>,
}

/// One account's registration.
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    local: SocketAddr,
    timers: SipTimers,
    user_agent: String,
    role: ServerRole,
    call_id: String,
    local_tag: String,
    cseq: u32,
    expires: u32,
    auth: DigestClient,
    auth_tries: u32,
    tx: Option<NonInviteClient>,
    next_register: Option<Instant>,
    unreachable: u32,
    failures: u32,
    probe: Option<NonInviteClient>,
    next_probe: Option<Instant>,
    status: RegistrationStatus,
    outbox: VecDeque<(SocketAddr, Bytes)>,
    paused: bool,
}

impl Registration {
    /// A registration that starts when [`start`](Self::start) is called.
    pub fn new(
        config: RegistrationConfig,
        local: SocketAddr,
        timers: SipTimers,
        user_agent: &str,
        ids: &mut IdGenerator,
    ) -> Self {
        let auth = DigestClient::new(&config.account.auth_id, &config.account.password);
        let status = RegistrationStatus {
            registered: false,
            role: ServerRole::Primary,
            server: config.primary.registrar,
            reason: "not started".into(),
            expires_at: None,
        };
        Self {
            expires: config.expires,
            local,
            timers,
            user_agent: user_agent.to_owned(),
            role: ServerRole::Primary,
            call_id: ids.call_id(&local.ip().to_string()),
            local_tag: ids.tag(),
            cseq: 0,
            auth,
            auth_tries: 0,
            tx: None,
            next_register: None,
            unreachable: 0,
            failures: 0,
            probe: None,
            next_probe: None,
            status,
            outbox: VecDeque::new(),
            paused: false,
            config,
        }
    }

    /// Whether the account is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Unregisters (`Expires: 0`) and stops refreshing until [`resume`](Self::resume):
    /// the lines behind the account may not take VoIP calls now (`why` is shown in the
    /// status).
    pub fn pause(&mut self, now: Instant, ids: &mut IdGenerator, why: &str) {
        if self.paused {
            return;
        }
        info!(registration = %self.config.label, %why, "registration paused");
        // Registered, or a REGISTER in flight the server may have accepted: unregister.
        let was_registered = self.status.registered || self.tx.is_some();
        self.paused = true;
        self.next_register = None;
        self.next_probe = None;
        self.probe = None;
        self.status.registered = false;
        self.status.expires_at = None;
        self.status.reason = format!("paused: {why}");
        if was_registered {
            self.send_register(now, ids);
        } else {
            self.tx = None;
        }
    }

    /// Registers again after [`pause`](Self::pause).
    pub fn resume(&mut self, now: Instant, ids: &mut IdGenerator) {
        if !self.paused {
            return;
        }
        info!(registration = %self.config.label, "registration resumed");
        self.paused = false;
        self.auth_tries = 0;
        self.send_register(now, ids);
    }

    /// Its settings.
    pub fn config(&self) -> &RegistrationConfig {
        &self.config
    }

    /// Current status.
    pub fn status(&self) -> &RegistrationStatus {
        &self.status
    }

    /// The server in use.
    pub fn server(&self) -> &ServerConfig {
        match (self.role, &self.config.backup) {
            (ServerRole::Backup, Some(b)) => b,
            _ => &self.config.primary,
        }
    }

    /// Sends the first REGISTER.
    pub fn start(&mut self, now: Instant, ids: &mut IdGenerator) {
        self.send_register(now, ids);
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
        self.outbox.pop_front()
    }

    /// Next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.tx.as_ref().map(NonInviteClient::poll_timeout),
            self.probe.as_ref().map(NonInviteClient::poll_timeout),
            self.next_register,
            self.next_probe,
            self.status.expires_at.filter(|_| self.status.registered),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether `branch` belongs to one of this registration's transactions.
    pub fn owns(&self, branch: &str) -> bool {
        self.tx.as_ref().is_some_and(|t| t.branch == branch)
            || self.probe.as_ref().is_some_and(|t| t.branch == branch)
    }

    fn build_register(&mut self, ids: &mut IdGenerator) -> (Request, String) {
        let server = self.server().clone();
        let domain = server.domain();
        let user = self.config.account.user().to_owned();
        let uri = parse_uri(&format!("sip:{domain}"), server.registrar);
        let mut req = Request::new(Method::REGISTER, uri);
        let branch = ids.branch();
        req.headers.insert(
            Name::VIA,
            format!("SIP/2.0/UDP {};branch={branch};rport", self.local),
        );
        req.headers.insert(Name::MAX_FORWARDS, "70");
        if let Some(proxy) = server.outbound_proxy {
            req.headers.insert(Name::ROUTE, format!("<sip:{proxy};lr>"));
        }
        let display = self
            .config
            .account
            .display_name
            .as_ref()
            .map(|d| format!("\"{}\" ", d.replace('"', "")))
            .unwrap_or_default();
        req.headers.insert(
            Name::FROM,
            format!("{display}<sip:{user}@{domain}>;tag={}", self.local_tag),
        );
        req.headers
            .insert(Name::TO, format!("{display}<sip:{user}@{domain}>"));
        req.headers.insert_named(&CallID::new(self.call_id.clone()));
        self.cseq += 1;
        req.headers
            .insert_named(&CSeq::new(self.cseq, Method::REGISTER));
        req.headers
            .insert(Name::CONTACT, format!("<sip:{user}@{}>", self.local));
        let expires = if self.paused { 0 } else { self.expires };
        req.headers.insert(Name::EXPIRES, expires.to_string());
        req.headers
            .insert(Name::USER_AGENT, self.user_agent.clone());
        self.auth.authorize(&mut req.headers);
        (req, branch)
    }

    fn send_register(&mut self, now: Instant, ids: &mut IdGenerator) {
        let (req, branch) = self.build_register(ids);
        let dest = self.server().next_hop();
        let (tx, bytes) = NonInviteClient::start(&req, branch, dest, now, self.timers);
        self.tx = Some(tx);
        self.next_register = None;
        self.outbox.push_back((dest, bytes));
    }

    fn send_probe(&mut self, now: Instant, ids: &mut IdGenerator) {
        let primary = self.config.primary.clone();
        let domain = primary.domain();
        let uri = parse_uri(&format!("sip:{domain}"), primary.registrar);
        let mut req = Request::new(Method::OPTIONS, uri);
        let branch = ids.branch();
        req.headers.insert(
            Name::VIA,
            format!("SIP/2.0/UDP {};branch={branch};rport", self.local),
        );
        req.headers.insert(Name::MAX_FORWARDS, "70");
        let user = self.config.account.user().to_owned();
        req.headers.insert(
            Name::FROM,
            format!("<sip:{user}@{domain}>;tag={}", ids.tag()),
        );
        req.headers.insert(Name::TO, format!("<sip:{domain}>"));
        req.headers
            .insert_named(&CallID::new(ids.call_id(&self.local.ip().to_string())));
        req.headers.insert_named(&CSeq::new(1, Method::OPTIONS));
        req.headers
            .insert(Name::USER_AGENT, self.user_agent.clone());
        let dest = primary.next_hop();
        let (tx, bytes) = NonInviteClient::start(&req, branch, dest, now, self.timers);
        self.probe = Some(tx);
        self.next_probe = None;
        self.outbox.push_back((dest, bytes));
    }

    /// A response whose branch [`owns`](Self::owns) returned true for.
    pub fn handle_response(
        &mut self,
        now: Instant,
        ids: &mut IdGenerator,
        branch: &str,
        response: &Response,
    ) {
        let code = response.code.into_u16();
        if self.paused {
            // The answer to our unregistration: nothing follows it.
            if code >= 200 && self.tx.as_ref().is_some_and(|t| t.branch == branch) {
                self.tx = None;
            }
            return;
        }
        if self.probe.as_ref().is_some_and(|p| p.branch == branch) {
            self.probe = None;
            if self.role == ServerRole::Backup {
                info!(registration = %self.config.label, code, "primary answers again: failing back");
                self.switch_to(ServerRole::Primary, now, ids);
            }
            return;
        }
        let Some(tx) = self.tx.as_mut() else { return };
        if !tx.on_response(code) {
            return;
        }
        let request = tx.request().clone();
        self.tx = None;
        match code {
            200..=299 => self.registered(now, response),
            401 | 407 => {
                self.auth_tries += 1;
                match self.auth.on_challenge(&request, response) {
                    Ok(()) if self.auth_tries <= 3 => self.send_register(now, ids),
                    Ok(()) | Err(_) => {
                        warn!(registration = %self.config.label, code, "registration: authentication failed");
                        self.failed(
                            now,
                            "authentication failed (check auth id and password)".into(),
                            false,
                        );
                    }
                }
            }
            423 => {
                let min = response
                    .headers
                    .get_named::<MinExpires>()
                    .map(|m| m.0)
                    .unwrap_or(0);
                if min > self.expires && self.auth_tries <= 3 {
                    self.expires = min;
                    self.auth_tries += 1;
                    self.send_register(now, ids);
                } else {
                    self.failed(now, "refused: 423 Interval Too Brief".into(), false);
                }
            }
            _ => {
                let reason = response
                    .reason
                    .as_ref()
                    .map(|r| r.to_string())
                    .unwrap_or_default();
                self.failed(
                    now,
                    format!("refused: {code} {reason}").trim().to_owned(),
                    code == 503,
                );
            }
        }
    }

    fn registered(&mut self, now: Instant, response: &Response) {
        self.auth_tries = 0;
        self.failures = 0;
        self.unreachable = 0;
        let granted = granted_expiry(response, self.local).unwrap_or(self.expires);
        if granted == 0 {
            self.status = RegistrationStatus {
                registered: false,
                role: self.role,
                server: self.server().registrar,
                reason: "unregistered".into(),
                expires_at: None,
            };
            return;
        }
        let lifetime = Duration::from_secs(u64::from(granted));
        info!(registration = %self.config.label, server = %self.server().registrar, granted, "registered");
        self.status = RegistrationStatus {
            registered: true,
            role: self.role,
            server: self.server().registrar,
            reason: format!("registered for {granted} s"),
            expires_at: Some(now + lifetime),
        };
        // Refresh at half the granted lifetime (at least 1 s from now).
        self.next_register = Some(now + (lifetime / 2).max(Duration::from_secs(1)));
    }

    fn failed(&mut self, now: Instant, reason: String, server_down: bool) {
        self.auth_tries = 0;
        self.failures += 1;
        let still_bound = self
            .status
            .expires_at
            .is_some_and(|at| at > now && self.status.registered);
        self.status.registered = still_bound;
        self.status.reason = reason;
        self.status.role = self.role;
        self.status.server = self.server().registrar;
        if server_down {
            self.unreachable += 1;
            if self.role == ServerRole::Primary
                && self.config.backup.is_some()
                && self.unreachable >= self.config.failover_after
            {
                warn!(registration = %self.config.label, "primary registrar down: failing over to the backup");
                self.role = ServerRole::Backup;
                self.reset_dialog_state();
                self.status.registered = false;
                self.status.role = ServerRole::Backup;
                self.status.server = self.server().registrar;
                self.next_register = Some(now);
                self.next_probe = Some(now + self.config.probe_interval);
                return;
            }
        } else {
            self.unreachable = 0;
        }
        let exp = self.failures.saturating_sub(1).min(16);
        let delay = self
            .config
            .retry_min
            .saturating_mul(1u32 << exp)
            .min(self.config.retry_max);
        self.next_register = Some(now + delay);
    }

    fn reset_dialog_state(&mut self) {
        self.cseq = 0;
        self.failures = 0;
        self.unreachable = 0;
        self.expires = self.config.expires;
        self.auth = DigestClient::new(&self.config.account.auth_id, &self.config.account.password);
        self.tx = None;
    }

    fn switch_to(&mut self, role: ServerRole, now: Instant, ids: &mut IdGenerator) {
        self.role = role;
        self.reset_dialog_state();
        self.call_id = ids.call_id(&self.local.ip().to_string());
        self.status.registered = false;
        self.status.expires_at = None;
        self.status.role = role;
        self.status.server = self.server().registrar;
        self.status.reason = "registering".into();
        self.next_probe = None;
        self.probe = None;
        self.send_register(now, ids);
    }

    /// Drives retransmissions, timeouts, refreshes, retries and probes due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, ids: &mut IdGenerator) {
        if let Some(tx) = self.tx.as_mut() {
            match tx.handle_timeout(now) {
                TimerOutcome::Retransmit(bytes) => self.outbox.push_back((tx.destination, bytes)),
                TimerOutcome::GaveUp if self.paused => self.tx = None,
                TimerOutcome::GaveUp => {
                    let server = tx.destination;
                    self.tx = None;
                    self.failed(now, format!("no answer from {server}"), true);
                }
                TimerOutcome::Idle => {}
            }
        }
        if let Some(probe) = self.probe.as_mut() {
            match probe.handle_timeout(now) {
                TimerOutcome::Retransmit(bytes) => {
                    self.outbox.push_back((probe.destination, bytes))
                }
                TimerOutcome::GaveUp => {
                    self.probe = None;
                    self.next_probe = Some(now + self.config.probe_interval);
                }
                TimerOutcome::Idle => {}
            }
        }
        if self.paused {
            return;
        }
        if self.status.registered && self.status.expires_at.is_some_and(|at| now >= at) {
            self.status.registered = false;
            self.status.reason = format!("{} (binding expired)", self.status.reason);
        }
        if self.tx.is_none() && self.next_register.is_some_and(|at| now >= at) {
            self.send_register(now, ids);
        }
        if self.probe.is_none()
            && self.role == ServerRole::Backup
            && self.next_probe.is_some_and(|at| now >= at)
        {
            self.send_probe(now, ids);
        }
    }
}

fn parse_uri(text: &str, fallback: SocketAddr) -> SipUri {
    text.parse::<SipUri>()
        .unwrap_or_else(|_| SipUri::new(ezk_sip_types::host::HostPort::from(fallback)))
}

/// The lifetime the registrar granted our binding: the `expires` parameter of the
/// Contact naming `local`, else the `Expires` header.
fn granted_expiry(response: &Response, local: SocketAddr) -> Option<u32> {
    let needle = format!("@{local}");
    for value in response.headers.get_raw(&Name::CONTACT) {
        for contact in value.split(',') {
            if !contact.contains(&needle) {
                continue;
            }
            let param = contact
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.eq_ignore_ascii_case("expires"));
            if let Some((_, v)) = param {
                if let Ok(n) = v.trim().trim_end_matches('>').parse() {
                    return Some(n);
                }
            }
        }
    }
    response
        .headers
        .get_named::<ezk_sip_types::header::typed::Expires>()
        .ok()
        .map(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest::{challenge_response, DigestAlgorithm, DigestServer, DigestVerdict};
    use crate::sip::message::Message;

    const LOCAL: &str = "192.0.2.9:5060";
    const PRIMARY: &str = "192.0.2.1:5060";
    const BACKUP: &str = "192.0.2.2:5060";

    fn config() -> RegistrationConfig {
        let account = AccountConfig {
            auth_id: "1001".into(),
            password: "pw1001".into(),
            phone_number: None,
            display_name: Some("Line 1".into()),
        };
        let mut c = RegistrationConfig::new(
            "single",
            account,
            ServerConfig::new(PRIMARY.parse().unwrap()),
        );
        c.backup = Some(ServerConfig::new(BACKUP.parse().unwrap()));
        c.expires = 120;
        c
    }

    fn sent(reg: &mut Registration) -> Vec<(SocketAddr, Request)> {
        std::iter::from_fn(|| reg.poll_transmit())
            .map(|(to, b)| match Message::parse(&b) {
                Ok(Message::Request(r)) => (to, r),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn reply(req: &Request, code: u16, extra: &[(&str, String)]) -> Response {
        let mut resp =
            Response::to_request(req, ezk_sip_types::StatusCode::from(code), Some("srv"));
        for (name, value) in extra {
            resp.headers
                .insert(Name::from(name.to_string()), value.clone());
        }
        match Message::parse(&resp.to_bytes()) {
            Ok(Message::Response(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn branch(req: &Request) -> String {
        crate::sip::CoreHeaders::decode(&req.headers)
            .ok()
            .and_then(|c| c.branch().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Run until the next output, jumping the clock to each deadline.
    fn run_until_sent(
        reg: &mut Registration,
        ids: &mut IdGenerator,
        now: &mut Instant,
    ) -> Vec<(SocketAddr, Request)> {
        for _ in 0..100 {
            let out = sent(reg);
            if !out.is_empty() {
                return out;
            }
            let Some(at) = reg.poll_timeout() else { break };
            *now = at.max(*now);
            reg.handle_timeout(*now, ids);
        }
        panic!("nothing sent");
    }

    #[test]
    fn registers_with_digest_and_refreshes_at_half_the_granted_expiry() {
        let mut ids = IdGenerator::seeded(1);
        let t0 = Instant::now();
        let mut reg = Registration::new(
            config(),
            LOCAL.parse().unwrap(),
            SipTimers::default(),
            "cg",
            &mut ids,
        );
        reg.start(t0, &mut ids);
        let out = sent(&mut reg);
        let (to, first) = &out[0];
        assert_eq!(to.to_string(), PRIMARY);
        let text = String::from_utf8_lossy(&first.to_bytes()).to_string();
        assert!(
            text.starts_with("REGISTER sip:192.0.2.1:5060 SIP/2.0"),
            "{text}"
        );
        assert!(
            text.contains("From: \"Line 1\" <sip:1001@192.0.2.1:5060>;tag="),
            "{text}"
        );
        assert!(
            text.contains("Contact: <sip:1001@192.0.2.9:5060>"),
            "{text}"
        );
        assert!(text.contains("Expires: 120"), "{text}");

        let mut server = DigestServer::new(
            "example.org",
            vec![DigestAlgorithm::Sha256],
            Duration::from_secs(3600),
        );
        let mut sids = IdGenerator::seeded(9);
        let challenge =
            challenge_response(first, false, &server.challenge(t0, &mut sids, false), "s");
        let challenge = match Message::parse(&challenge.to_bytes()) {
            Ok(Message::Response(r)) => r,
            other => panic!("{other:?}"),
        };
        reg.handle_response(t0, &mut ids, &branch(first), &challenge);
        let out = sent(&mut reg);
        let (_, second) = &out[0];
        let pw = |u: &str| (u == "1001").then(|| "pw1001".to_owned());
        assert_eq!(
            server.verify(t0, &Method::REGISTER, &second.headers, false, pw),
            DigestVerdict::Authorized("1001".into())
        );
        let cseq = |r: &Request| r.headers.get_named::<CSeq>().map(|c| c.cseq).unwrap_or(0);
        assert_eq!(cseq(second), cseq(first) + 1);
        let ok = reply(
            second,
            200,
            &[("Contact", format!("<sip:1001@{LOCAL}>;expires=60"))],
        );
        reg.handle_response(t0, &mut ids, &branch(second), &ok);
        assert!(reg.status().registered, "{:?}", reg.status());
        assert_eq!(reg.status().reason, "registered for 60 s");
        assert_eq!(
            reg.poll_timeout(),
            Some(t0 + Duration::from_secs(30)),
            "refresh at half of 60 s"
        );
        let mut now = t0;
        let out = run_until_sent(&mut reg, &mut ids, &mut now);
        assert_eq!(now, t0 + Duration::from_secs(30));
        let text = String::from_utf8_lossy(&out[0].1.to_bytes()).to_string();
        assert!(
            text.contains("nc=00000002"),
            "refresh reuses the nonce with the next nc: {text}"
        );
        assert_eq!(
            out[0]
                .1
                .headers
                .get_named::<CallID>()
                .map(|c| c.0.to_string())
                .ok(),
            first
                .headers
                .get_named::<CallID>()
                .map(|c| c.0.to_string())
                .ok(),
            "same Call-ID for refreshes"
        );
    }

    #[test]
    fn wrong_password_is_reported_and_retried_with_back_off() {
        let mut ids = IdGenerator::seeded(1);
        let t0 = Instant::now();
        let mut reg = Registration::new(
            config(),
            LOCAL.parse().unwrap(),
            SipTimers::default(),
            "cg",
            &mut ids,
        );
        reg.start(t0, &mut ids);
        let mut server =
            DigestServer::new("r", vec![DigestAlgorithm::Md5], Duration::from_secs(3600));
        let mut sids = IdGenerator::seeded(9);
        let challenges = server.challenge(t0, &mut sids, false);
        let (_, first) = sent(&mut reg).remove(0);
        let ch = reply(&first, 401, &[("WWW-Authenticate", challenges[0].clone())]);
        reg.handle_response(t0, &mut ids, &branch(&first), &ch);
        let (_, second) = sent(&mut reg).remove(0);
        // The server rejects the answer with the same nonce: wrong password.
        let ch = reply(&second, 401, &[("WWW-Authenticate", challenges[0].clone())]);
        reg.handle_response(t0, &mut ids, &branch(&second), &ch);
        assert!(!reg.status().registered);
        assert!(
            reg.status().reason.contains("authentication failed"),
            "{:?}",
            reg.status()
        );
        assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(
            reg.status().role,
            ServerRole::Primary,
            "a wrong password is no reason to fail over"
        );
        let mut now = t0;
        let (_, third) = run_until_sent(&mut reg, &mut ids, &mut now).remove(0);
        let forbidden = reply(&third, 403, &[]);
        reg.handle_response(now, &mut ids, &branch(&third), &forbidden);
        assert_eq!(reg.status().reason, "refused: 403 Forbidden");
        assert_eq!(
            reg.poll_timeout(),
            Some(now + Duration::from_secs(20)),
            "back-off doubles"
        );
    }

    #[test]
    fn fails_over_after_two_timeouts_and_fails_back_when_the_primary_answers_probes() {
        let mut ids = IdGenerator::seeded(1);
        let t0 = Instant::now();
        let mut reg = Registration::new(
            config(),
            LOCAL.parse().unwrap(),
            SipTimers::default(),
            "cg",
            &mut ids,
        );
        reg.start(t0, &mut ids);
        let mut now = t0;
        // Primary never answers: retransmissions, Timer F, retry, Timer F again.
        let mut to_primary = 0;
        let backup_register = loop {
            let out = run_until_sent(&mut reg, &mut ids, &mut now);
            let (to, req) = out.into_iter().next().unwrap_or_else(|| unreachable!());
            if to.to_string() == BACKUP {
                break req;
            }
            to_primary += 1;
            assert!(
                now < t0 + Duration::from_secs(200),
                "fail-over takes too long"
            );
        };
        assert!(to_primary > 2);
        assert!(
            reg.status()
                .reason
                .contains("no answer from 192.0.2.1:5060")
                || reg.status().role == ServerRole::Backup
        );
        assert_eq!(reg.status().role, ServerRole::Backup);
        let ok = reply(&backup_register, 200, &[("Expires", "120".into())]);
        reg.handle_response(now, &mut ids, &branch(&backup_register), &ok);
        assert!(reg.status().registered);
        assert_eq!(reg.status().server.to_string(), BACKUP);
        // Probes of the primary go unanswered for a while...
        let failed_over_at = now;
        let (to, probe) = run_until_sent(&mut reg, &mut ids, &mut now).remove(0);
        assert_eq!(to.to_string(), PRIMARY);
        assert_eq!(probe.method, Method::OPTIONS);
        assert_eq!(now, failed_over_at + Duration::from_secs(30));
        // ... until it answers: the account registers with the primary again.
        let answer = reply(&probe, 200, &[]);
        reg.handle_response(now, &mut ids, &branch(&probe), &answer);
        let (to, back) = sent(&mut reg).remove(0);
        assert_eq!(to.to_string(), PRIMARY);
        assert_eq!(back.method, Method::REGISTER);
        let ok = reply(&back, 200, &[("Expires", "120".into())]);
        reg.handle_response(now, &mut ids, &branch(&back), &ok);
        assert!(reg.status().registered);
        assert_eq!(reg.status().role, ServerRole::Primary);
    }

    #[test]
    fn interval_too_brief_raises_expires_and_outbound_proxy_gets_route() {
        let mut ids = IdGenerator::seeded(1);
        let t0 = Instant::now();
        let mut c = config();
        c.primary.outbound_proxy = Some("192.0.2.50:5060".parse().unwrap());
        c.primary.domain = Some("example.org".into());
        let mut reg = Registration::new(
            c,
            LOCAL.parse().unwrap(),
            SipTimers::default(),
            "cg",
            &mut ids,
        );
        reg.start(t0, &mut ids);
        let (to, first) = sent(&mut reg).remove(0);
        assert_eq!(to.to_string(), "192.0.2.50:5060");
        let text = String::from_utf8_lossy(&first.to_bytes()).to_string();
        assert!(
            text.starts_with("REGISTER sip:example.org SIP/2.0"),
            "{text}"
        );
        assert!(text.contains("Route: <sip:192.0.2.50:5060;lr>"), "{text}");
        let brief = reply(&first, 423, &[("Min-Expires", "600".into())]);
        reg.handle_response(t0, &mut ids, &branch(&first), &brief);
        let (_, second) = sent(&mut reg).remove(0);
        assert!(String::from_utf8_lossy(&second.to_bytes()).contains("Expires: 600"));
    }
}
