//! `cargo xtask image edge [--arch amd64|arm64] [--release]`: the monitor's container image
//! (`dist/containers/edge.Containerfile`), tagged `localhost/edge-infer:ARCH`, and
//! `cargo xtask image-test`: both architectures built in a private podman and run for real.
//!
//! No registry: the base is made here from Debian's packages (`mmdebstrap --variant=extract`:
//! glibc, ALSA, CA certificates, nothing that runs), cached as a tarball under the build
//! directory and `podman import`ed; the binary is the one the Debian package carries
//! (stripped), so CI images what it tested and packaged.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cmd::{Cmd, cache_dir, workspace_root};
use crate::error::{Failure, Result};
use crate::packages::Suite;
use crate::podman::{self, Podman};
use crate::provision::{self, Mode};
use crate::tasks::deb::{self, Arch};

/// The Debian release of the base, as the package's.
const RELEASE: &str = "bookworm";
/// What the base holds: what the binary links (glibc, libgcc, ALSA) and the CA certificates
/// that `mqtts://` and https webhooks verify against.
const BASE_PACKAGES: &str = "libc6,libgcc-s1,libasound2,ca-certificates";
/// What the extract variant cannot do, done after extraction: the CA bundle that
/// ca-certificates' maintainer script would make, the image's users and its state directory.
/// Docs, manuals and translations go. (One line: mmdebstrap takes a hook with a newline for a
/// file name first.)
const BASE_HOOK: &[&str] = &[
    r#"cat "$1"/usr/share/ca-certificates/mozilla/*.crt > "$1"/etc/ssl/certs/ca-certificates.crt"#,
    r#"rm -rf "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/locale "$1"/usr/share/lintian"#,
    r#"printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nedge-infer:x:10001:29:edge-infer:/var/lib/edge-infer:/usr/sbin/nologin\n' > "$1"/etc/passwd"#,
    r#"printf 'root:x:0:\naudio:x:29:edge-infer\nedge-infer:x:10001:\n' > "$1"/etc/group"#,
    r#"mkdir -p "$1"/etc/edge-infer "$1"/var/lib/edge-infer "$1"/tmp"#,
    r#"chmod 1777 "$1"/tmp"#,
    r#"chown 10001:29 "$1"/var/lib/edge-infer"#,
    r#"chmod 750 "$1"/var/lib/edge-infer"#,
];
/// The image's name.
pub const EDGE_IMAGE: &str = "localhost/edge-infer";

fn step(m: impl Into<String>) -> Failure {
    Failure::Step(m.into())
}

/// The tag of the edge image for `arch`.
pub fn edge_tag(arch: Arch) -> String {
    format!("{EDGE_IMAGE}:{}", arch.name())
}

fn native() -> Option<Arch> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Arch::Amd64),
        "aarch64" => Some(Arch::Arm64),
        _ => None,
    }
}

/// The cached base root for `arch`, made once per release and package list.
fn base_tarball(arch: Arch) -> Result<PathBuf> {
    let dir = cache_dir().join("images");
    // The hook's text is part of the name: a changed hook makes a new base.
    let hook = BASE_HOOK.join(" && ");
    let hook_id = hook.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let tar = dir.join(format!(
        "edge-infer-base-{RELEASE}-{}-{}-{hook_id:016x}.tar",
        arch.name(),
        BASE_PACKAGES.replace(',', "+")
    ));
    if tar.is_file() {
        eprintln!("image: cached base {}", tar.display());
        return Ok(tar);
    }
    std::fs::create_dir_all(&dir).map_err(|e| step(format!("{}: {e}", dir.display())))?;
    // mmdebstrap picks its output format by the name's ending: keep `.tar` last.
    let partial = tar.with_extension("partial.tar");
    Cmd::new("mmdebstrap")
        .args(["--variant=extract", "--quiet"])
        .arg(format!("--arch={}", arch.name()))
        .arg(format!("--include={BASE_PACKAGES}"))
        .arg(format!("--extract-hook={hook}"))
        .args([RELEASE, &partial.to_string_lossy()])
        .run()?;
    std::fs::rename(&partial, &tar).map_err(|e| step(format!("{}: {e}", tar.display())))?;
    Ok(tar)
}

