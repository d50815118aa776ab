//! SIM (PIN/PUK, insert/remove), SMS (SMSC store-and-forward, PDU and text mode, storage
//! full, status reports, concatenated UCS2) and USSD, driven over the modem's byte stream.

mod common;

use std::time::Duration;

use cellgate_simulator::{Fault, ModuleProfile, Network, NetworkConfig, SimCard, SmsOptions};
use cellgate_sms::{
    decode_hex, decode_mt, encode_submit, Address, ConcatRef, Encoding, MtPdu, Submit,
};
use common::Gw;

fn attach(profile: ModuleProfile) -> (Network, Gw) {
    let net = Network::new(NetworkConfig::default());
    let gw = Gw::new(net.attach_modem(1, profile));
    (net, gw)
}

async fn ready(gw: &mut Gw, profile: ModuleProfile) {
    let last = match profile {
        ModuleProfile::Uc15 => "+QIND: PB DONE",
        _ => "SMS Ready",
    };
    while gw.line().await != last {}
    assert_eq!(gw.command("ATE0").await, ["ATE0", "OK"]);
    assert_eq!(gw.command("AT+CMEE=1").await, ["OK"]);
}

#[tokio::test(start_paused = true)]
async fn pin_puk_counters_and_boot_pause() {
    let net = Network::new(NetworkConfig::default());
    let mut gw = Gw::new(net.attach_modem_with_sim(
        1,
        ModuleProfile::M35,
        SimCard::for_line(1).with_pin("1111"),
    ));
    assert_eq!(gw.line().await, "RDY");
    assert_eq!(gw.line().await, "+CFUN: 1");
    assert_eq!(gw.line().await, "+CPIN: SIM PIN");
    gw.silent_for(Duration::from_secs(5)).await; // no Call Ready without the PIN
    assert_eq!(gw.command("ATE0;+CMEE=1").await, ["ATE0;+CMEE=1", "OK"]);
    assert_eq!(gw.command("AT+CPIN?").await, ["+CPIN: SIM PIN", "OK"]);
    assert_eq!(gw.command("AT+CIMI").await, ["+CME ERROR: 11"]);
    assert_eq!(gw.command("AT+QTRPIN").await, ["+QTRPIN: 3,3,10,10", "OK"]);
    assert_eq!(gw.command("AT+CPIN=\"0000\"").await, ["+CME ERROR: 16"]);
    assert_eq!(gw.command("AT+QTRPIN").await, ["+QTRPIN: 2,3,10,10", "OK"]);
    assert_eq!(gw.command("AT+CPIN=\"1111\"").await, ["+CPIN: READY", "OK"]);
    assert_eq!(gw.line().await, "Call Ready");
    assert_eq!(gw.line().await, "SMS Ready");
    // Locking / changing the PIN.
    assert_eq!(gw.command("AT+CLCK=\"SC\",2").await, ["+CLCK: 1", "OK"]);
    assert_eq!(gw.command("AT+CPWD=\"SC\",\"1111\",\"2222\"").await, ["OK"]);
    assert_eq!(gw.command("AT+CLCK=\"SC\",0,\"2222\"").await, ["OK"]);
    assert_eq!(gw.command("AT+CLCK=\"SC\",2").await, ["+CLCK: 0", "OK"]);
    assert_eq!(net.sim(1).map(|s| s.pin), Some("2222".into()));
}

#[tokio::test(start_paused = true)]
async fn wrong_pins_need_the_puk() {
    let net = Network::new(NetworkConfig::default());
    let mut gw = Gw::new(net.attach_modem_with_sim(
        1,
        ModuleProfile::Uc15,
        SimCard::for_line(1).with_pin("1111"),
    ));
    while gw.line().await != "+QUSIM: 1" {}
    gw.command("ATE0;+CMEE=1").await;
    for _ in 0..2 {
        assert_eq!(gw.command("AT+CPIN=9999").await, ["+CME ERROR: 16"]);
    }
    assert_eq!(gw.command("AT+CPIN=9999").await, ["+CME ERROR: 12"]);
    assert_eq!(gw.command("AT+CPIN?").await, ["+CPIN: SIM PUK", "OK"]);
    assert_eq!(
        gw.command("AT+QPINC?").await,
        ["+QPINC: \"SC\",0,10", "+QPINC: \"P2\",3,10", "OK"]
    );
    assert_eq!(
        gw.command("AT+CPIN=\"12345678\",\"4321\"").await,
        ["+CPIN: READY", "OK"]
    );
    assert_eq!(gw.line().await, "+QIND: SMS DONE");
}

