//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760): MD5 and
//! SHA-256 with `qop=auth`.
//!
//! - [`DigestClient`] answers 401/407 challenges to the gateway's own requests
//!   (REGISTER, INVITE). It wraps ezk-sip-auth's `DigestAuthenticator` (the decision of
//!   `docs/decisions/0001-sip-stack.md`), which counts `nc` on reused credentials.
//! - [`DigestServer`] challenges requests to the gateway (incoming INVITEs, REGISTER to
//!   the built-in registrar) and verifies the answers. ezk-sip-auth has no verifier, so
//!   this side is ours: nonces come from the engine's id generator (seeded in
//!   simulation, OS entropy otherwise), responses are compared in constant time
//!   (`subtle`), a nonce lives for a bounded time (then the challenge says
//!   `stale=true`) and its `nc` must grow (replays are refused).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytesstr::BytesStr;
use ezk_sip_auth::{
    ClientAuthenticator, DigestAuthenticator, DigestCredentials, DigestError, DigestUser,
    RequestParts, ResponseParts,
};
use ezk_sip_types::header::typed::{Algorithm, AlgorithmValue, AuthResponse, QopOption, Username};
use ezk_sip_types::msg::{RequestLine, StatusLine};
use ezk_sip_types::{Headers, Method, Name};
use sha2::Digest as _;
use subtle::ConstantTimeEq;

use super::ids::IdGenerator;
use super::message::{Request, Response};

/// A digest hash algorithm the gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// MD5 (RFC 2617 / RFC 7616), what most SIP equipment still uses.
    Md5,
    /// SHA-256 (RFC 7616, RFC 8760).
    Sha256,
}

impl DigestAlgorithm {
    /// The `algorithm=` token.
    pub fn token(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    /// Lower-case hex digest of `data`.
    pub fn hash(self, data: &[u8]) -> String {
        match self {
            DigestAlgorithm::Md5 => format!("{:x}", md5::compute(data)),
            DigestAlgorithm::Sha256 => {
                let mut h = sha2::Sha256::new();
                h.update(data);
                format!("{:x}", h.finalize())
            }
        }
    }

    fn from_header(algorithm: &Algorithm) -> Option<Self> {
        match algorithm {
            Algorithm::AlgorithmValue(AlgorithmValue::MD5) => Some(DigestAlgorithm::Md5),
            Algorithm::AlgorithmValue(AlgorithmValue::SHA256) => Some(DigestAlgorithm::Sha256),
            _ => None,
        }
    }
}

/// Credentials of the gateway toward one server, answering its challenges.
pub struct DigestClient {
    inner: DigestAuthenticator,
}

impl std::fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestClient { .. }")
    }
}

impl DigestClient {
    /// Credentials for any realm.
    pub fn new(user: &str, password: &str) -> Self {
        let mut credentials = DigestCredentials::new();
        credentials.set_default(DigestUser::new(user, password.as_bytes().to_vec()));
        let mut inner = DigestAuthenticator::new(credentials);
        // RFC 8760 §2.6: answer with qop=auth even when a server forgets to ask.
        inner.enforce_qop = false;
        Self { inner }
    }

    /// A 401/407 rejected `request`: prepares credentials for the retry. An error means
    /// the retry would be pointless (same nonce rejected again: wrong password; or an
    /// algorithm we do not speak).
    pub fn on_challenge(
        &mut self,
        request: &Request,
        response: &Response,
    ) -> Result<(), DigestError> {
        let line = RequestLine {
            method: request.method.clone(),
            uri: request.uri.clone(),
        };
        let status = StatusLine {
            code: response.code,
            reason: response.reason.clone(),
        };
        self.inner.handle_rejection(
            RequestParts {
                line: &line,
                headers: &request.headers,
                body: &request.body,
            },
            ResponseParts {
                line: &status,
                headers: &response.headers,
                body: &response.body,
            },
        )
    }

    /// Adds the Authorization / Proxy-Authorization headers earned so far.
    pub fn authorize(&mut self, headers: &mut Headers) {
        headers.remove(&Name::AUTHORIZATION);
        headers.remove(&Name::PROXY_AUTHORIZATION);
        self.inner.authorize_request(headers);
    }
}

/// The outcome of checking a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestVerdict {
    /// Valid credentials of this user.
    Authorized(String),
    /// No credentials for our realm: challenge.
    Missing,
    /// Right password but an expired or unknown nonce: challenge with `stale=true`.
    Stale,
    /// Wrong password, unknown user, replayed nonce count, or unsupported parameters.
    Rejected,
}

#[derive(Debug, Clone)]
struct NonceState {
    issued: Instant,
    last_nc: u32,
}

/// Most nonces remembered at once; the oldest are forgotten first.
const MAX_NONCES: usize = 4096;

/// Issues challenges and verifies answers for one realm.
#[derive(Debug)]
pub struct DigestServer {
    realm: String,
    algorithms: Vec<DigestAlgorithm>,
    lifetime: Duration,
    nonces: HashMap<String, NonceState>,
    order: VecDeque<String>,
}

