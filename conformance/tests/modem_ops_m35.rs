//! Conformance of the M35 (GSM) dialect: `MO RING`/`MO CONNECTED` call progress, `AT+QENG=1,1` cell info. A simulated M35 (`ModuleProfile::M35`), detected by
//! `open_modem` from `AT+CGMM`, is driven through the real AT backend for every
//! `ModemHal` operation — over the in-memory stream on the virtual clock, and through a
//! real pty opened with tokio-serial on the real clock. The scenarios are in
//! `modem_ops_common`.

mod modem_ops_common;

use cellgate_simulator::ModuleProfile;
use modem_ops_common::Transport;

const PROFILE: ModuleProfile = ModuleProfile::M35;

macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(#[tokio::test(start_paused = true)]
            async fn $name() {
                modem_ops_common::$name(Transport::Memory, PROFILE).await;
            })*
        }
        mod pty {
            use super::*;
            $(#[tokio::test]
            async fn $name() {
                modem_ops_common::$name(Transport::Pty, PROFILE).await;
            })*
        }
    };
}

both_transports!(
    identity_and_sim,
    enter_pin,
    enter_puk,
    pin2_and_fixed_dialing,
    network,
    cell_info,
    lock_cell,
    set_power,
    outgoing_call_answered,
    outgoing_call_failures,
    incoming_call,
    send_sms,
    receive_sms,
    send_ussd,
    call_forwarding,
    forwarding_diverts_calls,
    call_waiting_hold_and_swap,
    call_waiting_release_and_accept,
    call_waiting_reject,
    call_waiting_held_call_resumes,
    call_waiting_disabled,
    write_imei_and_reset,
    clir_withholds_caller_id,
    gprs_attach,
);