/// F-6.10.7 on the simulated SIM: PIN2 asked (`+CPIN: SIM PIN2` URC and read form),
/// entered with `AT+CPIN`, counted per dialect (`AT+QTRPIN` / `AT+QPINC`), the fixed
/// dialling lock `AT+CLCK="FD"` behind it, and three wrong PIN2s asking for the PUK2.
#[tokio::test(start_paused = true)]
async fn pin2_requests_counters_and_the_fixed_dialing_lock_f_6_10_7() {
    for profile in [ModuleProfile::M35, ModuleProfile::Uc15] {
        let (net, mut gw) = attach(profile);
        ready(&mut gw, profile).await;
        let tries = |gw_answer: Vec<String>| gw_answer.join("|");
        let (counter, full, one_wrong) = match profile {
            ModuleProfile::Uc15 => (
                "AT+QPINC=\"P2\"",
                "+QPINC: \"P2\",3,10|OK",
                "+QPINC: \"P2\",2,10|OK",
            ),
            _ => (
                "AT+QTRPIN",
                "+QTRPIN: 3,3,10,10|OK",
                "+QTRPIN: 3,2,10,10|OK",
            ),
        };
        assert_eq!(gw.command("AT+CLCK=\"FD\",2").await, ["+CLCK: 0", "OK"]);
        net.ask_pin2(1).expect("ask");
        assert_eq!(gw.line().await, "+CPIN: SIM PIN2");
        assert_eq!(gw.command("AT+CPIN?").await, ["+CPIN: SIM PIN2", "OK"]);
        // PIN 1 is done: the SIM still serves.
        assert_eq!(gw.command("AT+CIMI").await.len(), 2);
        assert_eq!(tries(gw.command(counter).await), full);
        assert_eq!(gw.command("AT+CPIN=\"0000\"").await, ["+CME ERROR: 16"]);
        assert_eq!(tries(gw.command(counter).await), one_wrong);
        assert_eq!(gw.command("AT+CPIN?").await, ["+CPIN: SIM PIN2", "OK"]);
        assert_eq!(gw.command("AT+CPIN=\"5678\"").await, ["+CPIN: READY", "OK"]);
        assert_eq!(tries(gw.command(counter).await), full);
        assert_eq!(gw.command("AT+CPIN?").await, ["+CPIN: READY", "OK"]);
        // The fixed dialling lock wants PIN2 as its password.
        assert_eq!(gw.command("AT+CLCK=\"FD\",1").await, ["+CME ERROR: 17"]);
        assert_eq!(gw.command("AT+CPIN?").await, ["+CPIN: SIM PIN2", "OK"]);
        assert_eq!(gw.command("AT+CLCK=\"FD\",1,\"5678\"").await, ["OK"]);
        assert_eq!(gw.command("AT+CLCK=\"FD\",2").await, ["+CLCK: 1", "OK"]);
        assert_eq!(net.sim(1).map(|s| s.fixed_dialing), Some(true));
        assert_eq!(gw.command("AT+CPIN?").await, ["+CPIN: READY", "OK"]);
        for _ in 0..2 {
            assert_eq!(
                gw.command("AT+CLCK=\"FD\",0,\"1111\"").await,
                ["+CME ERROR: 16"]
            );
        }
        assert_eq!(
            gw.command("AT+CLCK=\"FD\",0,\"1111\"").await,
            ["+CME ERROR: 18"]
        );
        assert_eq!(gw.command("AT+CPIN?").await, ["+CPIN: SIM PUK2", "OK"]);
        assert_eq!(net.sim(1).map(|s| s.fixed_dialing), Some(true));
        assert_eq!(
            gw.command("AT+CPIN=\"87654321\",\"2468\"").await,
            ["+CPIN: READY", "OK"]
        );
        assert_eq!(gw.command("AT+CPWD=\"P2\",\"2468\",\"1357\"").await, ["OK"]);
        assert_eq!(net.sim(1).map(|s| s.pin2), Some("1357".into()));
    }
}

