//! `cellgate run`: the gateway on real modules attached to serial ports — or, for tests
//! and demonstrations, on simulated modules of the built-in GSM network
//! (`--simulated-lines N`), under the very same configuration file.

use std::sync::Arc;

use cellgate_backends::serial;
use cellgate_engine::management::ManagementHandle;
use cellgate_engine::runtime::{run_gateway_managed, stun_discover, LineModem};

use crate::web_plane::WebPlane;
use cellgate_engine::transport::SipTransport;
use cellgate_goip::SmsLogin;
use cellgate_hal::LineId;
use cellgate_simulator::{Network, NetworkConfig};
use tracing::{error, info};

use crate::config::{Config, LineSection, LocalPortMode};

/// Where the lines of `cellgate run` come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSource {
    /// The `[[line]]` serial ports of the configuration file.
    Serial,
    /// `n` simulated M35 modules (lines 1..=n) of the built-in network; `[[line]]`
    /// entries are ignored. For tests and demonstrations only.
    Simulated(u16),
}

/// Opens the lines named by device path directly, then looks for the lines named by IMEI
/// or ICCID among the remaining serial ports (USB numbering changes; identities do not).
/// A line whose module cannot be found or does not come up is reported and left out.
async fn open_serial_lines(lines: &[LineSection]) -> Vec<LineModem> {
    use cellgate_backends::discovery::{locate, ModuleSelector};
    let mut modems = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let ordered = lines
        .iter()
        .filter(|l| l.device.is_some())
        .chain(lines.iter().filter(|l| l.device.is_none()));
    for line in ordered {
        let selector = line.selector();
        if let ModuleSelector::Device(path) = &selector {
            used.push(path.clone());
        }
        let candidates: Vec<String> = serial::candidate_ports()
            .into_iter()
            .filter(|p| !used.contains(p))
            .collect();
        let baud = line.baud;
        let found = locate(
            &candidates,
            &selector,
            &cellgate_backends::AtModemConfig::default(),
            |path: String| async move { serial::open(&path, baud) },
        )
        .await;
        match found {
            Ok((path, modem)) => {
                info!(line = line.id, %path, "module up");
                used.push(path);
                modems.push(LineModem {
                    line: LineId(line.id),
                    modem: Arc::new(modem),
                });
            }
            Err(e) => error!(line = line.id, error = %e, "module not found or did not come up"),
        }
    }
    modems.sort_by_key(|m| m.line);
    modems
}

/// Opens the counter and CDR store of `[storage]`; the error names the path.
pub fn open_store(
    config: &Config,
) -> Result<cellgate_policy::store::SqliteStore, Box<dyn std::error::Error>> {
    let path = config.database_path();
    cellgate_policy::store::SqliteStore::open(&path).map_err(|e| {
        format!(
            "storage.database = {:?}: cannot open the counter store: {e}",
            path.display().to_string()
        )
        .into()
    })
}

