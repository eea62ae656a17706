//! `cargo xtask deb`: edge-infer's Debian package for amd64 or arm64 (the Pi), from the
//! `[package.metadata.deb]` of `edge-infer/Cargo.toml` with cargo-deb, then checked: the
//! files, the conffile, the maintainer scripts, the unit neither enabled nor started, and a
//! binary for the right CPU that runs (arm64 under qemu).
//!
//! By default it packages the binary the test build made (the dev profile, with the
//! microphone), so CI packages what it tested without another build; `--release` builds the
//! release binary first (about 10 minutes per architecture on 2 cores).

use std::path::{Path, PathBuf};

use crate::cmd::{Cmd, cache_dir, cargo, target_dir, workspace_root};
use crate::error::{Failure, Result};
use crate::packages::{Suite, TOOLS};
use crate::provision::{self, Mode, tool_program};

/// A Debian architecture the package is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// x86-64 (`x86_64-unknown-linux-gnu`).
    Amd64,
    /// The Raspberry Pi's (`aarch64-unknown-linux-gnu`).
    Arm64,
}

impl Arch {
    /// Debian's name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    pub fn from_name(name: &str) -> Option<Arch> {
        [Arch::Amd64, Arch::Arm64]
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// The ELF `e_machine` of its binaries.
    fn elf_machine(self) -> u16 {
        match self {
            Arch::Amd64 => 0x3E,
            Arch::Arm64 => 0xB7,
        }
    }
}

/// Where the packages go.
pub fn output_dir() -> PathBuf {
    target_dir().join("debian")
}

/// What `--arch amd64|arm64` and `--release` say, for `deb` and `image edge`: the architecture
/// (`default` when absent) and whether to build in release.
pub fn arch_and_release(task: &str, args: &[String], default: Arch) -> Result<(Arch, bool)> {
    let mut arch = default;
    let mut release = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--release" => release = true,
            "--arch" => {
                let name = it.next().map(String::as_str).unwrap_or("");
                arch = Arch::from_name(name).ok_or_else(|| {
                    Failure::Usage(format!("--arch takes amd64 or arm64, not `{name}`"))
                })?;
            }
            other => return Err(Failure::Usage(format!("`{task}` does not take `{other}`"))),
        }
    }
    Ok((arch, release))
}

/// `cargo xtask deb [--arch amd64|arm64] [--release]`.
pub fn run(args: &[String]) -> Result {
    let (arch, release) = arch_and_release("deb", args, Arch::Amd64)?;
    let mut suites = vec![Suite::Deb];
    if arch == Arch::Arm64 {
        suites.push(Suite::Aarch64);
    }
    provision::provision(&suites, Mode::Install)?;
    let deb = build(arch, release)?;
    check(&deb, arch)?;
    println!("{}", deb.display());
    Ok(())
}

/// The aarch64 build directory (as `cargo xtask ci` uses it).
pub fn aarch64_target_dir() -> PathBuf {
    cache_dir().join("target-aarch64")
}

