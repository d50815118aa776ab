//! # cellgate-engine
//!
//! The hardware-agnostic gateway: SIP signalling, call routing and line management.
//! It talks to modules only through `cellgate_hal::ModemHal` and never depends on a
//! backend or on the simulator.
//!
//! The core ([`gateway::Gateway`]) is a sans-IO state machine; [`runtime`] is the thin
//! tokio shell that feeds it sockets, module events and timers.

pub mod call;
pub mod cause;
pub mod connections;
pub mod gateway;
pub mod lines;
pub mod management;
pub mod runtime;
pub mod sip;
pub mod stun;
pub mod tls;
pub mod transport;
pub mod trust;

pub use gateway::{Gateway, GatewayConfig, ModemCommand, Output};
pub use trust::InboundTrust;
