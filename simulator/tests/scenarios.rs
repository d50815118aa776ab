//! The example scenarios of docs/scenarios.md (simulator/scenarios/*.toml), run on the
//! virtual clock, and the loader's error messages.

use cellgate_simulator::{ModuleProfile, Network, NetworkConfig, Scenario, ScenarioError};

/// Builds the network a scenario asks for (as `cellgate sim --scenario` does) and keeps
/// the gateway ends of the ports open.
fn network_for(s: &Scenario) -> (Network, Vec<tokio::io::DuplexStream>) {
    let net = Network::new(NetworkConfig {
        seed: s.network.seed.unwrap_or(1),
        ..NetworkConfig::default()
    });
    let modules: Vec<ModuleProfile> = s
        .network
        .module
        .as_deref()
        .unwrap_or("m35")
        .split(',')
        .map(|m| ModuleProfile::parse(m).unwrap())
        .collect();
    let ports = (1..=s.network.lines.unwrap_or(1))
        .map(|l| net.attach_modem(l, modules[usize::from(l - 1) % modules.len()]))
        .collect();
    (net, ports)
}

async fn run_file(name: &str) -> (Network, Vec<String>) {
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let s = Scenario::from_toml(&text).unwrap();
    let (net, _ports) = network_for(&s);
    let passed = match s.run(&net).await {
        Ok(p) => p,
        Err(e) => panic!("{name}: {e}\n{}", net.event_log().join("\n")),
    };
    assert_eq!(passed.len(), s.expectations.len());
    (net, passed)
}

#[tokio::test(start_paused = true)]
async fn incoming_sms_example() {
    let (net, _) = run_file("incoming_sms.toml").await;
    assert_eq!(net.sim(1).unwrap().messages.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn calls_example() {
    let (net, _) = run_file("calls.toml").await;
    assert!(net.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn radio_faults_example() {
    run_file("radio_faults.toml").await;
}

#[tokio::test(start_paused = true)]
async fn failing_expectations_are_reported() {
    let s = Scenario::from_toml(
        r#"
[[expect]]
check = "call_state"
line = 1
state = "active"
[[expect]]
at = "1s"
check = "smsc_text"
text = "nope"
"#,
    )
    .unwrap();
    let (net, _ports) = network_for(&s);
    let Err(ScenarioError::Failed(f)) = s.run(&net).await else {
        panic!("should fail");
    };
    assert_eq!(
        f,
        [
            "expect 2 (at 1s): SMSC did not receive \"nope\" (got [])",
            "expect 1 (at end): line1 call state: want active, got None",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn failing_step_names_the_step() {
    let s =
        Scenario::from_toml("[[step]]\nat = \"1s\"\naction = \"call\"\nfrom = \"123\"\nline = 9\n")
            .unwrap();
    let (net, _ports) = network_for(&s);
    let err = s.run(&net).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "step 1 (at 1s, action call): no modem attached on line 9"
    );
}

#[test]
fn invalid_files_name_the_section_and_key() {
    let err = |t: &str| Scenario::from_toml(t).unwrap_err().to_string();
    assert!(err("[[step]]\naction = \"call\"").contains("step 1: missing key `at`"));
    let e = err("[[step]]\nat = \"1s\"\naction = \"call\"\nfrom = \"1\"\nlien = 1");
    assert!(
        e.starts_with("invalid scenario: step 1: unknown field `lien`"),
        "{e}"
    );
    let e = err("[[step]]\nat = \"5x\"\naction = \"hangup\"\nphone = \"1\"");
    assert!(e.contains("step 1: key `at`: bad duration \"5x\""), "{e}");
    let e = err("[[step]]\nat = \"1s\"\naction = \"teleport\"");
    assert!(e.contains("step 1: unknown variant `teleport`"), "{e}");
    let e = err("[[step]]\nat = \"1s\"\naction = \"fault\"\nline = 1\nkind = \"meteor\"");
    assert!(
        e.contains("step 1: key `kind`: unknown fault \"meteor\""),
        "{e}"
    );
    let e = err("[[expect]]\ncheck = \"call_state\"\nline = 1\nstate = \"dancing\"");
    assert!(
        e.contains("expect 1: key `state`: unknown \"dancing\""),
        "{e}"
    );
    let e = err("[[phone]]\nnumber = \"1\"\nbehaviour = \"grumpy\"");
    assert!(e.contains("phone 1: key `behaviour`"), "{e}");
    let e = err("[[step]]\nat = \"1s\"\naction = \"sms\"\nfrom = \"1\"\nline = 1");
    assert!(e.contains("step 1: missing field `text`"), "{e}");
    assert!(err("bogus = 1").contains("unknown key `bogus`"));
    assert!(err("[[step]\n").contains("invalid scenario"));
}
