#![warn(missing_docs)]
//! # cellgate-backends
//!
//! AT-command backends that implement [`cellgate_hal::ModemHal`] over any byte stream:
//! a serial port ([`serial`]) or an in-memory stream to the simulator.
//!
//! Layers, one job each:
//! - [`at`]: the AT protocol: [`at::AtCodec`] (sans-IO state machine) and
//!   [`at::AtChannel`] (tokio shell with queue, timeouts, URC forwarding).
//! - [`parse`]: parsers of standard 3GPP 27.007 / 27.005 answers into HAL types.
//! - [`dialect`]: what differs between module families; [`m35`], [`uc15`] and
//!   [`generic`] define the three dialects and their vendor-specific parsers.
//! - [`modem`]: [`AtModem`], the one [`cellgate_hal::ModemHal`] implementation, with
//!   init, URC events, call polling, watchdog, restarts and the SIM sweep.
//! - [`serial`]: opening serial ports and finding them.
//!
//! Start a module with [`open_modem`]; it picks the dialect from `AT+CGMM`.

pub mod at;
pub mod dialect;
pub mod discovery;
pub mod generic;
pub mod m35;
pub mod modem;
pub mod parse;
pub mod serial;
pub mod uc15;

pub use dialect::Dialect;
pub use m35::{M35Config, M35Modem};
pub use modem::{open_modem, AtModem, AtModemConfig, Charset, PowerCycleHook};
