//! Dial rules (Appendix G): rewrite or restrict a number by its prefix.
//!
//! The same grammar serves the outbound callee (F-6.6.8, F-6.6.9), the inbound
//! second-stage number (F-6.8.12), the CID prefix (F-6.8.9) and the SMS recipient
//! (F-6.13.5).
//!
//! ```text
//! rules     = rule *( "|" rule )            ; at most 140 characters in all
//! rule      = condition ":" action
//! condition = *( digit | "+" | "*" | "#" | "X" | "x" | "[" digit "-" digit "]" )
//! action    = *( ( "-" | "+" ) char *non-operator )
//! ```
//!
//! * A condition item matches one character: a literal, any digit (`X`/`x`) or a digit in
//!   a range (`[3-8]`). Without strict mode a rule applies when the number **starts**
//!   with a match of its condition; an empty condition matches every number.
//! * Actions run left to right on the start of the number: `-abc` deletes `abc`, `+abc`
//!   prepends `abc`. The character right after an operator always belongs to the operand,
//!   even when it is `-` or `+` (F-G.4): `-+86` deletes `+86`, `-0++86` deletes `0` and
//!   then prepends `+86`.
//! * **Delete is literal** (our choice for F-G.13 / Ambiguity 8): `-<chars>` removes
//!   `<chars>` only when the number, as rewritten so far, starts with exactly those
//!   characters; otherwise it does nothing. It never removes characters blindly.
//! * The first rule that matches wins (F-G.10). In strict mode (F-G.12) the first rule
//!   whose condition matches the **whole** number, length included, wins, and a number
//!   that no condition matches fully is refused.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest dial-rule text the manual allows (F-G.10), in characters.
pub const MAX_DIAL_RULES_LEN: usize = 140;

/// A parsed list of dial rules, kept together with the text it came from so that the
/// configuration can be shown back unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DialRules {
    text: String,
    rules: Vec<Rule>,
}

/// Why a dial-rule text was refused, and where: the user sees it next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {reason}")]
pub struct DialRuleError {
    /// 1-based character column in the whole text (141 for a text that is too long).
    pub column: usize,
    /// What is wrong, in words.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    condition: Vec<Cond>,
    action: Vec<Op>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cond {
    Literal(char),
    Range(u32, u32),
    AnyDigit,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Delete(String),
    Prepend(String),
}

fn error(column: usize, reason: impl Into<String>) -> DialRuleError {
    DialRuleError {
        column,
        reason: reason.into(),
    }
}

impl Cond {
    fn matches(self, c: char) -> bool {
        match self {
            Cond::Literal(l) => l == c,
            Cond::Range(lo, hi) => c.to_digit(10).is_some_and(|d| lo <= d && d <= hi),
            Cond::AnyDigit => c.is_ascii_digit(),
        }
    }
}

impl Rule {
    /// The number starts with a match of the condition.
    fn matches_prefix(&self, number: &str) -> bool {
        let mut chars = number.chars();
        self.condition
            .iter()
            .all(|cond| chars.next().is_some_and(|c| cond.matches(c)))
    }

    /// The condition matches the whole number, length included (F-G.12).
    fn matches_fully(&self, number: &str) -> bool {
        number.chars().count() == self.condition.len() && self.matches_prefix(number)
    }

    fn apply(&self, number: &str) -> String {
        let mut out = number.to_owned();
        for op in &self.action {
            match op {
                Op::Delete(chars) => {
                    if let Some(rest) = out.strip_prefix(chars.as_str()) {
                        out = rest.to_owned();
                    }
                }
                Op::Prepend(chars) => out.insert_str(0, chars),
            }
        }
        out
    }
}

impl DialRules {
    /// Parses a rule list; `""` means no rules. Errors name the 1-based column.
    pub fn parse(text: &str) -> Result<Self, DialRuleError> {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() > MAX_DIAL_RULES_LEN {
            return Err(error(
                MAX_DIAL_RULES_LEN + 1,
                format!(
                    "dial rules are {} characters long; at most {MAX_DIAL_RULES_LEN} are allowed",
                    chars.len()
                ),
            ));
        }
        if chars.is_empty() {
            return Ok(Self::default());
        }
        let mut rules = Vec::new();
        let mut start = 0;
        loop {
            let end = chars[start..]
                .iter()
                .position(|&c| c == '|')
                .map_or(chars.len(), |p| start + p);
            rules.push(parse_rule(&chars[start..end], start)?);
            if end == chars.len() {
                break;
            }
            start = end + 1;
        }
        Ok(Self {
            text: text.to_owned(),
            rules,
        })
    }

