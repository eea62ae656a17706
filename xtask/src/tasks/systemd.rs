//! `cargo xtask systemd-test`: the amd64 package against a real systemd. A throwaway Debian
//! root (made by `mmdebstrap`, cached as a tarball under the build directory) boots under
//! `systemd-nspawn -b`; the package is installed with `apt install ./edge-infer_*.deb`, the
//! config pointed at a file streamed in real time and replayed (`stream --loop`), and then:
//! the package made the user and left the unit disabled; `systemctl start` returns once the
//! service said READY=1; it runs as `edge-infer` with the unit's hardening; a SIGSTOPped
//! process is killed by the watchdog and restarted; `systemctl stop` is clean; `apt purge`
//! removes the user and the files.
//!
//! On machines where systemd is not PID 1 and there is no D-Bus, nspawn runs with
//! `--register=no --keep-unit`, and `systemctl` runs inside through `nsenter` into the
//! container's init. The container is stopped by its nspawn's PID, also when a check fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::checks::{self, eventually};
use crate::cmd::{Cmd, cache_dir, workspace_root};
use crate::error::{Failure, Result};
use crate::packages::Suite;
use crate::provision::{self, Mode};
use crate::tasks::deb::{self, Arch};

/// The Debian release of the root, as on a Raspberry Pi OS of today (bookworm).
const RELEASE: &str = "bookworm";
/// What the root holds beyond minbase: an init to boot, D-Bus for systemctl inside, ALSA for
/// the binary (apt would pull it anyway; cached here, it needs no network at test time).
const INCLUDE: &str = "systemd-sysv,dbus,libasound2";
/// The watchdog the test's drop-in sets (the unit's own is 30 s).
const WATCHDOG_S: u64 = 3;

fn step(m: impl Into<String>) -> Failure {
    Failure::Step(m.into())
}

/// The cached root: made once per release and package list.
fn rootfs_tarball() -> Result<PathBuf> {
    let tar = cache_dir().join("rootfs").join(format!(
        "debian-{RELEASE}-minbase-{}.tar",
        INCLUDE.replace(',', "+")
    ));
    crate::mmdebstrap::cached(
        &tar,
        RELEASE,
        &["--variant=minbase".into(), format!("--include={INCLUDE}")],
    )
}

/// A booted container, powered off and killed by its nspawn's PID when dropped.
struct Container {
    nspawn: Child,
    init: u32,
    root: PathBuf,
}

