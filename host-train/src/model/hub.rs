//! `--pretrained DIR|HUB_ID`: a local checkpoint directory, or a Hugging Face hub model id
//! downloaded into the hub cache when the network allows.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;

use super::checkpoint::{CONFIG_FILE, PREPROCESSOR_FILE, PYTORCH_FILE, SAFETENSORS_FILE};

/// Why a hub id could not be fetched.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{spec}` is not a local directory, and downloading it from the Hugging Face hub failed \
     ({reason}). Without network access, download it elsewhere with `huggingface-cli download \
     {spec} --local-dir DIR` (or `git clone https://huggingface.co/{spec}`) and copy DIR \
     here"
)]
pub struct HubError {
    /// What was asked for.
    pub spec: String,
    /// What went wrong.
    pub reason: String,
}

/// Whether `spec` has the shape of a hub model id (`owner/name`).
pub fn looks_like_hub_id(spec: &str) -> bool {
    let mut parts = spec.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// The checkpoint directory for `spec`: `spec` itself when it exists locally, otherwise the
/// hub cache snapshot after downloading `config.json`, `preprocessor_config.json` (if the repo
/// has one) and `model.safetensors` (or `pytorch_model.bin`). `HF_ENDPOINT` and `HF_HOME` are
/// honoured.
pub fn resolve(spec: &str) -> Result<PathBuf, HubError> {
    let local = Path::new(spec);
    if local.exists() || !looks_like_hub_id(spec) {
        return Ok(local.to_path_buf());
    }
    let fail = |reason: String| HubError {
        spec: spec.to_string(),
        reason,
    };
    let api = ApiBuilder::from_env()
        .with_progress(true)
        .with_retries(0)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let repo = api.model(spec.to_string());
    log::info!("downloading {spec} from the Hugging Face hub");
    let config = repo.get(CONFIG_FILE).map_err(|e| fail(e.to_string()))?;
    if let Err(e) = repo.get(PREPROCESSOR_FILE) {
        log::warn!("{spec} has no {PREPROCESSOR_FILE} ({e}); using the defaults");
    }
    repo.get(SAFETENSORS_FILE)
        .or_else(|_| repo.get(PYTORCH_FILE))
        .map_err(|e| fail(e.to_string()))?;
    Ok(config
        .parent()
        .expect("a downloaded file has a folder")
        .to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_and_paths() {
        assert!(looks_like_hub_id("ntu-spml/distilhubert"));
        assert!(looks_like_hub_id("facebook/hubert-base-ls960"));
        assert!(!looks_like_hub_id("models/a/b"));
        assert!(!looks_like_hub_id("./distilhubert"));
        assert!(!looks_like_hub_id("distilhubert"));
        assert!(!looks_like_hub_id("/abs/path"));
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().to_str().unwrap();
        assert_eq!(resolve(spec).unwrap(), dir.path());
    }
}
