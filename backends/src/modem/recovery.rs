//! Recovery: the watchdog, restarts and the SIM sweep.
//!
//! **Watchdog.** When the module has completed no command for `watchdog_interval`, the
//! watchdog sends `AT` (timeout `probe_timeout`). No answer starts the escalation:
//! 1. resync: ESC + CR, forget partial input, wait `resync_settle`, probe again
//!    (`probe_attempts` times) — a module stuck in a `> ` prompt or fed half a line
//!    comes back here without losing state;
//! 2. `AT+CFUN=1,1`, wait for `RDY` (up to `boot_timeout`), full re-init;
//! 3. the `power_cycle` hook (if configured), wait for `RDY`, full re-init.
//!
//! Success at step 2 or 3 emits [`ModemEvent::ModuleRestarted`]; failure of all emits
//! [`ModemEvent::ModuleLost`] once. The watchdog keeps probing a lost module every
//! interval and re-initialises it (then `ModuleRestarted`) as soon as it answers again.
//!
//! **SIM sweep.** `+CMTI` stops arriving when the SIM store is full, and a message that
//! arrived while the backend was down was never announced. So after
//! `sms_sweep_initial_delay`, every `sms_sweep_interval`, after every restart and after
//! the SIM becomes ready again, the sweep lists all stored messages (`AT+CMGL=4`) and
//! emits [`ModemEvent::SmsStored`] for each received one (read or unread). The engine
//! reads, persists and then deletes each message; the backend never deletes on its own,
//! so an index may be announced more than once until the engine has deleted it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use cellgate_hal::{HalError, HalResult, ModemEvent, SmsFilter};

use super::{is_link_error, lock, parse_cmgl, Inner};

/// The future a [`PowerCycleHook`] returns.
pub type PowerCycleFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A callback that power-cycles the module (toggles its power GPIO, resets its USB hub
/// port...). The watchdog's last resort; `Err` explains why it could not.
#[derive(Clone)]
pub struct PowerCycleHook(Arc<dyn Fn() -> PowerCycleFuture + Send + Sync>);

impl PowerCycleHook {
    /// Wrap an async callback.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(f())))
    }

    /// Run the callback.
    pub async fn call(&self) -> Result<(), String> {
        (self.0)().await
    }
}

impl std::fmt::Debug for PowerCycleHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PowerCycleHook")
    }
}

/// How a restart is triggered.
pub(super) enum RestartHow {
    /// `AT+CFUN=1,1`.
    Command,
    /// The configured power-cycle hook.
    PowerCycle,
}

/// Restart the module and re-initialise it. The caller holds `inner.recovery`.
pub(super) async fn restart_and_reinit(inner: &Inner, how: RestartHow) -> HalResult<()> {
    inner.expect_boot.store(true, Ordering::SeqCst);
    let result = async {
        let mut boots = inner.boots.subscribe();
        boots.mark_unchanged();
        match how {
            RestartHow::Command => match inner.chan.run("AT+CFUN=1,1").await {
                Ok(_) => {}
                // The module may reboot before it finishes answering, or be hung.
                Err(HalError::Timeout(_)) => tracing::debug!("no answer to AT+CFUN=1,1"),
                Err(e @ HalError::LinkDown(_)) => return Err(e),
                Err(e) => tracing::warn!(error = %e, "AT+CFUN=1,1 refused"),
            },
            RestartHow::PowerCycle => {
                let Some(hook) = inner.config.power_cycle.clone() else {
                    return Err(HalError::Unsupported("power cycle"));
                };
                hook.call().await.map_err(HalError::LinkDown)?;
            }
        }
        match tokio::time::timeout(inner.config.boot_timeout, boots.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(HalError::LinkDown("backend stopped".into())),
            Err(_) => tracing::warn!("no RDY after restart, re-initialising anyway"),
        }
        inner.chan.resync().await?;
        tokio::time::sleep(inner.config.resync_settle).await;
        inner.reinit().await
    }
    .await;
    inner.expect_boot.store(false, Ordering::SeqCst);
    result
}

async fn probe(inner: &Inner) -> HalResult<()> {
    let cmd = super::command("AT")?.with_timeout(inner.config.probe_timeout);
    inner.chan.execute(cmd).await.map(|_| ())
}

