//! End-to-end DTMF (issue #6, F-6.4.13 – F-6.4.15): the digits `0123456789*#` cross
//! between a SIP peer (real loopback RTP socket, the media crate's sans-IO `Bridge` as its
//! endpoint) and a simulated phone, in both directions and in each DTMF mode, on the
//! virtual clock. The module side is in-band (the default `gsm_dtmf`), except that SIP
//! INFO digits go to the module as `AT+VTS` (checked in the simulator's transcript).

use std::time::Duration;

use cellgate::sandbox::SandboxSip;
use cellgate_conformance::{FlowEntry, TestBed};
use cellgate_engine::gateway::MediaConfig;
use cellgate_media::bridge::{Bridge, BridgeConfig, BridgeEvent};
use cellgate_media::codec::Codec;
use cellgate_media::dtmf::detect::{Detected, DtmfDetector};
use cellgate_media::dtmf::{Digit, DtmfMode, DtmfSource};
use cellgate_media::jitter::JitterMode;
use cellgate_simulator::PhoneBehaviour;
use tokio::net::UdpSocket;
use tokio::time::Instant;

const NUMBER: &str = "5551234";
const DIGITS: &str = "0123456789*#";

/// Digits found (in order) by the Goertzel detector in `pcm`.
fn detect(pcm: &[i16]) -> String {
    let mut det = DtmfDetector::new();
    let mut out = String::new();
    det.process(pcm, |e| {
        if let Detected::Ended(d, _) = e {
            out.push(d.to_char());
        }
    });
    out
}

/// What one call in one mode carried.
struct Seen {
    /// Digits detected in the phone's recording.
    phone_heard: String,
    /// `AT+VTS` digits in the module transcripts.
    at_vts: String,
    /// Digits the peer got as RFC 4733 events.
    peer_events: String,
    /// Digits the peer got as SIP INFO.
    peer_info: String,
    /// Digits detected in the audio the peer heard.
    peer_heard: String,
}

