//! SIP over TCP (RFC 3261 §18.3): stream framing by Content-Length, and the gateway
//! answering on the connection a request came in on (connection reuse).

use std::net::SocketAddr;
use std::time::Duration;

use cellgate_engine::runtime::run_gateway;
use cellgate_engine::transport::{FramingError, SipTransport, StreamFramer, MAX_STREAM_HEAD};
use cellgate_engine::{GatewayConfig, InboundTrust};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn options(branch: &str) -> String {
    format!(
        "OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK{branch}\r\n\
From: <sip:t@127.0.0.1>;tag=f\r\nTo: <sip:gw@127.0.0.1>\r\nCall-ID: {branch}\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn framer_cuts_by_content_length_across_and_within_reads() {
    let body = "v=0\r\n";
    let msg = format!(
        "MESSAGE sip:a@b SIP/2.0\r\nl: {}\r\nCall-ID: x\r\n\r\n{body}",
        body.len()
    );
    let mut f = StreamFramer::default();
    // Keep-alive CRLFs, then a message split in the middle of its body.
    f.push(b"\r\n\r\n");
    f.push(&msg.as_bytes()[..msg.len() - 2]);
    assert_eq!(f.next_message(), Ok(None));
    f.push(&msg.as_bytes()[msg.len() - 2..]);
    // Two more in one read.
    f.push(format!("{msg}{msg}").as_bytes());
    for _ in 0..3 {
        assert_eq!(f.next_message().unwrap().unwrap(), msg.as_bytes());
    }
    assert_eq!(f.next_message(), Ok(None));
}

#[test]
fn framer_refuses_streams_it_cannot_frame() {
    let mut f = StreamFramer::default();
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n");
    assert_eq!(f.next_message(), Err(FramingError::NoContentLength));
    let mut f = StreamFramer::default();
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n");
    assert!(matches!(
        f.next_message(),
        Err(FramingError::BodyTooLarge(_))
    ));
    let mut f = StreamFramer::default();
    f.push(&vec![b'A'; MAX_STREAM_HEAD + 1]);
    assert_eq!(f.next_message(), Err(FramingError::HeadTooLong));
    let mut f = StreamFramer::default();
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: nonsense\r\n\r\n");
    assert_eq!(f.next_message(), Err(FramingError::NoContentLength));
}

async fn read_responses(stream: &mut TcpStream, count: usize) -> Vec<String> {
    let mut framer = StreamFramer::default();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < count {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("response in time")
            .expect("read");
        assert!(n > 0, "connection closed");
        framer.push(&buf[..n]);
        while let Some(m) = framer.next_message().unwrap() {
            out.push(String::from_utf8_lossy(&m).into_owned());
        }
    }
    out
}

#[tokio::test]
async fn gateway_answers_tcp_requests_on_the_same_connection() {
    let transport = SipTransport::bind_udp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_tcp()
        .await
        .unwrap();
    let local: SocketAddr = transport.local_addr().unwrap();
    let mut config = GatewayConfig::new(local);
    config.trust = InboundTrust::LoopbackOnly;
    config.seed = Some(5);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gw = tokio::spawn(run_gateway(config, transport, Vec::new(), async {
        let _ = stopped.await;
    }));

    let mut stream = TcpStream::connect(local).await.unwrap();
    let first = options("one");
    stream.write_all(&first.as_bytes()[..30]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(&first.as_bytes()[30..]).await.unwrap();
    stream
        .write_all(format!("\r\n\r\n{}", options("two")).as_bytes())
        .await
        .unwrap();
    let responses = read_responses(&mut stream, 2).await;
    assert!(responses[0].starts_with("SIP/2.0 200"), "{}", responses[0]);
    assert!(responses[0].contains("branch=z9hG4bKone"));
    assert!(responses[1].contains("branch=z9hG4bKtwo"));

    // An INVITE over TCP with no line: the no-line status, on this connection too.
    let invite = "INVITE sip:5551234@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKinv\r\n\
From: <sip:t@127.0.0.1>;tag=f\r\nTo: <sip:5551234@127.0.0.1>\r\nCall-ID: inv\r\nCSeq: 1 INVITE\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    stream.write_all(invite.as_bytes()).await.unwrap();
    let responses = read_responses(&mut stream, 1).await;
    assert!(responses[0].starts_with("SIP/2.0 503"), "{}", responses[0]);

    // Garbage that cannot be framed closes the connection, the gateway keeps serving.
    stream
        .write_all(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: y\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "connection closed");
    let mut again = TcpStream::connect(local).await.unwrap();
    again.write_all(options("three").as_bytes()).await.unwrap();
    let responses = read_responses(&mut again, 1).await;
    assert!(responses[0].contains("branch=z9hG4bKthree"));

    let _ = stop.send(());
    gw.await.unwrap().unwrap();
}
