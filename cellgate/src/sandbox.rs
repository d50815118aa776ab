//! The sandbox of `cellgate simulate`: the built-in GSM network simulator with one
//! simulated module per line, driven by the real AT backend, under the real engine.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cellgate_backends::M35Modem;
use cellgate_engine::gateway::MediaConfig;
use cellgate_engine::gateway::{ForwardTarget, InboundDigest, RingbackMode};
use cellgate_engine::management::ManagementReceiver;
use cellgate_engine::runtime::{run_gateway_managed, LineModem};
use cellgate_engine::sip::digest::DigestAlgorithm;
use cellgate_engine::sip::registrar::RegistrarConfig;
use cellgate_engine::transport::SipTransport;
use cellgate_engine::{GatewayConfig, InboundTrust};
use cellgate_hal::{HalError, LineId};
use cellgate_policy::cdr::CallRecord;
use cellgate_policy::routing::InboundForward;
use cellgate_policy::store::{CounterStore, LineCounters, MemoryStore, StoreError};
use cellgate_simulator::{ModuleProfile, Network, NetworkConfig, SimAudio};

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
    // Modules boot and initialise in parallel, as on a real gateway board: one after the
    // other, 8 lines took 20 s of waiting for `AT+QINISTAT`.
    let mut starting = tokio::task::JoinSet::new();
    for line in 1..=lines {
        let stream = network.attach_modem(line, ModuleProfile::M35);
        starting.spawn(async move { (line, M35Modem::start(stream).await) });
    }
    let mut modems = Vec::with_capacity(usize::from(lines));
    while let Some(joined) = starting.join_next().await {
        let (line, started) =
            joined.map_err(|e| HalError::Protocol(format!("module start task failed: {e}")))?;
        modems.push(LineModem {
            line: LineId(line),
            modem: Arc::new(started?),
        });
    }
    modems.sort_by_key(|m| m.line);
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

/// SIP settings of `cellgate simulate` beyond the defaults (its flags): to try and test
/// the ringback modes, digest authentication, the no-answer timeout, the no-line status
/// and GSM -> SIP forwarding against a softphone or SIPp.
#[derive(Clone, Default)]
pub struct SandboxSip {
    /// F-6.4.5 ringback mode.
    pub ringback: RingbackMode,
    /// F-6.4.9: digest credentials INVITEs must carry (on top of the loopback check).
    pub auth: Option<(String, String)>,
    /// F-6.4.18: no-answer timeout (default 75 s).
    pub no_answer_timeout: Option<Duration>,
    /// F-6.4.8: status when no line is free (default 503).
    pub no_line_status: Option<u16>,
    /// GSM -> SIP: every line's incoming calls go to this URI (`sip:user@ip:port`).
    pub forward_to: Option<(String, SocketAddr)>,
    /// Media settings (codecs, DTMF mode, RTP timeout) instead of the defaults.
    pub media: Option<MediaConfig>,
    /// First port of the RTP range instead of 16384.
    pub rtp_base_port: Option<u16>,
    /// F-6.4.6: the built-in registrar, with the password every softphone must know
    /// (no default: without it there is no registrar).
    pub registrar_password: Option<String>,
    /// F-6.8.3 / F-6.8.10: every line forwards its incoming GSM calls to this VoIP
    /// number (a client of the built-in registrar, or `user@ip:port`).
    pub inbound_to: Option<String>,
    /// Any further engine settings (per-line policies, routing), applied last.
    pub configure: Option<ConfigureFn>,
    /// Where counters and call records go (shared, so a test can read them and start
    /// a second gateway on them).
    pub counters: Option<SharedCounters>,
}

/// A change of the engine settings, applied after the sandbox's own.
pub type ConfigureFn = Arc<dyn Fn(&mut GatewayConfig) + Send + Sync>;

/// A [`MemoryStore`] several owners can share: the gateway writes, tests read.
#[derive(Clone, Default)]
pub struct SharedCounters(pub Arc<std::sync::Mutex<MemoryStore>>);

impl CounterStore for SharedCounters {
    fn load(&self, line: LineId) -> Result<Option<LineCounters>, StoreError> {
        match self.0.lock() {
            Ok(store) => store.load(line),
            Err(poisoned) => poisoned.into_inner().load(line),
        }
    }

    fn save(&mut self, line: LineId, counters: &LineCounters) -> Result<(), StoreError> {
        match self.0.lock() {
            Ok(mut store) => store.save(line, counters),
            Err(poisoned) => poisoned.into_inner().save(line, counters),
        }
    }

    fn append_record(&mut self, record: &CallRecord) -> Result<(), StoreError> {
        match self.0.lock() {
            Ok(mut store) => store.append_record(record),
            Err(poisoned) => poisoned.into_inner().append_record(record),
        }
    }

