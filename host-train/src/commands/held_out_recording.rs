//! `host-train held-out-recording`: the end-to-end check's inputs from one outer fold of a
//! nested-cv run: its test clips laid end to end into one WAV with their truth, and its
//! training part as a manifest for `train`, so the model streamed over the recording has never
//! seen any recording in it. `score-stream` then counts `edge-infer stream`'s alerts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use cry_core::audio::{LoadOptions, load_clip};
use cry_core::contract::SAMPLE_RATE_HZ;
use cry_core::labels::NOT_CRY;
use rand::seq::SliceRandom;

use crate::data::DataSource;
use crate::error::{Error, Result};
use crate::eval::stream_check::{Segment, TRUTH_SCHEMA, Truth};
use crate::report::{FoldEntry, write_json};
use crate::run::RunDir;
use crate::run::spec::RunSpec;
use crate::synth::{WavFormat, write_wav};
use crate::{fsx, seed};

/// `held-out-recording` settings.
#[derive(Debug, Clone)]
pub struct HeldOutRecordingConfig {
    /// The nested-cv run directory.
    pub run: PathBuf,
    /// Its outer fold whose test clips make the recording.
    pub outer_fold: usize,
    /// The run's data roots (`--data`, as given to the run, in its order).
    pub roots: Vec<PathBuf>,
    /// Clips are cut to this many seconds, as in the run.
    pub max_clip_seconds: f32,
    /// Seed of the clip order.
    pub seed: u64,
    /// Output directory.
    pub out: PathBuf,
}

/// What `held-out-recording` wrote.
#[derive(Debug, Clone)]
pub struct HeldOutRecording {
    /// The recording's truth (also in `truth.json`).
    pub truth: Truth,
    /// `recording.wav`.
    pub recording: PathBuf,
    /// `train.csv`.
    pub manifest: PathBuf,
    /// The `--data` to give `train` with the manifest.
    pub manifest_base: PathBuf,
}

impl HeldOutRecording {
    /// What was written, and the commands that follow.
    pub fn summary(&self) -> String {
        let segments = &self.truth.segments;
        let cries = segments.iter().filter(|s| s.cry).count();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {:.1} min, {} clips ({} cry, {} other) held out in outer fold {} of {}",
            self.recording.display(),
            self.truth.seconds / 60.0,
            segments.len(),
            cries,
            segments.len() - cries,
            self.truth.outer_fold,
            self.truth.run
        );
        let _ = writeln!(
            out,
            "training part: host-train train --data {} --manifest {} ...",
            self.manifest_base.display(),
            self.manifest.display()
        );
        out
    }
}

/// Where a run's clip paths lead: the file, and the dataset it comes from.
struct Resolver<'a> {
    named: Vec<(String, &'a PathBuf)>,
}

impl<'a> Resolver<'a> {
    fn new(source: &'a DataSource) -> Self {
        Self {
            named: source.root_names(),
        }
    }

    fn resolve(&self, rel: &str) -> Option<(PathBuf, String)> {
        if let [(name, root)] = self.named.as_slice() {
            return Some((root.join(rel), name.clone()));
        }
        let (first, rest) = rel.split_once('/')?;
        let (name, root) = self.named.iter().find(|(n, _)| n == first)?;
        Some((root.join(rest), name.clone()))
    }

    /// The `--data` for a manifest of the run's relative paths: the one root, or the folder
    /// holding every root when each root's prefix is its own folder name.
    fn manifest_base(&self) -> Option<PathBuf> {
        if let [(_, root)] = self.named.as_slice() {
            return Some((*root).clone());
        }
        let mut parents = self.named.iter().map(|(name, root)| {
            let root = root.canonicalize().ok()?;
            (root.file_name()?.to_string_lossy() == name.as_str())
                .then(|| root.parent().map(Path::to_path_buf))
                .flatten()
        });
        let first = parents.next()??;
        parents.all(|p| p.as_ref() == Some(&first)).then_some(first)
    }
}