#[tokio::test(start_paused = true)]
async fn sim_removed_and_inserted_at_run_time() {
    let (net, mut gw) = attach(ModuleProfile::M35);
    ready(&mut gw, ModuleProfile::M35).await;
    gw.command("AT+CREG=1").await;
    net.inject(1, Fault::SimRemoved).expect("remove");
    assert_eq!(gw.line().await, "+CPIN: NOT INSERTED");
    assert_eq!(gw.line().await, "+CREG: 0");
    assert_eq!(gw.command("AT+CPIN?").await, ["+CME ERROR: 10"]);
    assert_eq!(gw.command("AT+CMGL=4").await, ["+CMS ERROR: 310"]);
    net.inject(1, Fault::SimInserted).expect("insert");
    assert_eq!(gw.line().await, "+CPIN: READY");
    assert_eq!(gw.line().await, "+CREG: 2");
    assert_eq!(gw.line().await, "+CREG: 1");
    assert_eq!(gw.command("AT+CPIN?").await, ["+CPIN: READY", "OK"]);
}

#[tokio::test(start_paused = true)]
async fn sms_to_the_sim_is_stored_and_announced() {
    let (net, mut gw) = attach(ModuleProfile::M35);
    ready(&mut gw, ModuleProfile::M35).await;
    gw.command("AT+CMGF=0;+CNMI=2,1,0,2,0").await;
    net.phone_sends_sms("+8613912345678", 1, "hello gateway")
        .expect("send");
    assert_eq!(gw.line().await, "+CMTI: \"SM\",1");
    let r = gw.command("AT+CMGR=1").await;
    assert!(r[0].starts_with("+CMGR: 0,,"), "{r:?}");
    let (smsc, pdu) = decode_mt(&r[1]).expect("pdu");
    assert_eq!(smsc, Some(Address::international("8613800100500")));
    let MtPdu::Deliver(d) = pdu else {
        panic!("{pdu:?}")
    };
    assert_eq!(d.text(), Some("hello gateway"));
    assert_eq!(d.originator, Address::international("8613912345678"));
    // Read now; text mode shows it too.
    gw.command("AT+CMGF=1").await;
    assert_eq!(
        gw.command("AT+CMGL=\"ALL\"").await,
        [
            "+CMGL: 1,\"REC READ\",\"+8613912345678\",,\"24/01/01,00:00:02+32\"",
            "hello gateway",
            "OK"
        ]
    );
    assert_eq!(gw.command("AT+CMGD=1").await, ["OK"]);
    assert_eq!(
        gw.command("AT+CPMS?").await,
        ["+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30", "OK"]
    );
}

#[tokio::test(start_paused = true)]
async fn three_part_ucs2_with_16_bit_reference_and_cmt() {
    let (net, mut gw) = attach(ModuleProfile::Uc15);
    ready(&mut gw, ModuleProfile::Uc15).await;
    gw.command("AT+CNMI=2,2,0,1,0").await;
    let text = "Привет 👋 ".repeat(15);
    let n = net
        .phone_sends_sms_with(
            "+79161234567",
            1,
            &text,
            &SmsOptions {
                encoding: Encoding::Ucs2,
                reference: Some(ConcatRef::Sixteen(0x1234)),
                ..SmsOptions::default()
            },
        )
        .expect("send");
    assert_eq!(n, 3);
    let mut joined = String::new();
    for _ in 0..3 {
        let head = gw.line().await;
        assert!(head.starts_with("+CMT: ,"), "{head}");
        let (_, pdu) = decode_mt(&gw.line().await).expect("pdu");
        let MtPdu::Deliver(d) = pdu else { panic!() };
        let c = d.concat().expect("concat");
        assert_eq!(c.reference, ConcatRef::Sixteen(0x1234));
        joined.push_str(d.text().unwrap_or(""));
    }
    assert_eq!(joined, text);
    assert!(net.sim(1).expect("sim").messages.is_empty());
}

