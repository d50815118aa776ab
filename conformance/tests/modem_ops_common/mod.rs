//! Shared scenarios of `modem_ops_m35.rs` / `modem_ops_uc15.rs`: every `ModemHal`
//! operation the simulator supports, run through the real AT backend against a simulated
//! modem, reached either over the in-memory stream (paused clock) or through a real pty
//! opened with tokio-serial (real clock: pty I/O is not virtual).
#![allow(dead_code)]

use std::time::Duration;

use cellgate_backends::{open_modem, AtModem, AtModemConfig, Dialect};
use cellgate_hal::{
    CallDirection, CallStatus, DtmfDigit, HalError, ModemEvent, ModemEvents, ModemHal,
    OperatorSelection, PowerMode, RegistrationState, ReleaseCause, SimState,
};
use cellgate_simulator::{ModuleProfile, Network, NetworkConfig};

/// How the backend reaches the simulated modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The simulator's in-memory stream.
    Memory,
    /// A pty pair: the simulator on the master side, the backend on the slave opened as
    /// a tokio-serial `SerialStream`.
    Pty,
}

/// A simulated network with line 1 attached and the backend started on it.
pub struct Bed {
    pub net: Network,
    pub modem: AtModem,
    pub events: ModemEvents,
}

pub async fn bed(transport: Transport, dialect: Option<&'static Dialect>) -> Bed {
    let net = Network::new(NetworkConfig::default());
    let port = net.attach_modem(1, ModuleProfile::M35);
    let config = AtModemConfig {
        dialect,
        ..AtModemConfig::default()
    };
    let opened = match transport {
        Transport::Memory => open_modem(port, config).await,
        Transport::Pty => {
            let (master, slave) = match tokio_serial::SerialStream::pair() {
                Ok(p) => p,
                Err(e) => panic!("cannot create a pty pair: {e}"),
            };
            tokio::spawn(async move {
                let (mut sim, mut master) = (port, master);
                let _ = tokio::io::copy_bidirectional(&mut sim, &mut master).await;
            });
            open_modem(slave, config).await
        }
    };
    let modem = match opened {
        Ok(m) => m,
        Err(e) => panic!("backend did not come up: {e}"),
    };
    let mut events = modem.subscribe();
    // Let the simulated boot finish (a late `RDY` makes the backend re-initialise).
    tokio::time::sleep(Duration::from_secs(8)).await;
    while events.try_recv().is_ok() {}
    Bed { net, modem, events }
}

pub async fn next_event(rx: &mut ModemEvents) -> ModemEvent {
    match tokio::time::timeout(Duration::from_secs(90), rx.recv()).await {
        Ok(Ok(ev)) => ev,
        other => panic!("no event: {other:?}"),
    }
}

/// The next call event (registration, signal and SMS sweep events are skipped).
pub async fn next_call_event(rx: &mut ModemEvents) -> ModemEvent {
    loop {
        let e = next_event(rx).await;
        if matches!(
            e,
            ModemEvent::IncomingCall { .. }
                | ModemEvent::CallAlerting { .. }
                | ModemEvent::CallConnected { .. }
                | ModemEvent::CallReleased { .. }
        ) {
            return e;
        }
    }
}

fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// identity, sim_state, own_number, enter_pin.
pub async fn identity_and_sim(b: &Bed) {
    let sim = b.net.sim(1).unwrap_or_else(|| panic!("line 1 has no SIM"));
    let id = b
        .modem
        .identity()
        .await
        .unwrap_or_else(|e| panic!("identity: {e}"));
    assert_eq!(id.model, "Quectel_M35");
    assert!(id.manufacturer.contains("Quectel"), "{id:?}");
    assert!(!id.firmware.is_empty());
    assert_eq!(id.imei.len(), 15);
    assert!(luhn_ok(&id.imei), "{}", id.imei);
    assert_eq!(id.imsi.as_deref(), Some(sim.imsi.as_str()));
    assert_eq!(id.iccid.as_deref(), Some(sim.iccid.as_str()));
    assert_eq!(b.modem.sim_state().await, Ok(SimState::Ready));
    assert_eq!(b.modem.own_number().await, Ok(Some(sim.msisdn.clone())));
    // The SIM is already unlocked: the module refuses a PIN.
    assert!(matches!(
        b.modem.enter_pin("1234", None).await,
        Err(HalError::Cme { .. } | HalError::Rejected)
    ));
}

