//! Debian roots made by `mmdebstrap` and cached as tarballs under the build directory (the
//! systemd test's booted root, the container images' bases): made once, reused by later runs.

use std::path::{Path, PathBuf};

use crate::cmd::Cmd;
use crate::error::{Failure, Result};

/// The tarball `tar` (its name must end in `.tar`), made with `mmdebstrap ARGS... RELEASE` when
/// it is not there yet. A run killed midway leaves only a `.partial.tar`, never a bad cache.
pub fn cached(tar: &Path, release: &str, args: &[String]) -> Result<PathBuf> {
    if tar.is_file() {
        eprintln!("mmdebstrap: cached {}", tar.display());
        return Ok(tar.to_path_buf());
    }
    if let Some(dir) = tar.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::Step(format!("{}: {e}", dir.display())))?;
    }
    // mmdebstrap picks its output format by the name's ending: keep `.tar` last.
    let partial = tar.with_extension("partial.tar");
    Cmd::new("mmdebstrap")
        .arg("--quiet")
        .args(args)
        .args([release, &partial.to_string_lossy()])
        .run()?;
    std::fs::rename(&partial, tar).map_err(|e| Failure::Step(format!("{}: {e}", tar.display())))?;
    Ok(tar.to_path_buf())
}
