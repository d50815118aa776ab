//! Opening a module's serial port.
//!
//! Where to find the ports on Linux:
//! - `/dev/serial/by-id/usb-Quectel_...-if0N-port0`: stable names per USB device and
//!   interface; prefer these, they survive re-enumeration.
//! - `/dev/ttyUSB0`, `/dev/ttyUSB1`, ...: USB serial interfaces (UC15 exposes several;
//!   the AT port is usually the third). Numbers change after a USB reset, so identify a
//!   module by its IMEI/ICCID (`ModemHal::identity`) rather than by path.
//! - `/dev/ttyS*`, `/dev/ttyAMA*`, `/dev/ttymxc*`: on-board UARTs (M35 on GoIP boards).

use std::time::Duration;

use cellgate_hal::HalError;
use tokio_serial::SerialPortBuilderExt;

/// The stream type returned by [`open`]: pass it to
/// [`M35Modem::start`](crate::M35Modem::start).
pub type SerialStream = tokio_serial::SerialStream;

/// Default baud rate of Quectel M35/UC15 AT ports.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Open `path` as a raw 8N1 serial port without flow control.
pub fn open(path: &str, baud: u32) -> Result<SerialStream, HalError> {
    tokio_serial::new(path, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .timeout(Duration::from_millis(100))
        .open_native_async()
        .map_err(|e| HalError::LinkDown(format!("cannot open {path}: {e}")))
}

/// Candidate AT ports present on this machine: `/dev/serial/by-id/*` entries first, then
/// `/dev/ttyUSB*`, sorted. Only a hint for configuration tools; nothing is opened.
pub fn candidate_ports() -> Vec<String> {
    let mut out = Vec::new();
    for (dir, prefix) in [("/dev/serial/by-id", ""), ("/dev", "ttyUSB")] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut found: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.path().to_string_lossy().into_owned())
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}
