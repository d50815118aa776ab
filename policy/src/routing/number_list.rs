//! Call authentication: who may call out (§6.7) or in (§6.9).
//!
//! Both directions use the same five modes ([`AuthMode`]) and the same list format
//! ([`NumberList`]), applied to the caller or the callee ([`ListTarget`]).
//!
//! * **List matching** (our choice for F-6.7.6 / F-6.9.6): an entry matches a number that
//!   is exactly equal to it; an entry ending in `*` matches every number that starts with
//!   the part before the `*` (`138*`). There is no normalisation: `+8613…` and `13…` are
//!   different numbers.
//! * **Passwords** are entered by DTMF, which the engine collects; they are 1 to 16
//!   characters of digits and `*` (`#` ends the entry) and compared in constant time.
//! * **Inbound callee** (F-6.9.6, Ambiguity 11): the engine passes the second-stage number
//!   of a two-stage call as the callee.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::text::{first_blank_or_control, split_trimmed};

/// The longest list the manual allows (F-6.7.6, F-6.9.6), in bytes.
pub const MAX_NUMBER_LIST_BYTES: usize = 999;

/// The longest password we accept, in DTMF digits.
pub const MAX_PASSWORD_LEN: usize = 16;

/// The five authentication modes of §6.7 and §6.9.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Every call is allowed (F-6.7.1, F-6.9.1).
    #[default]
    None,
    /// Every call must give the password (F-6.7.2, F-6.9.2).
    Password,
    /// Only listed numbers may call / be called (F-6.7.3, F-6.9.3).
    Whitelist,
    /// Listed numbers pass; the others must give the password (F-6.7.4, F-6.9.4).
    PasswordOrWhitelist,
    /// Listed numbers may not call / be called (F-6.7.5, F-6.9.5).
    Blacklist,
}

/// Which number of the call the list is checked against (F-6.7.6, F-6.9.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListTarget {
    /// The calling number.
    #[default]
    Caller,
    /// The called number (inbound: the second-stage number).
    Callee,
}

/// What the engine does with a call after authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthDecision {
    /// Place the call.
    Allow,
    /// Refuse the call.
    Deny,
    /// Collect a password by DTMF and check it with [`CallAuth::password_matches`].
    AskPassword,
}

/// A white- or blacklist: comma-separated numbers, at most 999 bytes (F-6.7.6).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NumberList {
    text: String,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Exact(String),
    Prefix(String),
}

/// Why a number list was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberListError {
    /// More than 999 bytes.
    #[error("the number list is {len} bytes long; at most {MAX_NUMBER_LIST_BYTES} are allowed")]
    TooLong {
        /// Length of the text in bytes.
        len: usize,
    },
    /// Two commas in a row, or a comma at the start or the end.
    #[error("number {entry} (column {column}) is empty")]
    EmptyEntry {
        /// 1-based position of the entry.
        entry: usize,
        /// 1-based character column.
        column: usize,
    },
    /// A space or control character inside a number.
    #[error("number {entry} (column {column}) contains {ch:?}; numbers cannot hold spaces or control characters")]
    BadChar {
        /// 1-based position of the entry.
        entry: usize,
        /// 1-based character column of the character.
        column: usize,
        /// The character itself.
        ch: char,
    },
}

impl NumberList {
    /// Parses a list; an empty (or blank) text is an empty list.
    pub fn parse(text: &str) -> Result<Self, NumberListError> {
        if text.len() > MAX_NUMBER_LIST_BYTES {
            return Err(NumberListError::TooLong { len: text.len() });
        }
        let mut entries = Vec::new();
        if !text.trim().is_empty() {
            for (i, piece) in split_trimmed(text, ',').into_iter().enumerate() {
                let entry = i + 1;
                if piece.text.is_empty() {
                    return Err(NumberListError::EmptyEntry {
                        entry,
                        column: piece.column,
                    });
                }
                if let Some((j, ch)) = first_blank_or_control(piece.text) {
                    return Err(NumberListError::BadChar {
                        entry,
                        column: piece.column + j,
                        ch,
                    });
                }
                entries.push(match piece.text.strip_suffix('*') {
                    Some(prefix) => Entry::Prefix(prefix.to_owned()),
                    None => Entry::Exact(piece.text.to_owned()),
                });
            }
        }
        Ok(Self {
            text: text.to_owned(),
            entries,
        })
    }

