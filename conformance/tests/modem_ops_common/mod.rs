//! Shared scenarios of `modem_ops_m35.rs` / `modem_ops_uc15.rs`: every `ModemHal`
//! operation, run through the real AT backend against a simulated M35 or UC15 (the
//! dialect detected by `open_modem` from `AT+CGMM`), reached either over the in-memory
//! stream (paused clock) or through a real pty opened with tokio-serial (real clock: pty
//! I/O is not virtual).
#![allow(dead_code)]

use std::time::Duration;

use cellgate_backends::{open_modem, AtModem, AtModemConfig};
use cellgate_hal::{
    AccessTech, CallDirection, CallForwarding, CallStatus, CellInfo, DtmfDigit, ForwardReason,
    GprsStatus, HalError, ModemEvent, ModemEvents, ModemHal, ModuleKind, OperatorSelection,
    OutgoingPdu, PowerMode, Registration, RegistrationState, ReleaseCause, SimState, SmsFilter,
    UssdStatus,
};
use cellgate_simulator::{
    CallState, ModuleProfile, Network, NetworkConfig, SimCard, SimError, SmsOptions,
};
use cellgate_sms::{
    decode_mt, encode_submit, Address, ConcatRef, Encoding, MtPdu, Reassembler, Submit,
};

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
    pub profile: ModuleProfile,
}

/// A bed with the default SIM of line 1 and the default backend configuration.
pub async fn bed(transport: Transport, profile: ModuleProfile) -> Bed {
    bed_with(transport, profile, None, AtModemConfig::default()).await
}

/// A bed with a chosen SIM and backend configuration. The dialect is never forced: the
/// backend must detect it from `AT+CGMM`.
pub async fn bed_with(
    transport: Transport,
    profile: ModuleProfile,
    sim: Option<SimCard>,
    config: AtModemConfig,
) -> Bed {
    let net = Network::new(NetworkConfig::default());
    let (modem, mut events) = open_line(&net, 1, transport, profile, sim, config).await;
    // The dialect was detected from AT+CGMM, not forced.
    assert!(
        net.transcript(1).iter().any(|l| l == "-> AT+CGMM"),
        "no AT+CGMM probe"
    );
    assert_eq!(modem.kind(), profile.kind());
    assert_eq!(modem.dialect().kind, profile.kind());
    while events.try_recv().is_ok() {}
    Bed {
        net,
        modem,
        events,
        profile,
    }
}

/// Attaches a modem of `profile` to `line` of `net`, starts the backend on it over
/// `transport` and lets the simulated boot finish (8 s on the bed's clock). Returns the
/// backend and its event stream, drained.
pub async fn open_line(
    net: &Network,
    line: u16,
    transport: Transport,
    profile: ModuleProfile,
    sim: Option<SimCard>,
    config: AtModemConfig,
) -> (AtModem, ModemEvents) {
    let port = match sim {
        Some(card) => net.attach_modem_with_sim(line, profile, card),
        None => net.attach_modem(line, profile),
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
        Err(e) => panic!("backend of line {line} did not come up: {e}"),
    };
    let mut events = modem.subscribe();
    // Let the simulated boot finish (a late `RDY` makes the backend re-initialise).
    tokio::time::sleep(Duration::from_secs(8)).await;
    while events.try_recv().is_ok() {}
    (modem, events)
}

pub async fn next_event(rx: &mut ModemEvents) -> ModemEvent {
    match tokio::time::timeout(Duration::from_secs(90), rx.recv()).await {
        Ok(Ok(ev)) => ev,
        other => panic!("no event: {other:?}"),
    }
}

/// Waits for an event matching `f` (others are skipped).
pub async fn wait_event(rx: &mut ModemEvents, what: &str, f: impl Fn(&ModemEvent) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if f(&e) => return,
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            other => panic!("no {what}: {other:?}"),
        }
    }
}

/// Asserts that no event matching `f` arrives within `within`.
pub async fn no_event(
    rx: &mut ModemEvents,
    within: Duration,
    what: &str,
    f: impl Fn(&ModemEvent) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return,
            Ok(Ok(e)) => assert!(!f(&e), "unexpected {what}: {e:?}"),
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("event stream: {e}"),
        }
    }
}

/// The next call event (registration, signal and SMS sweep events are skipped).
pub async fn next_call_event(rx: &mut ModemEvents) -> ModemEvent {
    loop {
        let e = next_event(rx).await;
        if matches!(
            e,
            ModemEvent::IncomingCall { .. }
                | ModemEvent::CallWaiting { .. }
                | ModemEvent::CallAlerting { .. }
                | ModemEvent::CallConnected { .. }
                | ModemEvent::CallReleased { .. }
        ) {
            return e;
        }
    }
}

