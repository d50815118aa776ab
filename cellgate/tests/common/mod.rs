//! Helpers shared by the real-peer tests: free loopback ports, required tools (fail
//! under CI, skip elsewhere), and the `cellgate` binary as a child process that is
//! killed when the test ends.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free UDP port on loopback (bound and released: good enough for tests).
pub fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral port");
    socket.local_addr().expect("local addr").port()
}

/// Whether `tool` (run with `arg`) is installed. Under `CI` a missing tool fails the
/// test; elsewhere the test reports itself skipped.
pub fn tool_available(tool: &str, arg: &str, package: &str) -> bool {
    let found = Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is not installed but CI is set: install {package} (tools/test-all.sh does)"
        );
        eprintln!("SKIPPED: {tool} not installed (apt-get install {package})");
    }
    found
}

/// A scratch directory for one test, under cargo's target tmp dir.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Polls `check` every 100 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `cellgate run --config FILE --simulated-lines N`, killed on drop.
pub struct RunningGateway {
    child: Child,
    /// SIP address.
    pub addr: SocketAddr,
    /// Its log (stderr).
    pub log: PathBuf,
}

impl RunningGateway {
    /// Writes `config` into `dir` and starts `cellgate run` on `lines` simulated lines;
    /// waits until it serves.
    pub fn start(dir: &Path, addr: SocketAddr, config: &str, lines: u16) -> Self {
        let file = dir.join("cellgate.toml");
        std::fs::write(&file, config).expect("write gateway config");
        let args = vec![
            "run".to_owned(),
            "--config".to_owned(),
            file.to_string_lossy().into_owned(),
            "--simulated-lines".to_owned(),
            lines.to_string(),
        ];
        Self::spawn(dir, addr, &args, "gateway running")
    }

    /// Starts `cellgate simulate` on `addr` with `extra` flags; waits until it serves.
    pub fn simulate(dir: &Path, addr: SocketAddr, extra: &[&str]) -> Self {
        let mut args = vec![
            "simulate".to_owned(),
            "--sip-listen".to_owned(),
            addr.to_string(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        Self::spawn(dir, addr, &args, "SIP on udp:")
    }

    fn spawn(dir: &Path, addr: SocketAddr, args: &[String], ready: &str) -> Self {
        let log = dir.join("cellgate.log");
        let log_file = std::fs::File::create(&log).expect("gateway log");
        let stdout = log_file.try_clone().expect("gateway log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_cellgate"))
            .args(args)
            .env(
                "RUST_LOG",
                "info,cellgate_engine=debug,cellgate_backends::at=trace",
            )
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log_file)
            .spawn()
            .expect("start cellgate");
        let gateway = Self { child, addr, log };
        assert!(
            wait_until(Duration::from_secs(60), || gateway
                .log_text()
                .contains(ready)),
            "cellgate did not start:\n{}",
            gateway.log_text()
        );
        gateway
    }

    /// The log so far (stdout and stderr).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs SIPp against the gateway from `127.0.0.1:port` with `extra` arguments (one
    /// call); returns its exit code (0: the scenario succeeded). On failure SIPp's
    /// output and the gateway log are printed.
    pub fn sipp(&self, dir: &Path, port: u16, extra: &[&str]) -> i32 {
        let output = sipp_command(dir, port, extra)
            .arg(self.addr.to_string())
            .output()
            .expect("run sipp");
        if !output.status.success() {
            eprintln!("sipp stdout:\n{}", String::from_utf8_lossy(&output.stdout));
            eprintln!("sipp stderr:\n{}", String::from_utf8_lossy(&output.stderr));
            eprintln!("gateway log:\n{}", self.log_text());
        }
        output.status.code().unwrap_or(-1)
    }
}

/// A SIPp command for one call from `127.0.0.1:port`, bounded to 60 s, run in `dir`
/// (where it writes its error logs); the caller adds the remote address.
pub fn sipp_command(dir: &Path, port: u16, extra: &[&str]) -> Command {
    let mut cmd = Command::new("sipp");
    cmd.args(extra)
        .args([
            "-p",
            &port.to_string(),
            "-i",
            "127.0.0.1",
            "-m",
            "1",
            "-nostdin",
        ])
        .args(["-timeout", "60s", "-timeout_error", "-trace_err"])
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

/// A scenario file of `conformance/sipp/`.
pub fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/sipp")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cellgate run --config <dir>/cellgate.toml --simulated-lines 1`, expecting it to
/// stop by itself within a minute; returns (exit success, stderr).
pub fn run_expecting_exit(dir: &Path, config: &str) -> (bool, String) {
    let file = dir.join("cellgate.toml");
    std::fs::write(&file, config).expect("write config");
    let stderr_path = dir.join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["run", "--config"])
        .arg(&file)
        .args(["--simulated-lines", "1"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start cellgate");
    let end = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for cellgate") {
            break status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "cellgate kept running with an invalid configuration:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.success(),
        std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    )
}
