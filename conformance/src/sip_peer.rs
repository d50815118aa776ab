//! A scripted SIP user agent on the far side of the gateway's in-memory transport.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use cellgate::sandbox::{Sandbox, SandboxOptions, SandboxSip};
use cellgate_engine::management::ManagementHandle;
use cellgate_engine::transport::{memory_pair, MemoryPeer, SipTransport};
use cellgate_simulator::Network;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The gateway's address inside scenarios.
pub const GATEWAY: &str = "127.0.0.1:5060";
/// The scripted peer's address inside scenarios.
pub const PEER: &str = "127.0.0.1:5070";

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// One message on the wire, as seen by the peer.
#[derive(Debug, Clone)]
pub struct FlowEntry {
    /// Virtual time since the test bed started.
    pub at: Duration,
    /// `true` when the peer sent it.
    pub outgoing: bool,
    /// The whole message.
    pub text: String,
}

impl FlowEntry {
    /// The start line.
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    /// `"  1.000s -> INVITE sip:..."` for logs and snapshots.
    pub fn summary(&self) -> String {
        let arrow = if self.outgoing { "->" } else { "<-" };
        format!(
            "{:>4}.{:03}s {arrow} {}",
            self.at.as_secs(),
            self.at.subsec_millis(),
            self.first_line()
        )
    }

    /// Value of the first header `name` (case-sensitive name as printed).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}:");
        self.text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }

    /// The status code when this is a response.
    pub fn status(&self) -> Option<u16> {
        let rest = self.first_line().strip_prefix("SIP/2.0 ")?;
        rest.split(' ').next()?.parse().ok()
    }
}

