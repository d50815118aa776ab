//! The `cellgate` command: `run` (real modules), `simulate` (gateway + built-in GSM
//! network simulator), `sim` (simulator alone), `features` (feature-matrix coverage).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use cellgate::config::Config;
use cellgate::hardware::LineSource;
use cellgate::sandbox::{Sandbox, SandboxOptions};
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
    },
    /// Run the GSM network simulator alone.
    Sim {
        /// Number of simulated lines.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        lines: u16,
        /// Seed of the simulated network.
        #[arg(long, default_value_t = 1)]
        seed: u64,
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
            } => simulate(lines, sip_listen, seed).await,
            Command::Sim { lines, seed } => sim(lines, seed).await,
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

async fn simulate(
    lines: u16,
    listen: SocketAddr,
    seed: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start(&SandboxOptions { lines, seed }).await?;
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
    println!("  Ctrl-C to stop.");
    sandbox
        .serve(transport, local, seed, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn sim(lines: u16, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start(&SandboxOptions { lines, seed }).await?;
    println!(
        "cellgate sim: simulated GSM network with {} M35 lines (seed {seed}); Ctrl-C to stop.",
        sandbox.modems.len()
    );
    let _ = tokio::signal::ctrl_c().await;
    for line in event_log_tail(&sandbox) {
        println!("{line}");
    }
    Ok(())
}

fn event_log_tail(sandbox: &Sandbox) -> Vec<String> {
    let log = sandbox.network.event_log();
    let skip = log.len().saturating_sub(50);
    log.into_iter().skip(skip).collect()
}
