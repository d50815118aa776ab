//! Kamailio (Debian `kamailio`) as a registrar reached over TCP (issue #5):
//! `cellgate run` with `[[sip.account]] transport = "tcp"` registers with digest over
//! its own TCP connection; Kamailio's binding names the TCP socket and the contact's
//! `;transport=tcp`. The template is `conformance/kamailio/registrar.cfg.in` (UDP and
//! TCP on one port). A missing `kamailio` skips the test.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{free_udp_port, scratch_dir, tool_available, wait_until, RunningGateway};

/// One Kamailio process group, stopped on drop.
struct Kamailio {
    child: Child,
    dir: PathBuf,
    ctl: PathBuf,
}

impl Kamailio {
    fn start(dir: &Path, port: u16) -> Self {
        use std::os::unix::process::CommandExt;
        let ctl = dir.join("ctl");
        let template = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../conformance/kamailio/registrar.cfg.in");
        let text = std::fs::read_to_string(&template).expect("read the Kamailio template");
        let cfg = text
            .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
            .replace("@CTL@", &ctl.to_string_lossy())
            .replace("@ALGORITHM@", "MD5");
        let cfg_path = dir.join("kamailio.cfg");
        std::fs::write(&cfg_path, cfg).expect("write Kamailio config");
        let log = std::fs::File::create(dir.join("kamailio.log")).expect("Kamailio log");
        let child = Command::new("kamailio")
            .args(["-DD", "-E", "-f"])
            .arg(&cfg_path)
            .arg("-P")
            .arg(dir.join("kamailio.pid"))
            .arg("-Y")
            .arg(dir)
            .arg("-w")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start kamailio");
        let k = Self {
            child,
            dir: dir.to_owned(),
            ctl,
        };
        assert!(
            wait_until(Duration::from_secs(20), || k
                .kamcmd(&["core.uptime"])
                .is_some()),
            "Kamailio did not come up:\n{}",
            k.log()
        );
        k
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

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kamailio.log")).unwrap_or_default()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

#[test]
fn registers_with_kamailio_over_tcp() {
    if !(tool_available("kamailio", "-v", "kamailio") && tool_available("kamcmd", "-V", "kamailio"))
    {
        return;
    }
    let dir = scratch_dir("kamailio-tcp");
    let port = free_udp_port();
    let kamailio = Kamailio::start(&dir, port);
    let addr: SocketAddr = format!("127.0.0.1:{}", free_udp_port())
        .parse()
        .expect("address");
    let config = format!(
        "[sip]\nlisten = \"{addr}\"\nmode = \"single\"\n\n\
         [[sip.account]]\nauth_id = \"gw-single\"\npassword = \"single-secret\"\n\
         registrar = \"127.0.0.1:{port}\"\ntransport = \"tcp\"\nexpires = 60\n"
    );
    let gateway = RunningGateway::start(&dir, addr, &config, 1);
    let bound = wait_until(Duration::from_secs(15), || {
        kamailio.kamcmd(&["ul.dump"]).is_some_and(|dump| {
            dump.contains("AoR: gw-single")
                && dump.contains(&format!("Address: sip:gw-single@{addr};transport=tcp"))
                && dump.contains("Socket: tcp:127.0.0.1")
        })
    });
    assert!(
        bound,
        "no TCP binding\n--- ul.dump ---\n{}\n--- gateway ---\n{}\n--- kamailio ---\n{}",
        kamailio.kamcmd(&["ul.dump"]).unwrap_or_default(),
        gateway.log_text(),
        kamailio.log()
    );
}
