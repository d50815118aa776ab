//! The real backend in the M35 dialect over bytes against a scripted fake module.

mod common;

use std::time::Duration;

use cellgate_backends::{open_modem, M35Modem};
use cellgate_hal::{
    CallDirection, CallInfo, CallStatus, DtmfDigit, HalError, ModemEvent, ModemHal, ModemIdentity,
    Operator, PowerMode, Registration, RegistrationState, ReleaseCause, SignalQuality, SimState,
};
use common::*;
use tokio::time::Instant;

async fn start_simple(
    script: Script,
) -> (cellgate_backends::AtModem, Fake, cellgate_hal::ModemEvents) {
    start(M35, script).await
}

fn no_echo() -> FakeOptions {
    FakeOptions { echo: false, ..M35 }
}

#[tokio::test(start_paused = true)]
async fn init_sequence_in_order_with_echo_on() {
    let (stream, fake) = spawn_fake(M35, defaults());
    let modem = M35Modem::start_with_config(stream, test_config()).await;
    assert_eq!(modem.map(|m| m.kind()), Ok(cellgate_hal::ModuleKind::M35));
    assert_eq!(fake.log(), init_sequence(M35, true));
}

#[tokio::test(start_paused = true)]
async fn init_retries_at_until_answered() {
    let mut silent = 2;
    let (stream, fake) = spawn_fake(
        no_echo(),
        Box::new(move |l| {
            if l == "AT" && silent > 0 {
                silent -= 1;
                return Some(String::new());
            }
            None
        }),
    );
    let t0 = Instant::now();
    let modem = open_modem(stream, test_config()).await;
    assert!(modem.is_ok());
    // Two probes of 1 s each, each followed by a 0.5 s pause.
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    let log = fake.log();
    assert_eq!(&log[..3], &["AT", "AT", "AT"]);
    assert_eq!(log[2..].to_vec(), init_sequence(M35, true));
}

#[tokio::test(start_paused = true)]
async fn init_fails_with_timeout_when_module_is_mute() {
    let (stream, _fake) = spawn_fake(no_echo(), Box::new(|_| Some(String::new())));
    let modem = M35Modem::start_with_config(stream, test_config()).await;
    assert!(matches!(modem, Err(HalError::Timeout(_))));
}

fn identity_script(iccid_line: &'static str) -> Script {
    Box::new(move |l| {
        Some(match l {
            "AT+CGMI" => ok_with(&["Quectel"]),
            "AT+CGMM" => ok_with(&["Quectel_M35"]),
            "AT+CGMR" => ok_with(&["Revision: M35FAR02A01"]),
            "AT+CGSN" => ok_with(&["861234567890123"]),
            "AT+CIMI" => ok_with(&["262011234567890"]),
            "AT+QCCID" => ok_with(&[iccid_line]),
            _ => return None,
        })
    })
}