    fn records(&self, line: LineId, limit: usize) -> Result<Vec<CallRecord>, StoreError> {
        match self.0.lock() {
            Ok(store) => store.records(line, limit),
            Err(poisoned) => poisoned.into_inner().records(line, limit),
        }
    }
}

impl std::fmt::Debug for SandboxSip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxSip")
            .field("ringback", &self.ringback)
            .field("auth_user", &self.auth.as_ref().map(|(u, _)| u))
            .field("no_answer_timeout", &self.no_answer_timeout)
            .field("no_line_status", &self.no_line_status)
            .field("forward_to", &self.forward_to)
            .field("media", &self.media)
            .field("rtp_base_port", &self.rtp_base_port)
            .field("registrar", &self.registrar_password.is_some())
            .field("inbound_to", &self.inbound_to)
            .field("configure", &self.configure.is_some())
            .field("counters", &self.counters.is_some())
            .finish()
    }
}

impl SandboxSip {
    /// Applies these settings to `config` for the given lines.
    pub fn apply(&self, config: &mut GatewayConfig, lines: &[LineModem]) {
        config.ringback = self.ringback;
        if let Some((user, password)) = &self.auth {
            config.inbound_digest = Some(InboundDigest {
                realm: "cellgate-sandbox".into(),
                users: vec![(user.clone(), password.clone())],
                // MD5 first: SIPp and many older softphones read only the first
                // challenge and know no SHA-256. `cellgate run` prefers SHA-256.
                algorithms: vec![DigestAlgorithm::Md5, DigestAlgorithm::Sha256],
            });
        }
        if let Some(t) = self.no_answer_timeout {
            config.no_answer_timeout = t;
        }
        if let Some(code) = self.no_line_status {
            config.no_line_status = code;
        }
        if let Some(media) = &self.media {
            config.media = media.clone();
        }
        if let Some(port) = self.rtp_base_port {
            config.rtp_base_port = port;
        }
        if let Some(password) = &self.registrar_password {
            config.registrar = Some(RegistrarConfig {
                realm: "cellgate-sandbox".into(),
                password: password.clone(),
                min_expires: 60,
                max_expires: 3600,
                algorithms: vec![DigestAlgorithm::Md5, DigestAlgorithm::Sha256],
            });
        }
        if let Some(number) = &self.inbound_to {
            for lm in lines {
                let policy = config.lines.entry(lm.line).or_default();
                policy.inbound_forward = Some(InboundForward::Fixed(number.clone()));
            }
        }
        if let Some((uri, next_hop)) = &self.forward_to {
            for lm in lines {
                config.forward.insert(
                    lm.line,
                    ForwardTarget {
                        uri: uri.clone(),
                        next_hop: *next_hop,
                        local_user: format!("line{}", lm.line.0),
                        credentials: None,
                    },
                );
            }
        }
        if let Some(configure) = &self.configure {
            configure(config);
        }
    }
}

/// Parses a `--forward-to` value: `sip:user@ip:port` or `user@ip:port`.
pub fn parse_forward_to(text: &str) -> Result<(String, SocketAddr), String> {
    let uri = if text.starts_with("sip:") {
        text.to_owned()
    } else {
        format!("sip:{text}")
    };
    let host = uri
        .trim_start_matches("sip:")
        .rsplit('@')
        .next()
        .unwrap_or("");
    let addr = host
        .parse::<SocketAddr>()
        .map_err(|_| format!("{text:?}: expected sip:user@ip:port"))?;
    Ok((uri, addr))
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

    /// Serves SIP on `transport` with the sandbox defaults until `shutdown` completes.
    pub async fn serve(
        &self,
        transport: SipTransport,
        public_addr: SocketAddr,
        seed: u64,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        self.serve_with(
            transport,
            public_addr,
            seed,
            &SandboxSip::default(),
            shutdown,
        )
        .await
    }

    /// Serves SIP on `transport` with `sip` settings until `shutdown` completes.
    pub async fn serve_with(
        &self,
        transport: SipTransport,
        public_addr: SocketAddr,
        seed: u64,
        sip: &SandboxSip,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        self.serve_managed(transport, public_addr, seed, sip, None, shutdown)
            .await
    }

    /// As [`Sandbox::serve_with`], answering the management plane's requests (status
    /// pages, line actions) arriving on `management`.
    pub async fn serve_managed(
        &self,
        transport: SipTransport,
        public_addr: SocketAddr,
        seed: u64,
        sip: &SandboxSip,
        management: Option<ManagementReceiver>,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let mut config = sandbox_gateway_config(public_addr, seed);
        sip.apply(&mut config, &self.modems);
        // Simulated phones hear the SIP side and are heard by it.
        let audio = Arc::new(SimAudio::new(self.network.clone()));
        let store = sip
            .counters
            .clone()
            .map(|c| Box::new(c) as cellgate_engine::runtime::SharedStore);
        run_gateway_managed(
            config,
            transport,
            self.modems.clone(),
            Some(audio),
            store,
            management,
            shutdown,
        )
        .await
    }
}
