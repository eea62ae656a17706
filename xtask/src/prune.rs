//! Deletes this workspace's test and binary executables that the current builds no longer use.
//!
//! Each fresh clone builds its own copies (the hash in a file name covers the source path), so a
//! build directory shared between CI runs grows by about 5 GB per run without this. Only
//! `deps/NAME-HASH` files are ever deleted, and only where NAME is a target the current builds
//! produced and the file is not one of the executables they reported (a binary is reported at
//! its uplifted path, a hard link to its `deps/` file, so files are compared by inode).

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::artifacts::Artifact;

/// What a prune did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub kept: usize,
    pub removed: Vec<String>,
    pub freed_bytes: u64,
}

/// `NAME` of `NAME-0123456789abcdef` (16 hex digits), or `None`.
fn stem(file: &str) -> Option<&str> {
    let (name, hash) = file.rsplit_once('-')?;
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(name)
}

/// Prunes `deps` (a `target/<profile>/deps` folder) against the artifacts of the builds to keep.
pub fn prune(deps: &Path, builds: &[Artifact]) -> Result<Pruned, String> {
    let mut keep = BTreeSet::new();
    let mut names = BTreeSet::new();
    for exe in builds.iter().filter_map(|a| {
        a.executable
            .as_deref()
            .map(|e| (e, a.name.replace('-', "_")))
    }) {
        let m = std::fs::metadata(exe.0).map_err(|e| format!("{}: {e}", exe.0))?;
        keep.insert((m.dev(), m.ino()));
        names.insert(exe.1);
    }
    if keep.is_empty() {
        return Err("no executables in the cargo messages; deleting nothing".into());
    }
    let mut pruned = Pruned {
        kept: keep.len(),
        ..Pruned::default()
    };
    let entries = std::fs::read_dir(deps).map_err(|e| format!("{}: {e}", deps.display()))?;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = stem(&file) else { continue };
        let Ok(m) = entry.path().symlink_metadata() else {
            continue;
        };
        if !names.contains(name) || !m.is_file() || keep.contains(&(m.dev(), m.ino())) {
            continue;
        }
        for stale in [entry.path(), deps.join(format!("{file}.d"))] {
            if let Ok(sm) = stale.symlink_metadata() {
                std::fs::remove_file(&stale).map_err(|e| format!("{}: {e}", stale.display()))?;
                pruned.freed_bytes += sm.len();
            }
        }
        pruned.removed.push(file);
    }
    pruned.removed.sort();
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exe(name: &str, path: &Path) -> Artifact {
        Artifact {
            package_id: "path+file:///w/edge-infer#0.1.0".into(),
            kind: "test".into(),
            name: name.into(),
            filenames: vec![path.display().to_string()],
            executable: Some(path.display().to_string()),
            fresh: true,
        }
    }

    #[test]
    fn removes_only_stale_copies_of_the_builds_own_executables() {
        let dir = std::env::temp_dir().join(format!("xtask-prune-{}", std::process::id()));
        let deps = dir.join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        let w = |f: &str| std::fs::write(deps.join(f), f).unwrap();
        w("mqtt-0000000000000001"); // the current build's test executable
        w("mqtt-0000000000000002"); // an earlier clone's copy
        w("mqtt-0000000000000002.d");
        w("libburn-00000000000000aa.rlib"); // a dependency: never touched
        w("other-0000000000000003"); // a target the builds do not produce
        w("mqtt-notahash");
        // The binary as cargo reports it: uplifted, a hard link to its deps/ file.
        std::fs::hard_link(deps.join("mqtt-0000000000000001"), dir.join("mqtt")).unwrap();
        let p = prune(&deps, &[exe("mqtt", &dir.join("mqtt"))]).unwrap();
        assert_eq!(p.removed, ["mqtt-0000000000000002"]);
        assert_eq!(p.kept, 1);
        assert_eq!(p.freed_bytes, 2 * "mqtt-0000000000000002".len() as u64 + 2);
        let mut left: Vec<String> = std::fs::read_dir(&deps)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "libburn-00000000000000aa.rlib",
                "mqtt-0000000000000001",
                "mqtt-notahash",
                "other-0000000000000003"
            ]
        );
        assert!(
            prune(&deps, &[]).is_err(),
            "no executables: nothing deleted"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
