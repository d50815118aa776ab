//! Web sessions and the web log (F-5.2.0.5, F-5.2.2.12 to 14).
//!
//! Browsers log in with HTTP Basic and then resend the credentials with every request,
//! so "a login" is not visible in HTTP itself. cellgate counts one when an HTML page is
//! requested with valid credentials but without a live session cookie; the reply then
//! sets a session cookie (HttpOnly, SameSite=Strict) that also carries the session's
//! anti-forgery token for the line actions. Machine endpoints (`status.xml`) never create
//! sessions, so a script polling every few seconds does not flood the log.
//!
//! The last login survives restarts when a log file is configured: the "previous
//! login" shown on the page is then really the one before, even across an upgrade.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::auth::Level;

/// One login: where from and when (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRecord {
    /// Source address of the login.
    pub ip: IpAddr,
    /// When it happened, Unix seconds.
    pub unix: i64,
}

/// A live web session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Level it logged in as.
    pub level: Level,
    /// Source address at login (F-5.2.2.14).
    pub ip: IpAddr,
    /// The login before this one (F-5.2.0.5, F-5.2.2.12/13).
    pub previous: Option<LoginRecord>,
    /// Token a state-changing form must carry.
    pub csrf: String,
    last_seen: Instant,
}

/// Sessions expire after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// At most this many sessions; the least recently used goes first.
const MAX_SESSIONS: usize = 64;
/// Failed logins allowed from one address per [`FAIL_WINDOW`].
const MAX_FAILURES: u32 = 10;
/// Window of the failed-login count.
const FAIL_WINDOW: Duration = Duration::from_secs(5 * 60);

/// The session table, the web log and the failed-login throttle.
#[derive(Debug)]
pub struct Sessions {
    sessions: HashMap<String, Session>,
    last_login: Option<LoginRecord>,
    log_file: Option<PathBuf>,
    failures: HashMap<IpAddr, (Instant, u32)>,
}

impl Sessions {
    /// An empty table; with `log_file`, the last login is read from it and every new
    /// login written to it.
    pub fn new(log_file: Option<PathBuf>) -> Self {
        let last_login = log_file.as_ref().and_then(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            parse_record(&text)
        });
        Self {
            sessions: HashMap::new(),
            last_login,
            log_file,
            failures: HashMap::new(),
        }
    }

    /// The live session behind `token`, refreshed; expired ones are dropped.
    pub fn touch(&mut self, token: &str, now: Instant) -> Option<&Session> {
        self.expire(now);
        let session = self.sessions.get_mut(token)?;
        session.last_seen = now;
        Some(session)
    }

    /// Records a login of `level` from `ip` and opens its session; returns the cookie
    /// token.
    pub fn login(&mut self, level: Level, ip: IpAddr, now: Instant, unix: i64) -> String {
        self.expire(now);
        if self.sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
            {
                self.sessions.remove(&oldest);
            }
        }
        let token = random_token();
        let session = Session {
            level,
            ip,
            previous: self.last_login,
            csrf: random_token(),
            last_seen: now,
        };
        self.sessions.insert(token.clone(), session);
        let record = LoginRecord { ip, unix };
        self.last_login = Some(record);
        if let Some(path) = &self.log_file {
            if let Err(e) = std::fs::write(path, format!("{} {}\n", record.ip, record.unix)) {
                tracing::warn!(path = %path.display(), error = %e, "web log not saved");
            }
        }
        self.failures.remove(&ip);
        token
    }

    /// The most recent login (of any session).
    pub fn last_login(&self) -> Option<LoginRecord> {
        self.last_login
    }

    /// Counts a failed login from `ip`.
    pub fn failed(&mut self, ip: IpAddr, now: Instant) {
        let entry = self.failures.entry(ip).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) > FAIL_WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if self.failures.len() > 4096 {
            self.failures
                .retain(|_, (since, _)| now.saturating_duration_since(*since) <= FAIL_WINDOW);
        }
    }

    /// Whether `ip` has failed too often recently; its requests are then refused before
    /// any password is checked, which makes guessing slow.
    pub fn throttled(&self, ip: IpAddr, now: Instant) -> bool {
        self.failures.get(&ip).is_some_and(|(since, count)| {
            *count >= MAX_FAILURES && now.saturating_duration_since(*since) <= FAIL_WINDOW
        })
    }

    fn expire(&mut self, now: Instant) {
        self.sessions
            .retain(|_, s| now.saturating_duration_since(s.last_seen) < IDLE_TIMEOUT);
    }
}

