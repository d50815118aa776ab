//! Transport settings on real loopback sockets: STUN discovery of the public address
//! (F-6.4.10) against an in-test responder, DSCP marking of signalling (F-6.4.16), and a
//! random local port (F-6.4.1).

use std::net::SocketAddr;
use std::time::Duration;

use cellgate_engine::runtime::stun_discover;
use cellgate_engine::stun::{binding_success, is_stun, transaction_id};
use cellgate_engine::transport::SipTransport;
use tokio::net::UdpSocket;

fn lo(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
async fn stun_discovery_learns_the_mapped_address_from_a_responder() {
    let server = UdpSocket::bind(lo(0)).await.unwrap();
    let server_addr = server.local_addr().unwrap();
    let mapped: SocketAddr = "203.0.113.5:40123".parse().unwrap();
    let responder = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        // Drop the first request: the client must retransmit.
        let (n, _) = server.recv_from(&mut buf).await.unwrap();
        assert!(is_stun(&buf[..n]));
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        let tid = transaction_id(&buf[..n]).unwrap();
        // A stray SIP datagram first, then the answer.
        server
            .send_to(b"OPTIONS sip:x SIP/2.0\r\n\r\n", from)
            .await
            .unwrap();
        server
            .send_to(&binding_success(tid, mapped), from)
            .await
            .unwrap();
    });
    let mut transport = SipTransport::bind_udp(lo(0)).await.unwrap();
    let found = tokio::time::timeout(
        Duration::from_secs(10),
        stun_discover(
            &mut transport,
            server_addr,
            [7; 12],
            Duration::from_millis(100),
        ),
    )
    .await
    .expect("bounded")
    .expect("mapped address");
    assert_eq!(found, mapped);
    responder.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn stun_discovery_gives_up_when_nobody_answers() {
    let silent = UdpSocket::bind(lo(0)).await.unwrap();
    let mut transport = SipTransport::bind_udp(lo(0)).await.unwrap();
    let started = tokio::time::Instant::now();
    let err = stun_discover(
        &mut transport,
        silent.local_addr().unwrap(),
        [1; 12],
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(started.elapsed(), Duration::from_millis(39_500));
}

#[tokio::test]
async fn dscp_marking_is_set_on_the_sip_socket() {
    let t = SipTransport::bind_udp_with_dscp(lo(0), Some(46)).unwrap();
    assert_eq!(t.dscp().unwrap(), Some(46), "EF");
    let plain = SipTransport::bind_udp_with_dscp(lo(0), None).unwrap();
    assert_eq!(plain.dscp().unwrap(), Some(0));
    assert!(SipTransport::bind_udp_with_dscp(lo(0), Some(64)).is_err());
}

#[tokio::test]
async fn random_local_port_binds_a_free_port_and_fixed_keeps_its_port() {
    let random = SipTransport::bind_udp_with_dscp(lo(0), None).unwrap();
    let port = random.local_addr().unwrap().port();
    assert_ne!(port, 0);
    drop(random);
    let fixed = SipTransport::bind_udp_with_dscp(lo(port), Some(24)).unwrap();
    assert_eq!(fixed.local_addr().unwrap(), lo(port));
    // Datagrams still flow on a marked socket.
    let peer = UdpSocket::bind(lo(0)).await.unwrap();
    fixed
        .send(
            peer.local_addr().unwrap(),
            &bytes::Bytes::from_static(b"\r\n\r\n"),
        )
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = peer.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"\r\n\r\n"[..], lo(port)));
}
