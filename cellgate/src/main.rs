//! The `cellgate` command: `run` (real modules), `simulate` (gateway + built-in GSM
//! network simulator), `sim` (simulator alone), `features` (feature-matrix coverage).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use cellgate::config::Config;
use cellgate::hardware::LineSource;
use cellgate::sandbox::{Sandbox, SandboxOptions, SandboxSip};
use cellgate::web_plane::WebPlane;
use cellgate_engine::gateway::RingbackMode;
use cellgate_engine::management::ManagementHandle;
use cellgate_engine::transport::SipTransport;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cellgate", version, about = "GSM/UMTS-to-SIP gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway on real modules (serial ports listed in the config file).
    Run {
        /// Configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// For tests and demonstrations: serve N simulated M35 lines of the built-in GSM
        /// network instead of the `[[line]]` serial ports.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
        simulated_lines: Option<u16>,
    },
    /// Run the gateway against the built-in GSM network simulator.
    Simulate {
        /// Number of simulated lines.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        lines: u16,
        /// SIP listen address.
        #[arg(long, default_value = "127.0.0.1:5060")]
        sip_listen: SocketAddr,
        /// Seed of the simulated network.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Ringback mode (F-6.4.5): 180 when the GSM callee rings (`on-alerting`),
        /// 180 at once then 183 (`fake-then-colour`), 183 at once (`colour`), 180 at once
        /// (`fake`).
        #[arg(long, value_enum, default_value_t = Ringback::OnAlerting)]
        ringback: Ringback,
        /// Require digest credentials on INVITE (with --auth-password).
        #[arg(long, requires = "auth_password")]
        auth_user: Option<String>,
        /// Password of --auth-user.
        #[arg(long, requires = "auth_user")]
        auth_password: Option<String>,
        /// Seconds before an unanswered call gets 408 (default 75).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        no_answer_timeout: Option<u64>,
        /// SIP status when no line is free (default 503).
        #[arg(long, value_parser = clap::value_parser!(u16).range(300..=699))]
        no_line_status: Option<u16>,
        /// Forward incoming GSM calls of every line to this SIP URI (sip:user@ip:port).
        #[arg(long, value_parser = cellgate::sandbox::parse_forward_to)]
        forward_to: Option<(String, SocketAddr)>,
        /// Enable the built-in registrar (F-6.4.6): softphones register with any user
        /// name and this password, and may then place calls.
        #[arg(long)]
        registrar_password: Option<String>,
        /// Forward incoming GSM calls of every line to this VoIP number: a softphone
        /// registered under it with the built-in registrar, or `user@ip:port`.
        #[arg(long)]
        inbound_to: Option<String>,
        /// HTTP/JSON control interface of the simulated network (docs/simulator.md), e.g.
        /// to make a simulated phone call a line: `POST /lines/1/call`.
        #[arg(long)]
        control: Option<SocketAddr>,
        /// Serve the web UI (status pages) and HTTP API on this address, e.g.
        /// 127.0.0.1:8080. User `admin`; the password is --web-password or a random one
        /// printed at start.
        #[arg(long)]
        web: Option<SocketAddr>,
        /// Password of the web UI's `admin` (at least 8 characters).
        #[arg(long, requires = "web")]
        web_password: Option<String>,
    },
    /// Run the GSM network simulator alone (real-time clock), optionally exposing each
    /// modem as a raw pty and a control interface (docs/simulator.md).
    Sim {
        /// Number of simulated lines [default: the scenario's, else 8].
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
        lines: Option<u16>,
        /// Seed of the simulated network [default: the scenario's, else 1].
        #[arg(long)]
        seed: Option<u64>,
        /// Module of every line (`m35`, `uc15`) or a per-line mix cycled over the lines
        /// (`m35,uc15`) [default: the scenario's, else m35].
        #[arg(long)]
        module: Option<String>,
        /// Expose each modem as a raw pty linked at DIR/line1 ... DIR/lineN.
        #[arg(long)]
        pty_dir: Option<PathBuf>,
        /// HTTP/JSON control interface address (e.g. 127.0.0.1:8700).
        #[arg(long)]
        control: Option<SocketAddr>,
        /// Play a TOML scenario (docs/scenarios.md) on the real-time clock, print its
        /// checks and exit (status 1 if one fails).
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Print the feature-matrix coverage (docs/features.toml).
    Features {
        /// Workspace root holding docs/features.toml.
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cellgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Run {
                config,
                simulated_lines,
            } => {
                let config = Config::load(&config)?;
                let source = match simulated_lines {
                    Some(n) => LineSource::Simulated(n),
                    None => LineSource::Serial,
                };
                cellgate::hardware::run(config, source).await
            }
            Command::Simulate {
                lines,
                sip_listen,
                seed,
                ringback,
                auth_user,
                auth_password,
                no_answer_timeout,
                no_line_status,
                forward_to,
                registrar_password,
                inbound_to,
                control,
                web,
                web_password,
            } => {
                let sip = SandboxSip {
                    registrar_password,
                    inbound_to,
                    ringback: ringback.into(),
                    auth: auth_user.zip(auth_password),
                    no_answer_timeout: no_answer_timeout.map(std::time::Duration::from_secs),
                    no_line_status,
                    forward_to,
                    ..SandboxSip::default()
                };
                let web = web.map(|addr| (addr, web_password));
                simulate(lines, sip_listen, seed, sip, control, web).await
            }
            Command::Sim {
                lines,
                seed,
                module,
                pty_dir,
                control,
                scenario,
            } => {
                let scenario = scenario
                    .map(|p| cellgate::sim_cli::load_scenario(&p))
                    .transpose()?;
                let net = scenario.as_ref().map(|s| s.network.clone());
                let net = net.unwrap_or_default();
                let module = module.or(net.module).unwrap_or_else(|| "m35".into());
                let opts = cellgate::sim_cli::SimOptions {
                    lines: lines.or(net.lines).unwrap_or(8),
                    modules: cellgate::sim_cli::parse_modules(&module)?,
                    seed: seed.or(net.seed).unwrap_or(1),
                    pty_dir,
                    control,
                    scenario,
                };
                cellgate::sim_cli::run(opts, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
            }
            Command::Features { root } => {
                let matrix = cellgate::features::load(&root)?;
                print!("{}", matrix.coverage_report());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cellgate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--ringback` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Ringback {
    OnAlerting,
    FakeThenColour,
    Colour,
    Fake,
}

impl From<Ringback> for RingbackMode {
    fn from(r: Ringback) -> Self {
        match r {
            Ringback::OnAlerting => RingbackMode::OnAlerting,
            Ringback::FakeThenColour => RingbackMode::FakeThenColour,
            Ringback::Colour => RingbackMode::Colour,
            Ringback::Fake => RingbackMode::Fake,
        }
    }
}

async fn simulate(
    lines: u16,
    listen: SocketAddr,
    seed: u64,
    sip: SandboxSip,
    control: Option<SocketAddr>,
    web: Option<(SocketAddr, Option<String>)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start(&SandboxOptions { lines, seed }).await?;
    let mut management = None;
    if let Some((listen, password)) = web {
        let password = password.unwrap_or_else(cellgate::web_plane::one_time_password);
        let (handle, requests) = ManagementHandle::channel();
        let local = WebPlane::admin_only(listen, &password)?
            .start(handle)
            .await?;
        println!("web: http://{local}/  (user admin, password {password})");
        management = Some(requests);
    }
    if let Some(addr) = control {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("control: http://{}", listener.local_addr()?);
        let net = sandbox.network.clone();
        tokio::spawn(cellgate::sim_cli::serve_control(listener, net, Vec::new()));
    }
    let transport = SipTransport::bind_udp(listen).await?;
    let local = transport.local_addr()?;
    println!("cellgate simulate: {lines} simulated M35 lines, SIP on udp:{local}");
    println!(
        "  Calls from loopback need no credentials (sandbox mode); other sources are refused."
    );
    println!("  Point a softphone at sip:<number>@{local}, or try SIPp:");
    println!("    sipp -sn uac -s 5551234 -p 5070 {local} -m 1 -d 2000");
    println!("  Numbers ending in 486 are busy, 404 do not exist, 480 never answer, 603 reject;");
    println!("  every other number answers after a short ring (docs/simulator.md).");
    if sip.registrar_password.is_some() {
        println!("  Built-in registrar on: register any user with the --registrar-password.");
    }
    if let Some(number) = &sip.inbound_to {
        println!("  Calls to the lines' SIMs go to VoIP number {number}.");
    }
    println!("  Ctrl-C to stop.");
    sandbox
        .serve_managed(transport, local, seed, &sip, management, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
