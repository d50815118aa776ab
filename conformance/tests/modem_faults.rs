//! Fault scenarios: the real AT backend against the simulator's fault injection, on the
//! virtual clock, for a simulated M35 and UC15. Each scenario ends with the line back in
//! service (a call can be dialled, SMS arrive) and every SMS a phone sent during the fault
//! persisted by the (test's) engine exactly once: no loss, no duplicate.
//!
//! The engine here is a small loop over `subscribe()`: on `SmsStored { index }` it reads
//! the message, persists it (a `Vec`), and only then deletes it from the SIM. The backend's
//! SIM sweep re-announces messages until they are deleted, so the loop dedups by PDU.

mod modem_ops_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cellgate_backends::{AtModem, AtModemConfig, PowerCycleHook};
use cellgate_hal::{ModemEvent, ModemEvents, ModemHal, RegistrationState, ReleaseCause, SimState};
use cellgate_simulator::{Fault, ModuleProfile, Network, SimCard};
use cellgate_sms::{decode_mt, MtPdu};
use modem_ops_common::{bed_with, call_works, wait_event, wait_registration, Transport};
use tokio::sync::broadcast::error::RecvError;

const PHONE: &str = "+8613912345678";

/// The test's engine: persists every stored SMS once, deletes it after persisting.
struct Engine {
    /// `(pdu_hex, text)` in persistence order.
    persisted: Arc<Mutex<Vec<(String, String)>>>,
    /// While set, `SmsStored` is ignored (the engine is busy elsewhere).
    paused: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Engine {
    fn start(modem: Arc<AtModem>) -> Engine {
        let persisted: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let paused = Arc::new(AtomicBool::new(false));
        let mut ev = modem.subscribe();
        let (p, stop) = (persisted.clone(), paused.clone());
        let task = tokio::spawn(async move {
            loop {
                let index = match ev.recv().await {
                    Ok(ModemEvent::SmsStored { index }) => index,
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                if stop.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(sms) = modem.read_sms(index).await else {
                    continue; // already deleted, or the module is busy: the sweep repeats it
                };
                let Ok((_, MtPdu::Deliver(d))) = decode_mt(&sms.pdu_hex) else {
                    panic!("undecodable stored SMS {sms:?}");
                };
                {
                    let mut p = p.lock().unwrap();
                    if !p.iter().any(|(pdu, _)| *pdu == sms.pdu_hex) {
                        p.push((sms.pdu_hex.clone(), d.text().unwrap_or_default().to_owned()));
                    }
                }
                // Delete only after persisting; a failure is repeated by the next sweep.
                let _ = modem.delete_sms(index).await;
            }
        });
        Engine {
            persisted,
            paused,
            task,
        }
    }

    fn texts(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .persisted
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.clone())
            .collect();
        t.sort();
        t
    }

    /// Waits (virtual clock) until `n` messages are persisted.
    async fn wait_persisted(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        while self.persisted.lock().unwrap().len() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {:?} persisted, want {n}",
                self.texts()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every sent text persisted exactly once, nothing else; the SIM is empty.
    async fn assert_all_once(&self, net: &Network, sent: &[&str]) {
        self.wait_persisted(sent.len()).await;
        // Give a duplicate (a re-announced message) the chance to show up.
        tokio::time::sleep(Duration::from_secs(90)).await;
        let mut want: Vec<String> = sent.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(self.texts(), want, "persisted exactly once each");
        assert_eq!(net.smsc_pending(1), 0, "nothing left at the SMSC");
        assert_eq!(net.sim(1).map(|s| s.messages.len()), Some(0), "SIM drained");
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Rig {
    net: Network,
    modem: Arc<AtModem>,
    events: ModemEvents,
    engine: Engine,
}

async fn rig(profile: ModuleProfile, sim: Option<SimCard>, config: AtModemConfig) -> Rig {
    let b = bed_with(Transport::Memory, profile, sim, config).await;
    let modem = Arc::new(b.modem);
    let engine = Engine::start(modem.clone());
    Rig {
        net: b.net,
        modem,
        events: b.events,
        engine,
    }
}

/// Back in service: registered at home, a call goes through, a new SMS arrives.
async fn in_service(r: &mut Rig) {
    wait_registration(&r.modem, "home", |x| x.state == RegistrationState::Home).await;
    call_works(&r.modem, &mut r.events).await;
}

fn sms(net: &Network, text: &str) {
    assert_eq!(net.phone_sends_sms(PHONE, 1, text), Ok(1), "{text}");
}

async fn no_restart_within(ev: &mut ModemEvents, within: Duration) {
    modem_ops_common::no_event(ev, within, "ModuleRestarted", |e| {
        *e == ModemEvent::ModuleRestarted
    })
    .await;
}

// ---------------------------------------------------------------- scenarios

/// The module stops answering and comes back by itself: the watchdog's resync finds it
/// again, no restart needed. (What a hung module swallows is not in its transcript.)
async fn hang_cured_by_resync(p: ModuleProfile) {
    let mut r = rig(p, None, AtModemConfig::default()).await;
    sms(&r.net, "before the hang");
    r.engine.wait_persisted(1).await;
    // A fresh answer, so the watchdog's idle timer starts now.
    assert!(r.modem.signal().await.is_ok());
    r.net.inject(1, Fault::Unresponsive(None)).unwrap();
    sms(&r.net, "during the hang");
    // The watchdog probes at +30 s (1 s timeout), resyncs and probes again from +31 s.
    tokio::time::sleep(Duration::from_secs(33)).await;
    r.net.inject(1, Fault::Recover).unwrap();
    no_restart_within(&mut r.events, Duration::from_secs(20)).await;
    in_service(&mut r).await;
    sms(&r.net, "after the hang");
    r.engine
        .assert_all_once(
            &r.net,
            &["before the hang", "during the hang", "after the hang"],
        )
        .await;
}

/// The module hangs for good: resync and `AT+CFUN=1,1` fail, the power-cycle hook
/// reboots it, the backend re-initialises it (`ModuleRestarted`).
async fn hang_cured_by_power_cycle(p: ModuleProfile) {
    let cycled = Arc::new(AtomicBool::new(false));
    let net_slot: Arc<Mutex<Option<Network>>> = Arc::default();
    let hook = {
        let (cycled, slot) = (cycled.clone(), net_slot.clone());
        PowerCycleHook::new(move || {
            let net = slot.lock().unwrap().clone();
            let cycled = cycled.clone();
            async move {
                let net = net.ok_or("no network")?;
                cycled.store(true, Ordering::SeqCst);
                net.inject(1, Fault::Reboot).map_err(|e| format!("{e:?}"))
            }
        })
    };
    let mut r = rig(
        p,
        None,
        AtModemConfig {
            power_cycle: Some(hook),
            ..AtModemConfig::default()
        },
    )
    .await;
    *net_slot.lock().unwrap() = Some(r.net.clone());
    r.net.inject(1, Fault::Unresponsive(None)).unwrap();
    sms(&r.net, "during the hang");
    wait_event(&mut r.events, "ModuleRestarted", |e| {
        *e == ModemEvent::ModuleRestarted
    })
    .await;
    assert!(cycled.load(Ordering::SeqCst), "power-cycle hook not used");
    in_service(&mut r).await;
    sms(&r.net, "after the power cycle");
    r.engine
        .assert_all_once(&r.net, &["during the hang", "after the power cycle"])
        .await;
}

/// Noise on the line, also in the middle of a message arriving: commands, calls and SMS
/// keep working.
async fn garbage_bytes(p: ModuleProfile) {
    let mut r = rig(p, None, AtModemConfig::default()).await;
    let noise: Vec<Vec<u8>> = vec![
        b"\xff\xfe\x00garbage\r\n".to_vec(),
        // (A stray well-formed `OK` is left out: nothing can tell it from a real final.)
        b"\r\nOK?\r\n+++\r\nNO CARRIE\r\n".to_vec(),
        b"+CMTI: \"SM\",\r\n".to_vec(),
        b"+CREG: x,y\r\n+CUSD: 1,\"open quote\n".to_vec(),
        (0u8..=255).collect(),
        b"\r\n".to_vec(),
    ];
    for (i, n) in noise.into_iter().enumerate() {
        r.net.inject(1, Fault::Garbage(n)).unwrap();
        sms(&r.net, &format!("message {i} amid noise"));
        assert!(r.modem.signal().await.is_ok(), "noise {i}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    no_restart_within(&mut r.events, Duration::from_secs(5)).await;
    assert_eq!(r.modem.sim_state().await, Ok(SimState::Ready));
    in_service(&mut r).await;
    let sent: Vec<String> = (0..6).map(|i| format!("message {i} amid noise")).collect();
    let sent: Vec<&str> = sent.iter().map(String::as_str).collect();
    r.engine.assert_all_once(&r.net, &sent).await;
}

/// The module reboots on its own during a call: the call is released (41), the backend
/// re-initialises it (`ModuleRestarted`), SMS sent meanwhile arrive, calls work.
async fn spontaneous_reboot(p: ModuleProfile) {
    let mut r = rig(p, None, AtModemConfig::default()).await;
    let index = r.modem.dial("5551234").await.unwrap();
    wait_event(&mut r.events, "CallConnected", |e| {
        *e == ModemEvent::CallConnected { index }
    })
    .await;
    r.net.inject(1, Fault::Reboot).unwrap();
    sms(&r.net, "during the reboot");
    wait_event(&mut r.events, "CallReleased(41)", |e| {
        *e == ModemEvent::CallReleased {
            index,
            cause: ReleaseCause::TEMPORARY_FAILURE,
        }
    })
    .await;
    wait_event(&mut r.events, "ModuleRestarted", |e| {
        *e == ModemEvent::ModuleRestarted
    })
    .await;
    assert!(r.net.calls().is_empty());
    in_service(&mut r).await;
    sms(&r.net, "after the reboot");
    r.engine
        .assert_all_once(&r.net, &["during the reboot", "after the reboot"])
        .await;
}

/// The SIM store is full while the engine is busy: new messages get no `+CMTI` and wait at
/// the SMSC. The sweep announces the stored ones; once the engine has persisted and
/// deleted them, the SMSC delivers the held messages.
async fn sim_full(p: ModuleProfile) {
    let card = SimCard {
        sms_capacity: 2,
        ..SimCard::for_line(1)
    };
    let mut r = rig(p, Some(card), AtModemConfig::default()).await;
    r.engine.paused.store(true, Ordering::SeqCst);
    let mut stored = 0;
    for t in ["full 1", "full 2"] {
        sms(&r.net, t);
        wait_event(&mut r.events, "SmsStored", |e| {
            matches!(e, ModemEvent::SmsStored { .. })
        })
        .await;
        stored += 1;
    }
    assert_eq!(stored, 2);
    assert_eq!(r.net.sim(1).map(|s| s.messages.len()), Some(2));
    sms(&r.net, "held 3");
    sms(&r.net, "held 4");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        r.net.smsc_pending(1),
        2,
        "held at the SMSC while the SIM is full"
    );
    assert!(
        !r.net
            .transcript(1)
            .iter()
            .any(|l| l.contains("+CMTI: \"SM\",3")),
        "no +CMTI for a full SIM"
    );
    // The engine is back; the periodic sweep announces what is stored.
    r.engine.paused.store(false, Ordering::SeqCst);
    r.engine.wait_persisted(4).await;
    in_service(&mut r).await;
    r.engine
        .assert_all_once(&r.net, &["full 1", "full 2", "held 3", "held 4"])
        .await;
}

/// The SIM is pulled and put back: `SimChanged` both ways; an SMS sent while it was out
/// arrives after re-insertion, once.
async fn sim_removed(p: ModuleProfile) {
    let mut r = rig(p, None, AtModemConfig::default()).await;
    r.net.inject(1, Fault::SimRemoved).unwrap();
    wait_event(&mut r.events, "SimChanged(NotInserted)", |e| {
        *e == ModemEvent::SimChanged(SimState::NotInserted)
    })
    .await;
    assert_eq!(r.modem.sim_state().await, Ok(SimState::NotInserted));
    sms(&r.net, "while the SIM was out");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(r.net.smsc_pending(1), 1);
    assert!(r.engine.texts().is_empty());
    r.net.inject(1, Fault::SimInserted).unwrap();
    wait_event(&mut r.events, "SimChanged(Ready)", |e| {
        *e == ModemEvent::SimChanged(SimState::Ready)
    })
    .await;
    assert_eq!(r.modem.sim_state().await, Ok(SimState::Ready));
    in_service(&mut r).await;
    sms(&r.net, "after re-insertion");
    r.engine
        .assert_all_once(&r.net, &["while the SIM was out", "after re-insertion"])
        .await;
}

/// Coverage lost and back: `RegistrationChanged` both ways, nothing reset; SMS sent
/// meanwhile arrive, calls work again.
async fn network_loss(p: ModuleProfile) {
    let mut r = rig(p, None, AtModemConfig::default()).await;
    r.net.inject(1, Fault::Deregister).unwrap();
    wait_event(
        &mut r.events,
        "RegistrationChanged(lost)",
        |e| matches!(e, ModemEvent::RegistrationChanged(x) if !x.state.is_registered()),
    )
    .await;
    assert!(
        r.modem.dial("5551234").await.is_err(),
        "dial without network"
    );
    sms(&r.net, "while out of coverage");
    tokio::time::sleep(Duration::from_secs(5)).await;
    r.net.inject(1, Fault::Reregister).unwrap();
    wait_event(
        &mut r.events,
        "RegistrationChanged(home)",
        |e| matches!(e, ModemEvent::RegistrationChanged(x) if x.state == RegistrationState::Home),
    )
    .await;
    in_service(&mut r).await;
    // The other way to lose coverage.
    r.net.set_coverage_lost(1, true).unwrap();
    wait_event(
        &mut r.events,
        "RegistrationChanged(lost)",
        |e| matches!(e, ModemEvent::RegistrationChanged(x) if !x.state.is_registered()),
    )
    .await;
    r.net.set_coverage_lost(1, false).unwrap();
    wait_event(
        &mut r.events,
        "RegistrationChanged(home)",
        |e| matches!(e, ModemEvent::RegistrationChanged(x) if x.state == RegistrationState::Home),
    )
    .await;
    no_restart_within(&mut r.events, Duration::from_secs(2)).await;
    in_service(&mut r).await;
    sms(&r.net, "back in coverage");
    r.engine
        .assert_all_once(&r.net, &["while out of coverage", "back in coverage"])
        .await;
}

macro_rules! both_modules {
    ($($name:ident),* $(,)?) => {
        mod m35 {
            $(#[tokio::test(start_paused = true)]
            async fn $name() {
                super::$name(cellgate_simulator::ModuleProfile::M35).await;
            })*
        }
        mod uc15 {
            $(#[tokio::test(start_paused = true)]
            async fn $name() {
                super::$name(cellgate_simulator::ModuleProfile::Uc15).await;
            })*
        }
    };
}

both_modules!(
    hang_cured_by_resync,
    hang_cured_by_power_cycle,
    garbage_bytes,
    spontaneous_reboot,
    sim_full,
    sim_removed,
    network_loss,
);