    /// True when the list has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `number` is on the list (exactly, or by a `prefix*` entry).
    pub fn contains(&self, number: &str) -> bool {
        self.entries.iter().any(|e| match e {
            Entry::Exact(n) => n == number,
            Entry::Prefix(p) => number.starts_with(p.as_str()),
        })
    }

    /// The text the list was parsed from, to show the configuration back.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for NumberList {
    type Err = NumberListError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for NumberList {
    type Error = NumberListError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NumberList> for String {
    fn from(list: NumberList) -> Self {
        list.text
    }
}

impl fmt::Display for NumberList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why an authentication setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallAuthError {
    /// The mode asks for a password and none is set.
    #[error("authentication mode {mode:?} needs a password")]
    MissingPassword {
        /// The mode.
        mode: AuthMode,
    },
    /// The password is longer than 16 characters.
    #[error("the password is {len} characters long; at most {MAX_PASSWORD_LEN} are allowed")]
    PasswordTooLong {
        /// Its length in characters.
        len: usize,
    },
    /// The password holds something other than digits and `*`, which DTMF cannot enter.
    #[error("the password may only hold digits and '*' (it is entered by DTMF); character {position} is {ch:?}")]
    PasswordChar {
        /// 1-based position of the character.
        position: usize,
        /// The character.
        ch: char,
    },
}

/// One direction's authentication setting: mode, list, list target and password.
#[derive(Clone, Default)]
pub struct CallAuth {
    mode: AuthMode,
    target: ListTarget,
    list: NumberList,
    password: String,
}

impl CallAuth {
    /// Builds and checks a setting. `password` may be empty unless the mode needs it;
    /// when set it must be 1 to 16 digits or `*`.
    pub fn new(
        mode: AuthMode,
        target: ListTarget,
        list: NumberList,
        password: &str,
    ) -> Result<Self, CallAuthError> {
        let len = password.chars().count();
        if len > MAX_PASSWORD_LEN {
            return Err(CallAuthError::PasswordTooLong { len });
        }
        if let Some((i, ch)) = password
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '*'))
        {
            return Err(CallAuthError::PasswordChar {
                position: i + 1,
                ch,
            });
        }
        if password.is_empty() && matches!(mode, AuthMode::Password | AuthMode::PasswordOrWhitelist)
        {
            return Err(CallAuthError::MissingPassword { mode });
        }
        Ok(Self {
            mode,
            target,
            list,
            password: password.to_owned(),
        })
    }

    /// The mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Which number the list applies to.
    pub fn target(&self) -> ListTarget {
        self.target
    }

    /// The white- or blacklist.
    pub fn list(&self) -> &NumberList {
        &self.list
    }

    /// Whether a password is configured.
    pub fn has_password(&self) -> bool {
        !self.password.is_empty()
    }

    /// Decides a call from `caller` to `callee`.
    ///
    /// A whitelist that is empty refuses everything; a blacklist that is empty allows
    /// everything.
    pub fn check(&self, caller: &str, callee: &str) -> AuthDecision {
        let listed = || {
            self.list.contains(match self.target {
                ListTarget::Caller => caller,
                ListTarget::Callee => callee,
            })
        };
        match self.mode {
            AuthMode::None => AuthDecision::Allow,
            AuthMode::Password => AuthDecision::AskPassword,
            AuthMode::Whitelist if listed() => AuthDecision::Allow,
            AuthMode::Whitelist => AuthDecision::Deny,
            AuthMode::PasswordOrWhitelist if listed() => AuthDecision::Allow,
            AuthMode::PasswordOrWhitelist => AuthDecision::AskPassword,
            AuthMode::Blacklist if listed() => AuthDecision::Deny,
            AuthMode::Blacklist => AuthDecision::Allow,
        }
    }

