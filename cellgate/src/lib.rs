//! cellgate: the gateway binary's library side — configuration loading, the wiring of
//! engine, backends and simulator that the `cellgate` subcommands start, and
//! project-level tooling such as the feature matrix checker.

pub mod config;
pub mod features;
pub mod hardware;
pub mod sandbox;
pub mod sim_cli;
pub mod web_plane;