/// Polls `registration()` until `want` holds (60 s on the bed's clock).
pub async fn wait_registration(
    modem: &AtModem,
    what: &str,
    want: impl Fn(&Registration) -> bool,
) -> Registration {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = modem.registration().await;
        if let Ok(r) = &r {
            if want(r) {
                return r.clone();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "registration never {what}: last {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether the network's event log has `entry` (after its time stamp).
pub fn logged(net: &Network, entry: &str) -> bool {
    net.event_log()
        .iter()
        .any(|l| l.trim_start().split_once(' ').map(|(_, e)| e) == Some(entry))
}

pub fn luhn_ok(digits: &str) -> bool {
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

/// `body` (14 digits) completed with its Luhn check digit.
pub fn with_luhn(body: &str) -> String {
    (0..10u8)
        .map(|d| format!("{body}{d}"))
        .find(|c| luhn_ok(c))
        .unwrap_or_else(|| panic!("no check digit for {body}"))
}

/// A call to a number that answers, then hung up: the line is in service.
pub async fn call_works(modem: &AtModem, events: &mut ModemEvents) {
    let index = modem
        .dial("5551234")
        .await
        .unwrap_or_else(|e| panic!("dial: {e}"));
    wait_event(events, "CallConnected", |e| {
        *e == ModemEvent::CallConnected { index }
    })
    .await;
    assert_eq!(modem.hang_up().await, Ok(()));
    assert_eq!(modem.calls().await.map(|c| c.len()), Ok(0));
}

// ---------------------------------------------------------------- identity and SIM

/// kind, identity, sim_state, own_number, enter_pin on an unlocked SIM.
pub async fn identity_and_sim(t: Transport, p: ModuleProfile) {
    let b = bed(t, p).await;
    let sim = b.net.sim(1).unwrap_or_else(|| panic!("line 1 has no SIM"));
    let id = b
        .modem
        .identity()
        .await
        .unwrap_or_else(|e| panic!("identity: {e}"));
    let model = match p.kind() {
        ModuleKind::M35 => "M35",
        ModuleKind::Uc15 => "UC15",
        ModuleKind::Generic => "",
    };
    assert!(id.model.contains(model), "{id:?}");
    assert!(id.manufacturer.contains("Quectel"), "{id:?}");
    assert!(!id.firmware.is_empty());
    assert_eq!(Some(id.imei.clone()), b.net.imei(1));
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

/// A SIM with its PIN enabled: wrong PIN -> error and one try less, right PIN -> Ready,
/// the SMS set-up and registration follow.
pub async fn enter_pin(t: Transport, p: ModuleProfile) {
    let mut b = bed_with(
        t,
        p,
        Some(SimCard::for_line(1).with_pin("1111")),
        AtModemConfig::default(),
    )
    .await;
    assert_eq!(b.modem.sim_state().await, Ok(SimState::PinRequired));
    let tries = b.net.sim(1).map(|s| s.pin_tries);
    assert!(matches!(
        b.modem.enter_pin("0000", None).await,
        Err(HalError::Cme { code: 16 })
    ));
    assert_eq!(b.net.sim(1).map(|s| s.pin_tries), tries.map(|n| n - 1));
    assert_eq!(b.modem.sim_state().await, Ok(SimState::PinRequired));
    assert_eq!(b.modem.enter_pin("1111", None).await, Ok(()));
    wait_event(&mut b.events, "SimChanged(Ready)", |e| {
        *e == ModemEvent::SimChanged(SimState::Ready)
    })
    .await;
    assert_eq!(b.modem.sim_state().await, Ok(SimState::Ready));
    assert_eq!(b.net.sim(1).map(|s| s.pin_tries), tries);
    wait_registration(&b.modem, "home", |r| r.state == RegistrationState::Home).await;
    let id = b.modem.identity().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(id.imsi, b.net.sim(1).map(|s| s.imsi));
    // SMS work once the SIM is unlocked (the deferred SMS set-up ran).
    b.net
        .phone_sends_sms("+8613912345678", 1, "after the PIN")
        .unwrap_or_else(|e| panic!("{e:?}"));
    let got = receive_texts(&mut b, 1).await;
    assert_eq!(got, vec!["after the PIN".to_string()]);
}

/// PIN tries exhausted -> PUK and a new PIN.
pub async fn enter_puk(t: Transport, p: ModuleProfile) {
    let mut b = bed_with(
        t,
        p,
        Some(SimCard::for_line(1).with_pin("1111")),
        AtModemConfig::default(),
    )
    .await;
    for _ in 0..3 {
        assert!(b.modem.enter_pin("0000", None).await.is_err());
    }
    assert_eq!(b.modem.sim_state().await, Ok(SimState::PukRequired));
    assert!(b
        .modem
        .enter_pin("11111111", Some("2222".into()))
        .await
        .is_err());
    assert_eq!(
        b.modem.enter_pin("12345678", Some("2222".into())).await,
        Ok(())
    );
    wait_event(&mut b.events, "SimChanged(Ready)", |e| {
        *e == ModemEvent::SimChanged(SimState::Ready)
    })
    .await;
    assert_eq!(b.modem.sim_state().await, Ok(SimState::Ready));
    assert_eq!(b.net.sim(1).map(|s| s.pin), Some("2222".to_string()));
}

/// PIN2 and the fixed dialling lock (F-6.10.7): the SIM asks for PIN2 (`+CPIN: SIM
/// PIN2` URC) -> `SimChanged(Pin2Required)`; a wrong PIN2 costs one try (CME 16), the
/// right one clears the request; the FDN lock is read and set with PIN2; two more wrong
/// PIN2s leave one try, which the backend does not use; calls work meanwhile.
pub async fn pin2_and_fixed_dialing(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    assert_eq!(b.modem.fixed_dialing().await, Ok(false));
    // Not asked: nothing is entered, no try used.
    assert_eq!(b.modem.enter_pin2("0000").await, Ok(()));
    assert_eq!(b.net.sim(1).map(|s| s.pin2_tries), Some(3));
    b.net.ask_pin2(1).unwrap_or_else(|e| panic!("{e:?}"));
    wait_event(&mut b.events, "SimChanged(Pin2Required)", |e| {
        *e == ModemEvent::SimChanged(SimState::Pin2Required)
    })
    .await;
    assert_eq!(b.modem.sim_state().await, Ok(SimState::Pin2Required));
    assert_eq!(
        b.modem.enter_pin2("0000").await,
        Err(HalError::Cme { code: 16 })
    );
    assert_eq!(b.net.sim(1).map(|s| s.pin2_tries), Some(2));
    assert_eq!(
        b.net.sim(1).map(|s| s.pin_tries),
        Some(3),
        "PIN 1 untouched"
    );
    assert_eq!(b.modem.enter_pin2("5678").await, Ok(()));
    wait_event(&mut b.events, "SimChanged(Ready)", |e| {
        *e == ModemEvent::SimChanged(SimState::Ready)
    })
    .await;
    assert_eq!(
        b.net.sim(1).map(|s| (s.pin2_asked, s.pin2_tries)),
        Some((false, 3))
    );
    // The fixed dialling lock.
    assert_eq!(b.modem.set_fixed_dialing(true, "5678").await, Ok(()));
    assert_eq!(b.net.sim(1).map(|s| s.fixed_dialing), Some(true));
    assert_eq!(b.modem.fixed_dialing().await, Ok(true));
    for _ in 0..2 {
        assert_eq!(
            b.modem.set_fixed_dialing(false, "1111").await,
            Err(HalError::Cme { code: 16 })
        );
    }
    assert_eq!(b.net.sim(1).map(|s| s.pin2_tries), Some(1));
    // The last try is left to a person, even with the right PIN2.
    assert!(matches!(
        b.modem.set_fixed_dialing(false, "5678").await,
        Err(HalError::InvalidArgument(_))
    ));
    assert_eq!(
        b.net.sim(1).map(|s| (s.pin2_tries, s.fixed_dialing)),
        Some((1, true))
    );
    wait_registration(&b.modem, "home", |r| r.state == RegistrationState::Home).await;
    call_works(&b.modem, &mut b.events).await;
}

// ---------------------------------------------------------------- network

/// registration, signal (after `set_signal`), operator, select_operator (manual lock to
/// the second operator and back).
pub async fn network(t: Transport, p: ModuleProfile) {
    let b = bed(t, p).await;
    let reg = b
        .modem
        .registration()
        .await
        .unwrap_or_else(|e| panic!("registration: {e}"));
    assert_eq!(reg.state, RegistrationState::Home);
    assert!(reg.lac.is_some() && reg.cell_id.is_some(), "{reg:?}");
    if p.kind() == ModuleKind::Uc15 {
        assert_eq!(reg.tech, Some(AccessTech::Utran), "{reg:?}");
    }
    b.net.set_signal(1, 25).unwrap_or_else(|e| panic!("{e:?}"));
    let sig = b
        .modem
        .signal()
        .await
        .unwrap_or_else(|e| panic!("signal: {e}"));
    assert_eq!(sig.rssi, 25, "{sig:?}");
    assert_eq!(sig.dbm(), Some(-63));
    b.net.set_signal(1, 9).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(b.modem.signal().await.map(|s| s.rssi), Ok(9));

    let op = b
        .modem
        .operator()
        .await
        .unwrap_or_else(|e| panic!("operator: {e}"))
        .unwrap_or_else(|| panic!("no operator"));
    assert_eq!(op.name, "CHINA MOBILE");
    assert!(
        op.numeric.is_none() || op.numeric.as_deref() == Some("46000"),
        "{op:?}"
    );

    // Manual lock to the second operator: the home SIM roams there.
    assert_eq!(
        b.modem
            .select_operator(OperatorSelection::Manual("46001".into()))
            .await,
        Ok(())
    );
    wait_registration(&b.modem, "roaming", |r| {
        r.state == RegistrationState::Roaming
    })
    .await;
    let op = b.modem.operator().await;
    assert!(
        matches!(&op, Ok(Some(o)) if o.name == "CHN-UNICOM"),
        "{op:?}"
    );
    // The network sees the line roaming on a cell of 46001.
    assert_eq!(b.net.registration(1), Some(5));
    assert!(
        logged(&b.net, "line1 operator selection 46001"),
        "{:?}",
        b.net.event_log()
    );
    let serving = b.modem.cell_info().await.map(|c| c.first().cloned());
    assert!(
        matches!(&serving, Ok(Some(c)) if (c.mcc, c.mnc) == (460, 1)),
        "{serving:?}"
    );
    // An operator without cells is refused.
    assert!(b
        .modem
        .select_operator(OperatorSelection::Manual("26201".into()))
        .await
        .is_err());
    assert_eq!(
        b.modem.select_operator(OperatorSelection::Automatic).await,
        Ok(())
    );
    wait_registration(&b.modem, "home", |r| r.state == RegistrationState::Home).await;
    let op = b.modem.operator().await;
    assert!(
        matches!(&op, Ok(Some(o)) if o.name == "CHINA MOBILE"),
        "{op:?}"
    );
    assert_eq!(b.net.registration(1), Some(1));
    let serving = b.modem.cell_info().await.map(|c| c.first().cloned());
    assert!(
        matches!(&serving, Ok(Some(c)) if (c.mcc, c.mnc) == (460, 0)),
        "{serving:?}"
    );
}

/// cell_info in the module's QENG form: serving cell first (M35 `+QENG: 0,...` GSM,
/// UC15 `+QENG: "servingcell",...,"WCDMA"`), then neighbours.
pub async fn cell_info(t: Transport, p: ModuleProfile) {
    let b = bed(t, p).await;
    let cells = b
        .modem
        .cell_info()
        .await
        .unwrap_or_else(|e| panic!("cell_info: {e}"));
    assert!(cells.len() >= 2, "serving and neighbours: {cells:?}");
    let serving = &cells[0];
    assert_eq!((serving.mcc, serving.mnc), (460, 0), "{serving:?}");
    let reg = b
        .modem
        .registration()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Some(serving.lac), reg.lac, "{serving:?} vs {reg:?}");
    assert_eq!(Some(serving.cell_id), reg.cell_id, "{serving:?} vs {reg:?}");
    let tech = match p.kind() {
        ModuleKind::Uc15 => AccessTech::Utran,
        _ => AccessTech::Gsm,
    };
    assert!(cells.iter().all(|c| c.tech == tech), "{cells:?}");
    assert!(serving.level_dbm.is_some(), "{serving:?}");
    assert!(serving.bsic_or_psc.is_some(), "{serving:?}");
    // Neighbours are the other cells.
    assert!(
        cells[1..].iter().all(|c| c.arfcn != serving.arfcn),
        "{cells:?}"
    );
}

/// lock_cell (manual §6.15). M35 (`AT+QLOCKF`): the line moves onto the locked BCCH's
/// cell (seen by `cell_info`, `+CREG` and the network) and cannot leave it; a lock on an
/// ARFCN no cell has loses service; `None` returns to automatic selection, back on the
/// strongest cell. UC15 has no BCCH lock: `Unsupported`, nothing sent, the line stays.
pub async fn lock_cell(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    let cells = b
        .modem
        .cell_info()
        .await
        .unwrap_or_else(|e| panic!("cell_info: {e}"));
    let home = cells
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no serving cell"));
    let serving_of = |cells: HalResultCells| match cells {
        Ok(c) => c.first().map(|c| (c.arfcn, c.cell_id)),
        Err(e) => panic!("cell_info: {e}"),
    };
    if p.kind() != ModuleKind::M35 {
        for arfcn in [Some(560), None] {
            assert_eq!(
                b.modem.lock_cell(arfcn).await,
                Err(HalError::Unsupported("lock_cell"))
            );
        }
        assert!(
            !b.net.transcript(1).iter().any(|l| l.contains("QLOCKF")),
            "a BCCH lock command reached the module"
        );
        assert_eq!(
            serving_of(b.modem.cell_info().await),
            Some((home.arfcn, home.cell_id))
        );
        assert_eq!(b.net.registration(1), Some(1));
        return;
    }
    // The line camps on the strongest cell of its home operator; another cell of the
    // same operator and one of the other operator are neighbours.
    assert_eq!((home.mcc, home.mnc), (460, 0), "{home:?}");
    let neighbour = |mnc: u16| -> CellInfo {
        cells[1..]
            .iter()
            .find(|c| (c.mcc, c.mnc) == (460, mnc))
            .cloned()
            .unwrap_or_else(|| panic!("no neighbour of 460/{mnc}: {cells:?}"))
    };
    let (same_op, other_op) = (neighbour(0), neighbour(1));

    // Invalid ARFCNs never reach the module.
    assert!(matches!(
        b.modem.lock_cell(Some(1024)).await,
        Err(HalError::InvalidArgument(_))
    ));
    assert!(!b.net.transcript(1).iter().any(|l| l.contains("QLOCKF")));

    // Lock onto the weaker cell of the home operator.
    assert_eq!(b.modem.lock_cell(Some(same_op.arfcn)).await, Ok(()));
    let cmd = format!("-> AT+QLOCKF=1,{}", same_op.arfcn);
    assert!(b.net.transcript(1).contains(&cmd), "no {cmd}");
    let reg = wait_registration(&b.modem, "home on the locked cell", |r| {
        r.state == RegistrationState::Home && r.cell_id == Some(same_op.cell_id)
    })
    .await;
    assert_eq!(reg.lac, Some(same_op.lac));
    assert_eq!(
        serving_of(b.modem.cell_info().await),
        Some((same_op.arfcn, same_op.cell_id))
    );
    assert_eq!(b.net.registration(1), Some(1));
    let entry = format!("line1 BCCH lock {}", same_op.arfcn);
    assert!(logged(&b.net, &entry), "no {entry:?}");
    // Locked, the line cannot follow a manual selection of an operator without a cell
    // on that BCCH.
    assert!(b
        .modem
        .select_operator(OperatorSelection::Manual("46001".into()))
        .await
        .is_err());
    assert_eq!(
        serving_of(b.modem.cell_info().await),
        Some((same_op.arfcn, same_op.cell_id))
    );
    call_works(&b.modem, &mut b.events).await;

    // Lock onto the other operator's cell: the home SIM roams there.
    assert_eq!(b.modem.lock_cell(Some(other_op.arfcn)).await, Ok(()));
    wait_registration(&b.modem, "roaming on the locked cell", |r| {
        r.state == RegistrationState::Roaming && r.cell_id == Some(other_op.cell_id)
    })
    .await;
    assert_eq!(
        serving_of(b.modem.cell_info().await),
        Some((other_op.arfcn, other_op.cell_id))
    );
    assert_eq!(b.net.registration(1), Some(5));
    let op = b.modem.operator().await;
    assert!(
        matches!(&op, Ok(Some(o)) if o.name == "CHN-UNICOM"),
        "{op:?}"
    );

    // A BCCH no cell uses: no service.
    assert_eq!(b.modem.lock_cell(Some(999)).await, Ok(()));
    wait_registration(&b.modem, "lost", |r| !r.state.is_registered()).await;
    assert_eq!(b.net.registration(1), Some(2));
    assert_eq!(b.modem.cell_info().await, Ok(vec![]));
    assert!(b.modem.dial("5551234").await.is_err());

    // Unlocked: automatic cell selection camps on the strongest home cell again.
    assert_eq!(b.modem.lock_cell(None).await, Ok(()));
    assert!(b.net.transcript(1).iter().any(|l| l == "-> AT+QLOCKF=0"));
    wait_registration(&b.modem, "home on the strongest cell", |r| {
        r.state == RegistrationState::Home && r.cell_id == Some(home.cell_id)
    })
    .await;
    assert_eq!(
        serving_of(b.modem.cell_info().await),
        Some((home.arfcn, home.cell_id))
    );
    assert_eq!(b.net.registration(1), Some(1));
    assert!(logged(&b.net, "line1 BCCH lock off"));
    // Nothing holds the line any more: a manual operator selection moves it.
    assert_eq!(
        b.modem
            .select_operator(OperatorSelection::Manual("46001".into()))
            .await,
        Ok(())
    );
    wait_registration(&b.modem, "roaming", |r| {
        r.state == RegistrationState::Roaming
    })
    .await;
    assert_eq!(
        b.modem.select_operator(OperatorSelection::Automatic).await,
        Ok(())
    );
    wait_registration(&b.modem, "home", |r| r.state == RegistrationState::Home).await;
    call_works(&b.modem, &mut b.events).await;
}

type HalResultCells = Result<Vec<CellInfo>, HalError>;

/// set_power: CFUN 4 and 0 drop the registration, CFUN 1 brings it back.
pub async fn set_power(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    for mode in [PowerMode::RadioOff, PowerMode::Minimum] {
        assert_eq!(b.modem.set_power(mode).await, Ok(()), "{mode:?}");
        wait_registration(&b.modem, "lost", |r| !r.state.is_registered()).await;
        // The network sees the line deregistered.
        assert!(
            !matches!(b.net.registration(1), Some(1 | 5)),
            "{mode:?}: {:?}",
            b.net.registration(1)
        );
        assert!(b.modem.dial("5551234").await.is_err(), "{mode:?}");
        assert_eq!(b.modem.set_power(PowerMode::Full).await, Ok(()));
        wait_registration(&b.modem, "home", |r| r.state == RegistrationState::Home).await;
        assert_eq!(b.net.registration(1), Some(1), "{mode:?}");
    }
    call_works(&b.modem, &mut b.events).await;
}

// ---------------------------------------------------------------- calls

/// dial, progress events, send_dtmf, calls, hang_up.
pub async fn outgoing_call_answered(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
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
    assert_eq!(calls[0].number, "5551234");
    for c in ['7', '#'] {
        let digit = DtmfDigit::new(c).unwrap_or_else(|| panic!("digit"));
        assert_eq!(b.modem.send_dtmf(digit).await, Ok(()));
    }
    assert!(
        b.net.event_log().iter().any(|l| l.contains('7')),
        "DTMF not seen by the network"
    );
    assert_eq!(b.modem.hang_up().await, Ok(()));
    assert_eq!(b.modem.calls().await.map(|c| c.len()), Ok(0));
    assert!(b.net.calls().is_empty(), "{:?}", b.net.calls());
    // No call: DTMF is refused.
    let digit = DtmfDigit::new('1').unwrap_or_else(|| panic!("digit"));
    assert!(b.modem.send_dtmf(digit).await.is_err());
}

/// Failed calls end with the 24.008 cause of the simulated network.
pub async fn outgoing_call_failures(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
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
pub async fn incoming_call(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
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
    // Nothing ringing: answering fails.
    assert!(b.modem.answer().await.is_err());
}

// ---------------------------------------------------------------- SMS

/// send_sms: GSM 7-bit and UCS2 texts reach the SMSC exactly.
pub async fn send_sms(t: Transport, p: ModuleProfile) {
    let b = bed(t, p).await;
    let own = b.net.sim(1).map(|s| s.msisdn).unwrap_or_default();
    let texts = ["Hello from cellgate {€}", "Привет, мир! 👋"];
    let mut refs = Vec::new();
    for text in texts {
        let submit = Submit::new(Address::international("8613912345678"), text);
        let pdu = encode_submit(&submit, None).unwrap_or_else(|e| panic!("{e:?}"));
        let mr = b
            .modem
            .send_sms(&OutgoingPdu {
                pdu_hex: pdu.hex,
                tpdu_len: pdu.tpdu_len,
            })
            .await
            .unwrap_or_else(|e| panic!("send_sms {text}: {e}"));
        refs.push(mr);
    }
    assert_ne!(refs[0], refs[1], "message references");
    let sent = b.net.smsc_texts();
    assert_eq!(sent.len(), 2, "{sent:?}");
    for (s, text) in sent.iter().zip(texts) {
        assert_eq!(s.text, text);
        assert_eq!(s.parts, 1);
        assert!(s.to.ends_with("8613912345678"), "{s:?}");
        assert!(s.from.ends_with(own.trim_start_matches('+')), "{s:?}");
    }
    // A bad length is refused by the module.
    let submit = Submit::new(Address::international("8613912345678"), "x");
    let pdu = encode_submit(&submit, None).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(b
        .modem
        .send_sms(&OutgoingPdu {
            pdu_hex: pdu.hex,
            tpdu_len: pdu.tpdu_len + 3,
        })
        .await
        .is_err());
    assert_eq!(b.net.smsc_texts().len(), 2);
}

/// Waits for `n` distinct stored messages, reads and decodes each (`read_sms`), deletes
/// it (`delete_sms`) and returns the reassembled texts in arrival order.
pub async fn receive_texts(b: &mut Bed, n: usize) -> Vec<String> {
    let mut reassembler = Reassembler::new(Duration::from_secs(3600));
    let mut texts = Vec::new();
    while texts.len() < n {
        let ModemEvent::SmsStored { index } = next_event(&mut b.events).await else {
            continue;
        };
        let Ok(sms) = b.modem.read_sms(index).await else {
            continue; // already handled (the sweep re-announces until deleted)
        };
        assert_eq!(sms.index, index);
        let (_, pdu) = decode_mt(&sms.pdu_hex).unwrap_or_else(|e| panic!("{e:?}"));
        let MtPdu::Deliver(d) = pdu else {
            panic!("not a DELIVER: {pdu:?}");
        };
        assert_eq!(b.modem.delete_sms(index).await, Ok(()));
        if let Some(done) = reassembler.push_deliver(&d, 0) {
            texts.push(
                done.content
                    .as_text()
                    .unwrap_or_else(|| panic!("not text"))
                    .to_owned(),
            );
        }
    }
    texts
}

/// list_sms / read_sms / delete_sms with messages delivered by phones, including a
/// 3-part UCS2 message reassembled to the exact text.
pub async fn receive_sms(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    let from = "+8613912345678";
    b.net
        .phone_sends_sms(from, 1, "first message")
        .unwrap_or_else(|e| panic!("{e:?}"));
    b.net
        .phone_sends_sms(from, 1, "second message")
        .unwrap_or_else(|e| panic!("{e:?}"));
    // Two +CMTI; both listed, unread.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        if let ModemEvent::SmsStored { index } = next_event(&mut b.events).await {
            if !seen.contains(&index) {
                seen.push(index);
            }
        }
    }
    let unread = b
        .modem
        .list_sms(SmsFilter::Unread)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        unread.iter().map(|s| s.index).collect::<Vec<_>>(),
        seen,
        "{unread:?}"
    );
    assert!(unread.iter().all(|s| s.status == SmsFilter::Unread));
    let first = b
        .modem
        .read_sms(seen[0])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, MtPdu::Deliver(d)) = decode_mt(&first.pdu_hex).unwrap_or_else(|e| panic!("{e:?}"))
    else {
        panic!("not a DELIVER");
    };
    assert_eq!(d.text(), Some("first message"));
    assert_eq!(d.originator.to_string(), from, "{:?}", d.originator);
    // Listing the unread ones marked them read (27.005).
    let read = b.modem.list_sms(SmsFilter::Read).await.unwrap_or_default();
    assert_eq!(read.iter().map(|s| s.index).collect::<Vec<_>>(), seen);
    assert_eq!(b.modem.list_sms(SmsFilter::Unread).await, Ok(vec![]));
    assert_eq!(
        b.modem
            .list_sms(SmsFilter::All)
            .await
            .map(|l| l.len())
            .unwrap_or(0),
        2
    );
    for i in &seen {
        assert_eq!(b.modem.delete_sms(*i).await, Ok(()));
    }
    assert_eq!(b.modem.list_sms(SmsFilter::All).await, Ok(vec![]));
    // An empty slot.
    assert!(matches!(
        b.modem.read_sms(seen[0]).await,
        Err(HalError::Cms { code: 321 })
    ));
    while b.events.try_recv().is_ok() {}

    // A 3-part UCS2 message, parts reassembled to the exact text.
    let long = "Привет, мир! 👋 Это длинное сообщение. ".repeat(4);
    let parts = b
        .net
        .phone_sends_sms_with(
            from,
            1,
            &long,
            &SmsOptions {
                encoding: Encoding::Ucs2,
                reference: Some(ConcatRef::Sixteen(0x4242)),
                ..SmsOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(parts, 3);
    let got = receive_texts(&mut b, 1).await;
    assert_eq!(got, vec![long]);
    assert_eq!(b.modem.list_sms(SmsFilter::All).await, Ok(vec![]));
}

// ---------------------------------------------------------------- supplementary services

/// send_ussd: `*100#` balance, the multi-step `*123#` menu.
pub async fn send_ussd(t: Transport, p: ModuleProfile) {
    let b = bed(t, p).await;
    let r = b
        .modem
        .send_ussd("*100#")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, UssdStatus::Done, "{r:?}");
    let text = r.text.unwrap_or_default();
    assert!(
        text.starts_with("Your balance is 50.00"),
        "balance text: {text:?}"
    );
    let r = b
        .modem
        .send_ussd("*123#")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, UssdStatus::FurtherActionRequired, "{r:?}");
    assert_eq!(
        r.text.as_deref(),
        Some("1. Balance\n2. My number\n3. Offers")
    );
    let r = b
        .modem
        .send_ussd("3")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, UssdStatus::FurtherActionRequired, "{r:?}");
    assert_eq!(
        r.text.as_deref(),
        Some("1. 100 MB for 5.00\n2. 1 GB for 20.00")
    );
    let r = b
        .modem
        .send_ussd("1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (r.status, r.text.as_deref()),
        (UssdStatus::Done, Some("100 MB added."))
    );
    let r = b.modem.send_ussd("*777#").await;
    assert!(
        matches!(&r, Ok(u) if u.status == UssdStatus::NotSupported),
        "{r:?}"
    );
}

