//! The tokio shell around [`AtCodec`]: owns the byte stream, runs one command at a time
//! from a queue, turns final result codes into [`HalError`]s and forwards URCs.
//!
//! All timing uses tokio time, so tests on a paused clock are deterministic.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use cellgate_hal::{HalError, HalResult};

use super::codec::{AtCodec, AtItem, Final, Urc};
use super::command::{AtCommand, Timeouts};

/// Settings of an AT channel.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// Per-command timeouts.
    pub timeouts: Timeouts,
    /// How many commands may wait behind the one in flight before callers wait.
    pub queue_depth: usize,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            timeouts: Timeouts::default(),
            queue_depth: 32,
        }
    }
}

/// A completed command: its information lines and the final result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtResponse {
    /// Information lines in arrival order (echo and URCs removed).
    pub lines: Vec<String>,
    /// The final result code.
    pub result: Final,
}

impl AtResponse {
    /// Map the final result code to the HAL's error vocabulary: `OK` is success; `ERROR`,
    /// dial finals and verbose errors are [`HalError::Rejected`]; numeric CME/CMS errors
    /// keep their codes.
    pub fn into_result(self) -> HalResult<Vec<String>> {
        match self.result {
            Final::Ok => Ok(self.lines),
            Final::CmeError {
                code: Some(code), ..
            } => Err(HalError::Cme { code }),
            Final::CmsError {
                code: Some(code), ..
            } => Err(HalError::Cms { code }),
            Final::CmeError { code: None, text } | Final::CmsError { code: None, text } => {
                tracing::warn!(%text, "module reported a verbose error");
                Err(HalError::Rejected)
            }
            Final::Error | Final::NoCarrier | Final::Busy | Final::NoAnswer | Final::NoDialtone => {
                Err(HalError::Rejected)
            }
        }
    }
}

enum Request {
    Command {
        cmd: AtCommand,
        reply: oneshot::Sender<HalResult<AtResponse>>,
    },
    Resync {
        reply: oneshot::Sender<()>,
    },
}

impl Request {
    fn fail(self, e: HalError) {
        match self {
            Request::Command { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Request::Resync { reply } => {
                let _ = reply.send(());
            }
        }
    }
}

/// Handle to a running AT channel. Cheap to clone; commands from all clones are queued
/// and sent one at a time. The I/O task ends when the stream closes or every handle is
/// dropped.
#[derive(Clone, Debug)]
pub struct AtChannel {
    requests: mpsc::Sender<Request>,
    last_answer: Arc<Mutex<Instant>>,
}

impl AtChannel {
    /// Start the I/O task on `stream`. Returns the handle and the stream of URCs; the URC
    /// receiver ends when the link goes down.
    pub fn spawn<S>(stream: S, config: ChannelConfig) -> (Self, mpsc::UnboundedReceiver<Urc>)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (req_tx, req_rx) = mpsc::channel(config.queue_depth.max(1));
        let (urc_tx, urc_rx) = mpsc::unbounded_channel();
        let last_answer = Arc::new(Mutex::new(Instant::now()));
        tokio::spawn(io_task(
            stream,
            req_rx,
            urc_tx,
            config.timeouts,
            last_answer.clone(),
        ));
        (
            Self {
                requests: req_tx,
                last_answer,
            },
            urc_rx,
        )
    }

    /// When the module last completed a command (any final result code). The watchdog
    /// probes only a module that has been silent for a while.
    pub fn last_answer(&self) -> Instant {
        *self.last_answer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resynchronise the line: once the command in flight (if any) has finished, send
    /// ESC (cancels a half-entered `> ` body) and CR (ends a half-received command line)
    /// and forget any partial line received so far.
    pub async fn resync(&self) -> HalResult<()> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(Request::Resync { reply })
            .await
            .map_err(|_| HalError::LinkDown("AT channel closed".into()))?;
        rx.await
            .map_err(|_| HalError::LinkDown("AT channel closed".into()))
    }

    /// Send a command and wait for its complete answer, whatever the final result code.
    /// Errors only for [`HalError::Timeout`] and [`HalError::LinkDown`].
    pub async fn execute_raw(&self, cmd: AtCommand) -> HalResult<AtResponse> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(Request::Command { cmd, reply })
            .await
            .map_err(|_| HalError::LinkDown("AT channel closed".into()))?;
        rx.await
            .map_err(|_| HalError::LinkDown("AT channel closed".into()))?
    }

    /// Send a command; `OK` gives its information lines, anything else an error.
    pub async fn execute(&self, cmd: AtCommand) -> HalResult<Vec<String>> {
        self.execute_raw(cmd).await?.into_result()
    }

    /// Send a command line built by the backend itself (never raw user input).
    pub async fn run(&self, line: &str) -> HalResult<Vec<String>> {
        let cmd = AtCommand::new(line).map_err(|e| HalError::InvalidArgument(e.to_string()))?;
        self.execute(cmd).await
    }

    /// Whether the I/O task has ended (stream closed).
    pub fn is_closed(&self) -> bool {
        self.requests.is_closed()
    }
}

struct InFlight {
    line: String,
    reply: oneshot::Sender<HalResult<AtResponse>>,
    lines: Vec<String>,
}

