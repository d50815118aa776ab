//! Management of the GSM side of each line (manual §6.11 to §6.15, Appendix D): the
//! values and timers the engine needs to drive a module, with no I/O.
//!
//! | module | job |
//! |---|---|
//! | [`imei`] | valid IMEIs, random IMEIs keeping the TAC, when to change them (§6.12) |
//! | [`bcch`] | cell scan order, fixed cell, cell rotation (§6.15) |
//! | [`forwarding`] | SIM call forwarding per condition and its status text (§6.11, F-5.2.4.1) |
//! | [`operator`] | automatic or fixed operator (§6.14) |
//! | [`group`] | GSM group (hunt) mode through busy forwarding (Appendix D) |
//! | [`group_peer`] | group peer protocol v1: lines of other instances join (F-D.6) |
//!
//! Syntax and the choices made where the manual is silent: `docs/gsm-management.md`.

pub mod bcch;
pub mod forwarding;
pub mod group;
pub mod group_peer;
pub mod imei;
pub mod operator;

pub use bcch::{
    parse_arfcns, parse_interval, scan_result, BcchError, BcchList, BcchMode, BcchRotation,
    RotationConfig,
};
pub use forwarding::{status_text, ForwardPolicy, ForwardingConfig, ForwardingError};
pub use group::{GroupChange, GroupError, GroupPlan, GroupState, GroupTarget};
pub use group_peer::{PeerError, PeerLine, RemoteMembers, Report};
pub use imei::{luhn_check_digit, Imei, ImeiError, ImeiPolicy, ImeiPolicyError, ImeiSchedule};
pub use operator::{OperatorChoice, OperatorError};