/// Escalate: resync, `AT+CFUN=1,1`, power cycle. The caller holds `inner.recovery`.
async fn recover(inner: &Inner) -> Result<(), String> {
    tracing::warn!("module does not answer: resynchronising");
    if inner.chan.resync().await.is_err() {
        return Err("link to module lost".into());
    }
    tokio::time::sleep(inner.config.resync_settle).await;
    for _ in 0..inner.config.probe_attempts.max(1) {
        match probe(inner).await {
            Ok(()) => {
                tracing::info!("module answers again after resync");
                return Ok(());
            }
            Err(HalError::LinkDown(e)) => return Err(e),
            Err(_) => tokio::time::sleep(inner.config.probe_interval).await,
        }
    }
    tracing::warn!("still no answer: restarting the module with AT+CFUN=1,1");
    let mut reason = match restart_and_reinit(inner, RestartHow::Command).await {
        Ok(()) => {
            inner.emit(ModemEvent::ModuleRestarted);
            return Ok(());
        }
        Err(e) => format!("no answer after resync and AT+CFUN=1,1 ({e})"),
    };
    if inner.config.power_cycle.is_some() {
        tracing::warn!("still no answer: power-cycling the module");
        match restart_and_reinit(inner, RestartHow::PowerCycle).await {
            Ok(()) => {
                inner.emit(ModemEvent::ModuleRestarted);
                return Ok(());
            }
            Err(e) => reason = format!("{reason}; power cycle did not help ({e})"),
        }
    }
    Err(reason)
}

/// Background task: probe an idle module, escalate when it does not answer.
pub(super) async fn watchdog(inner: Arc<Inner>) {
    let Some(interval) = inner.config.watchdog_interval else {
        return;
    };
    loop {
        let idle_since = inner.chan.last_answer();
        let lost = inner.lost.load(Ordering::SeqCst);
        if !lost && Instant::now() < idle_since + interval {
            tokio::time::sleep_until(idle_since + interval).await;
            continue;
        }
        if inner.chan.is_closed() {
            return;
        }
        let answered = probe(&inner).await;
        if let Err(HalError::LinkDown(_)) = answered {
            return;
        }
        let _guard = inner.recovery.lock().await;
        match (answered, lost) {
            (Ok(()), false) => {}
            (Ok(()), true) => {
                tracing::info!("lost module answers again: re-initialising");
                match inner.reinit().await {
                    Ok(()) => inner.emit(ModemEvent::ModuleRestarted),
                    Err(e) => tracing::warn!(error = %e, "re-init of returning module failed"),
                }
            }
            (Err(_), true) => {}
            (Err(_), false) => {
                if let Err(reason) = recover(&inner).await {
                    tracing::error!(%reason, "module lost");
                    inner.lost.store(true, Ordering::SeqCst);
                    inner.emit(ModemEvent::ModuleLost { reason });
                }
            }
        }
        drop(_guard);
        if inner.lost.load(Ordering::SeqCst) {
            tokio::time::sleep(interval).await;
        }
    }
}

/// List stored messages and announce every received one.
async fn sweep_once(inner: &Inner) {
    let sim = *lock(&inner.sim);
    if sim.is_some_and(|s| !s.is_usable()) {
        return;
    }
    let lines = match inner.run("AT+CMGL=4").await {
        Ok(l) => l,
        Err(e) => {
            if is_link_error(&e) {
                tracing::debug!(error = %e, "SIM sweep: module unreachable");
            } else {
                tracing::debug!(error = %e, "SIM sweep refused");
            }
            return;
        }
    };
    let stored = parse_cmgl(&lines);
    let received: Vec<_> = stored
        .iter()
        .filter(|s| matches!(s.status, SmsFilter::Unread | SmsFilter::Read))
        .collect();
    if !received.is_empty() {
        tracing::info!(
            count = received.len(),
            total = stored.len(),
            "SIM sweep found stored messages"
        );
    }
    for s in received {
        inner.emit(ModemEvent::SmsStored { index: s.index });
    }
}

/// Background task: the SIM sweep.
pub(super) async fn sweeper(inner: Arc<Inner>) {
    tokio::select! {
        () = tokio::time::sleep(inner.config.sms_sweep_initial_delay) => {}
        () = inner.sweep.notified() => {}
    }
    loop {
        if !inner.lost.load(Ordering::SeqCst) {
            sweep_once(&inner).await;
        }
        let period = inner.config.sms_sweep_interval;
        tokio::select! {
            () = sleep_opt(period) => {}
            () = inner.sweep.notified() => {}
        }
    }
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
