//! The monitor's image: `dist/containers/edge.Containerfile` around the binary of an
//! edge-infer Debian package (stripped; CI images what it tested and packaged), tagged
//! `localhost/edge-infer:ARCH`.

use std::path::Path;

use super::{base, build_image, native, step};
use crate::cmd::Cmd;
use crate::error::Result;
use crate::podman::Podman;
use crate::tasks::deb::Arch;

/// The image's name.
pub const EDGE_IMAGE: &str = "localhost/edge-infer";

/// The tag of the edge image for `arch`.
pub fn edge_tag(arch: Arch) -> String {
    format!("{EDGE_IMAGE}:{}", arch.name())
}

/// Builds the edge image for `arch` around the binary in `package` (an edge-infer .deb of
/// that architecture); returns its tag.
pub fn build_edge(podman: &Podman, arch: Arch, package: &Path) -> Result<String> {
    let base = base::EDGE.import(podman, arch)?;
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
    let mut tags = vec![tag.clone()];
    if native() == Some(arch) {
        tags.push(format!("{EDGE_IMAGE}:latest"));
    }
    build_image(podman, "edge.Containerfile", arch, &base, &tags, &context)?;
    Ok(tag)
}
