//! The tokio shell around the [`LineClient`]s: sockets, name resolution, the gateway's
//! status, and the login flags for the web UI.
//!
//! One task runs every enabled line: one UDP socket per line bound to its own local
//! port (§1.2), a [`LineClient`] per line, one status snapshot per keepalive round
//! (shared by every line due in that round), and a resolver task that re-resolves host
//! names every [`RESOLVE_EVERY`] (§3.2). Everything uses tokio's clock, so
//! `tokio::time::pause` drives it in tests.
//!
//! It keeps going through what the network and the gateway do to it: an unreachable or
//! unresolvable server (keepalives are lost, `SMS_LOGIN` goes N), ICMP errors and send
//! failures (logged), garbage datagrams (ignored), and a gateway that stops answering
//! (keepalives go on, reporting the lines logged out).

use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::task::Poll;
use std::time::Duration;

use cellgate_engine::gateway::{GatewayStatus, LineStatus};
use cellgate_engine::management::{ManagementHandle, StatusSnapshot};
use cellgate_hal::LineId;
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tracing::{debug, info, trace, warn};

use crate::client::{ClientConfig, LineClient, Received};
use crate::config::{validate_all, ConfigError, LineSetup, ServerAddr, SmsServerConfig};
use crate::keepalive::{CellInfo, LineReport};

/// How often host names are resolved again (§3.2: "at least every few minutes").
pub const RESOLVE_EVERY: Duration = Duration::from_secs(300);

/// How long one name resolution may take before it counts as failed.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the gateway may take to answer a status request before the last known facts
/// are used instead.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a send may wait for the socket before the datagram is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Receive buffer: the largest UDP payload, so nothing is ever truncated.
const RECV_BUFFER: usize = 65_535;

/// The SMS-server login flag of every line (F-5.2.1.8, status.xml `l<N>_sms_login`),
/// shared between the shell, which writes it, and the web UI, which reads it.
#[derive(Debug, Clone, Default)]
pub struct SmsLogin {
    lines: Arc<RwLock<BTreeMap<u16, bool>>>,
}

impl SmsLogin {
    /// An empty set of flags: every line shows blank until [`run`] starts it.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Some(true)` = Y, `Some(false)` = N, `None` = the SMS-server function is not
    /// running for that line (the status column stays blank).
    pub fn get(&self, line: u16) -> Option<bool> {
        self.read().get(&line).copied()
    }

    /// Every line that runs the function, with its flag, in line order.
    pub fn all(&self) -> BTreeMap<u16, bool> {
        self.read().clone()
    }

    fn set(&self, line: u16, on: bool) {
        if self.get(line) == Some(on) {
            return;
        }
        self.lines
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(line, on);
    }

