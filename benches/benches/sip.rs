//! SIP message handling: parsing an INVITE, and the gateway core's whole reaction to one
//! (parse, checks, SDP answer preparation, 100 Trying, dial command).

use std::net::SocketAddr;
use std::time::Instant;

use cellgate_benches::TYPICAL_INVITE;
use cellgate_engine::sip::Message;
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust};
use cellgate_hal::LineId;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn parse_invite(c: &mut Criterion) {
    c.bench_function("sip/parse_invite", |b| {
        b.iter(|| Message::parse(black_box(TYPICAL_INVITE.as_bytes())))
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

criterion_group!(benches, parse_invite, gateway_handles_invite);
criterion_main!(benches);
