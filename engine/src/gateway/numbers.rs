//! Telephone numbers as the modules dial them.

/// The dialable form of a Request-URI user part: digits, `+`, `*`, `#`, at most 32.
/// Visual separators (`-`, `.`, `(`, `)`) are removed (RFC 3966).
pub fn dialable(user: &str) -> Option<String> {
    let digits: String = user
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
        .collect();
    let valid = !digits.is_empty()
        && digits.len() <= 32
        && digits
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || c == '*' || c == '#' || (c == '+' && i == 0));
    valid.then_some(digits)
}
