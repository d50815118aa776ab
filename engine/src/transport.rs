//! Datagram transports for SIP: a UDP socket (with TCP and TLS listeners beside it when
//! asked), or an in-memory pipe so tests and the simulation run the very same shell on a
//! virtual clock without touching the network.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::connections::SipTransportKind;
use crate::sip::message::MAX_DATAGRAM;
use crate::tls::{ClientConfig, ServerConfig, TlsAcceptor, TlsConnector, HANDSHAKE_TIMEOUT};

/// A datagram with its peer address (source when received, destination when sent).
pub type Datagram = (SocketAddr, Bytes);

/// The gateway's side of an in-memory transport.
#[derive(Debug)]
pub struct MemoryTransport {
    local: SocketAddr,
    inbox: mpsc::UnboundedReceiver<Datagram>,
    outbox: mpsc::UnboundedSender<Datagram>,
}

/// The test's side of an in-memory transport: it plays every SIP peer.
#[derive(Debug)]
pub struct MemoryPeer {
    /// Send `(source, bytes)` to the gateway.
    pub to_gateway: mpsc::UnboundedSender<Datagram>,
    /// Receive `(destination, bytes)` the gateway sent.
    pub from_gateway: mpsc::UnboundedReceiver<Datagram>,
}

/// Creates a connected in-memory transport whose gateway side claims `local`.
pub fn memory_pair(local: SocketAddr) -> (MemoryTransport, MemoryPeer) {
    let (to_gateway, inbox) = mpsc::unbounded_channel();
    let (outbox, from_gateway) = mpsc::unbounded_channel();
    (
        MemoryTransport {
            local,
            inbox,
            outbox,
        },
        MemoryPeer {
            to_gateway,
            from_gateway,
        },
    )
}

/// Where SIP datagrams come from and go to.
#[derive(Debug)]
pub enum SipTransport {
    /// A bound UDP socket.
    Udp(UdpSocket),
    /// An in-memory pipe.
    Memory(MemoryTransport),
    /// UDP plus stream listeners: TCP on the same port (RFC 3261 §18) and/or TLS.
    UdpTcp(UdpTcp),
}

fn udp_dscp(socket: &UdpSocket) -> io::Result<u8> {
    let sock = socket2::SockRef::from(socket);
    let tos = match socket.local_addr()? {
        SocketAddr::V4(_) => sock.tos_v4()?,
        SocketAddr::V6(_) => sock.tclass_v6()?,
    };
    Ok((tos >> 2) as u8)
}

/// Largest message head accepted on a stream before the connection is dropped.
pub const MAX_STREAM_HEAD: usize = 16 * 1024;

/// Why a stream connection is dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// No end of the head within [`MAX_STREAM_HEAD`] bytes.
    #[error("message head longer than {MAX_STREAM_HEAD} bytes")]
    HeadTooLong,
    /// A message on a stream needs Content-Length (RFC 3261 §18.3).
    #[error("message without a valid Content-Length on a stream")]
    NoContentLength,
    /// The body would exceed the size a datagram may have.
    #[error("body of {0} bytes is too large")]
    BodyTooLarge(usize),
}

/// Cuts a SIP byte stream (TCP or TLS) into messages by their Content-Length
/// (RFC 3261 §18.3); CRLF keep-alives between messages (RFC 5626) are skipped.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
}

impl StreamFramer {
    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, `Ok(None)` while more bytes are needed, or an error
    /// after which the connection must be closed.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, FramingError> {
        let start = self
            .buf
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(self.buf.len());
        self.buf.drain(..start);
        let Some(head_end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.buf.len() > MAX_STREAM_HEAD {
                return Err(FramingError::HeadTooLong);
            }
            return Ok(None);
        };
        if head_end > MAX_STREAM_HEAD {
            return Err(FramingError::HeadTooLong);
        }
        let head = String::from_utf8_lossy(&self.buf[..head_end]);
        let length = head
            .split("\r\n")
            .skip(1)
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                let name = name.trim();
                (name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l"))
                    .then(|| value.trim().parse::<usize>().ok())
            })
            .flatten()
            .ok_or(FramingError::NoContentLength)?;
        if length > MAX_DATAGRAM {
            return Err(FramingError::BodyTooLarge(length));
        }
        let total = head_end + 4 + length;
        if self.buf.len() < total {
            return Ok(None);
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        Ok(Some(Bytes::from(message)))
    }
}

/// Most simultaneous stream connections accepted.
pub const MAX_STREAM_CONNECTIONS: usize = 256;

type Writers = Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>>>;

