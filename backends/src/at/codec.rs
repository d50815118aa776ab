//! Sans-IO AT protocol state machine.
//!
//! Bytes from the module go in with [`AtCodec::push_bytes`]; classified [`AtItem`]s come
//! out of [`AtCodec::poll_item`]. Commands go in with [`AtCodec::send_command`]; the bytes
//! to write come out of [`AtCodec::poll_transmit`]. Time is passed in explicitly and the
//! codec reports its next deadline ([`AtCodec::poll_timeout`]), so per-command timeouts
//! are decided here and the whole protocol is testable without a runtime or a clock.
//!
//! Tolerated on input: echo of the command line, CR / LF / CRLF / `\r\r` line ends, URCs
//! interleaved inside a response, leading garbage bytes, bytes split at any position,
//! non-UTF-8 (decoded lossily).

use std::collections::VecDeque;

use tokio::time::Instant;

use super::command::{AtCommand, InfoShape};

/// Longest line kept; anything longer is garbage and is dropped up to the next line end.
const MAX_LINE: usize = 4096;

/// Ctrl-Z: ends a prompt body and sends it.
const CTRL_Z: u8 = 0x1a;
/// ESC: cancels a prompt body.
const ESC: u8 = 0x1b;

/// A final result code: the end of a command's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    /// `OK`.
    Ok,
    /// Plain `ERROR`.
    Error,
    /// `+CME ERROR: <n>`; `code` is `None` for the verbose (`AT+CMEE=2`) form.
    CmeError {
        /// Numeric code when given.
        code: Option<u16>,
        /// The text after the colon.
        text: String,
    },
    /// `+CMS ERROR: <n>`; `code` is `None` for the verbose form.
    CmsError {
        /// Numeric code when given.
        code: Option<u16>,
        /// The text after the colon.
        text: String,
    },
    /// `NO CARRIER` ending a dial command.
    NoCarrier,
    /// `BUSY` ending a dial command.
    Busy,
    /// `NO ANSWER` ending a dial command.
    NoAnswer,
    /// `NO DIALTONE` ending a dial command.
    NoDialtone,
}

/// An unsolicited result code, with the PDU line that follows `+CMT:` / `+CDS:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urc {
    /// The URC line, trimmed.
    pub line: String,
    /// The following line for URCs that carry one (`+CMT:`, `+CDS:`).
    pub body: Option<String>,
}

impl Urc {
    /// A URC without a body line.
    pub fn new(line: impl Into<String>) -> Self {
        Self {
            line: line.into(),
            body: None,
        }
    }
}

/// What the codec recognised in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtItem {
    /// An information line of the pending command.
    Info(String),
    /// The pending command finished.
    Final(Final),
    /// An unsolicited result code.
    Urc(Urc),
    /// The `> ` prompt of the pending command arrived; its body has been queued.
    Prompt,
    /// The pending command got no final result code before its deadline.
    TimedOut,
}

/// Why a command could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Another command is still waiting for its final result code.
    #[error("a command is already in flight")]
    Busy,
}

#[derive(Debug)]
struct Pending {
    cmd: AtCommand,
    deadline: Instant,
    info_lines: usize,
    expect_pdu_line: bool,
    prompt_seen: bool,
}

/// The AT protocol state: line assembly, the pending command, queued output.
#[derive(Debug, Default)]
pub struct AtCodec {
    rx: Vec<u8>,
    discarding: bool,
    pending: Option<Pending>,
    urc_waiting_body: Option<String>,
    items: VecDeque<AtItem>,
    transmit: VecDeque<Vec<u8>>,
}

/// URCs that are whole lines.
const URC_WORDS: &[&str] = &[
    "RING",
    "MO RING",
    "MO CONNECTED",
    "NO CARRIER",
    "BUSY",
    "NO ANSWER",
    "NO DIALTONE",
    "RDY",
    "Call Ready",
    "SMS Ready",
    "NORMAL POWER DOWN",
    "UNDER-VOLTAGE POWER DOWN",
    "OVER-VOLTAGE POWER DOWN",
];

