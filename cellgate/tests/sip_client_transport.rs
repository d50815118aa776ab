//! The gateway's own connections (issue #5): it registers over TCP and over TLS with a
//! tiny in-test registrar (401, then 200, on one connection; the registrar's OPTIONS
//! comes back on it too), and forwards a GSM call over TLS (`sips:` target) to an
//! in-test UAS that answers; ACK and BYE use the same connection.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cellgate::sandbox::{sandbox_gateway_config, simulated_lines};
use cellgate_engine::connections::SipTransportKind;
use cellgate_engine::gateway::ForwardTarget;
use cellgate_engine::runtime::run_gateway;
use cellgate_engine::sip::register::{AccountConfig, RegistrationConfig, ServerConfig};
use cellgate_engine::transport::{SipTransport, StreamFramer};
use cellgate_hal::LineId;
use cellgate_simulator::{CallState, Network, NetworkConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// One side of a stream connection that reads whole SIP messages.
struct Peer<S> {
    stream: S,
    framer: StreamFramer,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Peer<S> {
    fn new(stream: S) -> Self {
        Self {
            stream,
            framer: StreamFramer::default(),
        }
    }

    async fn next(&mut self) -> String {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(m) = self.framer.next_message().expect("framing") {
                return String::from_utf8_lossy(&m).into_owned();
            }
            let n = tokio::time::timeout(Duration::from_secs(20), self.stream.read(&mut buf))
                .await
                .expect("a message in time")
                .expect("read");
            assert!(n > 0, "connection closed");
            self.framer.push(&buf[..n]);
        }
    }

    /// The next request (responses to our own requests are skipped).
    async fn next_request(&mut self) -> String {
        loop {
            let m = self.next().await;
            if !m.starts_with("SIP/2.0") {
                return m;
            }
        }
    }

    async fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).await.expect("write");
    }
}

fn header<'a>(message: &'a str, name: &str) -> Vec<&'a str> {
    message
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

