//! Fault scenarios: each ends with the line back in service and no received SMS lost.
//! Modem hang (cured by resync, by `AT+CFUN=1,1`, by the power-cycle hook, or not at
//! all), garbage bytes, spontaneous reboot, SIM full, SIM removed, network loss.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cellgate_backends::{AtModem, AtModemConfig, PowerCycleHook};
use cellgate_hal::{
    ModemEvent, ModemEvents, ModemHal, Registration, RegistrationState, SignalQuality, SimState,
};
use common::*;

const PDU_A: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";
const PDU_B: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD08";
const PDU_SENT: &str = "0011000B919471103254F60000AA03C8B00F";

/// A SIM store the fake serves: `AT+CMGL=4`, `AT+CMGR=<i>`, `AT+CMGD=<i>`.
#[derive(Clone, Default)]
struct Store(Arc<Mutex<BTreeMap<u16, (u8, &'static str)>>>);

impl Store {
    fn with(entries: &[(u16, u8, &'static str)]) -> Self {
        let s = Store::default();
        for (i, stat, pdu) in entries {
            s.0.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(*i, (*stat, *pdu));
        }
        s
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn answer(&self, line: &str) -> Option<String> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if line == "AT+CMGL=4" {
            let mut rows = Vec::new();
            for (i, (stat, pdu)) in map.iter() {
                rows.push(format!("+CMGL: {i},{stat},,{}", pdu.len() / 2 - 8));
                rows.push(pdu.to_string());
            }
            let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
            return Some(ok_with(&refs));
        }
        if let Some(i) = line.strip_prefix("AT+CMGR=") {
            let i: u16 = i.parse().ok()?;
            return Some(match map.get(&i) {
                Some((stat, pdu)) => ok_with(&[&format!("+CMGR: {stat},,24"), pdu]),
                None => ok_with(&[]),
            });
        }
        if let Some(i) = line.strip_prefix("AT+CMGD=") {
            let i: u16 = i.parse().ok()?;
            map.remove(&i);
            return Some(ok_with(&[]));
        }
        None
    }
}

/// The engine's part: on `SmsStored`, read, persist, then delete.
async fn engine_drains(modem: &AtModem, ev: &mut ModemEvents, want: usize) -> Vec<String> {
    let mut persisted = Vec::new();
    while persisted.len() < want {
        if let ModemEvent::SmsStored { index } = next_event(ev).await {
            let Ok(sms) = modem.read_sms(index).await else {
                continue; // already handled
            };
            if !persisted.contains(&sms.pdu_hex) {
                persisted.push(sms.pdu_hex);
            }
            assert_eq!(modem.delete_sms(index).await, Ok(()));
        }
    }
    persisted
}

fn watchdog_config() -> AtModemConfig {
    AtModemConfig {
        watchdog_interval: Some(Duration::from_secs(30)),
        ..test_config()
    }
}

async fn in_service(modem: &AtModem) {
    assert_eq!(
        modem.signal().await,
        Ok(SignalQuality { rssi: 20, ber: 0 }),
        "line back in service"
    );
}

fn csq(line: &str) -> Option<String> {
    (line == "AT+CSQ").then(|| ok_with(&["+CSQ: 20,0"]))
}

#[tokio::test(start_paused = true)]
async fn watchdog_probes_only_an_idle_module() {
    let (modem, fake, mut ev) = start_with(M35, watchdog_config(), Box::new(csq)).await;
    tokio::time::sleep(Duration::from_secs(95)).await;
    assert_eq!(fake.log(), ["AT", "AT", "AT"]);
    fake.clear();
    // Traffic every 20 s keeps the watchdog quiet.
    for _ in 0..5 {
        in_service(&modem).await;
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
    assert_eq!(fake.count("AT"), 0);
    assert_no_event(&mut ev).await;
}

#[tokio::test(start_paused = true)]
async fn hang_cured_by_resync() {
    let mute = Arc::new(AtomicBool::new(false));
    let m2 = mute.clone();
    let (modem, fake, mut ev) = start_shared(
        M35,
        watchdog_config(),
        mute.clone(),
        Box::new(move |l| {
            if l == "ESC" {
                m2.store(false, Ordering::SeqCst);
            }
            csq(l)
        }),
    )
    .await;
    // Stuck, e.g. waiting for a `> ` body that never came.
    fake.set_mute(true);
    tokio::time::sleep(Duration::from_secs(40)).await;
    let log = fake.log();
    assert_eq!(&log[..3], ["AT", "ESC", "AT"], "{log:?}");
    assert!(!log.contains(&"AT+CFUN=1,1".to_string()));
    in_service(&modem).await;
    assert_no_event(&mut ev).await;
}

#[tokio::test(start_paused = true)]
async fn hang_cured_by_cfun_reset_with_full_reinit() {
    let mute = Arc::new(AtomicBool::new(false));
    let m2 = mute.clone();
    let store = Store::with(&[(2, 0, PDU_A)]);
    let s2 = store.clone();
    let (modem, fake, mut ev) = start_shared(
        M35,
        watchdog_config(),
        mute.clone(),
        Box::new(move |l| {
            if l == "AT+CFUN=1,1" {
                m2.store(false, Ordering::SeqCst);
                return Some(ok_with(&[]) + "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n");
            }
            s2.answer(l).or_else(|| csq(l))
        }),
    )
    .await;
    fake.set_mute(true);
    assert_eq!(
        wait_for(&mut ev, |e| matches!(e, ModemEvent::ModuleRestarted)).await,
        ModemEvent::ModuleRestarted
    );
    let log = fake.log();
    let reset_at = log.iter().position(|l| l == "AT+CFUN=1,1");
    assert!(reset_at.is_some(), "{log:?}");
    assert_eq!(&log[..2], ["AT", "ESC"]);
    // Full re-init after the restart.
    let after: Vec<String> = log[reset_at.unwrap_or(0) + 2..].to_vec();
    assert_eq!(
        after[..init_sequence(M35, false).len()],
        init_sequence(M35, false)[..]
    );
    in_service(&modem).await;
    // The sweep after the restart surfaces the message that was waiting.
    let persisted = engine_drains(&modem, &mut ev, 1).await;
    assert_eq!(persisted, [PDU_A]);
    assert_eq!(store.len(), 0);
}

#[tokio::test(start_paused = true)]
async fn hang_cured_by_power_cycle_hook() {
    let mute = Arc::new(AtomicBool::new(false));
    let cycles = Arc::new(AtomicUsize::new(0));
    let (m2, c2) = (mute.clone(), cycles.clone());
    let inject: Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<()>>>> = Arc::default();
    let (rdy_tx, mut rdy_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    *inject.lock().unwrap_or_else(|e| e.into_inner()) = Some(rdy_tx);
    let hook = PowerCycleHook::new(move || {
        let m3 = m2.clone();
        let c3 = c2.clone();
        let tx = inject.lock().unwrap_or_else(|e| e.into_inner()).clone();
        async move {
            c3.fetch_add(1, Ordering::SeqCst);
            m3.store(false, Ordering::SeqCst);
            if let Some(tx) = tx {
                let _ = tx.send(());
            }
            Ok(())
        }
    });
    let config = AtModemConfig {
        power_cycle: Some(hook),
        ..watchdog_config()
    };
    let (modem, fake, mut ev) = start_shared(M35, config, mute.clone(), Box::new(csq)).await;
    fake.set_mute(true);
    // The power-cycled module boots and says RDY.
    let fake = Arc::new(fake);
    let f2 = fake.clone();
    tokio::spawn(async move {
        if rdy_rx.recv().await.is_some() {
            f2.send("\r\nRDY\r\n");
        }
    });
    assert_eq!(
        wait_for(&mut ev, |e| matches!(
            e,
            ModemEvent::ModuleRestarted | ModemEvent::ModuleLost { .. }
        ))
        .await,
        ModemEvent::ModuleRestarted
    );
    assert_eq!(cycles.load(Ordering::SeqCst), 1);
    assert!(fake.log().contains(&"AT+CFUN=1,1".to_string()));
    in_service(&modem).await;
}

#[tokio::test(start_paused = true)]
async fn module_lost_then_back() {
    let mute = Arc::new(AtomicBool::new(false));
    let (modem, fake, mut ev) =
        start_shared(UC15, watchdog_config(), mute.clone(), Box::new(csq)).await;
    fake.set_mute(true);
    let lost = wait_for(&mut ev, |e| {
        matches!(
            e,
            ModemEvent::ModuleRestarted | ModemEvent::ModuleLost { .. }
        )
    })
    .await;
    assert!(matches!(lost, ModemEvent::ModuleLost { .. }), "{lost:?}");
    // Someone fixes the module; the watchdog notices and re-initialises it.
    fake.set_mute(false);
    assert_eq!(
        wait_for(&mut ev, |e| matches!(e, ModemEvent::ModuleRestarted)).await,
        ModemEvent::ModuleRestarted
    );
    in_service(&modem).await;
}

#[tokio::test(start_paused = true)]
async fn garbage_bytes_do_not_break_the_line() {
    let store = Store::with(&[(1, 0, PDU_A)]);
    let s2 = store.clone();
    let (modem, fake, mut ev) = start_with(
        M35,
        watchdog_config(),
        Box::new(move |l| s2.answer(l).or_else(|| csq(l))),
    )
    .await;
    fake.send_bytes(b"\x00\xff\xfe\x80garbage\r\n\x1b\x1a+CME\r\nOK?\r\n\xc3\x28");
    fake.send_bytes(&[0x55; 5000]);
    fake.send_bytes(b"\r\n+CMTI: \"SM\",1\r\n");
    in_service(&modem).await;
    let persisted = engine_drains(&modem, &mut ev, 1).await;
    assert_eq!(persisted, [PDU_A]);
    in_service(&modem).await;
}

#[tokio::test(start_paused = true)]
async fn spontaneous_reboot_reinitialises_and_sweeps() {
    let store = Store::with(&[(1, 1, PDU_A), (3, 0, PDU_B)]);
    let s2 = store.clone();
    let (modem, fake, mut ev) =
        start(UC15, Box::new(move |l| s2.answer(l).or_else(|| csq(l)))).await;
    fake.send("\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n");
    assert_eq!(
        wait_for(&mut ev, |e| matches!(e, ModemEvent::ModuleRestarted)).await,
        ModemEvent::ModuleRestarted
    );
    assert_eq!(
        fake.log()[..init_sequence(UC15, false).len()],
        init_sequence(UC15, false)[..]
    );
    let persisted = engine_drains(&modem, &mut ev, 2).await;
    assert_eq!(persisted.len(), 2);
    in_service(&modem).await;
}

#[tokio::test(start_paused = true)]
async fn sim_full_sweep_announces_and_never_deletes() {
    let store = Store::with(&[(1, 0, PDU_A), (2, 1, PDU_B), (3, 3, PDU_SENT)]);
    let s2 = store.clone();
    let config = AtModemConfig {
        sms_sweep_initial_delay: Duration::from_secs(1),
        sms_sweep_interval: Some(Duration::from_secs(60)),
        ..test_config()
    };
    let (modem, fake, mut ev) = start_with(
        M35,
        config,
        Box::new(move |l| {
            // A full store answers new messages with CMS 322 and sends no +CMTI.
            s2.answer(l)
        }),
    )
    .await;
    let mut announced = Vec::new();
    for _ in 0..2 {
        if let ModemEvent::SmsStored { index } = next_event(&mut ev).await {
            announced.push(index);
        }
    }
    assert_eq!(
        announced,
        [1, 2],
        "received messages only, not the sent one"
    );
    // Nobody persisted them: a minute later they are announced again, still stored.
    tokio::time::sleep(Duration::from_secs(61)).await;
    let mut again = Vec::new();
    while let Ok(e) = ev.try_recv() {
        again.push(e);
    }
    assert_eq!(
        again,
        [
            ModemEvent::SmsStored { index: 1 },
            ModemEvent::SmsStored { index: 2 }
        ]
    );
    assert!(!fake.log().iter().any(|l| l.starts_with("AT+CMGD")));
    assert_eq!(store.len(), 3);
    // The engine drains them; the sent message stays.
    let persisted = engine_drains(&modem, &mut ev, 2).await;
    assert_eq!(persisted, [PDU_A, PDU_B]);
    assert_eq!(store.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn sim_removed_and_reinserted() {
    let store = Store::default();
    let s2 = store.clone();
    let present = Arc::new(AtomicBool::new(true));
    let p2 = present.clone();
    let (modem, fake, mut ev) = start(
        M35,
        Box::new(move |l| {
            if l == "AT+CPIN?" && !p2.load(Ordering::SeqCst) {
                return Some("\r\n+CME ERROR: 10\r\n".into());
            }
            s2.answer(l).or_else(|| csq(l))
        }),
    )
    .await;
    present.store(false, Ordering::SeqCst);
    fake.send("\r\n+CPIN: NOT INSERTED\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::SimChanged(SimState::NotInserted)
    );
    assert_eq!(modem.sim_state().await, Ok(SimState::NotInserted));
    // A message was stored on the SIM while it was out.
    store
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(5, (0, PDU_A));
    fake.clear();
    present.store(true, Ordering::SeqCst);
    fake.send("\r\n+CPIN: READY\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::SimChanged(SimState::Ready)
    );
    let persisted = engine_drains(&modem, &mut ev, 1).await;
    assert_eq!(persisted, [PDU_A]);
    let log = fake.log();
    for cmd in [
        "AT+CMGF=0",
        "AT+CPMS=\"SM\",\"SM\",\"SM\"",
        "AT+CNMI=2,1,0,2,0",
        "AT+CMGL=4",
    ] {
        assert!(log.contains(&cmd.to_string()), "{cmd} missing from {log:?}");
    }
    in_service(&modem).await;
}

#[tokio::test(start_paused = true)]
async fn network_loss_and_return() {
    let (modem, fake, mut ev) = start(
        M35,
        Box::new(|l| {
            (l == "AT+CREG?")
                .then(|| ok_with(&["+CREG: 2,1,\"1A2B\",\"00C4\""]))
                .or_else(|| csq(l))
        }),
    )
    .await;
    fake.send("\r\n+CREG: 0\r\n\r\n+CREG: 2\r\n");
    fake.send("\r\n+CREG: 1,\"1A2B\",\"00C4\"\r\n");
    let states: Vec<RegistrationState> = [
        next_event(&mut ev).await,
        next_event(&mut ev).await,
        next_event(&mut ev).await,
    ]
    .into_iter()
    .filter_map(|e| match e {
        ModemEvent::RegistrationChanged(Registration { state, .. }) => Some(state),
        _ => None,
    })
    .collect();
    assert_eq!(
        states,
        [
            RegistrationState::NotRegistered,
            RegistrationState::Searching,
            RegistrationState::Home
        ]
    );
    assert_eq!(
        modem.registration().await.map(|r| r.state.is_registered()),
        Ok(true)
    );
    assert_eq!(modem.dial("5551234").await, Ok(1));
    in_service(&modem).await;
}
