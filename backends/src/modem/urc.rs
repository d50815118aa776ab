//! URCs -> [`ModemEvent`]s, and call tracking (including `AT+CLCC` polling).
//!
//! Call events carry the module's call index. A call is "live" from `dial`, `RING` or
//! `answer` until it is released; a release (`NO CARRIER`, `BUSY`, `NO ANSWER`,
//! `NO DIALTONE`, or the call vanishing from `AT+CLCC`) is reported once, with the
//! 24.008 cause from `AT+CEER` (`BUSY` -> 17, `NO ANSWER` -> 19 without asking).
//!
//! Two calls (call waiting, hold): `+CCWA` is reported as [`ModemEvent::CallWaiting`]
//! with the waiting call's index read from `AT+CLCC`, and the call is tracked besides the
//! current one. While two calls are tracked, a release URC does not say which call
//! ended, so the backend reads `AT+CLCC` and reports every tracked call that is gone
//! ([`apply_listing`]); the poller does the same on dialects without call-progress URCs.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;

use cellgate_hal::{
    CallDirection, CallIndex, CallInfo, CallStatus, DtmfDigit, ModemEvent, ReleaseCause, SimState,
};

use super::{is_link_error, lock, CallTrack, Inner, OtherCall};
use crate::at::Urc;
use crate::parse;

/// Background task: turns URCs into [`ModemEvent`]s.
pub(super) async fn urc_loop(
    inner: Arc<Inner>,
    early: Vec<Urc>,
    mut urcs: mpsc::UnboundedReceiver<Urc>,
) {
    let mut state = UrcState::default();
    for urc in early {
        if urc.line.eq_ignore_ascii_case("RDY") {
            continue;
        }
        handle_urc(&inner, &mut state, urc).await;
    }
    loop {
        let ring_deadline = state.ring_deadline;
        tokio::select! {
            urc = urcs.recv() => match urc {
                Some(urc) => handle_urc(&inner, &mut state, urc).await,
                None => {
                    inner.emit(ModemEvent::ModuleLost { reason: "link to module lost".into() });
                    return;
                }
            },
            () = sleep_until_opt(ring_deadline) => {
                state.ring_deadline = None;
                report_incoming(&inner, None);
            }
        }
    }
}

pub(super) async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[derive(Debug, Default)]
struct UrcState {
    /// `RING` seen without `+CLIP`: report the call without caller at this time.
    ring_deadline: Option<Instant>,
}

fn report_incoming(inner: &Arc<Inner>, caller: Option<String>) {
    {
        let mut t = inner.calls();
        if t.incoming_reported {
            return;
        }
        if !t.live {
            t.begin();
        }
        t.incoming_reported = true;
    }
    inner.emit(ModemEvent::IncomingCall {
        index: None,
        caller,
    });
    if inner.dialect.call_progress == crate::dialect::CallProgress::ClccPolling {
        start_poller(inner);
    }
}

/// Report the live call released, once.
fn released(inner: &Inner, cause: ReleaseCause) {
    released_if(inner, None, cause);
}

/// Report the live call released, once; with `generation`, only if it is still that call.
fn released_if(inner: &Inner, generation: Option<u64>, cause: ReleaseCause) {
    let index = {
        let mut t = inner.calls();
        if !t.live || generation.is_some_and(|g| g != t.generation) {
            return;
        }
        let index = t.current.unwrap_or(1);
        t.clear();
        index
    };
    inner.emit(ModemEvent::CallReleased { index, cause });
}

/// `AT+CLCC` rows, `None` when the module did not answer them.
async fn listing(inner: &Inner) -> Option<Vec<CallInfo>> {
    match inner.run("AT+CLCC").await {
        Ok(lines) => Some(
            lines
                .iter()
                .filter_map(|l| parse::strip_prefix(l, "+CLCC:"))
                .filter_map(parse::parse_clcc)
                .collect(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "AT+CLCC failed");
            None
        }
    }
}

/// `+CCWA`: find the waiting call's index in `AT+CLCC`, track it, report it.
async fn call_waiting(inner: &Arc<Inner>, caller: Option<String>) {
    let before = inner.calls().known();
    let index = match listing(inner).await {
        Some(rows) => {
            let index = rows
                .iter()
                .filter(|r| r.status == CallStatus::Waiting)
                .min_by_key(|r| before.iter().any(|k| k.index == r.index))
                .map(|r| r.index);
            apply_listing(
                inner,
                &before,
                &rows,
                &|_| ReleaseCause::NORMAL_CLEARING,
                true,
            );
            index
        }
        None => None,
    };
    inner.emit(ModemEvent::CallWaiting { index, caller });
}

