//! `cellgate sim --scenario FILE`: a short scenario on the real-time clock, and the error
//! for an invalid file.

use std::process::Command;

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cellgate-sim-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn scenario_runs_and_passes() {
    let path = write(
        "ok.toml",
        r#"
name = "short"
[network]
lines = 2
module = "uc15"
[[step]]
at = "3.5s"
action = "sms"
from = "+8613912345678"
line = 2
text = "hello from the scenario"
[[expect]]
at = "4.5s"
check = "sim_messages"
line = 2
count = 1
[[expect]]
check = "registration"
line = 1
stat = 1
"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["sim", "--scenario"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 lines (seed 1); scenario \"short\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok   expect 1 (at 4.5s): line2 SIM holds 1 messages"),
        "{stdout}"
    );
    assert!(stdout.contains("scenario passed"), "{stdout}");
}

#[test]
fn failing_and_invalid_scenarios_exit_with_failure() {
    let bad = write(
        "bad.toml",
        "[[step]]\nat = \"1s\"\naction = \"call\"\nlien = 1\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["sim", "--lines", "1", "--scenario"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml: invalid scenario: step 1: unknown field `lien`"),
        "{stderr}"
    );

    let failing = write(
        "failing.toml",
        "[[expect]]\nat = \"0.2s\"\ncheck = \"call_state\"\nline = 1\nstate = \"active\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["sim", "--lines", "1", "--scenario"])
        .arg(&failing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expect 1 (at 200ms): line1 call state: want active, got None"),
        "{stderr}"
    );
}
