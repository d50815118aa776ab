//! Fuzz target: any datagram through the SIP parser and the whole gateway core.
//! Neither may panic; the gateway answers or drops.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use cellgate_engine::sip::{CoreHeaders, Message};
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Message::Request(r)) = Message::parse(data) {
        let _ = CoreHeaders::decode(&r.headers);
        let _ = r.to_bytes();
    }
    let gw_addr = SocketAddr::from(([127, 0, 0, 1], 5060));
    let mut config = GatewayConfig::new(gw_addr);
    config.trust = InboundTrust::LoopbackOnly;
    config.seed = Some(1);
    let mut gw = Gateway::new(config, [cellgate_hal::LineId(1)]);
    gw.handle_line_status(cellgate_hal::LineId(1), true, true);
    let now = Instant::now();
    gw.handle_datagram(now, SocketAddr::from(([127, 0, 0, 1], 5070)), data);
    while gw.poll_output().is_some() {}
    gw.handle_timeout(now + std::time::Duration::from_secs(40));
});
