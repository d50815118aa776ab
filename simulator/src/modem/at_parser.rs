//! AT command-line handling, sans-IO: bytes in, command lines and parsed commands out.
//!
//! Two stages, both pure and panic-free on any input:
//! 1. [`LineAssembler`] turns the raw byte stream into lines (CR, LF or CRLF terminated),
//!    tolerating stray SUB/ESC, NUL, backspace, overlong lines and `A/`.
//! 2. [`parse_command_line`] finds the `AT` prefix and splits the rest into basic
//!    (`E0`, `X4`, `S0=2`), dial (`D123;`) and extended (`+CMEE=1`) commands.

/// Longest command line accepted; longer lines are answered with `ERROR`.
pub const MAX_LINE_LEN: usize = 1024;

/// One unit of input from the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputLine {
    /// A terminated, non-empty line (terminator not included). May hold junk or non-UTF-8.
    Line(Vec<u8>),
    /// `A/`: repeat the previous command line (acts without a terminator).
    Repeat,
    /// A line longer than [`MAX_LINE_LEN`] ended; its content was dropped.
    Overflow,
    /// In prompt mode: the body typed after `> `, ended by SUB (0x1A, send).
    Body(Vec<u8>),
    /// In prompt mode: ESC (0x1B) cancelled the body.
    BodyCancelled,
}

/// Longest SMS body accepted after the `> ` prompt (hex PDU or text).
pub const MAX_BODY_LEN: usize = 2048;

/// Splits a byte stream into command lines. Keeps the partial line between calls.
#[derive(Debug, Default)]
pub struct LineAssembler {
    buf: Vec<u8>,
    overflowed: bool,
    prompt: bool,
}

const SUB: u8 = 0x1a;
const ESC: u8 = 0x1b;
const BACKSPACE: u8 = 0x08;

impl LineAssembler {
    /// Feeds bytes; returns every line completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<InputLine> {
        bytes.iter().filter_map(|&b| self.push_byte(b)).collect()
    }

    /// Switches to prompt mode (after `> `): bytes collect into a body until SUB or ESC.
    pub fn start_prompt(&mut self) {
        self.reset();
        self.prompt = true;
    }

    /// Whether a `> ` body is being typed.
    pub fn in_prompt(&self) -> bool {
        self.prompt
    }

    /// Feeds one byte; returns the line it completed, if any.
    pub fn push_byte(&mut self, b: u8) -> Option<InputLine> {
        if self.prompt {
            return match b {
                SUB => {
                    self.prompt = false;
                    let body = std::mem::take(&mut self.buf);
                    let overflowed = std::mem::replace(&mut self.overflowed, false);
                    Some(if overflowed {
                        InputLine::BodyCancelled
                    } else {
                        InputLine::Body(body)
                    })
                }
                ESC => {
                    self.prompt = false;
                    self.reset();
                    Some(InputLine::BodyCancelled)
                }
                BACKSPACE => {
                    self.buf.pop();
                    None
                }
                0 => None,
                _ if self.buf.len() >= MAX_BODY_LEN => {
                    self.overflowed = true;
                    None
                }
                _ => {
                    self.buf.push(b);
                    None
                }
            };
        }
        let mut out = None;
        {
            match b {
                b'\r' | b'\n' => {
                    if self.overflowed {
                        out = Some(InputLine::Overflow);
                    } else if !self.buf.iter().all(u8::is_ascii_whitespace) {
                        out = Some(InputLine::Line(std::mem::take(&mut self.buf)));
                    }
                    self.reset();
                }
                // SUB/ESC end an SMS prompt on a real module; stray ones cancel the line.
                SUB | ESC => self.reset(),
                0 => {}
                BACKSPACE => {
                    self.buf.pop();
                }
                _ if self.overflowed => {}
                _ if self.buf.len() >= MAX_LINE_LEN => self.overflowed = true,
                _ => {
                    self.buf.push(b);
                    if self.buf.len() == 2 && self.buf.eq_ignore_ascii_case(b"A/") {
                        out = Some(InputLine::Repeat);
                        self.reset();
                    }
                }
            }
        }
        out
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.overflowed = false;
    }
}

/// How an extended command was invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandForm {
    /// `AT+X`.
    Exec,
    /// `AT+X?`.
    Read,
    /// `AT+X=?`.
    Test,
    /// `AT+X=<args>`: the raw argument text.
    Set(String),
}

