//! Starts the management plane (`cellgate-web`) beside a running gateway, for
//! `cellgate run` (`[web]`) and `cellgate simulate --web`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cellgate_engine::management::ManagementHandle;
use cellgate_web::auth::{Accounts, Level};
use cellgate_web::host_network::{self, HostNetworkConfig};
use cellgate_web::server::{serve, SmsLoginFn, WebState};
use cellgate_web::sessions::Sessions;
use tracing::warn;

/// What the web server is started with.
pub struct WebPlane {
    /// Listen address.
    pub listen: SocketAddr,
    /// Enabled logins.
    pub accounts: Accounts,
    /// File of the web log, if kept across restarts.
    pub login_log: Option<PathBuf>,
    /// Host interfaces of the Basic status page.
    pub network: HostNetworkConfig,
    /// Offset of the times shown (the gateway's time zone).
    pub utc_offset: time::UtcOffset,
    /// SMS-server login per line (F-5.2.1.8).
    pub sms_login: SmsLoginFn,
}

impl WebPlane {
    /// The plane of `cellgate simulate --web`: only `admin` with `password`, the host's
    /// default network, UTC, no SMS-server client.
    pub fn admin_only(listen: SocketAddr, password: &str) -> Result<Self, String> {
        let mut accounts = Accounts::new();
        accounts
            .enable(Level::Admin, password, "--web-password")
            .map_err(|e| e.to_string())?;
        Ok(Self {
            listen,
            accounts,
            login_log: None,
            network: HostNetworkConfig::default(),
            utc_offset: time::UtcOffset::UTC,
            sms_login: Arc::new(|_| None),
        })
    }

    /// Binds the listen address and serves in a background task until the process ends;
    /// returns the bound address.
    pub async fn start(
        self,
        gateway: ManagementHandle,
    ) -> Result<SocketAddr, Box<dyn std::error::Error>> {
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|e| format!("web.listen = {}: {e}", self.listen))?;
        let local = listener.local_addr()?;
        let network = self.network;
        let state = WebState::new(
            self.accounts,
            Sessions::new(self.login_log),
            gateway,
            self.sms_login,
            Arc::new(move || host_network::read(&network)),
            Arc::new(unix_now),
            self.utc_offset,
        );
        tokio::spawn(async move {
            if let Err(e) = serve(listener, state, std::future::pending()).await {
                warn!(error = %e, "web server stopped");
            }
        });
        Ok(local)
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A random password for `cellgate simulate --web` when none is given: printed once at
/// start, valid only for that run.
pub fn one_time_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..14)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}
