//! STUN binding client (RFC 5389, answers of RFC 3489 servers accepted) for the
//! gateway's public signalling address (F-6.4.10), as a sans-IO state machine: it says
//! what to send and when, and is fed the answers. [`crate::runtime::stun_discover`]
//! runs it on the SIP socket before the gateway starts.
//!
//! Symmetric NATs give every destination its own mapping, so the address learnt here
//! is only right behind a cone NAT (the manual says the same).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The RFC 5389 magic cookie.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;
const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const HEADER: usize = 20;

/// Why a datagram is not a usable binding answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StunError {
    /// Shorter than its header or its declared length, or a bad attribute.
    #[error("truncated or malformed STUN message")]
    Malformed,
    /// Not a binding response of our transaction.
    #[error("not an answer to our binding request")]
    NotOurs,
    /// The server answered with an error response (class 0x0111).
    #[error("STUN server answered with error {0}")]
    ErrorResponse(u16),
    /// A success response without a (XOR-)MAPPED-ADDRESS.
    #[error("STUN answer carries no mapped address")]
    NoAddress,
}

/// Whether `datagram` looks like a STUN message (first two bits zero, magic cookie):
/// how STUN is told apart from SIP on a shared socket (RFC 5389 §6).
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER
        && datagram[0] & 0xC0 == 0
        && datagram[4..8] == MAGIC_COOKIE.to_be_bytes()
}

/// A transaction id from the OS-seeded generator (RFC 5389 §6: uniformly random).
pub fn random_transaction_id() -> [u8; 12] {
    rand::random()
}

/// A binding request with transaction id `tid` (no attributes).
pub fn binding_request(tid: [u8; 12]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEADER);
    msg.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
    msg.extend_from_slice(&0u16.to_be_bytes());
    msg.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    msg.extend_from_slice(&tid);
    msg
}

/// A binding success response for `tid` reporting `mapped` as XOR-MAPPED-ADDRESS (what a
/// server sends; used by tests and by anyone needing a minimal responder).
pub fn binding_success(tid: [u8; 12], mapped: SocketAddr) -> Vec<u8> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let port = mapped.port() ^ (MAGIC_COOKIE >> 16) as u16;
    let mut value = vec![0u8];
    match mapped.ip() {
        IpAddr::V4(v4) => {
            value.push(0x01);
            value.extend_from_slice(&port.to_be_bytes());
            value.extend(v4.octets().iter().zip(cookie).map(|(a, c)| a ^ c));
        }
        IpAddr::V6(v6) => {
            value.push(0x02);
            value.extend_from_slice(&port.to_be_bytes());
            let key: Vec<u8> = cookie.iter().chain(tid.iter()).copied().collect();
            value.extend(v6.octets().iter().zip(key).map(|(a, k)| a ^ k));
        }
    }
    let mut msg = Vec::with_capacity(HEADER + 4 + value.len());
    msg.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    msg.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
    msg.extend_from_slice(&cookie);
    msg.extend_from_slice(&tid);
    msg.extend_from_slice(&ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
    msg.extend_from_slice(&(value.len() as u16).to_be_bytes());
    msg.extend_from_slice(&value);
    msg
}

/// The transaction id of a STUN message, if it has a header.
pub fn transaction_id(datagram: &[u8]) -> Option<[u8; 12]> {
    datagram.get(8..HEADER)?.try_into().ok()
}

/// The mapped address of a binding success response to transaction `tid`.
/// XOR-MAPPED-ADDRESS is preferred; a plain MAPPED-ADDRESS (RFC 3489 servers) is taken
/// when it is the only one.
pub fn parse_binding_response(datagram: &[u8], tid: [u8; 12]) -> Result<SocketAddr, StunError> {
    if datagram.len() < HEADER {
        return Err(StunError::Malformed);
    }
    let kind = u16::from_be_bytes([datagram[0], datagram[1]]);
    let length = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    if datagram[8..HEADER] != tid {
        return Err(StunError::NotOurs);
    }
    if length % 4 != 0 || datagram.len() < HEADER + length {
        return Err(StunError::Malformed);
    }
    let mut attrs = &datagram[HEADER..HEADER + length];
    if kind == BINDING_ERROR {
        let mut code = 0;
        while let Some((t, v, rest)) = next_attribute(attrs)? {
            if t == 0x0009 && v.len() >= 4 {
                code = u16::from(v[2] & 0x07) * 100 + u16::from(v[3]);
            }
            attrs = rest;
        }
        return Err(StunError::ErrorResponse(code));
    }
    if kind != BINDING_SUCCESS {
        return Err(StunError::NotOurs);
    }
    let cookie = datagram[4..8]
        .try_into()
        .map_err(|_| StunError::Malformed)?;
    let cookie = u32::from_be_bytes(cookie);
    let mut plain = None;
    while let Some((t, v, rest)) = next_attribute(attrs)? {
        match t {
            ATTR_XOR_MAPPED_ADDRESS => return decode_address(v, Some((cookie, tid))),
            ATTR_MAPPED_ADDRESS => plain = Some(decode_address(v, None)?),
            _ => {}
        }
        attrs = rest;
    }
    plain.ok_or(StunError::NoAddress)
}

