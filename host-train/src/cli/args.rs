//! The arguments of each subcommand, and their validation into the job's configuration.

use std::path::PathBuf;

use clap::Args;
use cry_core::audio::{Bandwidth, LoadOptions};
use cry_core::contract::DEFAULT_MAX_CLIP_SECONDS;

use super::error::{CliError, UsageError, usage};
use crate::backend::DeviceChoice;
use crate::commands::baselines::BaselinesConfig;
use crate::commands::embed::EmbedConfig;
use crate::commands::init::InitConfig;
use crate::commands::nested_cv::NestedCvConfig;
use crate::commands::train::TrainConfig;
use crate::data::{AugmentedPolicy, DataSource, GroupRules, LabelMap};
use crate::error::{Error, chain};
use crate::model::presets::ConfigSource;
use crate::run::RunDir;
use crate::run::tune::{FineTune, ModelSource};
use crate::train::fit::FitSettings;
use crate::train::grid::Grid;

/// How models are fine-tuned (shared by `nested-cv` and `train`).
#[derive(Debug, Args)]
pub struct FineTuneArgs {
    /// Checkpoint directory (Hugging Face layout) or hub id to start from. Without it, a
    /// random-init model of `--config` is used and every report says so.
    #[arg(long, value_name = "DIR|HUB_ID")]
    pub pretrained: Option<String>,
    /// Architecture of the random-init model when no `--pretrained` is given.
    #[arg(
        long,
        value_name = "distilhubert|tiny|PATH/config.json",
        default_value = "distilhubert",
        conflicts_with = "pretrained"
    )]
    pub config: String,
    /// JSON grid: `{"learning_rate": [...], "depth": [0, 1, "all"], "class_weighting": [true, false]}`.
    /// Default: learning rate 1e-4, 1e-3 × depth 0, 1 × class weighting on, off.
    #[arg(long, value_name = "FILE")]
    pub grid: Option<PathBuf>,
    /// Maximum epochs per fit.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Windows per optimiser step.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Epochs without a better validation macro-F1 before a fit stops.
    #[arg(long, default_value_t = 3)]
    pub patience: usize,
    /// Share of each training part's groups held out for early stopping (0: none).
    #[arg(long, default_value_t = 0.2)]
    pub validation_share: f64,
    /// Length of the random training crops, seconds.
    #[arg(long, default_value_t = 3.0)]
    pub crop_seconds: f64,
    /// Crops start on a grid of this step, seconds (their features are cached).
    #[arg(long, default_value_t = 0.5)]
    pub crop_stride: f64,
    /// Feature cache directory (default: `cache/` inside the output or work directory).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Fits that run side by side (each still uses every core for its matrix products). Two
    /// keep two cores busy where one fit leaves one idle in its serial parts; the results are
    /// the same for any value.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub jobs: usize,
}

/// `nested-cv` arguments.
#[derive(Debug, Args)]
pub struct NestedCvArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub cv: CvArgs,
    #[command(flatten)]
    pub tune: FineTuneArgs,
    /// Run only this outer fold (0-based); combine the jobs with `merge`.
    #[arg(long, value_name = "K")]
    pub outer_fold: Option<usize>,
    /// Continue the run in `--out` from its last finished unit of work.
    #[arg(long)]
    pub resume: bool,
    /// Seeds averaged per fold for the random baselines.
    #[arg(long, default_value_t = 100)]
    pub random_seeds: usize,
    /// With `not_cry` clips (a cry head): each outer fold's cry threshold is the lowest at which
    /// its inner held-out non-cry clips raise at most this many false alarms per hour.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub max_false_alarms_per_hour: f64,
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// `--max-false-alarms-per-hour`, checked.
fn false_alarm_budget(per_hour: f64) -> Result<f64, UsageError> {
    if per_hour.is_finite() && per_hour >= 0.0 {
        Ok(per_hour)
    } else {
        Err(usage(
            "--max-false-alarms-per-hour",
            "needs a number of alarms per hour, 0 or more",
        ))
    }
}