#[tokio::test(start_paused = true)]
async fn full_sim_takes_nothing_until_room_is_made() {
    let net = Network::new(NetworkConfig::default());
    let mut sim = SimCard::for_line(1);
    sim.sms_capacity = 2;
    let mut gw = Gw::new(net.attach_modem_with_sim(1, ModuleProfile::M35, sim));
    ready(&mut gw, ModuleProfile::M35).await;
    gw.command("AT+CNMI=2,1,0,2,0").await;
    for i in 0..3 {
        net.phone_sends_sms("5550001", 1, &format!("msg {i}"))
            .expect("send");
    }
    assert_eq!(gw.line().await, "+CMTI: \"SM\",1");
    assert_eq!(gw.line().await, "+CMTI: \"SM\",2");
    gw.silent_for(Duration::from_secs(10)).await; // full: no third +CMTI
    assert_eq!(net.smsc_pending(1), 1);
    // Writing to a full SIM fails with CMS 322.
    let pdu = encode_submit(
        &Submit::new(Address::international("15550001"), "draft"),
        None,
    )
    .expect("encode");
    let r = prompt(&mut gw, &format!("AT+CMGW={}", pdu.tpdu_len), &pdu.hex).await;
    assert_eq!(r, ["+CMS ERROR: 322"]);
    // Deleting makes room: the SMSC delivers what it kept.
    assert_eq!(gw.command("AT+CMGD=1").await, ["OK"]);
    assert_eq!(gw.line().await, "+CMTI: \"SM\",1");
    assert_eq!(net.smsc_pending(1), 0);
}

/// Sends a command that prompts with `> `, then the body and Ctrl-Z; returns the answer.
async fn prompt(gw: &mut Gw, cmd: &str, body: &str) -> Vec<String> {
    use tokio::io::AsyncReadExt;
    gw.send(cmd).await;
    let mut seen = Vec::new();
    while !seen.ends_with(b"> ") {
        let mut b = [0u8; 1];
        gw.port_mut().read_exact(&mut b).await.expect("read");
        seen.push(b[0]);
    }
    gw.write(format!("{body}\x1a").as_bytes()).await;
    gw.until_final().await
}

#[tokio::test(start_paused = true)]
async fn mo_sms_pdu_and_text_mode_reach_the_smsc_with_status_report() {
    let (net, mut gw) = attach(ModuleProfile::M35);
    ready(&mut gw, ModuleProfile::M35).await;
    gw.command("AT+CNMI=2,1,0,1,0").await;
    let mut submit = Submit::new(Address::international("8613912345678"), "Grüße €");
    submit.status_report_request = true;
    let pdu = encode_submit(&submit, None).expect("encode");
    let r = prompt(&mut gw, &format!("AT+CMGS={}", pdu.tpdu_len), &pdu.hex).await;
    assert_eq!(r, ["+CMGS: 1", "OK"]);
    // Status report shown directly (ds=1).
    let head = gw.line().await;
    assert!(head.starts_with("+CDS: "), "{head}");
    let (_, rep) = decode_mt(&gw.line().await).expect("report");
    let MtPdu::StatusReport(rep) = rep else {
        panic!()
    };
    assert_eq!((rep.reference, rep.status), (1, 0));
    // Text mode, UCS2 character set.
    gw.command("AT+CMGF=1;+CSCS=\"UCS2\"").await;
    let r = prompt(
        &mut gw,
        "AT+CMGS=\"002B0038003600310033\"",
        "04210430043B044E0442",
    )
    .await;
    assert_eq!(r, ["+CMGS: 2", "OK"]);
    // Wrong length -> CMS 304.
    gw.command("AT+CMGF=0").await;
    let r = prompt(&mut gw, &format!("AT+CMGS={}", pdu.tpdu_len + 1), &pdu.hex).await;
    assert_eq!(r, ["+CMS ERROR: 304"]);
    let texts = net.smsc_texts();
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[0].text, "Grüße €");
    assert_eq!(texts[0].to, "+8613912345678");
    assert_eq!(texts[1].text, "Салют");
    assert_eq!(texts[1].from, "13800000001");
}