type Attribute<'a> = (u16, &'a [u8], &'a [u8]);

fn next_attribute(attrs: &[u8]) -> Result<Option<Attribute<'_>>, StunError> {
    if attrs.is_empty() {
        return Ok(None);
    }
    if attrs.len() < 4 {
        return Err(StunError::Malformed);
    }
    let kind = u16::from_be_bytes([attrs[0], attrs[1]]);
    let len = usize::from(u16::from_be_bytes([attrs[2], attrs[3]]));
    let padded = len.div_ceil(4) * 4;
    let value = attrs.get(4..4 + len).ok_or(StunError::Malformed)?;
    let rest = attrs.get((4 + padded).min(attrs.len())..).unwrap_or(&[]);
    Ok(Some((kind, value, rest)))
}

fn decode_address(v: &[u8], xor: Option<(u32, [u8; 12])>) -> Result<SocketAddr, StunError> {
    if v.len() < 4 {
        return Err(StunError::Malformed);
    }
    let mut port = u16::from_be_bytes([v[2], v[3]]);
    let cookie = xor.map(|(c, _)| c.to_be_bytes());
    if let Some((c, _)) = xor {
        port ^= (c >> 16) as u16;
    }
    match v[1] {
        0x01 => {
            let raw: [u8; 4] = v
                .get(4..8)
                .and_then(|b| b.try_into().ok())
                .ok_or(StunError::Malformed)?;
            let octets = match cookie {
                Some(c) => [raw[0] ^ c[0], raw[1] ^ c[1], raw[2] ^ c[2], raw[3] ^ c[3]],
                None => raw,
            };
            Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(octets)), port))
        }
        0x02 => {
            let raw: [u8; 16] = v
                .get(4..20)
                .and_then(|b| b.try_into().ok())
                .ok_or(StunError::Malformed)?;
            let mut octets = raw;
            if let Some((c, tid)) = xor {
                let key: Vec<u8> = c.to_be_bytes().iter().chain(tid.iter()).copied().collect();
                for (o, k) in octets.iter_mut().zip(key) {
                    *o ^= k;
                }
            }
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port))
        }
        _ => Err(StunError::Malformed),
    }
}

/// What the client wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StunPoll {
    /// Send this request to the server.
    Transmit(SocketAddr, Vec<u8>),
    /// Wait until this instant (or an answer).
    Wait(Instant),
    /// Done: the public address.
    Mapped(SocketAddr),
    /// Gave up (no answer after every retransmission, or an error response).
    Failed(String),
}

/// One binding transaction with RFC 5389 §7.2.1 retransmission: RTO 500 ms doubling,
/// 7 requests, then 16·RTO for the last answer (39.5 s in all by default).
#[derive(Debug)]
pub struct StunClient {
    server: SocketAddr,
    tid: [u8; 12],
    rto: Duration,
    sent: u32,
    max_requests: u32,
    next: Option<Instant>,
    result: Option<Result<SocketAddr, String>>,
    pending_send: bool,
}

impl StunClient {
    /// A client for `server` with transaction id `tid` and initial RTO `rto`.
    pub fn new(server: SocketAddr, tid: [u8; 12], rto: Duration) -> Self {
        Self {
            server,
            tid,
            rto,
            sent: 0,
            max_requests: 7,
            next: None,
            result: None,
            pending_send: true,
        }
    }

    /// Next thing to do at `now`.
    pub fn poll(&mut self, now: Instant) -> StunPoll {
        if let Some(result) = &self.result {
            return match result {
                Ok(addr) => StunPoll::Mapped(*addr),
                Err(e) => StunPoll::Failed(e.clone()),
            };
        }
        if self.pending_send || self.next.is_some_and(|at| now >= at) {
            if self.sent >= self.max_requests {
                let reason = format!("no answer from STUN server {}", self.server);
                self.result = Some(Err(reason.clone()));
                return StunPoll::Failed(reason);
            }
            self.pending_send = false;
            let wait = if self.sent + 1 == self.max_requests {
                self.rto * 16
            } else {
                self.rto * (1 << self.sent.min(16))
            };
            self.sent += 1;
            self.next = Some(now + wait);
            return StunPoll::Transmit(self.server, binding_request(self.tid));
        }
        match self.next {
            Some(at) => StunPoll::Wait(at),
            None => StunPoll::Failed("STUN client not started".into()),
        }
    }

