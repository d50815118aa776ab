//! The AT command layer shared by every module profile: command description, the
//! sans-IO protocol codec and its tokio shell.

pub mod channel;
pub mod codec;
pub mod command;

pub use channel::{AtChannel, AtResponse, ChannelConfig};
pub use codec::{AtCodec, AtItem, Final, Urc};
pub use command::{AtCommand, CommandError, InfoShape, Timeouts};

/// The instant type the codec's time arguments use (tokio's, so tests can pause time).
pub use tokio::time::Instant;