/// UDP plus stream listeners (TCP on the UDP port, TLS on its own address). Messages
/// from a stream connection are handed on with the connection's peer address as their
/// source; anything sent to that address goes back on the same connection (connection
/// reuse, RFC 3261 §18.2.2); other destinations get UDP.
#[derive(Debug)]
pub struct UdpTcp {
    udp: UdpSocket,
    inbound: mpsc::UnboundedReceiver<Datagram>,
    inbound_tx: mpsc::UnboundedSender<Datagram>,
    writers: Writers,
    acceptors: Vec<tokio::task::JoinHandle<()>>,
    tls_addr: Option<SocketAddr>,
    tls_client: Option<Arc<ClientConfig>>,
    tls_names: HashMap<SocketAddr, String>,
}

impl Drop for UdpTcp {
    fn drop(&mut self) {
        for acceptor in &self.acceptors {
            acceptor.abort();
        }
    }
}

impl UdpTcp {
    /// Serves stream connections of `listener` beside `udp`.
    pub fn new(udp: UdpSocket, listener: TcpListener) -> Self {
        let mut transport = Self::udp_only(udp);
        transport.listen(listener, None);
        transport
    }

    fn udp_only(udp: UdpSocket) -> Self {
        let (inbound_tx, inbound) = mpsc::unbounded_channel();
        Self {
            udp,
            inbound,
            inbound_tx,
            writers: Arc::default(),
            acceptors: Vec::new(),
            tls_addr: None,
            tls_client: None,
            tls_names: HashMap::new(),
        }
    }

    fn listen(&mut self, listener: TcpListener, tls: Option<TlsAcceptor>) {
        self.acceptors.push(tokio::spawn(accept_loop(
            listener,
            self.inbound_tx.clone(),
            self.writers.clone(),
            tls,
        )));
    }

    /// Serves TLS connections of `listener` with `config` (F-6.4.17).
    pub fn add_tls(&mut self, listener: TcpListener, config: Arc<ServerConfig>) -> io::Result<()> {
        self.tls_addr = Some(listener.local_addr()?);
        self.listen(listener, Some(TlsAcceptor::from(config)));
        Ok(())
    }

    /// The address of the TLS listener, if there is one.
    pub fn tls_local_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// Opens a connection of `kind` to `to` in the background and returns its writer;
    /// what is written meanwhile is sent once the connection (and TLS handshake) is up.
    /// A failed connection is logged and forgotten, so the next send tries again.
    fn connect(
        &self,
        kind: SipTransportKind,
        to: SocketAddr,
    ) -> io::Result<mpsc::UnboundedSender<Bytes>> {
        let tls = match kind {
            SipTransportKind::Tls => {
                let config = self.tls_client.clone().ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "TLS toward a peer but no TLS client settings (CA)",
                    )
                })?;
                let name = match self.tls_names.get(&to) {
                    Some(name) => ServerName::try_from(name.clone())
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
                    None => ServerName::IpAddress(to.ip().into()),
                };
                Some((TlsConnector::from(config), name))
            }
            _ => None,
        };
        let mut writers = lock(&self.writers);
        if writers.len() >= MAX_STREAM_CONNECTIONS {
            return Err(io::Error::other("too many SIP stream connections"));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        writers.insert(to, tx.clone());
        drop(writers);
        tokio::spawn(connect_stream(
            to,
            tls,
            self.inbound_tx.clone(),
            rx,
            self.writers.clone(),
        ));
        Ok(tx)
    }

    /// Peers with an open stream connection.
    pub fn connected_peers(&self) -> Vec<SocketAddr> {
        lock(&self.writers).keys().copied().collect()
    }
}

fn lock(
    writers: &Writers,
) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>> {
    writers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Accepts connections of `listener` (TLS ones when `tls` is set) and serves each in
/// its own task. TCP and TLS connections count against one limit.
async fn accept_loop(
    listener: TcpListener,
    inbound: mpsc::UnboundedSender<Datagram>,
    writers: Writers,
    tls: Option<TlsAcceptor>,
) {
    let kind = if tls.is_some() { "TLS" } else { "TCP" };
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "SIP {kind} accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        if lock(&writers).len() >= MAX_STREAM_CONNECTIONS {
            tracing::warn!(%peer, "too many SIP stream connections: {kind} refused");
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&writers).insert(peer, tx);
        match &tls {
            None => tokio::spawn(serve_stream(
                stream,
                peer,
                inbound.clone(),
                rx,
                writers.clone(),
            )),
            Some(acceptor) => tokio::spawn(serve_tls(
                acceptor.clone(),
                stream,
                peer,
                inbound.clone(),
                rx,
                writers.clone(),
            )),
        };
    }
}

