//! # cellgate-web
//!
//! The management plane over HTTP: the status pages of manual §5.2 behind the three login
//! levels of §5.1.2, and the machine interfaces GoIP users' scripts call
//! (`../shared/spec/GOIP-INTERFACES.md` §7).

pub mod auth;
pub mod host_network;
pub mod pages;
pub mod server;
pub mod sessions;
pub mod status_xml;
pub mod text;
