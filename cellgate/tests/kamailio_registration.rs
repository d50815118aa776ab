//! Kamailio (Debian `kamailio`), a real SIP registrar with digest authentication, and
//! `cellgate run` on simulated lines: registration in the single, per-line and
//! per-group modes (F-6.3.2), and fail-over to a backup Kamailio when the primary is
//! stopped, then fail-back when it returns (F-6.3.12).
//!
//! Kamailio runs in the foreground (`-DD -E`) with the configuration in
//! `conformance/kamailio/registrar.cfg.in`, on loopback ports chosen here, with its pid
//! file, runtime dir and control socket in a scratch directory; it is stopped when the
//! test ends. The bindings are read on Kamailio's side with `kamcmd ul.dump`.
//! A missing `kamailio` fails the tests under `CI`, and skips them elsewhere.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_udp_port, scratch_dir, tool_available, wait_until, RunningGateway};

/// One Kamailio process group, stopped on drop.
struct Kamailio {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    algorithm: &'static str,
    ctl: PathBuf,
}

impl Kamailio {
    /// Starts Kamailio on `127.0.0.1:port`, challenging with `algorithm`; waits until
    /// its control socket answers.
    fn start(dir: &Path, port: u16, algorithm: &'static str) -> Self {
        let mut k = Self {
            child: None,
            dir: dir.to_owned(),
            port,
            algorithm,
            ctl: dir.join("ctl"),
        };
        k.spawn();
        k
    }

