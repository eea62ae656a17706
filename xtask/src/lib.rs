//! Repository chores for cry-classifier, run as `cargo xtask TASK`: provisioning a Debian
//! machine for the test suites (the one list of system dependencies is [`packages`]), the
//! README's test command, and CI.

pub mod artifacts;
pub mod checks;
pub mod cmd;
pub mod error;
pub mod http;
pub mod json;
pub mod mmdebstrap;
pub mod mqtt;
pub mod packages;
pub mod podman;
pub mod provision;
pub mod prune;
pub mod readme;
pub mod tasks;

use error::{Failure, Result};
use packages::Suite;
use provision::Mode;

/// What `cargo xtask help` prints.
pub const USAGE: &str = "\
cargo xtask TASK

Tasks:
  test [--no-install] [CARGO_TEST_ARGS...]
        The README's test command: installs the Debian packages the tests need (as root;
        otherwise exits 2 naming them and the command), then runs every test of the
        workspace with edge-infer built as it ships (--features mic).
  ci    What CI runs (.ci/run): provisioning of every suite, fmt, clippy, the README's two
        commands as written, the check that the second reuses the first one's build, the
        mutation harnesses, edge-infer for aarch64 under qemu, the Debian packages (amd64,
        arm64) and the amd64 one under a real systemd, the container images, a real Home
        Assistant, the libtorch
        backend.
  deb [--arch amd64|arm64] [--release]
        edge-infer's Debian package, checked (files, conffile, user, unit not enabled, a
        binary that runs): by default from the binary the tests built (dev profile, with the
        microphone); --release builds the release binary first. Prints the .deb's path.
  systemd-test
        As root: boots a Debian root (mmdebstrap, cached) under systemd-nspawn, installs the
        amd64 package with apt, and checks the service for real: READY=1, its user and
        hardening, the watchdog restarting a hung process, a clean stop, apt purge.
  image edge [--arch amd64|arm64] [--release]
        The monitor's container image (dist/containers/edge.Containerfile) in the machine's
        podman, tagged localhost/edge-infer:ARCH (and :latest for this machine's), around the
        binary of the Debian package above; its base is made here with mmdebstrap and
        imported (no registry). Prints the tag.
  image-test
        As root, in a private podman: builds the amd64 and arm64 images, has each classify a
        bundled clip (arm64 under qemu, registered with binfmt_misc), and runs the amd64 one
        with the shipped config, a token secret and a published loopback port: /healthz, the
        token, the image's healthcheck, its user, a clean stop.
  ha-test
        edge-infer against a real Home Assistant Core (a pinned release from PyPI in a cached
        venv) and mosquitto on loopback: onboarding and the MQTT integration set up over HA's
        REST API, then a cry recording streamed with --ha-discovery and HA's own states checked:
        the three entities and their ids, crying on then off, the cry_started event, the
        reason, the entities back after HA restarts (the birth message), and every entity
        unavailable once the monitor is killed (the last will).
  provision [SUITE...] [--check]
        Installs what the suites need (default: all of them): tests, aarch64, libtorch, deb,
        images, home-assistant.
        --check only checks, and exits 2 naming what is missing.
  provision --from-nothing
        Shows the plan for a machine with no package installed, and has apt resolve it
        against an empty dpkg status (a simulation: nothing is installed).
  packages [SUITE...]
        Lists the Debian packages and venvs the suites need, and why.

Exit codes: 0 success, 1 a step failed (a test, a check, a build), 2 bad arguments or a
machine that lacks what a suite needs (the message names it and the command that installs it).
";

/// Runs the task named by `args` (without the program name).
pub fn run(args: &[String]) -> Result {
    let (task, rest) = match args.split_first() {
        Some((t, r)) => (t.as_str(), r),
        None => return Err(Failure::Usage(format!("no task given\n\n{USAGE}"))),
    };
    match task {
        "test" => {
            let no_install = rest.first().is_some_and(|a| a == "--no-install");
            let extra = if no_install { &rest[1..] } else { rest };
            let mode = if no_install {
                Mode::Check
            } else {
                Mode::Install
            };
            tasks::test::run(extra, mode)
        }
        "deb" => tasks::deb::run(rest),
        "systemd-test" => {
            if !rest.is_empty() {
                return Err(Failure::Usage(format!(
                    "`systemd-test` takes no arguments: {rest:?}"
                )));
            }
            tasks::systemd::run()
        }
        "image" => tasks::image::run(rest),
        "image-test" => {
            if !rest.is_empty() {
                return Err(Failure::Usage(format!(
                    "`image-test` takes no arguments: {rest:?}"
                )));
            }
            tasks::image::test(None)
        }
        "ha-test" => {
            if !rest.is_empty() {
                return Err(Failure::Usage(format!(
                    "`ha-test` takes no arguments: {rest:?}"
                )));
            }
            tasks::home_assistant::run()
        }
        "ci" => {
            if !rest.is_empty() {
                return Err(Failure::Usage(format!("`ci` takes no arguments: {rest:?}")));
            }
            tasks::ci::run()
        }
        "provision" => {
            if rest == ["--from-nothing"] {
                return provision::simulate_from_nothing();
            }
            let check = rest.iter().any(|a| a == "--check");
            let suites = suites(rest.iter().filter(|a| *a != "--check"))?;
            let mode = if check { Mode::Check } else { Mode::Install };
            provision::provision(&suites, mode)
        }
        "packages" => {
            let suites = suites(rest.iter())?;
            for p in packages::needed(&suites) {
                let used: Vec<&str> = p.suites.iter().map(|s| s.name()).collect();
                println!("{:28} {:22} {}", p.spec(), used.join(","), p.why);
            }
            for v in packages::venvs(&suites) {
                let used: Vec<&str> = v.suites.iter().map(|s| s.name()).collect();
                println!(
                    "{:28} {:22} {} (pip install {}, with {}, in {})",
                    format!("venv {}", v.dir),
                    used.join(","),
                    v.why,
                    v.requirements.join(" "),
                    v.python.describe(),
                    provision::venv_dir(v).display()
                );
            }
            Ok(())
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(Failure::Usage(format!("unknown task `{other}`\n\n{USAGE}"))),
    }
}

/// The suites named on the command line; none named means all.
fn suites<'a>(names: impl Iterator<Item = &'a String>) -> Result<Vec<Suite>> {
    let mut out = Vec::new();
    for n in names {
        let s = Suite::from_name(n).ok_or_else(|| {
            Failure::Usage(format!(
                "unknown suite `{n}` (the suites: {})",
                Suite::ALL.map(Suite::name).join(", ")
            ))
        })?;
        out.push(s);
    }
    if out.is_empty() {
        out = Suite::ALL.to_vec();
    }
    Ok(out)
}