/// set_call_forwarding / call_forwarding: a round trip per reason, then disabled.
pub async fn call_forwarding(t: Transport, p: ModuleProfile) {
    let b = bed(t, p).await;
    for (reason, target, secs) in [
        (ForwardReason::Unconditional, "+8613911110001", None),
        (ForwardReason::Busy, "+8613911110002", None),
        (ForwardReason::NoReply, "+8613911110003", Some(20)),
        (ForwardReason::NotReachable, "13911110004", None),
    ] {
        let setting = CallForwarding {
            reason,
            enabled: true,
            number: Some(target.into()),
            no_reply_seconds: secs,
        };
        assert_eq!(
            b.modem.set_call_forwarding(&setting).await,
            Ok(()),
            "{reason:?}"
        );
        assert_eq!(
            b.modem.call_forwarding(reason).await,
            Ok(setting.clone()),
            "{reason:?}"
        );
        // The SIM's subscription in the network holds the target.
        assert_eq!(
            b.net
                .sim(1)
                .and_then(|s| s.forwarding.get(&reason_code(reason)).cloned()),
            Some(target.to_string()),
            "{reason:?}"
        );
    }
    assert_eq!(b.net.sim(1).map(|s| s.no_reply_secs), Some(20));
    // Everything switched off again.
    for reason in [
        ForwardReason::Unconditional,
        ForwardReason::Busy,
        ForwardReason::NoReply,
        ForwardReason::NotReachable,
    ] {
        let off = CallForwarding {
            reason,
            enabled: false,
            number: None,
            no_reply_seconds: None,
        };
        assert_eq!(
            b.modem.set_call_forwarding(&off).await,
            Ok(()),
            "{reason:?}"
        );
        let back = b
            .modem
            .call_forwarding(reason)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!back.enabled, "{reason:?}: {back:?}");
        assert_eq!(back.reason, reason);
    }
    assert_eq!(
        b.net.sim(1).map(|s| s.forwarding.is_empty()),
        Some(true),
        "{:?}",
        b.net.sim(1).map(|s| s.forwarding)
    );
}

