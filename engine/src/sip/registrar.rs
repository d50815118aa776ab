//! The built-in registrar of F-6.4.6 ("Proxy mode"): SIP softphones register with the
//! gateway itself, so it can be used with no call platform.
//!
//! As the manual says, only the password is checked: any user name that answers the
//! digest challenge with the configured password may register (MD5 or SHA-256,
//! `qop=auth`, constant-time comparison in [`DigestServer`]). The address-of-record is
//! the `To` user. One binding per user: the latest `Contact`, reached at the address
//! the REGISTER came from (so a softphone behind NAT is reached where it sent from).
//! A registered binding's source address may place calls through the gateway;
//! GSM -> SIP calls can be routed to a registered user. Calls between registered
//! clients are not supported (the manual says so too).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ezk_sip_types::{Method, Name, StatusCode};
use tracing::info;

use super::digest::{DigestAlgorithm, DigestServer, DigestVerdict};
use super::ids::IdGenerator;
use super::message::{Request, Response};

/// Settings of the built-in registrar.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Realm of the challenge.
    pub realm: String,
    /// The one password every client must know (required; there is no default).
    pub password: String,
    /// Shortest registration accepted (shorter ones get `423` with `Min-Expires`).
    pub min_expires: u32,
    /// Longest registration granted (longer requests are shortened).
    pub max_expires: u32,
    /// Algorithms offered, in this order (empty: SHA-256 then MD5).
    pub algorithms: Vec<DigestAlgorithm>,
}

impl std::fmt::Debug for RegistrarConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrarConfig")
            .field("realm", &self.realm)
            .field("password", &"<hidden>")
            .field("min_expires", &self.min_expires)
            .field("max_expires", &self.max_expires)
            .field("algorithms", &self.algorithms)
            .finish()
    }
}

impl RegistrarConfig {
    /// A registrar with `password`, realm `cellgate`, registrations of 60 s to 1 h,
    /// offering MD5 then SHA-256: many softphones (and SIPp) read only the first
    /// challenge and know MD5 alone, while RFC 8760 clients pick SHA-256 anyway.
    pub fn new(password: &str) -> Self {
        Self {
            realm: "cellgate".into(),
            password: password.to_owned(),
            min_expires: 60,
            max_expires: 3600,
            algorithms: vec![DigestAlgorithm::Md5, DigestAlgorithm::Sha256],
        }
    }
}

/// One registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Address-of-record user (the `To` user of the REGISTER).
    pub user: String,
    /// The registered `Contact` URI, e.g. `sip:alice@192.0.2.7:5062`.
    pub contact: String,
    /// Where the client is reached: the source of its REGISTER.
    pub source: SocketAddr,
    /// When the binding lapses.
    pub expires_at: Instant,
}

/// The registrar's state: its digest server and the bindings.
#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    digest: DigestServer,
    bindings: BTreeMap<String, Binding>,
}

impl Registrar {
    /// An empty registrar.
    pub fn new(config: RegistrarConfig) -> Self {
        let digest = DigestServer::new(
            &config.realm,
            config.algorithms.clone(),
            Duration::from_secs(300),
        );
        Self {
            config,
            digest,
            bindings: BTreeMap::new(),
        }
    }

    /// The current binding of `user`, if any and not expired.
    pub fn binding(&self, now: Instant, user: &str) -> Option<&Binding> {
        self.bindings.get(user).filter(|b| b.expires_at > now)
    }

    /// Every current binding.
    pub fn bindings(&self, now: Instant) -> impl Iterator<Item = &Binding> {
        self.bindings.values().filter(move |b| b.expires_at > now)
    }

    /// Whether `source` is the address of a current binding (such a client may place
    /// calls: it proved the password when it registered).
    pub fn trusts(&self, now: Instant, source: SocketAddr) -> bool {
        self.bindings(now).any(|b| b.source == source)
    }