/// One call in `mode`: the peer sends `DIGITS` 1 s after the ACK (as events, INFO or
/// tones), the phone sends them 5 s after connecting (in-band; the simulator also raises
/// `+QTONEDET` where enabled).
async fn dtmf_call(mode: DtmfMode, rtp_port: u16, gw_base: u16) -> Seen {
    let media = MediaConfig {
        codecs: vec![Codec::Pcmu],
        dtmf_mode: mode,
        ..MediaConfig::default()
    };
    let sip = SandboxSip {
        media: Some(media),
        rtp_base_port: Some(gw_base),
        ..SandboxSip::default()
    };
    let mut bed = TestBed::start_with(1, 9, sip).await;
    bed.network.set_phone(
        NUMBER,
        PhoneBehaviour::answers_after(Duration::from_secs(2))
            .send_dtmf(Duration::from_secs(5), DIGITS),
    );
    let socket = UdpSocket::bind(("127.0.0.1", rtp_port)).await.unwrap();
    let sdp = format!(
        "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    let call_id = format!("dtmf-{rtp_port}");
    bed.peer.invite_with_sdp(NUMBER, &call_id, &sdp);
    let ok = bed.peer.expect_status(200).await;
    bed.peer.ack(NUMBER, &call_id, &ok);
    let port: u16 = ok
        .text
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    let gw = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let cfg = BridgeConfig {
        codec: Codec::Pcmu,
        payload_type: 0,
        jitter: JitterMode::Fixed { delay_ms: 60 },
        rtp_timeout: None,
        dtmf_mode: DtmfMode::Rfc4733,
        ssrc: 0xd7f0,
        ..BridgeConfig::default()
    };
    let mut peer = Bridge::new(&cfg, Instant::now().into_std());
    let (mut heard, mut peer_events, mut peer_info) = (Vec::new(), String::new(), String::new());
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let mut next = start;
    let mut tick = 0u64;
    let digits: Vec<Digit> = DIGITS.chars().filter_map(Digit::from_char).collect();
    while next - start < Duration::from_secs(10) {
        // From 1 s on, one digit every 260 ms (13 ticks).
        if tick >= 50 && (tick - 50).is_multiple_of(13) {
            if let Some(&d) = digits.get(((tick - 50) / 13) as usize) {
                match mode {
                    DtmfMode::Rfc4733 => peer.tx.send_event(d, 100),
                    DtmfMode::InBand => peer.tx.play_dtmf(d, 100),
                    DtmfMode::SipInfo => bed.peer.info(
                        NUMBER,
                        &call_id,
                        &ok,
                        "application/dtmf-relay",
                        &format!("Signal={}\r\nDuration=100\r\n", d.to_char()),
                    ),
                }
            }
        }
        let frame = [0i16; 160];
        peer.on_pcm(&frame, |p| {
            let _ = socket.try_send_to(p, gw);
        });
        while let Ok((len, _)) = socket.try_recv_from(&mut buf) {
            let _ = peer.on_rtp(&buf[..len], Instant::now().into_std());
        }
        let mut out = [0i16; 160];
        peer.tick(Instant::now().into_std(), &mut out);
        heard.extend_from_slice(&out);
        while let Some(e) = peer.poll_event() {
            if let BridgeEvent::DtmfReceived {
                source: DtmfSource::SipRfc4733,
                digit,
                ..
            } = e
            {
                peer_events.push(digit.to_char());
            }
        }
        while let Some(m) = bed.peer.recv_within(Duration::ZERO).await {
            if m.first_line().starts_with("INFO ") {
                peer_info.push_str(&info_digit(&m));
                bed.peer.ok_to(&m);
            }
        }
        tick += 1;
        next += Duration::from_millis(20);
        tokio::time::sleep_until(next).await;
    }
    let phone_heard = detect(&bed.network.phone_recording(NUMBER));
    let at_vts: String = (0..=2u16)
        .flat_map(|l| bed.network.transcript(l))
        .filter_map(|t| {
            let i = t.find("AT+VTS=")?;
            Some(
                t[i + 7..]
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#')
                    .take(1)
                    .collect::<String>(),
            )
        })
        .collect();
    if std::env::var_os("DTMF_FLOW").is_some() {
        println!("{}", bed.peer.summary());
    }
    bed.peer.bye(NUMBER, &call_id, &ok);
    bed.peer.expect_status(200).await;
    bed.stop().await;
    Seen {
        phone_heard,
        at_vts,
        peer_events,
        peer_info,
        peer_heard: detect(&heard),
    }
}

/// The digit of an INFO `Signal=` body.
fn info_digit(m: &FlowEntry) -> String {
    m.text
        .lines()
        .find_map(|l| l.strip_prefix("Signal="))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn rfc4733_digits_cross_both_ways() {
    let s = dtmf_call(DtmfMode::Rfc4733, 22_000, 22_100).await;
    println!(
        "RFC 4733: phone heard {:?}, peer got events {:?}",
        s.phone_heard, s.peer_events
    );
    assert_eq!(s.phone_heard, DIGITS, "SIP events -> tones to the phone");
    assert_eq!(s.peer_events, DIGITS, "phone tones -> RFC 4733 events");
    assert_eq!(s.peer_info, "", "no INFO in RFC 4733 mode");
}

#[tokio::test(start_paused = true)]
async fn sip_info_digits_cross_both_ways() {
    let s = dtmf_call(DtmfMode::SipInfo, 22_200, 22_300).await;
    println!(
        "SIP INFO: module got AT+VTS {:?}, peer got INFO {:?}",
        s.at_vts, s.peer_info
    );
    assert_eq!(s.at_vts, DIGITS, "INFO -> AT+VTS");
    assert_eq!(s.peer_info, DIGITS, "phone tones -> INFO");
    assert_eq!(s.peer_events, "", "no RFC 4733 events in INFO mode");
}

#[tokio::test(start_paused = true)]
async fn in_band_digits_cross_both_ways() {
    let s = dtmf_call(DtmfMode::InBand, 22_400, 22_500).await;
    println!(
        "in-band: phone heard {:?}, peer heard {:?}",
        s.phone_heard, s.peer_heard
    );
    assert_eq!(s.phone_heard, DIGITS, "SIP tones -> the phone");
    assert_eq!(s.peer_heard, DIGITS, "phone tones -> the peer");
    assert_eq!(s.peer_events, "", "no RFC 4733 events in in-band mode");
    assert_eq!(s.peer_info, "", "no INFO in in-band mode");
}
