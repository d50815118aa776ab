//! Every `ModemHal` operation on all three dialects (M35, UC15, generic 27.007) against
//! the scripted fake module, on the virtual clock.

mod common;

use std::time::Duration;

use cellgate_hal::{
    AccessTech, CallForwarding, DtmfDigit, ForwardReason, HalError, ModemEvent, ModemHal,
    ModuleKind, Operator, OperatorSelection, OutgoingPdu, PowerMode, Registration,
    RegistrationState, SimState, SmsFilter, StoredSms, UssdResponse, UssdStatus,
};
use common::*;
use tokio::time::Instant;

fn kind_of(opts: FakeOptions) -> ModuleKind {
    match opts.model {
        "Quectel_M35" => ModuleKind::M35,
        "UC15" => ModuleKind::Uc15,
        _ => ModuleKind::Generic,
    }
}

async fn identity(opts: FakeOptions) {
    let iccid_cmd = if opts.model == "SIMCOM_SIM800" {
        "AT+CCID"
    } else {
        "AT+QCCID"
    };
    let iccid_line = match opts.model {
        "Quectel_M35" => "89490200001234567890",
        "UC15" => "+QCCID: 89490200001234567890",
        _ => "+CCID: \"89490200001234567890\"",
    };
    let model = opts.model;
    let (modem, fake, _ev) = start(
        opts,
        Box::new(move |l| {
            Some(match l {
                "AT+CGMI" => ok_with(&["Quectel"]),
                "AT+CGMM" => ok_with(&[model]),
                "AT+CGMR" => ok_with(&["Revision: X01"]),
                "AT+CGSN" => ok_with(&["861234567890123"]),
                "AT+CIMI" => ok_with(&["262011234567890"]),
                l if l == iccid_cmd => ok_with(&[iccid_line]),
                _ => return None,
            })
        }),
    )
    .await;
    assert_eq!(modem.kind(), kind_of(opts));
    let id = modem.identity().await;
    assert_eq!(
        id.map(|i| (i.model, i.firmware, i.imei, i.imsi, i.iccid)),
        Ok((
            model.to_string(),
            "X01".to_string(),
            "861234567890123".to_string(),
            Some("262011234567890".to_string()),
            Some("89490200001234567890".to_string())
        ))
    );
    assert_eq!(
        fake.log(),
        ["AT+CGMI", "AT+CGMM", "AT+CGMR", "AT+CGSN", "AT+CIMI", iccid_cmd]
    );
}

async fn sim_and_pin(opts: FakeOptions) {
    let (modem, fake, _ev) = start(
        opts,
        Box::new(|l| {
            Some(match l {
                "AT+CPIN?" => ok_with(&["+CPIN: SIM PUK"]),
                "AT+CNUM" => ok_with(&["+CNUM: \"\",\"+491701234567\",145"]),
                "AT+CPIN=\"0000\"" => "\r\n+CME ERROR: 16\r\n".into(),
                _ => return None,
            })
        }),
    )
    .await;
    assert_eq!(modem.sim_state().await, Ok(SimState::PukRequired));
    assert_eq!(modem.own_number().await, Ok(Some("+491701234567".into())));
    assert_eq!(modem.enter_pin("1234", None).await, Ok(()));
    assert_eq!(
        modem.enter_pin("0000", None).await,
        Err(HalError::Cme { code: 16 })
    );
    assert_eq!(
        modem.enter_pin("12345678", Some("4321".into())).await,
        Ok(())
    );
    assert!(matches!(
        modem.enter_pin("1234", Some("12\"".into())).await,
        Err(HalError::InvalidArgument(_))
    ));
    assert_eq!(
        fake.log(),
        [
            "AT+CPIN?",
            "AT+CNUM",
            "AT+CPIN=\"1234\"",
            "AT+CPIN=\"0000\"",
            "AT+CPIN=\"12345678\",\"4321\""
        ]
    );
}

