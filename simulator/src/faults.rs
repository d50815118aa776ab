//! Faults a test or scenario injects into a line: the module misbehaving (silence,
//! garbage, reboot, slow or transiently busy answers, SMS send failures), the SIM
//! disappearing, the radio going away or fading.

use std::time::Duration;

use tokio::time::sleep;

use crate::modem::Notice;
use crate::network::{Network, SimError};

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The module stops answering (input is swallowed, nothing is sent) for the duration,
    /// or until [`Fault::Recover`] / a reboot when `None`.
    Unresponsive(Option<Duration>),
    /// Clears `Unresponsive` and `Slow`.
    Recover,
    /// These bytes appear on the line (noise).
    Garbage(Vec<u8>),
    /// The module reboots by itself: settings lost, calls dropped, boot URCs from `RDY`.
    Reboot,
    /// Every answer is delayed by this much (`Duration::ZERO` clears it).
    Slow(Duration),
    /// The next `n` commands fail with `+CME ERROR: 515` (busy, try again).
    CmeBusy(u32),
    /// The next `n` SMS commands fail with `+CMS ERROR: 314` (SIM busy).
    CmsBusy(u32),
    /// The SIM is pulled out (`+CPIN: NOT INSERTED`).
    SimRemoved,
    /// The SIM last removed goes back in.
    SimInserted,
    /// The network drops the registration (`+CREG: 2`, searching).
    Deregister,
    /// Coverage returns (`+CREG: 1` after the registration delay).
    Reregister,
    /// The next `n` `AT+CMGS`/`AT+CMSS` fail with this CMS code (e.g. 500, 332).
    SmsSendFailure {
        /// How many sends fail.
        count: u32,
        /// The CMS error.
        cms: u16,
    },
    /// The signal moves linearly to `to` (rssi) over `over`, one step per second; 0 is
    /// coverage loss.
    SignalFade {
        /// Final rssi.
        to: u8,
        /// Duration of the fade.
        over: Duration,
    },
}

impl Fault {
    /// Short name for logs and the control interface.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Unresponsive(_) => "unresponsive",
            Fault::Recover => "recover",
            Fault::Garbage(_) => "garbage",
            Fault::Reboot => "reboot",
            Fault::Slow(_) => "slow",
            Fault::CmeBusy(_) => "cme_busy",
            Fault::CmsBusy(_) => "cms_busy",
            Fault::SimRemoved => "sim_removed",
            Fault::SimInserted => "sim_inserted",
            Fault::Deregister => "deregister",
            Fault::Reregister => "reregister",
            Fault::SmsSendFailure { .. } => "sms_send_failure",
            Fault::SignalFade { .. } => "signal_fade",
        }
    }
}

pub(crate) fn inject(net: &Network, line: u16, fault: Fault) -> Result<(), SimError> {
    if !net.lines().contains(&line) {
        return Err(SimError::NoSuchLine(line));
    }
    net.state()
        .log(format!("line{line} fault injected: {fault:?}"));
    match fault {
        Fault::SimRemoved => net.remove_sim(line).map(|_| ()),
        Fault::SimInserted => net.insert_sim(line, None),
        Fault::Deregister => net.set_coverage_lost(line, true),
        Fault::Reregister => net.set_coverage_lost(line, false),
        Fault::SignalFade { to, over } => {
            let from = {
                let st = net.state();
                st.lines
                    .get(&line)
                    .map(|l| {
                        l.radio.rssi.unwrap_or_else(|| {
                            st.config.cells.get(l.radio.cell).map_or(20, |c| c.rssi)
                        })
                    })
                    .unwrap_or(20)
            };
            tokio::spawn(fade(net.clone(), line, from, to, over));
            Ok(())
        }
        Fault::Unresponsive(Some(d)) => {
            net.state()
                .notify(line, Notice::Fault(Fault::Unresponsive(None)));
            let net = net.clone();
            tokio::spawn(async move {
                sleep(d).await;
                net.state().notify(line, Notice::Fault(Fault::Recover));
            });
            Ok(())
        }
        other => {
            net.state().notify(line, Notice::Fault(other));
            Ok(())
        }
    }
}

async fn fade(net: Network, line: u16, from: u8, to: u8, over: Duration) {
    let steps = over.as_secs().max(1);
    for i in 1..=steps {
        sleep(Duration::from_secs(1)).await;
        let f = i64::from(from);
        let t = i64::from(to);
        let v = f + (t - f) * i as i64 / steps as i64;
        let _ = net.set_signal(line, u8::try_from(v.clamp(0, 31)).unwrap_or(0));
    }
}
