//! `cargo xtask image-test`: the monitor's images built in a private podman and run for real.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::edge::{build_edge, edge_tag};
use super::step;
use crate::cmd::{cache_dir, workspace_root};
use crate::error::{Failure, Result};
use crate::packages::Suite;
use crate::podman::{self, Podman};
use crate::provision::{self, Mode};
use crate::tasks::deb::{self, Arch};
use crate::{checks, http};

fn expect(what: &str, ok: bool, seen: &str) -> Result {
    checks::expect("image-test", what, ok, seen)
}

/// `GET path` on a loopback port: the status and the body, or `None` when nothing answers.
fn get(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    http::request(port, "GET", path, token, None)
        .ok()
        .map(|r| (r.status, r.body))
}

/// A running container, removed by name when dropped.
struct Running<'a> {
    podman: &'a Podman,
    name: String,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self
            .podman
            .cmd()
            .args(["rm", "--force", "--time", "0", &self.name])
            .succeeds();
    }
}

/// The bundled clip the test classifies.
fn a_clip() -> Result<PathBuf> {
    let dir = workspace_root().join("data/samples/hungry");
    let mut clips: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| step(format!("{}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    clips.sort();
    clips
        .into_iter()
        .next()
        .ok_or_else(|| step(format!("no clip in {}", dir.display())))
}

/// `cargo xtask image-test`: builds the edge image for amd64 and arm64 from `packages`
/// (built now when not given) in a private podman; each classifies a bundled clip (arm64
/// under qemu), and the amd64 one runs as the README says, with the shipped container config,
/// a token as a podman secret and a published loopback port: /healthz answers, the API wants
/// the token, the image's own healthcheck passes, it runs as edge-infer, and stops cleanly.
pub fn run(packages: Option<&[(Arch, PathBuf)]>) -> Result {
    if !crate::cmd::is_root() {
        return Err(Failure::Unprovisioned(
            "the image test mounts binfmt_misc and runs podman as root: run `cargo xtask \
             image-test` as root"
                .into(),
        ));
    }
    provision::provision(&[Suite::Deb, Suite::Aarch64, Suite::Images], Mode::Install)?;
    let packages = match packages {
        Some(p) => p.to_vec(),
        None => {
            let mut built = Vec::new();
            for arch in [Arch::Amd64, Arch::Arm64] {
                built.push((arch, deb::build(arch, false)?));
            }
            built
        }
    };
    let started = Instant::now();
    podman::register_qemu_aarch64()?;
    let podman = Podman::private(&cache_dir().join("podman-test"))?;
    let root = workspace_root();
    let model = root.join("edge-infer/tests/fixtures/tiny-two-head-fp32.onnx");
    let clip = a_clip()?;
    let mount = |from: &Path, to: &str| format!("--volume={}:{to}:ro", from.display());

    for (arch, package) in &packages {
        let tag = build_edge(&podman, *arch, package)?;
        let seen = podman
            .cmd()
            .args([
                "image",
                "inspect",
                "--format",
                "{{.Architecture}} {{.Config.User}}",
            ])
            .arg(&tag)
            .read()?;
        expect(
            &format!("{tag} is an {} image that runs as 10001:29", arch.name()),
            seen.trim() == format!("{} 10001:29", arch.name()),
            &seen,
        )?;
        let out = podman
            .cmd()
            .args(["run", "--rm", "--pull=never", "--network=none"])
            .args(["--arch", arch.name()])
            .arg(mount(&model, "/model.onnx"))
            .arg(mount(&clip, "/clip.wav"))
            .args([&tag, "classify", "--model", "/model.onnx", "/clip.wav"])
            .read()?;
        let line = crate::json::parse(out.lines().next().unwrap_or("")).ok();
        let labelled = line
            .as_ref()
            .is_some_and(|l| l.str_at("file") == Some("/clip.wav") && l.str_at("label").is_some());
        expect(
            &format!("{tag} classifies a bundled clip (exit 0, a label for it)"),
            labelled,
            &out,
        )?;
    }

    // The amd64 image as a service.
    let secrets = std::env::temp_dir().join(format!("xtask-image-secret-{}", std::process::id()));
    let token = format!(
        "image-test-token-{:x}",
        std::process::id() as u64 * 2_654_435_761
    );
    std::fs::write(&secrets, &token).map_err(|e| step(format!("{}: {e}", secrets.display())))?;
    let created = podman
        .cmd()
        .args(["secret", "create", "edge-infer-token"])
        .arg(secrets.to_string_lossy())
        .read();
    let _ = std::fs::remove_file(&secrets);
    created?;
    let port = http::free_port().map_err(step)?;
    let name = format!("edge-infer-test-{}", std::process::id());
    podman
        .cmd()
        .args(["run", "--detach", "--pull=never", "--name", &name])
        .args(["--secret", "edge-infer-token"])
        .arg(format!("--publish=127.0.0.1:{port}:8080"))
        .arg(mount(
            &root.join("dist/containers/edge-infer.toml"),
            "/etc/edge-infer/edge-infer.toml",
        ))
        .arg(mount(&model, "/etc/edge-infer/model.onnx"))
        .arg(mount(&clip, "/clip.wav"))
        // No microphone here: the shipped config, with a recording replayed in real time.
        .args([&edge_tag(Arch::Amd64), "stream", "--config"])
        .args(["/etc/edge-infer/edge-infer.toml", "--input", "/clip.wav"])
        .args(["--loop", "--realtime"])
        .read()?;
    let running = Running {
        podman: &podman,
        name: name.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        match get(port, "/healthz", None) {
            Some((200, body)) => break body,
            _ if Instant::now() > deadline => {
                let logs = podman
                    .cmd()
                    .args(["logs", &name])
                    .output_if_ok()
                    .unwrap_or_default();
                return Err(step(format!(
                    "image-test: /healthz on the published port 127.0.0.1:{port} did not \
                     answer 200 within 60 s; the container's output:\n{logs}"
                )));
            }
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    };
    expect(
        "the published /healthz answers 200 on loopback",
        health.contains("\"status\""),
        &health,
    )?;
    let refused = get(port, "/api/v1/state", None).map(|r| r.0);
    let state = get(port, "/api/v1/state", Some(&token));
    expect(
        "the API refuses a request without the secret's token and answers with it",
        refused == Some(401) && state.as_ref().is_some_and(|s| s.0 == 200),
        &format!("{refused:?} then {state:?}"),
    )?;
    let healthcheck = podman.cmd().args(["healthcheck", "run", &name]).read();
    expect(
        "the image's HEALTHCHECK (edge-infer health) passes",
        healthcheck.is_ok(),
        &format!("{healthcheck:?}"),
    )?;
    let user = podman.cmd().args(["top", &name, "user", "group"]).read()?;
    expect(
        "the monitor runs as edge-infer in the audio group, not root",
        user.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().collect::<Vec<_>>() == ["edge-infer", "audio"]),
        &user,
    )?;
    podman.cmd().args(["stop", "--time", "10", &name]).read()?;
    let exit = podman
        .cmd()
        .args(["inspect", "--format", "{{.State.ExitCode}}", &name])
        .read()?;
    let logs = podman
        .cmd()
        .args(["logs", &name])
        .output_if_ok()
        .unwrap_or_default();
    expect(
        "`podman stop` is a clean stop: exit 0, the stream's summary printed",
        exit.trim() == "0" && logs.contains("\"stopped\":\"interrupted\""),
        &format!("exit {}; {logs}", exit.trim()),
    )?;
    drop(running);
    eprintln!(
        "image-test: passed in {:.1} s (bases, two images, four runs; the packages not counted)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