/// F-6.10.7: PIN2 goes only to a SIM that asks for it, after the dialect's try counter
/// (`AT+QTRPIN` / `AT+QPINC="P2"`) shows more than one try; the fixed dialling lock is
/// read with `AT+CLCK="FD",2` and set with PIN2; `+CME ERROR: 16/17/18` map to typed
/// errors and SIM states.
async fn pin2_and_fixed_dialing_f_6_10_7(opts: FakeOptions) {
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::sync::Arc;
    // 0: SIM PIN2 asked, 3 tries; 1: asked, 1 try left; 2: ready.
    let phase = Arc::new(AtomicU8::new(0));
    let p = phase.clone();
    let model = opts.model;
    let (modem, fake, mut ev) = start(
        opts,
        Box::new(move |l| {
            let tries = if p.load(Ordering::SeqCst) == 1 { 1 } else { 3 };
            Some(match l {
                "AT+CPIN?" if p.load(Ordering::SeqCst) == 2 => ok_with(&["+CPIN: READY"]),
                "AT+CPIN?" => ok_with(&["+CPIN: SIM PIN2"]),
                "AT+QTRPIN" if model == "Quectel_M35" => {
                    ok_with(&[&format!("+QTRPIN: 3,{tries},10,10")])
                }
                "AT+QPINC=\"P2\"" if model == "UC15" => {
                    ok_with(&[&format!("+QPINC: \"P2\",{tries},10")])
                }
                "AT+CPIN=\"0000\"" => "\r\n+CME ERROR: 16\r\n".into(),
                "AT+CPIN=\"5678\"" => {
                    p.store(2, Ordering::SeqCst);
                    ok_with(&[])
                }
                "AT+CLCK=\"FD\",2" => ok_with(&["+CLCK: 0"]),
                "AT+CLCK=\"FD\",1,\"5678\"" => ok_with(&[]),
                "AT+CLCK=\"FD\",0,\"1111\"" => "\r\n+CME ERROR: 18\r\n".into(),
                _ => return None,
            })
        }),
    )
    .await;
    let counter: &[&str] = match opts.model {
        "Quectel_M35" => &["AT+QTRPIN"],
        "UC15" => &["AT+QPINC=\"P2\""],
        _ => &[],
    };
    // `before`, the try counter where the dialect has one, `after`.
    let with_counter = |before: &[&str], after: &[&str]| -> Vec<String> {
        before
            .iter()
            .chain(counter)
            .chain(after)
            .map(|c| c.to_string())
            .collect()
    };
    assert_eq!(modem.sim_state().await, Ok(SimState::Pin2Required));
    // A wrong PIN2: the module's error, the SIM still asks.
    fake.clear();
    assert_eq!(
        modem.enter_pin2("0000").await,
        Err(HalError::Cme { code: 16 })
    );
    assert_eq!(
        fake.log(),
        with_counter(&["AT+CPIN?"], &["AT+CPIN=\"0000\""])
    );
    // The right one: the new state is read back and announced.
    fake.clear();
    assert_eq!(modem.enter_pin2("5678").await, Ok(()));
    assert_eq!(
        fake.log(),
        with_counter(&["AT+CPIN?"], &["AT+CPIN=\"5678\"", "AT+CPIN?"])
    );
    wait_for(&mut ev, |e| *e == ModemEvent::SimChanged(SimState::Ready)).await;
    // Not asked: nothing entered (a SIM waiting for PIN 1 would take it as PIN 1).
    fake.clear();
    assert_eq!(modem.enter_pin2("5678").await, Ok(()));
    assert_eq!(fake.log(), ["AT+CPIN?"]);
    // Fixed dialling.
    assert_eq!(modem.fixed_dialing().await, Ok(false));
    fake.clear();
    assert_eq!(modem.set_fixed_dialing(true, "5678").await, Ok(()));
    assert_eq!(
        fake.log(),
        with_counter(&[], &["AT+CLCK=\"FD\",1,\"5678\""])
    );
    assert_eq!(
        modem.set_fixed_dialing(false, "1111").await,
        Err(HalError::Cme { code: 18 })
    );
    wait_for(&mut ev, |e| {
        *e == ModemEvent::SimChanged(SimState::Puk2Required)
    })
    .await;
    assert!(matches!(
        modem.set_fixed_dialing(true, "56\"78").await,
        Err(HalError::InvalidArgument(_))
    ));
    // One try left: not used, where the dialect can count.
    phase.store(1, Ordering::SeqCst);
    fake.clear();
    let last_try = modem.enter_pin2("5678").await;
    if counter.is_empty() {
        assert_eq!(last_try, Ok(()));
    } else {
        assert!(
            matches!(last_try, Err(HalError::InvalidArgument(_))),
            "{last_try:?}"
        );
        assert!(!fake.log().iter().any(|l| l == "AT+CPIN=\"5678\""));
    }
}

