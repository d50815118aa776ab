//! SIP over TLS (RFC 3261 §26.2, F-6.4.17's open equivalent): the server side.
//!
//! The certificate chain and private key come from PEM files; the handshake uses
//! rustls with the `ring` provider. A TLS connection then carries SIP exactly like a
//! TCP one (see [`crate::transport`]): the stream path is generic over the stream type.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use tokio_rustls::rustls::{ClientConfig, ServerConfig};
pub use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A TLS handshake that takes longer than this is abandoned (its connection slot freed).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TLS server settings cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The certificate file is missing, unreadable or holds no PEM certificate.
    #[error("certificate {path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file is missing, unreadable or holds no PEM private key.
    #[error("private key {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The CA file is missing, unreadable or holds no usable PEM certificate.
    #[error("CA certificates {path}: {reason}")]
    Ca {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("certificate {cert} with key {key}: {reason}")]
    Pair {
        /// Certificate file.
        cert: PathBuf,
        /// Key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

/// Server settings from a PEM certificate chain (leaf first) and a PEM private key
/// (PKCS#8, PKCS#1 or SEC1).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let cert_error = |reason: String| TlsSetupError::Certificate {
        path: cert.to_owned(),
        reason,
    };
    let key_error = |reason: String| TlsSetupError::Key {
        path: key.to_owned(),
        reason,
    };
    let cert_pem = std::fs::read(cert).map_err(|e| cert_error(e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(format!("not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(cert_error("no CERTIFICATE in the file".into()));
    }
    let key_pem = std::fs::read(key).map_err(|e| key_error(e.to_string()))?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| key_error(format!("no PEM private key: {e}")))?;
    server_config_from_der(chain, private_key).map_err(|reason| TlsSetupError::Pair {
        cert: cert.to_owned(),
        key: key.to_owned(),
        reason,
    })
}

/// Server settings from a DER certificate chain and private key.
pub fn server_config_from_der(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

/// Client settings for the gateway's own TLS connections (issue #5): servers must
/// present a chain to one of the PEM certificates in `ca` (e.g. the provider's CA).
pub fn client_config(ca: &Path) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let ca_error = |reason: String| TlsSetupError::Ca {
        path: ca.to_owned(),
        reason,
    };
    let pem = std::fs::read(ca).map_err(|e| ca_error(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_error(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(ca_error("no CERTIFICATE in the file".into()));
    }
    client_config_from_der(certs).map_err(ca_error)
}

/// Client settings trusting the DER certificates `roots`.
pub fn client_config_from_der(
    roots: Vec<CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, String> {
    let mut store = rustls::RootCertStore::empty();
    for cert in roots {
        store.add(cert).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
