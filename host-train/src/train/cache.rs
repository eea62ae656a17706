//! On-disk cache of what the frozen part of the model computes for each clip.
//!
//! Everything below the trainable boundary is computed once per clip and stored; each epoch then
//! runs only what trains. An entry's key hashes everything that determines it: the checkpoint
//! (config and weights), the clip's decoded audio, the preprocessing, and the boundary. A
//! changed input therefore lands on a new key, and a stale entry is never read.

use std::path::PathBuf;

use crate::npy;

/// What determines a cached tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// [`checkpoint_hash`](crate::model::checkpoint::checkpoint_hash) of the model.
    pub checkpoint: String,
    /// The clip's decoded-audio hash (`ClipEntry::audio_hash`).
    pub audio: String,
    /// Preprocessing that changes the input, e.g. `16000Hz;normalize=true;max=30s`.
    pub preprocessing: String,
    /// Where the frozen part ends, e.g. `conv` or `layer:1`.
    pub boundary: String,
}

impl CacheKey {
    /// The hex digest naming the entry.
    pub fn digest(&self) -> String {
        let mut h = blake3::Hasher::new();
        for part in [
            &self.checkpoint,
            &self.audio,
            &self.preprocessing,
            &self.boundary,
        ] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().to_hex().to_string()
    }
}

/// A directory of cached f32 arrays.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    dir: PathBuf,
}

impl FeatureCache {
    /// A cache rooted at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        let digest = key.digest();
        self.dir.join(&digest[..2]).join(format!("{digest}.npy"))
    }

    /// The cached array, if present and readable. A damaged entry (a run killed mid-write on a
    /// file system without atomic rename, a full disk) is removed and reported as a miss.
    pub fn get(&self, key: &CacheKey) -> Option<(Vec<usize>, Vec<f32>)> {
        let path = self.path(key);
        if !path.is_file() {
            return None;
        }
        match npy::read_f32(&path) {
            Ok(entry) => Some(entry),
            Err(e) => {
                log::warn!("dropping damaged cache entry: {e}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores an array (atomically: see [`npy::write_f32`]).
    pub fn put(&self, key: &CacheKey, shape: &[usize], data: &[f32]) -> Result<(), npy::NpyError> {
        let path = self.path(key);
        let folder = path.parent().expect("entries live in a sub-folder");
        std::fs::create_dir_all(folder).map_err(|source| npy::NpyError::Io {
            path: folder.to_path_buf(),
            source,
        })?;
        npy::write_f32(&path, shape, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CacheKey {
        CacheKey {
            checkpoint: "ck".into(),
            audio: "au".into(),
            preprocessing: "16000Hz;normalize=false".into(),
            boundary: "conv".into(),
        }
    }

    #[test]
    fn every_part_of_the_key_matters() {
        let base = key().digest();
        let mut k = key();
        k.checkpoint = "ck2".into();
        assert_ne!(k.digest(), base);
        let mut k = key();
        k.audio = "au2".into();
        assert_ne!(k.digest(), base);
        let mut k = key();
        k.preprocessing = "16000Hz;normalize=true".into();
        assert_ne!(k.digest(), base);
        let mut k = key();
        k.boundary = "layer:1".into();
        assert_ne!(k.digest(), base);
        // Length-prefixed parts: moving a character between parts changes the key.
        let mut k = key();
        k.checkpoint = "cka".into();
        k.audio = "u".into();
        assert_ne!(k.digest(), base);
    }

    #[test]
    fn put_get_and_damaged_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(dir.path());
        assert_eq!(cache.get(&key()), None);
        cache.put(&key(), &[2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(
            cache.get(&key()),
            Some((vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]))
        );
        std::fs::write(cache.path(&key()), b"garbage").unwrap();
        assert_eq!(cache.get(&key()), None);
        assert!(!cache.path(&key()).exists(), "damaged entry removed");
    }
}
