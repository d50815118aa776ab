//! Operator selection (manual §6.14): automatic, or locked to one MCC+MNC.

use std::fmt;
use std::str::FromStr;

use cellgate_hal::OperatorSelection;
use serde::{Deserialize, Serialize};

/// Why an operator setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("operator `{0}`: expected `auto` or a 5- or 6-digit MCC+MNC such as `46000`")]
pub struct OperatorError(pub String);

/// Which network a line registers on (F-6.14.1, F-6.14.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum OperatorChoice {
    /// The module picks the network (F-6.14.1, the default).
    #[default]
    Auto,
    /// Only this MCC+MNC, 5 or 6 digits (F-6.14.2).
    Fixed(String),
}

impl OperatorChoice {
    /// The selection the module driver applies.
    pub fn to_selection(&self) -> OperatorSelection {
        match self {
            OperatorChoice::Auto => OperatorSelection::Automatic,
            OperatorChoice::Fixed(code) => OperatorSelection::Manual(code.clone()),
        }
    }
}

impl FromStr for OperatorChoice {
    type Err = OperatorError;

    /// Reads `auto` (any case) or 5 to 6 digits: a 3-digit MCC and a 2- or 3-digit MNC.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        if text.eq_ignore_ascii_case("auto") {
            return Ok(OperatorChoice::Auto);
        }
        if (5..=6).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(OperatorChoice::Fixed(text.to_string()));
        }
        Err(OperatorError(input.to_string()))
    }
}

impl fmt::Display for OperatorChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperatorChoice::Auto => f.write_str("auto"),
            OperatorChoice::Fixed(code) => f.write_str(code),
        }
    }
}

impl TryFrom<String> for OperatorChoice {
    type Error = OperatorError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<OperatorChoice> for String {
    fn from(value: OperatorChoice) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_6_14_1_auto() {
        assert_eq!("auto".parse(), Ok(OperatorChoice::Auto));
        assert_eq!(" AUTO ".parse(), Ok(OperatorChoice::Auto));
        assert_eq!(OperatorChoice::default(), OperatorChoice::Auto);
        assert_eq!(
            OperatorChoice::Auto.to_selection(),
            OperatorSelection::Automatic
        );
    }

    #[test]
    fn f_6_14_2_fixed_manual_examples() {
        for code in ["46000", "46001", "310260"] {
            let c: OperatorChoice = code.parse().unwrap();
            assert_eq!(c, OperatorChoice::Fixed(code.into()));
            assert_eq!(c.to_selection(), OperatorSelection::Manual(code.into()));
            assert_eq!(c.to_string(), code);
        }
    }

    #[test]
    fn f_6_14_2_rejects_bad_codes() {
        for bad in ["", "4600", "4600000", "46O00", "China Mobile", "+46000"] {
            let e = bad.parse::<OperatorChoice>().unwrap_err();
            assert_eq!(e, OperatorError(bad.into()));
            assert!(e.to_string().contains("`46000`"));
        }
        let e = serde_json::from_str::<OperatorChoice>(r#""460""#).unwrap_err();
        assert!(e.to_string().contains("`460`"), "{e}");
    }
}