async fn network(opts: FakeOptions) {
    let creg = if opts.model == "UC15" {
        "+CREG: 2,1,\"A5E0\",\"1C5B7D8\",2"
    } else {
        "+CREG: 2,5,\"1A2B\",\"00C4\""
    };
    let (modem, fake, _ev) = start(
        opts,
        Box::new(move |l| {
            Some(match l {
                "AT+CREG?" => ok_with(&[creg]),
                "AT+CSQ" => ok_with(&["+CSQ: 21,99"]),
                "AT+COPS?" => ok_with(&["+COPS: 0,0,\"Vodafone.de\",2"]),
                _ => return None,
            })
        }),
    )
    .await;
    let expected = if opts.model == "UC15" {
        Registration {
            state: RegistrationState::Home,
            lac: Some(0xa5e0),
            cell_id: Some(0x1c5b7d8),
            tech: Some(AccessTech::Utran),
        }
    } else {
        Registration {
            state: RegistrationState::Roaming,
            lac: Some(0x1a2b),
            cell_id: Some(0xc4),
            tech: None,
        }
    };
    assert_eq!(modem.registration().await, Ok(expected));
    assert_eq!(modem.signal().await.map(|s| s.dbm()), Ok(Some(-71)));
    assert_eq!(
        modem.operator().await,
        Ok(Some(Operator {
            name: "Vodafone.de".into(),
            numeric: None
        }))
    );
    fake.clear();
    assert_eq!(
        modem
            .select_operator(OperatorSelection::Manual("26202".into()))
            .await,
        Ok(())
    );
    assert_eq!(
        modem.select_operator(OperatorSelection::Automatic).await,
        Ok(())
    );
    assert!(matches!(
        modem
            .select_operator(OperatorSelection::Manual("26\"2".into()))
            .await,
        Err(HalError::InvalidArgument(_))
    ));
    assert_eq!(
        fake.log(),
        [
            "AT+COPS=1,2,\"26202\"",
            "AT+COPS=3,0",
            "AT+COPS=0",
            "AT+COPS=3,0"
        ]
    );
}

/// `AT+COPS=1,...` waits up to the long operator timeout, not the default one.
async fn select_operator_long_timeout(opts: FakeOptions) {
    let (modem, _fake, _ev) = start(
        opts,
        Box::new(|l| l.starts_with("AT+COPS=1").then(String::new)),
    )
    .await;
    let t0 = Instant::now();
    let r = modem
        .select_operator(OperatorSelection::Manual("26202".into()))
        .await;
    assert!(matches!(r, Err(HalError::Timeout(_))));
    assert_eq!(t0.elapsed(), Duration::from_secs(180));
}

async fn calls_basic(opts: FakeOptions) {
    let (modem, fake, mut ev) = start(opts, defaults()).await;
    assert_eq!(modem.dial("5551234").await, Ok(1));
    assert_eq!(modem.calls().await.map(|c| c.len()), Ok(1));
    let d = DtmfDigit::new('5').ok_or(HalError::Rejected);
    assert_eq!(
        modem.send_dtmf(d.unwrap_or_else(|e| panic!("{e}"))).await,
        Ok(())
    );
    assert_eq!(modem.hang_up().await, Ok(()));
    let log = fake.log();
    assert_eq!(log[0], "ATD5551234;");
    assert!(log.contains(&"AT+VTS=5".to_string()));
    assert_eq!(log.last().map(String::as_str), Some("ATH"));
    // Incoming call, answered.
    fake.send("\r\nRING\r\n\r\n+CLIP: \"0301234\",129,\"\",,\"\",0\r\n");
    assert_eq!(
        wait_for(&mut ev, |e| matches!(e, ModemEvent::IncomingCall { .. })).await,
        ModemEvent::IncomingCall {
            index: None,
            caller: Some("0301234".into())
        }
    );
    assert_eq!(modem.answer().await, Ok(()));
    assert_eq!(
        wait_for(&mut ev, |e| matches!(e, ModemEvent::CallConnected { .. })).await,
        ModemEvent::CallConnected { index: 1 }
    );
    assert_eq!(modem.hang_up().await, Ok(()));
}

