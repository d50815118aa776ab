//! The sandbox of `cellgate simulate`: the built-in GSM network simulator with one
//! simulated module per line, driven by the real AT backend, under the real engine.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use cellgate_backends::M35Modem;
use cellgate_engine::runtime::{run_gateway, LineModem};
use cellgate_engine::transport::SipTransport;
use cellgate_engine::{GatewayConfig, InboundTrust};
use cellgate_hal::{HalError, LineId};
use cellgate_simulator::{ModuleProfile, Network, NetworkConfig};

/// Sandbox settings.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Number of simulated lines.
    pub lines: u16,
    /// Seed of the simulated network and of the engine's identifiers.
    pub seed: u64,
}

/// Attaches `lines` simulated M35 modules and starts the AT backend on each.
pub async fn simulated_lines(network: &Network, lines: u16) -> Result<Vec<LineModem>, HalError> {
    let mut modems = Vec::with_capacity(usize::from(lines));
    for line in 1..=lines {
        let stream = network.attach_modem(line, ModuleProfile::M35);
        let modem = M35Modem::start(stream).await?;
        modems.push(LineModem {
            line: LineId(line),
            modem: Arc::new(modem),
        });
    }
    Ok(modems)
}

/// Engine settings of the sandbox: calls from loopback need no credentials; nothing
/// else is trusted, whatever address the gateway listens on.
pub fn sandbox_gateway_config(public_addr: SocketAddr, seed: u64) -> GatewayConfig {
    let mut config = GatewayConfig::new(public_addr);
    config.trust = InboundTrust::LoopbackOnly;
    config.seed = Some(seed);
    config
}

/// A running network plus the gateway settings to serve it with.
pub struct Sandbox {
    /// The simulated network (phones, SIMs, event log).
    pub network: Network,
    /// Backends of the simulated lines.
    pub modems: Vec<LineModem>,
}

impl Sandbox {
    /// Starts the simulated network and the backends of its lines.
    pub async fn start(options: &SandboxOptions) -> Result<Self, HalError> {
        let network = Network::new(NetworkConfig {
            seed: options.seed,
            ..NetworkConfig::default()
        });
        let modems = simulated_lines(&network, options.lines).await?;
        Ok(Self { network, modems })
    }

    /// Serves SIP on `transport` until `shutdown` completes.
    pub async fn serve(
        &self,
        transport: SipTransport,
        public_addr: SocketAddr,
        seed: u64,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let config = sandbox_gateway_config(public_addr, seed);
        run_gateway(config, transport, self.modems.clone(), shutdown).await
    }
}
