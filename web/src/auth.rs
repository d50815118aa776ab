//! The three login levels of manual §5.1.2 and how a request proves one.
//!
//! GoIP scripts authenticate with HTTP Basic or with `u`/`p` query parameters
//! (GOIP-INTERFACES §7.1), so both are accepted everywhere. cellgate ships with no
//! default password: the `admin` account exists only when the configuration gives it a
//! password, and the `user` and `sms` levels only when enabled with their own.

use base64::Engine as _;
use subtle::ConstantTimeEq;

/// A login level (F-5.1.2.3 to F-5.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Sees and changes everything.
    Admin,
    /// Everything but VoIP settings and firmware/configuration maintenance (§7.2).
    User,
    /// Only the SMS functions.
    Sms,
}

impl Level {
    /// The fixed user name of the level.
    pub fn user_name(self) -> &'static str {
        match self {
            Level::Admin => "admin",
            Level::User => "user",
            Level::Sms => "sms",
        }
    }

    /// Whether the level may see the status pages (§5.2). The `sms` level is limited to
    /// the SMS functions (F-5.1.2.5).
    pub fn sees_status(self) -> bool {
        matches!(self, Level::Admin | Level::User)
    }

    /// Whether the level may use the status pages' line actions (reset icons, restoring
    /// a line, module on/off). None of them is a VoIP setting, so `user` may too.
    pub fn acts_on_lines(self) -> bool {
        matches!(self, Level::Admin | Level::User)
    }
}

/// The configured accounts: a password per enabled level.
#[derive(Clone, Default)]
pub struct Accounts {
    passwords: Vec<(Level, Vec<u8>)>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the passwords.
        let levels: Vec<_> = self.passwords.iter().map(|(l, _)| *l).collect();
        f.debug_struct("Accounts").field("levels", &levels).finish()
    }
}

/// Why a password is refused at configuration time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD`].
    #[error("{0}: the password must have at least {MIN_PASSWORD} characters")]
    TooShort(&'static str),
    /// A factory default that scripts and scanners try first.
    #[error("{0}: '{1}' is a well-known default password; choose another")]
    WellKnown(&'static str, String),
    /// Control characters cannot be typed into a login dialog.
    #[error("{0}: the password must not contain control characters")]
    BadCharacter(&'static str),
}

/// Minimum password length.
pub const MIN_PASSWORD: usize = 8;

/// Factory passwords of GoIP-class gateways (F-5.1.2.3 to 5) and other usual guesses.
const WELL_KNOWN: &[&str] = &["admin", "1234", "12345678", "password", "admin123"];

impl Accounts {
    /// No account at all: every request is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Enables `level` with `password`, checked against the rules above. `key` names the
    /// configuration key in errors.
    pub fn enable(
        &mut self,
        level: Level,
        password: &str,
        key: &'static str,
    ) -> Result<(), PasswordError> {
        if password.chars().count() < MIN_PASSWORD {
            return Err(PasswordError::TooShort(key));
        }
        if WELL_KNOWN.contains(&password) {
            return Err(PasswordError::WellKnown(key, password.to_owned()));
        }
        if password.chars().any(|c| c.is_control()) {
            return Err(PasswordError::BadCharacter(key));
        }
        self.passwords.retain(|(l, _)| *l != level);
        self.passwords.push((level, password.as_bytes().to_vec()));
        Ok(())
    }

    /// Whether any account is enabled.
    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }

    /// The level `user`/`password` logs in as. Every account is compared in constant
    /// time, whatever matches, so timing does not tell which part was wrong.
    pub fn check(&self, user: &[u8], password: &[u8]) -> Option<Level> {
        let mut found = None;
        for (level, expected) in &self.passwords {
            let name_ok = user.ct_eq(level.user_name().as_bytes());
            let pass_ok = password.ct_eq(expected);
            if bool::from(name_ok & pass_ok) {
                found = Some(*level);
            }
        }
        found
    }

    /// The level of an `Authorization: Basic …` header value, if valid.
    pub fn check_basic(&self, header: &str) -> Option<Level> {
        let (user, password) = decode_basic(header)?;
        self.check(user.as_bytes(), password.as_bytes())
    }
}

/// User and password of an `Authorization: Basic` value; `None` for anything else.
pub fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Accounts {
        let mut a = Accounts::new();
        a.enable(Level::Admin, "s3cret-admin", "web.admin_password")
            .unwrap();
        a.enable(Level::Sms, "texting-only", "web.sms_password")
            .unwrap();
        a
    }

    fn basic(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn f_5_1_2_2_three_levels_by_user_name() {
        let a = accounts();
        assert_eq!(a.check(b"admin", b"s3cret-admin"), Some(Level::Admin));
        assert_eq!(a.check(b"sms", b"texting-only"), Some(Level::Sms));
        // `user` is disabled until configured (F-5.1.2.4).
        assert_eq!(a.check(b"user", b"texting-only"), None);
        // A password is bound to its level.
        assert_eq!(a.check(b"admin", b"texting-only"), None);
        assert_eq!(a.check(b"sms", b"s3cret-admin"), None);
    }

    #[test]
    fn basic_header_is_decoded_and_checked() {
        let a = accounts();
        assert_eq!(
            a.check_basic(&basic("admin", "s3cret-admin")),
            Some(Level::Admin)
        );
        assert_eq!(a.check_basic(&basic("admin", "wrong")), None);
        assert_eq!(a.check_basic("Bearer abc"), None);
        assert_eq!(a.check_basic("Basic !!!not-base64"), None);
        assert_eq!(a.check_basic("Basic"), None);
        // A password may contain ':' after the first one.
        assert_eq!(
            decode_basic(&basic("admin", "a:b")),
            Some(("admin".into(), "a:b".into()))
        );
    }

    #[test]
    fn default_and_weak_passwords_are_refused() {
        let mut a = Accounts::new();
        assert!(matches!(
            a.enable(Level::Admin, "admin", "web.admin_password"),
            Err(PasswordError::TooShort("web.admin_password"))
        ));
        assert!(matches!(
            a.enable(Level::User, "12345678", "web.user_password"),
            Err(PasswordError::WellKnown(..))
        ));
        assert!(a.enable(Level::User, "tab\there!", "k").is_err());
        assert!(a.is_empty());
        assert_eq!(a.check(b"admin", b"admin"), None);
    }

    #[test]
    fn levels_limit_what_they_see() {
        assert!(Level::Admin.sees_status() && Level::User.sees_status());
        assert!(!Level::Sms.sees_status());
        assert!(!Level::Sms.acts_on_lines());
    }

    #[test]
    fn debug_hides_passwords() {
        let text = format!("{:?}", accounts());
        assert!(!text.contains("s3cret"), "{text}");
    }
}
