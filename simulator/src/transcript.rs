//! Recording what crossed a modem's serial port, in a stable text form for assertions and
//! snapshots: `-> <line>` for what the modem received, `<- <line>` for each line it sent.

/// The AT transcript of one modem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    entries: Vec<String>,
}

impl Transcript {
    /// Records a command line the modem received (terminator already stripped).
    pub fn received(&mut self, line: &[u8]) {
        self.entries.push(format!("-> {}", printable(line)));
    }

    /// Records one line the modem sent (framing CR/LF stripped).
    pub fn sent(&mut self, line: &[u8]) {
        self.entries.push(format!("<- {}", printable(line)));
    }

    /// The entries so far, in order.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }
}

/// Renders bytes as text: printable ASCII as is, everything else as `\xNN`, so garbage
/// input shows up in transcripts without breaking them.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_non_printables() {
        let mut t = Transcript::default();
        t.received(b"AT\x00\xff");
        t.sent(b"OK");
        assert_eq!(t.entries(), ["-> AT\\x00\\xFF", "<- OK"]);
    }
}