fn parse_record(text: &str) -> Option<LoginRecord> {
    let mut parts = text.split_whitespace();
    let ip = parts.next()?.parse().ok()?;
    let unix = parts.next()?.parse().ok()?;
    Some(LoginRecord { ip, unix })
}

/// 128 random bits in hex, from the thread's cryptographically secure generator.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn f_5_2_2_12_previous_login_is_the_one_before() {
        let mut s = Sessions::new(None);
        let t0 = Instant::now();
        let first = s.login(Level::Admin, ip("10.0.0.5"), t0, 1_000);
        assert_eq!(s.touch(&first, t0).unwrap().previous, None);
        let second = s.login(Level::User, ip("10.0.0.9"), t0, 2_000);
        let session = s.touch(&second, t0).unwrap();
        assert_eq!(
            session.previous,
            Some(LoginRecord {
                ip: ip("10.0.0.5"),
                unix: 1_000
            })
        );
        assert_eq!(session.ip, ip("10.0.0.9"));
        assert_eq!(session.level, Level::User);
        assert_ne!(first, second);
    }

    #[test]
    fn sessions_expire_when_idle() {
        let mut s = Sessions::new(None);
        let t0 = Instant::now();
        let token = s.login(Level::Admin, ip("10.0.0.5"), t0, 1);
        assert!(s.touch(&token, t0 + IDLE_TIMEOUT / 2).is_some());
        // Touching refreshed it.
        assert!(s.touch(&token, t0 + IDLE_TIMEOUT).is_some());
        assert!(s.touch(&token, t0 + IDLE_TIMEOUT * 3).is_none());
        assert!(s.touch("not-a-token", t0).is_none());
    }

    #[test]
    fn f_5_2_0_5_last_login_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("cellgate-weblog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("web-login");
        let _ = std::fs::remove_file(&path);
        let mut s = Sessions::new(Some(path.clone()));
        s.login(
            Level::Admin,
            ip("192.168.8.20"),
            Instant::now(),
            1_700_000_000,
        );
        drop(s);
        let mut s = Sessions::new(Some(path.clone()));
        let token = s.login(
            Level::Admin,
            ip("192.168.8.21"),
            Instant::now(),
            1_700_000_100,
        );
        let prev = s.touch(&token, Instant::now()).unwrap().previous;
        assert_eq!(
            prev,
            Some(LoginRecord {
                ip: ip("192.168.8.20"),
                unix: 1_700_000_000
            })
        );
        // A damaged file is no previous login, not a failure.
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(Sessions::new(Some(path)).last_login(), None);
    }

    #[test]
    fn repeated_failures_throttle_the_address() {
        let mut s = Sessions::new(None);
        let t0 = Instant::now();
        let bad = ip("203.0.113.7");
        for _ in 0..MAX_FAILURES {
            assert!(!s.throttled(bad, t0));
            s.failed(bad, t0);
        }
        assert!(s.throttled(bad, t0));
        assert!(!s.throttled(ip("203.0.113.8"), t0));
        assert!(!s.throttled(bad, t0 + FAIL_WINDOW * 2));
    }

    #[test]
    fn session_table_is_bounded() {
        let mut s = Sessions::new(None);
        let t0 = Instant::now();
        let first = s.login(Level::Admin, ip("10.0.0.1"), t0, 1);
        for i in 0..MAX_SESSIONS {
            s.login(
                Level::Admin,
                ip("10.0.0.2"),
                t0 + Duration::from_secs(i as u64 + 1),
                1,
            );
        }
        assert!(s.sessions.len() <= MAX_SESSIONS);
        assert!(s.touch(&first, t0 + Duration::from_secs(100)).is_none());
    }
}