/// The 27.007 `<reason>` of a forwarding condition, the key of
/// `SimCard::forwarding`.
fn reason_code(reason: ForwardReason) -> u8 {
    match reason {
        ForwardReason::Unconditional => 0,
        ForwardReason::Busy => 1,
        ForwardReason::NoReply => 2,
        ForwardReason::NotReachable => 3,
        ForwardReason::All => 4,
        ForwardReason::AllConditional => 5,
    }
}

/// Forwarding set through the backend is applied by the network. The target is line 2,
/// another SIM of the gateway with its own backend, so a diverted call is seen ringing
/// there. Unconditional diverts every call; busy diverts a call that finds line 1 in a
/// call (call waiting off); not reachable diverts while line 1 is powered down; no reply
/// diverts after the no-reply time. Switched off, calls stay on line 1 (or are refused
/// busy).
pub async fn forwarding_diverts_calls(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    let (line2, mut ev2) = open_line(&b.net, 2, t, p, None, AtModemConfig::default()).await;
    wait_registration(&line2, "line 2 home", |r| {
        r.state == RegistrationState::Home
    })
    .await;
    let target = b
        .net
        .sim(2)
        .map(|s| s.msisdn)
        .unwrap_or_else(|| panic!("line 2 has no SIM"));
    let set = |reason: ForwardReason, on: bool, secs: Option<u8>| CallForwarding {
        reason,
        enabled: on,
        number: on.then(|| target.clone()),
        no_reply_seconds: secs,
    };

    // Unconditional: line 1 never rings, line 2 does.
    let setting = set(ForwardReason::Unconditional, true, None);
    assert_eq!(b.modem.set_call_forwarding(&setting).await, Ok(()));
    diverted(&b, &line2, &mut ev2, "+8613900000001", &target).await;
    let setting = set(ForwardReason::Unconditional, false, None);
    assert_eq!(b.modem.set_call_forwarding(&setting).await, Ok(()));
    rings_line1(&mut b, "+8613900000002").await;

    // Busy: line 1 is in a call and the subscriber has call waiting off.
    b.net
        .update_sim(1, |s| s.call_waiting = false)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let setting = set(ForwardReason::Busy, true, None);
    assert_eq!(b.modem.set_call_forwarding(&setting).await, Ok(()));
    let index = b
        .modem
        .dial("5551234")
        .await
        .unwrap_or_else(|e| panic!("dial: {e}"));
    wait_event(&mut b.events, "CallConnected", |e| {
        *e == ModemEvent::CallConnected { index }
    })
    .await;
    let caller = "+8613900000003";
    b.net
        .phone_calls_line(caller, 1)
        .unwrap_or_else(|e| panic!("{e:?}"));
    wait_event(
        &mut ev2,
        "IncomingCall on line 2",
        |e| matches!(e, ModemEvent::IncomingCall { caller: Some(c), .. } if c == caller),
    )
    .await;
    assert_eq!(line2.answer().await, Ok(()));
    wait_event(&mut ev2, "CallConnected on line 2", |e| {
        matches!(e, ModemEvent::CallConnected { .. })
    })
    .await;
    let calls = b.net.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.line == 2 && c.remote == caller && c.state == CallState::Active),
        "{calls:?}"
    );
    // Line 1 keeps only its own call.
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.line == 1)
            .map(|c| c.remote.as_str())
            .collect::<Vec<_>>(),
        ["5551234"],
        "{calls:?}"
    );
    let entry = format!("line1 forwards the call from {caller} to {target}");
    assert!(logged(&b.net, &entry), "no {entry:?}");
    b.net
        .phone_hangs_up(caller)
        .unwrap_or_else(|e| panic!("{e:?}"));
    wait_event(&mut ev2, "CallReleased on line 2", |e| {
        matches!(e, ModemEvent::CallReleased { .. })
    })
    .await;
    // Busy forwarding off: the next caller is refused busy, line 2 stays quiet.
    let setting = set(ForwardReason::Busy, false, None);
    assert_eq!(b.modem.set_call_forwarding(&setting).await, Ok(()));
    assert_eq!(
        b.net.phone_calls_line("+8613900000004", 1),
        Err(SimError::LineBusy(1))
    );
    assert!(
        b.net.calls().iter().all(|c| c.line == 1),
        "{:?}",
        b.net.calls()
    );
    assert_eq!(b.modem.hang_up().await, Ok(()));
    assert!(b.net.calls().is_empty(), "{:?}", b.net.calls());

    // Not reachable: line 1 powered down to minimum functionality.
    let setting = set(ForwardReason::NotReachable, true, None);
    assert_eq!(b.modem.set_call_forwarding(&setting).await, Ok(()));
    assert_eq!(b.modem.set_power(PowerMode::Minimum).await, Ok(()));
    wait_registration(&b.modem, "lost", |r| !r.state.is_registered()).await;
    diverted(&b, &line2, &mut ev2, "+8613900000005", &target).await;
    assert_eq!(b.modem.set_power(PowerMode::Full).await, Ok(()));
    wait_registration(&b.modem, "home", |r| r.state == RegistrationState::Home).await;
    let setting = set(ForwardReason::NotReachable, false, None);
    assert_eq!(b.modem.set_call_forwarding(&setting).await, Ok(()));

    // No reply after 5 s: line 1 rings unanswered, then the call moves to line 2.
    let setting = set(ForwardReason::NoReply, true, Some(5));
    assert_eq!(b.modem.set_call_forwarding(&setting).await, Ok(()));
    assert_eq!(b.net.sim(1).map(|s| s.no_reply_secs), Some(5));
    let caller = "+8613900000006";
    b.net
        .phone_calls_line(caller, 1)
        .unwrap_or_else(|e| panic!("{e:?}"));
    wait_event(
        &mut b.events,
        "IncomingCall on line 1",
        |e| matches!(e, ModemEvent::IncomingCall { caller: Some(c), .. } if c == caller),
    )
    .await;
    wait_event(
        &mut ev2,
        "IncomingCall on line 2",
        |e| matches!(e, ModemEvent::IncomingCall { caller: Some(c), .. } if c == caller),
    )
    .await;
    assert!(
        b.net
            .calls()
            .iter()
            .all(|c| c.line == 2 && c.remote == caller),
        "{:?}",
        b.net.calls()
    );
    b.net
        .phone_hangs_up(caller)
        .unwrap_or_else(|e| panic!("{e:?}"));
    wait_event(&mut ev2, "CallReleased on line 2", |e| {
        matches!(e, ModemEvent::CallReleased { .. })
    })
    .await;
    let setting = set(ForwardReason::NoReply, false, None);
    assert_eq!(b.modem.set_call_forwarding(&setting).await, Ok(()));
    assert_eq!(
        b.net.sim(1).map(|s| s.forwarding.is_empty()),
        Some(true),
        "{:?}",
        b.net.sim(1).map(|s| s.forwarding)
    );
    rings_line1(&mut b, "+8613900000007").await;
}