    fn spawn(&mut self) {
        use std::os::unix::process::CommandExt;
        let template = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../conformance/kamailio/registrar.cfg.in");
        let text = std::fs::read_to_string(&template).expect("read the Kamailio template");
        let cfg = text
            .replace("@LISTEN@", &format!("127.0.0.1:{}", self.port))
            .replace("@CTL@", &self.ctl.to_string_lossy())
            .replace("@ALGORITHM@", self.algorithm);
        let cfg_path = self.dir.join("kamailio.cfg");
        std::fs::write(&cfg_path, cfg).expect("write Kamailio config");
        let _ = std::fs::remove_file(&self.ctl);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("kamailio.log"))
            .expect("Kamailio log");
        let child = Command::new("kamailio")
            .args(["-DD", "-E", "-f"])
            .arg(&cfg_path)
            .arg("-P")
            .arg(self.dir.join("kamailio.pid"))
            .arg("-Y")
            .arg(&self.dir)
            .arg("-w")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Its own process group, so stopping it reaches every forked worker.
            .process_group(0)
            .spawn()
            .expect("start kamailio");
        self.child = Some(child);
        assert!(
            wait_until(Duration::from_secs(20), || self
                .kamcmd(&["core.uptime"])
                .is_some()),
            "Kamailio on port {} did not come up:\n{}",
            self.port,
            self.log()
        );
    }

    /// Stops the whole process group (SIGTERM, then SIGKILL after 5 s).
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn kamcmd(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("kamcmd")
            .arg("-s")
            .arg(format!("unix:{}", self.ctl.display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether `user` has a binding whose contact is the gateway at `gateway`.
    fn has_binding(&self, user: &str, gateway: SocketAddr) -> bool {
        let Some(dump) = self.kamcmd(&["ul.dump"]) else {
            return false;
        };
        dump.contains(&format!("AoR: {user}"))
            && dump.contains(&format!("Address: sip:{user}@{gateway}"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kamailio.log")).unwrap_or_default()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}

fn kamailio_available() -> bool {
    tool_available("kamailio", "-v", "kamailio") && tool_available("kamcmd", "-V", "kamailio")
}

/// Gateway configuration: fast timers (T1 50 ms: a REGISTER times out after 3.2 s),
/// 4 s registrations, retry after 1 s, probe the primary every second.
fn gateway_config(gateway: SocketAddr, mode: &str, accounts: &str) -> String {
    format!(
        "[sip]\nlisten = \"{gateway}\"\nmode = \"{mode}\"\nfailover_after = 2\n\
         failback_probe_secs = 1\nregister_retry_secs = 1\n\n[sip.timers]\nt1_ms = 50\nt2_ms = 400\n\n{accounts}"
    )
}

fn report(gateway: &RunningGateway, kamailios: &[&Kamailio]) -> String {
    let mut text = format!("--- gateway log ---\n{}", gateway.log_text());
    for k in kamailios {
        text.push_str(&format!(
            "\n--- kamailio :{} ul.dump ---\n{}\n--- kamailio log (tail) ---\n{}",
            k.port,
            k.kamcmd(&["ul.dump"]).unwrap_or_default(),
            tail(&k.log(), 40)
        ));
    }
    text
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn single_mode_registers_with_digest_fails_over_to_the_backup_and_fails_back() {
    if !kamailio_available() {
        return;
    }
    let dir = scratch_dir("kamailio-single");
    let primary_dir = dir.join("primary");
    let backup_dir = dir.join("backup");
    std::fs::create_dir_all(&primary_dir).expect("dir");
    std::fs::create_dir_all(&backup_dir).expect("dir");
    // The primary challenges with MD5, the backup with SHA-256 (RFC 8760).
    let mut primary = Kamailio::start(&primary_dir, free_udp_port(), "MD5");
    let backup = Kamailio::start(&backup_dir, free_udp_port(), "SHA-256");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_udp_port())
        .parse()
        .expect("address");
    let accounts = format!(
        "[[sip.account]]\nauth_id = \"gw-single\"\npassword = \"single-secret\"\n\
         registrar = \"127.0.0.1:{}\"\nbackup_registrar = \"127.0.0.1:{}\"\nexpires = 4\n",
        primary.port, backup.port
    );
    let gateway = RunningGateway::start(&dir, addr, &gateway_config(addr, "single", &accounts), 2);

    assert!(
        wait_until(Duration::from_secs(15), || primary
            .has_binding("gw-single", addr)),
        "no binding at the primary\n{}",
        report(&gateway, &[&primary, &backup])
    );
    assert!(!backup.has_binding("gw-single", addr));

    let stopped = Instant::now();
    primary.stop();
    assert!(
        wait_until(Duration::from_secs(40), || backup
            .has_binding("gw-single", addr)),
        "no fail-over to the backup\n{}",
        report(&gateway, &[&backup])
    );
    let failover = stopped.elapsed();

    let restarted = Instant::now();
    primary.restart();
    assert!(
        wait_until(Duration::from_secs(30), || primary
            .has_binding("gw-single", addr)),
        "no fail-back to the primary\n{}",
        report(&gateway, &[&primary, &backup])
    );
    let failback = restarted.elapsed();
    eprintln!(
        "fail-over took {:.1} s after the primary stopped; fail-back {:.1} s after it returned",
        failover.as_secs_f64(),
        failback.as_secs_f64()
    );
    // The fail-back re-registration itself was digest-authenticated (fresh credentials).
    assert!(
        gateway.log_text().contains("failing back"),
        "{}",
        gateway.log_text()
    );
}

#[test]
fn per_line_mode_registers_one_account_per_line() {
    if !kamailio_available() {
        return;
    }
    let dir = scratch_dir("kamailio-per-line");
    let kamailio = Kamailio::start(&dir, free_udp_port(), "MD5");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_udp_port())
        .parse()
        .expect("address");
    let registrar = format!("127.0.0.1:{}", kamailio.port);
    let accounts = format!(
        "[[sip.account]]\nline = 1\nauth_id = \"gw-line1\"\npassword = \"line1-secret\"\nregistrar = \"{registrar}\"\nexpires = 60\n\n\
         [[sip.account]]\nline = 2\nauth_id = \"gw-line2\"\npassword = \"line2-secret\"\nregistrar = \"{registrar}\"\nexpires = 60\n"
    );
    let gateway =
        RunningGateway::start(&dir, addr, &gateway_config(addr, "per_line", &accounts), 2);
    assert!(
        wait_until(Duration::from_secs(15), || kamailio
            .has_binding("gw-line1", addr)
            && kamailio.has_binding("gw-line2", addr)),
        "not every line registered\n{}",
        report(&gateway, &[&kamailio])
    );
}

#[test]
fn per_group_mode_registers_one_account_per_group_and_a_wrong_password_does_not() {
    if !kamailio_available() {
        return;
    }
    let dir = scratch_dir("kamailio-per-group");
    let kamailio = Kamailio::start(&dir, free_udp_port(), "SHA-256");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_udp_port())
        .parse()
        .expect("address");
    let registrar = format!("127.0.0.1:{}", kamailio.port);
    let accounts = format!(
        "[[sip.account]]\ngroup = 1\nlines = [1, 2]\nauth_id = \"gw-group1\"\npassword = \"group1-secret\"\nregistrar = \"{registrar}\"\nexpires = 60\n\n\
         [[sip.account]]\ngroup = 2\nlines = [3, 4]\nauth_id = \"gw-group2\"\npassword = \"group2-secret\"\nregistrar = \"{registrar}\"\nexpires = 60\n\n\
         [[sip.account]]\ngroup = 3\nlines = [5]\nauth_id = \"gw-line1\"\npassword = \"wrong\"\nregistrar = \"{registrar}\"\nexpires = 60\n"
    );
    let gateway =
        RunningGateway::start(&dir, addr, &gateway_config(addr, "per_group", &accounts), 5);
    assert!(
        wait_until(Duration::from_secs(15), || kamailio
            .has_binding("gw-group1", addr)
            && kamailio.has_binding("gw-group2", addr)),
        "not every group registered\n{}",
        report(&gateway, &[&kamailio])
    );
    assert!(
        wait_until(Duration::from_secs(10), || gateway
            .log_text()
            .contains("authentication failed")),
        "the wrong password was not reported\n{}",
        report(&gateway, &[&kamailio])
    );
    assert!(!kamailio.has_binding("gw-line1", addr));
}

#[test]
fn a_line_whose_minutes_are_used_up_unregisters_its_account_f_6_10_3() {
    if !kamailio_available() || !tool_available("sipp", "-v", "sip-tester") {
        return;
    }
    let dir = scratch_dir("kamailio-limit-pause");
    let kamailio = Kamailio::start(&dir, free_udp_port(), "MD5");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_udp_port())
        .parse()
        .expect("address");
    let registrar = format!("127.0.0.1:{}", kamailio.port);
    // Line 1 may talk 1 minute, and every call is charged 600 s more (F-6.10.17): one
    // short call uses it up. Line 2 has no limit.
    let rest = format!(
        "[[sip.account]]\nline = 1\nauth_id = \"gw-line1\"\npassword = \"line1-secret\"\nregistrar = \"{registrar}\"\nexpires = 60\n\n\
         [[sip.account]]\nline = 2\nauth_id = \"gw-line2\"\npassword = \"line2-secret\"\nregistrar = \"{registrar}\"\nexpires = 60\n\n\
         [[line]]\nid = 1\ndevice = \"/dev/null\"\n\n[line.sim]\nminutes = \"1\"\ncorrection_secs = 600\n\n\
         [[line]]\nid = 2\ndevice = \"/dev/null\"\n"
    );
    // SIPp calls from loopback.
    let config = gateway_config(addr, "per_line", &rest).replace(
        "mode = \"per_line\"\n",
        "mode = \"per_line\"\ntrusted_sources = [\"127.0.0.1\"]\n",
    );
    let gateway = RunningGateway::start(&dir, addr, &config, 2);
    assert!(
        wait_until(Duration::from_secs(15), || kamailio
            .has_binding("gw-line1", addr)
            && kamailio.has_binding("gw-line2", addr)),
        "not every line registered\n{}",
        report(&gateway, &[&kamailio])
    );
    // One short call; round robin puts it on line 1.
    assert_eq!(
        gateway.sipp(
            &dir,
            free_udp_port(),
            &["-sn", "uac", "-s", "5551234", "-d", "500"]
        ),
        0
    );
    assert!(
        wait_until(Duration::from_secs(10), || !kamailio
            .has_binding("gw-line1", addr)),
        "line 1's account still registered\n{}",
        report(&gateway, &[&kamailio])
    );
    assert!(
        kamailio.has_binding("gw-line2", addr),
        "line 2 keeps its registration\n{}",
        report(&gateway, &[&kamailio])
    );
}