    /// True when there are no rules: numbers pass unchanged (and strict mode refuses all).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The number of rules, for status pages and tests.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Rewrites `number` with the first matching rule.
    ///
    /// Returns `None` when the number is refused: only in `strict` mode, when no rule's
    /// condition matches the whole number (F-G.12). Without strict mode a number that
    /// matches no rule comes back unchanged (F-G.10).
    pub fn rewrite(&self, number: &str, strict: bool) -> Option<String> {
        let rule = self.rules.iter().find(|r| {
            if strict {
                r.matches_fully(number)
            } else {
                r.matches_prefix(number)
            }
        });
        match rule {
            Some(rule) => Some(rule.apply(number)),
            None if strict => None,
            None => Some(number.to_owned()),
        }
    }

    /// The text the rules were parsed from, to show the configuration back.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn parse_rule(chars: &[char], offset: usize) -> Result<Rule, DialRuleError> {
    let column = |i: usize| offset + i + 1;
    if chars.is_empty() {
        return Err(error(
            column(0),
            "empty rule: every rule between '|' needs at least a ':'",
        ));
    }
    let Some(colon) = chars.iter().position(|&c| c == ':') else {
        return Err(error(
            column(0),
            "rule has no ':' between condition and action",
        ));
    };
    let condition = parse_condition(&chars[..colon], offset)?;
    let action = parse_action(&chars[colon + 1..], offset + colon + 1)?;
    Ok(Rule { condition, action })
}

fn parse_condition(chars: &[char], offset: usize) -> Result<Vec<Cond>, DialRuleError> {
    let column = |i: usize| offset + i + 1;
    let mut items = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '0'..='9' | '+' | '*' | '#' => items.push(Cond::Literal(c)),
            'X' | 'x' => items.push(Cond::AnyDigit),
            '[' => {
                let digit = |k: usize| chars.get(i + k).and_then(|c| c.to_digit(10));
                if chars.len() < i + 5 {
                    return Err(error(
                        column(i),
                        "unfinished range: write it as [a-b] with two digits",
                    ));
                }
                let Some(lo) = digit(1) else {
                    return Err(error(column(i + 1), "a range must start with a digit"));
                };
                if chars[i + 2] != '-' {
                    return Err(error(column(i + 2), "expected '-' inside the range"));
                }
                let Some(hi) = digit(3) else {
                    return Err(error(column(i + 3), "a range must end with a digit"));
                };
                if chars[i + 4] != ']' {
                    return Err(error(column(i + 4), "expected ']' to close the range"));
                }
                if lo > hi {
                    return Err(error(
                        column(i),
                        format!("range [{lo}-{hi}] runs backwards; write [{hi}-{lo}]"),
                    ));
                }
                items.push(Cond::Range(lo, hi));
                i += 4;
            }
            ']' => return Err(error(column(i), "']' without a matching '['")),
            c if c.is_whitespace() => {
                return Err(error(column(i), "spaces are not allowed in a condition"))
            }
            c => {
                return Err(error(
                    column(i),
                    format!("{c:?} cannot appear in a condition (digits, '+', '*', '#', X, [a-b])"),
                ))
            }
        }
        i += 1;
    }
    Ok(items)
}

