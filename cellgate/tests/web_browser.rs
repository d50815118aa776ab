//! The General status page in headless Chromium (F-5.2.0.8, F-5.2.1.1): the script in
//! `web/tests/browser/status_refresh.mjs` (playwright-core) checks that the table refreshes
//! in place every 5 s and that a ticked line keeps its tick. `tools/test-all.sh` installs
//! Chromium and the script's npm package; under `CI` a missing one fails the test.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use common::{free_udp_port, scratch_dir, tool_available, RunningGateway};

#[test]
fn general_page_refreshes_in_place_and_keeps_ticked_lines() {
    if !tool_available("chromium", "--version", "chromium")
        || !tool_available("node", "--version", "nodejs")
    {
        return;
    }
    let script_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/tests/browser");
    if !script_dir.join("node_modules/playwright-core").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "playwright-core is not installed but CI is set: run npm ci in {} (tools/test-all.sh does)",
            script_dir.display()
        );
        eprintln!("SKIPPED: npm ci --prefix web/tests/browser");
        return;
    }
    let dir = scratch_dir("web-browser");
    let web = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let password = "browser-test-password";
    let web_addr = format!("127.0.0.1:{web}");
    let gw = RunningGateway::simulate(
        &dir,
        format!("127.0.0.1:{}", free_udp_port())
            .parse()
            .expect("address"),
        &[
            "--lines",
            "2",
            "--web",
            &web_addr,
            "--web-password",
            password,
        ],
    );
    let output = Command::new("node")
        .arg("status_refresh.mjs")
        .current_dir(&script_dir)
        .env("WEB_URL", format!("http://{web_addr}"))
        .env("WEB_PASSWORD", password)
        .env("CHROMIUM", "/usr/bin/chromium")
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser check failed:\n{stdout}\n{stderr}\n--- gateway log ---\n{}",
        gw.log_text()
    );
    assert!(stdout.contains("line 2 still ticked"), "{stdout}");
}