/// URCs recognised by their prefix.
const URC_PREFIXES: &[&str] = &[
    "+CRING:",
    "+CLIP:",
    "+CREG:",
    "+CGREG:",
    "+CMTI:",
    "+CMT:",
    "+CDS:",
    "+CDSI:",
    "+CUSD:",
    "+CSQN:",
    "+QTONEDET:",
    "+CPIN:",
    "+CFUN:",
    "+QIND:",
    "+QUSIM:",
    "+CCWA:",
    "+CBM:",
];

/// URCs followed by one PDU line.
const URC_WITH_BODY: &[&str] = &["+CMT:", "+CDS:", "+CBM:"];

/// Whether a line is a known unsolicited result code.
pub fn is_urc(line: &str) -> bool {
    URC_WORDS.iter().any(|w| line.eq_ignore_ascii_case(w))
        || URC_PREFIXES
            .iter()
            .any(|p| starts_with_ignore_case(line, p))
}

fn starts_with_ignore_case(line: &str, prefix: &str) -> bool {
    line.len() >= prefix.len()
        && line.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn parse_error_code(rest: &str) -> (Option<u16>, String) {
    let text = rest.trim().to_string();
    (text.parse().ok(), text)
}

/// Recognise a final result code. Dial finals count only for dial commands.
fn parse_final(line: &str, dial: bool) -> Option<Final> {
    if line.eq_ignore_ascii_case("OK") {
        return Some(Final::Ok);
    }
    if line.eq_ignore_ascii_case("ERROR") {
        return Some(Final::Error);
    }
    if starts_with_ignore_case(line, "+CME ERROR:") {
        let (code, text) = parse_error_code(&line[11..]);
        return Some(Final::CmeError { code, text });
    }
    if starts_with_ignore_case(line, "+CMS ERROR:") {
        let (code, text) = parse_error_code(&line[11..]);
        return Some(Final::CmsError { code, text });
    }
    if dial {
        let f = match line.to_ascii_uppercase().as_str() {
            "NO CARRIER" => Final::NoCarrier,
            "BUSY" => Final::Busy,
            "NO ANSWER" => Final::NoAnswer,
            "NO DIALTONE" => Final::NoDialtone,
            _ => return None,
        };
        return Some(f);
    }
    None
}

/// Strip garbage around a raw line: leading bytes that cannot start an AT line (noise,
/// NULs, 0xFF after power-up, stray spaces) and trailing whitespace/control bytes.
/// Whether `rx` is a `+CUSD:` line whose quoted string is still open: a bare line feed
/// there is part of the text, not a line end (`\r` always ends the line).
fn inside_quoted_text(rx: &[u8]) -> bool {
    let start = rx
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(rx.len());
    rx[start..].starts_with(b"+CUSD:")
        && !rx.iter().filter(|b| **b == b'"').count().is_multiple_of(2)
}

fn clean_line(raw: &[u8]) -> Option<String> {
    let start = raw.iter().position(|b| (0x21..0x7f).contains(b))?;
    let end = raw
        .iter()
        .rposition(|b| *b > 0x20 && *b != 0x7f)
        .map_or(start, |e| e + 1);
    if end <= start {
        return None;
    }
    Some(String::from_utf8_lossy(&raw[start..end]).into_owned())
}

impl AtCodec {
    /// A codec with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a new command may be sent.
    pub fn is_idle(&self) -> bool {
        self.pending.is_none()
    }

    /// Start a command: queues its line for transmission and arms its deadline.
    pub fn send_command(
        &mut self,
        cmd: AtCommand,
        timeout: std::time::Duration,
        now: Instant,
    ) -> Result<(), SendError> {
        if self.pending.is_some() {
            return Err(SendError::Busy);
        }
        let mut bytes = cmd.line().as_bytes().to_vec();
        bytes.push(b'\r');
        self.transmit.push_back(bytes);
        self.pending = Some(Pending {
            cmd,
            deadline: now + timeout,
            info_lines: 0,
            expect_pdu_line: false,
            prompt_seen: false,
        });
        Ok(())
    }

    /// Resynchronise with the module: drop any partial line and pending PDU-URC state,
    /// forget the command in flight (its caller has given up), and queue ESC + CR, which
    /// cancels a half-entered `> ` body and terminates a half-received command line.
    pub fn resync(&mut self) {
        self.rx.clear();
        self.discarding = false;
        self.pending = None;
        if let Some(head) = self.urc_waiting_body.take() {
            self.items.push_back(AtItem::Urc(Urc::new(head)));
        }
        self.transmit.push_back(vec![ESC, b'\r']);
    }

    /// Next bytes to write to the module.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// Next recognised item.
    pub fn poll_item(&mut self) -> Option<AtItem> {
        self.items.pop_front()
    }

    /// When [`AtCodec::handle_timeout`] must be called next, if anything is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.deadline)
    }

    /// Let time pass: a pending command past its deadline ends with [`AtItem::TimedOut`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired = self.pending.as_ref().is_some_and(|p| now >= p.deadline);
        if !expired {
            return;
        }
        if let Some(p) = self.pending.take() {
            tracing::warn!(command = p.cmd.line(), "AT command timed out");
            if p.prompt_seen {
                // The module may still be collecting the body: cancel it.
                self.transmit.push_back(vec![ESC]);
            }
            self.items.push_back(AtItem::TimedOut);
        }
    }

    /// Feed bytes read from the module.
    pub fn push_bytes(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' && !self.discarding && inside_quoted_text(&self.rx) {
                // A line feed inside a quoted `+CUSD` string (menus are multi-line).
                self.rx.push(b);
            } else if b == b'\r' || b == b'\n' {
                if self.discarding {
                    self.discarding = false;
                    self.rx.clear();
                    continue;
                }
                let raw = std::mem::take(&mut self.rx);
                if let Some(line) = clean_line(&raw) {
                    self.handle_line(line);
                }
            } else if !self.discarding {
                if self.rx.len() >= MAX_LINE {
                    tracing::warn!(len = self.rx.len(), "over-long line from module dropped");
                    self.rx.clear();
                    self.discarding = true;
                } else {
                    self.rx.push(b);
                }
            }
        }
        self.check_prompt();
    }

    /// The `> ` prompt arrives without a line end: recognise it in the partial buffer.
    fn check_prompt(&mut self) {
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        if p.prompt_seen {
            return;
        }
        let Some(body) = p.cmd.body() else {
            return;
        };
        let partial: Vec<u8> = self
            .rx
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if partial == b">" {
            p.prompt_seen = true;
            let mut bytes = body.to_vec();
            bytes.push(CTRL_Z);
            self.transmit.push_back(bytes);
            self.rx.clear();
            self.items.push_back(AtItem::Prompt);
        }
    }

    fn handle_line(&mut self, line: String) {
        // A URC that carries a PDU line takes the next line if it looks like one.
        if let Some(head) = self.urc_waiting_body.take() {
            if line.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.items.push_back(AtItem::Urc(Urc {
                    line: head,
                    body: Some(line),
                }));
                return;
            }
            tracing::warn!(urc = %head, "URC without its PDU line");
            self.items.push_back(AtItem::Urc(Urc::new(head)));
        }

        if let Some(p) = self.pending.as_mut() {
            // Echo of the command line (echo on), or of the prompt body.
            if line.eq_ignore_ascii_case(p.cmd.line())
                || (p.prompt_seen && p.cmd.body().is_some_and(|b| b == line.as_bytes()))
            {
                return;
            }
            if p.expect_pdu_line {
                p.expect_pdu_line = false;
                if parse_final(&line, p.cmd.is_dial()).is_none() {
                    p.info_lines += 1;
                    self.items.push_back(AtItem::Info(line));
                    return;
                }
            }
            if let Some(f) = parse_final(&line, p.cmd.is_dial()) {
                self.pending = None;
                self.items.push_back(AtItem::Final(f));
                return;
            }
            match p.cmd.info() {
                InfoShape::Prefix {
                    prefix,
                    single,
                    pdu_follows,
                } => {
                    if starts_with_ignore_case(&line, prefix) && !(*single && p.info_lines > 0) {
                        p.info_lines += 1;
                        p.expect_pdu_line = *pdu_follows;
                        self.items.push_back(AtItem::Info(line));
                        return;
                    }
                }
                InfoShape::Bare => {
                    if !is_urc(&line) {
                        p.info_lines += 1;
                        self.items.push_back(AtItem::Info(line));
                        return;
                    }
                }
                InfoShape::None => {}
            }
        }

        if is_urc(&line) {
            if URC_WITH_BODY
                .iter()
                .any(|p| starts_with_ignore_case(&line, p))
            {
                self.urc_waiting_body = Some(line);
            } else {
                self.items.push_back(AtItem::Urc(Urc::new(line)));
            }
            return;
        }
        match &self.pending {
            Some(p) => {
                tracing::warn!(command = p.cmd.line(), %line, "unexpected line during command ignored")
            }
            None => tracing::warn!(%line, "unsolicited unknown line ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const T: Duration = Duration::from_secs(5);

    fn cmd(line: &str) -> AtCommand {
        match AtCommand::new(line) {
            Ok(c) => c,
            Err(e) => panic!("bad test command {line}: {e}"),
        }
    }

    fn drain(codec: &mut AtCodec) -> Vec<AtItem> {
        std::iter::from_fn(|| codec.poll_item()).collect()
    }

    fn info(s: &str) -> AtItem {
        AtItem::Info(s.into())
    }

    fn urc(s: &str) -> AtItem {
        AtItem::Urc(Urc::new(s))
    }

    /// Run one command against a captured answer fed in the given chunks.
    fn run(line: &str, chunks: &[&[u8]]) -> Vec<AtItem> {
        let mut c = AtCodec::new();
        let now = Instant::now();
        assert_eq!(c.send_command(cmd(line), T, now), Ok(()));
        for chunk in chunks {
            c.push_bytes(chunk);
        }
        drain(&mut c)
    }

    #[test]
    fn transmits_command_with_cr() {
        let mut c = AtCodec::new();
        assert_eq!(c.send_command(cmd("AT+CSQ"), T, Instant::now()), Ok(()));
        assert_eq!(c.poll_transmit(), Some(b"AT+CSQ\r".to_vec()));
        assert_eq!(c.poll_transmit(), None);
        assert_eq!(
            c.send_command(cmd("AT"), T, Instant::now()),
            Err(SendError::Busy)
        );
    }

    #[test]
    fn simple_ok_and_info() {
        assert_eq!(
            run("AT+CSQ", &[b"\r\n+CSQ: 20,0\r\n\r\nOK\r\n"]),
            vec![info("+CSQ: 20,0"), AtItem::Final(Final::Ok)]
        );
    }

    #[test]
    fn all_line_end_styles() {
        for answer in [
            &b"+CSQ: 20,0\rOK\r"[..],
            b"+CSQ: 20,0\nOK\n",
            b"\r\n+CSQ: 20,0\r\n\r\nOK\r\n",
            b"\r\r\n+CSQ: 20,0\r\r\n\r\r\nOK\r\r\n",
            b"\n\r+CSQ: 20,0\n\rOK\n\r",
        ] {
            assert_eq!(
                run("AT+CSQ", &[answer]),
                vec![info("+CSQ: 20,0"), AtItem::Final(Final::Ok)],
                "answer {:?}",
                String::from_utf8_lossy(answer)
            );
        }
    }

    #[test]
    fn echo_is_dropped() {
        assert_eq!(
            run("AT+CGMM", &[b"AT+CGMM\r\r\nQuectel_M35\r\n\r\nOK\r\n"]),
            vec![info("Quectel_M35"), AtItem::Final(Final::Ok)]
        );
        assert_eq!(
            run("ATE0", &[b"ATE0\r\r\nOK\r\n"]),
            vec![AtItem::Final(Final::Ok)]
        );
    }

    #[test]
    fn error_finals() {
        assert_eq!(
            run("AT+CPIN?", &[b"\r\n+CME ERROR: 10\r\n"]),
            vec![AtItem::Final(Final::CmeError {
                code: Some(10),
                text: "10".into()
            })]
        );
        assert_eq!(
            run("AT+CMGS=12", &[b"\r\n+CMS ERROR: 304\r\n"]),
            vec![AtItem::Final(Final::CmsError {
                code: Some(304),
                text: "304".into()
            })]
        );
        assert_eq!(
            run("AT+CPIN?", &[b"\r\n+CME ERROR: SIM not inserted\r\n"]),
            vec![AtItem::Final(Final::CmeError {
                code: None,
                text: "SIM not inserted".into()
            })]
        );
        assert_eq!(
            run("AT+FOO", &[b"\r\nERROR\r\n"]),
            vec![AtItem::Final(Final::Error)]
        );
    }

    #[test]
    fn dial_finals_only_for_dial() {
        assert_eq!(
            run("ATD123;", &[b"\r\nBUSY\r\n"]),
            vec![AtItem::Final(Final::Busy)]
        );
        assert_eq!(
            run("ATD123;", &[b"\r\nNO DIALTONE\r\n"]),
            vec![AtItem::Final(Final::NoDialtone)]
        );
        assert_eq!(
            run("AT+CSQ", &[b"\r\nNO CARRIER\r\n+CSQ: 1,2\r\nOK\r\n"]),
            vec![
                urc("NO CARRIER"),
                info("+CSQ: 1,2"),
                AtItem::Final(Final::Ok)
            ]
        );
    }

    #[test]
    fn urc_interleaved_in_clcc() {
        let answer = b"\r\n+CLCC: 1,0,0,0,0,\"123\",129\r\nRING\r\n+CREG: 1\r\n+CLCC: 2,1,4,0,0,\"456\",129,\"\"\r\n\r\nOK\r\n";
        assert_eq!(
            run("AT+CLCC", &[answer]),
            vec![
                info("+CLCC: 1,0,0,0,0,\"123\",129"),
                urc("RING"),
                urc("+CREG: 1"),
                info("+CLCC: 2,1,4,0,0,\"456\",129,\"\""),
                AtItem::Final(Final::Ok)
            ]
        );
    }

    #[test]
    fn single_prefix_turns_later_lines_into_urcs() {
        assert_eq!(
            run(
                "AT+CREG?",
                &[b"\r\n+CREG: 2,1,\"1A2B\",\"00C4\"\r\n+CREG: 5\r\nOK\r\n"]
            ),
            vec![
                info("+CREG: 2,1,\"1A2B\",\"00C4\""),
                urc("+CREG: 5"),
                AtItem::Final(Final::Ok)
            ]
        );
    }

    #[test]
    fn bare_info_excludes_urcs() {
        assert_eq!(
            run(
                "AT+CGSN",
                &[b"\r\n861234567890123\r\n+CPIN: READY\r\nOK\r\n"]
            ),
            vec![
                info("861234567890123"),
                urc("+CPIN: READY"),
                AtItem::Final(Final::Ok)
            ]
        );
    }

    #[test]
    fn garbage_and_unknown_lines_are_ignored() {
        let mut c = AtCodec::new();
        c.push_bytes(b"\x00\xff\xfe\r\nhello there\r\n\xff\xffRDY\r\nOK\r\n");
        assert_eq!(drain(&mut c), vec![urc("RDY")]);
        assert_eq!(
            run("AT+CSQ", &[b"\r\n\x80\x81junk\r\n+CSQ: 9,9\r\n\xffOK\r\n"]),
            vec![info("+CSQ: 9,9"), AtItem::Final(Final::Ok)]
        );
    }

    #[test]
    fn non_utf8_is_decoded_lossily() {
        let items = run("AT+COPS?", &[b"+COPS: 0,0,\"Caf\xe9\"\r\nOK\r\n"]);
        assert_eq!(
            items,
            vec![info("+COPS: 0,0,\"Caf\u{fffd}\""), AtItem::Final(Final::Ok)]
        );
    }

    #[test]
    fn over_long_line_is_dropped() {
        let mut c = AtCodec::new();
        c.push_bytes(&vec![b'A'; MAX_LINE + 10]);
        c.push_bytes(b"\r\nRING\r\n");
        assert_eq!(drain(&mut c), vec![urc("RING")]);
    }

    #[test]
    fn cmt_urc_carries_its_pdu() {
        let mut c = AtCodec::new();
        c.push_bytes(b"\r\n+CMT: ,24\r\n0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB01\r\n");
        assert_eq!(
            drain(&mut c),
            vec![AtItem::Urc(Urc {
                line: "+CMT: ,24".into(),
                body: Some(
                    "0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB01".into()
                )
            })]
        );
    }

    #[test]
    fn multi_line_cusd_text_stays_one_urc() {
        let mut c = AtCodec::new();
        c.push_bytes(b"\r\n+CUSD: 1,\"1. Balance\n2. Offers\",15\r\n\r\n+CREG: 1\r\n");
        assert_eq!(
            drain(&mut c),
            vec![
                AtItem::Urc(Urc {
                    line: "+CUSD: 1,\"1. Balance\n2. Offers\",15".into(),
                    body: None
                }),
                AtItem::Urc(Urc {
                    line: "+CREG: 1".into(),
                    body: None
                })
            ]
        );
        // A carriage return always ends the line, even with the quote still open.
        c.push_bytes(b"+CUSD: 1,\"broken\r\nOK\r\n");
        assert_eq!(
            drain(&mut c).len(),
            1,
            "the +CUSD line only (no command pending)"
        );
    }

    #[test]
    fn cmgl_pdu_lines_belong_to_command() {
        assert_eq!(
            run(
                "AT+CMGL=4",
                &[b"+CMGL: 1,0,,5\r\n0011AABB\r\n+CMGL: 2,1,,5\r\n0011CCDD\r\nOK\r\n"]
            ),
            vec![
                info("+CMGL: 1,0,,5"),
                info("0011AABB"),
                info("+CMGL: 2,1,,5"),
                info("0011CCDD"),
                AtItem::Final(Final::Ok)
            ]
        );
    }

    #[test]
    fn prompt_sends_body() {
        let mut c = AtCodec::new();
        let command = cmd("AT+CMGS=5").with_body(b"0011AABBCC".to_vec());
        assert_eq!(c.send_command(command, T, Instant::now()), Ok(()));
        assert_eq!(c.poll_transmit(), Some(b"AT+CMGS=5\r".to_vec()));
        c.push_bytes(b"AT+CMGS=5\r\r\n>");
        assert_eq!(drain(&mut c), vec![AtItem::Prompt]);
        assert_eq!(c.poll_transmit(), Some(b"0011AABBCC\x1a".to_vec()));
        c.push_bytes(b" 0011AABBCC\r\n+CMGS: 7\r\n\r\nOK\r\n");
        assert_eq!(
            drain(&mut c),
            vec![info("+CMGS: 7"), AtItem::Final(Final::Ok)]
        );
    }

    #[test]
    fn timeout_is_reported_at_deadline() {
        let mut c = AtCodec::new();
        let now = Instant::now();
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.send_command(cmd("AT"), T, now), Ok(()));
        assert_eq!(c.poll_timeout(), Some(now + T));
        c.handle_timeout(now + T - Duration::from_millis(1));
        assert_eq!(drain(&mut c), vec![]);
        c.handle_timeout(now + T);
        assert_eq!(drain(&mut c), vec![AtItem::TimedOut]);
        assert!(c.is_idle());
        // A late OK is stray; the next command works.
        c.push_bytes(b"OK\r\n");
        assert_eq!(drain(&mut c), vec![]);
        assert_eq!(c.send_command(cmd("AT"), T, now + T), Ok(()));
        c.push_bytes(b"OK\r\n");
        assert_eq!(drain(&mut c), vec![AtItem::Final(Final::Ok)]);
    }

    #[test]
    fn timeout_after_prompt_cancels_body() {
        let mut c = AtCodec::new();
        let now = Instant::now();
        let command = cmd("AT+CMGS=1").with_body(b"00".to_vec());
        assert_eq!(c.send_command(command, T, now), Ok(()));
        c.push_bytes(b"\r\n> ");
        let _ = std::iter::from_fn(|| c.poll_transmit()).count();
        c.handle_timeout(now + T);
        assert_eq!(drain(&mut c), vec![AtItem::Prompt, AtItem::TimedOut]);
        assert_eq!(c.poll_transmit(), Some(vec![ESC]));
    }

    /// A captured exchange: echo on, URCs inside and between responses, odd line ends.
    const CAPTURE: &[u8] = b"AT+CLCC\r\r\n+CLCC: 1,0,3,0,0,\"+491701234567\",145,\"\"\r\n\r\nRING\r\n\r\n+CLIP: \"0301234\",129,\"\",,\"\",0\r\n+CLCC: 2,1,5,0,0,\"0301234\",129\r\r\n\x00\xffgarbage\r\nOK\r\n\r\nMO RING\r\n+CMTI: \"SM\",3\n\r+CMT: ,5\r\n0011AABBCC\r\n+CREG: 1,\"1A2B\",\"00C4\"\r";

    fn capture_expected() -> Vec<AtItem> {
        vec![
            info("+CLCC: 1,0,3,0,0,\"+491701234567\",145,\"\""),
            urc("RING"),
            urc("+CLIP: \"0301234\",129,\"\",,\"\",0"),
            info("+CLCC: 2,1,5,0,0,\"0301234\",129"),
            AtItem::Final(Final::Ok),
            urc("MO RING"),
            urc("+CMTI: \"SM\",3"),
            AtItem::Urc(Urc {
                line: "+CMT: ,5".into(),
                body: Some("0011AABBCC".into()),
            }),
            urc("+CREG: 1,\"1A2B\",\"00C4\""),
        ]
    }

    #[test]
    fn capture_in_one_piece() {
        assert_eq!(run("AT+CLCC", &[CAPTURE]), capture_expected());
    }

    #[test]
    fn capture_split_at_every_position() {
        for split in 0..=CAPTURE.len() {
            let (a, b) = CAPTURE.split_at(split);
            assert_eq!(
                run("AT+CLCC", &[a, b]),
                capture_expected(),
                "split at {split}"
            );
        }
    }

    #[test]
    fn capture_byte_by_byte() {
        let chunks: Vec<&[u8]> = CAPTURE.chunks(1).collect();
        assert_eq!(run("AT+CLCC", &chunks), capture_expected());
    }

    #[test]
    fn capture_split_at_every_pair_of_positions() {
        for i in 0..=CAPTURE.len() {
            for j in i..=CAPTURE.len() {
                let chunks = [&CAPTURE[..i], &CAPTURE[i..j], &CAPTURE[j..]];
                assert_eq!(run("AT+CLCC", &chunks), capture_expected(), "split {i},{j}");
            }
        }
    }
}