fn parse_action(chars: &[char], offset: usize) -> Result<Vec<Op>, DialRuleError> {
    let column = |i: usize| offset + i + 1;
    if let Some(i) = chars.iter().position(|&c| c == ':') {
        return Err(error(column(i), "a rule has only one ':'"));
    }
    if let Some(i) = chars
        .iter()
        .position(|c| c.is_whitespace() || c.is_control())
    {
        return Err(error(
            column(i),
            "spaces and control characters are not allowed in an action",
        ));
    }
    let is_op = |c: char| c == '-' || c == '+';
    let mut ops = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let op = chars[i];
        if !is_op(op) {
            return Err(error(
                column(i),
                format!("an action starts with '-' (delete) or '+' (prepend), not {op:?}"),
            ));
        }
        // F-G.4: the character right after an operator is always part of the operand.
        let Some(&first) = chars.get(i + 1) else {
            let what = if op == '-' { "delete" } else { "prepend" };
            return Err(error(
                column(i),
                format!("{op:?} at the end of the action has nothing to {what}"),
            ));
        };
        let mut operand = String::from(first);
        let mut j = i + 2;
        while let Some(&c) = chars.get(j).filter(|&&c| !is_op(c)) {
            operand.push(c);
            j += 1;
        }
        ops.push(if op == '-' {
            Op::Delete(operand)
        } else {
            Op::Prepend(operand)
        });
        i = j;
    }
    Ok(ops)
}

