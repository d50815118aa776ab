//! One line's SMS-server client as a sans-IO state machine (GOIP-INTERFACES §3).
//!
//! [`LineClient`] takes the current time, datagrams and the line's facts, and hands out
//! datagrams to send and the instant it next wants to be woken. It never reads a clock
//! and never touches a socket, so its timing is tested on a virtual clock; the tokio
//! shell in [`crate::shell`] does the I/O.
//!
//! What it does now: the keepalive every 30 s (at once at start, and early after a
//! change of SIM, GSM state or server address), matching acks, and the `SMS_LOGIN`
//! flag. Reports (§4), bulk sessions (§5) and server commands (§6) will be further
//! states of the same client: [`LineClient::handle_datagram`] is where their datagrams
//! will be told apart, and [`Received::Unrecognised`] is what they are until then.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::ack::{parse_ack, AckStatus, KeepaliveAck};
use crate::keepalive::{Keepalive, LineReport};

/// The keepalive interval of the vendor's firmware (§3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// The longest interval allowed: servers declare a line dead after about 92 s of
/// silence (§3.2), i.e. three lost keepalives at 30 s.
pub const MAX_INTERVAL: Duration = Duration::from_secs(30);

/// The shortest interval accepted (a guard against a zero interval flooding the server).
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The shortest time between two keepalives when a change of the line asks for an early
/// one, so a flapping GSM registration cannot flood the server.
pub const MIN_EARLY_GAP: Duration = Duration::from_secs(5);

/// How many recent keepalives an ack may answer (§3.3: "one of the last 3").
pub const ACK_WINDOW: usize = 3;

/// The largest `req` count: servers read it with C's `%d`, so it stays below 2^31 and
/// wraps to 1.
const MAX_COUNT: u32 = i32::MAX as u32;

/// What a line's client is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The line's SMS client id (`id`).
    pub id: String,
    /// The line's password (`pass`).
    pub password: String,
    /// Time between keepalives; clamped to [`MIN_INTERVAL`]..=[`MAX_INTERVAL`].
    pub interval: Duration,
}

impl ClientConfig {
    /// A configuration with the default 30 s interval.
    pub fn new(id: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            password: password.into(),
            interval: DEFAULT_INTERVAL,
        }
    }
}

/// A datagram the client wants sent from the line's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    /// The datagram.
    pub contents: Vec<u8>,
}

/// What the client made of a datagram, so the shell can log it (and, later, so the
/// report, session and command handlers can be told apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// An ack for one of the last three keepalives; it updated the login state.
    KeepaliveAck(KeepaliveAck),
    /// An ack for a keepalive older than the last three, or never sent: ignored.
    StaleAck(KeepaliveAck),
    /// Not a datagram this client understands yet; ignored.
    Unrecognised,
}

/// One keepalive in the ack window.
#[derive(Debug, Clone, Copy)]
struct Sent {
    count: u32,
    answer: Option<AckStatus>,
}

/// One line's SMS-server client; see the module docs.
#[derive(Debug)]
pub struct LineClient {
    config: ClientConfig,
    server: Option<SocketAddr>,
    report: LineReport,
    next_count: u32,
    next_keepalive: Instant,
    last_keepalive: Option<Instant>,
    window: VecDeque<Sent>,
    transmits: VecDeque<Transmit>,
}

impl LineClient {
    /// A client started at `now`: its first keepalive is due at once (§3.2). `server` is
    /// `None` while the server's name is not resolved yet.
    pub fn new(mut config: ClientConfig, server: Option<SocketAddr>, now: Instant) -> Self {
        config.interval = config.interval.clamp(MIN_INTERVAL, MAX_INTERVAL);
        Self {
            config,
            server,
            report: LineReport::default(),
            next_count: 1,
            next_keepalive: now,
            last_keepalive: None,
            window: VecDeque::with_capacity(ACK_WINDOW + 1),
            transmits: VecDeque::new(),
        }
    }

    /// The configuration in use (with the interval clamped).
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The server address keepalives go to.
    pub fn server(&self) -> Option<SocketAddr> {
        self.server
    }

    /// A new address for the server (its name was re-resolved, §3.2). A different
    /// address counts as a configuration change: a keepalive goes out early.
    pub fn set_server(&mut self, now: Instant, server: Option<SocketAddr>) {
        let changed = server.is_some() && server != self.server;
        self.server = server;
        if changed {
            self.line_changed(now);
        }
    }

    /// The line's facts for the next keepalives. A change of SIM (IMSI, ICCID), of GSM
    /// registration or of the administrative state sends a keepalive early (§3.2 MAY).
    pub fn set_report(&mut self, now: Instant, report: LineReport) {
        let old = &self.report;
        let changed = old.gsm_login != report.gsm_login
            || old.imsi != report.imsi
            || old.iccid != report.iccid
            || old.disabled != report.disabled;
        self.report = report;
        if changed && self.last_keepalive.is_some() {
            self.line_changed(now);
        }
    }