/// One command of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtCommand {
    /// A V.250 basic command such as `E0`, `X4`, `Z`, `&F`: upper-cased name and its
    /// numeric argument, if any.
    Basic {
        /// `"E"`, `"&F"`, ...
        name: String,
        /// The digits after the name.
        value: Option<u32>,
    },
    /// `S<n>?` / `S<n>=<v>`.
    SRegister {
        /// Register number.
        register: u32,
        /// `Some(v)` for a write, `None` for a read.
        write: Option<u32>,
    },
    /// `D<dial string>[;]`.
    Dial {
        /// The characters between `D` and `;` (or the end of the line).
        dial_string: String,
        /// Whether the string ended with `;` (a voice call).
        voice: bool,
    },
    /// An extended command such as `+CMEE=1`: upper-cased name with its prefix.
    Extended {
        /// `"+CMEE"`, `"+QMOSTAT"`, ...
        name: String,
        /// Exec, read, test or set.
        form: CommandForm,
    },
}

/// Why a command line could not be parsed; the whole line is answered `ERROR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset in the command body where parsing stopped.
    pub at: usize,
}

/// Parses one command line. `None` when the line holds no `AT` prefix (a real module
/// ignores such lines); otherwise the commands after the prefix, in order. Junk before the
/// prefix is ignored, as modules hunt for `AT` in the input.
pub fn parse_command_line(line: &[u8]) -> Option<Result<Vec<AtCommand>, SyntaxError>> {
    let start = line
        .windows(2)
        .position(|w| w.eq_ignore_ascii_case(b"AT"))?;
    let body = String::from_utf8_lossy(&line[start + 2..]);
    Some(parse_body(body.trim_end()))
}

fn parse_body(body: &str) -> Result<Vec<AtCommand>, SyntaxError> {
    let chars: Vec<char> = body.chars().collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    let err = |at: usize| SyntaxError { at };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | ';' => i += 1,
            '+' | '#' | '$' | '^' | '%' | '*' => {
                let mut name = String::from(c);
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.' | '!'))
                {
                    name.push(chars[i].to_ascii_uppercase());
                    i += 1;
                }
                if name.len() < 2 {
                    return Err(err(i));
                }
                let form = if chars.get(i) == Some(&'=') && chars.get(i + 1) == Some(&'?') {
                    i += 2;
                    CommandForm::Test
                } else if chars.get(i) == Some(&'?') {
                    i += 1;
                    CommandForm::Read
                } else if chars.get(i) == Some(&'=') {
                    i += 1;
                    let (args, next) = take_args(&chars, i);
                    i = next;
                    CommandForm::Set(args)
                } else {
                    CommandForm::Exec
                };
                // An extended command ends the line or is followed by `;`.
                while chars.get(i) == Some(&' ') {
                    i += 1;
                }
                match chars.get(i) {
                    None | Some(';') => {}
                    Some(_) => return Err(err(i)),
                }
                cmds.push(AtCommand::Extended { name, form });
            }
            'D' | 'd' => {
                i += 1;
                let mut dial = String::new();
                let mut voice = false;
                while i < chars.len() {
                    let d = chars[i];
                    i += 1;
                    if d == ';' {
                        voice = true;
                        break;
                    }
                    dial.push(d);
                }
                cmds.push(AtCommand::Dial {
                    dial_string: dial,
                    voice,
                });
            }
            'S' | 's' => {
                i += 1;
                let (register, next) = take_number(&chars, i).ok_or(err(i))?;
                i = next;
                let write = match chars.get(i) {
                    Some('?') => {
                        i += 1;
                        None
                    }
                    Some('=') => {
                        let (v, next) = take_number(&chars, i + 1).ok_or(err(i + 1))?;
                        i = next;
                        Some(v)
                    }
                    _ => return Err(err(i)),
                };
                cmds.push(AtCommand::SRegister { register, write });
            }
            '&' => {
                let letter = chars.get(i + 1).filter(|l| l.is_ascii_alphabetic());
                let letter = letter.ok_or(err(i + 1))?;
                i += 2;
                let (value, next) = take_optional_number(&chars, i);
                i = next;
                cmds.push(AtCommand::Basic {
                    name: format!("&{}", letter.to_ascii_uppercase()),
                    value,
                });
            }
            c if c.is_ascii_alphabetic() => {
                i += 1;
                let (value, next) = take_optional_number(&chars, i);
                i = next;
                cmds.push(AtCommand::Basic {
                    name: c.to_ascii_uppercase().to_string(),
                    value,
                });
            }
            _ => return Err(err(i)),
        }
    }
    Ok(cmds)
}

/// Argument text of a set command: up to the first `;` outside double quotes.
fn take_args(chars: &[char], mut i: usize) -> (String, usize) {
    let mut out = String::new();
    let mut quoted = false;
    while i < chars.len() {
        let c = chars[i];
        if c == ';' && !quoted {
            break;
        }
        if c == '"' {
            quoted = !quoted;
        }
        out.push(c);
        i += 1;
    }
    (out.trim().to_owned(), i)
}

