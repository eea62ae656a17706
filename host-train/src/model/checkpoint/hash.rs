//! The checkpoint hash: what identifies a checkpoint in caches, reports and ONNX metadata.

use std::path::Path;

use super::{CONFIG_FILE, CheckpointError, weights_file};

/// BLAKE3 over a checkpoint's `config.json` and weight file (each length-prefixed).
pub fn checkpoint_hash(config: &Path, weights: &Path) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    for path in [config, weights] {
        let bytes = std::fs::read(path)?;
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(h.finalize().to_hex().to_string())
}

/// [`checkpoint_hash`] of the checkpoint directory `dir`.
pub fn checkpoint_dir_hash(dir: &Path) -> Result<String, CheckpointError> {
    let config = dir.join(CONFIG_FILE);
    let weights = weights_file(dir)?;
    checkpoint_hash(&config, &weights).map_err(|e| CheckpointError::Read {
        path: dir.to_path_buf(),
        reason: format!("failed to hash: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_hash_follows_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let (c, w) = (dir.path().join("config.json"), dir.path().join("w.bin"));
        std::fs::write(&c, "{}").unwrap();
        std::fs::write(&w, [1u8, 2, 3]).unwrap();
        let a = checkpoint_hash(&c, &w).unwrap();
        std::fs::write(&w, [1u8, 2, 4]).unwrap();
        assert_ne!(checkpoint_hash(&c, &w).unwrap(), a);
    }
}