async fn io_task<S>(
    stream: S,
    mut requests: mpsc::Receiver<Request>,
    urcs: mpsc::UnboundedSender<Urc>,
    timeouts: Timeouts,
    last_answer: Arc<Mutex<Instant>>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut codec = AtCodec::new();
    let mut inflight: Option<InFlight> = None;
    let mut buf = vec![0u8; 1024];
    let reason = loop {
        let mut write_failed = None;
        while let Some(bytes) = codec.poll_transmit() {
            tracing::trace!(tx = %String::from_utf8_lossy(&bytes).escape_debug(), "to module");
            let res = match wr.write_all(&bytes).await {
                Ok(()) => wr.flush().await,
                Err(e) => Err(e),
            };
            if let Err(e) = res {
                write_failed = Some(format!("write failed: {e}"));
                break;
            }
        }
        if let Some(reason) = write_failed {
            break reason;
        }
        let deadline = codec.poll_timeout();
        tokio::select! {
            read = rd.read(&mut buf) => match read {
                Ok(0) => break "stream closed".to_string(),
                Ok(n) => {
                    tracing::trace!(rx = %String::from_utf8_lossy(&buf[..n]).escape_debug(), "from module");
                    codec.push_bytes(&buf[..n]);
                }
                Err(e) => break format!("read failed: {e}"),
            },
            req = requests.recv(), if inflight.is_none() => match req {
                None => break "all handles dropped".to_string(),
                Some(Request::Resync { reply }) => {
                    codec.resync();
                    let _ = reply.send(());
                }
                Some(Request::Command { cmd, reply }) => {
                    let timeout = timeouts.for_command(&cmd);
                    let line = cmd.line().to_string();
                    match codec.send_command(cmd, timeout, Instant::now()) {
                        Ok(()) => inflight = Some(InFlight { line, reply, lines: Vec::new() }),
                        Err(e) => { let _ = reply.send(Err(HalError::Protocol(e.to_string()))); }
                    }
                }
            },
            () = sleep_until_opt(deadline) => codec.handle_timeout(Instant::now()),
        }
        while let Some(item) = codec.poll_item() {
            match item {
                AtItem::Info(line) => match inflight.as_mut() {
                    Some(f) => f.lines.push(line),
                    None => tracing::warn!(%line, "information line without a command"),
                },
                AtItem::Final(result) => {
                    *last_answer.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                    if let Some(f) = inflight.take() {
                        tracing::debug!(command = %f.line, ?result, "command finished");
                        let _ = f.reply.send(Ok(AtResponse {
                            lines: f.lines,
                            result,
                        }));
                    }
                }
                AtItem::TimedOut => {
                    if let Some(f) = inflight.take() {
                        let _ = f.reply.send(Err(HalError::Timeout(f.line)));
                    }
                }
                AtItem::Prompt => tracing::debug!("prompt received, body sent"),
                AtItem::Urc(urc) => {
                    tracing::debug!(line = %urc.line, "URC");
                    let _ = urcs.send(urc);
                }
            }
        }
    };
    tracing::warn!(%reason, "AT channel closed");
    if let Some(f) = inflight.take() {
        let _ = f.reply.send(Err(HalError::LinkDown(reason.clone())));
    }
    requests.close();
    while let Ok(r) = requests.try_recv() {
        r.fail(HalError::LinkDown(reason.clone()));
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, BufReader};

    use super::*;

    fn cmd(line: &str) -> AtCommand {
        match AtCommand::new(line) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_then_next_command_works() {
        let (ours, theirs) = tokio::io::duplex(1024);
        let config = ChannelConfig {
            timeouts: Timeouts {
                default: Duration::from_secs(2),
                ..Timeouts::default()
            },
            ..ChannelConfig::default()
        };
        let (chan, _urcs) = AtChannel::spawn(ours, config);
        tokio::spawn(async move {
            let (rd, mut wr) = tokio::io::split(theirs);
            let mut lines = BufReader::new(rd).split(b'\r');
            while let Ok(Some(line)) = lines.next_segment().await {
                if line == b"AT+SILENT" {
                    continue;
                }
                if wr.write_all(b"\r\nOK\r\n").await.is_err() {
                    break;
                }
            }
        });
        let start = Instant::now();
        assert_eq!(
            chan.run("AT+SILENT").await,
            Err(HalError::Timeout("AT+SILENT".into()))
        );
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(chan.run("AT").await, Ok(vec![]));
        // An explicit timeout wins over the configured one.
        let start = Instant::now();
        let silent = cmd("AT+SILENT").with_timeout(Duration::from_millis(300));
        assert!(matches!(
            chan.execute(silent).await,
            Err(HalError::Timeout(_))
        ));
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn link_down_when_stream_closes() {
        let (ours, theirs) = tokio::io::duplex(64);
        let (chan, mut urcs) = AtChannel::spawn(ours, ChannelConfig::default());
        drop(theirs);
        assert!(matches!(chan.run("AT").await, Err(HalError::LinkDown(_))));
        assert_eq!(urcs.recv().await, None);
        assert!(matches!(chan.run("AT").await, Err(HalError::LinkDown(_))));
    }
}