/// Connects to `to` (TLS when `tls` is set) and serves the connection like an accepted
/// one; connect and handshake are bounded by [`HANDSHAKE_TIMEOUT`].
async fn connect_stream(
    to: SocketAddr,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    inbound: mpsc::UnboundedSender<Datagram>,
    outbound: mpsc::UnboundedReceiver<Bytes>,
    writers: Writers,
) {
    let stream =
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio::net::TcpStream::connect(to)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::warn!(%to, error = %e, "SIP connection failed");
                lock(&writers).remove(&to);
                return;
            }
            Err(_) => {
                tracing::warn!(%to, "SIP connection timed out");
                lock(&writers).remove(&to);
                return;
            }
        };
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve_stream(stream, to, inbound, outbound, writers).await,
        Some((connector, name)) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, stream)).await {
                Ok(Ok(tls)) => serve_stream(tls, to, inbound, outbound, writers).await,
                Ok(Err(e)) => {
                    tracing::warn!(%to, error = %e, "SIP TLS handshake (client) failed");
                    lock(&writers).remove(&to);
                }
                Err(_) => {
                    tracing::warn!(%to, "SIP TLS handshake (client) timed out");
                    lock(&writers).remove(&to);
                }
            }
        }
    }
}

/// Completes the TLS handshake (within [`HANDSHAKE_TIMEOUT`]), then serves the
/// connection like a TCP one. A failed handshake only closes this connection.
async fn serve_tls(
    acceptor: TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    inbound: mpsc::UnboundedSender<Datagram>,
    outbound: mpsc::UnboundedReceiver<Bytes>,
    writers: Writers,
) {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => serve_stream(tls, peer, inbound, outbound, writers).await,
        Ok(Err(e)) => {
            tracing::warn!(%peer, error = %e, "SIP TLS handshake failed");
            lock(&writers).remove(&peer);
        }
        Err(_) => {
            tracing::warn!(%peer, "SIP TLS handshake timed out");
            lock(&writers).remove(&peer);
        }
    }
}

/// Reads framed messages from one connection and writes what is sent to its peer.
async fn serve_stream<S>(
    stream: S,
    peer: SocketAddr,
    inbound: mpsc::UnboundedSender<Datagram>,
    mut outbound: mpsc::UnboundedReceiver<Bytes>,
    writers: Writers,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut reader, mut writer) = tokio::io::split(stream);
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = outbound.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    let mut framer = StreamFramer::default();
    let mut buf = vec![0u8; 8192];
    'read: loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_message() {
                Ok(Some(message)) => {
                    if inbound.send((peer, message)).is_err() {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing SIP stream connection");
                    break 'read;
                }
            }
        }
    }
    lock(&writers).remove(&peer);
    write_task.abort();
}

impl SipTransport {
    /// Binds a UDP socket.
    pub async fn bind_udp(addr: SocketAddr) -> io::Result<Self> {
        Ok(SipTransport::Udp(UdpSocket::bind(addr).await?))
    }

    /// Adds a TCP listener on the UDP socket's address (its port when port 0 was
    /// asked for). A UDP transport becomes [`SipTransport::UdpTcp`]; others are
    /// returned as they are.
    pub async fn with_tcp(self) -> io::Result<Self> {
        match self {
            SipTransport::Udp(udp) => {
                let listener = TcpListener::bind(udp.local_addr()?).await?;
                Ok(SipTransport::UdpTcp(UdpTcp::new(udp, listener)))
            }
            other => Ok(other),
        }
    }

    /// Adds a TLS listener on `listen` (port 0: a free port, see
    /// [`SipTransport::tls_local_addr`]) serving with `config` (F-6.4.17). A UDP
    /// transport becomes [`SipTransport::UdpTcp`]; the in-memory pipe is returned as it is.
    pub async fn with_tls(self, listen: SocketAddr, config: Arc<ServerConfig>) -> io::Result<Self> {
        let mut transport = match self {
            SipTransport::Udp(udp) => UdpTcp::udp_only(udp),
            SipTransport::UdpTcp(t) => t,
            memory @ SipTransport::Memory(_) => return Ok(memory),
        };
        transport.add_tls(TcpListener::bind(listen).await?, config)?;
        Ok(SipTransport::UdpTcp(transport))
    }

    /// The address of the TLS listener, if there is one.
    pub fn tls_local_addr(&self) -> Option<SocketAddr> {
        match self {
            SipTransport::UdpTcp(t) => t.tls_local_addr(),
            SipTransport::Udp(_) | SipTransport::Memory(_) => None,
        }
    }