/// `caller` calls line 1 and the network diverts the call to line 2 (`target`): line 2's
/// backend reports it ringing with the caller's number, line 1 has no call. The caller
/// then gives up.
async fn diverted(b: &Bed, line2: &AtModem, ev2: &mut ModemEvents, caller: &str, target: &str) {
    b.net
        .phone_calls_line(caller, 1)
        .unwrap_or_else(|e| panic!("{caller}: {e:?}"));
    wait_event(
        ev2,
        "IncomingCall on line 2",
        |e| matches!(e, ModemEvent::IncomingCall { caller: Some(c), .. } if c == caller),
    )
    .await;
    let calls = b.net.calls();
    assert!(
        calls.iter().all(|c| c.line == 2 && c.remote == caller),
        "{calls:?}"
    );
    let on2 = line2.calls().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        on2.iter()
            .map(|c| (c.direction, c.number.as_str()))
            .collect::<Vec<_>>(),
        [(CallDirection::MobileTerminated, caller)],
        "{on2:?}"
    );
    let entry = format!("line1 forwards the call from {caller} to {target}");
    assert!(logged(&b.net, &entry), "no {entry:?}");
    b.net
        .phone_hangs_up(caller)
        .unwrap_or_else(|e| panic!("{e:?}"));
    wait_event(ev2, "CallReleased on line 2", |e| {
        matches!(e, ModemEvent::CallReleased { .. })
    })
    .await;
}