    fn remove(&self, line: u16) {
        self.lines
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&line);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u16, bool>> {
        self.lines
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why [`run`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A setting cannot be used (the message names the line and the key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A line's local port cannot be bound (in use, or not allowed).
    #[error("line {}: sms_server.local_port: cannot bind UDP port {port}: {source}", line.0)]
    Bind {
        /// The line.
        line: LineId,
        /// The port.
        port: u16,
        /// The cause.
        source: io::Error,
    },
}

/// Runs the SMS-server client of every line whose function is enabled until `shutdown`
/// completes; then clears those lines' [`SmsLogin`] flags and returns.
///
/// `configs` is every line's `sms_server` settings (disabled lines are skipped);
/// `status` is the running gateway's management handle, asked for one snapshot per
/// keepalive round; `login` receives each line's `SMS_LOGIN` flag as it changes.
///
/// Fails only at start: on an invalid setting or a local port that cannot be bound.
/// Once running it never fails.
pub async fn run(
    configs: Vec<(LineId, SmsServerConfig)>,
    status: ManagementHandle,
    login: SmsLogin,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    start(configs, status, login).await?.run(shutdown).await;
    Ok(())
}

/// The clients with their sockets bound, not yet running: what [`start`] returns so a
/// caller can stop its own start-up on a bind error and then run the clients in a task.
pub struct Started {
    shell: Shell,
}

impl Started {
    /// Runs until `shutdown` completes; then clears the lines' [`SmsLogin`] flags.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shell = self.shell;
        shell.run(shutdown).await;
        for line in &shell.lines {
            shell.login.remove(line.setup.line.0);
        }
    }
}

/// Validates the settings and binds every enabled line's socket (the first half of
/// [`run`]); the lines show `N` from here on.
pub async fn start(
    configs: Vec<(LineId, SmsServerConfig)>,
    status: ManagementHandle,
    login: SmsLogin,
) -> Result<Started, RunError> {
    let setups = validate_all(&configs)?;
    let mut lines = Vec::with_capacity(setups.len());
    for setup in setups {
        let bind = SocketAddr::new(unspecified_for(&setup.server), setup.local_port);
        let socket = UdpSocket::bind(bind)
            .await
            .map_err(|source| RunError::Bind {
                line: setup.line,
                port: setup.local_port,
                source,
            })?;
        lines.push(Line::new(setup, socket));
    }
    for line in &lines {
        login.set(line.setup.line.0, false);
    }
    Ok(Started {
        shell: Shell {
            lines,
            status,
            login,
            gateway_up: true,
        },
    })
}

/// One enabled line: its settings, socket and client.
struct Line {
    setup: LineSetup,
    socket: UdpSocket,
    client: LineClient,
}

impl Line {
    fn new(setup: LineSetup, socket: UdpSocket) -> Self {
        let server = literal(&setup.server);
        let client = LineClient::new(
            ClientConfig::new(setup.client_id.clone(), setup.password.clone()),
            server,
            Instant::now().into_std(),
        );
        Self {
            setup,
            socket,
            client,
        }
    }
}

struct Shell {
    lines: Vec<Line>,
    status: ManagementHandle,
    login: SmsLogin,
    /// Whether the last status request was answered (for logging the change once).
    gateway_up: bool,
}

impl Shell {
    async fn run(&mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        // Host names are resolved by a task of their own, so a slow DNS server never
        // holds up keepalives or the sockets. The shell keeps a sender so the channel
        // never closes.
        let (resolved_tx, mut resolved_rx) = mpsc::channel(16);
        let mut names: Vec<ServerAddr> = self
            .lines
            .iter()
            .filter(|l| literal(&l.setup.server).is_none())
            .map(|l| l.setup.server.clone())
            .collect();
        names.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
        names.dedup();
        let resolver =
            (!names.is_empty()).then(|| tokio::spawn(resolve(names, resolved_tx.clone())));
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut next_socket = 0;
        loop {
            self.keepalive_round().await;
            self.flush().await;
            self.publish();
            let deadline = self
                .lines
                .iter()
                .map(|l| l.client.poll_timeout())
                .min()
                .map(Instant::from_std);
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some((server, addr)) = resolved_rx.recv() => self.resolved(&server, addr),
                (index, result) = recv_any(&self.lines, &mut next_socket, &mut buf) => {
                    self.received(index, result, &buf);
                }
                () = sleep_or_wait(deadline) => {}
            }
        }
        if let Some(task) = resolver {
            task.abort();
        }
        drop(resolved_tx);
    }

    /// If any line is due, takes one status snapshot and lets every line send.
    async fn keepalive_round(&mut self) {
        let now = Instant::now().into_std();
        if !self.lines.iter().any(|l| l.client.poll_timeout() <= now) {
            return;
        }
        match timeout(SNAPSHOT_TIMEOUT, self.status.snapshot()).await {
            Ok(Ok(snapshot)) => {
                if !self.gateway_up {
                    info!("sms server client: the gateway answers again");
                    self.gateway_up = true;
                }
                let now = Instant::now().into_std();
                for line in &mut self.lines {
                    let report = report_for(&snapshot, line.setup.line.0);
                    line.client.set_report(now, report);
                }
            }
            Ok(Err(_stopped)) => {
                if self.gateway_up {
                    warn!("sms server client: the gateway is not running; lines are reported logged out");
                    self.gateway_up = false;
                }
                let now = Instant::now().into_std();
                for line in &mut self.lines {
                    let report = gateway_down(line.client.report());
                    line.client.set_report(now, report);
                }
            }
            Err(_elapsed) => {
                debug!("sms server client: no status snapshot in time; keeping the last facts");
            }
        }
        let now = Instant::now().into_std();
        for line in &mut self.lines {
            line.client.handle_timeout(now);
        }
    }

    /// Sends what the clients queued. A failed send is a lost datagram, nothing more.
    async fn flush(&mut self) {
        for line in &mut self.lines {
            while let Some(t) = line.client.poll_transmit() {
                let sent = timeout(
                    SEND_TIMEOUT,
                    line.socket.send_to(&t.contents, t.destination),
                )
                .await;
                match sent {
                    Ok(Ok(_)) => {
                        trace!(line = line.setup.line.0, to = %t.destination, "keepalive sent")
                    }
                    Ok(Err(e)) => {
                        debug!(line = line.setup.line.0, to = %t.destination, error = %e, "sms server: send failed")
                    }
                    Err(_) => {
                        debug!(line = line.setup.line.0, to = %t.destination, "sms server: send timed out")
                    }
                }
            }
        }
    }

    fn publish(&self) {
        for line in &self.lines {
            let on = line.client.sms_login();
            if self.login.get(line.setup.line.0) != Some(on) {
                info!(
                    line = line.setup.line.0,
                    server = %line.setup.server,
                    "sms server login: {}",
                    if on { "Y" } else { "N" }
                );
                self.login.set(line.setup.line.0, on);
            }
        }
    }

    fn resolved(&mut self, server: &ServerAddr, addr: SocketAddr) {
        let now = Instant::now().into_std();
        for line in &mut self.lines {
            if &line.setup.server == server {
                if line.client.server() != Some(addr) {
                    info!(line = line.setup.line.0, %server, %addr, "sms server address");
                }
                line.client.set_server(now, Some(addr));
            }
        }
    }

    fn received(&mut self, index: usize, result: io::Result<(usize, SocketAddr)>, buf: &[u8]) {
        let Some(line) = self.lines.get_mut(index) else {
            return;
        };
        match result {
            Ok((len, from)) => {
                let data = buf.get(..len).unwrap_or_default();
                let now = Instant::now().into_std();
                match line.client.handle_datagram(now, from, data) {
                    Received::KeepaliveAck(ack) => {
                        trace!(line = line.setup.line.0, %from, ?ack, "keepalive ack")
                    }
                    Received::StaleAck(ack) => {
                        debug!(line = line.setup.line.0, %from, ?ack, "stale keepalive ack ignored")
                    }
                    Received::Unrecognised => debug!(
                        line = line.setup.line.0,
                        %from,
                        len,
                        "sms server: datagram not understood, ignored"
                    ),
                }
            }
            // ICMP port/host unreachable comes back as an error on some systems: the
            // keepalive was lost, which the ack window already accounts for.
            Err(e) => debug!(line = line.setup.line.0, error = %e, "sms server: receive error"),
        }
    }
}

/// Waits for the first datagram on any line's socket, starting the scan after the
/// socket served last so that a chatty line cannot starve the others.
async fn recv_any(
    lines: &[Line],
    next: &mut usize,
    buf: &mut [u8],
) -> (usize, io::Result<(usize, SocketAddr)>) {
    poll_fn(|cx| {
        let n = lines.len();
        for k in 0..n {
            let i = (*next + k) % n;
            let mut read = ReadBuf::new(buf);
            if let Poll::Ready(result) = lines[i].socket.poll_recv_from(cx, &mut read) {
                *next = (i + 1) % n;
                let len = read.filled().len();
                return Poll::Ready((i, result.map(|from| (len, from))));
            }
        }
        Poll::Pending
    })
    .await
}

async fn sleep_or_wait(deadline: Option<Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Resolves every host name now and every [`RESOLVE_EVERY`]; a failure keeps the last
/// address (the shell is told only of successes).
async fn resolve(names: Vec<ServerAddr>, tx: mpsc::Sender<(ServerAddr, SocketAddr)>) {
    loop {
        for name in &names {
            let target = name.to_string();
            match timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(target.clone())).await {
                Ok(Ok(addrs)) => {
                    // Sockets for host names are IPv4 (see `unspecified_for`).
                    let v4: Vec<SocketAddr> = addrs.filter(SocketAddr::is_ipv4).collect();
                    match v4.first() {
                        Some(addr) => {
                            if tx.send((name.clone(), *addr)).await.is_err() {
                                return;
                            }
                        }
                        None => warn!(server = %target, "sms server: the name has no IPv4 address"),
                    }
                }
                Ok(Err(e)) => warn!(server = %target, error = %e, "sms server: cannot resolve"),
                Err(_) => warn!(server = %target, "sms server: name resolution timed out"),
            }
        }
        sleep(RESOLVE_EVERY).await;
    }
}

/// The server's address when the host is an IP literal (no resolution needed).
fn literal(server: &ServerAddr) -> Option<SocketAddr> {
    server
        .host
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, server.port))
}

