//! Podman as xtask drives it: the machine's own configuration (`cargo xtask image`), or a
//! private one in a folder of its own (the image test), and qemu registered with the kernel so
//! that arm64 images run on x86.
//!
//! The private configuration is what these machines need (systemd is not PID 1, the cgroup
//! layout is hybrid): the `runc` runtime (crun refuses the layout), cgroupfs and file events
//! (no systemd, no journal), no healthcheck timers (systemd's), ulimits the sandbox allows, and
//! the storage driver named before the first call (podman otherwise probes for 20 s on every
//! call). Images are only ever built
//! from local files or imported (`--pull=never` everywhere): no registry is asked.

use std::path::{Path, PathBuf};

use crate::cmd::Cmd;
use crate::error::{Failure, Result};

const CONTAINERS_CONF: &str = r#"[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"#;

/// How podman is called.
pub struct Podman {
    /// The private folder (configuration, storage, state), removed when dropped.
    private: Option<PathBuf>,
}

fn step(m: impl Into<String>) -> Failure {
    Failure::Step(m.into())
}

impl Podman {
    /// The machine's podman, with its own configuration and storage (where a user's
    /// `podman run` finds the images).
    pub fn machine() -> Podman {
        Podman { private: None }
    }

    /// A podman with its configuration and storage in `dir` (made anew), all of it removed
    /// when dropped.
    pub fn private(dir: &Path) -> Result<Podman> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| step(format!("{}: {e}", dir.display())))?;
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| step(format!("{}: {e}", p.display())))
        };
        write("containers.conf", CONTAINERS_CONF)?;
        write(
            "storage.conf",
            &format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                dir.join("storage").display(),
                dir.join("run").display()
            ),
        )?;
        Ok(Podman {
            private: Some(dir.to_path_buf()),
        })
    }

    /// `podman` in this configuration.
    pub fn cmd(&self) -> Cmd {
        let c = Cmd::new("podman");
        match &self.private {
            Some(dir) => c
                .env("CONTAINERS_CONF", dir.join("containers.conf"))
                .env("CONTAINERS_STORAGE_CONF", dir.join("storage.conf"))
                // podman schedules an image's healthcheck with a systemd timer, and the
                // systemd here is not PID 1 (every run would log errors and linger): none, and
                // `podman healthcheck run` runs it on demand.
                .env("DISABLE_HC_SYSTEMD", "true"),
            None => c,
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let Some(dir) = &self.private else { return };
        // Stops what still runs and unmounts the overlay layers before the folder goes.
        let _ = self.cmd().args(["system", "reset", "--force"]).succeeds();
        let _ = std::fs::remove_dir_all(dir);
    }
}

const BINFMT: &str = "/proc/sys/fs/binfmt_misc";

/// Registers Debian's qemu-aarch64 with the kernel (mounting binfmt_misc first where it is
/// not), so that arm64 programs, in images too, run on this machine. Its `F` flag makes the
/// kernel open the interpreter now, so it works inside containers that do not have it.
pub fn register_qemu_aarch64() -> Result {
    let root = Path::new(BINFMT);
    if !root.join("register").exists() {
        Cmd::new("mount")
            .args(["-t", "binfmt_misc", "binfmt_misc", BINFMT])
            .run()?;
    }
    let entry = root.join("qemu-aarch64");
    if let Ok(status) = std::fs::read_to_string(&entry) {
        if status.starts_with("enabled") {
            return Ok(());
        }
        return Err(step(format!(
            "{} is registered but disabled: `echo 1 > {}` enables it",
            entry.display(),
            entry.display()
        )));
    }
    let conf = Path::new("/usr/lib/binfmt.d/qemu-aarch64.conf");
    let text = std::fs::read_to_string(conf).map_err(|e| {
        step(format!(
            "{}: {e} (Debian's qemu-user-static provides it)",
            conf.display()
        ))
    })?;
    let line = text
        .lines()
        .find(|l| l.starts_with(':'))
        .ok_or_else(|| step(format!("{} holds no registration", conf.display())))?;
    eprintln!("$ echo '{line}' > {BINFMT}/register");
    std::fs::write(root.join("register"), line)
        .map_err(|e| step(format!("{BINFMT}/register: {e}")))?;
    Ok(())
}
