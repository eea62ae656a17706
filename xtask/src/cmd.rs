//! Running programs: echoed before they run, failures named with the command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Failure, Result};

/// A command line to run, echoed as `$ program args` first.
pub struct Cmd {
    inner: Command,
    shown: String,
}

/// Whether `cargo run` put this variable in xtask's environment (about xtask itself). Programs
/// xtask runs must not see them: build scripts such as ring's rerun when `CARGO_PKG_NAME` or
/// `CARGO_MANIFEST_DIR` change, so a build under xtask would recompile what the same command
/// typed in a shell had built (ring, rustls, ureq, hf-hub and host-train were, once).
pub fn set_by_cargo_run(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_RUSTC_CURRENT_DIR"
        )
}

impl Cmd {
    /// `program`, in xtask's environment less what `cargo run` added about xtask.
    pub fn new(program: impl AsRef<str>) -> Cmd {
        let mut inner = Command::new(program.as_ref());
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(set_by_cargo_run) {
                inner.env_remove(&name);
            }
        }
        Cmd {
            inner,
            shown: program.as_ref().to_string(),
        }
    }

    /// `bash -c LINE`, shown as the line itself.
    pub fn shell(line: &str) -> Cmd {
        let mut c = Cmd::new("bash");
        c.inner.arg("-c").arg(line);
        c.shown = line.to_string();
        c
    }

    pub fn arg(mut self, a: impl AsRef<str>) -> Cmd {
        self.shown.push(' ');
        self.shown.push_str(a.as_ref());
        self.inner.arg(a.as_ref());
        self
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Cmd {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// Sets an environment variable (shown before the command).
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.shown = format!("{key}={} {}", value.as_ref().to_string_lossy(), self.shown);
        self.inner.env(key, value);
        self
    }

    pub fn dir(mut self, dir: &Path) -> Cmd {
        self.inner.current_dir(dir);
        self
    }

    /// Runs with the terminal's output; a non-zero exit is a failed step.
    pub fn run(self) -> Result {
        eprintln!("$ {}", self.shown);
        self.run_quiet_echo()
    }

    /// Runs with stdout captured (stderr to the terminal); a non-zero exit is a failed step.
    pub fn read(mut self) -> Result<String> {
        eprintln!("$ {}", self.shown);
        let out = self
            .inner
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| Failure::Step(format!("{}: cannot start: {e}", self.shown)))?;
        if !out.status.success() {
            return Err(Failure::Step(format!("{}: {}", self.shown, out.status)));
        }
        String::from_utf8(out.stdout)
            .map_err(|e| Failure::Step(format!("{}: output is not UTF-8: {e}", self.shown)))
    }

    /// Runs with stdout written to `file` (stderr to the terminal).
    pub fn run_to_file(mut self, file: &Path) -> Result {
        eprintln!("$ {} > {}", self.shown, file.display());
        let f = std::fs::File::create(file)
            .map_err(|e| Failure::Step(format!("{}: {e}", file.display())))?;
        self.inner.stdout(f);
        self.run_quiet_echo()
    }

    fn run_quiet_echo(mut self) -> Result {
        let status = self
            .inner
            .status()
            .map_err(|e| Failure::Step(format!("{}: cannot start: {e}", self.shown)))?;
        if status.success() {
            Ok(())
        } else {
            Err(Failure::Step(format!("{}: {status}", self.shown)))
        }
    }

    /// Runs quietly and says only whether it succeeded (a probe; a missing program is `false`).
    pub fn succeeds(mut self) -> bool {
        self.inner
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Runs quietly and returns stdout if it succeeded.
    pub fn output_if_ok(mut self) -> Option<String> {
        let out = self.inner.stderr(Stdio::null()).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The workspace root (xtask lives one folder below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Cargo's build directory: `$CARGO_TARGET_DIR`, else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// Where xtask caches what it provisions (venvs), under the build directory.
pub fn cache_dir() -> PathBuf {
    target_dir().join("xtask")
}

/// The cargo that runs xtask (`$CARGO`), so nested builds use the same toolchain.
pub fn cargo() -> Cmd {
    Cmd::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Cmd::new("id")
        .arg("-u")
        .output_if_ok()
        .is_some_and(|uid| uid.trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_run_without_what_cargo_run_said_about_xtask() {
        // Under `cargo test` this process has CARGO_PKG_NAME=xtask and CARGO_MANIFEST_DIR set.
        assert_eq!(std::env::var("CARGO_PKG_NAME").as_deref(), Ok("xtask"));
        let env = Cmd::new("env").output_if_ok().unwrap();
        let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
        assert!(names.contains(&"PATH"), "{env}");
        for name in names {
            assert!(!set_by_cargo_run(name), "{name} reached a child");
        }
        assert!(set_by_cargo_run("CARGO_PKG_VERSION_MAJOR"));
        assert!(!set_by_cargo_run("CARGO_TARGET_DIR"));
        assert!(!set_by_cargo_run("CARGO_HOME"));
    }
}
