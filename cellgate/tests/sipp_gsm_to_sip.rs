//! SIPp (Debian `sip-tester`) as the callee of a GSM -> SIP call: a phone of the
//! simulated network calls a line's SIM, the gateway (in this process, on a real UDP
//! socket) forwards the call to SIPp (`conformance/sipp/uas_gsm_call.xml`), SIPp
//! answers, the module answers the GSM call, and the phone's hang-up becomes a BYE.
//!
//! A missing `sipp` fails the test under `CI`, and skips it elsewhere.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cellgate::sandbox::{sandbox_gateway_config, simulated_lines, SandboxSip};
use cellgate_engine::runtime::run_gateway;
use cellgate_engine::transport::SipTransport;
use cellgate_simulator::{CallState, Network, NetworkConfig};
use common::{free_udp_port, scenario, scratch_dir, sipp_command, tool_available};

async fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gsm_call_is_forwarded_to_sipp_answered_and_released_by_the_gsm_caller() {
    if !tool_available("sipp", "-v", "sip-tester") {
        return;
    }
    let dir = scratch_dir("sipp-gsm-to-sip");
    let sipp_port = free_udp_port();
    let sipp_addr: SocketAddr = format!("127.0.0.1:{sipp_port}").parse().expect("address");

    let network = Network::new(NetworkConfig::default());
    let modems = simulated_lines(&network, 1).await.expect("simulated line");
    let transport = SipTransport::bind_udp("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind");
    let local = transport.local_addr().expect("local address");
    let mut config = sandbox_gateway_config(local, 7);
    SandboxSip {
        forward_to: Some((format!("sip:101@{sipp_addr}"), sipp_addr)),
        ..SandboxSip::default()
    }
    .apply(&mut config, &modems);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway = tokio::spawn(run_gateway(config, transport, modems, async {
        let _ = stopped.await;
    }));

    let uas = scenario("uas_gsm_call.xml");
    let mut sipp = sipp_command(&dir, sipp_port, &["-sf", &uas])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sipp");
    // Give SIPp a moment to bind before the INVITE is sent (it would be retransmitted
    // anyway).
    tokio::time::sleep(Duration::from_millis(500)).await;

    network
        .phone_calls_line("5550100", 1)
        .expect("the phone calls line 1");
    let answered = wait_for(Duration::from_secs(20), || {
        network
            .calls()
            .iter()
            .any(|c| c.line == 1 && c.state == CallState::Active)
    })
    .await;
    if !answered {
        let _ = sipp.kill();
    }
    assert!(
        answered,
        "the GSM call was not answered; network log:\n{}",
        network.event_log().join("\n")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    network.phone_hangs_up("5550100").expect("hang up");

    let finished = wait_for(Duration::from_secs(20), || {
        matches!(sipp.try_wait(), Ok(Some(_)))
    })
    .await;
    if !finished {
        let _ = sipp.kill();
    }
    let output = sipp.wait_with_output().expect("sipp output");
    let _ = stop.send(());
    let _ = gateway.await;
    assert!(finished, "SIPp never got the BYE");
    assert!(
        output.status.success(),
        "SIPp scenario failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with("errors.log"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect::<String>()
    );
    assert!(network.calls().iter().all(|c| c.line != 1));
}
