//! Datagram transports for SIP: a UDP socket, or an in-memory pipe so tests and the
//! simulation run the very same shell on a virtual clock without touching the network.

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::sip::message::MAX_DATAGRAM;

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
}

impl SipTransport {
    /// Binds a UDP socket.
    pub async fn bind_udp(addr: SocketAddr) -> io::Result<Self> {
        Ok(SipTransport::Udp(UdpSocket::bind(addr).await?))
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
            SipTransport::Udp(s) => {
                let sock = socket2::SockRef::from(s);
                let tos = match s.local_addr()? {
                    SocketAddr::V4(_) => sock.tos_v4()?,
                    SocketAddr::V6(_) => sock.tclass_v6()?,
                };
                Ok(Some((tos >> 2) as u8))
            }
            SipTransport::Memory(_) => Ok(None),
        }
    }

    /// The address the transport listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            SipTransport::Udp(s) => s.local_addr(),
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
        }
    }

    /// Sends one datagram.
    pub async fn send(&self, to: SocketAddr, payload: &Bytes) -> io::Result<()> {
        match self {
            SipTransport::Udp(socket) => socket.send_to(payload, to).await.map(|_| ()),
            SipTransport::Memory(m) => m
                .outbox
                .send((to, payload.clone()))
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }
}