/// Builds the package and returns its path.
pub fn build(arch: Arch, release: bool) -> Result<PathBuf> {
    let root = workspace_root();
    let out = output_dir().join(arch.name());
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| step(format!("{}: {e}", out.display())))?;
    let cargo_deb = tool_program(&TOOLS[0]);
    let mut words = vec![
        cargo_deb.display().to_string(),
        "-p".into(),
        "edge-infer".into(),
        "--locked".into(),
        "--output".into(),
        out.display().to_string(),
    ];
    if !release {
        // The binary the tests ran; built here only if it is missing (a no-op in CI).
        words.extend(["--no-build", "--profile", "dev"].map(String::from));
    }
    match arch {
        Arch::Amd64 => {
            if !release {
                cargo()
                    .args(["build", "-p", "edge-infer", "--features", "mic", "--locked"])
                    .run()?;
            }
            Cmd::new(&words[0]).args(&words[1..]).dir(&root).run()?;
        }
        Arch::Arm64 => {
            let target = "--target aarch64-unknown-linux-gnu";
            let mut line = String::from("source cross/aarch64-env.sh && ");
            if !release {
                line.push_str(&format!(
                    "cargo build -p edge-infer --features mic --locked {target} && "
                ));
            }
            line.push_str(&format!("{} {target}", words.join(" ")));
            Cmd::shell(&line)
                .env("CARGO_TARGET_DIR", aarch64_target_dir())
                .dir(&root)
                .run()?;
        }
    }
    let debs: Vec<PathBuf> = std::fs::read_dir(&out)
        .map_err(|e| step(format!("{}: {e}", out.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    match debs.as_slice() {
        [deb] => Ok(deb.clone()),
        other => Err(step(format!(
            "cargo-deb left {} packages in {}: {other:?}",
            other.len(),
            out.display()
        ))),
    }
}

fn step(m: impl Into<String>) -> Failure {
    Failure::Step(m.into())
}

/// Whether a postinst leaves a new install disabled and stopped: an `enable` only under
/// debhelper's `was-enabled` guard (an upgrade keeps the admin's choice), no `start`.
fn neither_enables_nor_starts(postinst: &str) -> bool {
    let lines: Vec<&str> = postinst.lines().collect();
    let guarded_enables = lines.iter().enumerate().all(|(i, line)| {
        !line.contains("deb-systemd-helper enable")
            || lines[i.saturating_sub(3)..i]
                .iter()
                .any(|l| l.contains("was-enabled"))
    });
    let starts = lines.iter().any(|l| {
        l.contains("deb-systemd-invoke start")
            || l.contains("systemctl start")
            || l.contains("systemctl --system start")
            || l.contains("systemctl enable")
    });
    guarded_enables && !starts
}

/// `dpkg-deb`'s answer.
fn dpkg_deb(args: &[&str]) -> Result<String> {
    Cmd::new("dpkg-deb").args(args).read()
}

/// Checks what the package holds and says; the binary runs (`--version`).
pub fn check(deb: &Path, arch: Arch) -> Result {
    let d = deb.to_string_lossy();
    let field =
        |name: &str| -> Result<String> { Ok(dpkg_deb(&["--field", &d, name])?.trim().to_string()) };
    let want = |what: &str, ok: bool, seen: &str| -> Result {
        if ok {
            Ok(())
        } else {
            Err(step(format!("{}: {what}; it has: {seen}", deb.display())))
        }
    };
    let package = field("Package")?;
    want(
        "the package is edge-infer",
        package == "edge-infer",
        &package,
    )?;
    let architecture = field("Architecture")?;
    want(
        &format!("its architecture is {}", arch.name()),
        architecture == arch.name(),
        &architecture,
    )?;
    let depends = field("Depends")?;
    want(
        "it depends on the C library and ALSA (dpkg-shlibdeps)",
        depends.contains("libc6") && depends.contains("libasound2"),
        &depends,
    )?;
    let contents = dpkg_deb(&["--contents", &d])?;
    for path in [
        "./usr/bin/edge-infer",
        "./etc/edge-infer/edge-infer.toml",
        "/systemd/system/edge-infer.service",
    ] {
        want(
            &format!("it installs {path}"),
            contents.lines().any(|l| l.ends_with(path)),
            &contents,
        )?;
    }
    let conffiles = dpkg_deb(&["--info", &d, "conffiles"])?;
    want(
        "the config is a conffile (edits survive upgrades)",
        conffiles
            .lines()
            .any(|l| l.trim() == "/etc/edge-infer/edge-infer.toml"),
        &conffiles,
    )?;
    let postinst = dpkg_deb(&["--info", &d, "postinst"])?;
    want(
        "postinst creates the edge-infer user in the audio group",
        postinst.contains("useradd") && postinst.contains("--groups audio"),
        &postinst,
    )?;
    want(
        "postinst neither enables nor starts the unit (it needs a model first): it enables \
         it again only where the admin had (`was-enabled`), and only restarts a running one",
        neither_enables_nor_starts(&postinst),
        &postinst,
    )?;
    let postrm = dpkg_deb(&["--info", &d, "postrm"])?;
    want(
        "postrm removes the user and the state on purge",
        postrm.contains("userdel") && postrm.contains("/var/lib/edge-infer"),
        &postrm,
    )?;

    // The binary: an ELF for the architecture, which runs.
    let dir = std::env::temp_dir().join(format!("xtask-deb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dpkg_deb(&["--extract", &d, &dir.to_string_lossy()])?;
    let exe = dir.join("usr/bin/edge-infer");
    let head = std::fs::read(&exe).map_err(|e| step(format!("{}: {e}", exe.display())))?;
    let machine = head.get(18..20).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let elf = head.starts_with(b"\x7fELF") && machine == Some(arch.elf_machine());
    let version = match arch {
        Arch::Amd64 => Cmd::new(exe.to_string_lossy()).arg("--version").read(),
        Arch::Arm64 => Cmd::new("qemu-aarch64-static")
            .arg(exe.to_string_lossy())
            .arg("--version")
            .read(),
    };
    let size = head.len();
    let _ = std::fs::remove_dir_all(&dir);
    want(
        &format!("usr/bin/edge-infer is an ELF for {}", arch.name()),
        elf,
        &format!("machine {machine:?}"),
    )?;
    let version = version?;
    want(
        "the packaged binary runs",
        version.starts_with("edge-infer "),
        &version,
    )?;
    let deb_size = std::fs::metadata(deb).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "{}: {} KiB package, {} KiB binary, Depends: {depends}; {}",
        deb.display(),
        deb_size / 1024,
        size / 1024,
        version.trim()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postinst_that_enables_or_starts_on_install_is_refused() {
        let guarded = "if deb-systemd-helper --quiet was-enabled x.service; then\n\
                       \t# Create new symlinks, if any.\n\
                       \tdeb-systemd-helper enable x.service >/dev/null || true\nfi\n\
                       deb-systemd-invoke try-restart x.service\n";
        assert!(neither_enables_nor_starts(guarded));
        assert!(!neither_enables_nor_starts(
            "deb-systemd-helper enable x.service >/dev/null || true\n"
        ));
        assert!(!neither_enables_nor_starts(
            "deb-systemd-invoke start x.service >/dev/null || true\n"
        ));
    }
}