#[tokio::test(start_paused = true)]
async fn sms_between_two_gateway_sims() {
    let net = Network::new(NetworkConfig::default());
    let mut a = Gw::new(net.attach_modem(1, ModuleProfile::M35));
    let mut b = Gw::new(net.attach_modem(2, ModuleProfile::Uc15));
    ready(&mut a, ModuleProfile::M35).await;
    ready(&mut b, ModuleProfile::Uc15).await;
    b.command("AT+CNMI=2,1,0,0,0").await;
    let pdu = encode_submit(
        &Submit::new(Address::national("13800000002"), "hi line 2"),
        None,
    )
    .expect("encode");
    let r = prompt(&mut a, &format!("AT+CMGS={}", pdu.tpdu_len), &pdu.hex).await;
    assert_eq!(r, ["+CMGS: 1", "OK"]);
    assert_eq!(b.line().await, "+CMTI: \"SM\",1");
    let r = b.command("AT+CMGR=1").await;
    let (_, MtPdu::Deliver(d)) = decode_mt(&r[1]).expect("pdu") else {
        panic!()
    };
    assert_eq!(d.text(), Some("hi line 2"));
    assert_eq!(d.originator.value, "13800000001");
}

#[tokio::test(start_paused = true)]
async fn validity_period_expires_at_the_smsc() {
    let (net, mut gw) = attach(ModuleProfile::M35);
    ready(&mut gw, ModuleProfile::M35).await;
    net.inject(1, Fault::SimRemoved).expect("remove");
    net.phone_sends_sms_with(
        "5550002",
        1,
        "short-lived",
        &SmsOptions {
            validity: Some(Duration::from_secs(60)),
            ..SmsOptions::default()
        },
    )
    .expect("send");
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(net.smsc_pending(1), 1);
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert_eq!(net.smsc_pending(1), 0);
    assert!(net
        .event_log()
        .iter()
        .any(|l| l.contains("validity period expired")));
}

#[tokio::test(start_paused = true)]
async fn ussd_balance_number_menu_and_timeout() {
    let (_net, mut gw) = attach(ModuleProfile::M35);
    ready(&mut gw, ModuleProfile::M35).await;
    assert_eq!(gw.command("AT+CUSD=1,\"*100#\",15").await, ["OK"]);
    assert_eq!(
        gw.line().await,
        "+CUSD: 0,\"Your balance is 50.00 CNY.\",15"
    );
    assert_eq!(gw.command("AT+CUSD=1,\"*101#\",15").await, ["OK"]);
    assert_eq!(
        gw.line().await,
        "+CUSD: 0,\"Your number is 13800000001.\",15"
    );
    assert_eq!(gw.command("AT+CUSD=1,\"*123#\",15").await, ["OK"]);
    // The menu text holds line feeds, as real networks' menus do.
    assert_eq!(gw.line().await, "+CUSD: 1,\"1. Balance");
    assert_eq!(gw.line().await, "2. My number");
    assert_eq!(gw.line().await, "3. Offers\",15");
    assert_eq!(gw.command("AT+CUSD=1,\"2\",15").await, ["OK"]);
    assert_eq!(
        gw.line().await,
        "+CUSD: 0,\"Your number is 13800000001.\",15"
    );
    // UCS2 character set: request and answer in hex.
    gw.command("AT+CSCS=\"UCS2\"").await;
    assert_eq!(
        gw.command("AT+CUSD=1,\"002A0031003000300023\",15").await,
        ["OK"]
    );
    let l = gw.line().await;
    let hex = l
        .trim_start_matches("+CUSD: 0,\"")
        .trim_end_matches("\",15");
    let units: Vec<u16> = decode_hex(hex)
        .expect("hex")
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(
        String::from_utf16_lossy(&units),
        "Your balance is 50.00 CNY."
    );
    gw.command("AT+CSCS=\"GSM\"").await;
    // A code the network never answers.
    let t0 = tokio::time::Instant::now();
    assert_eq!(gw.command("AT+CUSD=1,\"*999#\",15").await, ["OK"]);
    assert_eq!(gw.line().await, "+CUSD: 5");
    assert_eq!(t0.elapsed(), Duration::from_secs(20));
    // Unknown codes are not supported.
    gw.command("AT+CUSD=1,\"*555#\",15").await;
    assert_eq!(gw.line().await, "+CUSD: 4");
}
