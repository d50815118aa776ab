//! # cellgate-goip
//!
//! The gateway side of the GoIP "SMS server" protocol (GOIP-INTERFACES.md §1–§3): every
//! line with the function enabled is an independent UDP client of the user's SMS server,
//! registering and staying registered with a keepalive every 30 s, and showing whether
//! the server acknowledges it (`SMS_LOGIN`, status column "SMS", F-5.2.1.8).
//!
//! Layout, sans-IO like the engine:
//!
//! * [`keepalive`] builds the keepalive datagram from a line's facts;
//! * [`ack`] recognises the server's acks, liberally;
//! * [`client`] is one line's state machine: time and datagrams in, datagrams and the
//!   next deadline out;
//! * [`config`] holds the per-line settings and their validation;
//! * [`shell`] is the tokio shell: sockets, name resolution, the gateway's status
//!   snapshots and the [`SmsLogin`] flags for the web UI.
//!
//! Reports (§4), bulk SMS sessions (§5) and server commands (§6) are not built yet; they
//! will be further parts of [`client::LineClient`] and arrive on the same per-line
//! socket.

#![warn(missing_docs)]

pub mod ack;
pub mod client;
pub mod config;
pub mod keepalive;
pub mod shell;

pub use client::{ClientConfig, LineClient};
pub use config::{validate_all, ConfigError, LineSetup, SmsServerConfig};
pub use keepalive::LineReport;
pub use shell::{run, RunError, SmsLogin};
