//! Hostile input: a seeded mutation harness over the checkpoint loader.
//!
//! A checkpoint directory is untrusted input (downloaded, copied, half-written). Each case takes
//! one file of a fixture checkpoint (`config.json`, `preprocessor_config.json`,
//! `model.safetensors` or `pytorch_model.bin`), corrupts it, and loads the directory with
//! [`Checkpoint::load`]: byte-level mutations from [`cry_core::hostile`] (truncation, flips,
//! huge sizes next to the zip and safetensors markers, spliced headers), and structured ones
//! (a JSON field of the config set to an absurd value, the safetensors header length or a
//! tensor's shape or offsets rewritten). Every case must end in `Ok` or a `CheckpointError`:
//! no panic, no hang, no allocation beyond the cap.
//!
//! `CRY_CKPT_MUTATION_CASES` (default 200), `CRY_CKPT_MUTATION_SEED`, and
//! `CRY_CKPT_MUTATION_ONLY=<case>` to reproduce one case.

mod common;
use common::fixture;

use std::time::Duration;

use burn::prelude::*;
use cry_core::hostile::{self, Budget, CountingAlloc, Rng};
use host_train::model::checkpoint::{Checkpoint, CheckpointError};

/// No case may hold more than this at once, nor ask for more in one request. The fixtures'
/// models are a few hundred kilobytes.
const MEMORY_CAP: usize = 256 << 20;
/// No case may take longer than this (a debug-built loader on a loaded 2-core machine).
const DEADLINE: Duration = Duration::from_secs(20);
/// Fixture checkpoints: two safetensors, two PyTorch zip files.
const CASES: [&str; 4] = ["distil_group", "cls_weighted", "cls_plain", "layer_stable"];

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::new(MEMORY_CAP);

/// Markers near which the zip container (`pytorch_model.bin`) and safetensors keep sizes.
const MARKERS: [&[u8]; 9] = [
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"PK\x06\x06",
    b"data/",
    b"data_offsets",
    b"shape",
    b"F32",
    b"storage",
];

/// Every file of every fixture checkpoint, named `<case>/<file>`.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for case in CASES {
        let mut names: Vec<String> = std::fs::read_dir(fixture(case))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.starts_with("reference"))
            .collect();
        names.sort();
        for name in names {
            let bytes = std::fs::read(fixture(case).join(&name)).unwrap();
            out.push((format!("{case}/{name}"), bytes));
        }
    }
    out
}

/// Values that a careless loader would allocate for, divide by, or index with.
fn absurd(rng: &mut Rng) -> serde_json::Value {
    use serde_json::json;
    let values = [
        json!(0),
        json!(1),
        json!(-1),
        json!(1u64 << 31),
        json!(1u64 << 40),
        json!(u64::MAX),
        json!(1e300),
        json!("gelu"),
        json!(null),
        json!([]),
        json!([0]),
        json!([1u64 << 40, 1]),
        json!({}),
        json!(true),
    ];
    values[rng.below(values.len())].clone()
}

/// A structured corruption of a config or safetensors file, or `None` to leave the case to the
/// byte-level mutations.
fn structured(rng: &mut Rng, name: &str, bytes: &mut Vec<u8>) -> Option<String> {
    if rng.below(2) == 0 {
        return None;
    }
    if name.ends_with(".json") {
        let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let object = value.as_object_mut()?;
        let keys: Vec<String> = object.keys().cloned().collect();
        let key = keys.get(rng.below(keys.len()))?.clone();
        let step = if rng.below(8) == 0 {
            object.remove(&key);
            format!("{key} removed")
        } else {
            let new = absurd(rng);
            let step = format!("{key} = {new}");
            object.insert(key, new);
            step
        };
        *bytes = serde_json::to_vec(&value).unwrap();
        return Some(step);
    }
    if name.ends_with(".safetensors") && bytes.len() >= 8 {
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        if rng.below(3) == 0 || header_len.saturating_add(8) > bytes.len() {
            let new = [
                0,
                1,
                7,
                (header_len as u64).saturating_add(1),
                u64::MAX,
                1 << 40,
            ];
            let new = new[rng.below(new.len())];
            bytes[..8].copy_from_slice(&new.to_le_bytes());
            return Some(format!("header length {new}"));
        }
        let mut header: serde_json::Value =
            serde_json::from_slice(&bytes[8..8 + header_len]).ok()?;
        let tensors: Vec<String> = header
            .as_object()?
            .keys()
            .filter(|k| *k != "__metadata__")
            .cloned()
            .collect();
        let tensor = tensors.get(rng.below(tensors.len()))?.clone();
        let field = ["shape", "data_offsets", "dtype"][rng.below(3)];
        let new = match field {
            "dtype" => {
                let dtype = ["F64", "I64", "BF16", "F16", "U8", "XX"][rng.below(6)];
                serde_json::json!(dtype)
            }
            _ => {
                let a = [0u64, 1, 1 << 20, 1 << 33, u64::MAX][rng.below(5)];
                let b = [0u64, 3, 1 << 20, 1 << 33, u64::MAX][rng.below(5)];
                serde_json::json!([a, b])
            }
        };
        header[&tensor][field] = new.clone();
        let mut text = serde_json::to_vec(&header).unwrap();
        while text.len() % 8 != 0 {
            text.push(b' ');
        }
        let mut out = (text.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&text);
        out.extend_from_slice(&bytes[8 + header_len..]);
        *bytes = out;
        return Some(format!("{tensor}.{field} = {new}"));
    }
    None
}

/// Loads the fixture checkpoint with `name`'s file replaced by `bytes`.
fn load(name: String, bytes: Vec<u8>) -> (String, String) {
    let (case, file) = name.split_once('/').unwrap();
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(case)).unwrap() {
        let path = entry.unwrap().path();
        let other = path.file_name().unwrap().to_str().unwrap();
        if !other.starts_with("reference") && other != file {
            std::fs::copy(&path, dir.path().join(other)).unwrap();
        }
    }
    std::fs::write(dir.path().join(file), bytes).unwrap();
    match Checkpoint::load(dir.path(), &Device::flex()) {
        Ok(_) => ("ok".into(), String::new()),
        Err(e) => (variant(&e).into(), e.to_string()),
    }
}

fn variant(e: &CheckpointError) -> &'static str {
    match e {
        CheckpointError::MissingConfig { .. } => "missing_config",
        CheckpointError::MissingWeights { .. } => "missing_weights",
        CheckpointError::Json { .. } => "json",
        CheckpointError::Config { .. } => "config",
        CheckpointError::Read { .. } => "read",
        CheckpointError::Mismatch { .. } => "mismatch",
        CheckpointError::TooFewValues { .. } => "too_few_values",
        CheckpointError::Write { .. } => "write",
    }
}

#[test]
fn hostile_checkpoints_end_in_typed_errors_within_time_and_memory() {
    let budget = Budget::from_env("CRY_CKPT_MUTATION", 200, DEADLINE, MEMORY_CAP);
    let seeds = seeds();
    assert_eq!(
        seeds.len(),
        4 * 3,
        "config, preprocessor config and weights per fixture"
    );
    let tally = hostile::run(&budget, &seeds, &MARKERS, structured, load);
    tally.print("checkpoint loader", &budget);
    assert!(tally.ran > 0 || budget.only.is_some());
    if budget.only.is_none() && budget.cases >= 100 {
        // The corruptions reach past the JSON parser: some cases fail later, in the weights.
        assert!(
            tally.outcomes.keys().any(|o| o != "json"),
            "{:?}",
            tally.outcomes
        );
    }
}
