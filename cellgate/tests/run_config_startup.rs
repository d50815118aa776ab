//! `cellgate run` start-up with the routing / limit / policy sections: an invalid value
//! stops the real binary with a non-zero exit and a message naming the line, the key and
//! the column; a store that cannot be opened stops it naming the path; a valid file
//! serves and creates its counter database beside the configuration file.

mod common;

use common::{free_udp_port, run_expecting_exit, scratch_dir, RunningGateway};

#[test]
fn a_broken_dial_rule_stops_start_up_naming_line_key_and_column() {
    let dir = scratch_dir("run-config-broken-dial-rule");
    let port = free_udp_port();
    let config = format!(
        "[sip]\nlisten = \"127.0.0.1:{port}\"\n\
         [[line]]\nid = 1\ndevice = \"/dev/null\"\n\
         [line.outbound]\ndial_rules = \"86:-86|[8-3]:+0\"\n"
    );
    let (ok, stderr) = run_expecting_exit(&dir, &config);
    assert!(!ok, "exit status must be non-zero:\n{stderr}");
    assert!(
        stderr.contains("line 1: outbound.dial_rules: column 8"),
        "{stderr}"
    );
    assert!(
        !dir.join("cellgate.db").exists(),
        "nothing is created before the file is valid"
    );
}

#[test]
fn a_store_that_cannot_be_opened_stops_start_up_naming_the_path() {
    let dir = scratch_dir("run-config-bad-store");
    let port = free_udp_port();
    let config = format!(
        "[sip]\nlisten = \"127.0.0.1:{port}\"\n\
         [storage]\ndatabase = \"missing-dir/counters.db\"\n"
    );
    let (ok, stderr) = run_expecting_exit(&dir, &config);
    assert!(!ok, "exit status must be non-zero:\n{stderr}");
    assert!(
        stderr.contains("storage.database") && stderr.contains("missing-dir/counters.db"),
        "{stderr}"
    );
}

#[test]
fn a_valid_policy_file_serves_and_creates_its_database_beside_the_file() {
    let dir = scratch_dir("run-config-valid");
    let port = free_udp_port();
    let config = format!(
        "[sip]\nlisten = \"127.0.0.1:{port}\"\n\
         [system]\ntimezone = \"GMT+8\"\nreboot = \"03:00\"\n\
         [routing]\nline_selection = \"fewest_calls\"\ncall_memory = true\n\
         [run_policy]\nconditions = [\"no_ring>=3\"]\nactions = [\"disable_outbound\"]\n\
         [[line]]\nid = 1\ndevice = \"/dev/null\"\nprefix = \"001\"\n\
         [line.outbound]\ndial_rules = \"0086:-0086+0\"\n\
         [line.sim]\nminutes = \"100\"\n"
    );
    let gw = RunningGateway::start(
        &dir,
        format!("127.0.0.1:{port}").parse().expect("address"),
        &config,
        1,
    );
    assert!(dir.join("cellgate.db").exists(), "{}", gw.log_text());
    assert!(
        gw.log_text().contains("counter store open"),
        "{}",
        gw.log_text()
    );
}