/// Writes `recording.wav`, `truth.json` and `train.csv` into `config.out`.
pub fn run(config: &HeldOutRecordingConfig) -> Result<HeldOutRecording> {
    let run = RunDir::new(&config.run);
    let spec = RunSpec::read(&run)?;
    let fold = spec.splits.get(config.outer_fold).ok_or_else(|| {
        Error::from(anyhow!(
            "{} has {} outer folds; --outer-fold {} is not one of them (they count from 0)",
            config.run.display(),
            spec.splits.len(),
            config.outer_fold
        ))
    })?;
    let (root, also) = config
        .roots
        .split_first()
        .ok_or_else(|| Error::from(anyhow!("at least one --data root is needed")))?;
    let source = DataSource {
        root: root.clone(),
        also: also.to_vec(),
        manifest: None,
        labels: Default::default(),
        group_pattern: None,
        augmented: Default::default(),
    };
    let resolver = Resolver::new(&source);
    let locate = |entry: &FoldEntry| {
        resolver.resolve(&entry.path).ok_or_else(|| {
            Error::from(anyhow!(
                "{} lists {}, which is under none of the --data roots given ({}); give the \
                 run's --data roots in the run's order",
                config.run.display(),
                entry.path,
                source.describe()
            ))
        })
    };

    fsx::create_dir_all(&config.out)?;
    let mut order: Vec<usize> = fold
        .test
        .iter()
        .copied()
        .filter(|&i| !spec.clips[i].augmented)
        .collect();
    order.shuffle(&mut seed::rng(
        config.seed,
        &[seed::tag("held-out-recording"), config.outer_fold as u64],
    ));
    let load = LoadOptions {
        max_seconds: Some(config.max_clip_seconds),
        ..LoadOptions::default()
    };
    let rate = f64::from(SAMPLE_RATE_HZ);
    let mut samples: Vec<f32> = Vec::new();
    let mut segments = Vec::with_capacity(order.len());
    for &i in &order {
        let entry = &spec.clips[i];
        let (path, dataset) = locate(entry)?;
        let clip = load_clip(&path, &load)
            .map_err(|e| Error::from(e).context(format!("cannot load {}", path.display())))?;
        let start = samples.len() as f64 / rate;
        samples.extend_from_slice(&clip.samples);
        segments.push(Segment {
            start,
            end: samples.len() as f64 / rate,
            path: entry.path.clone(),
            label: entry.label.clone(),
            cry: entry.label != NOT_CRY,
            source: dataset,
        });
    }
    let recording = config.out.join("recording.wav");
    fsx::write_with(&recording, |tmp| {
        write_wav(tmp, &samples, SAMPLE_RATE_HZ, 1, WavFormat::Float32)
            .map_err(|e| Error::from(anyhow!("cannot write {}: {e}", recording.display())))
    })?;
    let truth = Truth {
        schema: TRUTH_SCHEMA.into(),
        run: config.run.display().to_string(),
        outer_fold: config.outer_fold,
        sample_rate: SAMPLE_RATE_HZ,
        seconds: samples.len() as f64 / rate,
        segments,
    };
    write_json(&config.out.join("truth.json"), &truth)?;

    let base = resolver.manifest_base();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let row_error = |e: csv::Error| Error::from(anyhow!("cannot write the manifest: {e}"));
    csv.write_record(["path", "label", "group"])
        .map_err(row_error)?;
    for &i in &fold.train {
        let entry = &spec.clips[i];
        let path = match &base {
            Some(_) => entry.path.clone(),
            None => locate(entry)?.0.display().to_string(),
        };
        csv.write_record([path.as_str(), &entry.label, &entry.group])
            .map_err(row_error)?;
    }
    let csv = csv
        .into_inner()
        .map_err(|e| Error::from(anyhow!("cannot write the manifest: {e}")))?;
    let manifest = config.out.join("train.csv");
    fsx::write(&manifest, csv)?;
    Ok(HeldOutRecording {
        truth,
        recording,
        manifest,
        manifest_base: base.unwrap_or_else(|| PathBuf::from("/")),
    })
}
