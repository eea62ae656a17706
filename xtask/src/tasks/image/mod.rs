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
