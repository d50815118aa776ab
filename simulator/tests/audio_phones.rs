//! Voice audio through `SimAudio` and programmable phones, on the virtual clock.

mod common;

use std::time::Duration;

use cellgate_hal::{AudioHal, LineId, PcmFrame, FRAME_SAMPLES};
use cellgate_simulator::phone::tone;
use cellgate_simulator::{
    AudioConfig, CallState, ModuleProfile, Network, NetworkConfig, PhoneBehaviour, PhoneSound,
};
use common::Gw;
use tokio::time::Instant;

const PHONE: &str = "+8613912345678";

async fn setup() -> (Network, Gw) {
    let net = Network::new(NetworkConfig::default());
    let mut gw = Gw::new(net.attach_modem(1, ModuleProfile::M35));
    gw.ready().await;
    (net, gw)
}

async fn answered_call(net: &Network, gw: &mut Gw) {
    net.phone_calls_line(PHONE, 1).unwrap();
    assert_eq!(gw.line().await, "RING");
    assert_eq!(gw.command("ATA").await, ["OK"]);
    assert_eq!(net.calls()[0].state, CallState::Active);
}

fn frames(samples: &[i16]) -> Vec<PcmFrame> {
    samples
        .chunks_exact(FRAME_SAMPLES)
        .map(|c| {
            let mut f = [0i16; FRAME_SAMPLES];
            f.copy_from_slice(c);
            f
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn gateway_tone_is_recorded_bit_exact() {
    let (net, mut gw) = setup().await;
    answered_call(&net, &mut gw).await;
    let audio = net.audio();
    let ch = audio.open(LineId(1)).await.unwrap();
    let sent = tone(1000.0, 8000, 0, 100 * FRAME_SAMPLES);
    for f in frames(&sent) {
        ch.to_gsm.send(f).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(net.phone_recording(PHONE), sent);
    audio.close(LineId(1)).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn loss_drops_the_configured_fraction_and_delay_delays() {
    let (net, mut gw) = setup().await;
    net.set_audio(AudioConfig {
        loss: 0.2,
        delay: Duration::from_millis(200),
    });
    answered_call(&net, &mut gw).await;
    let audio = net.audio();
    let mut ch = audio.open(LineId(1)).await.unwrap();
    let sent = tone(1000.0, 8000, 0, 1000 * FRAME_SAMPLES);
    let t0 = Instant::now();
    for f in frames(&sent) {
        ch.to_gsm.send(f).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        while ch.from_gsm.try_recv().is_ok() {}
    }
    assert!(t0.elapsed() >= Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = net.phone_recording(PHONE).len() / FRAME_SAMPLES;
    assert!((740..=860).contains(&got), "{got} of 1000 frames arrived");
}

#[tokio::test(start_paused = true)]
async fn phone_tone_arrives_on_from_gsm() {
    let (net, mut gw) = setup().await;
    net.set_phone(
        PHONE,
        PhoneBehaviour::default().play(PhoneSound::Tone {
            freq_hz: 1000.0,
            level: 4000,
        }),
    );
    answered_call(&net, &mut gw).await;
    let audio = net.audio();
    let mut ch = audio.open(LineId(1)).await.unwrap();
    let t0 = Instant::now();
    let mut got = Vec::new();
    for _ in 0..10 {
        let f = ch.from_gsm.recv().await.unwrap();
        got.extend_from_slice(&f);
    }
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(180) && took <= Duration::from_millis(200),
        "{took:?}"
    );
    assert_eq!(got, tone(1000.0, 4000, 0, 10 * FRAME_SAMPLES));
    // No active call: nothing flows.
    net.phone_hangs_up(PHONE).unwrap();
    tokio::time::sleep(Duration::from_millis(40)).await;
    while ch.from_gsm.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(ch.from_gsm.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn programmed_phone_answers_sends_dtmf_and_hangs_up() {
    let (net, mut gw) = setup().await;
    net.set_phone(
        "5550001",
        PhoneBehaviour::answers_after(Duration::from_secs(2))
            .send_dtmf(Duration::from_secs(1), "1#")
            .hang_up_after(Duration::from_secs(5)),
    );
    assert_eq!(gw.command("AT+QMOSTAT=1;+QTONEDET=1").await, ["OK"]);
    let audio = net.audio();
    let mut ch = audio.open(LineId(1)).await.unwrap();
    let t0 = Instant::now();
    assert_eq!(gw.command("ATD5550001;").await, ["OK"]);
    assert_eq!(gw.line().await, "MO RING");
    assert_eq!(gw.line().await, "MO CONNECTED");
    assert_eq!(t0.elapsed().as_secs(), 2);
    assert_eq!(gw.line().await, "+QTONEDET: 49");
    assert_eq!(gw.line().await, "+QTONEDET: 35");
    assert_eq!(t0.elapsed().as_secs(), 3);
    // The in-band tones follow on from_gsm.
    let mut heard = Vec::new();
    while heard.len() < 3200 {
        let f = ch.from_gsm.recv().await.unwrap();
        if heard.is_empty() && f.iter().all(|s| *s == 0) {
            continue;
        }
        heard.extend_from_slice(&f);
    }
    assert_eq!(
        &heard[..3200],
        &cellgate_simulator::phone::dtmf_samples("1#")[..]
    );
    assert_eq!(gw.line().await, "NO CARRIER");
    assert_eq!(t0.elapsed().as_secs(), 7);
    assert!(net.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn programmed_callee_behaviours() {
    let (net, mut gw) = setup().await;
    net.set_phone("5550002", PhoneBehaviour::busy());
    net.set_phone("5550003", PhoneBehaviour::unreachable());
    assert_eq!(gw.command("ATD5550002;").await, ["OK"]);
    assert_eq!(gw.line().await, "BUSY");
    assert_eq!(gw.command("ATD5550003;").await, ["OK"]);
    assert_eq!(gw.line().await, "NO CARRIER");
    assert_eq!(
        gw.command("AT+CEER").await,
        ["+CEER: 20,\"Subscriber absent\"", "OK"]
    );
}

#[tokio::test(start_paused = true)]
async fn audio_between_two_gateway_lines() {
    let net = Network::new(NetworkConfig::default());
    let mut a = Gw::new(net.attach_modem(1, ModuleProfile::M35));
    let mut b = Gw::new(net.attach_modem(2, ModuleProfile::M35));
    a.ready().await;
    b.ready().await;
    assert_eq!(a.command("ATD13800000002;").await, ["OK"]);
    assert_eq!(b.line().await, "RING");
    assert_eq!(b.command("ATA").await, ["OK"]);
    let audio = net.audio();
    let ch1 = audio.open(LineId(1)).await.unwrap();
    let mut ch2 = audio.open(LineId(2)).await.unwrap();
    let sent = tone(440.0, 3000, 0, 5 * FRAME_SAMPLES);
    for f in frames(&sent) {
        ch1.to_gsm.send(f).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut got = Vec::new();
    while got.len() < sent.len() {
        got.extend_from_slice(&ch2.from_gsm.recv().await.unwrap());
    }
    assert_eq!(got, sent);
}