/// A release URC while two calls are tracked: read `AT+CLCC` and report the calls that
/// are gone (cause `fixed`, else from `AT+CEER`). `false` when fewer than two calls are
/// tracked or the list could not be read: the caller then releases the current call.
async fn several_released(inner: &Arc<Inner>, fixed: Option<ReleaseCause>) -> bool {
    let before = {
        let t = inner.calls();
        if t.others.is_empty() {
            return false;
        }
        t.known()
    };
    let Some(rows) = listing(inner).await else {
        return false;
    };
    let gone = before
        .iter()
        .any(|k| !rows.iter().any(|r| r.index == k.index));
    if !gone {
        tracing::debug!("release URC, but every tracked call is still listed");
        return true;
    }
    let cause = match fixed {
        Some(c) => c,
        None => query_cause(inner).await,
    };
    apply_listing(inner, &before, &rows, &|_| cause, false);
    true
}

/// Bring the call tracking in line with an `AT+CLCC` listing.
///
/// Calls of `before` (the tracked calls when the listing was asked for) that are not
/// listed are reported released, once, with `cause(was_connected)`; if the current call
/// is among them another tracked call takes its place (active, else held, else waiting).
/// Tracked calls listed active for the first time are reported connected. With `adopt`,
/// listed calls the backend did not track are tracked from now on (only for listings
/// read right after the change that made them, never for a poll that may be stale).
pub(super) fn apply_listing(
    inner: &Arc<Inner>,
    before: &[OtherCall],
    rows: &[CallInfo],
    cause: &dyn Fn(bool) -> ReleaseCause,
    adopt: bool,
) {
    let listed = |i: CallIndex| rows.iter().find(|r| r.index == i);
    let rank = |i: CallIndex| match listed(i).map(|r| r.status) {
        Some(CallStatus::Active) => 0,
        Some(CallStatus::Held) => 1,
        _ => 2,
    };
    let up = |s: CallStatus| matches!(s, CallStatus::Active | CallStatus::Held);
    let mut emit = Vec::new();
    let stop_poller;
    let mut start = false;
    {
        let mut t = inner.calls();
        for gone in before.iter().filter(|k| listed(k.index).is_none()) {
            if t.live && t.current == Some(gone.index) {
                emit.push(ModemEvent::CallReleased {
                    index: gone.index,
                    cause: cause(t.connected),
                });
                let next = t
                    .others
                    .iter()
                    .filter(|o| listed(o.index).is_some())
                    .min_by_key(|o| rank(o.index))
                    .copied();
                t.others.retain(|o| Some(o.index) != next.map(|n| n.index));
                match next {
                    Some(n) => {
                        t.current = Some(n.index);
                        t.connected = n.connected;
                        t.alerted = n.connected;
                        t.incoming_reported = true;
                    }
                    None => {
                        let rest = std::mem::take(&mut t.others);
                        t.clear();
                        t.others = rest;
                    }
                }
            } else if let Some(pos) = t.others.iter().position(|o| o.index == gone.index) {
                let o = t.others.remove(pos);
                emit.push(ModemEvent::CallReleased {
                    index: o.index,
                    cause: cause(o.connected),
                });
            }
        }
        // Only calls the listing did not cover are left: one of them becomes current.
        if !t.live && !t.others.is_empty() {
            let first = t.others.remove(0);
            let rest = std::mem::take(&mut t.others);
            t.begin();
            t.others = rest;
            t.current = Some(first.index);
            t.connected = first.connected;
            t.alerted = first.connected;
            t.incoming_reported = true;
            start = true;
        }
        // A call accepted (or resumed) for the first time is connected.
        let current = t.current.filter(|_| t.live);
        if let Some(row) = current.and_then(listed) {
            if row.status == CallStatus::Active && !t.connected {
                t.connected = true;
                t.alerted = true;
                emit.push(ModemEvent::CallConnected { index: row.index });
            }
        }
        for o in t.others.iter_mut() {
            if listed(o.index).is_some_and(|r| r.status == CallStatus::Active) && !o.connected {
                o.connected = true;
                emit.push(ModemEvent::CallConnected { index: o.index });
            }
        }
        if adopt {
            for row in rows {
                if t.knows(row.index) {
                    continue;
                }
                if !t.live {
                    t.begin();
                    t.current = Some(row.index);
                    t.incoming_reported = true;
                    t.connected = up(row.status);
                    t.alerted = t.connected;
                    start = true;
                } else {
                    t.others.push(OtherCall {
                        index: row.index,
                        connected: up(row.status),
                    });
                }
            }
        }
        stop_poller = !t.live;
    }
    for ev in emit {
        inner.emit(ev);
    }
    if stop_poller {
        if let Some(p) = lock(&inner.poller).take() {
            p.abort();
        }
    }
    if start && inner.dialect.call_progress == crate::dialect::CallProgress::ClccPolling {
        start_poller(inner);
    }
}

