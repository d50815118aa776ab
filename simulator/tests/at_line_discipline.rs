//! The M35 AT subset and line discipline: echo, chaining, errors, identity, garbage.

mod common;

use std::time::Duration;

use cellgate_simulator::{luhn, ModuleProfile, Network, NetworkConfig, SimCard};
use common::Gw;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::AsyncReadExt;

fn attach() -> (Network, Gw) {
    let net = Network::new(NetworkConfig::default());
    let gw = Gw::new(net.attach_modem(1, ModuleProfile::M35));
    (net, gw)
}

#[tokio::test(start_paused = true)]
async fn boot_sequence_over_two_seconds() {
    let (_net, mut gw) = attach();
    let t0 = tokio::time::Instant::now();
    assert_eq!(
        gw.boot().await,
        ["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"]
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    assert_eq!(
        gw.command("AT+QINISTAT").await,
        ["AT+QINISTAT", "+QINISTAT: 3", "OK"]
    );
}

#[tokio::test(start_paused = true)]
async fn commands_during_boot_are_answered_without_interleaving() {
    let (_net, mut gw) = attach();
    // Sent at the very instant of a boot URC: the answer still comes out in one piece.
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.send("ATI").await;
    let mut lines = Vec::new();
    while lines.last().map(String::as_str) != Some("SMS Ready") {
        lines.push(gw.line().await);
    }
    let ati = [
        "ATI",
        "Quectel_Ltd",
        "Quectel_M35",
        "Revision: M35FAR02A03",
        "OK",
    ];
    let start = lines.iter().position(|l| l == "ATI").expect("echo of ATI");
    assert_eq!(lines[start..start + ati.len()], ati);
    let boot: Vec<_> = lines
        .iter()
        .filter(|l| !ati.contains(&l.as_str()))
        .collect();
    assert_eq!(
        boot,
        ["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"]
    );
}

#[tokio::test(start_paused = true)]
async fn echo_is_on_by_default_and_raw_on_the_wire() {
    let (_net, mut gw) = attach();
    gw.boot().await;
    gw.send("AT").await;
    // Echo is the exact line with its CR, then the framed result.
    let mut buf = vec![0u8; 9];
    gw_read_exact(&mut gw, &mut buf).await;
    assert_eq!(buf, b"AT\r\r\nOK\r\n");
    assert_eq!(gw.command("ATE0").await, ["ATE0", "OK"]);
    assert_eq!(gw.command("AT").await, ["OK"]);
    assert_eq!(gw.command("ATE1").await, ["OK"]);
    assert_eq!(gw.command("at").await, ["at", "OK"]);
}

async fn gw_read_exact(gw: &mut Gw, buf: &mut [u8]) {
    tokio::time::timeout(Duration::from_secs(60), gw.port_mut().read_exact(buf))
        .await
        .expect("modem output in time")
        .expect("read");
}

#[tokio::test(start_paused = true)]
async fn chained_and_glued_commands() {
    let (_net, mut gw) = attach();
    gw.boot().await;
    assert_eq!(gw.command("ATE0Q0V1").await, ["ATE0Q0V1", "OK"]);
    assert_eq!(gw.command("AT+CMEE=1;+CLIP=1").await, ["OK"]);
    assert_eq!(
        gw.command("AT+CMEE?; +CLIP?;+QMOSTAT?").await,
        ["+CMEE: 1", "+CLIP: 1,1", "+QMOSTAT: 0", "OK"]
    );
    assert_eq!(
        gw.command("AT+CGMI;+CGMM;+CGMR").await,
        ["Quectel_Ltd", "Quectel_M35", "Revision: M35FAR02A03", "OK"]
    );
    // Execution stops at the first failing command, with one final result.
    assert_eq!(
        gw.command("AT+CSQ;+BOGUS;+CSQ").await,
        ["+CSQ: 24,0", "ERROR"]
    );
    assert_eq!(gw.command("ATZ").await, ["OK"]);
    // ATZ restored the defaults: echo is back on, CMEE back to 0.
    assert_eq!(gw.command("AT+CMEE?").await, ["AT+CMEE?", "+CMEE: 0", "OK"]);
}

#[tokio::test(start_paused = true)]
async fn errors_follow_cmee() {
    let (_net, mut gw) = attach();
    gw.ready().await;
    // Unknown commands are plain ERROR whatever CMEE says (as on a real M35).
    assert_eq!(gw.command("AT+FOO").await, ["ERROR"]);
    assert_eq!(gw.command("ATY").await, ["ERROR"]);
    assert_eq!(gw.command("AT+VTS=1").await, ["ERROR"]);
    assert_eq!(gw.command("AT+CMEE=1").await, ["OK"]);
    assert_eq!(gw.command("AT+FOO").await, ["ERROR"]);
    assert_eq!(gw.command("AT+VTS=1").await, ["+CME ERROR: 3"]);
    assert_eq!(gw.command("ATD12x4;").await, ["+CME ERROR: 27"]);
    assert_eq!(gw.command("AT+CMEE=2").await, ["OK"]);
    assert_eq!(
        gw.command("AT+VTS=1").await,
        ["+CME ERROR: operation not allowed"]
    );
    assert_eq!(gw.command("AT+CMEE=7").await, ["ERROR"]);
    // ATH without a call is fine; ATD; with nothing to dial fails like a module does.
    assert_eq!(gw.command("ATH").await, ["OK"]);
    assert_eq!(gw.command("ATD;").await, ["NO CARRIER"]);
    assert_eq!(gw.command("ATD5551234").await, ["NO CARRIER"]);
}

#[tokio::test(start_paused = true)]
async fn identity_and_network_queries() {
    let (net, mut gw) = attach();
    gw.ready().await;
    let sim = SimCard::for_line(1);
    assert_eq!(net.sim(1), Some(sim.clone()));

    let imei = gw.command("AT+CGSN").await;
    assert_eq!(imei.len(), 2);
    assert_eq!(imei[0].len(), 15);
    assert!(luhn::is_valid(&imei[0]), "{}", imei[0]);
    assert_eq!(gw.command("AT+GSN").await, imei);

    assert_eq!(gw.command("AT+CIMI").await, [sim.imsi.as_str(), "OK"]);
    assert_eq!(gw.command("AT+QCCID").await, [sim.iccid.as_str(), "OK"]);
    assert_eq!(
        gw.command("AT+CNUM").await,
        ["+CNUM: \"\",\"13800000001\",129", "OK"]
    );
    assert_eq!(gw.command("AT+CPIN?").await, ["+CPIN: READY", "OK"]);
    assert_eq!(gw.command("AT+CSQ").await, ["+CSQ: 24,0", "OK"]);
    assert_eq!(gw.command("AT+CREG?").await, ["+CREG: 0,1", "OK"]);
    assert_eq!(gw.command("AT+CREG=2").await, ["OK"]);
    assert_eq!(
        gw.command("AT+CREG?").await,
        ["+CREG: 2,1,\"7108\",\"80C4\"", "OK"]
    );
    assert_eq!(gw.command("AT+COPS=3,0").await, ["OK"]);
    assert_eq!(
        gw.command("AT+COPS?").await,
        ["+COPS: 0,0,\"CHINA MOBILE\"", "OK"]
    );
    assert_eq!(
        gw.command("AT+COPS=3,2;+COPS?").await,
        ["+COPS: 0,2,\"46000\"", "OK"]
    );
    assert_eq!(
        gw.command("ATX4;+CLIP=1;+QMOSTAT=1;+CSCS=\"UCS2\";+CSCS?")
            .await,
        ["+CSCS: \"UCS2\"", "OK"]
    );
    assert_eq!(gw.command("AT+CMEE=?").await, ["+CMEE: (0-2)", "OK"]);
    assert_eq!(gw.command("AT+CLCC=?").await, ["OK"]);

    // Another line, another (deterministic) identity.
    let mut gw2 = Gw::new(net.attach_modem(2, ModuleProfile::M35));
    gw2.ready().await;
    assert_ne!(gw2.command("AT+CGSN").await, imei);
    assert_eq!(
        gw2.command("AT+CNUM").await,
        ["+CNUM: \"\",\"13800000002\",129", "OK"]
    );
}

#[tokio::test(start_paused = true)]
async fn stray_control_bytes_and_blank_lines_are_tolerated() {
    let (net, mut gw) = attach();
    gw.ready().await;
    gw.write(b"\x1b\x1a\r\n\r\n\n\rAT\r\nAT\n\x00AT\x00\r")
        .await;
    assert_eq!(gw.until_final().await, ["OK"]);
    assert_eq!(gw.until_final().await, ["OK"]);
    assert_eq!(gw.until_final().await, ["OK"]);
    // A/ repeats the last line without a terminator.
    assert_eq!(gw.command("AT+CSQ").await, ["+CSQ: 24,0", "OK"]);
    gw.write(b"A/").await;
    assert_eq!(gw.until_final().await, ["+CSQ: 24,0", "OK"]);
    let t = net.transcript(1);
    assert!(t.contains(&"-> A/".to_owned()), "{t:#?}");
}

#[tokio::test(start_paused = true)]
async fn garbage_never_kills_the_modem() {
    let (net, mut gw) = attach();
    gw.ready().await;
    // Hand-picked nasties: non-UTF-8 after AT, NUL inside commands, invalid dial chars,
    // unterminated quotes, overlong lines.
    let nasty: [&[u8]; 8] = [
        b"AT\xff\xfe\r",
        b"AT+\x00CSQ\r",
        b"at+cmee=\xff\r",
        b"ATD\xff;\r",
        b"AT+CUSD=1,\"*100#\r",
        b"AT+++;;;===???\r",
        b"ATS99999999999999999999=99999999999999999\r",
        b"AT&\r",
    ];
    for n in nasty {
        gw.write(n).await;
        let lines = gw.until_final().await;
        assert!(
            lines.last().is_some_and(|l| l == "ERROR" || l == "OK"),
            "{lines:?}"
        );
    }
    gw.write(&vec![b'7'; 5000]).await;
    gw.write(b"\r").await;
    assert_eq!(gw.until_final().await, ["ERROR"]);

    // Random binary, with the letter A removed so no random "AT" command (a dial!) sneaks
    // in: the modem must ignore it and keep answering.
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    for _ in 0..20 {
        let mut junk: Vec<u8> = (0..500).map(|_| rng.gen()).collect();
        junk.retain(|b| !b.eq_ignore_ascii_case(&b'a'));
        junk.extend_from_slice(&[0x00, 0xff, 0x1a, b'\r', 0x1b, b'\r']);
        gw.write(&junk).await;
    }
    gw.write(b"\r\nAT\r").await;
    assert_eq!(gw.until_final().await, ["OK"]);
    assert_eq!(gw.command("AT").await, ["OK"]);
    assert!(net.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn numeric_and_quiet_result_codes() {
    let (_net, mut gw) = attach();
    gw.ready().await;
    let steps: [(&str, &[u8]); 4] = [
        ("ATV0", b"0\r"),
        ("AT+CSQ", b"+CSQ: 24,0\r\n0\r"),
        ("AT+FOO", b"4\r"),
        ("ATV1", b"\r\nOK\r\n"),
    ];
    for (cmd, want) in steps {
        gw.send(cmd).await;
        let mut got = vec![0u8; want.len()];
        gw_read_exact(&mut gw, &mut got).await;
        assert_eq!(got, want, "{cmd}");
    }
    // Quiet mode: no final result codes at all, information text still flows.
    gw.send("ATQ1").await;
    gw.send("AT+CSQ").await;
    gw.send("ATQ0").await;
    let want = b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n";
    let mut got = vec![0u8; want.len()];
    gw_read_exact(&mut gw, &mut got).await;
    assert_eq!(got, want);
}

#[tokio::test(start_paused = true)]
async fn input_before_rdy_is_discarded() {
    let (net, mut gw) = attach();
    // At 0 ms the module is still starting: no echo, no answer, the bytes are lost.
    gw.send("AT").await;
    gw.send("ATI").await;
    assert_eq!(gw.line().await, "RDY");
    assert_eq!(gw.command("AT").await, ["AT", "OK"]);
    assert!(
        !net.transcript(1).iter().any(|l| l == "-> ATI"),
        "{:?}",
        net.transcript(1)
    );
}
