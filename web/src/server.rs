//! The HTTP server: routes, authentication on every endpoint, sessions for the HTML
//! pages, and the line actions of the General status page.
//!
//! Paths follow the GoIP firmware (`/default/en_US/…`, also under `zh_CN`), because
//! operators' scripts call them (GOIP-INTERFACES §7.1).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use axum::Router;
use cellgate_engine::management::{LineAction, ManagementHandle};
use cellgate_hal::LineId;
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use crate::auth::{Accounts, Level};
use crate::host_network::HostNetwork;
use crate::pages::{self, PageData, StatusPage};
use crate::sessions::{Session, Sessions};
use crate::status_xml::{self, XmlContext};

/// SMS-server login per line (`None`: the function is off for that line).
pub type SmsLoginFn = Arc<dyn Fn(u16) -> Option<bool> + Send + Sync>;
/// Reads the host's network facts.
pub type NetworkFn = Arc<dyn Fn() -> HostNetwork + Send + Sync>;
/// The wall clock, Unix seconds (for the web log).
pub type WallClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// What the server needs from the rest of cellgate.
#[derive(Clone)]
pub struct WebState {
    inner: Arc<Inner>,
}

struct Inner {
    accounts: Accounts,
    sessions: Mutex<Sessions>,
    gateway: ManagementHandle,
    sms_login: SmsLoginFn,
    network: NetworkFn,
    wall: WallClock,
    utc_offset: time::UtcOffset,
}

/// Name of the session cookie.
const COOKIE: &str = "cg_session";

impl WebState {
    /// A server state. `sessions` holds the web log; `network` is called per Basic-status
    /// page view.
    pub fn new(
        accounts: Accounts,
        sessions: Sessions,
        gateway: ManagementHandle,
        sms_login: SmsLoginFn,
        network: NetworkFn,
        wall: WallClock,
        utc_offset: time::UtcOffset,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                accounts,
                sessions: Mutex::new(sessions),
                gateway,
                sms_login,
                network,
                wall,
                utc_offset,
            }),
        }
    }
}

/// The router of every management endpoint.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { Redirect::to("/default/en_US/status.html") }),
        )
        .route("/default/{lang}/status.html", any(status_html))
        .route("/default/{lang}/status.xml", any(status_xml))
        .route("/static/refresh.js", get(refresh_js))
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "not found") })
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WebState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// The page languages the firmware serves.
fn known_language(lang: &str) -> bool {
    matches!(lang, "en_US" | "zh_CN")
}

/// Every reply carries these.
fn harden(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

fn plain(status: StatusCode, text: &str) -> Response {
    harden(
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{text}\n"),
        )
            .into_response(),
    )
}

fn unauthorized() -> Response {
    let mut r = plain(StatusCode::UNAUTHORIZED, "login required");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"cellgate\", charset=\"UTF-8\""),
    );
    r
}