    /// A datagram that arrived from `from`; `true` when it was this transaction's answer.
    pub fn handle_datagram(&mut self, from: SocketAddr, datagram: &[u8]) -> bool {
        if from != self.server || !is_stun(datagram) || self.result.is_some() {
            return false;
        }
        match parse_binding_response(datagram, self.tid) {
            Ok(addr) => self.result = Some(Ok(addr)),
            Err(StunError::NotOurs) => return false,
            Err(e) => self.result = Some(Err(e.to_string())),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TID: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    #[test]
    fn request_has_the_rfc5389_header() {
        let req = binding_request(TID);
        assert_eq!(req.len(), 20);
        assert_eq!(&req[0..4], &[0x00, 0x01, 0x00, 0x00]);
        assert_eq!(&req[4..8], &[0x21, 0x12, 0xA4, 0x42]);
        assert!(is_stun(&req));
        assert!(!is_stun(b"INVITE sip:1@h SIP/2.0\r\n\r\n"));
    }

    #[test]
    fn xor_mapped_address_round_trips_v4_and_v6() {
        for mapped in ["203.0.113.5:40123", "[2001:db8::7]:5060"] {
            let mapped: SocketAddr = mapped.parse().unwrap();
            let resp = binding_success(TID, mapped);
            assert_eq!(parse_binding_response(&resp, TID), Ok(mapped));
            let mut other = TID;
            other[0] = 99;
            assert_eq!(
                parse_binding_response(&resp, other),
                Err(StunError::NotOurs)
            );
        }
    }

    #[test]
    fn rfc5389_test_vector_ipv4() {
        // RFC 5769 §2.2 sample response: XOR-MAPPED-ADDRESS 192.0.2.1:32853.
        let tid = [
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ];
        let mut msg = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
        msg.extend_from_slice(&tid);
        msg.extend_from_slice(&[
            0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
        ]);
        assert_eq!(
            parse_binding_response(&msg, tid),
            Ok("192.0.2.1:32853".parse().unwrap())
        );
    }

    #[test]
    fn plain_mapped_address_errors_and_junk() {
        let mut msg = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
        msg.extend_from_slice(&TID);
        msg.extend_from_slice(&[
            0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x13, 0xc4, 198, 51, 100, 9,
        ]);
        assert_eq!(
            parse_binding_response(&msg, TID),
            Ok("198.51.100.9:5060".parse().unwrap())
        );
        let mut err = vec![0x01, 0x11, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
        err.extend_from_slice(&TID);
        err.extend_from_slice(&[0x00, 0x09, 0x00, 0x04, 0x00, 0x00, 0x04, 0x00]);
        assert_eq!(
            parse_binding_response(&err, TID),
            Err(StunError::ErrorResponse(400))
        );
        for cut in 0..msg.len() {
            let _ = parse_binding_response(&msg[..cut], TID);
        }
        let mut lying = msg.clone();
        lying[3] = 0xFC;
        assert_eq!(
            parse_binding_response(&lying, TID),
            Err(StunError::Malformed)
        );
        let mut bad_attr = msg.clone();
        bad_attr[23] = 0xFF;
        assert!(parse_binding_response(&bad_attr, TID).is_err());
    }

    #[test]
    fn client_retransmits_doubling_then_gives_up_or_takes_the_answer() {
        let server: SocketAddr = "192.0.2.50:3478".parse().unwrap();
        let t0 = Instant::now();
        let mut c = StunClient::new(server, TID, Duration::from_millis(500));
        let mut now = t0;
        let mut sends = vec![];
        loop {
            match c.poll(now) {
                StunPoll::Transmit(to, _) => {
                    assert_eq!(to, server);
                    sends.push(now - t0);
                }
                StunPoll::Wait(at) => now = at,
                StunPoll::Failed(_) => break,
                StunPoll::Mapped(_) => unreachable!(),
            }
        }
        let ms: Vec<u128> = sends.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [0, 500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!((now - t0).as_millis(), 39500);

        let mut c = StunClient::new(server, TID, Duration::from_millis(500));
        assert!(matches!(c.poll(t0), StunPoll::Transmit(..)));
        let mapped: SocketAddr = "203.0.113.5:40123".parse().unwrap();
        assert!(!c.handle_datagram(
            "192.0.2.99:3478".parse().unwrap(),
            &binding_success(TID, mapped)
        ));
        assert!(c.handle_datagram(server, &binding_success(TID, mapped)));
        assert_eq!(c.poll(t0), StunPoll::Mapped(mapped));
    }
}
