//! Conformance: every `ModemHal` operation the simulator supports, on the M35 dialect,
//! through the real AT backend — over the in-memory stream on the virtual clock, and
//! through a real pty opened with tokio-serial on the real clock.

mod modem_ops_common;

use modem_ops_common::*;

macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(#[tokio::test(start_paused = true)]
            async fn $name() {
                let mut b = bed(Transport::Memory, None).await;
                assert_eq!(cellgate_hal::ModemHal::kind(&b.modem), cellgate_hal::ModuleKind::M35);
                super::$name(&mut b).await;
            })*
        }
        mod pty {
            use super::*;
            $(#[tokio::test]
            async fn $name() {
                let mut b = bed(Transport::Pty, None).await;
                assert_eq!(cellgate_hal::ModemHal::kind(&b.modem), cellgate_hal::ModuleKind::M35);
                super::$name(&mut b).await;
            })*
        }
    };
}

async fn identity_and_sim(b: &mut Bed) {
    modem_ops_common::identity_and_sim(b).await;
}

async fn network(b: &mut Bed) {
    modem_ops_common::network(b).await;
}

async fn outgoing_call_answered(b: &mut Bed) {
    modem_ops_common::outgoing_call_answered(b).await;
}

async fn outgoing_call_failures(b: &mut Bed) {
    modem_ops_common::outgoing_call_failures(b).await;
}

async fn incoming_call(b: &mut Bed) {
    modem_ops_common::incoming_call(b).await;
}

both_transports!(
    identity_and_sim,
    network,
    outgoing_call_answered,
    outgoing_call_failures,
    incoming_call,
);