/// The query string and, for POST, the form body, as one list of pairs.
fn form_pairs(query: Option<&str>, method: &Method, body: &[u8]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    if method == Method::POST {
        pairs.extend(form_urlencoded::parse(body).into_owned());
    }
    pairs
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Result of checking a request's credentials.
enum Credentials {
    /// None were offered.
    Missing,
    /// Offered and wrong.
    Wrong,
    /// Valid, for this level.
    Valid(Level),
}

/// HTTP Basic or `u`/`p` parameters; either one valid is enough (§7.1).
fn credentials(state: &Inner, headers: &HeaderMap, pairs: &[(String, String)]) -> Credentials {
    let mut offered = false;
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        offered = true;
        if let Some(level) = state.accounts.check_basic(value) {
            return Credentials::Valid(level);
        }
    }
    if let (Some(u), Some(p)) = (field(pairs, "u"), field(pairs, "p")) {
        offered = true;
        if let Some(level) = state.accounts.check(u.as_bytes(), p.as_bytes()) {
            return Credentials::Valid(level);
        }
    }
    if offered {
        Credentials::Wrong
    } else {
        Credentials::Missing
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Why a request is not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// No valid credentials: challenge.
    Login,
    /// Too many failures from the address.
    Throttled,
    /// The session table is unusable.
    Internal,
}

impl Refused {
    fn reply(self) -> Response {
        match self {
            Refused::Login => unauthorized(),
            Refused::Throttled => plain(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins; try again later",
            ),
            Refused::Internal => plain(StatusCode::INTERNAL_SERVER_ERROR, "session table lost"),
        }
    }
}

/// Who a request is: its level and, for pages, its session.
struct Access {
    level: Level,
    /// The session (pages only).
    session: Option<Session>,
    /// Cookie token of a session opened by this request.
    new_cookie: Option<String>,
}

/// Authenticates a request: a live session cookie, else Basic or `u`/`p`. With
/// `open_session` (HTML pages) a valid login opens a session and is written to the web
/// log; machine requests never do.
fn check_in(
    state: &Inner,
    ip: IpAddr,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    open_session: bool,
) -> Result<Access, Refused> {
    let mut sessions = state.sessions.lock().map_err(|_| Refused::Internal)?;
    if sessions.throttled(ip, now()) {
        return Err(Refused::Throttled);
    }
    if let Some(token) = session_cookie(headers) {
        if let Some(s) = sessions.touch(&token, now()) {
            return Ok(Access {
                level: s.level,
                session: Some(s.clone()),
                new_cookie: None,
            });
        }
    }
    match credentials(state, headers, pairs) {
        Credentials::Valid(level) if open_session => {
            let token = sessions.login(level, ip, now(), (state.wall)());
            info!(%ip, user = level.user_name(), "web login");
            let session = sessions
                .touch(&token, now())
                .cloned()
                .ok_or(Refused::Internal)?;
            Ok(Access {
                level,
                session: Some(session),
                new_cookie: Some(token),
            })
        }
        Credentials::Valid(level) => Ok(Access {
            level,
            session: None,
            new_cookie: None,
        }),
        Credentials::Wrong => {
            sessions.failed(ip, now());
            warn!(%ip, "failed web login");
            Err(Refused::Login)
        }
        Credentials::Missing => Err(Refused::Login),
    }
}

async fn refresh_js() -> Response {
    harden(
        (
            [(
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            )],
            pages::REFRESH_SCRIPT,
        )
            .into_response(),
    )
}

async fn status_xml(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(lang): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !known_language(&lang) {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    let state = &state.inner;
    let pairs = form_pairs(query.as_deref(), &method, &body);
    let level = match check_in(state, peer.ip(), &headers, &pairs, false) {
        Ok(access) => access.level,
        Err(refused) => return refused.reply(),
    };
    if !level.sees_status() {
        return plain(StatusCode::FORBIDDEN, "this login may not see the status");
    }
    let Ok(snapshot) = state.gateway.snapshot().await else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the gateway is not running",
        );
    };
    let sms_login = |line: u16| (state.sms_login)(line);
    let document = if field(&pairs, "type") == Some("base") {
        status_xml::base_document(&snapshot)
    } else {
        status_xml::lines_document(
            &snapshot,
            &XmlContext {
                sms_login: &sms_login,
                utc_offset: state.utc_offset,
            },
        )
    };
    harden(
        (
            [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            document,
        )
            .into_response(),
    )
}

/// A line action named in a form: `reset_time`, `reset_sms`, `reset_cdr`, `restore`,
/// `module_on`, `module_off`.
fn parse_action(name: &str) -> Option<LineAction> {
    Some(match name {
        "reset_time" => LineAction::ResetRemainingTime,
        "reset_sms" => LineAction::ResetRemainingSms,
        "reset_cdr" => LineAction::ResetCdr,
        "restore" => LineAction::Restore,
        "module_on" => LineAction::SetModuleEnabled(true),
        "module_off" => LineAction::SetModuleEnabled(false),
        _ => return None,
    })
}

/// What a posted form asks for: one line's button (`one=<action>:<line>`) or an action
/// on the ticked lines (`action=<action>` with `line=<n>` fields).
fn requested_action(pairs: &[(String, String)]) -> Result<(String, Vec<LineId>), String> {
    if let Some(one) = field(pairs, "one") {
        let (name, line) = one
            .split_once(':')
            .ok_or_else(|| format!("malformed action '{one}'"))?;
        let line: u16 = line
            .parse()
            .map_err(|_| format!("malformed line number '{line}'"))?;
        return Ok((name.to_owned(), vec![LineId(line)]));
    }
    let name = field(pairs, "action").ok_or("no action given")?;
    let mut lines = Vec::new();
    for (k, v) in pairs {
        if k == "line" {
            let n: u16 = v
                .parse()
                .map_err(|_| format!("malformed line number '{v}'"))?;
            if !lines.contains(&LineId(n)) {
                lines.push(LineId(n));
            }
        }
    }
    if lines.is_empty() {
        return Err("tick at least one line first".into());
    }
    Ok((name.to_owned(), lines))
}

fn describe(name: &str, lines: &[LineId]) -> String {
    let what = match name {
        "reset_time" => "remaining time reset",
        "reset_sms" => "remaining SMS reset",
        "reset_cdr" => "ACD/ASR reset",
        "restore" => "restored",
        "module_on" => "module switched on",
        "module_off" => "module switched off",
        _ => "done",
    };
    let list: Vec<String> = lines.iter().map(|l| l.0.to_string()).collect();
    format!("{what}: line {}", list.join(", "))
}

async fn status_html(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(lang): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !known_language(&lang) {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    let inner = &state.inner;
    let pairs = form_pairs(query.as_deref(), &method, &body);
    let (session, new_cookie) = match check_in(inner, peer.ip(), &headers, &pairs, true) {
        Ok(Access {
            session: Some(session),
            new_cookie,
            ..
        }) => (session, new_cookie),
        Ok(_) => return Refused::Internal.reply(),
        Err(refused) => return refused.reply(),
    };
    if !session.level.sees_status() {
        return plain(StatusCode::FORBIDDEN, "this login may not see the status");
    }
    let base = format!("/default/{lang}");
    let page = StatusPage::from_type(field(&pairs, "type"));
    let mut notice = None;
    if method == Method::POST {
        let csrf_ok = field(&pairs, "csrf")
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(session.csrf.as_bytes())));
        if !csrf_ok {
            return plain(
                StatusCode::FORBIDDEN,
                "the form is stale or was not sent from this page; reload and try again",
            );
        }
        if !session.level.acts_on_lines() {
            return plain(StatusCode::FORBIDDEN, "this login may not change lines");
        }
        let outcome = match requested_action(&pairs) {
            Ok((name, lines)) => match parse_action(&name) {
                Some(action) => match inner.gateway.apply(action, lines.clone()).await {
                    Ok(unknown) if unknown.is_empty() => {
                        info!(ip = %peer.ip(), action = %name, ?lines, "line action");
                        Ok((name, lines))
                    }
                    Ok(unknown) => Err(format!(
                        "no such line: {}",
                        unknown
                            .iter()
                            .map(|l| l.0.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    Err(e) => Err(e.to_string()),
                },
                None => Err(format!("unknown action '{name}'")),
            },
            Err(e) => Err(e),
        };
        match outcome {
            // Post/redirect/get: a reload must not repeat the action.
            Ok((name, lines)) => {
                let list: Vec<String> = lines.iter().map(|l| l.0.to_string()).collect();
                let location = format!(
                    "{base}/status.html?type=list&done={name}&lines={}",
                    list.join(",")
                );
                return with_cookie(Redirect::to(&location).into_response(), new_cookie);
            }
            Err(text) => notice = Some(text),
        }
    } else if let Some(done) = field(&pairs, "done") {
        // The notice is rebuilt from a known action and line numbers, never echoed, so
        // a crafted link cannot put its own words on the page.
        let lines: Option<Vec<LineId>> = field(&pairs, "lines").and_then(|list| {
            list.split(',')
                .take(256)
                .map(|n| n.parse().ok().map(LineId))
                .collect()
        });
        if let (Some(_), Some(lines)) = (parse_action(done), lines) {
            notice = Some(describe(done, &lines));
        }
    }
    let Ok(snapshot) = inner.gateway.snapshot().await else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the gateway is not running",
        );
    };
    let network = if page == StatusPage::Basic {
        // A few small file reads and getifaddrs: off the async workers.
        let read = inner.network.clone();
        tokio::task::spawn_blocking(move || read())
            .await
            .unwrap_or_default()
    } else {
        HostNetwork::default()
    };
    let sms_login = |line: u16| (inner.sms_login)(line);
    let html = pages::render(
        page,
        &PageData {
            snapshot: &snapshot,
            sms_login: &sms_login,
            network: &network,
            session: &session,
            utc_offset: inner.utc_offset,
            base: &base,
            notice: notice.as_deref(),
        },
    );
    let response =
        harden(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response());
    with_cookie(response, new_cookie)
}

fn with_cookie(mut response: Response, token: Option<String>) -> Response {
    if let Some(token) = token {
        let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    harden(response)
}