    /// Drops expired bindings.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.bindings.retain(|user, b| {
            let keep = b.expires_at > now;
            if !keep {
                info!(%user, "registration expired");
            }
            keep
        });
    }

    /// When the next binding expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.bindings.values().map(|b| b.expires_at).min()
    }

    /// Answers a REGISTER from `source`: `401` challenge, `403` for a wrong password,
    /// `423` for too short a lifetime, `400` without a usable Contact, else `200` with
    /// the binding (or its removal for `Expires: 0`).
    pub fn handle_register(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        ids: &mut IdGenerator,
    ) -> Response {
        let password = self.config.password.clone();
        let verdict = self
            .digest
            .verify(now, &Method::REGISTER, &request.headers, false, |_| {
                Some(password.clone())
            });
        let tag = ids.tag();
        match verdict {
            DigestVerdict::Authorized(_) => {}
            DigestVerdict::Rejected => {
                info!(%source, "REGISTER with a wrong password refused");
                return Response::to_request(request, StatusCode::FORBIDDEN, Some(&tag));
            }
            DigestVerdict::Missing | DigestVerdict::Stale => {
                let stale = verdict == DigestVerdict::Stale;
                let mut resp = Response::to_request(request, StatusCode::UNAUTHORIZED, Some(&tag));
                for challenge in self.digest.challenge(now, ids, stale) {
                    resp.headers.insert(Name::WWW_AUTHENTICATE, challenge);
                }
                return resp;
            }
        }
        let Some(user) = to_user(request) else {
            return bad_request(request, &tag, "no user in To");
        };
        let contact = request
            .headers
            .get_raw(&Name::CONTACT)
            .next()
            .map(|c| c.to_string());
        let header_expires = request
            .headers
            .get_raw(&Name::EXPIRES)
            .next()
            .and_then(|e| e.trim().parse::<u32>().ok());
        let Some(contact) = contact else {
            // A query: report the current binding.
            let mut resp = Response::to_request(request, StatusCode::OK, Some(&tag));
            if let Some(b) = self.binding(now, &user) {
                let left = b.expires_at.saturating_duration_since(now).as_secs();
                resp.headers
                    .insert(Name::CONTACT, format!("<{}>;expires={left}", b.contact));
            }
            return resp;
        };
        let requested = contact_expires(&contact).or(header_expires).unwrap_or(3600);
        if contact.trim() == "*" || requested == 0 {
            if self.bindings.remove(&user).is_some() {
                info!(%user, %source, "unregistered");
            }
            return Response::to_request(request, StatusCode::OK, Some(&tag));
        }
        let Some(uri) = contact_uri(&contact) else {
            return bad_request(request, &tag, "unusable Contact");
        };
        if requested < self.config.min_expires {
            let mut resp =
                Response::to_request(request, StatusCode::INTERVAL_TOO_BRIEF, Some(&tag));
            resp.headers
                .insert(Name::MIN_EXPIRES, self.config.min_expires.to_string());
            return resp;
        }
        let granted = requested.min(self.config.max_expires);
        info!(%user, %source, contact = %uri, granted, "registered with the built-in registrar");
        self.bindings.insert(
            user.clone(),
            Binding {
                user,
                contact: uri.clone(),
                source,
                expires_at: now + Duration::from_secs(u64::from(granted)),
            },
        );
        let mut resp = Response::to_request(request, StatusCode::OK, Some(&tag));
        resp.headers
            .insert(Name::CONTACT, format!("<{uri}>;expires={granted}"));
        resp.headers.insert(Name::EXPIRES, granted.to_string());
        resp
    }
}

fn bad_request(request: &Request, tag: &str, reason: &str) -> Response {
    let mut resp = Response::to_request(request, StatusCode::BAD_REQUEST, Some(tag));
    resp.reason = Some(reason.into());
    resp
}

/// The user of the `To` URI: the address-of-record.
fn to_user(request: &Request) -> Option<String> {
    let to = request
        .headers
        .get::<ezk_sip_types::header::typed::FromTo>(Name::TO)
        .ok()?;
    match &to.uri.uri.user_part {
        ezk_sip_types::uri::SipUriUserPart::User(u) => Some(u.to_string()),
        ezk_sip_types::uri::SipUriUserPart::UserPw(pw) => Some(pw.user.to_string()),
        ezk_sip_types::uri::SipUriUserPart::Empty => None,
    }
}

/// The URI of a Contact value (`<sip:a@h:p>;expires=60`, `"A" <sip:...>` or
/// `sip:a@h:p;expires=60`), checked to be a SIP URI.
fn contact_uri(contact: &str) -> Option<String> {
    let contact = contact.trim();
    let uri = match (contact.find('<'), contact.find('>')) {
        (Some(start), Some(end)) if start < end => &contact[start + 1..end],
        _ => contact.split(';').next().unwrap_or(""),
    };
    let uri = uri.trim();
    let lower = uri.to_ascii_lowercase();
    let valid = (lower.starts_with("sip:") || lower.starts_with("sips:"))
        && uri.len() <= 256
        && uri.parse::<ezk_sip_types::uri::SipUri>().is_ok();
    valid.then(|| uri.to_owned())
}

/// The `expires` parameter of a Contact value (after the URI).
fn contact_expires(contact: &str) -> Option<u32> {
    let params = match contact.find('>') {
        Some(end) => &contact[end + 1..],
        None => contact.split_once(';').map(|(_, p)| p).unwrap_or(""),
    };
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("expires")
            .then(|| v.trim().parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_values_are_parsed() {
        assert_eq!(
            contact_uri("\"A\" <sip:alice@192.0.2.7:5062;transport=udp>;expires=60").as_deref(),
            Some("sip:alice@192.0.2.7:5062;transport=udp")
        );
        assert_eq!(contact_expires("<sip:a@h>;expires=60"), Some(60));
        assert_eq!(contact_expires("sip:a@h;expires=30"), Some(30));
        assert_eq!(contact_expires("<sip:a@h;expires=9>"), None);
        assert_eq!(contact_uri("<http://x>"), None);
        assert_eq!(contact_uri("junk"), None);
    }
}
