//! Container images without a registry: `cargo xtask image edge [--arch amd64|arm64]
//! [--release]` (the monitor, `localhost/edge-infer:ARCH`), `cargo xtask image train` (host-train
//! with libtorch, `localhost/host-train`), and `cargo xtask image-test` (the monitor's images
//! built and run in a private podman, a CI step).
//!
//! The bases are made here from Debian's packages ([`base`]); nothing is pulled.

mod base;
mod edge;
mod test;
mod train;

pub use edge::{EDGE_IMAGE, build_edge, edge_tag};
pub use test::run as test;
pub use train::TRAIN_IMAGE;

use crate::error::{Failure, Result};
use crate::packages::Suite;
use crate::podman::Podman;
use crate::provision::{self, Mode};
use crate::tasks::deb::{self, Arch};

fn step(m: impl Into<String>) -> Failure {
    Failure::Step(m.into())
}

fn native() -> Option<Arch> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Arch::Amd64),
        "aarch64" => Some(Arch::Arm64),
        _ => None,
    }
}

/// `podman build` of `dist/containers/NAME.Containerfile` for `arch` on `base`, from the
/// files in `context` (removed after), tagged `tags`; prints the first tag and the image's size.
fn build_image(
    podman: &Podman,
    containerfile: &str,
    arch: Arch,
    base: &str,
    tags: &[String],
    context: &std::path::Path,
) -> Result {
    let mut build = podman
        .cmd()
        .args(["build", "--pull=never", "--format", "docker", "--quiet"])
        .args(["--arch", arch.name()])
        .arg(format!("--build-arg=BASE={base}"))
        .arg("--file")
        .arg(
            crate::cmd::workspace_root()
                .join("dist/containers")
                .join(containerfile)
                .to_string_lossy(),
        );
    for tag in tags {
        build = build.args(["--tag", tag]);
    }
    let built = build.arg(context.to_string_lossy()).read();
    let _ = std::fs::remove_dir_all(context);
    built?;
    eprintln!(
        "image: {} ({} MB)",
        tags[0],
        image_size(podman, &tags[0])? / 1_000_000
    );
    Ok(())
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

/// `cargo xtask image edge [--arch amd64|arm64] [--release]` or `cargo xtask image train`.
pub fn run(args: &[String]) -> Result {
    let usage = || {
        Failure::Usage(
            "`image` takes `edge [--arch amd64|arm64] [--release]` or `train` (`image-test` \
             runs the edge images)"
                .into(),
        )
    };
    let (what, rest) = args.split_first().ok_or_else(usage)?;
    match what.as_str() {
        "train" if rest.is_empty() => {
            provision::provision(&[Suite::Libtorch, Suite::Images], Mode::Install)?;
            let tag = train::build(&Podman::machine())?;
            println!("{tag}");
            return Ok(());
        }
        "edge" => {}
        _ => return Err(usage()),
    }
    let (arch, release) =
        deb::arch_and_release("image edge", rest, native().unwrap_or(Arch::Amd64))?;
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
