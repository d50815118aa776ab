//! Transport selection of the gateway's own requests (issue #5), on an explicit clock:
//! a TCP account's REGISTER is marked TCP with a matching `Via`/`Contact`, a `sips:`
//! forward target is TLS, everything else stays UDP.

use std::net::SocketAddr;
use std::time::Instant;

use cellgate_engine::connections::SipTransportKind;
use cellgate_engine::gateway::{ForwardTarget, Gateway, GatewayConfig, Output};
use cellgate_engine::sip::register::{AccountConfig, RegistrationConfig, ServerConfig};
use cellgate_hal::LineId;

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("address")
}

#[test]
fn requests_name_the_transport_of_their_hop() {
    let registrar = addr("192.0.2.10:5060");
    let tls_uas = addr("192.0.2.20:5061");
    let mut config = GatewayConfig::new(addr("192.0.2.1:5060"));
    config.seed = Some(1);
    let mut server = ServerConfig::new(registrar);
    server.transport = SipTransportKind::Tcp;
    let account = AccountConfig {
        auth_id: "gw".into(),
        password: "pw".into(),
        phone_number: None,
        display_name: None,
    };
    config
        .registrations
        .push(RegistrationConfig::new("single", account, server));
    config.forward.insert(
        LineId(1),
        ForwardTarget {
            uri: format!("sips:101@{tls_uas}"),
            next_hop: tls_uas,
            local_user: "gw".into(),
            credentials: None,
        },
    );
    let mut gw = Gateway::new(config, [LineId(1)]);
    gw.start(Instant::now());
    let Some(Output::Transmit { to, payload }) = gw.poll_output() else {
        panic!("REGISTER expected");
    };
    assert_eq!(to, registrar);
    assert_eq!(gw.transport_for(to), SipTransportKind::Tcp);
    let text = String::from_utf8_lossy(&payload);
    assert!(text.starts_with("REGISTER "), "{text}");
    assert!(
        text.contains("Via: SIP/2.0/TCP 192.0.2.1:5060;branch="),
        "{text}"
    );
    assert!(text.contains(";rport;alias\r\n"), "{text}");
    assert!(text.contains("@192.0.2.1:5060;transport=tcp>"), "{text}");
    assert_eq!(gw.transport_for(tls_uas), SipTransportKind::Tls);
    assert_eq!(
        gw.transport_for(addr("192.0.2.30:5060")),
        SipTransportKind::Udp
    );
}
