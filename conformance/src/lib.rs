//! # cellgate-conformance
//!
//! Harness for end-to-end scenarios that run the whole gateway — engine, real AT
//! backend, simulated GSM network — in one process on tokio's virtual clock. A scenario
//! plays the SIP peer through an in-memory transport and records every message with its
//! virtual time, so flows can be asserted and snapshotted byte-for-byte.

pub mod signal;
pub mod sip_peer;

pub use sip_peer::{FlowEntry, SipPeer, TestBed, GATEWAY, PEER};