async fn sms(opts: FakeOptions) {
    let (modem, fake, _ev) = start(
        opts,
        Box::new(|l| {
            Some(match l {
                "BODY:0011000B919471103254F60000AA03C8B00F" => ok_with(&["+CMGS: 17"]),
                "AT+CMGL=4" => ok_with(&[
                    "+CMGL: 1,0,,24",
                    "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
                    "+CMGL: 4,1,,24",
                    "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD08",
                ]),
                "AT+CMGR=4" => ok_with(&[
                    "+CMGR: 1,,24",
                    "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD08",
                ]),
                "AT+CMGR=9" => ok_with(&[]),
                "AT+CMGD=5" => "\r\n+CMS ERROR: 321\r\n".into(),
                _ => return None,
            })
        }),
    )
    .await;
    let pdu = OutgoingPdu {
        pdu_hex: "0011000B919471103254F60000AA03C8B00F".into(),
        tpdu_len: 17,
    };
    assert_eq!(modem.send_sms(&pdu).await, Ok(17));
    assert_eq!(
        fake.log(),
        ["AT+CMGS=17", "BODY:0011000B919471103254F60000AA03C8B00F"]
    );
    assert!(matches!(
        modem
            .send_sms(&OutgoingPdu {
                pdu_hex: "00zz".into(),
                tpdu_len: 1
            })
            .await,
        Err(HalError::InvalidArgument(_))
    ));
    let list = modem.list_sms(SmsFilter::All).await;
    assert_eq!(
        list.map(|l| l.iter().map(|s| (s.index, s.status)).collect::<Vec<_>>()),
        Ok(vec![(1, SmsFilter::Unread), (4, SmsFilter::Read)])
    );
    assert_eq!(
        modem.read_sms(4).await,
        Ok(StoredSms {
            index: 4,
            status: SmsFilter::Read,
            pdu_hex: "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD08"
                .into()
        })
    );
    assert_eq!(modem.read_sms(9).await, Err(HalError::Cms { code: 321 }));
    assert_eq!(modem.delete_sms(4).await, Ok(()));
    assert_eq!(modem.delete_sms(5).await, Err(HalError::Cms { code: 321 }));
    assert!(fake.log().contains(&"AT+CMGD=4".to_string()));
    fake.clear();
    assert_eq!(
        modem.list_sms(SmsFilter::Unread).await.map(|l| l.len()),
        Ok(0)
    );
    assert_eq!(fake.log(), ["AT+CMGL=0"]);
}

/// `+CMS ERROR: 314` (SIM busy) is retried with backoff; the send then succeeds.
async fn sms_retry_on_sim_busy(opts: FakeOptions) {
    let mut busy = 2;
    let (modem, fake, _ev) = start(
        opts,
        Box::new(move |l| {
            if l == "AT+CMGS=2" && busy > 0 {
                busy -= 1;
                return Some("\r\n+CMS ERROR: 314\r\n".into());
            }
            None
        }),
    )
    .await;
    let t0 = Instant::now();
    let pdu = OutgoingPdu {
        pdu_hex: "000100".into(),
        tpdu_len: 2,
    };
    assert_eq!(modem.send_sms(&pdu).await, Ok(42));
    // 0.5 s + 1 s of backoff.
    assert_eq!(t0.elapsed(), Duration::from_millis(1500));
    assert_eq!(fake.count("AT+CMGS=2"), 3);
}

async fn ussd(opts: FakeOptions) {
    let (modem, fake, mut ev) = start(
        opts,
        Box::new(|l| {
            Some(match l {
                "AT+CUSD=1,\"*100#\",15" => {
                    ok_with(&[]) + "\r\n+CUSD: 0,\"Balance: 5.00 EUR\",15\r\n"
                }
                "AT+CUSD=1,\"*101#\",15" => {
                    ok_with(&[]) + "\r\n+CUSD: 1,\"004D0065006E00FC\",72\r\n"
                }
                "AT+CUSD=1,\"*102#\",15" => ok_with(&["+CUSD: 2"]),
                "AT+CUSD=1,\"*103#\",15" => ok_with(&[]),
                _ => return None,
            })
        }),
    )
    .await;
    assert_eq!(
        modem.send_ussd("*100#").await,
        Ok(UssdResponse {
            status: UssdStatus::Done,
            text: Some("Balance: 5.00 EUR".into()),
            dcs: Some(15)
        })
    );
    assert_eq!(
        modem.send_ussd("*101#").await.map(|r| (r.status, r.text)),
        Ok((UssdStatus::FurtherActionRequired, Some("Menü".into())))
    );
    assert_eq!(
        modem.send_ussd("*102#").await.map(|r| r.status),
        Ok(UssdStatus::Terminated)
    );
    let t0 = Instant::now();
    assert!(matches!(
        modem.send_ussd("*103#").await,
        Err(HalError::Timeout(_))
    ));
    assert_eq!(t0.elapsed(), Duration::from_secs(30));
    assert_eq!(fake.log().last().map(String::as_str), Some("AT+CUSD=2"));
    assert!(matches!(
        modem.send_ussd("*1\"#").await,
        Err(HalError::InvalidArgument(_))
    ));
    // A network-initiated USSD becomes an event.
    fake.send("\r\n+CUSD: 1,\"Reply 1 for news\",15\r\n");
    assert_eq!(
        wait_for(&mut ev, |e| matches!(e, ModemEvent::Ussd(_))).await,
        ModemEvent::Ussd(UssdResponse {
            status: UssdStatus::FurtherActionRequired,
            text: Some("Reply 1 for news".into()),
            dcs: Some(15)
        })
    );
}

