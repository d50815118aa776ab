//! Errors every backend reports in the same typed form.

use thiserror::Error;

/// Result of a HAL operation.
pub type HalResult<T> = Result<T, HalError>;

/// Why a modem or audio operation failed. The engine branches on these (retry, mark the
/// line out of service, map to a SIP status), so they are typed rather than strings.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HalError {
    /// The backend cannot do this operation at all (e.g. IMEI write on a generic module).
    #[error("operation not supported by this backend: {0}")]
    Unsupported(&'static str),
    /// The module reported a mobile-equipment error (`+CME ERROR: <code>`).
    #[error("module error CME {code}")]
    Cme {
        /// 3GPP TS 27.007 §9.2 code.
        code: u16,
    },
    /// The module reported a message-service error (`+CMS ERROR: <code>`).
    #[error("SMS error CMS {code}")]
    Cms {
        /// 3GPP TS 27.005 §3.2.5 code.
        code: u16,
    },
    /// The module answered a plain `ERROR` without a code.
    #[error("module answered ERROR")]
    Rejected,
    /// The module did not answer within the command's timeout.
    #[error("module did not answer in time: {0}")]
    Timeout(String),
    /// The module answered something the backend could not interpret.
    #[error("unexpected answer from module: {0}")]
    Protocol(String),
    /// The link to the module (serial port, stream) is gone.
    #[error("link to module lost: {0}")]
    LinkDown(String),
    /// The caller passed a value the module cannot accept (bad number, bad PDU).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No call with that index exists on the module.
    #[error("no such call")]
    NoSuchCall,
}

impl HalError {
    /// Transient "busy" conditions (`+CME ERROR: 515`, `+CMS ERROR: 314`) that a retry
    /// after a short pause usually clears.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            HalError::Cme { code: 515 } | HalError::Cme { code: 14 } | HalError::Cms { code: 314 }
        )
    }
}