/// The address a line's socket binds: IPv6 for an IPv6 server literal, IPv4 otherwise
/// (GoIP servers are IPv4; a host name is used through its IPv4 addresses).
fn unspecified_for(server: &ServerAddr) -> IpAddr {
    match literal(server) {
        Some(SocketAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

/// The keepalive facts of `line` in `snapshot`; a line the gateway does not know is
/// reported logged out with nothing known.
pub fn report_for(snapshot: &StatusSnapshot, line: u16) -> LineReport {
    snapshot
        .lines
        .iter()
        .find(|l| l.line == line)
        .map(|l| line_report(l, &snapshot.gateway))
        .unwrap_or_default()
}

/// Maps one status row of the gateway to the keepalive's fields (§3.1):
///
/// * `voip_state` uses the STATE spelling of §4.4 — `DIALING:<num>`, no blank inside;
/// * `pro` is empty while the line is not registered;
/// * `idle` is the minutes since the last call ended, 0 during a call, and the minutes
///   since the gateway started when the line has had no call yet;
/// * `disable_status` is 1 when the module is off or the run policy blocked the line;
/// * `CELLINFO` comes from the status page's `LAC CELL` text (hex);
/// * `CGATT` is N when the attach state has not been read;
/// * `SMB_LOGIN` is empty: cellgate has no SIM bank.
pub fn line_report(status: &LineStatus, gateway: &GatewayStatus) -> LineReport {
    let mut words = status.state.split_whitespace();
    let voip_state = match (words.next(), words.collect::<String>()) {
        (None, _) => "IDLE".to_owned(),
        (Some(state), rest) if rest.is_empty() => state.to_owned(),
        (Some(state), rest) => format!("{state}:{rest}"),
    };
    let idle = voip_state == "IDLE";
    LineReport {
        num: status.sim_number.clone().unwrap_or_default(),
        signal: status.rssi,
        gsm_login: status.gsm,
        voip_login: status.voip,
        remain_minutes: status.remaining_minutes,
        imei: status.imei.clone().unwrap_or_default(),
        imsi: status.imsi.clone().unwrap_or_default(),
        iccid: status.iccid.clone().unwrap_or_default(),
        operator: if status.gsm {
            status.operator.clone().unwrap_or_default()
        } else {
            String::new()
        },
        idle_minutes: if idle {
            status.idle_minutes.unwrap_or(gateway.uptime_seconds / 60)
        } else {
            0
        },
        voip_state,
        disabled: !status.enabled || status.policy_blocked,
        smb_login: None,
        cell: status
            .lac
            .zip(status.cell_id)
            .map(|(lac, cell_id)| CellInfo { lac, cell_id }),
        cgatt: status.gprs_attached.unwrap_or(false),
    }
}

/// What a keepalive says while the gateway is not running: the line's identity as last
/// known, but nothing registered.
fn gateway_down(last: &LineReport) -> LineReport {
    LineReport {
        signal: None,
        gsm_login: false,
        voip_login: false,
        voip_state: "IDLE".into(),
        operator: String::new(),
        cell: None,
        cgatt: false,
        ..last.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_row(line: u16) -> LineStatus {
        LineStatus {
            line,
            policy_blocked: false,
            enabled: true,
            sim: "Y".into(),
            gsm: true,
            voip: false,
            state: "IDLE".into(),
            acd: None,
            asr: None,
            total_seconds: 0,
            calls: "0/0".into(),
            cdr_since: 0,
            rssi: Some(29),
            operator: Some("POL".into()),
            bcch: None,
            idle_minutes: Some(11),
            remaining_minutes: None,
            remaining_sms: None,
            inbound: true,
            outbound: true,
            imei: Some("867495023958030".into()),
            imsi: Some("260060172091324".into()),
            iccid: Some("89480611000720913242".into()),
            module: None,
            sim_number: None,
            sip_mode: String::new(),
            prefix: None,
            bcch_mode: "auto".into(),
            lac_cell: Some("7E5 5E5B".into()),
            lac: Some(0x7E5),
            cell_id: Some(0x5E5B),
            gprs_registered: Some(true),
            gprs_attached: Some(true),
            forwarding: Default::default(),
        }
    }

    fn gateway() -> GatewayStatus {
        GatewayStatus {
            serial: None,
            version: "cellgate test".into(),
            uptime_seconds: 600,
            local_time: None,
            modules: vec![],
        }
    }

    #[test]
    fn status_row_maps_to_the_node_goip_sample_f_6_13_6() {
        let report = line_report(&status_row(1), &gateway());
        let bytes = crate::keepalive::Keepalive {
            count: 27,
            id: "gateway_name",
            password: "gateway_password",
            sms_login: false,
            line: &report,
        }
        .encode();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "req:27;id:gateway_name;pass:gateway_password;num:;signal:29;gsm_status:LOGIN;voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:867495023958030;imsi:260060172091324;iccid:89480611000720913242;pro:POL;idle:11;disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;"
        );
    }

    #[test]
    fn call_states_limits_and_disabled_lines() {
        let mut row = status_row(2);
        row.state = "DIALING 13800138000".into();
        row.remaining_minutes = Some(17);
        row.sim_number = Some("+8613800138000".into());
        row.policy_blocked = true;
        let r = line_report(&row, &gateway());
        assert_eq!(r.voip_state, "DIALING:13800138000");
        assert_eq!(r.idle_minutes, 0);
        assert_eq!(r.remain_minutes, Some(17));
        assert_eq!(r.num, "+8613800138000");
        assert!(r.disabled);
        row.policy_blocked = false;
        row.enabled = false;
        assert!(line_report(&row, &gateway()).disabled);
        // No call yet: minutes since start.
        row.state = "IDLE".into();
        row.idle_minutes = None;
        assert_eq!(line_report(&row, &gateway()).idle_minutes, 10);
    }

    #[test]
    fn unregistered_line_has_no_operator_cell_or_attach() {
        let mut row = status_row(1);
        row.gsm = false;
        row.lac_cell = None;
        row.lac = None;
        row.cell_id = None;
        row.gprs_attached = None;
        row.rssi = None;
        let r = line_report(&row, &gateway());
        assert!(!r.gsm_login);
        assert_eq!(r.operator, "");
        assert_eq!(r.cell, None);
        assert!(!r.cgatt);
        assert_eq!(r.signal, None);
    }

    #[test]
    fn unknown_line_and_stopped_gateway() {
        let snapshot = StatusSnapshot {
            gateway: gateway(),
            lines: vec![status_row(1)],
        };
        assert_eq!(report_for(&snapshot, 9), LineReport::default());
        let known = report_for(&snapshot, 1);
        let down = gateway_down(&known);
        assert!(!down.gsm_login && !down.voip_login && !down.cgatt);
        assert_eq!(down.imsi, known.imsi);
        assert_eq!(down.operator, "");
    }

    #[test]
    fn sms_login_handle_is_shared_and_blank_when_off() {
        let a = SmsLogin::new();
        let b = a.clone();
        assert_eq!(a.get(1), None);
        a.set(1, true);
        a.set(2, false);
        assert_eq!(b.get(1), Some(true));
        assert_eq!(b.get(2), Some(false));
        assert_eq!(b.all().len(), 2);
        a.remove(1);
        assert_eq!(b.get(1), None);
    }
}
