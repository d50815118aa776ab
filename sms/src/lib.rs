//! SMS PDU codec (3GPP TS 23.040 / 23.038) for cellgate: the AT backend decodes what
//! modules report, the engine splits and joins messages, and the GSM network simulator
//! encodes what its modems show.
//!
//! Pure data transformation: no I/O, no async, no clock (times are values passed in).
//! Malformed input yields a [`PduError`] naming the field and octet offset; it never
//! panics.
//!
//! ```
//! use cellgate_sms::{decode_mo, encode_submit, Address, Submit};
//!
//! let submit = Submit::new(Address::international("46708251358"), "hellohello");
//! let pdu = encode_submit(&submit, None).unwrap();
//! assert_eq!(pdu.hex, "0001000B916407281553F800000AE8329BFD4697D9EC37");
//! assert_eq!(pdu.tpdu_len, 22); // AT+CMGS=22
//! let (_, back) = decode_mo(&pdu.hex).unwrap();
//! assert_eq!(back.text(), Some("hellohello"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod address;
pub mod dcs;
pub mod deliver;
pub mod error;
pub mod gsm7;
pub mod hex;
pub mod pdu;
mod reader;
pub mod reassembly;
pub mod split;
pub mod status_report;
pub mod submit;
pub mod submit_report;
pub mod timestamp;
pub mod ucs2;
pub mod udh;
pub mod user_data;
pub mod vp;

pub use address::{Address, NumberingPlan, TypeOfNumber};
pub use dcs::{Alphabet, Dcs, MessageClass};
pub use deliver::Deliver;
pub use error::{EncodeError, PduError, PduErrorKind};
pub use gsm7::{is_gsm7, Gsm7Tables, NationalLanguage};
pub use hex::{decode_hex, encode_hex};
pub use pdu::{
    decode, decode_mo, decode_mo_bytes, decode_mo_tpdu_bytes, decode_mt, decode_mt_bytes,
    decode_mt_tpdu_bytes, encode_deliver, encode_deliver_tpdu, encode_status_report,
    encode_status_report_tpdu, encode_submit, encode_submit_tpdu, Direction, EncodedPdu, MtPdu,
    Tpdu,
};
pub use reassembly::{CompleteMessage, Fragment, IncompleteMessage, Reassembler};
pub use split::{split_binary, split_text, Encoding, MessagePart, SplitError, SplitOptions};
pub use status_report::{DeliveryOutcome, StatusReport};
pub use submit::Submit;
pub use submit_report::SubmitReport;
pub use timestamp::SmscTimestamp;
pub use udh::{Concat, ConcatRef, InformationElement, Udh};
pub use user_data::UserData;
pub use vp::Validity;