impl FromStr for DialRules {
    type Err = DialRuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for DialRules {
    type Error = DialRuleError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DialRules> for String {
    fn from(rules: DialRules) -> Self {
        rules.text
    }
}

impl fmt::Display for DialRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules(text: &str) -> DialRules {
        match DialRules::parse(text) {
            Ok(r) => r,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn rewrite(text: &str, number: &str) -> Option<String> {
        rules(text).rewrite(number, false)
    }

    fn column_of(text: &str) -> usize {
        match DialRules::parse(text) {
            Ok(_) => panic!("{text:?} should not parse"),
            Err(e) => e.column,
        }
    }

    #[test]
    fn f_g_5_example_1_delete_86() {
        assert_eq!(
            rewrite("86:-86", "8613012345678").as_deref(),
            Some("13012345678")
        );
    }

    #[test]
    fn f_g_6_example_2_delete_plus86() {
        assert_eq!(
            rewrite("+86:-+86", "+8613012345678").as_deref(),
            Some("13012345678")
        );
    }

    #[test]
    fn f_g_7_example_3_empty_condition_prepends_0() {
        assert_eq!(
            rewrite(":+0", "13012345678").as_deref(),
            Some("013012345678")
        );
        assert_eq!(rewrite(":+0", "").as_deref(), Some("0"));
    }

    #[test]
    fn f_g_8_example_4_range_delete_then_prepend() {
        let r = rules("01[3-8]:-0++86");
        assert_eq!(
            r.rewrite("015912345678", false).as_deref(),
            Some("+8615912345678")
        );
        assert_eq!(r.rewrite("0131", false).as_deref(), Some("+86131"));
        assert_eq!(r.rewrite("0181", false).as_deref(), Some("+86181"));
        // 012 and 019 are outside [3-8]: unchanged.
        assert_eq!(r.rewrite("0121", false).as_deref(), Some("0121"));
        assert_eq!(r.rewrite("0191", false).as_deref(), Some("0191"));
    }

    #[test]
    fn f_g_9_example_5_empty_action_only_means_something_in_strict_mode() {
        let r = rules("1[3-8]XXXXXXXXX:");
        assert_eq!(
            r.rewrite("13012345678", false).as_deref(),
            Some("13012345678")
        );
        assert_eq!(
            r.rewrite("13012345678", true).as_deref(),
            Some("13012345678")
        );
        assert_eq!(
            r.rewrite("18999999999", true).as_deref(),
            Some("18999999999")
        );
        // Too short, too long, wrong second digit, letter where a digit is needed.
        assert_eq!(r.rewrite("1301234567", true), None);
        assert_eq!(r.rewrite("130123456789", true), None);
        assert_eq!(r.rewrite("12012345678", true), None);
        assert_eq!(r.rewrite("1301234567a", true), None);
        // Without strict mode, nothing is refused.
        assert_eq!(r.rewrite("99", false).as_deref(), Some("99"));
    }

    #[test]
    fn f_g_10_rule_list_first_match_wins() {
        let r = rules("13:+0|15:+0|17:+0");
        assert_eq!(r.len(), 3);
        assert_eq!(r.rewrite("1391", false).as_deref(), Some("01391"));
        assert_eq!(r.rewrite("1591", false).as_deref(), Some("01591"));
        assert_eq!(r.rewrite("1791", false).as_deref(), Some("01791"));
        // F-G.10: no rule matches → unchanged.
        assert_eq!(r.rewrite("1891", false).as_deref(), Some("1891"));

        // Only the first matching rule is applied, later ones are not tried.
        let r = rules("1:+A|13:+B|:+C");
        assert_eq!(r.rewrite("139", false).as_deref(), Some("A139"));
        assert_eq!(r.rewrite("239", false).as_deref(), Some("C239"));
    }

    #[test]
    fn f_g_4_consecutive_operators() {
        // `-+86`: delete "+86"; `-0++86`: delete "0", prepend "+86".
        assert_eq!(rewrite(":-+86", "+861").as_deref(), Some("1"));
        assert_eq!(rewrite(":-0++86", "01").as_deref(), Some("+861"));
        // `+-`: prepend "-"; `--1`: delete "-1".
        assert_eq!(rewrite(":+-", "1").as_deref(), Some("-1"));
        assert_eq!(rewrite(":--1", "-12").as_deref(), Some("2"));
        // Several operations run left to right.
        assert_eq!(rewrite(":+1+2-21", "9").as_deref(), Some("9"));
        assert_eq!(rewrite(":+1+2-2", "9").as_deref(), Some("19"));
    }

    #[test]
    fn f_g_13_delete_is_literal() {
        // "0" is not at the start: nothing is deleted, the prepend still runs.
        assert_eq!(rewrite(":-0++86", "15").as_deref(), Some("+8615"));
        assert_eq!(rewrite("X:-86", "96").as_deref(), Some("96"));
        assert_eq!(rewrite(":-86", "86").as_deref(), Some(""));
    }

    #[test]
    fn f_g_2_conditions_wildcards_and_literals() {
        let r = rules("x#*:+9");
        assert_eq!(r.rewrite("5#*1", false).as_deref(), Some("95#*1"));
        assert_eq!(r.rewrite("a#*1", false).as_deref(), Some("a#*1"));
        let r = rules("[0-0]X:-0");
        assert_eq!(r.rewrite("05", false).as_deref(), Some("5"));
        assert_eq!(r.rewrite("0", false).as_deref(), Some("0"));
    }

    #[test]
    fn f_g_12_strict_mode_accepts_full_matches_only() {
        let r = rules("13XX:+0|1XXX:");
        assert_eq!(r.rewrite("1355", true).as_deref(), Some("01355"));
        assert_eq!(r.rewrite("1455", true).as_deref(), Some("1455"));
        assert_eq!(r.rewrite("13555", true), None);
        assert_eq!(r.rewrite("135", true), None);
        // The first rule that matches fully wins, even when an earlier one matches as a
        // prefix only.
        let r = rules("13:+A|13XX:+B");
        assert_eq!(r.rewrite("1355", true).as_deref(), Some("B1355"));
        assert_eq!(r.rewrite("1355", false).as_deref(), Some("A1355"));
        assert_eq!(r.rewrite("13", true).as_deref(), Some("A13"));
        // An empty condition fully matches only the empty number.
        let r = rules(":+0");
        assert_eq!(r.rewrite("1", true), None);
        // No rules at all: strict refuses everything, non-strict changes nothing.
        let r = DialRules::default();
        assert!(r.is_empty());
        assert_eq!(r.rewrite("123", true), None);
        assert_eq!(r.rewrite("123", false).as_deref(), Some("123"));
    }

    #[test]
    fn empty_text_is_no_rules_and_round_trips() {
        let r = rules("");
        assert!(r.is_empty());
        assert_eq!(r, DialRules::default());
        let text = "01[3-8]:-0++86|:+0";
        let r: DialRules = match text.parse() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(r.as_str(), text);
        assert_eq!(r.to_string(), text);
        assert_eq!(String::from(r), text);
    }

    #[test]
    fn serde_uses_the_text_form() {
        let r = rules("86:-86");
        let json = serde_json::to_string(&r).unwrap_or_default();
        assert_eq!(json, "\"86:-86\"");
        let back: Result<DialRules, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(r));
        assert!(serde_json::from_str::<DialRules>("\"86\"").is_err());
    }

    #[test]
    fn f_g_10_length_limit_is_140_characters() {
        let ok = format!(":+{}", "1".repeat(138));
        assert_eq!(ok.chars().count(), 140);
        assert!(DialRules::parse(&ok).is_ok());
        let long = format!(":+{}", "1".repeat(139));
        let err = DialRules::parse(&long).err();
        assert_eq!(err.as_ref().map(|e| e.column), Some(141));
        assert!(err.is_some_and(|e| e.to_string().starts_with("column 141: ")));
        // Characters, not bytes.
        let wide = format!(":+{}", "é".repeat(138));
        assert!(DialRules::parse(&wide).is_ok());
    }

    #[test]
    fn error_columns() {
        // Missing ':' in the second rule, which starts at column 8.
        assert_eq!(column_of("86:-86|1386"), 8);
        // Backwards range: points at '['.
        assert_eq!(column_of("01[8-3]:-0"), 3);
        // Unfinished range.
        assert_eq!(column_of("[3-:+0"), 1);
        assert_eq!(column_of("1[3-:"), 2);
        assert_eq!(column_of("1[3-"), 1, "no colon at all");
        // Non-digit in a range, missing '-' or ']'.
        assert_eq!(column_of("[a-5]:"), 2);
        assert_eq!(column_of("[3_5]:"), 3);
        assert_eq!(column_of("[3-5):"), 5);
        // Unknown condition characters.
        assert_eq!(column_of("12a:+0"), 3);
        assert_eq!(column_of("1 2:+0"), 2);
        assert_eq!(column_of("1]:+0"), 2);
        // Empty rules: between '||', leading, trailing.
        assert_eq!(column_of("1:+0||2:+0"), 6);
        assert_eq!(column_of("|1:+0"), 1);
        assert_eq!(column_of("1:+0|"), 6);
        // Dangling operators at the end of an action.
        assert_eq!(column_of("1:+0-"), 5);
        assert_eq!(column_of("1:+"), 3);
        assert_eq!(column_of("86:-86|2:-"), 10);
        // Action without an operator, second ':', space in action.
        assert_eq!(column_of("1:0"), 3);
        assert_eq!(column_of("1:+0:5"), 5);
        assert_eq!(column_of("1:+0 5"), 5);
    }

    #[test]
    fn error_display_names_the_column() {
        let err = DialRules::parse("01[8-3]:-0").err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.starts_with("column 3: range [8-3]"), "{text}");
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,160}") {
            let _ = DialRules::parse(&text);
        }