impl Container {
    fn boot(root: &Path, packages: &Path) -> Result<Container> {
        let nspawn = Command::new("systemd-nspawn")
            .args(["--register=no", "--keep-unit", "--quiet", "--boot", "-D"])
            .arg(root)
            .arg(format!("--bind-ro={}:/packages", packages.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| step(format!("systemd-nspawn: cannot start: {e}")))?;
        let mut container = Container {
            init: 0,
            nspawn,
            root: root.to_path_buf(),
        };
        // The container's init is the child of nspawn that runs systemd (nspawn forks a
        // short-lived helper first, which must not be taken for it).
        let deadline = Instant::now() + Duration::from_secs(30);
        container.init = loop {
            let children = std::fs::read_to_string(format!(
                "/proc/{0}/task/{0}/children",
                container.nspawn.id()
            ))
            .unwrap_or_default();
            let init = children.split_whitespace().find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim() == "systemd")
            });
            if let Some(pid) = init.and_then(|p| p.parse().ok()) {
                break pid;
            }
            if let Ok(Some(status)) = container.nspawn.try_wait() {
                return Err(step(format!(
                    "systemd-nspawn exited before booting: {status}"
                )));
            }
            if Instant::now() > deadline {
                return Err(step(format!(
                    "the container's init never started (nspawn's children: `{}`)",
                    children.trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        // Booted: systemd answers over its bus and has finished starting the system
        // (`running`, or `degraded` where a unit of the minimal root failed).
        let mut state = String::new();
        let booted = eventually(Duration::from_secs(60), || {
            state = container.quiet("systemctl is-system-running");
            matches!(state.trim(), "running" | "degraded")
        });
        if !booted {
            return Err(step(format!(
                "the container did not finish booting: `{}`",
                state.trim()
            )));
        }
        eprintln!("systemd-test: booted ({})", state.trim());
        Ok(container)
    }

    /// `sh -c line` in the container's namespaces, through its init.
    fn inside(&self, line: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.init.to_string(), "-a", "sh", "-c", line]);
        c
    }

    /// A command inside, unlogged, without its stderr; its stdout.
    fn quiet(&self, line: &str) -> String {
        self.inside(line)
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// A command inside the container; its stdout (failures are the caller's to judge).
    fn sh(&self, line: &str) -> String {
        let out = self.inside(line).stderr(Stdio::inherit()).output();
        eprintln!("[container] $ {line}");
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// A command inside that must succeed.
    fn run(&self, line: &str) -> Result {
        eprintln!("[container] $ {line}");
        let ok = self.inside(line).status().is_ok_and(|s| s.success());
        if ok {
            Ok(())
        } else {
            Err(step(format!("in the container, `{line}` failed")))
        }
    }

    fn systemctl(&self, args: &[&str]) -> String {
        self.sh(&format!("systemctl {}", args.join(" ")))
    }

    /// `systemctl show -p NAME --value edge-infer`.
    fn show(&self, property: &str) -> String {
        self.systemctl(&["show", "-p", property, "--value", "edge-infer"])
            .trim()
            .to_string()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.inside("systemctl poweroff").status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.nspawn.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn expect(what: &str, ok: bool, seen: &str) -> Result {
    checks::expect("systemd-test", what, ok, seen)
}

/// Packages the amd64 binary the tests built, boots a root and checks the package in it.
pub fn run() -> Result {
    if !crate::cmd::is_root() {
        return Err(Failure::Unprovisioned(
            "the systemd test boots a container with systemd-nspawn, which needs root: run \
             `cargo xtask systemd-test` as root"
                .into(),
        ));
    }
    provision::provision(&[Suite::Deb], Mode::Install)?;
    let package = deb::build(Arch::Amd64, false)?;
    deb::check(&package, Arch::Amd64)?;
    let tarball = rootfs_tarball()?;
    let root = std::env::temp_dir().join(format!("xtask-systemd-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).map_err(|e| step(format!("{}: {e}", root.display())))?;
    Cmd::new("tar")
        .args([
            "-xf",
            &tarball.to_string_lossy(),
            "-C",
            &root.to_string_lossy(),
        ])
        .run()?;
    let packages = package
        .parent()
        .expect("the package is in a folder")
        .to_path_buf();
    let name = package
        .file_name()
        .expect("a file")
        .to_string_lossy()
        .into_owned();
    let started = Instant::now();
    let c = Container::boot(&root, &packages)?;

    c.run(&format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q /packages/{name} >/dev/null"
    ))?;
    let user = c.sh("id edge-infer");
    expect(
        "the package made the edge-infer system user, in the audio group",
        user.contains("uid=") && user.contains("(audio)"),
        &user,
    )?;
    let enabled = c.systemctl(&["is-enabled", "edge-infer"]);
    expect(
        "the unit is installed and disabled (it needs a model first)",
        enabled.trim() == "disabled",
        &enabled,
    )?;

    // What a user does: a model in the state directory, the config edited; here a recording
    // replayed in real time stands in for the microphone, and the watchdog is short.
    let state = root.join("var/lib/edge-infer");
    let fixture = workspace_root().join("edge-infer/tests/fixtures/tiny-two-head-fp32.onnx");
    let copy = |from: &Path, to: &str| {
        std::fs::copy(from, state.join(to))
            .map(|_| ())
            .map_err(|e| step(format!("{} into the root: {e}", from.display())))
    };
    copy(&fixture, "model.onnx")?;
    let mut clips: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("data/samples/hungry"))
        .map_err(|e| step(e.to_string()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    clips.sort();
    copy(
        clips.first().ok_or_else(|| step("no bundled clip"))?,
        "cry.wav",
    )?;
    let write = |path: &str, text: &str| {
        let p = root.join(path);
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(&p, text).map_err(|e| step(format!("{}: {e}", p.display())))
    };
    write(
        "etc/edge-infer/edge-infer.toml",
        "model = \"/var/lib/edge-infer/model.onnx\"\ninput = \"/var/lib/edge-infer/cry.wav\"\n\
         loop = true\nrealtime = true\n",
    )?;
    write(
        "etc/systemd/system/edge-infer.service.d/test.conf",
        &format!(
            "[Service]\nExecStart=\nExecStart=/usr/bin/edge-infer stream --config \
             /etc/edge-infer/edge-infer.toml\nWatchdogSec={WATCHDOG_S}\n"
        ),
    )?;
    c.run("chown -R edge-infer:edge-infer /var/lib/edge-infer && systemctl daemon-reload")?;

    // Type=notify: start returns once the service said READY=1.
    c.run("systemctl start edge-infer")?;
    let active = c.show("ActiveState");
    expect(
        "`systemctl start` returned with the service active (READY=1 received)",
        active == "active",
        &active,
    )?;
    let pid = c.show("MainPID");
    let status = c.sh(&format!("grep -E '^(Uid|NoNewPrivs):' /proc/{pid}/status"));
    let uid = c.sh("id -u edge-infer");
    expect(
        "the service runs as edge-infer, not root, with no new privileges",
        status
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(uid.trim()))
            && uid.trim() != "0"
            && status.contains("NoNewPrivs:\t1"),
        &status,
    )?;
    for (property, want) in [
        ("User", "edge-infer"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("Type", "notify"),
    ] {
        let seen = c.show(property);
        expect(&format!("{property}={want}"), seen == want, &seen)?;
    }
    let written = c.sh(&format!(
        "nsenter -t {pid} -m sh -c 'touch /usr/x 2>&1; touch /var/lib/edge-infer/x && echo state-ok'"
    ));
    expect(
        "the system is read-only to it and its state directory writable",
        written.contains("Read-only file system") && written.contains("state-ok"),
        &written,
    )?;

    // A hung process: SIGSTOP. The watchdog kills it and systemd starts it again.
    c.run("systemctl kill --signal=SIGSTOP edge-infer")?;
    let restarted = eventually(Duration::from_secs(WATCHDOG_S + 30), || {
        c.show("NRestarts") == "1" && c.show("ActiveState") == "active"
    });
    let journal = c.sh("journalctl -u edge-infer --no-pager");
    expect(
        "a SIGSTOPped service is killed by the watchdog and restarted",
        restarted
            && journal.contains("Watchdog timeout")
            && journal.contains("Failed with result 'watchdog'")
            && c.show("MainPID") != pid,
        &journal,
    )?;

    c.run("systemctl stop edge-infer")?;
    let (stopped, result) = (c.show("ActiveState"), c.show("Result"));
    expect(
        "`systemctl stop` is clean",
        stopped == "inactive" && result == "success",
        &format!("{stopped} {result}"),
    )?;
    let journal = c.sh("journalctl -u edge-infer --no-pager");
    expect(
        "the stopped stream printed its summary (SIGTERM is a clean stop)",
        journal.contains("\"stopped\":\"interrupted\""),
        &journal,
    )?;

    c.run("rm -r /etc/systemd/system/edge-infer.service.d && DEBIAN_FRONTEND=noninteractive apt-get purge -y -q edge-infer >/dev/null")?;
    let left = c.sh("getent passwd edge-infer; getent group edge-infer; \
         ls -d /var/lib/edge-infer /etc/edge-infer /usr/bin/edge-infer \
         /lib/systemd/system/edge-infer.service 2>/dev/null");
    expect(
        "`apt purge` removed the user, the group, the state, the config and the files",
        left.trim().is_empty(),
        &left,
    )?;
    drop(c);
    eprintln!(
        "systemd-test: passed in {:.1} s (boot, install, start, watchdog, stop, purge)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