fn take_number(chars: &[char], i: usize) -> Option<(u32, usize)> {
    match take_optional_number(chars, i) {
        (Some(v), next) => Some((v, next)),
        (None, _) => None,
    }
}

fn take_optional_number(chars: &[char], mut i: usize) -> (Option<u32>, usize) {
    let mut value: Option<u32> = None;
    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
        value = Some(value.unwrap_or(0).saturating_mul(10).saturating_add(d));
        i += 1;
    }
    (value, i)
}

/// Splits set-command arguments at commas outside quotes and removes the quotes:
/// `3,0` -> `["3", "0"]`, `"a,b",,1` -> `["a,b", "", "1"]`.
pub fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in args.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_owned()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_owned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(name: &str, form: CommandForm) -> AtCommand {
        AtCommand::Extended {
            name: name.into(),
            form,
        }
    }

    fn basic(name: &str, value: Option<u32>) -> AtCommand {
        AtCommand::Basic {
            name: name.into(),
            value,
        }
    }

    fn parse(s: &str) -> Result<Vec<AtCommand>, SyntaxError> {
        parse_command_line(s.as_bytes()).unwrap_or(Err(SyntaxError { at: usize::MAX }))
    }

    #[test]
    fn assembles_lines_with_any_terminator() {
        let mut a = LineAssembler::default();
        let lines = a.push(b"AT\rATE0\r\nATI\n\r\n\rAT+CS");
        assert_eq!(
            lines,
            vec![
                InputLine::Line(b"AT".to_vec()),
                InputLine::Line(b"ATE0".to_vec()),
                InputLine::Line(b"ATI".to_vec()),
            ]
        );
        assert_eq!(a.push(b"Q\r"), vec![InputLine::Line(b"AT+CSQ".to_vec())]);
    }

    #[test]
    fn sub_and_esc_cancel_the_partial_line() {
        let mut a = LineAssembler::default();
        assert_eq!(
            a.push(b"junk\x1aAT\r"),
            vec![InputLine::Line(b"AT".to_vec())]
        );
        assert_eq!(
            a.push(b"x\x1b\x00AT\x08T\r"),
            vec![InputLine::Line(b"AT".to_vec())]
        );
    }

    #[test]
    fn repeat_and_overflow() {
        let mut a = LineAssembler::default();
        assert_eq!(a.push(b"a/"), vec![InputLine::Repeat]);
        let long = vec![b'A'; MAX_LINE_LEN + 10];
        assert!(a.push(&long).is_empty());
        assert_eq!(a.push(b"\rAT\r").len(), 2);
    }

    #[test]
    fn parses_chained_and_glued_commands() {
        assert_eq!(parse("AT"), Ok(vec![]));
        assert_eq!(
            parse("ATE0Q0V1"),
            Ok(vec![
                basic("E", Some(0)),
                basic("Q", Some(0)),
                basic("V", Some(1))
            ])
        );
        assert_eq!(
            parse("at+cmee=1; +clip=1;+CREG?"),
            Ok(vec![
                ext("+CMEE", CommandForm::Set("1".into())),
                ext("+CLIP", CommandForm::Set("1".into())),
                ext("+CREG", CommandForm::Read),
            ])
        );
        assert_eq!(
            parse("ATE0+CMEE=?"),
            Ok(vec![basic("E", Some(0)), ext("+CMEE", CommandForm::Test)])
        );
        assert_eq!(
            parse("ATS0=2S0?&F"),
            Ok(vec![
                AtCommand::SRegister {
                    register: 0,
                    write: Some(2)
                },
                AtCommand::SRegister {
                    register: 0,
                    write: None
                },
                basic("&F", None),
            ])
        );
    }

    #[test]
    fn parses_dial_and_quoted_args() {
        assert_eq!(
            parse("ATD+15551234;"),
            Ok(vec![AtCommand::Dial {
                dial_string: "+15551234".into(),
                voice: true
            }])
        );
        assert_eq!(
            parse("AT+CUSD=1,\"*100#;x\",15"),
            Ok(vec![ext(
                "+CUSD",
                CommandForm::Set("1,\"*100#;x\",15".into())
            )])
        );
        assert_eq!(split_args("\"a,b\",,1"), vec!["a,b", "", "1"]);
    }

    #[test]
    fn junk_is_tolerated() {
        assert_eq!(parse_command_line(b"\xff\xfe"), None);
        assert_eq!(parse_command_line(b"\xffAT"), Some(Ok(vec![])));
        assert!(parse("AT+").is_err());
        assert!(parse("AT+CSQ+CSQ").is_err());
        assert!(parse("AT\u{fffd}").is_err());
        assert!(parse("ATS").is_err());
    }
}
