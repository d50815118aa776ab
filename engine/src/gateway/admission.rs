//! Who may use the gateway (F-6.4.9): a client registered with the built-in registrar,
//! or a trusted source address that also passes the digest check when one is
//! configured. Refused requests never reach a modem.

use std::net::SocketAddr;
use std::time::Instant;

use ezk_sip_types::Name;
use tracing::{debug, info};

use super::Gateway;
use crate::sip::digest::DigestVerdict;
use crate::sip::message::Request;

/// The verdict on an INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// The call may proceed.
    Admitted,
    /// `403`: untrusted source or wrong credentials.
    Refused,
    /// `401` with a digest challenge (`stale` when the nonce had expired).
    Challenge {
        /// The request's nonce had expired.
        stale: bool,
    },
}

impl Gateway {
    /// Whether `source` is a current binding of the built-in registrar (such a client
    /// proved the password already).
    fn is_registered_client(&self, now: Instant, source: SocketAddr) -> bool {
        self.registrar
            .as_ref()
            .is_some_and(|r| r.trusts(now, source))
    }

    /// Checks an INVITE from `source`.
    pub(super) fn admit_invite(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
    ) -> Admission {
        let registered = self.is_registered_client(now, source);
        if !registered && !self.config.trust.allows(source.ip()) {
            info!(%source, "INVITE from untrusted source refused");
            return Admission::Refused;
        }
        if registered {
            debug!(%source, "INVITE from a registered client");
            return Admission::Admitted;
        }
        match self.check_digest(now, request) {
            None => Admission::Admitted,
            Some(DigestVerdict::Authorized(user)) => {
                debug!(%user, "INVITE authenticated");
                Admission::Admitted
            }
            Some(DigestVerdict::Rejected) => {
                info!(%source, "INVITE with wrong credentials refused");
                Admission::Refused
            }
            Some(DigestVerdict::Missing) => Admission::Challenge { stale: false },
            Some(DigestVerdict::Stale) => Admission::Challenge { stale: true },
        }
    }

    /// Whether a MESSAGE from `source` is accepted: like an INVITE, except that missing
    /// credentials are refused rather than challenged.
    pub(super) fn admits_message(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
    ) -> bool {
        self.is_registered_client(now, source)
            || (self.config.trust.allows(source.ip())
                && self
                    .check_digest(now, request)
                    .is_none_or(|v| matches!(v, DigestVerdict::Authorized(_))))
    }

    /// `WWW-Authenticate` headers of a challenge (none without a digest server).
    pub(super) fn digest_challenges(&mut self, now: Instant, stale: bool) -> Vec<(Name, String)> {
        let challenges = match self.digest.as_mut() {
            Some(d) => d.challenge(now, &mut self.ids, stale),
            None => Vec::new(),
        };
        challenges
            .into_iter()
            .map(|c| (Name::WWW_AUTHENTICATE, c))
            .collect()
    }

    /// F-6.4.9 digest check of a request; `None` when no digest is configured.
    fn check_digest(&mut self, now: Instant, request: &Request) -> Option<DigestVerdict> {
        let users = self.config.inbound_digest.as_ref()?.users.clone();
        let server = self.digest.as_mut()?;
        Some(
            server.verify(now, &request.method, &request.headers, false, |u| {
                users
                    .iter()
                    .find(|(name, _)| name == u)
                    .map(|(_, p)| p.clone())
            }),
        )
    }
}