        #[test]
        fn parse_errors_point_inside_or_just_after_the_text(text in "[0-9xX\\[\\]:|+\\-a ]{0,40}") {
            if let Err(e) = DialRules::parse(&text) {
                prop_assert!(e.column >= 1);
                prop_assert!(e.column <= text.chars().count() + 1);
            }
        }

        #[test]
        fn rewrite_never_panics(
            text in "([0-9xX+#*]|\\[[0-9]-[0-9]\\]){0,6}:([+-][0-9+\\-][0-9]{0,3}){0,3}(\\|[0-9xX]{0,3}:([+-][0-9]{1,3}){0,2}){0,3}",
            number in ".{0,20}",
            strict in any::<bool>(),
        ) {
            if let Ok(rules) = DialRules::parse(&text) {
                let _ = rules.rewrite(&number, strict);
            }
        }

        #[test]
        fn generated_rules_parse_and_non_strict_never_refuses(
            text in "([0-9xX+#*]|\\[[0-4]-[5-9]\\]){0,6}:([+-][0-9+\\-][0-9]{0,3}){0,3}",
            number in "[0-9+]{0,15}",
        ) {
            let parsed = DialRules::parse(&text);
            prop_assert!(parsed.is_ok(), "{:?}: {:?}", text, parsed);
            if let Ok(rules) = parsed {
                prop_assert!(rules.rewrite(&number, false).is_some());
                // Strict mode only ever gives what non-strict mode would give for a
                // single rule.
                if let Some(strict) = rules.rewrite(&number, true) {
                    prop_assert_eq!(Some(strict), rules.rewrite(&number, false));
                }
            }
        }
    }
}