    /// Whether the DTMF digits the caller entered are the password. One trailing `#`
    /// (the end-of-entry key) is ignored. Compared in constant time for equal lengths;
    /// always false when no password is configured.
    pub fn password_matches(&self, entered: &str) -> bool {
        if self.password.is_empty() {
            return false;
        }
        let entered = entered.strip_suffix('#').unwrap_or(entered);
        bool::from(self.password.as_bytes().ct_eq(entered.as_bytes()))
    }
}

impl fmt::Debug for CallAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallAuth")
            .field("mode", &self.mode)
            .field("target", &self.target)
            .field("list", &self.list.as_str())
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "***" },
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(text: &str) -> NumberList {
        match NumberList::parse(text) {
            Ok(l) => l,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn auth(mode: AuthMode, target: ListTarget, text: &str, password: &str) -> CallAuth {
        match CallAuth::new(mode, target, list(text), password) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn f_6_7_6_list_format_and_matching() {
        let l = list("13800138000, 139*,+86*,101");
        assert_eq!(l.len(), 4);
        assert!(l.contains("13800138000"));
        assert!(!l.contains("1380013800"), "exact entries are not prefixes");
        assert!(!l.contains("138001380001"));
        assert!(l.contains("1390"));
        assert!(l.contains("139"));
        assert!(l.contains("+8613"));
        assert!(!l.contains("8613"));
        assert!(l.contains("101"));
        assert!(!list("").contains(""));
        assert!(list("*").contains("anything"));
        assert!(list("*").contains(""));
    }

    #[test]
    fn f_6_7_6_list_limits_and_errors() {
        let ok = format!("{},1", "1".repeat(997));
        assert_eq!(ok.len(), 999);
        assert!(NumberList::parse(&ok).is_ok());
        let long = format!("{},1", "1".repeat(998));
        assert_eq!(
            NumberList::parse(&long),
            Err(NumberListError::TooLong { len: 1000 })
        );
        // Bytes, not characters.
        assert_eq!(
            NumberList::parse(&"é".repeat(500)),
            Err(NumberListError::TooLong { len: 1000 })
        );
        assert_eq!(
            NumberList::parse("1,,2"),
            Err(NumberListError::EmptyEntry {
                entry: 2,
                column: 3
            })
        );
        assert_eq!(
            NumberList::parse("1,2,"),
            Err(NumberListError::EmptyEntry {
                entry: 3,
                column: 5
            })
        );
        assert_eq!(
            NumberList::parse("1,2 3"),
            Err(NumberListError::BadChar {
                entry: 2,
                column: 4,
                ch: ' '
            })
        );
    }

    #[test]
    fn f_6_7_1_and_f_6_9_1_no_authentication() {
        let a = CallAuth::default();
        assert_eq!(a.check("1", "2"), AuthDecision::Allow);
        assert!(!a.password_matches(""));
    }

    #[test]
    fn f_6_7_2_and_f_6_9_2_password() {
        let a = auth(AuthMode::Password, ListTarget::Caller, "1", "1234");
        assert_eq!(a.check("1", "2"), AuthDecision::AskPassword);
        assert!(a.password_matches("1234"));
        assert!(a.password_matches("1234#"));
        assert!(!a.password_matches("12345"));
        assert!(!a.password_matches("123"));
        assert!(!a.password_matches("1235"));
        assert!(!a.password_matches(""));
        assert!(!a.password_matches("1234##"));
    }

    #[test]
    fn f_6_7_3_and_f_6_9_3_whitelist_on_caller_or_callee() {
        let a = auth(AuthMode::Whitelist, ListTarget::Caller, "101,102", "");
        assert_eq!(a.check("101", "555"), AuthDecision::Allow);
        assert_eq!(a.check("103", "101"), AuthDecision::Deny);
        let a = auth(AuthMode::Whitelist, ListTarget::Callee, "110,120", "");
        assert_eq!(a.check("1", "110"), AuthDecision::Allow);
        assert_eq!(a.check("110", "111"), AuthDecision::Deny);
        // An empty whitelist refuses everything.
        let a = auth(AuthMode::Whitelist, ListTarget::Caller, "", "");
        assert_eq!(a.check("1", "2"), AuthDecision::Deny);
    }

    #[test]
    fn f_6_7_4_and_f_6_9_4_password_or_whitelist() {
        let a = auth(
            AuthMode::PasswordOrWhitelist,
            ListTarget::Caller,
            "10*",
            "*9",
        );
        assert_eq!(a.check("101", "2"), AuthDecision::Allow);
        assert_eq!(a.check("201", "2"), AuthDecision::AskPassword);
        assert!(a.password_matches("*9"));
    }

    #[test]
    fn f_6_7_5_and_f_6_9_5_blacklist() {
        let a = auth(AuthMode::Blacklist, ListTarget::Callee, "110,120,95*", "");
        assert_eq!(a.check("1", "110"), AuthDecision::Deny);
        assert_eq!(a.check("1", "95555"), AuthDecision::Deny);
        assert_eq!(a.check("110", "13800"), AuthDecision::Allow);
        let a = auth(AuthMode::Blacklist, ListTarget::Caller, "", "");
        assert_eq!(a.check("1", "2"), AuthDecision::Allow);
    }

    #[test]
    fn password_validation() {
        let l = NumberList::default();
        assert_eq!(
            CallAuth::new(AuthMode::Password, ListTarget::Caller, l.clone(), "").err(),
            Some(CallAuthError::MissingPassword {
                mode: AuthMode::Password
            })
        );
        assert_eq!(
            CallAuth::new(
                AuthMode::PasswordOrWhitelist,
                ListTarget::Caller,
                l.clone(),
                ""
            )
            .err(),
            Some(CallAuthError::MissingPassword {
                mode: AuthMode::PasswordOrWhitelist
            })
        );
        assert_eq!(
            CallAuth::new(AuthMode::Password, ListTarget::Caller, l.clone(), "12a4").err(),
            Some(CallAuthError::PasswordChar {
                position: 3,
                ch: 'a'
            })
        );
        assert_eq!(
            CallAuth::new(AuthMode::Password, ListTarget::Caller, l.clone(), "12#").err(),
            Some(CallAuthError::PasswordChar {
                position: 3,
                ch: '#'
            })
        );
        assert_eq!(
            CallAuth::new(
                AuthMode::Password,
                ListTarget::Caller,
                l.clone(),
                &"1".repeat(17)
            )
            .err(),
            Some(CallAuthError::PasswordTooLong { len: 17 })
        );
        assert!(CallAuth::new(
            AuthMode::Password,
            ListTarget::Caller,
            l.clone(),
            &"1".repeat(16)
        )
        .is_ok());
        // A mode without password accepts an empty one.
        let a = CallAuth::new(AuthMode::Whitelist, ListTarget::Caller, l, "");
        assert!(a.is_ok_and(|a| !a.has_password()));
    }

    #[test]
    fn debug_hides_the_password() {
        let a = auth(AuthMode::Password, ListTarget::Caller, "", "4321");
        let text = format!("{a:?}");
        assert!(!text.contains("4321"), "{text}");
        assert!(text.contains("***"));
    }

    #[test]
    fn serde_forms() {
        let l = list("1,2*");
        assert_eq!(serde_json::to_string(&l).unwrap_or_default(), "\"1,2*\"");
        assert_eq!(
            serde_json::to_string(&AuthMode::PasswordOrWhitelist).unwrap_or_default(),
            "\"password_or_whitelist\""
        );
        assert!(serde_json::from_str::<NumberList>("\",\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,200}") {
            let _ = NumberList::parse(&text);
        }

        #[test]
        fn every_parsed_entry_matches_itself(entries in proptest::collection::vec("[0-9+#]{1,12}", 1..10)) {
            let text = entries.join(",");
            let l = NumberList::parse(&text);
            prop_assert!(l.is_ok());
            if let Ok(l) = l {
                for e in &entries {
                    prop_assert!(l.contains(e));
                }
            }
        }
    }
}
