//! `cellgate run`: the gateway on real modules attached to serial ports.

use std::sync::Arc;

use cellgate_backends::{serial, M35Modem};
use cellgate_engine::runtime::{run_gateway, LineModem};
use cellgate_engine::transport::SipTransport;
use cellgate_hal::LineId;
use tracing::{error, info};

use crate::config::Config;

/// Opens every configured line, brings its module up, and serves SIP until Ctrl-C.
/// A line whose module does not come up is reported and left out; the others serve.
pub async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let mut modems = Vec::new();
    for line in &config.lines {
        let opened = serial::open(&line.device.to_string_lossy(), line.baud);
        let stream = match opened {
            Ok(s) => s,
            Err(e) => {
                error!(line = line.id, device = %line.device.display(), error = %e, "cannot open serial port");
                continue;
            }
        };
        match M35Modem::start(stream).await {
            Ok(modem) => modems.push(LineModem {
                line: LineId(line.id),
                modem: Arc::new(modem),
            }),
            Err(e) => error!(line = line.id, error = %e, "module did not come up"),
        }
    }
    let gateway = config.gateway_config();
    if gateway.trust == cellgate_engine::InboundTrust::DenyAll {
        info!("no sip.trusted_sources configured: every incoming call will be refused (403)");
    }
    let transport = SipTransport::bind_udp(config.sip.listen).await?;
    info!(listen = %config.sip.listen, lines = modems.len(), "gateway running");
    run_gateway(gateway, transport, modems, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