/// Opens every configured line, brings its module up, and serves SIP until Ctrl-C.
/// A line whose module does not come up is reported and left out; the others serve.
/// Counters and call records are kept in the `[storage]` database, which must open.
pub async fn run(mut config: Config, source: LineSource) -> Result<(), Box<dyn std::error::Error>> {
    let store = open_store(&config)?;
    info!(database = %config.database_path().display(), "counter store open");
    // Kept alive while the gateway serves: the simulated modules live in it.
    let mut _network = None;
    let modems = match source {
        LineSource::Serial => open_serial_lines(&config.lines).await,
        LineSource::Simulated(n) => {
            let network = Network::new(NetworkConfig::default());
            let modems = crate::sandbox::simulated_lines(&network, n).await?;
            // Configured lines 1..=n keep their policy keys; the others are added bare.
            let mut lines: Vec<LineSection> = (1..=n)
                .map(|id| {
                    let mut line = config
                        .lines
                        .iter()
                        .find(|l| l.id == id)
                        .cloned()
                        .unwrap_or_else(|| LineSection::with_device(id, "simulated"));
                    line.device = Some("simulated".into());
                    line.imei = None;
                    line.iccid = None;
                    line
                })
                .collect();
            lines.extend(config.lines.iter().filter(|l| l.id > n).cloned());
            config.lines = lines;
            config
                .policy_settings()
                .map_err(|e| format!("configuration with --simulated-lines {n}: {e}"))?;
            info!(lines = n, "using simulated modules (--simulated-lines)");
            _network = Some(network);
            modems
        }
    };
    let (transport, local) = bind_sip(&mut config).await?;
    let mut gateway = config.gateway_config();
    if gateway.serial.is_none() {
        // The host's identity stands in for a device serial number (F-5.2.0.1).
        gateway.serial = std::fs::read_to_string("/etc/machine-id")
            .ok()
            .map(|id| id.trim().chars().take(12).collect::<String>())
            .filter(|id| !id.is_empty());
    }
    if gateway.trust == cellgate_engine::InboundTrust::DenyAll {
        info!("no sip.trusted_sources configured: every incoming call will be refused (403)");
    }
    info!(listen = %local, public = %gateway.public_addr, lines = modems.len(), "gateway running");
    let sms_servers = LineSection::sms_servers(&config.lines);
    let sms_enabled = sms_servers.iter().any(|(_, s)| s.enabled);
    let management = if config.web.is_some() || sms_enabled {
        let (handle, requests) = ManagementHandle::channel();
        let sms_login = SmsLogin::new();
        if sms_enabled {
            // Binds every line's socket before the gateway starts serving: a port in use
            // stops start-up naming the line.
            let started =
                cellgate_goip::shell::start(sms_servers, handle.clone(), sms_login.clone())
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(started.run(std::future::pending()));
            info!("GoIP SMS-server client running");
        }
        if let Some(web) = &config.web {
            let login = sms_login.clone();
            let plane = WebPlane {
                listen: web.listen,
                accounts: web.accounts()?,
                login_log: web.login_log.as_ref().map(|p| config.base_dir.join(p)),
                network: config.network.clone(),
                utc_offset: gateway.routing.utc_offset,
                sms_login: Arc::new(move |line| login.get(line)),
            };
            let local = plane.start(handle).await?;
            info!(listen = %local, "web UI and HTTP API running");
        }
        Some(requests)
    } else {
        None
    };
    run_gateway_managed(
        gateway,
        transport,
        modems,
        None,
        Some(Box::new(store)),
        management,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await?;
    Ok(())
}

/// Binds the SIP socket as `[sip]` asks (fixed or random port, DSCP) and settles the
/// public address (STUN when configured; the bound port in random mode). Updates
/// `config.sip.public_addr` and returns the transport with its local address.
pub async fn bind_sip(
    config: &mut Config,
) -> Result<(SipTransport, std::net::SocketAddr), Box<dyn std::error::Error>> {
    let sip = &mut config.sip;
    let mut listen = sip.listen;
    if sip.local_port == LocalPortMode::Random {
        listen.set_port(0);
    }
    let mut transport = SipTransport::bind_udp_with_dscp(listen, sip.dscp)?;
    let local = transport.local_addr()?;
    if sip.local_port == LocalPortMode::Random {
        let mut public = sip.public_addr.unwrap_or(local);
        public.set_port(local.port());
        sip.public_addr = Some(public);
        info!(port = local.port(), "random local SIP port");
    }
    if let Some(server) = &sip.stun_server {
        let server = crate::config::resolve_with_default("sip.stun_server", server, 3478)?;
        let tid = cellgate_engine::stun::random_transaction_id();
        let mapped = stun_discover(
            &mut transport,
            server,
            tid,
            std::time::Duration::from_millis(500),
        )
        .await?;
        sip.public_addr = Some(mapped);
    }
    if sip.tcp {
        transport = transport.with_tcp().await?;
        info!(%local, "SIP over TCP accepted too");
    }
    if let Some(tls) = &sip.tls {
        let server = tls.server_config()?;
        transport = transport
            .with_tls(tls.listen, server)
            .await
            .map_err(|e| format!("sip.tls.listen = {}: {e}", tls.listen))?;
        let tls_local = transport.tls_local_addr().unwrap_or(tls.listen);
        info!(listen = %tls_local, "SIP over TLS accepted too");
    }
    for a in &sip.accounts {
        if let Some(ca) = &a.tls_ca {
            let client = cellgate_engine::tls::client_config(ca)
                .map_err(|e| format!("sip.account.tls_ca: {e}"))?;
            transport.set_tls_client(client);
        }
        if let Some(name) = &a.tls_server_name {
            let hops = [Some(&a.registrar), a.outbound_proxy.as_ref()];
            for hop in hops.into_iter().flatten() {
                if let Ok(addr) = crate::config::resolve_with_default("", hop, 5060) {
                    transport.set_tls_server_name(addr, name);
                }
            }
        }
    }
    Ok((transport, local))
}
