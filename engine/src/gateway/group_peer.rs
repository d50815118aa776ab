//! Group peer protocol, version 1 (F-D.6): lines of other cellgate instances join the
//! hunt group of a server instance. A member sends a signed report of its group lines to
//! the server's SIP address every 10 s and whenever one of them becomes busy or idle; the
//! server keeps each device's report for 30 s and forwards to its idle numbers after its
//! own members. Codec and table: `cellgate_policy::gsm::group_peer`.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use cellgate_hal::LineId;
use cellgate_policy::gsm::group_peer::REPORT_INTERVAL;
use cellgate_policy::gsm::{PeerLine, RemoteMembers, Report};
use tracing::{debug, info, warn};

use super::Gateway;

/// This instance's part in a multi-device group (F-D.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupPeer {
    /// Holds the access line (`RoutingConfig::group`) and takes reports from members.
    Server {
        /// The secret shared with every member (HMAC-SHA256 key).
        secret: String,
    },
    /// Reports some of its lines to a server.
    Member {
        /// The server's SIP address (reports go there as UDP datagrams).
        server: SocketAddr,
        /// This device's id in the reports (`A-Za-z0-9._-`, at most 64).
        device: String,
        /// The secret shared with the server.
        secret: String,
        /// The lines that join the group; their numbers are `LinePolicy::sim_number`.
        lines: Vec<LineId>,
    },
}

/// Runtime state of the peer protocol.
#[derive(Debug, Default)]
pub(super) struct PeerState {
    /// Server: the members' last reports.
    pub remote: RemoteMembers,
    /// Member: when the next periodic report is due.
    pub next_report: Option<Instant>,
    /// Member: line states of the last report sent.
    pub last_sent: Option<Vec<PeerLine>>,
}

impl Gateway {
    /// Server: a `{` datagram is a group report; stores it when valid, drops it otherwise.
    pub(super) fn handle_group_report(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Some(GroupPeer::Server { secret }) = &self.config.routing.group_peer else {
            debug!(%source, "group report but this instance is no group server: dropped");
            return;
        };
        match Report::decode(data, secret.as_bytes(), self.unix_time(now)) {
            Ok(report) => {
                debug!(%source, device = %report.device, "group report");
                if !self.management.peer.remote.insert(now, report) {
                    debug!(%source, "older group report: ignored");
                }
            }
            Err(e) => warn!(%source, error = %e, "dropping group report"),
        }
    }

    /// The idle numbers of other devices' lines at `now` (server only).
    pub(super) fn remote_idle_numbers(&self, now: Instant) -> Vec<String> {
        match &self.config.routing.group_peer {
            Some(GroupPeer::Server { .. }) => self.management.peer.remote.idle_numbers(now),
            _ => Vec::new(),
        }
    }

    /// Server: drops expired reports. Member: sends a report when due or when one of its
    /// group lines changed state.
    pub(super) fn sync_group_peer(&mut self, now: Instant) {
        let Some(peer) = self.config.routing.group_peer.clone() else {
            return;
        };
        match peer {
            GroupPeer::Server { .. } => {
                if self.management.peer.remote.expire(now) {
                    info!("group: a member device stopped reporting");
                }
            }
            GroupPeer::Member {
                server,
                device,
                secret,
                lines,
            } => {
                let current: Vec<PeerLine> = lines
                    .iter()
                    .filter_map(|&line| {
                        let number = self.line_policy(line).sim_number.clone()?;
                        let idle = self.lines.get(line).is_some_and(|s| s.available());
                        Some(PeerLine { number, idle })
                    })
                    .collect();
                let state = &mut self.management.peer;
                let due = state.next_report.is_none_or(|t| now >= t);
                if !due && state.last_sent.as_ref() == Some(&current) {
                    return;
                }
                state.next_report = Some(now + REPORT_INTERVAL);
                state.last_sent = Some(current.clone());
                let report = Report {
                    device,
                    sent: self.unix_time(now),
                    lines: current,
                };
                let payload = Bytes::from(report.encode(secret.as_bytes()));
                self.transmit(server, payload);
            }
        }
    }

    /// When the peer protocol next needs [`Gateway::handle_timeout`].
    pub(super) fn group_peer_deadline(&self) -> Option<Instant> {
        match &self.config.routing.group_peer {
            Some(GroupPeer::Server { .. }) => self.management.peer.remote.next_expiry(),
            Some(GroupPeer::Member { .. }) => self.management.peer.next_report,
            None => None,
        }
    }
}
