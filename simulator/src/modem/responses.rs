//! Result codes and error tables: how a modem words its final answers.

/// A V.250 result code; printed as text with `ATV1`, as a number with `ATV0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    /// `OK` / 0.
    Ok,
    /// `RING` / 2.
    Ring,
    /// `NO CARRIER` / 3.
    NoCarrier,
    /// `ERROR` / 4.
    Error,
    /// `BUSY` / 7.
    Busy,
    /// `NO ANSWER` / 8.
    NoAnswer,
}

impl ResultCode {
    /// Verbose form.
    pub fn text(self) -> &'static str {
        match self {
            ResultCode::Ok => "OK",
            ResultCode::Ring => "RING",
            ResultCode::NoCarrier => "NO CARRIER",
            ResultCode::Error => "ERROR",
            ResultCode::Busy => "BUSY",
            ResultCode::NoAnswer => "NO ANSWER",
        }
    }

    /// Numeric form.
    pub fn number(self) -> u8 {
        match self {
            ResultCode::Ok => 0,
            ResultCode::Ring => 2,
            ResultCode::NoCarrier => 3,
            ResultCode::Error => 4,
            ResultCode::Busy => 7,
            ResultCode::NoAnswer => 8,
        }
    }
}

/// A failed command: plain `ERROR`, or a mobile-equipment error shaped by `AT+CMEE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtError {
    /// Always `ERROR` (syntax errors, unknown commands, bad parameters).
    Plain,
    /// `+CME ERROR: <n>` with `AT+CMEE=1`, text with `=2`, `ERROR` with `=0`.
    Cme(u16),
    /// `+CMS ERROR: <n>` with `AT+CMEE=1|2`, `ERROR` with `=0`.
    Cms(u16),
}

/// CME error 3: operation not allowed.
pub const CME_NOT_ALLOWED: u16 = 3;
/// CME error 4: operation not supported.
pub const CME_NOT_SUPPORTED: u16 = 4;
/// CME error 26: dial string too long.
pub const CME_DIAL_STRING_TOO_LONG: u16 = 26;
/// CME error 27: invalid characters in dial string.
pub const CME_INVALID_DIAL_CHARS: u16 = 27;
/// CME error 30: no network service.
pub const CME_NO_NETWORK: u16 = 30;

/// 3GPP TS 27.007 §9.2 texts for `AT+CMEE=2`.
const CME_TEXTS: &[(u16, &str)] = &[
    (0, "phone failure"),
    (3, "operation not allowed"),
    (4, "operation not supported"),
    (10, "SIM not inserted"),
    (11, "SIM PIN required"),
    (12, "SIM PUK required"),
    (13, "SIM failure"),
    (14, "SIM busy"),
    (15, "SIM wrong"),
    (16, "incorrect password"),
    (20, "memory full"),
    (21, "invalid index"),
    (22, "not found"),
    (23, "memory failure"),
    (24, "text string too long"),
    (25, "invalid characters in text string"),
    (26, "dial string too long"),
    (27, "invalid characters in dial string"),
    (30, "no network service"),
    (31, "network timeout"),
    (32, "network not allowed - emergency calls only"),
    (100, "unknown"),
    (515, "please wait, init or command processing in progress"),
];

/// Text of a CME error code for `AT+CMEE=2`.
pub fn cme_text(code: u16) -> &'static str {
    CME_TEXTS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, t)| *t)
        .unwrap_or("unknown")
}