/// Imports the base for `arch` and returns its tag.
fn import_base(podman: &Podman, arch: Arch) -> Result<String> {
    let tar = base_tarball(arch)?;
    let tag = format!("localhost/edge-infer-base:{RELEASE}-{}", arch.name());
    podman
        .cmd()
        .args(["import", "--quiet", "--arch", arch.name()])
        .args([&tar.to_string_lossy(), tag.as_str()])
        .read()?;
    Ok(tag)
}

/// Builds the edge image for `arch` around the binary in `package` (an edge-infer .deb of
/// that architecture); returns its tag.
pub fn build_edge(podman: &Podman, arch: Arch, package: &Path) -> Result<String> {
    let base = import_base(podman, arch)?;
    let context = std::env::temp_dir().join(format!(
        "xtask-image-{}-{}",
        arch.name(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&context);
    std::fs::create_dir_all(&context).map_err(|e| step(format!("{}: {e}", context.display())))?;
    let unpacked = context.join("deb");
    Cmd::new("dpkg-deb")
        .args(["--extract", &package.to_string_lossy()])
        .arg(unpacked.to_string_lossy())
        .run()?;
    std::fs::rename(
        unpacked.join("usr/bin/edge-infer"),
        context.join("edge-infer"),
    )
    .map_err(|e| step(format!("{}: no usr/bin/edge-infer: {e}", package.display())))?;
    let _ = std::fs::remove_dir_all(&unpacked);
    let tag = edge_tag(arch);
    let mut build = podman
        .cmd()
        .args(["build", "--pull=never", "--format", "docker", "--quiet"])
        .args(["--arch", arch.name()])
        .arg(format!("--build-arg=BASE={base}"))
        .arg("--file")
        .arg(
            workspace_root()
                .join("dist/containers/edge.Containerfile")
                .to_string_lossy(),
        )
        .args(["--tag", &tag]);
    if native() == Some(arch) {
        build = build.args(["--tag", &format!("{EDGE_IMAGE}:latest")]);
    }
    let built = build.arg(context.to_string_lossy()).read();
    let _ = std::fs::remove_dir_all(&context);
    built?;
    eprintln!(
        "image: {tag} ({} MB)",
        image_size(podman, &tag)? / 1_000_000
    );
    Ok(tag)
}

/// The image's size as podman counts it (its layers, uncompressed).
fn image_size(podman: &Podman, tag: &str) -> Result<u64> {
    let text = podman
        .cmd()
        .args(["image", "inspect", "--format", "{{.Size}}", tag])
        .read()?;
    text.trim()
        .parse()
        .map_err(|e| step(format!("podman's size of {tag}: `{}`: {e}", text.trim())))
}

/// `cargo xtask image edge [--arch amd64|arm64] [--release]`.
pub fn run(args: &[String]) -> Result {
    let usage = || {
        Failure::Usage(
            "`image` takes `edge [--arch amd64|arm64] [--release]` (`image-test` runs them)".into(),
        )
    };
    let (what, rest) = args.split_first().ok_or_else(usage)?;
    if what != "edge" {
        return Err(usage());
    }
    let mut arch = native().unwrap_or(Arch::Amd64);
    let mut release = false;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--release" => release = true,
            "--arch" => {
                let name = it.next().map(String::as_str).unwrap_or("");
                arch = Arch::from_name(name).ok_or_else(|| {
                    Failure::Usage(format!("--arch takes amd64 or arm64, not `{name}`"))
                })?;
            }
            _ => return Err(usage()),
        }
    }
    let mut suites = vec![Suite::Deb, Suite::Images];
    if arch == Arch::Arm64 {
        suites.push(Suite::Aarch64);
    }
    provision::provision(&suites, Mode::Install)?;
    let package = deb::build(arch, release)?;
    deb::check(&package, arch)?;
    let tag = build_edge(&Podman::machine(), arch, &package)?;
    println!("{tag}");
    Ok(())
}

/// A loopback port free now.
fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| step(format!("no free loopback port: {e}")))
}

/// `GET path` on a loopback port: the status and the body, or `None` when nothing answers.
fn get(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

fn expect(what: &str, ok: bool, seen: &str) -> Result {
    if ok {
        eprintln!("image-test: ok: {what}");
        Ok(())
    } else {
        Err(step(format!("image-test: {what}; seen: {seen}")))
    }
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
pub fn test(packages: Option<&[(Arch, PathBuf)]>) -> Result {
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
    let port = free_port()?;
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