/// The whole gateway on a simulated network, with a scripted SIP peer attached.
pub struct TestBed {
    /// The simulated GSM network.
    pub network: Network,
    /// The SIP peer.
    pub peer: SipPeer,
    /// The management plane's handle on the gateway (status snapshots, line actions).
    pub management: ManagementHandle,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestBed {
    /// Starts `lines` simulated M35 lines and the gateway, and lets them settle for one
    /// virtual second. Must run on a paused (virtual-clock) tokio runtime.
    pub async fn start(lines: u16, seed: u64) -> Self {
        Self::start_with(lines, seed, SandboxSip::default()).await
    }

    /// As [`TestBed::start`], with SIP and media settings.
    pub async fn start_with(lines: u16, seed: u64, sip: SandboxSip) -> Self {
        let sandbox = match Sandbox::start(&SandboxOptions { lines, seed }).await {
            Ok(s) => s,
            Err(e) => panic!("sandbox did not start: {e}"),
        };
        let (transport, memory_peer) = memory_pair(addr(GATEWAY));
        let (tx, rx) = oneshot::channel::<()>();
        let network = sandbox.network.clone();
        let (management, requests) = ManagementHandle::channel();
        let task = tokio::spawn(async move {
            sandbox
                .serve_managed(
                    SipTransport::Memory(transport),
                    addr(GATEWAY),
                    seed,
                    &sip,
                    Some(requests),
                    async {
                        let _ = rx.await;
                    },
                )
                .await
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        Self {
            network,
            peer: SipPeer::new(memory_peer),
            management,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the gateway and checks it ended cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                other => panic!("gateway ended badly: {other:?}"),
            }
        }
    }
}

/// The G.711 offer of [`SipPeer::invite`] (RTP to 127.0.0.1:6000).
pub const SDP_OFFER: &str = "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

/// A SIP UA speaking to the gateway through memory, recording the flow.
pub struct SipPeer {
    io: MemoryPeer,
    started: Instant,
    /// Every message both ways, in order.
    pub flow: Vec<FlowEntry>,
    cseq: u32,
}

impl SipPeer {
    fn new(io: MemoryPeer) -> Self {
        Self {
            io,
            started: Instant::now(),
            flow: Vec::new(),
            cseq: 1,
        }
    }

    /// Sends raw bytes (for malformed-input scenarios) without recording them.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self
            .io
            .to_gateway
            .send((addr(PEER), Bytes::copy_from_slice(bytes)));
    }

    /// Sends and records a message.
    pub fn send(&mut self, text: String) {
        self.send_raw(text.as_bytes());
        self.flow.push(FlowEntry {
            at: self.started.elapsed(),
            outgoing: true,
            text,
        });
    }

    /// Waits (in virtual time) for the next message from the gateway, up to `limit`.
    pub async fn recv_within(&mut self, limit: Duration) -> Option<FlowEntry> {
        let (_, bytes) = tokio::time::timeout(limit, self.io.from_gateway.recv())
            .await
            .ok()??;
        let entry = FlowEntry {
            at: self.started.elapsed(),
            outgoing: false,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        };
        self.flow.push(entry.clone());
        Some(entry)
    }

    /// Waits for the next message, failing the test after 120 virtual seconds.
    pub async fn recv(&mut self) -> FlowEntry {
        match self.recv_within(Duration::from_secs(120)).await {
            Some(e) => e,
            None => panic!(
                "no message from the gateway; flow so far:\n{}",
                self.summary()
            ),
        }
    }

    /// Waits for a response with status `code`, skipping other messages (e.g.
    /// retransmissions); fails if none arrives.
    pub async fn expect_status(&mut self, code: u16) -> FlowEntry {
        loop {
            let entry = self.recv().await;
            if entry.status() == Some(code) {
                return entry;
            }
        }
    }

    /// The flow so far, one summary line per message.
    pub fn summary(&self) -> String {
        self.flow
            .iter()
            .map(FlowEntry::summary)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends an INVITE for `number` with a G.711 offer.
    pub fn invite(&mut self, number: &str, call_id: &str) {
        self.invite_with_sdp(number, call_id, SDP_OFFER);
    }

    /// Sends an INVITE for `number` with the SDP offer `sdp`.
    pub fn invite_with_sdp(&mut self, number: &str, call_id: &str, sdp: &str) {
        self.cseq = 1;
        self.send(format!(
            "INVITE sip:{number}@{GATEWAY} SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bK-{call_id}-1\r\n\
From: \"peer\" <sip:peer@{PEER}>;tag=peer-{call_id}\r\nTo: <sip:{number}@{GATEWAY}>\r\nCall-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\nContact: <sip:peer@{PEER}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ));
    }

    /// Acknowledges the INVITE's final response `response` (same branch for non-2xx,
    /// a new one for 2xx, as RFC 3261 requires).
    pub fn ack(&mut self, number: &str, call_id: &str, response: &FlowEntry) {
        let to = response.header("To").unwrap_or_default();
        let branch = if response.status().is_some_and(|c| c < 300) {
            format!("z9hG4bK-{call_id}-ack")
        } else {
            format!("z9hG4bK-{call_id}-1")
        };
        self.send(format!(
            "ACK sip:{number}@{GATEWAY} SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch={branch}\r\n\
From: \"peer\" <sip:peer@{PEER}>;tag=peer-{call_id}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ));
    }

    /// Hangs up an established call.
    pub fn bye(&mut self, number: &str, call_id: &str, response: &FlowEntry) {
        let to = response.header("To").unwrap_or_default();
        self.cseq += 1;
        let cseq = self.cseq;
        self.send(format!(
            "BYE sip:{number}@{GATEWAY} SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bK-{call_id}-bye{cseq}\r\n\
From: \"peer\" <sip:peer@{PEER}>;tag=peer-{call_id}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} BYE\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ));
    }

    /// Sends an in-dialog INFO with `body` of `content_type` (e.g. a DTMF digit as
    /// `application/dtmf-relay`).
    pub fn info(
        &mut self,
        number: &str,
        call_id: &str,
        response: &FlowEntry,
        content_type: &str,
        body: &str,
    ) {
        let to = response.header("To").unwrap_or_default();
        self.cseq += 1;
        let cseq = self.cseq;
        self.send(format!(
            "INFO sip:{number}@{GATEWAY} SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bK-{call_id}-info{cseq}\r\n\
From: \"peer\" <sip:peer@{PEER}>;tag=peer-{call_id}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INFO\r\n\
Max-Forwards: 70\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }

    /// Sends an INVITE for `number` from the user `caller` (caller-based routing).
    pub fn invite_from(&mut self, caller: &str, number: &str, call_id: &str) {
        self.cseq = 1;
        let sdp = SDP_OFFER;
        self.send(format!(
            "INVITE sip:{number}@{GATEWAY} SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bK-{call_id}-1\r\n\
From: <sip:{caller}@{PEER}>;tag=peer-{call_id}\r\nTo: <sip:{number}@{GATEWAY}>\r\nCall-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\nContact: <sip:{caller}@{PEER}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ));
    }

    /// Waits for a request `method` from the gateway, skipping other messages.
    pub async fn expect_request(&mut self, method: &str) -> FlowEntry {
        loop {
            let entry = self.recv().await;
            if entry.first_line().starts_with(&format!("{method} ")) {
                return entry;
            }
        }
    }

    /// Answers the gateway's INVITE `request` with `code` (a To tag; SDP in a 2xx).
    pub fn respond_to_invite(&mut self, request: &FlowEntry, code: u16) {
        let h = |n: &str| request.header(n).unwrap_or_default();
        let reason = match code {
            180 => "Ringing",
            200 => "OK",
            486 => "Busy Here",
            _ => "Status",
        };
        let body = if code == 200 {
            "v=0\r\no=peer 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        } else {
            ""
        };
        let ctype = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        self.send(format!(
            "SIP/2.0 {code} {reason}\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=callee-1\r\nCall-ID: {}\r\nCSeq: {}\r\n\
Contact: <sip:callee@{PEER}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
            h("Via"),
            h("From"),
            h("To"),
            h("Call-ID"),
            h("CSeq"),
            body.len()
        ));
    }

    /// Answers a request from the gateway (e.g. its BYE) with 200 OK.
    pub fn ok_to(&mut self, request: &FlowEntry) {
        let h = |n: &str| request.header(n).unwrap_or_default();
        self.send(format!(
            "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
            h("Via"),
            h("From"),
            h("To"),
            h("Call-ID"),
            h("CSeq")
        ));
    }
}
