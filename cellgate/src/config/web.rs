//! `[web]`: the management plane's HTTP server and its logins (§5.1.2, F-6.1.5).
//!
//! There is no default password: without `admin_password` there is no web server, and a
//! factory password (`admin`, `1234`) is refused at load, so an installation never
//! answers to the credentials every scanner tries first.

use std::net::SocketAddr;
use std::path::PathBuf;

use cellgate_web::auth::{Accounts, Level};
use serde::Deserialize;

/// `[web]` section.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    /// Address and port of the web server (F-6.1.5), e.g. `0.0.0.0:80`.
    pub listen: SocketAddr,
    /// Password of `admin` (F-5.1.2.3). Required: at least 8 characters, not a factory
    /// default.
    pub admin_password: String,
    /// Password of `user` (F-5.1.2.4); absent: the level is disabled.
    pub user_password: Option<String>,
    /// Password of `sms` (F-5.1.2.5); absent: the level is disabled.
    pub sms_password: Option<String>,
    /// File keeping the last web login across restarts (F-5.2.0.5), relative to the
    /// configuration file; absent: kept in memory only.
    pub login_log: Option<PathBuf>,
}

impl std::fmt::Debug for WebSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSection")
            .field("listen", &self.listen)
            .field("user_enabled", &self.user_password.is_some())
            .field("sms_enabled", &self.sms_password.is_some())
            .field("login_log", &self.login_log)
            .finish_non_exhaustive()
    }
}

impl WebSection {
    /// The enabled accounts; the error names the key of a refused password.
    pub fn accounts(&self) -> Result<Accounts, String> {
        let mut accounts = Accounts::new();
        accounts
            .enable(Level::Admin, &self.admin_password, "web.admin_password")
            .map_err(|e| e.to_string())?;
        if let Some(p) = &self.user_password {
            accounts
                .enable(Level::User, p, "web.user_password")
                .map_err(|e| e.to_string())?;
        }
        if let Some(p) = &self.sms_password {
            accounts
                .enable(Level::Sms, p, "web.sms_password")
                .map_err(|e| e.to_string())?;
        }
        Ok(accounts)
    }
}
