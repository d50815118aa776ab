//! A tiny gateway-side AT driver for the integration tests: writes command lines and reads
//! response lines from a simulated modem's serial port, on the virtual clock.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Longest the driver waits for a line before failing the test (virtual time).
const LINE_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Gw {
    port: DuplexStream,
    partial: Vec<u8>,
    lines: VecDeque<String>,
}

pub fn is_final(line: &str) -> bool {
    matches!(
        line,
        "OK" | "ERROR" | "NO CARRIER" | "BUSY" | "NO ANSWER" | "NO DIALTONE"
    ) || line.starts_with("+CME ERROR")
        || line.starts_with("+CMS ERROR")
}

impl Gw {
    pub fn new(port: DuplexStream) -> Self {
        Self {
            port,
            partial: Vec::new(),
            lines: VecDeque::new(),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.port.write_all(bytes).await.expect("modem port closed");
    }

    pub async fn send(&mut self, cmd: &str) {
        self.write(format!("{cmd}\r").as_bytes()).await;
    }

    /// Next non-empty line, waiting at most [`LINE_TIMEOUT`] of virtual time.
    pub async fn try_line(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(l) = self.lines.pop_front() {
                return Some(l);
            }
            let mut buf = [0u8; 1024];
            let n = tokio::time::timeout_at(deadline, self.port.read(&mut buf))
                .await
                .ok()?
                .expect("read from modem port");
            assert!(n > 0, "modem closed the port");
            for &b in &buf[..n] {
                if b == b'\r' || b == b'\n' {
                    if !self.partial.is_empty() {
                        let l = String::from_utf8_lossy(&self.partial).into_owned();
                        self.lines.push_back(l);
                        self.partial.clear();
                    }
                } else {
                    self.partial.push(b);
                }
            }
        }
    }

    pub async fn line(&mut self) -> String {
        match self.try_line(LINE_TIMEOUT).await {
            Some(l) => l,
            None => panic!("no line from the modem within {LINE_TIMEOUT:?}"),
        }
    }

    /// Lines until (and including) the next final result code.
    pub async fn until_final(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line().await;
            let done = is_final(&l);
            out.push(l);
            if done {
                return out;
            }
        }
    }

    /// Sends a command and returns every line up to and including its final result.
    pub async fn command(&mut self, cmd: &str) -> Vec<String> {
        self.send(cmd).await;
        self.until_final().await
    }

    /// Waits for the end of the boot sequence and returns the boot lines.
    pub async fn boot(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line().await;
            let done = l == "SMS Ready";
            out.push(l);
            if done {
                return out;
            }
        }
    }

    /// Boots and switches echo off, as a gateway's init would.
    pub async fn ready(&mut self) {
        self.boot().await;
        assert_eq!(self.command("ATE0").await, ["ATE0", "OK"]);
    }

    /// Asserts that the modem stays silent for `d`.
    pub async fn silent_for(&mut self, d: Duration) {
        if let Some(l) = self.try_line(d).await {
            panic!("unexpected line from the modem: {l:?}");
        }
    }
}

impl Gw {
    /// The raw port, for byte-exact checks.
    pub fn port_mut(&mut self) -> &mut DuplexStream {
        &mut self.port
    }
}