/// registration, signal, operator, select_operator, set_power.
pub async fn network(b: &Bed) {
    let reg = b
        .modem
        .registration()
        .await
        .unwrap_or_else(|e| panic!("registration: {e}"));
    assert_eq!(reg.state, RegistrationState::Home);
    assert!(reg.lac.is_some() && reg.cell_id.is_some(), "{reg:?}");
    let sig = b
        .modem
        .signal()
        .await
        .unwrap_or_else(|e| panic!("signal: {e}"));
    assert!(sig.rssi <= 31, "{sig:?}");
    let op = b.modem.operator().await;
    assert!(matches!(&op, Ok(Some(o)) if !o.name.is_empty()), "{op:?}");
    assert_eq!(
        b.modem.select_operator(OperatorSelection::Automatic).await,
        Ok(())
    );
    assert_eq!(b.modem.set_power(PowerMode::Full).await, Ok(()));
    // Still in service afterwards.
    assert_eq!(
        b.modem
            .registration()
            .await
            .map(|r| r.state.is_registered()),
        Ok(true)
    );
}

/// dial, progress events, send_dtmf, calls, hang_up.
pub async fn outgoing_call_answered(b: &mut Bed) {
    let index = b
        .modem
        .dial("5551234")
        .await
        .unwrap_or_else(|e| panic!("dial: {e}"));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallAlerting { index }
    );
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallConnected { index }
    );
    let calls = b.modem.calls().await.unwrap_or_default();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (calls[0].index, calls[0].direction, calls[0].status),
        (index, CallDirection::MobileOriginated, CallStatus::Active)
    );
    let digit = DtmfDigit::new('7').unwrap_or_else(|| panic!("digit"));
    assert_eq!(b.modem.send_dtmf(digit).await, Ok(()));
    assert_eq!(b.modem.hang_up().await, Ok(()));
    assert_eq!(b.modem.calls().await.map(|c| c.len()), Ok(0));
}

/// Failed calls end with the 24.008 cause of the simulated network.
pub async fn outgoing_call_failures(b: &mut Bed) {
    for (number, cause) in [
        ("5550486", ReleaseCause::USER_BUSY),
        ("5550404", ReleaseCause::UNASSIGNED_NUMBER),
        ("5550603", ReleaseCause::CALL_REJECTED),
    ] {
        let index = b
            .modem
            .dial(number)
            .await
            .unwrap_or_else(|e| panic!("dial {number}: {e}"));
        let released = loop {
            match next_call_event(&mut b.events).await {
                ModemEvent::CallReleased { index: i, cause } => break (i, cause),
                ModemEvent::CallAlerting { .. } => continue,
                other => panic!("{number}: unexpected {other:?}"),
            }
        };
        assert_eq!(released, (index, cause), "{number}");
    }
}

/// An incoming call with caller id, answered, released by the caller.
pub async fn incoming_call(b: &mut Bed) {
    let caller = "+8613912345678";
    b.net
        .phone_calls_line(caller, 1)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::IncomingCall {
            index: None,
            caller: Some(caller.into())
        }
    );
    assert_eq!(b.modem.answer().await, Ok(()));
    let ModemEvent::CallConnected { index } = next_call_event(&mut b.events).await else {
        panic!("no CallConnected");
    };
    let calls = b.modem.calls().await.unwrap_or_default();
    assert_eq!(
        calls.first().map(|c| (c.direction, c.status)),
        Some((CallDirection::MobileTerminated, CallStatus::Active))
    );
    b.net
        .phone_hangs_up(caller)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallReleased {
            index,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
}