/// `AT+CEER` after a release: the 24.008 cause, 16 (normal clearing) when unreadable.
async fn query_cause(inner: &Inner) -> ReleaseCause {
    match inner.run("AT+CEER").await {
        Ok(lines) => lines
            .iter()
            .filter_map(|l| parse::strip_prefix(l, "+CEER:"))
            .find_map(parse::parse_ceer)
            .map_or(ReleaseCause::NORMAL_CLEARING, ReleaseCause),
        Err(e) => {
            tracing::warn!(error = %e, "AT+CEER failed");
            ReleaseCause::NORMAL_CLEARING
        }
    }
}

/// Start (or restart) the `AT+CLCC` poller of the current call.
pub(super) fn start_poller(inner: &Arc<Inner>) {
    let generation = inner.calls().generation;
    let task = tokio::spawn(poll_calls(inner.clone(), generation));
    if let Some(old) = lock(&inner.poller).replace(task) {
        old.abort();
    }
}

/// Poll `AT+CLCC` while the call is live: alerting / connected / gone.
async fn poll_calls(inner: Arc<Inner>, generation: u64) {
    let mine = |t: &CallTrack| t.live && t.generation == generation;
    loop {
        tokio::time::sleep(inner.config.call_poll_interval).await;
        let (live, index, before) = {
            let t = inner.calls();
            let before = (!t.others.is_empty()).then(|| t.known());
            (mine(&t), t.current, before)
        };
        if !live {
            return;
        }
        let lines = match inner.run("AT+CLCC").await {
            Ok(l) => l,
            Err(e) if is_link_error(&e) => {
                tracing::debug!(error = %e, "call poll failed");
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "AT+CLCC refused");
                continue;
            }
        };
        let rows: Vec<_> = lines
            .iter()
            .filter_map(|l| parse::strip_prefix(l, "+CLCC:"))
            .filter_map(parse::parse_clcc)
            .collect();
        if let Some(before) = before {
            // Two calls: release whichever is gone, connect whichever was accepted.
            let cause = if before
                .iter()
                .any(|k| !rows.iter().any(|r| r.index == k.index))
            {
                query_cause(&inner).await
            } else {
                ReleaseCause::NORMAL_CLEARING
            };
            apply_listing(&inner, &before, &rows, &|_| cause, false);
            continue;
        }
        let row = match index {
            Some(i) => rows.iter().find(|r| r.index == i),
            None => rows
                .iter()
                .find(|r| r.direction == CallDirection::MobileTerminated),
        };
        let Some(row) = row else {
            if !mine(&inner.calls()) {
                return;
            }
            let cause = query_cause(&inner).await;
            released_if(&inner, Some(generation), cause);
            return;
        };
        let mut emit = Vec::new();
        {
            let mut t = inner.calls();
            if !mine(&t) {
                return;
            }
            t.current = Some(row.index);
            match row.status {
                CallStatus::Alerting if !t.alerted => {
                    t.alerted = true;
                    emit.push(ModemEvent::CallAlerting { index: row.index });
                }
                CallStatus::Active if !t.connected => {
                    if row.direction == CallDirection::MobileOriginated && !t.alerted {
                        t.alerted = true;
                    }
                    t.connected = true;
                    emit.push(ModemEvent::CallConnected { index: row.index });
                }
                _ => {}
            }
        }
        for ev in emit {
            inner.emit(ev);
        }
    }
}

