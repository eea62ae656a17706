//! Making the machine ready for suites: the Debian packages of [`crate::packages`], installed
//! with apt when run as root, and the cached venvs. What cannot be installed stops the run at
//! once (exit 2) with the exact commands to run; nothing is ever skipped silently.

use std::path::PathBuf;

use crate::cmd::{Cmd, cache_dir, is_root};
use crate::error::{Failure, Result};
use crate::packages::{self, CargoTool, Installed, Package, Python, Suite, Venv};

/// Reads what dpkg has installed; `None` on a machine without dpkg.
pub fn installed() -> Option<Installed> {
    let native = Cmd::new("dpkg")
        .arg("--print-architecture")
        .output_if_ok()?;
    let list = Cmd::new("dpkg-query")
        .args([
            "-W",
            "-f",
            "${Package}:${Architecture} ${db:Status-Status}\\n",
        ])
        .output_if_ok()?;
    Some(Installed::parse(native.trim(), &list))
}

/// How provisioning may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Install what is missing (as root), else stop with the commands.
    Install,
    /// Only check; missing packages stop the run with the commands.
    Check,
}

/// Makes sure every package and venv the suites need is there.
pub fn provision(suites: &[Suite], mode: Mode) -> Result {
    let names: Vec<&str> = suites.iter().map(|s| s.name()).collect();
    let need = packages::needed(suites);
    let installed = installed().ok_or_else(|| {
        Failure::Unprovisioned(format!(
            "this machine has no dpkg: the suites ({}) need these Debian packages or their \
             equivalents: {}",
            names.join(", "),
            describe(&need)
        ))
    })?;
    let missing = packages::missing(&need, &installed);
    if missing.is_empty() {
        eprintln!(
            "provision ({}): all {} Debian packages present",
            names.join(", "),
            need.len()
        );
    } else {
        install(&missing, mode, &names)?;
    }
    for venv in packages::venvs(suites) {
        ensure_venv(venv, mode)?;
    }
    for tool in packages::tools(suites) {
        ensure_tool(tool, mode)?;
    }
    Ok(())
}

/// Where `cargo install` puts the cached tools (`bin/` below it).
pub fn tools_dir() -> PathBuf {
    cache_dir().join("tools")
}

/// The cached tool's program.
pub fn tool_program(tool: &CargoTool) -> PathBuf {
    tools_dir().join("bin").join(tool.name)
}

fn ensure_tool(tool: &CargoTool, mode: Mode) -> Result {
    let program = tool_program(tool);
    // `cargo-deb --version` prints `cargo-deb 3.8.0`.
    let present = Cmd::new(program.to_string_lossy())
        .arg("--version")
        .output_if_ok()
        .is_some_and(|v| v.split_whitespace().any(|w| w == tool.version));
    if present {
        eprintln!("provision: {} {} ready", tool.name, tool.version);
        return Ok(());
    }
    let install = format!(
        "cargo install --locked --version {} --root {} {}",
        tool.version,
        tools_dir().display(),
        tool.name
    );
    if mode == Mode::Check {
        return Err(Failure::Unprovisioned(format!(
            "{} {} ({}) is missing; install it with:\n  {install}",
            tool.name, tool.version, tool.why
        )));
    }
    eprintln!("provision: {install} ({})", tool.why);
    crate::cmd::cargo()
        .args([
            "install",
            "--locked",
            "--quiet",
            "--version",
            tool.version,
            "--root",
        ])
        .arg(tools_dir().to_string_lossy())
        .arg(tool.name)
        // Its own build directory, not the workspace's: it shares nothing with our graph.
        .env("CARGO_TARGET_DIR", cache_dir().join("tools-build"))
        .run()
        .map_err(|e| {
            Failure::Unprovisioned(format!(
                "could not install {} ({e}); install it by hand:\n  {install}",
                tool.name
            ))
        })?;
    let _ = std::fs::remove_dir_all(cache_dir().join("tools-build"));
    Ok(())
}

fn describe(packages: &[&Package]) -> String {
    packages
        .iter()
        .map(|p| format!("\n  {} ({})", p.spec(), p.why))
        .collect()
}

fn unprovisioned(missing: &[&Package], names: &[&str], why: &str) -> Failure {
    let commands = packages::install_commands(missing);
    Failure::Unprovisioned(format!(
        "{why}: the suites ({}) need these Debian packages:{}\nInstall them as root:\n  {}\n\
         or run `cargo xtask provision {}` as root.",
        names.join(", "),
        describe(missing),
        commands.join("\n  "),
        names.join(" "),
    ))
}

