//! Finding a module by who it is rather than where it is plugged in.
//!
//! USB serial devices are renumbered after a USB reset or a reboot (`/dev/ttyUSB2` becomes
//! `/dev/ttyUSB5`), and a UC15 exposes several serial interfaces of which only one speaks
//! AT. An operator therefore names a line's module by its IMEI (the module) or its ICCID
//! (the SIM in it), and the gateway looks for it among the candidate ports
//! ([`crate::serial::candidate_ports`]).

use std::future::Future;

use cellgate_hal::{HalError, ModemHal};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{debug, info};

use crate::modem::{open_modem, AtModem, AtModemConfig};

/// How a configured line names its module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSelector {
    /// A fixed device path (fine for on-board UARTs and `/dev/serial/by-id` links).
    Device(String),
    /// The module's IMEI (`AT+CGSN`), 15 digits.
    Imei(String),
    /// The ICCID of the SIM in the module.
    Iccid(String),
}

impl ModuleSelector {
    fn matches(&self, imei: &str, iccid: Option<&str>) -> bool {
        match self {
            ModuleSelector::Device(_) => true,
            ModuleSelector::Imei(want) => imei == want,
            // Some modules append an `F` filler or report 19 of 20 digits; compare the
            // common prefix of at least 19 digits.
            ModuleSelector::Iccid(want) => iccid.is_some_and(|have| {
                let have = have.trim_end_matches(['F', 'f']);
                let want = want.trim_end_matches(['F', 'f']);
                have == want || (have.len() >= 19 && want.len() >= 19 && have[..19] == want[..19])
            }),
        }
    }
}

/// Opens each candidate port in turn, brings the module up, and returns the first whose
/// identity matches `selector`, with the path it was found on. Ports that do not answer
/// AT, or answer as another module, are closed again. `open` turns a path into a byte
/// stream (a serial port in production, anything in tests).
pub async fn locate<S, F, Fut>(
    candidates: &[String],
    selector: &ModuleSelector,
    config: &AtModemConfig,
    mut open: F,
) -> Result<(String, AtModem), HalError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<S, HalError>>,
{
    let ports: Vec<String> = match selector {
        ModuleSelector::Device(path) => vec![path.clone()],
        _ => candidates.to_vec(),
    };
    for path in ports {
        let stream = match open(path.clone()).await {
            Ok(s) => s,
            Err(e) => {
                debug!(%path, error = %e, "candidate port does not open");
                continue;
            }
        };
        let modem = match open_modem(stream, config.clone()).await {
            Ok(m) => m,
            Err(e) => {
                debug!(%path, error = %e, "no AT module on candidate port");
                continue;
            }
        };
        let identity = match modem.identity().await {
            Ok(id) => id,
            Err(e) => {
                debug!(%path, error = %e, "module on candidate port did not identify");
                continue;
            }
        };
        if selector.matches(&identity.imei, identity.iccid.as_deref()) {
            info!(%path, imei = %identity.imei, "module found");
            return Ok((path, modem));
        }
        debug!(%path, imei = %identity.imei, "another module; closing the port");
    }
    Err(HalError::LinkDown(format!(
        "no module matching {selector:?} on {} candidate port(s)",
        candidates.len()
    )))
}