async fn handle_urc(inner: &Arc<Inner>, state: &mut UrcState, urc: Urc) {
    let line = urc.line.as_str();
    let upper = line.to_ascii_uppercase();
    let value = |prefix: &str| parse::strip_prefix(line, prefix);
    match upper.as_str() {
        "RING" => {
            if state.ring_deadline.is_none() && !inner.calls().incoming_reported {
                state.ring_deadline = Some(Instant::now() + inner.config.clip_grace);
            }
            return;
        }
        "MO RING" => {
            let index = {
                let mut t = inner.calls();
                t.alerted = true;
                t.current.unwrap_or(1)
            };
            inner.emit(ModemEvent::CallAlerting { index });
            return;
        }
        "MO CONNECTED" => {
            let index = {
                let mut t = inner.calls();
                t.connected = true;
                t.current.unwrap_or(1)
            };
            inner.emit(ModemEvent::CallConnected { index });
            return;
        }
        "NO CARRIER" | "NO DIALTONE" => {
            state.ring_deadline = None;
            if several_released(inner, None).await {
                return;
            }
            let generation = {
                let t = inner.calls();
                t.live.then_some(t.generation)
            };
            if let Some(g) = generation {
                let cause = query_cause(inner).await;
                released_if(inner, Some(g), cause);
            }
            return;
        }
        "BUSY" => {
            state.ring_deadline = None;
            if several_released(inner, Some(ReleaseCause::USER_BUSY)).await {
                return;
            }
            released(inner, ReleaseCause::USER_BUSY);
            return;
        }
        "NO ANSWER" => {
            state.ring_deadline = None;
            if several_released(inner, Some(ReleaseCause::NO_ANSWER)).await {
                return;
            }
            released(inner, ReleaseCause::NO_ANSWER);
            return;
        }
        "RDY" => {
            inner.boots.send_modify(|n| *n += 1);
            if inner.expect_boot.load(Ordering::SeqCst) {
                return;
            }
            tracing::warn!("module restarted on its own, re-initialising");
            state.ring_deadline = None;
            let _guard = inner.recovery.lock().await;
            match inner.reinit().await {
                Ok(()) => inner.emit(ModemEvent::ModuleRestarted),
                Err(e) => inner.emit(ModemEvent::ModuleLost {
                    reason: format!("re-init after restart failed: {e}"),
                }),
            }
            return;
        }
        "CALL READY" | "SMS READY" => return,
        _ => {}
    }
    if let Some(v) = value("+CRING:") {
        tracing::trace!(kind = v, "+CRING");
        if state.ring_deadline.is_none() && !inner.calls().incoming_reported {
            state.ring_deadline = Some(Instant::now() + inner.config.clip_grace);
        }
    } else if let Some(v) = value("+CLIP:") {
        state.ring_deadline = None;
        report_incoming(inner, parse::parse_clip(v));
    } else if let Some(v) = value("+CCWA:") {
        call_waiting(inner, parse::parse_clip(v)).await;
    } else if let Some(v) = value("+CREG:") {
        match parse::parse_creg(v) {
            Some(r) => inner.emit(ModemEvent::RegistrationChanged(r)),
            None => tracing::warn!(line, "unreadable +CREG URC ignored"),
        }
    } else if let Some(v) = value("+CPIN:") {
        match parse::parse_cpin(v) {
            Some(s) if s.is_usable() => {
                inner.emit(ModemEvent::SimChanged(s));
                inner.sim_usable(s).await;
            }
            Some(s) => {
                inner.set_sim(Some(s));
                if s == SimState::NotInserted {
                    inner.drop_call();
                }
                inner.emit(ModemEvent::SimChanged(s));
            }
            None => tracing::warn!(line, "unreadable +CPIN URC ignored"),
        }
    } else if let Some(v) = value("+CMTI:") {
        match parse::parse_cmti(v) {
            Some(index) => inner.emit(ModemEvent::SmsStored { index }),
            None => tracing::warn!(line, "unreadable +CMTI URC ignored"),
        }
    } else if let Some(v) = value("+CDSI:") {
        match parse::parse_cmti(v) {
            Some(index) => inner.emit(ModemEvent::StatusReportStored { index }),
            None => tracing::warn!(line, "unreadable +CDSI URC ignored"),
        }
    } else if value("+CMT:").is_some() || value("+CDS:").is_some() {
        let Some(pdu_hex) = urc.body.clone() else {
            tracing::warn!(line, "SMS URC without PDU ignored");
            return;
        };
        if value("+CMT:").is_some() {
            inner.emit(ModemEvent::SmsDelivered { pdu_hex });
        } else {
            inner.emit(ModemEvent::StatusReport { pdu_hex });
        }
    } else if let Some(v) = value("+CUSD:") {
        let ucs2 = inner.config.charset == super::Charset::Ucs2;
        match parse::parse_cusd(v, ucs2) {
            Some(resp) => {
                let waiter = lock(&inner.ussd).take();
                match waiter {
                    Some(tx) => {
                        if let Err(resp) = tx.send(resp) {
                            inner.emit(ModemEvent::Ussd(resp));
                        }
                    }
                    None => inner.emit(ModemEvent::Ussd(resp)),
                }
            }
            None => tracing::warn!(line, "unreadable +CUSD URC ignored"),
        }
    } else if let Some(v) = value("+CSQN:") {
        match parse::parse_csq(v) {
            Some(q) => inner.emit(ModemEvent::SignalChanged(q)),
            None => tracing::warn!(line, "unreadable +CSQN URC ignored"),
        }
    } else if let Some(v) = value("+QTONEDET:") {
        let digit = v
            .parse::<u8>()
            .ok()
            .and_then(|code| DtmfDigit::new(char::from(code)));
        match digit {
            Some(d) => inner.emit(ModemEvent::DtmfReceived { digit: d.as_char() }),
            None => tracing::warn!(line, "unreadable +QTONEDET URC ignored"),
        }
    } else {
        tracing::debug!(line, "URC not mapped to an event");
    }
}