/// `caller` calls line 1 and line 1 rings (no forwarding); the caller then gives up.
async fn rings_line1(b: &mut Bed, caller: &str) {
    b.net
        .phone_calls_line(caller, 1)
        .unwrap_or_else(|e| panic!("{caller}: {e:?}"));
    wait_event(
        &mut b.events,
        "IncomingCall on line 1",
        |e| matches!(e, ModemEvent::IncomingCall { caller: Some(c), .. } if c == caller),
    )
    .await;
    assert!(
        b.net.calls().iter().all(|c| c.line == 1),
        "{:?}",
        b.net.calls()
    );
    b.net
        .phone_hangs_up(caller)
        .unwrap_or_else(|e| panic!("{e:?}"));
    wait_event(&mut b.events, "CallReleased on line 1", |e| {
        matches!(e, ModemEvent::CallReleased { .. })
    })
    .await;
}

// ---------------------------------------------------------------- call waiting and hold

/// `(index, state)` of line 1's calls in the network, by index.
fn line1_calls(net: &Network) -> Vec<(u8, CallState)> {
    let mut v: Vec<_> = net
        .calls()
        .iter()
        .filter(|c| c.line == 1)
        .map(|c| (c.index, c.state))
        .collect();
    v.sort_by_key(|c| c.0);
    v
}

/// Line 1 in an answered outgoing call (index 1) to a number that answers.
async fn outgoing_call_up(b: &mut Bed) {
    let index = b
        .modem
        .dial("5551234")
        .await
        .unwrap_or_else(|e| panic!("dial: {e}"));
    assert_eq!(index, 1);
    wait_event(&mut b.events, "CallConnected", |e| {
        *e == ModemEvent::CallConnected { index }
    })
    .await;
    assert_eq!(line1_calls(&b.net), [(1, CallState::Active)]);
}

/// Line 1 in an answered incoming call (index 1) from `caller`.
async fn incoming_call_up(b: &mut Bed, caller: &str) {
    b.net
        .phone_calls_line(caller, 1)
        .unwrap_or_else(|e| panic!("{caller}: {e:?}"));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::IncomingCall {
            index: None,
            caller: Some(caller.into())
        }
    );
    assert_eq!(b.modem.answer().await, Ok(()));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallConnected { index: 1 }
    );
    assert_eq!(line1_calls(&b.net), [(1, CallState::Active)]);
}

/// `caller` calls line 1 while a call is up: `CallWaiting` with its number and index 2.
async fn second_call_waits(b: &mut Bed, caller: &str) {
    b.net
        .phone_calls_line(caller, 1)
        .unwrap_or_else(|e| panic!("{caller}: {e:?}"));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallWaiting {
            index: Some(2),
            caller: Some(caller.into())
        }
    );
    assert_eq!(
        line1_calls(&b.net),
        [(1, CallState::Active), (2, CallState::Waiting)]
    );
}