/// Whether missing packages may be installed here: only in [`Mode::Install`] and as root;
/// otherwise the failure names the packages and the commands.
fn may_install(missing: &[&Package], mode: Mode, root: bool, names: &[&str]) -> Result {
    match (mode, root) {
        (Mode::Check, _) => Err(unprovisioned(missing, names, "missing")),
        (Mode::Install, false) => Err(unprovisioned(
            missing,
            names,
            "missing, and installing needs root",
        )),
        (Mode::Install, true) => Ok(()),
    }
}

fn install(missing: &[&Package], mode: Mode, names: &[&str]) -> Result {
    may_install(missing, mode, is_root(), names)?;
    let specs: Vec<String> = missing.iter().map(|p| p.spec()).collect();
    eprintln!("provision: installing {}", specs.join(" "));
    let known = Cmd::new("dpkg")
        .arg("--print-foreign-architectures")
        .output_if_ok()
        .unwrap_or_default();
    let apt = || {
        for arch in packages::foreign_archs(missing) {
            if !known.lines().any(|l| l.trim() == arch) {
                Cmd::new("dpkg").args(["--add-architecture", arch]).run()?;
            }
        }
        Cmd::new("apt-get").args(["update", "-qq"]).run()?;
        Cmd::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&specs)
            .run()
    };
    apt().map_err(|e| unprovisioned(missing, names, &format!("apt failed ({e})")))?;
    let after = installed().unwrap_or_default();
    let still = packages::missing(missing, &after);
    if !still.is_empty() {
        return Err(unprovisioned(&still, names, "still missing after apt-get"));
    }
    Ok(())
}

/// The folder of a cached venv.
pub fn venv_dir(venv: &Venv) -> PathBuf {
    cache_dir().join(venv.dir)
}

/// The venv's Python interpreter.
pub fn venv_python(venv: &Venv) -> PathBuf {
    venv_dir(venv).join("bin/python")
}

/// Where pyenv keeps its Pythons: `$PYENV_ROOT`, else `~/.pyenv`.
fn pyenv_root(pyenv_root: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    match (pyenv_root, home) {
        (Some(root), _) if !root.is_empty() => Some(PathBuf::from(root)),
        (_, Some(home)) if !home.is_empty() => Some(PathBuf::from(home).join(".pyenv")),
        _ => None,
    }
}

/// The interpreter a venv is made with; a missing one stops the run naming it (exit 2).
pub fn interpreter(python: Python) -> Result<PathBuf> {
    match python {
        Python::OnPath => Ok(PathBuf::from("python3")),
        Python::Pyenv(version) => {
            let root = pyenv_root(
                std::env::var("PYENV_ROOT").ok().as_deref(),
                std::env::var("HOME").ok().as_deref(),
            )
            .ok_or_else(|| {
                Failure::Unprovisioned(format!(
                    "{} is needed, and neither PYENV_ROOT nor HOME says where pyenv is",
                    python.describe()
                ))
            })?;
            let program = root.join("versions").join(version).join("bin/python3");
            if program.is_file() {
                Ok(program)
            } else {
                Err(Failure::Unprovisioned(format!(
                    "{} is missing: there is no {} (install it with `pyenv install {version}`, \
                     or set PYENV_ROOT to the pyenv that has it)",
                    python.describe(),
                    program.display()
                )))
            }
        }
    }
}

fn ensure_venv(venv: &Venv, mode: Mode) -> Result {
    let dir = venv_dir(venv);
    let python = venv_python(venv);
    let ok = || {
        Cmd::new(python.to_string_lossy())
            .args(["-c", venv.check])
            .succeeds()
    };
    if ok() {
        eprintln!("provision: venv {} ready", dir.display());
        return Ok(());
    }
    let interpreter = interpreter(venv.python)?;
    let create = format!(
        "{} -m venv {1} && {1}/bin/pip install {2}",
        interpreter.display(),
        dir.display(),
        venv.requirements.join(" ")
    );
    if mode == Mode::Check {
        return Err(Failure::Unprovisioned(format!(
            "the venv {} ({}) is missing or incomplete; make it with:\n  {create}",
            dir.display(),
            venv.why
        )));
    }
    eprintln!(
        "provision: making the venv {} with {} ({})",
        dir.display(),
        venv.python.describe(),
        venv.why
    );
    let made = (|| {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| Failure::Step(format!("{}: {e}", dir.display())))?;
        }
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::Step(format!("{}: {e}", parent.display())))?;
        }
        Cmd::new(interpreter.to_string_lossy())
            .args(["-m", "venv"])
            .arg(dir.to_string_lossy())
            .run()?;
        Cmd::new(dir.join("bin/pip").to_string_lossy())
            .args(["install", "-q", "--disable-pip-version-check"])
            .args(venv.requirements)
            .run()
    })();
    made.map_err(|e| {
        Failure::Unprovisioned(format!(
            "could not make the venv {} ({e}); make it by hand:\n  {create}",
            dir.display()
        ))
    })?;
    if !ok() {
        return Err(Failure::Unprovisioned(format!(
            "the venv {} fails its check ({}) after pip install; make it by hand:\n  {create}",
            dir.display(),
            venv.check
        )));
    }
    Ok(())
}