async fn call_forwarding(opts: FakeOptions) {
    let (modem, fake, _ev) = start(
        opts,
        Box::new(|l| {
            Some(match l {
                "AT+CCFC=2,2" => ok_with(&["+CCFC: 1,1,\"+4930123\",145,,,,20", "+CCFC: 0,4"]),
                "AT+CCFC=0,2" => ok_with(&["+CCFC: 0,7"]),
                _ => return None,
            })
        }),
    )
    .await;
    let set = CallForwarding {
        reason: ForwardReason::NoReply,
        enabled: true,
        number: Some("+4930123".into()),
        no_reply_seconds: Some(20),
    };
    assert_eq!(modem.set_call_forwarding(&set).await, Ok(()));
    assert_eq!(
        modem
            .set_call_forwarding(&CallForwarding {
                reason: ForwardReason::Busy,
                enabled: true,
                number: Some("0301234".into()),
                no_reply_seconds: None
            })
            .await,
        Ok(())
    );
    assert_eq!(
        modem
            .set_call_forwarding(&CallForwarding {
                reason: ForwardReason::Unconditional,
                enabled: false,
                number: None,
                no_reply_seconds: None
            })
            .await,
        Ok(())
    );
    assert_eq!(modem.call_forwarding(ForwardReason::NoReply).await, Ok(set));
    assert_eq!(
        modem
            .call_forwarding(ForwardReason::Unconditional)
            .await
            .map(|c| c.enabled),
        Ok(false)
    );
    assert_eq!(
        fake.log(),
        [
            "AT+CCFC=2,3,\"+4930123\",145,1,,,20",
            "AT+CCFC=1,3,\"0301234\",129,1",
            "AT+CCFC=0,0",
            "AT+CCFC=2,2",
            "AT+CCFC=0,2"
        ]
    );
}

async fn power_and_reset(opts: FakeOptions) {
    let (modem, fake, mut ev) = start(
        opts,
        Box::new(|l| {
            (l == "AT+CFUN=1,1").then(|| ok_with(&[]) + "\r\nRDY\r\n\r\n+CPIN: READY\r\n")
        }),
    )
    .await;
    assert_eq!(modem.set_power(PowerMode::RadioOff).await, Ok(()));
    assert_eq!(modem.set_power(PowerMode::Minimum).await, Ok(()));
    assert_eq!(modem.set_power(PowerMode::Full).await, Ok(()));
    assert_eq!(modem.reset().await, Ok(()));
    let mut expected: Vec<String> = ["AT+CFUN=4", "AT+CFUN=0", "AT+CFUN=1", "AT+CFUN=1,1", "ESC"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    expected.extend(init_sequence(opts, false));
    assert_eq!(fake.log(), expected);
    // A commanded reset is not a spontaneous restart.
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::SimChanged(SimState::Ready)
    );
    assert_no_event(&mut ev).await;
}

async fn init_sequence_matches(opts: FakeOptions) {
    let (stream, fake) = spawn_fake(opts, defaults());
    let modem = cellgate_backends::open_modem(stream, test_config()).await;
    assert_eq!(modem.map(|m| m.kind()), Ok(kind_of(opts)));
    assert_eq!(fake.log(), init_sequence(opts, true));
}

macro_rules! for_profiles {
    ($($name:ident),* $(,)?) => {
        mod m35 {
            use super::*;
            $(#[tokio::test(start_paused = true)] async fn $name() { super::$name(common::M35).await })*
        }
        mod uc15 {
            use super::*;
            $(#[tokio::test(start_paused = true)] async fn $name() { super::$name(common::UC15).await })*
        }
        mod generic {
            use super::*;
            $(#[tokio::test(start_paused = true)] async fn $name() { super::$name(common::GENERIC).await })*
        }
    };
}

for_profiles!(
    init_sequence_matches,
    identity,
    sim_and_pin,
    pin2_and_fixed_dialing_f_6_10_7,
    network,
    select_operator_long_timeout,
    calls_basic,
    sms,
    sms_retry_on_sim_busy,
    ussd,
    call_forwarding,
    power_and_reset,
);