/// `train` arguments.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub tune: FineTuneArgs,
    /// Folds of the cross-validation that chooses the configuration.
    #[arg(long, default_value_t = 3)]
    pub folds: usize,
    /// Seed for the split and every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The `nested-cv` `report.json` that evaluated this recipe; its hash goes into
    /// `training.json` (and from there into exported models).
    #[arg(long, value_name = "REPORT.json")]
    pub report: Option<PathBuf>,
    /// Model directory to write (Hugging Face layout plus `training.json`).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Working files: feature cache, finished units (resumable), random-init model.
    /// Default: `<out>.work` beside the model.
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// With `not_cry` clips (a cry head): the cry threshold stored with the model is the lowest
    /// at which the non-cry clips held out in the selection CV raise at most this many false
    /// alarms per hour.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub max_false_alarms_per_hour: f64,
    #[command(flatten)]
    pub device: DeviceArgs,
}

impl TrainArgs {
    /// Checks the arguments and builds the job's configuration.
    pub fn into_config(self, command: String) -> Result<TrainConfig, CliError> {
        let (data, load) = self.data.validate()?;
        if self.folds < 2 {
            return Err(usage("--folds", "needs at least 2 folds").into());
        }
        if let Some(r) = &self.report
            && !r.is_file()
        {
            return Err(usage("--report", format!("{} is not a file", r.display())).into());
        }
        let work = match &self.work {
            Some(dir) => RunDir::new(dir),
            None => RunDir::work_for(&self.out),
        };
        let tune = self.tune.validate(&work)?;
        let max_false_alarms_per_hour = false_alarm_budget(self.max_false_alarms_per_hour)?;
        Ok(TrainConfig {
            data,
            load,
            max_false_alarms_per_hour,
            folds: self.folds,
            seed: self.seed,
            tune,
            report: self.report,
            out: self.out,
            work,
            command,
        })
    }
}

/// `export` arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Classifier checkpoint directory (from `train`, or any `HubertForSequenceClassification`).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// ONNX file to write.
    #[arg(long, value_name = "FILE.onnx")]
    pub out: PathBuf,
    /// Dynamic int8 quantisation (int8 weights per output channel, u8 activations).
    #[arg(long)]
    pub int8: bool,
    /// Fixed input length in seconds (the edge window).
    #[arg(long, default_value_t = 3.0)]
    pub window_seconds: f64,
    /// WAVs to verify on (default: generated signals).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Keep an int8 export whose top-1 agreement with burn is below 95 %.
    #[arg(long)]
    pub force: bool,
}

