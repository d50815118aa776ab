//! cellgate: the gateway binary's library side — project-level tooling that
//! the `cellgate` command exposes (for now, the feature matrix checker).

pub mod features;
