//! SIP over TLS (F-6.4.17): the gateway's TLS listener, in process against the
//! simulated network. A rustls client with a self-signed certificate (made here with
//! rcgen) places a call (`100`/`180`/`200`, ACK, BYE); a garbage handshake closes only
//! its own connection; bad certificate or key files stop start-up naming the key.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cellgate::config::Config;
use cellgate::sandbox::{Sandbox, SandboxOptions};
use cellgate_engine::transport::{SipTransport, StreamFramer};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A self-signed certificate for `localhost`, written as PEM files into `dir`.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("self-signed certificate");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");
    (cert, key, certified.cert.der().clone())
}

fn connector(trusted: CertificateDer<'static>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(trusted).expect("root certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn connect(connector: &TlsConnector, addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("handshake")
}

/// Reads SIP messages until one starts with `status` (earlier ones are returned too).
async fn read_until(
    stream: &mut TlsStream<TcpStream>,
    framer: &mut StreamFramer,
    status: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(m) = framer.next_message().expect("framing") {
            let text = String::from_utf8_lossy(&m).into_owned();
            let done = text.starts_with(status);
            seen.push(text);
            if done {
                return seen;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {status} in time; got {seen:#?}"))
            .expect("read");
        assert!(n > 0, "connection closed; got {seen:#?}");
        framer.push(&buf[..n]);
    }
}

async fn send(stream: &mut (impl AsyncWrite + Unpin), text: &str) {
    stream.write_all(text.as_bytes()).await.expect("write");
}

fn request(method: &str, cseq: u32, branch: &str, local: SocketAddr, to_tag: &str) -> String {
    format!(
        "{method} sip:5551234@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TLS {local};branch=z9hG4bK{branch}\r\n\
From: <sip:alice@127.0.0.1>;tag=tls1\r\nTo: <sip:5551234@127.0.0.1>{to_tag}\r\n\
Call-ID: tls-call-1\r\nCSeq: {cseq} {method}\r\nContact: <sip:alice@{local};transport=tls>\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

fn options(branch: &str) -> String {
    format!(
        "OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bK{branch}\r\n\
From: <sip:t@127.0.0.1>;tag=f\r\nTo: <sip:gw@127.0.0.1>\r\nCall-ID: {branch}\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The `;tag=...` of the To header of a response.
fn to_tag(response: &str) -> String {
    response
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("to:"))
        .and_then(|l| l.split_once(";tag="))
        .map(|(_, tag)| format!(";tag={}", tag.trim()))
        .expect("To tag in the response")
}

/// The gateway on one simulated line with a TLS listener; returns its TLS address.
async fn start_gateway(
    cert: &Path,
    key: &Path,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let server = cellgate_engine::tls::server_config(cert, key).expect("TLS settings");
    let transport = SipTransport::bind_udp("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind UDP")
        .with_tls("127.0.0.1:0".parse().expect("address"), server)
        .await
        .expect("TLS listener");
    let local = transport.local_addr().expect("local address");
    let tls = transport.tls_local_addr().expect("TLS address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        let sandbox = Sandbox::start(&SandboxOptions { lines: 1, seed: 17 })
            .await
            .expect("sandbox");
        sandbox
            .serve(transport, local, 17, async {
                let _ = stopped.await;
            })
            .await
            .expect("gateway");
    });
    (tls, stop, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_over_tls_is_answered_on_the_connection() {
    let dir = common::scratch_dir("sip-tls-call");
    let (cert, key, der) = self_signed(&dir);
    let (addr, stop, served) = start_gateway(&cert, &key).await;
    let connector = connector(der);

    let mut stream = connect(&connector, addr).await;
    let local = stream.get_ref().0.local_addr().expect("client address");
    let mut framer = StreamFramer::default();
    send(&mut stream, &request("INVITE", 1, "inv1", local, "")).await;
    let responses = read_until(&mut stream, &mut framer, "SIP/2.0 200").await;
    let codes: Vec<&str> = responses.iter().map(|r| &r[8..11]).collect();
    assert_eq!(codes.first(), Some(&"100"), "{responses:#?}");
    assert!(codes.contains(&"180"), "{responses:#?}");
    assert_eq!(codes.last(), Some(&"200"), "{responses:#?}");
    let ok = responses.last().expect("200");
    assert!(ok.contains("branch=z9hG4bKinv1"), "{ok}");
    assert!(ok.contains("application/sdp"), "{ok}");
    let tag = to_tag(ok);

    send(&mut stream, &request("ACK", 1, "ack1", local, &tag)).await;
    send(&mut stream, &request("BYE", 2, "bye1", local, &tag)).await;
    let responses = read_until(&mut stream, &mut framer, "SIP/2.0 200").await;
    let bye_ok = responses.last().expect("200");
    assert!(bye_ok.contains("CSeq: 2 BYE"), "{responses:#?}");

    let _ = stop.send(());
    served.await.expect("gateway task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_handshakes_do_not_stop_the_listener() {
    let dir = common::scratch_dir("sip-tls-garbage");
    let (cert, key, der) = self_signed(&dir);
    let (addr, stop, served) = start_gateway(&cert, &key).await;

    // Plain-text SIP on the TLS port: not a ClientHello, the connection is closed.
    let mut plain = TcpStream::connect(addr).await.expect("connect");
    send(&mut plain, &options("plain")).await;
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match plain.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {} // a TLS alert
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "garbage connection closed");
    // A truncated ClientHello, and a connection dropped mid-handshake.
    let mut partial = TcpStream::connect(addr).await.expect("connect");
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .await
        .expect("write");
    drop(partial);
    drop(TcpStream::connect(addr).await.expect("connect"));

    // The next client is served.
    let mut stream = connect(&connector(der), addr).await;
    let mut framer = StreamFramer::default();
    send(&mut stream, &options("after")).await;
    let responses = read_until(&mut stream, &mut framer, "SIP/2.0 200").await;
    assert!(
        responses[0].contains("branch=z9hG4bKafter"),
        "{responses:#?}"
    );

    let _ = stop.send(());
    served.await.expect("gateway task");
}

fn config_with_tls(dir: &Path, cert: &Path, key: &Path) -> PathBuf {
    let file = dir.join("cellgate.toml");
    let text = format!(
        "[sip]\nlisten = \"127.0.0.1:0\"\ntls = {{ listen = \"127.0.0.1:0\", cert = {:?}, key = {:?} }}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    std::fs::write(&file, text).expect("write config");
    file
}

#[tokio::test]
async fn tls_settings_are_loaded_and_bad_files_are_named() {
    let dir = common::scratch_dir("sip-tls-config");
    let (cert, key, _) = self_signed(&dir);

    let mut config = Config::load(&config_with_tls(&dir, &cert, &key)).expect("valid config");
    let (transport, _) = cellgate::hardware::bind_sip(&mut config)
        .await
        .expect("bind with TLS");
    assert!(transport.tls_local_addr().is_some_and(|a| a.port() != 0));

    let missing = dir.join("missing.pem");
    let err = Config::load(&config_with_tls(&dir, &missing, &key))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sip.tls.cert"), "{err}");
    assert!(err.contains("missing.pem"), "{err}");

    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a key\n").expect("write");
    let err = Config::load(&config_with_tls(&dir, &cert, &junk))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sip.tls.key"), "{err}");
    assert!(err.contains("junk.pem"), "{err}");

    // A certificate and a key that do not belong together.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).expect("dir");
    let (_, other_key, _) = self_signed(&other);
    let err = Config::load(&config_with_tls(&dir, &cert, &other_key))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sip.tls.cert") && err.contains("sip.tls.key"),
        "{err}"
    );
}
