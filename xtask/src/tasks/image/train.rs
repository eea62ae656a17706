//! The training image: host-train built in release with libtorch (`--features tch`) from the
//! torch wheel of the cached venv, linked against libtorch's CPU libraries only, and
//! `dist/containers/train.Containerfile` around it with the libraries it loads.
//!
//! PyPI's torch for Linux is the CUDA build (torch/lib holds libtorch_cuda, and the nvidia-*
//! wheels several GB of CUDA). tch links libtorch_cuda whenever it finds it beside
//! libtorch_cpu, so the build here points tch at a folder of links to torch's libraries
//! without the CUDA ones; the image then carries the closure of the binary's DT_NEEDED
//! entries over that folder, nothing more.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{base, build_image, step};
use crate::cmd::{Cmd, cache_dir, cargo, workspace_root};
use crate::error::Result;
use crate::packages::{self, Suite};
use crate::podman::Podman;
use crate::provision::venv_python;
use crate::tasks::deb::Arch;

/// The image's name.
pub const TRAIN_IMAGE: &str = "localhost/host-train";

/// torch/lib's libraries that only the CUDA path (or Python) loads.
fn cuda_only(name: &str) -> bool {
    name.contains("cuda")
        || name.contains("nvrtc")
        || name.contains("nvshmem")
        || name.starts_with("libtorch_python")
        || name.starts_with("libshm")
}

/// What the venv's Python says.
fn python(code: &str) -> Result<String> {
    Ok(
        Cmd::new(venv_python(packages::venvs(&[Suite::Libtorch])[0]).to_string_lossy())
            .args(["-c", code])
            .read()?
            .trim()
            .to_string(),
    )
}

/// A folder `lib/` of links to every library of torch/lib but the CUDA ones, and to the
/// nvidia-* wheels' libraries (libtorch_cpu's profiler links libcupti and libcudart).
fn cpu_libtorch(torch: &Path) -> Result<PathBuf> {
    let dir = cache_dir().join("libtorch-cpu");
    let lib = dir.join("lib");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&lib).map_err(|e| step(format!("{}: {e}", lib.display())))?;
    let mut sources = vec![torch.join("lib")];
    let nvidia = torch.parent().expect("site-packages").join("nvidia");
    if let Ok(entries) = std::fs::read_dir(&nvidia) {
        sources.extend(entries.flatten().map(|e| e.path().join("lib")));
    }
    for source in sources {
        let Ok(entries) = std::fs::read_dir(&source) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let from_torch = source == torch.join("lib");
            if !name.contains(".so") || (from_torch && cuda_only(&name)) {
                continue;
            }
            let link = lib.join(&name);
            if !link.exists() {
                std::os::unix::fs::symlink(e.path(), &link)
                    .map_err(|err| step(format!("{}: {err}", link.display())))?;
            }
        }
    }
    Ok(dir)
}

/// The DT_NEEDED entries of an ELF file.
fn needed(file: &Path) -> Result<Vec<String>> {
    let text = Cmd::new("readelf")
        .args(["--dynamic", "--wide"])
        .arg(file.to_string_lossy())
        .output_if_ok()
        .ok_or_else(|| step(format!("readelf cannot read {}", file.display())))?;
    Ok(text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_string()))
        .collect())
}

/// The libraries of `lib` that `binary` loads, directly or through each other (the base
/// provides the rest: glibc, libgcc, libstdc++).
fn closure(binary: &Path, lib: &Path) -> Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    let mut todo = needed(binary)?;
    while let Some(name) = todo.pop() {
        let path = lib.join(&name);
        if found.contains(&name) || !path.exists() {
            continue;
        }
        todo.extend(needed(&path)?);
        found.insert(name);
    }
    Ok(found)
}

/// Builds host-train with libtorch's CPU libraries and its image; returns the tag.
pub fn build(podman: &Podman) -> Result<String> {
    let torch = PathBuf::from(python(
        "import os, torch; print(os.path.dirname(torch.__file__))",
    )?);
    let abi = python("import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))")?;
    let cpu = cpu_libtorch(&torch)?;
    // A build directory of its own: tch's build script reruns when LIBTORCH_* change, and the
    // tests' libtorch build (CUDA-linked, from the venv) must not be undone by this one.
    let target = cache_dir().join("target-train");
    cargo()
        .args(["build", "--release", "--locked", "-p", "host-train"])
        .args(["--features", "tch"])
        .env("CARGO_TARGET_DIR", &target)
        // LIBTORCH keeps tch from downloading; the two below say where the parts are.
        .env("LIBTORCH", &cpu)
        .env("LIBTORCH_INCLUDE", &torch)
        .env("LIBTORCH_LIB", &cpu)
        .env("LIBTORCH_CXX11_ABI", &abi)
        .dir(&workspace_root())
        .run()?;
    let binary = target.join("release/host-train");
    let libs = closure(&binary, &cpu.join("lib"))?;
    if libs.iter().any(|l| l.contains("torch_cuda")) {
        return Err(step(format!(
            "{} links libtorch_cuda: the CPU image would need CUDA",
            binary.display()
        )));
    }
    eprintln!(
        "image: host-train loads {}",
        libs.iter().cloned().collect::<Vec<_>>().join(", ")
    );

    let context = std::env::temp_dir().join(format!("xtask-image-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&context);
    let lib = context.join("lib");
    std::fs::create_dir_all(&lib).map_err(|e| step(format!("{}: {e}", lib.display())))?;
    for name in &libs {
        std::fs::copy(cpu.join("lib").join(name), lib.join(name))
            .map_err(|e| step(format!("{name}: {e}")))?;
    }
    // The release profile keeps line tables for backtraces; the image does without.
    Cmd::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(context.join("host-train").to_string_lossy())
        .arg(binary.to_string_lossy())
        .run()?;
    let base = base::TRAIN.import(podman, Arch::Amd64)?;
    let tag = format!("{TRAIN_IMAGE}:latest");
    build_image(
        podman,
        "train.Containerfile",
        Arch::Amd64,
        &base,
        std::slice::from_ref(&tag),
        &context,
    )?;
    Ok(tag)
}