impl DigestServer {
    /// A server for `realm`, offering `algorithms` in order (RFC 8760 §2.4: one challenge
    /// per algorithm, preferred first), nonces valid for `lifetime`.
    pub fn new(realm: &str, algorithms: Vec<DigestAlgorithm>, lifetime: Duration) -> Self {
        let algorithms = if algorithms.is_empty() {
            vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
        } else {
            algorithms
        };
        Self {
            realm: realm.to_owned(),
            algorithms,
            lifetime,
            nonces: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// `WWW-Authenticate` (or `Proxy-Authenticate`) values for a fresh nonce.
    pub fn challenge(&mut self, now: Instant, ids: &mut IdGenerator, stale: bool) -> Vec<String> {
        let nonce = format!(
            "{}{}",
            ids.branch().trim_start_matches("z9hG4bK"),
            ids.tag()
        );
        if self.order.len() >= MAX_NONCES {
            if let Some(old) = self.order.pop_front() {
                self.nonces.remove(&old);
            }
        }
        self.order.push_back(nonce.clone());
        self.nonces.insert(
            nonce.clone(),
            NonceState {
                issued: now,
                last_nc: 0,
            },
        );
        let stale = if stale { ", stale=true" } else { "" };
        self.algorithms
            .iter()
            .map(|a| {
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
                    self.realm,
                    a.token()
                )
            })
            .collect()
    }

    /// Checks the `Authorization` (or, with `proxy`, `Proxy-Authorization`) headers of a
    /// request against `password_of(user)`.
    pub fn verify(
        &mut self,
        now: Instant,
        method: &Method,
        headers: &Headers,
        proxy: bool,
        password_of: impl Fn(&str) -> Option<String>,
    ) -> DigestVerdict {
        let name = if proxy {
            Name::PROXY_AUTHORIZATION
        } else {
            Name::AUTHORIZATION
        };
        let answers: Vec<AuthResponse> = match headers.try_get::<Vec<AuthResponse>>(name) {
            Some(Ok(list)) => list,
            Some(Err(_)) => return DigestVerdict::Rejected,
            None => return DigestVerdict::Missing,
        };
        let Some(answer) = answers.into_iter().find_map(|a| match a {
            AuthResponse::Digest(d) if d.realm == self.realm.as_str() => Some(d),
            _ => None,
        }) else {
            return DigestVerdict::Missing;
        };
        let Some(algorithm) = DigestAlgorithm::from_header(&answer.algorithm) else {
            return DigestVerdict::Rejected;
        };
        let (Username::Username(user), false) = (&answer.username, answer.userhash) else {
            return DigestVerdict::Rejected;
        };
        let Some(qop) = answer
            .qop_response
            .as_ref()
            .filter(|q| q.qop == QopOption::Auth)
        else {
            return DigestVerdict::Rejected; // we always ask for qop=auth
        };
        let Some(password) = password_of(user.as_str()) else {
            return DigestVerdict::Rejected;
        };
        let ha1 = algorithm.hash(format!("{user}:{}:{password}", self.realm).as_bytes());
        let ha2 = algorithm.hash(format!("{method}:{}", answer.uri).as_bytes());
        let expected = algorithm.hash(
            format!(
                "{ha1}:{}:{:08x}:{}:auth:{ha2}",
                answer.nonce, qop.nc, qop.cnonce
            )
            .as_bytes(),
        );
        let given = answer.response.as_str().to_ascii_lowercase();
        let matches: bool = expected.as_bytes().ct_eq(given.as_bytes()).into();
        if !matches {
            return DigestVerdict::Rejected;
        }
        let nonce_key: &str = answer.nonce.as_str();
        let Some(state) = self.nonces.get_mut(nonce_key) else {
            return DigestVerdict::Stale;
        };
        if now.saturating_duration_since(state.issued) > self.lifetime {
            return DigestVerdict::Stale;
        }
        if qop.nc <= state.last_nc {
            return DigestVerdict::Rejected; // replay
        }
        state.last_nc = qop.nc;
        DigestVerdict::Authorized(user.as_str().to_owned())
    }
}

/// The user name in a request's credentials for `realm`, if any (for logs and for the
/// registrar's binding table before verification).
pub fn claimed_user(headers: &Headers, proxy: bool) -> Option<String> {
    let name = if proxy {
        Name::PROXY_AUTHORIZATION
    } else {
        Name::AUTHORIZATION
    };
    let list = headers.try_get::<Vec<AuthResponse>>(name)?.ok()?;
    list.into_iter().find_map(|a| match a {
        AuthResponse::Digest(d) => match d.username {
            Username::Username(u) => Some(u.to_string()),
            Username::UsernameNonASCII(_) => None,
        },
        AuthResponse::Other(_) => None,
    })
}

/// Builds a 401 (or 407) response carrying `challenges`.
pub fn challenge_response(
    request: &Request,
    proxy: bool,
    challenges: &[String],
    to_tag: &str,
) -> Response {
    let code = if proxy {
        ezk_sip_types::StatusCode::PROXY_AUTHENTICATION_REQUIRED
    } else {
        ezk_sip_types::StatusCode::UNAUTHORIZED
    };
    let mut response = Response::to_request(request, code, Some(to_tag));
    let name = if proxy {
        Name::PROXY_AUTHENTICATE
    } else {
        Name::WWW_AUTHENTICATE
    };
    for c in challenges {
        response
            .headers
            .insert(name.clone(), BytesStr::from(c.as_str()));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Message;

    fn register(extra: &str) -> Request {
        let text = format!(
            "REGISTER sip:example.org SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKr1\r\n\
From: <sip:alice@example.org>;tag=f1\r\nTo: <sip:alice@example.org>\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\n\
{extra}Content-Length: 0\r\n\r\n"
        );
        match Message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn pw(user: &str) -> Option<String> {
        (user == "alice").then(|| "s3cret".to_owned())
    }

    /// The client (ezk-sip-auth) and our server agree, for both algorithms; nc grows on
    /// reuse and a replayed nc, a wrong password and an expired nonce are caught.
    #[test]
    fn client_and_server_agree_for_md5_and_sha256() {
        for algorithm in [DigestAlgorithm::Md5, DigestAlgorithm::Sha256] {
            let t0 = Instant::now();
            let mut ids = IdGenerator::seeded(3);
            let mut server =
                DigestServer::new("example.org", vec![algorithm], Duration::from_secs(300));
            let req = register("");
            assert_eq!(
                server.verify(t0, &Method::REGISTER, &req.headers, false, pw),
                DigestVerdict::Missing
            );
            let challenges = server.challenge(t0, &mut ids, false);
            assert!(challenges[0].contains(&format!("algorithm={}", algorithm.token())));
            let resp = challenge_response(&req, false, &challenges, "t");
            let mut client = DigestClient::new("alice", "s3cret");
            client.on_challenge(&req, &resp).unwrap();
            let mut retry = req.clone();
            client.authorize(&mut retry.headers);
            assert_eq!(
                server.verify(t0, &Method::REGISTER, &retry.headers, false, pw),
                DigestVerdict::Authorized("alice".into())
            );
            // Replaying the same nc is refused; the next use (nc=2) passes.
            assert_eq!(
                server.verify(t0, &Method::REGISTER, &retry.headers, false, pw),
                DigestVerdict::Rejected
            );
            let mut again = req.clone();
            client.authorize(&mut again.headers);
            let text = String::from_utf8_lossy(&again.to_bytes()).to_string();
            assert!(text.contains("nc=00000002"), "{text}");
            assert_eq!(
                server.verify(t0, &Method::REGISTER, &again.headers, false, pw),
                DigestVerdict::Authorized("alice".into())
            );
            // Expired nonce with a correct answer: stale.
            let mut later = req.clone();
            client.authorize(&mut later.headers);
            let late = t0 + Duration::from_secs(301);
            assert_eq!(
                server.verify(late, &Method::REGISTER, &later.headers, false, pw),
                DigestVerdict::Stale
            );
            // Wrong password.
            let mut wrong = DigestClient::new("alice", "guess");
            wrong.on_challenge(&req, &resp).unwrap();
            let mut bad = req.clone();
            wrong.authorize(&mut bad.headers);
            assert_eq!(
                server.verify(t0, &Method::REGISTER, &bad.headers, false, pw),
                DigestVerdict::Rejected
            );
        }
    }

    #[test]
    fn rfc7616_sha256_vector_hashes_as_specified() {
        // RFC 7616 §3.9.1 example (HTTP, but the hash rules are the same).
        let a = DigestAlgorithm::Sha256;
        let ha1 = a.hash(b"Mufasa:http-auth@example.org:Circle of Life");
        let ha2 = a.hash(b"GET:/dir/index.html");
        let response = a.hash(
            format!(
                "{ha1}:7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v:00000001:f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ:auth:{ha2}"
            )
            .as_bytes(),
        );
        assert_eq!(
            response,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn garbage_credentials_are_rejected_not_panicking() {
        let t0 = Instant::now();
        let mut server = DigestServer::new("example.org", vec![], Duration::from_secs(60));
        for extra in [
            "Authorization: Digest\r\n",
            "Authorization: Digest realm=\"example.org\"\r\n",
            "Authorization: Basic YWxpY2U6czNjcmV0\r\n",
            "Authorization: Digest username=\"alice\", realm=\"example.org\", nonce=\"x\", uri=\"sip:a\", response=\"00\", algorithm=MD5, qop=auth, nc=zz, cnonce=\"c\"\r\n",
        ] {
            let req = register(extra);
            let verdict = server.verify(t0, &Method::REGISTER, &req.headers, false, pw);
            assert!(matches!(verdict, DigestVerdict::Rejected | DigestVerdict::Missing), "{extra}: {verdict:?}");
        }
    }
}
