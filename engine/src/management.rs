//! The management plane's door into a running gateway: status snapshots and the
//! operator's line actions (the reset icons, restoring a red line, module on/off of
//! §5.2.1), as messages to the runtime's event loop.
//!
//! The core is single-threaded and owned by the runtime task, so the web UI, the HTTP API
//! and the SMS-server client never touch it directly: they hold a [`ManagementHandle`]
//! and the runtime answers each request between two events, on the same clock as
//! everything else.

use cellgate_hal::LineId;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::gateway::{Gateway, GatewayStatus, LineStatus};

/// Everything the status pages show at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusSnapshot {
    /// The page header (F-5.2.0.x).
    pub gateway: GatewayStatus,
    /// One row per line, in line order (F-5.2.1 to F-5.2.4).
    pub lines: Vec<LineStatus>,
}

/// What an operator can do to lines from the status pages (F-5.2.1.2, .3, .20, .21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineAction {
    /// Reset icon 1: remaining time (and call count) back to the configured limit.
    ResetRemainingTime,
    /// Reset icon 2: remaining SMS back to the configured quota.
    ResetRemainingSms,
    /// Reset icon 3: ACD, ASR and the rest of the CDR statistics back to zero.
    ResetCdr,
    /// Clicking a red line number: undo what the run policy did to the line.
    Restore,
    /// Clicking the Enable value: module on (`true`) or off.
    SetModuleEnabled(bool),
}

/// A request to the runtime.
#[derive(Debug)]
pub enum ManagementRequest {
    /// Reply with a snapshot.
    Snapshot(oneshot::Sender<StatusSnapshot>),
    /// Apply an action to lines; the reply carries the lines that do not exist.
    Apply {
        /// The action.
        action: LineAction,
        /// The lines it applies to.
        lines: Vec<LineId>,
        /// Unknown lines, empty when all were applied.
        reply: oneshot::Sender<Vec<LineId>>,
    },
}

/// The runtime went away (the gateway stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the gateway is not running")]
pub struct GatewayStopped;

/// A cloneable handle for the management plane; see the module docs.
#[derive(Debug, Clone)]
pub struct ManagementHandle {
    tx: mpsc::Sender<ManagementRequest>,
}

/// The runtime's end of the management channel.
pub type ManagementReceiver = mpsc::Receiver<ManagementRequest>;

/// Requests queued before the runtime answers; more wait in the senders.
const QUEUE: usize = 64;

impl ManagementHandle {
    /// A handle and the receiver to give to the runtime.
    pub fn channel() -> (Self, ManagementReceiver) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self { tx }, rx)
    }

    /// The current status of the gateway and its lines.
    pub async fn snapshot(&self) -> Result<StatusSnapshot, GatewayStopped> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(ManagementRequest::Snapshot(reply))
            .await
            .map_err(|_| GatewayStopped)?;
        rx.await.map_err(|_| GatewayStopped)
    }

    /// Applies `action` to `lines`; returns the lines that do not exist.
    pub async fn apply(
        &self,
        action: LineAction,
        lines: Vec<LineId>,
    ) -> Result<Vec<LineId>, GatewayStopped> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(ManagementRequest::Apply {
                action,
                lines,
                reply,
            })
            .await
            .map_err(|_| GatewayStopped)?;
        rx.await.map_err(|_| GatewayStopped)
    }
}

impl Gateway {
    /// Answers one management request at `now` (called by the runtime between events).
    pub fn handle_management(&mut self, now: std::time::Instant, request: ManagementRequest) {
        match request {
            ManagementRequest::Snapshot(reply) => {
                let _ = reply.send(StatusSnapshot {
                    gateway: self.gateway_status(now),
                    lines: self.line_status(now),
                });
            }
            ManagementRequest::Apply {
                action,
                lines,
                reply,
            } => {
                let mut unknown = Vec::new();
                for line in lines {
                    if self.lines().get(line).is_none() {
                        unknown.push(line);
                        continue;
                    }
                    match action {
                        LineAction::ResetRemainingTime => self.reset_remaining_time(now, line),
                        LineAction::ResetRemainingSms => self.reset_remaining_sms(line),
                        LineAction::ResetCdr => self.reset_cdr(now, line),
                        LineAction::Restore => self.restore_line(now, line),
                        LineAction::SetModuleEnabled(on) => self.set_module_enabled(now, line, on),
                    }
                }
                let _ = reply.send(unknown);
            }
        }
    }
}