/// A response to `request` with `extra` headers and `body`.
fn reply(request: &str, status: &str, extra: &str, body: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        for v in header(request, name) {
            out.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    let to = header(request, "To").first().copied().unwrap_or_default();
    if to.contains(";tag=") {
        out.push_str(&format!("To: {to}\r\n"));
    } else {
        out.push_str(&format!("To: {to};tag=peer1\r\n"));
    }
    out.push_str(extra);
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out
}

fn self_signed() -> (
    CertificateDer<'static>,
    Arc<tokio_rustls::rustls::ServerConfig>,
) {
    let certified = rcgen::generate_simple_self_signed(vec!["sip.example.test".to_owned()])
        .expect("self-signed certificate");
    let der = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let server =
        cellgate_engine::tls::server_config_from_der(vec![der.clone()], key).expect("TLS server");
    (der, server)
}

fn registration(registrar: SocketAddr, kind: SipTransportKind) -> RegistrationConfig {
    let mut server = ServerConfig::new(registrar);
    server.transport = kind;
    let account = AccountConfig {
        auth_id: "gw1".into(),
        password: "secret".into(),
        phone_number: None,
        display_name: None,
    };
    let mut reg = RegistrationConfig::new("single", account, server);
    reg.expires = 120;
    reg
}

/// The registrar's side of one registration: 401, then 200; then it asks the gateway
/// OPTIONS over the same connection.
async fn serve_registration<S: AsyncRead + AsyncWrite + Unpin>(
    peer: &mut Peer<S>,
    token: &str,
    transport: &str,
) {
    let first = peer.next_request().await;
    assert!(first.starts_with("REGISTER "), "{first}");
    let via = header(&first, "Via")[0];
    assert!(via.starts_with(&format!("SIP/2.0/{token} ")), "{first}");
    assert!(via.contains(";alias"), "{first}");
    assert!(
        header(&first, "Contact")[0].contains(&format!(";transport={transport}")),
        "{first}"
    );
    peer.send(&reply(
        &first,
        "401 Unauthorized",
        "WWW-Authenticate: Digest realm=\"test\", nonce=\"n0nce\", algorithm=MD5\r\n",
        "",
    ))
    .await;
    let second = peer.next_request().await;
    assert!(second.starts_with("REGISTER "), "{second}");
    assert!(
        header(&second, "Authorization")[0].contains("username=\"gw1\""),
        "{second}"
    );
    let contact = header(&second, "Contact")[0].to_owned();
    peer.send(&reply(
        &second,
        "200 OK",
        &format!("Contact: {contact};expires=120\r\n"),
        "",
    ))
    .await;
    peer.send(&format!(
        "OPTIONS sip:gw1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{token} 127.0.0.1:9;branch=z9hG4bKopt1\r\n\
From: <sip:reg@127.0.0.1>;tag=r\r\nTo: <sip:gw1@127.0.0.1>\r\nCall-ID: opt1\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ))
    .await;
    let ok = peer.next().await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(ok.contains("z9hG4bKopt1"), "{ok}");
}

async fn gateway_with(
    transport: SipTransport,
    configure: impl FnOnce(&mut cellgate_engine::GatewayConfig),
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let local = transport.local_addr().expect("local address");
    let mut config = sandbox_gateway_config(local, 5);
    configure(&mut config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_gateway(config, transport, Vec::new(), async {
        let _ = stopped.await;
    }));
    (stop, task)
}

async fn udp() -> SipTransport {
    SipTransport::bind_udp("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind UDP")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_over_tcp_on_one_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let registrar = listener.local_addr().expect("address");
    let (stop, task) = gateway_with(udp().await, |c| {
        c.registrations
            .push(registration(registrar, SipTransportKind::Tcp))
    })
    .await;
    let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the gateway connects")
        .expect("accept");
    let mut peer = Peer::new(stream);
    serve_registration(&mut peer, "TCP", "tcp").await;
    let _ = stop.send(());
    task.await.expect("gateway task").expect("gateway");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_over_tls_checking_the_server_certificate() {
    let (der, server) = self_signed();
    let acceptor = TlsAcceptor::from(server);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let registrar = listener.local_addr().expect("address");
    let mut transport = udp().await;
    transport.set_tls_client(
        cellgate_engine::tls::client_config_from_der(vec![der]).expect("TLS client"),
    );
    transport.set_tls_server_name(registrar, "sip.example.test");
    let (stop, task) = gateway_with(transport, |c| {
        c.registrations
            .push(registration(registrar, SipTransportKind::Tls))
    })
    .await;
    let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the gateway connects")
        .expect("accept");
    let stream = acceptor.accept(stream).await.expect("TLS handshake");
    let mut peer = Peer::new(stream);
    serve_registration(&mut peer, "TLS", "tls").await;
    let _ = stop.send(());
    task.await.expect("gateway task").expect("gateway");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_registration_with_an_untrusted_certificate_sends_nothing() {
    let (_, server) = self_signed();
    let (other, _) = self_signed();
    let acceptor = TlsAcceptor::from(server);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let registrar = listener.local_addr().expect("address");
    let mut transport = udp().await;
    transport.set_tls_client(
        cellgate_engine::tls::client_config_from_der(vec![other]).expect("TLS client"),
    );
    transport.set_tls_server_name(registrar, "sip.example.test");
    let (stop, task) = gateway_with(transport, |c| {
        c.registrations
            .push(registration(registrar, SipTransportKind::Tls))
    })
    .await;
    let (stream, _) = listener.accept().await.expect("accept");
    // The gateway refuses our certificate: the handshake fails, no REGISTER is read.
    assert!(acceptor.accept(stream).await.is_err());
    let _ = stop.send(());
    task.await.expect("gateway task").expect("gateway");
}

const ANSWER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

async fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < end {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gsm_call_is_forwarded_over_tls_to_a_sips_target() {
    let (der, server) = self_signed();
    let acceptor = TlsAcceptor::from(server);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let uas = listener.local_addr().expect("address");

    let network = Network::new(NetworkConfig::default());
    let modems = simulated_lines(&network, 1).await.expect("simulated line");
    let mut transport = udp().await;
    transport.set_tls_client(
        cellgate_engine::tls::client_config_from_der(vec![der]).expect("TLS client"),
    );
    transport.set_tls_server_name(uas, "sip.example.test");
    let local = transport.local_addr().expect("local address");
    let mut config = sandbox_gateway_config(local, 9);
    config.forward.insert(
        LineId(1),
        ForwardTarget {
            uri: format!("sips:101@{uas}"),
            next_hop: uas,
            local_user: "gw".into(),
            credentials: None,
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway = tokio::spawn(run_gateway(config, transport, modems, async {
        let _ = stopped.await;
    }));

    network
        .phone_calls_line("5550100", 1)
        .expect("the phone calls line 1");
    let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the gateway connects")
        .expect("accept");
    let mut peer = Peer::new(acceptor.accept(stream).await.expect("TLS handshake"));
    let invite = peer.next_request().await;
    assert!(invite.starts_with("INVITE sips:101@"), "{invite}");
    assert!(
        header(&invite, "Via")[0].starts_with("SIP/2.0/TLS "),
        "{invite}"
    );
    peer.send(&reply(&invite, "180 Ringing", "", "")).await;
    peer.send(&reply(
        &invite,
        "200 OK",
        &format!("Contact: <sip:101@{uas};transport=tls>\r\nContent-Type: application/sdp\r\n"),
        ANSWER,
    ))
    .await;
    let ack = peer.next_request().await;
    assert!(ack.starts_with("ACK "), "{ack}");
    let answered = wait_for(Duration::from_secs(20), || {
        network
            .calls()
            .iter()
            .any(|c| c.line == 1 && c.state == CallState::Active)
    })
    .await;
    assert!(answered, "{}", network.event_log().join("\n"));
    network.phone_hangs_up("5550100").expect("hang up");
    let bye = peer.next_request().await;
    assert!(bye.starts_with("BYE "), "{bye}");
    assert!(header(&bye, "Via")[0].starts_with("SIP/2.0/TLS "), "{bye}");
    peer.send(&reply(&bye, "200 OK", "", "")).await;

    let _ = stop.send(());
    gateway.await.expect("gateway task").expect("gateway");
}