/// `verify-onnx` arguments.
#[derive(Debug, Args)]
pub struct VerifyOnnxArgs {
    /// The checkpoint the file was exported from.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// The ONNX file.
    #[arg(long, value_name = "FILE.onnx")]
    pub onnx: PathBuf,
    /// WAVs to verify on (default: generated signals).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// `merge` arguments.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Output directories of the `nested-cv --outer-fold` jobs.
    #[arg(required = true, value_name = "DIR")]
    pub parts: Vec<PathBuf>,
    /// Where the combined report goes.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `held-out-recording` arguments.
#[derive(Debug, Args)]
pub struct HeldOutRecordingArgs {
    /// The nested-cv run directory (its `run.json` lists the clips and the split).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// The outer fold whose test clips make the recording (0-based).
    #[arg(long, value_name = "K")]
    pub outer_fold: usize,
    /// The run's data roots, as given to it and in its order.
    #[arg(long, value_name = "DIR", required = true)]
    pub data: Vec<PathBuf>,
    /// Clips longer than this many seconds are cut, as in the run.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_MAX_CLIP_SECONDS)]
    pub max_clip_seconds: f32,
    /// Seed of the clip order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory: `recording.wav`, `truth.json`, `train.csv`.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `score-stream` arguments.
#[derive(Debug, Args)]
pub struct ScoreStreamArgs {
    /// `truth.json` from `held-out-recording`.
    #[arg(long, value_name = "FILE")]
    pub truth: PathBuf,
    /// The JSON lines `edge-infer stream` printed over its recording.
    #[arg(long, value_name = "FILE.jsonl")]
    pub events: PathBuf,
    /// The model's window in seconds (`export --window-seconds`).
    #[arg(long, default_value_t = f64::from(cry_core::contract::WINDOW_SECONDS))]
    pub window_seconds: f64,
    /// Also write the figures as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// `bench` arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// `distilhubert` or `tiny` (built in) or the path of a `config.json`.
    #[arg(long, default_value = "distilhubert")]
    pub config: String,
    /// Clip lengths for forward latency, in seconds.
    #[arg(long, value_delimiter = ',', default_value = "1,3,7")]
    pub seconds: Vec<f64>,
    /// Timed repetitions per measurement (after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// Batch size of the timed training step (0 skips it).
    #[arg(long, default_value_t = 8)]
    pub train_batch: usize,
    /// Clip length of the training step, in seconds.
    #[arg(long, default_value_t = 7.0)]
    pub train_seconds: f64,
    /// Also write the measurements as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Which compute device to run on.
#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// Compute device (the choices are those built in; `tch*` need `--features tch`).
    #[arg(long, value_enum, default_value = "flex")]
    pub device: DeviceChoice,
}

/// `embed` arguments.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Checkpoint directory (Hugging Face layout), or a hub id such as `ntu-spml/distilhubert`
    /// (downloaded into the hub cache when the network allows).
    #[arg(long, value_name = "DIR|HUB_ID")]
    pub pretrained: String,
    /// WAV file (any rate or channel count; converted to 16 kHz mono).
    #[arg(long, value_name = "FILE.wav")]
    pub audio: PathBuf,
    /// Output `.npy` for the last hidden state, `[frames, hidden]` f32.
    #[arg(long, value_name = "HIDDEN.npy")]
    pub out: PathBuf,
    /// Output `.npy` for the logits, `[classes]` f32 (classification checkpoints only).
    #[arg(long, value_name = "LOGITS.npy")]
    pub logits: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// `init` arguments.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// `distilhubert` or `tiny` (built in) or the path of a `config.json`.
    #[arg(long, value_name = "distilhubert|tiny|PATH/config.json")]
    pub config: String,
    /// Add a classification head with this many classes (named LABEL_0, LABEL_1, ...).
    #[arg(long, conflicts_with = "labels")]
    pub num_labels: Option<usize>,
    /// Add a classification head with these classes, comma-separated, in output order.
    #[arg(long, value_delimiter = ',')]
    pub labels: Option<Vec<String>>,
    /// Also add a binary cry head next to the classification head.
    #[arg(long)]
    pub cry_head: bool,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Where the data is and how to read it.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Dataset root: `<DIR>/<label>/*.wav`, or the base of the manifest's relative paths.
    /// Repeatable: several roots (folder layout) are combined into one dataset, each clip's path
    /// prefixed with its root's folder name, duplicates found across them; for example
    /// Donate-a-cry for reasons plus a corpus of household sounds mapped to `not_cry`.
    #[arg(long, value_name = "DIR", required = true)]
    pub data: Vec<PathBuf>,
    /// CSV with a header naming `path`, `label` and optionally `group`.
    #[arg(long, value_name = "CSV")]
    pub manifest: Option<PathBuf>,
    /// Clips longer than this many seconds are cut (with a warning).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_MAX_CLIP_SECONDS)]
    pub max_seconds: f32,
    /// Leakage groups from a regular expression: its first capture group over each clip's path
    /// relative to --data (with several --data, `<folder name>/<path>`) names the group (paths
    /// it does not match use the built-in rules).
    #[arg(long, value_name = "RE")]
    pub group_regex: Option<String>,
    /// File of label rules, one `from=to` per line (`from=` drops; `#` comments).
    #[arg(long, value_name = "FILE")]
    pub label_map: Option<PathBuf>,
    /// A label rule `from=to` (rename or merge) or `from=` (drop); repeatable, after --label-map.
    #[arg(long = "label", value_name = "FROM=TO")]
    pub labels: Vec<String>,
    /// Keep only these classes (names after the label rules), comma-separated.
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
    /// Augmented copies (`generated<N>_`, `aug_`, `augmented_` names): train on them only
    /// (`train`), leave them out (`drop`), or test and count them like any clip (`keep`, which
    /// inflates every figure).
    #[arg(long, value_enum, value_name = "USE", default_value_t = AugmentedPolicy::Train)]
    pub augmented: AugmentedPolicy,
    /// Limit every clip to this band (Hz) after resampling, before anything else: for example
    /// 4000 to give 44.1 kHz recordings the band of 8 kHz phone audio, so a model cannot tell
    /// datasets apart by bandwidth.
    #[arg(long, value_name = "HZ")]
    pub bandwidth: Option<f32>,
}

/// How the data is split.
#[derive(Debug, Args)]
pub struct CvArgs {
    /// Outer folds (the test estimate).
    #[arg(long, default_value_t = 5)]
    pub outer: usize,
    /// Inner folds inside each outer training part (model selection).
    #[arg(long, default_value_t = 3)]
    pub inner: usize,
    /// Seed for splits and every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `baselines` arguments.
#[derive(Debug, Args)]
pub struct BaselinesArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub cv: CvArgs,
    /// Seeds averaged per fold for the random baselines.
    #[arg(long, default_value_t = 100)]
    pub random_seeds: usize,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

impl DataArgs {
    fn validate(&self) -> Result<(DataSource, LoadOptions), UsageError> {
        for dir in &self.data {
            if !dir.is_dir() {
                return Err(usage(
                    "--data",
                    format!("{} is not a directory", dir.display()),
                ));
            }
        }
        if self.manifest.is_some() && self.data.len() > 1 {
            return Err(usage(
                "--manifest",
                "describes one --data root; list every clip in one manifest instead of giving \
                 several --data",
            ));
        }
        if let Some(m) = &self.manifest
            && !m.is_file()
        {
            return Err(usage(
                "--manifest",
                format!("{} is not a file", m.display()),
            ));
        }
        if !(self.max_seconds > 0.0 && self.max_seconds.is_finite()) {
            return Err(usage("--max-seconds", "must be a positive number"));
        }
        let mut labels = LabelMap::default();
        if let Some(file) = &self.label_map {
            labels
                .add_file(file)
                .map_err(|e| usage("--label-map", chain(&e)))?;
        }
        for rule in &self.labels {
            labels
                .add_rule(rule)
                .map_err(|e| usage("--label", chain(&e)))?;
        }
        if let Some(classes) = &self.classes {
            labels
                .keep_classes(classes)
                .map_err(|e| usage("--classes", chain(&e)))?;
        }
        if let Some(pattern) = &self.group_regex {
            GroupRules::with_pattern(pattern).map_err(|e| usage("--group-regex", chain(&e)))?;
        }
        let bandwidth = self
            .bandwidth
            .map(Bandwidth::new)
            .transpose()
            .map_err(|e| usage("--bandwidth", chain(&e)))?;
        Ok((
            DataSource {
                root: self.data[0].clone(),
                also: self.data[1..].to_vec(),
                manifest: self.manifest.clone(),
                labels,
                group_pattern: self.group_regex.clone(),
                augmented: self.augmented,
            },
            LoadOptions {
                max_seconds: Some(self.max_seconds),
                bandwidth,
                ..LoadOptions::default()
            },
        ))
    }
}

impl CvArgs {
    fn validate(&self) -> Result<(), UsageError> {
        if self.outer < 2 {
            return Err(usage("--outer", "needs at least 2 folds"));
        }
        if self.inner < 2 {
            return Err(usage("--inner", "needs at least 2 folds"));
        }
        Ok(())
    }
}

impl BaselinesArgs {
    /// Checks the arguments and builds the job's configuration.
    pub fn into_config(self, command: String) -> Result<BaselinesConfig, UsageError> {
        let (data, load) = self.data.validate()?;
        self.cv.validate()?;
        if self.random_seeds == 0 {
            return Err(usage("--random-seeds", "needs at least 1 seed"));
        }
        Ok(BaselinesConfig {
            data,
            load,
            outer: self.cv.outer,
            inner: self.cv.inner,
            seed: self.cv.seed,
            random_seeds: self.random_seeds,
            out: self.out,
            command,
        })
    }
}

impl EmbedArgs {
    /// Checks the arguments.
    pub fn into_config(self) -> Result<EmbedConfig, CliError> {
        if !self.audio.is_file() {
            return Err(usage("--audio", format!("{} is not a file", self.audio.display())).into());
        }
        Ok(EmbedConfig {
            pretrained: crate::model::hub::resolve(&self.pretrained).map_err(Error::from)?,
            audio: self.audio,
            out: self.out,
            logits: self.logits,
        })
    }
}

/// `--config distilhubert|PATH/config.json`.
pub(crate) fn config_source(spec: &str) -> Result<ConfigSource, UsageError> {
    ConfigSource::parse(spec).map_err(|e| usage("--config", e.to_string()))
}

impl InitArgs {
    /// Checks the arguments.
    pub fn into_config(self) -> Result<InitConfig, UsageError> {
        let source = config_source(&self.config)?;
        let labels = match (self.num_labels, self.labels) {
            (Some(0), _) => return Err(usage("--num-labels", "needs at least 1 class")),
            (Some(n), _) => Some((0..n).map(|i| format!("LABEL_{i}")).collect()),
            (None, Some(labels)) => {
                let set = cry_core::LabelSet::in_order(labels)
                    .map_err(|e| usage("--labels", e.to_string()))?;
                Some(set.names().to_vec())
            }
            (None, None) => None,
        };
        if self.cry_head && labels.is_none() {
            return Err(usage(
                "--cry-head",
                "sits next to a classification head: give --labels or --num-labels too",
            ));
        }
        Ok(InitConfig {
            source,
            labels,
            cry_head: self.cry_head,
            seed: self.seed,
            out: self.out,
        })
    }
}

impl FineTuneArgs {
    fn validate(&self, run: &RunDir) -> Result<FineTune, CliError> {
        let model = match &self.pretrained {
            Some(given) => ModelSource::Pretrained {
                dir: crate::model::hub::resolve(given).map_err(Error::from)?,
                given: given.clone(),
            },
            None => ModelSource::Random(config_source(&self.config)?),
        };
        let grid = match &self.grid {
            Some(path) => Grid::read(path).map_err(|e| usage("--grid", chain(&e)))?,
            None => Grid::default(),
        };
        if self.epochs == 0 {
            return Err(usage("--epochs", "needs at least 1 epoch").into());
        }
        if self.batch_size == 0 {
            return Err(usage("--batch-size", "needs at least 1 window").into());
        }
        if self.jobs == 0 {
            return Err(usage("--jobs", "needs at least 1 job").into());
        }
        if !(0.0..0.5).contains(&self.validation_share) {
            return Err(usage("--validation-share", "must be in [0, 0.5)").into());
        }
        for (arg, v) in [
            ("--crop-seconds", self.crop_seconds),
            ("--crop-stride", self.crop_stride),
        ] {
            if !(0.1..=60.0).contains(&v) {
                return Err(usage(arg, "must be between 0.1 and 60 seconds").into());
            }
        }
        let fit = FitSettings {
            epochs: self.epochs,
            batch_size: self.batch_size,
            patience: self.patience.max(1),
            validation_share: self.validation_share,
            ..FitSettings::default()
        };
        let cache = self.cache.clone().unwrap_or_else(|| run.default_cache());
        Ok(FineTune {
            model,
            grid,
            fit,
            crop_seconds: (self.crop_seconds, self.crop_stride),
            cache,
            jobs: self.jobs,
        })
    }
}

impl NestedCvArgs {
    /// Checks the arguments and builds the job's configuration.
    pub fn into_config(self, command: String) -> Result<NestedCvConfig, CliError> {
        let (data, load) = self.data.validate()?;
        self.cv.validate()?;
        if self.random_seeds == 0 {
            return Err(usage("--random-seeds", "needs at least 1 seed").into());
        }
        if let Some(k) = self.outer_fold
            && k >= self.cv.outer
        {
            return Err(usage(
                "--outer-fold",
                format!("fold {k} does not exist with --outer {}", self.cv.outer),
            )
            .into());
        }
        let tune = self.tune.validate(&RunDir::new(&self.out))?;
        Ok(NestedCvConfig {
            data,
            load,
            outer: self.cv.outer,
            inner: self.cv.inner,
            seed: self.cv.seed,
            tune,
            outer_fold: self.outer_fold,
            resume: self.resume,
            out: self.out,
            random_seeds: self.random_seeds,
            max_false_alarms_per_hour: false_alarm_budget(self.max_false_alarms_per_hour)?,
            command,
        })
    }
}
