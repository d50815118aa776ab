//! `MediaSession` over loopback UDP with a real clock: RTP in becomes PCM to the module,
//! PCM from the module becomes RTP out, RTCP is sent, the timeout fires, ports recycle.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use cellgate_hal::AudioChannel;
use cellgate_media::bridge::{BridgeConfig, BridgeEvent};
use cellgate_media::codec::Codec;
use cellgate_media::jitter::JitterMode;
use cellgate_media::rtp::{self, RtpHeader};
use cellgate_media::session::{MediaSession, PortAllocator};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn ports_are_even_and_recycled() {
    let alloc = PortAllocator::new(41_001..=41_005);
    let a = alloc.bind(LOCAL).await.unwrap_or_else(|e| panic!("{e}"));
    let b = alloc.bind(LOCAL).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((a.port, b.port), (41_002, 41_004));
    assert!(
        alloc.bind(LOCAL).await.is_err(),
        "41006 is outside the range"
    );
    drop(a);
    let c = alloc.bind(LOCAL).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.port, 41_002);
}

#[tokio::test]
async fn session_bridges_rtp_and_pcm_over_loopback() {
    let alloc = PortAllocator::new(41_100..=41_199);
    let sockets = alloc.bind(LOCAL).await.unwrap_or_else(|e| panic!("{e}"));
    let port = sockets.port;
    let peer = UdpSocket::bind((LOCAL, 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let peer_addr = peer.local_addr().unwrap_or_else(|e| panic!("{e}"));

    let (gsm_tx, from_gsm) = mpsc::channel(8);
    let (to_gsm, mut gsm_rx) = mpsc::channel(64);
    let cfg = BridgeConfig {
        codec: Codec::Pcmu,
        payload_type: 0,
        jitter: JitterMode::Fixed { delay_ms: 40 },
        rtp_timeout: Some(Duration::from_millis(400)),
        ..BridgeConfig::default()
    };
    let mut session = MediaSession::start(
        cfg,
        sockets,
        peer_addr,
        AudioChannel { from_gsm, to_gsm },
        "t@cellgate".into(),
    );

    // The peer sends 0.5 s of a loud 1 kHz tone.
    let tone: Vec<i16> = (0..4_000)
        .map(|i| (8_000.0 * (std::f64::consts::TAU * i as f64 / 8.0).sin()) as i16)
        .collect();
    let mut enc = Codec::Pcmu.encoder();
    for (i, chunk) in tone.chunks(160).enumerate() {
        let mut payload = Vec::new();
        enc.encode_into(chunk, &mut payload);
        let mut pkt = Vec::new();
        let h = RtpHeader {
            payload_type: 0,
            marker: i == 0,
            sequence: i as u16,
            timestamp: i as u32 * 160,
            ssrc: 77,
        };
        rtp::write(&mut pkt, &h, &payload);
        let _ = peer.send_to(&pkt, (LOCAL, port)).await;
        // The module speaks too.
        let _ = gsm_tx.send([3_000i16; 160]).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Frames with the tone reached the module side.
    let mut loud = 0;
    while let Ok(f) = gsm_rx.try_recv() {
        if f.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0) > 7_000 {
            loud += 1;
        }
    }
    assert!(loud >= 15, "tone frames at the module: {loud}");
    // Our RTP reached the peer.
    let mut buf = [0u8; 1_500];
    let got = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf)).await;
    let (n, _) = got
        .unwrap_or_else(|_| panic!("no RTP"))
        .unwrap_or_else(|e| panic!("{e}"));
    let (h, payload) = rtp::parse(&buf[..n]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((h.payload_type, payload.len()), (0, 160));

    // Then silence from the peer: the timeout fires.
    let ev = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match session.events.recv().await {
                Some(BridgeEvent::RtpTimeout { .. }) => return true,
                Some(_) => continue,
                None => return false,
            }
        }
    })
    .await;
    assert_eq!(ev, Ok(true));
    session.stop().await;
}

#[tokio::test]
async fn held_session_sends_no_rtp_until_resumed() {
    let alloc = PortAllocator::new(41_200..=41_299);
    let sockets = alloc.bind(LOCAL).await.unwrap_or_else(|e| panic!("{e}"));
    let peer = UdpSocket::bind((LOCAL, 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let peer_addr = peer.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (gsm_tx, from_gsm) = mpsc::channel(64);
    let (to_gsm, _gsm_rx) = mpsc::channel(64);
    let cfg = BridgeConfig {
        codec: Codec::Pcmu,
        payload_type: 0,
        ..BridgeConfig::default()
    };
    let session = MediaSession::start(
        cfg,
        sockets,
        peer_addr,
        AudioChannel { from_gsm, to_gsm },
        "hold@cellgate".into(),
    );
    let mut buf = [0u8; 1_500];
    let speak = |n: usize| {
        let gsm_tx = gsm_tx.clone();
        async move {
            for _ in 0..n {
                let _ = gsm_tx.send([3_000i16; 160]).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // Sending: the module's speech reaches the peer.
    speak(5).await;
    let got = tokio::time::timeout(Duration::from_millis(500), peer.recv_from(&mut buf)).await;
    assert!(got.is_ok(), "RTP before hold");
    while tokio::time::timeout(Duration::from_millis(50), peer.recv_from(&mut buf))
        .await
        .is_ok()
    {}
    // Held: nothing goes out while the module keeps speaking.
    let _ = session
        .commands
        .send(cellgate_media::session::MediaCommand::SetSending(false))
        .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    while tokio::time::timeout(Duration::from_millis(20), peer.recv_from(&mut buf))
        .await
        .is_ok()
    {}
    speak(10).await;
    let mut rtp_while_held = 0;
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(50), peer.recv_from(&mut buf)).await
    {
        if rtp::parse(&buf[..n]).is_ok() {
            rtp_while_held += 1;
        }
    }
    assert_eq!(rtp_while_held, 0, "RTP sent while held");
    // Resumed: speech flows again.
    let _ = session
        .commands
        .send(cellgate_media::session::MediaCommand::SetSending(true))
        .await;
    speak(5).await;
    let got = tokio::time::timeout(Duration::from_millis(500), peer.recv_from(&mut buf)).await;
    assert!(got.is_ok(), "RTP after resume");
    session.stop().await;
}