    /// Binds a UDP socket whose datagrams carry the DSCP `dscp` (0-63) in the IP header
    /// (signalling QoS, F-6.4.16; e.g. 24 = CS3, 46 = EF). `None`: the system default.
    /// Port 0 binds a random free port (F-6.4.1 "random").
    pub fn bind_udp_with_dscp(addr: SocketAddr, dscp: Option<u8>) -> io::Result<Self> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        if let Some(dscp) = dscp {
            if dscp > 63 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("DSCP {dscp} is not 0-63"),
                ));
            }
            let tos = u32::from(dscp) << 2;
            match addr {
                SocketAddr::V4(_) => socket.set_tos_v4(tos)?,
                SocketAddr::V6(_) => socket.set_tclass_v6(tos)?,
            }
        }
        socket.bind(&addr.into())?;
        socket.set_nonblocking(true)?;
        let std_socket: std::net::UdpSocket = socket.into();
        Ok(SipTransport::Udp(UdpSocket::from_std(std_socket)?))
    }

    /// The DSCP of outgoing datagrams (UDP only; `None` for the in-memory pipe).
    pub fn dscp(&self) -> io::Result<Option<u8>> {
        match self {
            SipTransport::Udp(s) => udp_dscp(s).map(Some),
            SipTransport::UdpTcp(t) => udp_dscp(&t.udp).map(Some),
            SipTransport::Memory(_) => Ok(None),
        }
    }

    /// The address the transport listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            SipTransport::Udp(s) => s.local_addr(),
            SipTransport::UdpTcp(t) => t.udp.local_addr(),
            SipTransport::Memory(m) => Ok(m.local),
        }
    }

    /// Next datagram. An in-memory transport whose peer is gone reports `BrokenPipe`.
    pub async fn recv(&mut self, buf: &mut [u8]) -> io::Result<Datagram> {
        match self {
            SipTransport::Udp(socket) => {
                let (n, from) = socket.recv_from(buf).await?;
                Ok((from, Bytes::copy_from_slice(&buf[..n.min(MAX_DATAGRAM)])))
            }
            SipTransport::Memory(m) => m
                .inbox
                .recv()
                .await
                .ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe)),
            SipTransport::UdpTcp(t) => tokio::select! {
                received = t.udp.recv_from(buf) => {
                    let (n, from) = received?;
                    Ok((from, Bytes::copy_from_slice(&buf[..n.min(MAX_DATAGRAM)])))
                }
                Some(message) = t.inbound.recv() => Ok(message),
            },
        }
    }

    /// The UDP+stream transport, made from a plain UDP one if needed; `None` for the
    /// in-memory pipe.
    fn streams(&mut self) -> Option<&mut UdpTcp> {
        if matches!(self, SipTransport::Udp(_)) {
            let placeholder = SipTransport::Memory(memory_pair(([0, 0, 0, 0], 0).into()).0);
            if let SipTransport::Udp(udp) = std::mem::replace(self, placeholder) {
                *self = SipTransport::UdpTcp(UdpTcp::udp_only(udp));
            }
        }
        match self {
            SipTransport::UdpTcp(t) => Some(t),
            _ => None,
        }
    }

    /// Sets the client settings of the gateway's own TLS connections (issue #5).
    pub fn set_tls_client(&mut self, config: Arc<ClientConfig>) {
        if let Some(t) = self.streams() {
            t.tls_client = Some(config);
        }
    }

    /// The name a TLS peer at `to` must present (default: its IP address).
    pub fn set_tls_server_name(&mut self, to: SocketAddr, name: &str) {
        if let Some(t) = self.streams() {
            t.tls_names.insert(to, name.to_owned());
        }
    }

    /// Sends one message over `kind` (issue #5): UDP as [`send`](Self::send); TCP or
    /// TLS over the open connection to `to` (accepted or ours), else a new one (one per
    /// peer, kept open, reopened on demand). The in-memory pipe ignores `kind`.
    pub async fn send_on(
        &mut self,
        kind: SipTransportKind,
        to: SocketAddr,
        payload: &Bytes,
    ) -> io::Result<()> {
        if !kind.is_stream() {
            return self.send(to, payload).await;
        }
        let Some(t) = self.streams() else {
            return self.send(to, payload).await;
        };
        let writer = lock(&t.writers).get(&to).cloned();
        if let Some(w) = writer {
            if w.send(payload.clone()).is_ok() {
                return Ok(());
            }
        }
        t.connect(kind, to)?
            .send(payload.clone())
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    /// Sends one datagram.
    pub async fn send(&self, to: SocketAddr, payload: &Bytes) -> io::Result<()> {
        match self {
            SipTransport::Udp(socket) => socket.send_to(payload, to).await.map(|_| ()),
            SipTransport::UdpTcp(t) => {
                let writer = lock(&t.writers).get(&to).cloned();
                match writer {
                    Some(w) if w.send(payload.clone()).is_ok() => Ok(()),
                    _ => t.udp.send_to(payload, to).await.map(|_| ()),
                }
            }
            SipTransport::Memory(m) => m
                .outbox
                .send((to, payload.clone()))
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }
}