    /// The line's state changed: send a keepalive as soon as [`MIN_EARLY_GAP`] after
    /// the previous one allows. The counter increments as for any keepalive.
    pub fn line_changed(&mut self, now: Instant) {
        let earliest = match self.last_keepalive {
            Some(last) => (last + MIN_EARLY_GAP).max(now),
            None => now,
        };
        self.next_keepalive = self.next_keepalive.min(earliest);
    }

    /// The facts the next keepalive will carry.
    pub fn report(&self) -> &LineReport {
        &self.report
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called next. There is
    /// always a next keepalive: they never stop, whatever the server says.
    pub fn poll_timeout(&self) -> Instant {
        self.next_keepalive
    }

    /// Time has come to `now`: sends the keepalive if it is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_keepalive {
            return;
        }
        let due = self.next_keepalive;
        self.send_keepalive(now);
        // Keep the rhythm of the schedule, so a late wake-up does not stretch the
        // interval; after a long stall, start afresh from now.
        let mut next = due + self.config.interval;
        if next <= now {
            next = now + self.config.interval;
        }
        self.next_keepalive = next;
    }

    fn send_keepalive(&mut self, now: Instant) {
        let count = self.next_count;
        self.next_count = if count >= MAX_COUNT { 1 } else { count + 1 };
        self.window.push_back(Sent {
            count,
            answer: None,
        });
        while self.window.len() > ACK_WINDOW {
            self.window.pop_front();
        }
        self.last_keepalive = Some(now);
        // Without an address the keepalive is lost on the way, like one the network
        // drops: it still takes its place in the ack window.
        if let Some(destination) = self.server {
            let contents = Keepalive {
                count,
                id: &self.config.id,
                password: &self.config.password,
                sms_login: self.sms_login(),
                line: &self.report,
            }
            .encode();
            self.transmits.push_back(Transmit {
                destination,
                contents,
            });
        }
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// A datagram arrived on the line's socket from `from` (any source is accepted:
    /// acks are matched by content, §1.3).
    pub fn handle_datagram(&mut self, _now: Instant, _from: SocketAddr, data: &[u8]) -> Received {
        let Some(ack) = parse_ack(data) else {
            return Received::Unrecognised;
        };
        let slot = self
            .window
            .iter_mut()
            .find(|s| u64::from(s.count) == ack.count);
        match slot {
            Some(sent) => {
                sent.answer = Some(ack.status);
                Received::KeepaliveAck(ack)
            }
            None => Received::StaleAck(ack),
        }
    }

    /// `SMS_LOGIN` (§3.3, F-5.2.1.8): whether the line counts itself registered with its
    /// server.
    ///
    /// The spec's rule is "Y if an ok ack (status 0, 200 or none) arrived for one of the
    /// last 3 keepalives". Refined here for conflicting answers inside that window: the
    /// newest answered keepalive decides, so a server that starts refusing the line
    /// (`404`, `-1` after a password change) turns it N at once instead of up to a
    /// minute later. Without a refusal both rules agree.
    pub fn sms_login(&self) -> bool {
        self.window
            .iter()
            .rev()
            .find_map(|s| s.answer)
            .is_some_and(|a| a == AckStatus::Ok)
    }

    /// The `req` count of the latest keepalive, 0 before the first.
    pub fn last_count(&self) -> u32 {
        if self.last_keepalive.is_none() {
            0
        } else if self.next_count == 1 {
            MAX_COUNT
        } else {
            self.next_count - 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "192.0.2.10:44444";

    fn server() -> SocketAddr {
        SERVER.parse().unwrap()
    }

    fn client(t0: Instant) -> LineClient {
        LineClient::new(ClientConfig::new("goip1", "pw"), Some(server()), t0)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Drains the transmits and returns their texts.
    fn sent(c: &mut LineClient) -> Vec<String> {
        std::iter::from_fn(|| c.poll_transmit())
            .map(|t| {
                assert_eq!(t.destination, server());
                String::from_utf8(t.contents).unwrap()
            })
            .collect()
    }

    fn ack(c: &mut LineClient, now: Instant, text: &str) -> Received {
        c.handle_datagram(now, server(), text.as_bytes())
    }

    /// Runs the client from `from` to `to` in 1 s steps; returns (second, text) sent.
    fn run(c: &mut LineClient, t0: Instant, from: u64, to: u64) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        for s in from..=to {
            let now = t0 + secs(s);
            if c.poll_timeout() <= now {
                c.handle_timeout(now);
            }
            out.extend(sent(c).into_iter().map(|t| (s, t)));
        }
        out
    }

    fn count_of(text: &str) -> u32 {
        text.strip_prefix("req:")
            .and_then(|r| r.split(';').next())
            .and_then(|n| n.parse().ok())
            .unwrap()
    }

    #[test]
    fn f_6_13_6_first_keepalive_at_once_then_every_30_s_with_counts_1_2_3() {
        let t0 = Instant::now();
        let mut c = client(t0);
        assert_eq!(c.poll_timeout(), t0);
        assert_eq!(c.last_count(), 0);
        let out = run(&mut c, t0, 0, 95);
        let times: Vec<u64> = out.iter().map(|(s, _)| *s).collect();
        assert_eq!(times, vec![0, 30, 60, 90]);
        let counts: Vec<u32> = out.iter().map(|(_, t)| count_of(t)).collect();
        assert_eq!(counts, vec![1, 2, 3, 4]);
        assert!(out[0].1.starts_with("req:1;id:goip1;pass:pw;num:;"));
        assert_eq!(c.last_count(), 4);
        assert_eq!(c.poll_timeout(), t0 + secs(120));
    }

    #[test]
    fn interval_is_capped_at_30_s() {
        let t0 = Instant::now();
        let mut cfg = ClientConfig::new("a", "b");
        cfg.interval = secs(120);
        let mut c = LineClient::new(cfg, Some(server()), t0);
        assert_eq!(c.config().interval, MAX_INTERVAL);
        c.handle_timeout(t0);
        assert_eq!(c.poll_timeout(), t0 + secs(30));
        let mut cfg = ClientConfig::new("a", "b");
        cfg.interval = Duration::ZERO;
        assert_eq!(
            LineClient::new(cfg, None, t0).config().interval,
            MIN_INTERVAL
        );
    }

    #[test]
    fn a_late_wake_up_keeps_the_rhythm() {
        let t0 = Instant::now();
        let mut c = client(t0);
        c.handle_timeout(t0 + Duration::from_millis(700));
        assert_eq!(c.poll_timeout(), t0 + secs(30));
        // A stall longer than an interval restarts the rhythm from now.
        c.handle_timeout(t0 + secs(100));
        assert_eq!(c.poll_timeout(), t0 + secs(130));
        assert_eq!(sent(&mut c).len(), 2);
        // Called early: nothing happens.
        c.handle_timeout(t0 + secs(110));
        assert!(c.poll_transmit().is_none());
    }

    #[test]
    fn f_5_2_1_8_sms_login_y_after_an_ok_ack() {
        let t0 = Instant::now();
        let mut c = client(t0);
        c.handle_timeout(t0);
        assert!(sent(&mut c)[0].contains(";SMS_LOGIN:N;"));
        assert!(!c.sms_login());
        let r = ack(&mut c, t0 + secs(1), "reg:1;status:200;\n");
        assert!(matches!(r, Received::KeepaliveAck(_)));
        assert!(c.sms_login());
        // The next keepalive tells the server so.
        let out = run(&mut c, t0, 30, 30);
        assert!(out[0].1.contains(";SMS_LOGIN:Y;"), "{}", out[0].1);
        // status:0 (older firmware's servers) and no status at all are ok too.
        let mut c = client(t0);
        c.handle_timeout(t0);
        ack(&mut c, t0, "reg:1;status:0;");
        assert!(c.sms_login());
        let mut c = client(t0);
        c.handle_timeout(t0);
        ack(&mut c, t0, "REQ:1");
        assert!(c.sms_login());
    }

    #[test]
    fn f_5_2_1_8_sms_login_n_after_3_unacked_keepalives() {
        let t0 = Instant::now();
        let mut c = client(t0);
        run(&mut c, t0, 0, 0);
        ack(&mut c, t0, "reg:1;status:200;");
        let mut login = Vec::new();
        for s in [30, 60, 90, 120] {
            run(&mut c, t0, s, s);
            login.push((c.last_count(), c.sms_login()));
        }
        // #1 is acked; #2 and #3 keep it in the window; #4 pushes it out.
        assert_eq!(login, vec![(2, true), (3, true), (4, false), (5, false)]);
    }

    #[test]
    fn keepalives_continue_whatever_the_acks_say() {
        let t0 = Instant::now();
        let mut c = client(t0);
        let mut total = 0;
        for s in 0..=300 {
            let now = t0 + secs(s);
            if c.poll_timeout() <= now {
                c.handle_timeout(now);
                let count = c.last_count();
                ack(&mut c, now, &format!("reg:{count};status:404;"));
            }
            total += sent(&mut c).len();
        }
        assert_eq!(total, 11);
        assert!(!c.sms_login());
    }

    #[test]
    fn an_ack_for_an_older_keepalive_in_the_window_counts() {
        let t0 = Instant::now();
        let mut c = client(t0);
        run(&mut c, t0, 0, 60); // #1, #2, #3
        assert!(matches!(
            ack(&mut c, t0 + secs(61), "reg:1;status:200;"),
            Received::KeepaliveAck(_)
        ));
        assert!(c.sms_login());
        // Once #4 is out, #1 has left the window: its ack is stale.
        run(&mut c, t0, 90, 90);
        assert!(!c.sms_login());
        assert!(matches!(
            ack(&mut c, t0 + secs(91), "reg:1;status:200;"),
            Received::StaleAck(_)
        ));
        assert!(!c.sms_login());
        // An ack for a count never sent is stale too.
        assert!(matches!(
            ack(&mut c, t0 + secs(91), "reg:77;status:200;"),
            Received::StaleAck(_)
        ));
        assert!(!c.sms_login());
    }

    #[test]
    fn f_5_2_1_8_refused_status_means_n() {
        let t0 = Instant::now();
        for refusal in ["reg:1;status:404;", "reg:1;status:-1;", "reg:1;status:304;"] {
            let mut c = client(t0);
            c.handle_timeout(t0);
            ack(&mut c, t0, refusal);
            assert!(!c.sms_login(), "{refusal}");
        }
        // The newest answer decides: ok, then refused, then ok again.
        let mut c = client(t0);
        run(&mut c, t0, 0, 30);
        ack(&mut c, t0 + secs(1), "reg:1;status:200;");
        assert!(c.sms_login());
        ack(&mut c, t0 + secs(31), "reg:2;status:404;");
        assert!(!c.sms_login());
        run(&mut c, t0, 60, 60);
        ack(&mut c, t0 + secs(61), "reg:3;status:200;");
        assert!(c.sms_login());
    }

    #[test]
    fn garbage_changes_nothing() {
        let t0 = Instant::now();
        let mut c = client(t0);
        c.handle_timeout(t0);
        ack(&mut c, t0, "reg:1;status:200;");
        for junk in [
            &b""[..],
            b"\xff\xfe\x00",
            b"reg:",
            b"RECEIVE 1 OK",
            b"req:;",
        ] {
            assert_eq!(
                c.handle_datagram(t0, server(), junk),
                Received::Unrecognised
            );
        }
        assert!(c.sms_login());
        assert_eq!(c.poll_timeout(), t0 + secs(30));
        assert!(sent(&mut c).len() == 1);
    }

    #[test]
    fn a_change_of_the_line_sends_early_but_not_too_often() {
        let t0 = Instant::now();
        let mut c = client(t0);
        run(&mut c, t0, 0, 0);
        let registered = LineReport {
            gsm_login: true,
            imsi: "001010123456789".into(),
            ..LineReport::default()
        };
        // At 2 s the line registers: the early keepalive waits for the 5 s gap.
        c.set_report(t0 + secs(2), registered.clone());
        assert_eq!(c.poll_timeout(), t0 + MIN_EARLY_GAP);
        let out = run(&mut c, t0, 1, 40);
        let times: Vec<(u64, u32)> = out.iter().map(|(s, t)| (*s, count_of(t))).collect();
        assert_eq!(times, vec![(5, 2), (35, 3)]);
        assert!(out[0].1.contains(";gsm_status:LOGIN;"));
        // Facts that are not a change of state (signal) do not.
        c.set_report(
            t0 + secs(41),
            LineReport {
                signal: Some(20),
                ..registered
            },
        );
        assert_eq!(c.poll_timeout(), t0 + secs(65));
    }

    #[test]
    fn without_an_address_rounds_are_lost_and_the_first_address_sends_at_once() {
        let t0 = Instant::now();
        let mut c = LineClient::new(ClientConfig::new("a", "b"), None, t0);
        c.handle_timeout(t0);
        assert!(c.poll_transmit().is_none());
        assert_eq!(c.last_count(), 1);
        c.set_server(t0 + secs(10), Some(server()));
        assert_eq!(c.poll_timeout(), t0 + secs(10));
        let out = run(&mut c, t0, 10, 10);
        assert_eq!(count_of(&out[0].1), 2);
        // The same address again is no change.
        c.set_server(t0 + secs(20), Some(server()));
        assert_eq!(c.poll_timeout(), t0 + secs(40));
    }

    #[test]
    fn the_count_wraps_below_2_pow_31() {
        let t0 = Instant::now();
        let mut c = client(t0);
        c.next_count = MAX_COUNT;
        c.handle_timeout(t0);
        assert_eq!(c.last_count(), MAX_COUNT);
        c.handle_timeout(t0 + secs(30));
        assert_eq!(c.last_count(), 1);
        let out = sent(&mut c);
        assert!(out[0].starts_with("req:2147483647;"));
        assert!(out[1].starts_with("req:1;"));
    }
}