/// The proof that the list installs on a machine with nothing: apt resolves every package and
/// all their dependencies against an empty dpkg status (a simulation; nothing is installed).
pub fn simulate_from_nothing() -> Result {
    let empty_installed = Installed::parse("amd64", "");
    let all = packages::needed(&Suite::ALL);
    let plan = packages::missing(&all, &empty_installed);
    if plan.len() != packages::PACKAGES.len() {
        return Err(Failure::Step(format!(
            "on an empty machine the plan holds {} of the {} packages",
            plan.len(),
            packages::PACKAGES.len()
        )));
    }
    eprintln!(
        "provision from nothing: {}",
        packages::install_commands(&plan).join(" && ")
    );
    let status =
        std::env::temp_dir().join(format!("xtask-empty-dpkg-status-{}", std::process::id()));
    std::fs::write(&status, "").map_err(|e| Failure::Step(format!("{}: {e}", status.display())))?;
    let mut apt = Cmd::new("apt-get").args([
        "install",
        "--simulate",
        "-qq",
        "--no-install-recommends",
        &format!("-oDir::State::status={}", status.display()),
    ]);
    for arch in packages::foreign_archs(&plan) {
        apt = apt.arg(format!("-oAPT::Architectures::={arch}"));
    }
    let specs: Vec<String> = plan.iter().map(|p| p.spec()).collect();
    let out = apt.args(&specs).read();
    let _ = std::fs::remove_file(&status);
    let out = out?;
    let installs = out.lines().filter(|l| l.starts_with("Inst ")).count();
    for p in &plan {
        // `Inst mosquitto (2.0.11-1.2 ...)`, `Inst libasound2-dev:arm64 (...)`.
        let found = out
            .lines()
            .any(|l| l.starts_with(&format!("Inst {} (", p.spec())));
        if !found {
            return Err(Failure::Step(format!(
                "apt's simulation from an empty machine does not install {}",
                p.spec()
            )));
        }
    }
    eprintln!(
        "provision from nothing: apt resolves all {} packages ({installs} with their dependencies) \
         on an empty dpkg status",
        plan.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mosquitto() -> Vec<&'static Package> {
        packages::PACKAGES
            .iter()
            .filter(|p| p.name == "mosquitto")
            .collect()
    }

    #[test]
    fn a_user_without_root_is_stopped_with_the_packages_and_the_command() {
        let e = may_install(&mosquitto(), Mode::Install, false, &["tests"]).unwrap_err();
        assert_eq!(e.process_exit_code(), 2);
        let m = e.to_string();
        assert!(m.contains("installing needs root"), "{m}");
        assert!(m.contains("mosquitto (the MQTT tests"), "{m}");
        assert!(
            m.contains("apt-get install -y --no-install-recommends mosquitto"),
            "{m}"
        );
        assert!(m.contains("cargo xtask provision tests"), "{m}");
    }

    #[test]
    fn check_mode_never_installs_and_root_may() {
        let e = may_install(&mosquitto(), Mode::Check, true, &["tests"]).unwrap_err();
        assert_eq!(e.process_exit_code(), 2);
        assert!(may_install(&mosquitto(), Mode::Install, true, &["tests"]).is_ok());
    }

    #[test]
    fn pyenv_is_found_where_pyenv_root_says_else_in_home() {
        assert_eq!(
            pyenv_root(Some("/opt/pyenv"), Some("/root")),
            Some(PathBuf::from("/opt/pyenv"))
        );
        assert_eq!(
            pyenv_root(None, Some("/root")),
            Some(PathBuf::from("/root/.pyenv"))
        );
        assert_eq!(
            pyenv_root(Some(""), Some("/home/a")),
            Some(PathBuf::from("/home/a/.pyenv"))
        );
        assert_eq!(pyenv_root(None, None), None);
    }

    #[test]
    fn a_missing_pyenv_python_is_named_with_the_command_that_installs_it() {
        let e = interpreter(Python::Pyenv("0.0.1-absent")).unwrap_err();
        assert_eq!(e.process_exit_code(), 2);
        let m = e.to_string();
        assert!(m.contains("pyenv's Python 0.0.1-absent is missing"), "{m}");
        assert!(m.contains("versions/0.0.1-absent/bin/python3"), "{m}");
        assert!(m.contains("pyenv install 0.0.1-absent"), "{m}");
    }
}