#[tokio::test(start_paused = true)]
async fn identity_parsing_both_iccid_forms() {
    for iccid_line in [
        "89490200001234567890",
        "+QCCID: 89490200001234567890",
        "+CCID: \"89490200001234567890\"",
    ] {
        let (modem, fake, _ev) = start_simple(identity_script(iccid_line)).await;
        assert_eq!(
            modem.identity().await,
            Ok(ModemIdentity {
                manufacturer: "Quectel".into(),
                model: "Quectel_M35".into(),
                firmware: "M35FAR02A01".into(),
                imei: "861234567890123".into(),
                imsi: Some("262011234567890".into()),
                iccid: Some("89490200001234567890".into()),
            }),
            "{iccid_line}"
        );
        assert_eq!(
            fake.log(),
            ["AT+CGMI", "AT+CGMM", "AT+CGMR", "AT+CGSN", "AT+CIMI", "AT+QCCID"]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn identity_without_sim() {
    let mut base = identity_script("x");
    let (modem, fake, _ev) = start_simple(Box::new(move |l| match l {
        "AT+CIMI" | "AT+QCCID" => Some("\r\n+CME ERROR: 10\r\n".into()),
        "AT+CCID" => Some("\r\nERROR\r\n".into()),
        _ => base(l),
    }))
    .await;
    let id = modem.identity().await;
    assert_eq!(
        id.as_ref().map(|i| (i.imsi.clone(), i.iccid.clone())),
        Ok((None, None))
    );
    assert_eq!(id.map(|i| i.imei), Ok("861234567890123".to_string()));
    assert!(fake.log().contains(&"AT+CCID".to_string()));
}

#[tokio::test(start_paused = true)]
async fn network_queries() {
    let (modem, _fake, _ev) = start_simple(Box::new(|l| {
        Some(match l {
            "AT+CREG?" => ok_with(&["+CREG: 2,5,\"1A2B\",\"00C4\""]),
            "AT+CSQ" => ok_with(&["+CSQ: 21,99"]),
            "AT+COPS?" => ok_with(&["+COPS: 0,0,\"Vodafone.de\""]),
            "AT+CPIN?" => ok_with(&["+CPIN: SIM PIN"]),
            "AT+CNUM" => ok_with(&["+CNUM: \"\",\"+491701234567\",145"]),
            "AT+CPIN=\"1234\"" => ok_with(&[]),
            _ => return None,
        })
    }))
    .await;
    assert_eq!(
        modem.registration().await,
        Ok(Registration {
            state: RegistrationState::Roaming,
            lac: Some(0x1a2b),
            cell_id: Some(0xc4),
            tech: None
        })
    );
    assert_eq!(
        modem.signal().await,
        Ok(SignalQuality { rssi: 21, ber: 99 })
    );
    assert_eq!(
        modem.operator().await,
        Ok(Some(Operator {
            name: "Vodafone.de".into(),
            numeric: None
        }))
    );
    assert_eq!(modem.sim_state().await, Ok(SimState::PinRequired));
    assert_eq!(modem.own_number().await, Ok(Some("+491701234567".into())));
    assert_eq!(modem.enter_pin("1234", None).await, Ok(()));
    assert!(matches!(
        modem.enter_pin("12\"4", None).await,
        Err(HalError::InvalidArgument(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn sim_missing_reported_as_cme_10() {
    let (modem, _fake, _ev) = start_simple(Box::new(|l| {
        (l == "AT+CPIN?").then(|| "\r\n+CME ERROR: 10\r\n".to_string())
    }))
    .await;
    assert_eq!(modem.sim_state().await, Ok(SimState::NotInserted));
}

#[tokio::test(start_paused = true)]
async fn cme_515_is_typed() {
    let (modem, _fake, _ev) = start_simple(Box::new(|l| {
        (l == "AT+CSQ").then(|| "\r\n+CME ERROR: 515\r\n".to_string())
    }))
    .await;
    let err = modem.signal().await;
    assert_eq!(err, Err(HalError::Cme { code: 515 }));
    assert!(err.is_err_and(|e| e.is_transient()));
}

#[tokio::test(start_paused = true)]
async fn plain_error_is_rejected() {
    let (modem, _fake, _ev) = start_simple(Box::new(|l| {
        (l == "ATA").then(|| "\r\nERROR\r\n".to_string())
    }))
    .await;
    assert_eq!(modem.answer().await, Err(HalError::Rejected));
}

#[tokio::test(start_paused = true)]
async fn dial_progress_and_release_with_ceer_cause() {
    let (modem, fake, mut ev) = start_simple(Box::new(|l| {
        Some(match l {
            "ATD+491701234567;" => ok_with(&[]),
            "AT+CLCC" => ok_with(&["+CLCC: 2,0,2,0,0,\"+491701234567\",145,\"\""]),
            "AT+CEER" => ok_with(&["+CEER: 31,\"Normal, unspecified\""]),
            _ => return None,
        })
    }))
    .await;
    assert_eq!(modem.dial("+491701234567").await, Ok(2));
    assert_eq!(fake.log(), ["ATD+491701234567;", "AT+CLCC"]);
    fake.send("\r\nMO RING\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallAlerting { index: 2 }
    );
    fake.send("\r\nMO CONNECTED\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallConnected { index: 2 }
    );
    fake.send("\r\nNO CARRIER\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallReleased {
            index: 2,
            cause: ReleaseCause(31)
        }
    );
    assert_eq!(fake.log().last().map(String::as_str), Some("AT+CEER"));
}

#[tokio::test(start_paused = true)]
async fn dial_without_clcc_row_uses_index_1() {
    let (modem, _fake, _ev) =
        start_simple(Box::new(|l| (l == "AT+CLCC").then(|| ok_with(&[])))).await;
    assert_eq!(modem.dial("5551234").await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn dial_rejects_bad_numbers_without_sending() {
    let (modem, fake, _ev) = start_simple(defaults()).await;
    for bad in ["123;+CFUN=0", "12\r34", "", "abc", "123 456"] {
        assert!(
            matches!(modem.dial(bad).await, Err(HalError::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    assert!(fake.log().is_empty());
}

#[tokio::test(start_paused = true)]
async fn release_causes_busy_no_answer_and_unreadable_ceer() {
    let (modem, fake, mut ev) = start_simple(Box::new(|l| {
        (l == "AT+CEER").then(|| ok_with(&["+CEER: \"something odd\""]))
    }))
    .await;
    assert_eq!(modem.dial("5551234").await, Ok(1));
    fake.send("\r\nBUSY\r\n");
    // Reported once only.
    fake.send("\r\nBUSY\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::USER_BUSY
        }
    );
    assert_eq!(modem.dial("5551234").await, Ok(1));
    fake.send("\r\nNO ANSWER\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NO_ANSWER
        }
    );
    assert_eq!(modem.dial("5551234").await, Ok(1));
    fake.send("\r\nNO CARRIER\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
    // No call left: a stray NO CARRIER is not a release and costs no AT+CEER.
    fake.clear();
    fake.send("\r\nNO CARRIER\r\n");
    assert_no_event(&mut ev).await;
    assert!(fake.log().is_empty());
}

#[tokio::test(start_paused = true)]
async fn dial_final_busy_is_an_error() {
    let (modem, _fake, _ev) = start_simple(Box::new(|l| {
        l.starts_with("ATD").then(|| "\r\nBUSY\r\n".to_string())
    }))
    .await;
    assert_eq!(modem.dial("5551234").await, Err(HalError::Rejected));
}

#[tokio::test(start_paused = true)]
async fn incoming_call_once_with_caller() {
    let (modem, fake, mut ev) = start_simple(defaults()).await;
    for _ in 0..3 {
        fake.send("\r\nRING\r\n\r\n+CLIP: \"03012345678\",129,\"\",,\"\",0\r\n");
    }
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::IncomingCall {
            index: None,
            caller: Some("03012345678".into())
        }
    );
    assert_no_event(&mut ev).await;
    assert_eq!(modem.answer().await, Ok(()));
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallConnected { index: 1 }
    );
    fake.send("\r\nNO CARRIER\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
    // The next call is reported again; withheld number -> no caller.
    fake.send("\r\nRING\r\n\r\n+CLIP: \"\",128,\"\",,\"\",1\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::IncomingCall {
            index: None,
            caller: None
        }
    );
}

#[tokio::test(start_paused = true)]
async fn ring_without_clip_reported_after_grace() {
    let (_modem, fake, mut ev) = start_simple(defaults()).await;
    let t0 = Instant::now();
    fake.send("\r\nRING\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::IncomingCall {
            index: None,
            caller: None
        }
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    fake.send("\r\nRING\r\n\r\n+CLIP: \"123\",129\r\n");
    assert_no_event(&mut ev).await;
}

#[tokio::test(start_paused = true)]
async fn urc_interleaved_inside_clcc_response() {
    let (modem, _fake, mut ev) = start_simple(Box::new(|l| {
        (l == "AT+CLCC").then(|| {
            "\r\n+CLCC: 1,0,0,0,0,\"5551234\",129,\"\"\r\n\r\nRING\r\n\r\n+CREG: 1,\"00A1\",\"0B2C\"\r\n+CLIP: \"0309876\",129,\"\",,\"\",0\r\n+CLCC: 2,1,5,0,0,\"0309876\",129\r\n\r\nOK\r\n".to_string()
        })
    }))
    .await;
    assert_eq!(
        modem.calls().await,
        Ok(vec![
            CallInfo {
                index: 1,
                direction: CallDirection::MobileOriginated,
                status: CallStatus::Active,
                number: "5551234".into(),
                multiparty: false
            },
            CallInfo {
                index: 2,
                direction: CallDirection::MobileTerminated,
                status: CallStatus::Waiting,
                number: "0309876".into(),
                multiparty: false
            }
        ])
    );
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::RegistrationChanged(Registration {
            state: RegistrationState::Home,
            lac: Some(0xa1),
            cell_id: Some(0xb2c),
            tech: None
        })
    );
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::IncomingCall {
            index: None,
            caller: Some("0309876".into())
        }
    );
}

#[tokio::test(start_paused = true)]
async fn garbage_lines_are_ignored_and_next_command_works() {
    let (modem, fake, mut ev) = start_simple(Box::new(|l| {
        (l == "AT+CSQ").then(|| "\r\n\u{1}\u{7f}noise here\r\n+CSQ: 10,0\r\n\r\nOK\r\n".to_string())
    }))
    .await;
    fake.send_bytes(b"\x00\xff\xfe\r\nWHAT IS THIS\r\n\xc3\x28\r\n+CREG: banana\r\n");
    assert_eq!(modem.signal().await, Ok(SignalQuality { rssi: 10, ber: 0 }));
    assert_eq!(modem.signal().await, Ok(SignalQuality { rssi: 10, ber: 0 }));
    assert_no_event(&mut ev).await;
}

#[tokio::test(start_paused = true)]
async fn module_that_keeps_echo_on() {
    let (modem, fake, _ev) = start(
        FakeOptions {
            sticky_echo: true,
            ..M35
        },
        {
            let mut ident = identity_script("89490200001234567890");
            Box::new(move |l| {
                Some(match l {
                    "AT+CSQ" => ok_with(&["+CSQ: 5,3"]),
                    "AT+CLCC" => ok_with(&["+CLCC: 1,1,4,0,0,\"777\",129,\"\""]),
                    _ => return ident(l),
                })
            })
        },
    )
    .await;
    // Bare answers (AT+CGSN...) must not pick up the echoed command line.
    let id = modem.identity().await;
    assert_eq!(
        id.map(|i| (i.manufacturer, i.imei, i.iccid)),
        Ok((
            "Quectel".to_string(),
            "861234567890123".to_string(),
            Some("89490200001234567890".to_string())
        ))
    );
    fake.clear();
    assert_eq!(modem.signal().await, Ok(SignalQuality { rssi: 5, ber: 3 }));
    assert_eq!(
        modem.calls().await.map(|c| c.len()),
        Ok(1),
        "echo line must not become a call row"
    );
    assert_eq!(
        modem
            .send_dtmf(DtmfDigit::new('#').unwrap_or_else(|| panic!()))
            .await,
        Ok(())
    );
    assert_eq!(fake.log(), ["AT+CSQ", "AT+CLCC", "AT+VTS=#"]);
}

#[tokio::test(start_paused = true)]
async fn timeout_after_exact_virtual_time_then_channel_still_works() {
    let (modem, _fake, _ev) = start_simple(Box::new(|l| (l == "AT+CSQ").then(String::new))).await;
    let t0 = Instant::now();
    assert_eq!(
        modem.signal().await,
        Err(HalError::Timeout("AT+CSQ".into()))
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    assert_eq!(modem.set_power(PowerMode::RadioOff).await, Ok(()));
    assert_eq!(modem.hang_up().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn status_urcs_become_events() {
    let (_modem, fake, mut ev) = start_simple(defaults()).await;
    fake.send("\r\n+CPIN: NOT INSERTED\r\n\r\n+CMTI: \"SM\",7\r\n\r\n+CREG: 2\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::SimChanged(SimState::NotInserted)
    );
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::SmsStored { index: 7 }
    );
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::RegistrationChanged(Registration {
            state: RegistrationState::Searching,
            lac: None,
            cell_id: None,
            tech: None
        })
    );
}

#[tokio::test(start_paused = true)]
async fn spontaneous_restart_reinitialises() {
    let (modem, fake, mut ev) = start_simple(defaults()).await;
    fake.send("\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n");
    let mut seen = Vec::new();
    loop {
        let e = next_event(&mut ev).await;
        let done = e == ModemEvent::ModuleRestarted;
        seen.push(e);
        if done {
            break;
        }
    }
    assert!(seen.contains(&ModemEvent::ModuleRestarted));
    // Full re-init, then the SIM sweep (messages may have arrived meanwhile).
    let mut expected = init_sequence(M35, false);
    expected.push("AT+CMGL=4".into());
    assert_eq!(fake.log(), expected);
    // The channel still works after the re-init.
    assert_eq!(modem.hang_up().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn reset_waits_for_boot_and_reinitialises() {
    let (modem, fake, mut ev) = start_simple(Box::new(|l| {
        (l == "AT+CFUN=1,1").then(|| {
            "\r\nOK\r\n\u{0}\u{ff}\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n"
                .to_string()
        })
    }))
    .await;
    assert_eq!(modem.reset().await, Ok(()));
    let mut expected = vec!["AT+CFUN=1,1".to_string(), "ESC".to_string()];
    expected.extend(init_sequence(M35, false));
    assert_eq!(fake.log(), expected);
    // A commanded reset is not a spontaneous restart.
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::SimChanged(SimState::Ready)
    );
    assert_no_event(&mut ev).await;
}

#[tokio::test(start_paused = true)]
async fn cell_info_from_qeng() {
    let (modem, fake, _ev) = start_simple(Box::new(|l| {
        (l == "AT+QENG?").then(|| {
            ok_with(&[
                "+QENG: 1,1",
                "+QENG: 0,262,02,1a2b,00c4,554,41,-71,18,50,0,10,x,x,x,x,x,x,x",
                "+QENG: 1,1,560,-87,39,21,21,262,02,1a2b,00c5",
            ])
        })
    }))
    .await;
    let cells = modem.cell_info().await;
    assert_eq!(fake.log(), ["AT+QENG=1,1", "AT+QENG?"]);
    let cells = cells.unwrap_or_default();
    assert_eq!(cells.len(), 2);
    assert_eq!(
        (
            cells[0].mcc,
            cells[0].mnc,
            cells[0].lac,
            cells[0].cell_id,
            cells[0].arfcn
        ),
        (262, 2, 0x1a2b, 0xc4, 554)
    );
    assert_eq!((cells[1].cell_id, cells[1].level_dbm), (0xc5, Some(-87)));
}

#[tokio::test(start_paused = true)]
async fn imei_write_validates_luhn() {
    let (modem, fake, _ev) = start_simple(defaults()).await;
    assert!(matches!(
        modem.write_imei("490154203237519").await,
        Err(HalError::InvalidArgument(_))
    ));
    assert!(matches!(
        modem.write_imei("4901542032375").await,
        Err(HalError::InvalidArgument(_))
    ));
    assert!(fake.log().is_empty());
    assert_eq!(modem.write_imei("490154203237518").await, Ok(()));
    assert_eq!(fake.log(), ["AT+EGMR=1,7,\"490154203237518\""]);
}

#[tokio::test(start_paused = true)]
async fn link_loss_is_reported() {
    let (stream, fake) = spawn_fake(
        no_echo(),
        Box::new(|l| (l == "AT+CSQ").then(|| "\r\n+CSQ: 1,".to_string())),
    );
    let modem = match M35Modem::start_with_config(stream, test_config()).await {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    let mut ev = modem.subscribe();
    // The module answers half a line, then the link goes away mid-command (dropping the
    // fake's injector ends its task, which closes its end of the stream).
    let (res, ()) = tokio::join!(modem.signal(), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(fake);
    });
    assert!(matches!(res, Err(HalError::LinkDown(_))), "{res:?}");
    assert!(matches!(
        next_event(&mut ev).await,
        ModemEvent::ModuleLost { .. }
    ));
    assert!(matches!(modem.signal().await, Err(HalError::LinkDown(_))));
}
