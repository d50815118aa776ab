#![warn(missing_docs)]
//! # cellgate-backends
//!
//! AT-command backends that implement [`cellgate_hal::ModemHal`] over any byte stream:
//! a serial port ([`serial`]) or an in-memory stream to the simulator.
//!
//! Layers, one job each:
//! - [`at`]: the AT protocol: [`at::AtCodec`] (sans-IO state machine) and
//!   [`at::AtChannel`] (tokio shell with queue, timeouts, URC forwarding).
//! - [`parse`]: parsers of standard 3GPP 27.007 answers into HAL types, shared by profiles.
//! - [`m35`]: the Quectel M35 profile.
//! - [`serial`]: opening a serial port.

pub mod at;
pub mod m35;
pub mod parse;
pub mod serial;

pub use m35::{M35Config, M35Modem};
