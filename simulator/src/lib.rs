//! # cellgate-simulator
//!
//! A deterministic software GSM network for testing gateways without hardware. Its modems
//! speak a real module's AT dialect (Quectel M35 for now) over an in-memory byte stream,
//! so the AT backend runs unchanged against them. Everything runs on the tokio clock and
//! all randomness is seeded: under `#[tokio::test(start_paused = true)]` a scenario plays
//! out identically every time, in virtual time.
//!
//! Start with [`Network::new`], attach modems with [`Network::attach_modem`], drive the
//! outside world with [`Network::phone_calls_line`] / [`Network::phone_hangs_up`], and
//! assert with [`Network::calls`], [`Network::transcript`] and [`Network::event_log`].
//! See `docs/simulator.md` for the numbering plan and the AT subset.

#![warn(missing_docs)]

pub mod audio;
pub mod causes;
pub mod clock;
pub mod faults;
pub mod luhn;
pub mod modem;
pub mod network;
pub mod numbering;
pub mod operator;
pub mod phone;
pub mod scenario;
pub mod sim_card;
pub mod smsc;
pub mod transcript;
mod ussd;

pub use audio::{AudioConfig, SimAudio};
pub use faults::Fault;
pub use modem::{ModuleProfile, Quirks};
pub use network::{CallSnapshot, CallState, Network, NetworkConfig, SimError, SERIAL_BUFFER_BYTES};
pub use numbering::{CalleeBehaviour, NumberRule, NumberingPlan};
pub use operator::{Cell, Operator, UssdMenu, UssdReply};
pub use phone::{PhoneBehaviour, PhoneSound};
pub use scenario::{Scenario, ScenarioError};
pub use sim_card::SimCard;
pub use sim_card::{SimLock, SmsStatus, StoredSms};
pub use smsc::{SmsOptions, SmscMessage, SmscText};