/// Call waiting on an outgoing call (F-6.8.14 to F-6.8.16): the waiting call is
/// announced with its number; `hold_and_accept` holds the first call and connects the
/// second; again, it swaps them; `release_active_and_accept` ends the active one and
/// resumes the held one.
pub async fn call_waiting_hold_and_swap(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    // The backend switched the `+CCWA` presentation on at init.
    assert!(
        b.net.transcript(1).iter().any(|l| l == "-> AT+CCWA=1"),
        "no AT+CCWA=1 at init"
    );
    outgoing_call_up(&mut b).await;
    let second = "+8613911110001";
    second_call_waits(&mut b, second).await;

    assert_eq!(b.modem.hold_and_accept().await, Ok(()));
    assert_eq!(
        line1_calls(&b.net),
        [(1, CallState::Held), (2, CallState::Active)]
    );
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallConnected { index: 2 }
    );
    let calls = b.modem.calls().await.unwrap_or_default();
    let seen: Vec<_> = calls.iter().map(|c| (c.index, c.status)).collect();
    assert_eq!(seen, [(1, CallStatus::Held), (2, CallStatus::Active)]);
    assert_eq!(calls[1].number, second);

    // Swap: the first call active again, the second held; no call event.
    assert_eq!(b.modem.hold_and_accept().await, Ok(()));
    assert_eq!(
        line1_calls(&b.net),
        [(1, CallState::Active), (2, CallState::Held)]
    );
    // And back.
    assert_eq!(b.modem.hold_and_accept().await, Ok(()));
    assert_eq!(
        line1_calls(&b.net),
        [(1, CallState::Held), (2, CallState::Active)]
    );

    // End the active (second) call, resume the held first one.
    assert_eq!(b.modem.release_active_and_accept().await, Ok(()));
    assert_eq!(line1_calls(&b.net), [(1, CallState::Active)]);
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallReleased {
            index: 2,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
    let entry = format!("line1 MT call from {second}: released by the gateway, cause 16 ");
    assert!(
        b.net.event_log().iter().any(|l| l.contains(&entry)),
        "{:#?}",
        b.net.event_log()
    );
    // The remaining call is still tracked: the far end hanging up releases index 1.
    b.net
        .phone_hangs_up("5551234")
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
    assert!(line1_calls(&b.net).is_empty());
    // The line works as before.
    call_works(&b.modem, &mut b.events).await;
}

/// `release_active_and_accept` with a waiting call: the active call ends and the waiting
/// one connects.
pub async fn call_waiting_release_and_accept(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    let first = "+8613911110011";
    incoming_call_up(&mut b, first).await;
    let second = "+8613911110012";
    second_call_waits(&mut b, second).await;
    assert_eq!(b.modem.release_active_and_accept().await, Ok(()));
    assert_eq!(line1_calls(&b.net), [(2, CallState::Active)]);
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallConnected { index: 2 }
    );
    let remotes: Vec<_> = b.net.calls().iter().map(|c| c.remote.clone()).collect();
    assert_eq!(remotes, [second]);
    assert_eq!(b.modem.hang_up().await, Ok(()));
    assert!(line1_calls(&b.net).is_empty());
}

/// `reject_waiting` refuses the waiting call as busy (cause 17) and leaves the active
/// call alone; a waiting caller who hangs up is released with its own index.
pub async fn call_waiting_reject(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    incoming_call_up(&mut b, "+8613911110021").await;
    let second = "+8613911110022";
    second_call_waits(&mut b, second).await;
    assert_eq!(b.modem.reject_waiting().await, Ok(()));
    assert_eq!(line1_calls(&b.net), [(1, CallState::Active)]);
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallReleased {
            index: 2,
            cause: ReleaseCause::USER_BUSY
        }
    );
    let entry =
        format!("line1 MT call from {second}: released by the gateway (AT+CHLD=0), cause 17 ");
    assert!(
        b.net.event_log().iter().any(|l| l.contains(&entry)),
        "{:#?}",
        b.net.event_log()
    );
    // Another caller waits and gives up by hanging up: only that call ends.
    let third = "+8613911110023";
    second_call_waits(&mut b, third).await;
    b.net
        .phone_hangs_up(third)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallReleased {
            index: 2,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
    assert_eq!(line1_calls(&b.net), [(1, CallState::Active)]);
    // Nothing to reject any more: the module refuses, the call stays.
    assert!(b.modem.reject_waiting().await.is_err());
    assert_eq!(line1_calls(&b.net), [(1, CallState::Active)]);
    assert_eq!(b.modem.hang_up().await, Ok(()));
    assert!(line1_calls(&b.net).is_empty());
}

/// The accepted second caller hangs up while the first call is held (F-6.8.14): the
/// release carries the second call's index, and `hold_and_accept` resumes the held call.
pub async fn call_waiting_held_call_resumes(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    outgoing_call_up(&mut b).await;
    let second = "+8613911110031";
    second_call_waits(&mut b, second).await;
    assert_eq!(b.modem.hold_and_accept().await, Ok(()));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallConnected { index: 2 }
    );
    b.net
        .phone_hangs_up(second)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallReleased {
            index: 2,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
    assert_eq!(line1_calls(&b.net), [(1, CallState::Held)]);
    assert_eq!(b.modem.hold_and_accept().await, Ok(()));
    assert_eq!(line1_calls(&b.net), [(1, CallState::Active)]);
    // Resuming a call that was connected before is no new connection.
    no_event(&mut b.events, Duration::from_secs(2), "call event", |e| {
        matches!(
            e,
            ModemEvent::CallConnected { .. } | ModemEvent::CallReleased { .. }
        )
    })
    .await;
    b.net
        .phone_hangs_up("5551234")
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        next_call_event(&mut b.events).await,
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
}

/// `set_call_waiting(false)` (F-6.8.13): a second caller gets busy and nothing is
/// announced; `set_call_waiting(true)`: the next one waits again.
pub async fn call_waiting_disabled(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    assert_eq!(b.modem.set_call_waiting(false).await, Ok(()));
    assert_eq!(b.net.sim(1).map(|s| s.call_waiting), Some(false));
    assert!(
        b.net.transcript(1).iter().any(|l| l == "-> AT+CCWA=1,0"),
        "no AT+CCWA=1,0"
    );
    outgoing_call_up(&mut b).await;
    assert_eq!(
        b.net.phone_calls_line("+8613911110041", 1),
        Err(SimError::LineBusy(1))
    );
    no_event(&mut b.events, Duration::from_secs(2), "CallWaiting", |e| {
        matches!(e, ModemEvent::CallWaiting { .. })
    })
    .await;
    assert_eq!(line1_calls(&b.net), [(1, CallState::Active)]);

    assert_eq!(b.modem.set_call_waiting(true).await, Ok(()));
    assert_eq!(b.net.sim(1).map(|s| s.call_waiting), Some(true));
    second_call_waits(&mut b, "+8613911110042").await;
    assert_eq!(b.modem.hang_up().await, Ok(()));
    assert!(line1_calls(&b.net).is_empty());
}

// ---------------------------------------------------------------- module management

