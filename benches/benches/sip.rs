//! SIP message handling: parsing and building typical INVITE / 200 OK / REGISTER
//! messages, and the gateway core's whole reaction to an INVITE (parse, checks, SDP
//! answer preparation, 100 Trying, dial command).

use std::net::SocketAddr;
use std::time::Instant;

use cellgate_benches::TYPICAL_INVITE;
use cellgate_engine::sip::{Message, Request, Response};
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust};
use cellgate_hal::LineId;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const TYPICAL_REGISTER: &str = "REGISTER sip:192.0.2.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKreg0001;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Line 1\" <sip:1001@192.0.2.1>;tag=3k2j4h5g\r\n\
To: \"Line 1\" <sip:1001@192.0.2.1>\r\n\
Call-ID: 7f3a9c2e41b0d8e6a5f4@192.0.2.9\r\n\
CSeq: 2 REGISTER\r\n\
Contact: <sip:1001@192.0.2.9:5060>\r\n\
Expires: 3600\r\n\
User-Agent: cellgate/0.1.0\r\n\
Authorization: Digest username=\"1001\", realm=\"example.org\", nonce=\"5f2a9b\", uri=\"sip:192.0.2.1\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n\
Content-Length: 0\r\n\r\n";

fn request(text: &str) -> Request {
    match Message::parse(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        _ => unreachable!("benchmark input parses"),
    }
}

fn parse_invite(c: &mut Criterion) {
    c.bench_function("sip/parse_invite", |b| {
        b.iter(|| Message::parse(black_box(TYPICAL_INVITE.as_bytes())))
    });
}

fn build_200(c: &mut Criterion) {
    let invite = request(TYPICAL_INVITE);
    let sdp = bytes_sdp();
    c.bench_function("sip/build_200_ok", |b| {
        b.iter(|| {
            let mut resp =
                Response::to_request(black_box(&invite), ezk_status_ok(), Some("gwtag01"));
            resp.headers
                .insert(ezk_name_contact(), "<sip:5551234@127.0.0.1:5060>");
            resp.headers.insert(ezk_name_ctype(), "application/sdp");
            resp.body = sdp.clone();
            resp.to_bytes()
        })
    });
}

fn parse_and_build_register(c: &mut Criterion) {
    c.bench_function("sip/parse_register", |b| {
        b.iter(|| Message::parse(black_box(TYPICAL_REGISTER.as_bytes())))
    });
    let reg = request(TYPICAL_REGISTER);
    c.bench_function("sip/build_register", |b| {
        b.iter(|| black_box(&reg).to_bytes())
    });
}

fn gateway_handles_invite(c: &mut Criterion) {
    let gw_addr: SocketAddr = "127.0.0.1:5060".parse().unwrap_or_else(|_| unreachable!());
    let peer: SocketAddr = "127.0.0.1:5070".parse().unwrap_or_else(|_| unreachable!());
    c.bench_function("sip/gateway_invite_to_dial", |b| {
        b.iter_batched(
            || {
                let mut config = GatewayConfig::new(gw_addr);
                config.trust = InboundTrust::LoopbackOnly;
                config.seed = Some(1);
                let mut gw = Gateway::new(config, [LineId(1)]);
                gw.handle_line_status(LineId(1), true, true);
                gw
            },
            |mut gw| {
                gw.handle_datagram(Instant::now(), peer, TYPICAL_INVITE.as_bytes());
                while let Some(out) = gw.poll_output() {
                    black_box(out);
                }
                gw
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

fn bytes_sdp() -> bytes_alias::Bytes {
    bytes_alias::Bytes::from_static(
        b"v=0\r\no=cellgate 1 1 IN IP4 127.0.0.1\r\ns=cellgate\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 16384 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=sendrecv\r\n",
    )
}

use cellgate_engine::sip::message::re_export as ezk;
use ezk::bytes as bytes_alias;

fn ezk_status_ok() -> ezk::StatusCode {
    ezk::StatusCode::OK
}
fn ezk_name_contact() -> ezk::Name {
    ezk::Name::CONTACT
}
fn ezk_name_ctype() -> ezk::Name {
    ezk::Name::CONTENT_TYPE
}

criterion_group!(
    benches,
    parse_invite,
    build_200,
    parse_and_build_register,
    gateway_handles_invite
);
criterion_main!(benches);