/// write_imei (the simulator applies it at once; it survives the reset), reset (the
/// module comes back, re-initialised; no `ModuleRestarted` for a commanded reset).
pub async fn write_imei_and_reset(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    let old = b.net.imei(1).unwrap_or_default();
    let new = with_luhn(&format!("{}99887766", &old[..6]));
    assert_ne!(new, old);
    // Invalid IMEIs never reach the module.
    let bad = format!("{}{}", &new[..14], (new.as_bytes()[14] - b'0' + 1) % 10);
    assert!(matches!(
        b.modem.write_imei(&bad).await,
        Err(HalError::InvalidArgument(_))
    ));
    assert!(matches!(
        b.modem.write_imei("12345").await,
        Err(HalError::InvalidArgument(_))
    ));
    assert_eq!(b.modem.write_imei(&new).await, Ok(()));
    assert_eq!(b.net.imei(1), Some(new.clone()));
    assert_eq!(b.modem.identity().await.map(|i| i.imei), Ok(new.clone()));

    assert_eq!(b.modem.reset().await, Ok(()));
    assert!(
        b.net
            .event_log()
            .iter()
            .any(|l| l.contains("module restarting")),
        "no AT+CFUN=1,1 seen by the module"
    );
    // Per docs/backends.md, ModuleRestarted is only for restarts the engine did not ask
    // for (spontaneous reboots, watchdog recovery).
    no_event(
        &mut b.events,
        Duration::from_secs(10),
        "ModuleRestarted",
        |e| *e == ModemEvent::ModuleRestarted,
    )
    .await;
    assert_eq!(b.modem.identity().await.map(|i| i.imei), Ok(new.clone()));
    assert_eq!(b.net.imei(1), Some(new));
    assert_eq!(b.modem.sim_state().await, Ok(SimState::Ready));
    wait_registration(&b.modem, "home", |r| r.state == RegistrationState::Home).await;
    // Re-initialised: SMS arrive (CNMI set again), calls work.
    b.net
        .phone_sends_sms("+8613912345678", 1, "after reset")
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(receive_texts(&mut b, 1).await, vec!["after reset"]);
    call_works(&b.modem, &mut b.events).await;
}

// ---------------------------------------------------------------- CLIR and GPRS

/// Line 1 dials line 2 and returns the caller number line 2 is shown, then ends the call
/// from line 1 and waits until line 2 has seen it end.
async fn caller_seen_by_line2(
    b: &mut Bed,
    line2: &AtModem,
    ev2: &mut ModemEvents,
) -> Option<String> {
    let target = b
        .net
        .sim(2)
        .map(|s| s.msisdn)
        .unwrap_or_else(|| panic!("line 2 has no SIM"));
    b.modem
        .dial(&target)
        .await
        .unwrap_or_else(|e| panic!("dial line 2: {e}"));
    let caller = loop {
        if let ModemEvent::IncomingCall { caller, .. } = next_call_event(ev2).await {
            break caller;
        }
    };
    // The network has the call between the two lines, whatever line 2 was shown.
    assert!(
        b.net.calls().iter().any(|c| c.line == 2
            && c.direction == CallDirection::MobileTerminated
            && c.state == CallState::Incoming),
        "{:?}",
        b.net.calls()
    );
    assert_eq!(b.modem.hang_up().await, Ok(()));
    wait_event(ev2, "CallReleased on line 2", |e| {
        matches!(e, ModemEvent::CallReleased { .. })
    })
    .await;
    assert!(line2.calls().await.is_ok_and(|c| c.is_empty()));
    caller
}

/// set_clir (27.007 `+CLIR`, F-6.10.21): withheld, the called gateway line is shown no
/// number; back to the network default, it sees line 1's MSISDN.
pub async fn clir_withholds_caller_id(t: Transport, p: ModuleProfile) {
    let mut b = bed(t, p).await;
    let (line2, mut ev2) = open_line(&b.net, 2, t, p, None, AtModemConfig::default()).await;
    wait_registration(&line2, "line 2 home", |r| {
        r.state == RegistrationState::Home
    })
    .await;
    let own = b
        .net
        .sim(1)
        .map(|s| s.msisdn)
        .unwrap_or_else(|| panic!("line 1 has no SIM"));

    assert_eq!(b.modem.set_clir(true).await, Ok(()));
    assert!(b.net.transcript(1).iter().any(|l| l == "-> AT+CLIR=1"));
    assert_eq!(caller_seen_by_line2(&mut b, &line2, &mut ev2).await, None);

    assert_eq!(b.modem.set_clir(false).await, Ok(()));
    assert!(b.net.transcript(1).iter().any(|l| l == "-> AT+CLIR=0"));
    assert_eq!(
        caller_seen_by_line2(&mut b, &line2, &mut ev2).await,
        Some(own)
    );
}

/// set_gprs_attached / gprs_status (27.007 `+CGATT` / `+CGREG`, F-6.10.1, F-5.2.3.5/6):
/// detached by default; attached, the module reports GPRS registration and the network
/// has the line attached; detached again, both say so. Without CS registration (minimum
/// functionality, coverage lost) the attach is refused and the line stays detached.
pub async fn gprs_attach(t: Transport, p: ModuleProfile) {
    let b = bed(t, p).await;
    wait_registration(&b.modem, "home", |r| r.state == RegistrationState::Home).await;
    let detached = GprsStatus {
        registered: false,
        attached: false,
    };
    let attached = GprsStatus {
        registered: true,
        attached: true,
    };
    assert_eq!(b.modem.gprs_status().await, Ok(detached));
    assert_eq!(b.net.gprs_attached(1), Some(false));

    assert_eq!(b.modem.set_gprs_attached(true).await, Ok(()));
    assert_eq!(b.modem.gprs_status().await, Ok(attached));
    assert_eq!(b.net.gprs_attached(1), Some(true));
    // Attaching twice is harmless.
    assert_eq!(b.modem.set_gprs_attached(true).await, Ok(()));
    assert_eq!(b.net.gprs_attached(1), Some(true));

    assert_eq!(b.modem.set_gprs_attached(false).await, Ok(()));
    assert_eq!(b.modem.gprs_status().await, Ok(detached));
    assert_eq!(b.net.gprs_attached(1), Some(false));

    // Minimum functionality: no CS registration, no attach.
    assert_eq!(b.modem.set_power(PowerMode::Minimum).await, Ok(()));
    wait_registration(&b.modem, "lost", |r| !r.state.is_registered()).await;
    assert_eq!(
        b.modem.set_gprs_attached(true).await,
        Err(HalError::Cme { code: 30 })
    );
    assert_eq!(b.modem.gprs_status().await, Ok(detached));
    assert_eq!(b.net.gprs_attached(1), Some(false));
    assert_eq!(b.modem.set_power(PowerMode::Full).await, Ok(()));
    wait_registration(&b.modem, "home", |r| r.state == RegistrationState::Home).await;

    // Coverage lost while attached: the line is detached and cannot attach again.
    assert_eq!(b.modem.set_gprs_attached(true).await, Ok(()));
    assert_eq!(b.net.gprs_attached(1), Some(true));
    b.net
        .set_coverage_lost(1, true)
        .unwrap_or_else(|e| panic!("{e:?}"));
    wait_registration(&b.modem, "lost", |r| !r.state.is_registered()).await;
    assert_eq!(b.net.gprs_attached(1), Some(false));
    assert_eq!(b.modem.gprs_status().await, Ok(detached));
    assert!(b.modem.set_gprs_attached(true).await.is_err());
    assert_eq!(b.net.gprs_attached(1), Some(false));
    b.net
        .set_coverage_lost(1, false)
        .unwrap_or_else(|e| panic!("{e:?}"));
    wait_registration(&b.modem, "home", |r| r.state == RegistrationState::Home).await;
    assert_eq!(b.modem.set_gprs_attached(true).await, Ok(()));
    assert_eq!(b.modem.gprs_status().await, Ok(attached));
}
