//! A model loaded once and shared read-only, and the per-stream sessions that run it.

mod contract;
mod profile;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use cry_core::ModelMetadata;
use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::runtime::RunOptions;

pub use contract::ContractError;
pub use profile::{OpTime, Profile};

/// The most classes a model may have: the streaming pipeline keeps fixed-capacity histories.
pub use crate::stream::decision::MAX_CLASSES;

/// Why a model cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The file is absent.
    #[error(
        "{}: no such model; export one with `host-train export --model CHECKPOINT_DIR --out {} --int8` \
         (see the README), or pass --model",
        .path.display(),
        .path.display()
    )]
    Missing {
        /// The path given.
        path: PathBuf,
    },
    /// The file cannot be read.
    #[error("{}: cannot read the model: {error}", .path.display())]
    Read {
        /// The model file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// tract cannot parse or type the graph.
    #[error("{}: not a usable ONNX model: {reason}", .path.display())]
    Parse {
        /// The model file.
        path: PathBuf,
        /// tract's message.
        reason: String,
    },
    /// The metadata is missing or invalid.
    #[error("{}: {problem}", .path.display())]
    Metadata {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        problem: cry_core::MetadataError,
    },
    /// The graph does not meet the edge contract (names, shapes, rate, classes).
    #[error("{}: does not meet the edge contract: {problem}", .path.display())]
    Contract {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        problem: ContractError,
    },
    /// Running the model failed.
    #[error("inference failed: {0}")]
    Run(String),
}

/// How to load a model.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Threads for tract's matrix products; `None` or 1 runs single-threaded.
    pub threads: Option<usize>,
    /// The arithmetic the model runs in.
    pub precision: Precision,
}

/// The float arithmetic of an fp32 model's graph.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// As exported.
    #[default]
    Fp32,
    /// Every f32 tensor and operator turned into f16 by tract's `f32_to_f16` transform: for
    /// CPUs with half-precision arithmetic (a Raspberry Pi 5's Cortex-A76, `fp16` in its
    /// features); elsewhere tract emulates it, slowly. Input and outputs stay f32 to the caller.
    Fp16,
}

impl Precision {
    /// `fp32` or `fp16`, as the flag spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
        }
    }
}

/// A loaded, optimised model with its metadata. Shared read-only by every session. A two-head
/// model (metadata with an alert policy) has a second output, `cry_logit`.
pub struct Engine {
    plan: Arc<TypedRunnableModel>,
    metadata: ModelMetadata,
    path: PathBuf,
    load_seconds: f64,
    macs: u64,
    threads: usize,
    precision: Precision,
}

impl Engine {
    /// Loads `path`, reads and checks its metadata and tensors against the contract, and lets
    /// tract optimise it for the fixed `[1, window]` input.
    pub fn load(path: &Path, options: &EngineOptions) -> Result<Self, EngineError> {
        let started = Instant::now();
        let bytes = std::fs::read(path).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                EngineError::Missing {
                    path: path.to_path_buf(),
                }
            } else {
                EngineError::Read {
                    path: path.to_path_buf(),
                    error,
                }
            }
        })?;
        let parse = |e: TractError| EngineError::Parse {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        };
        let onnx = tract_onnx::onnx();
        let proto = onnx.proto_model_for_read(&mut &bytes[..]).map_err(parse)?;
        let metadata = ModelMetadata::from_pairs(
            proto
                .metadata_props
                .iter()
                .map(|p| (p.key.as_str(), p.value.as_str())),
        )
        .map_err(|problem| EngineError::Metadata {
            path: path.to_path_buf(),
            problem,
        })?;
        let contract_error = |problem: ContractError| EngineError::Contract {
            path: path.to_path_buf(),
            problem,
        };
        contract::check_metadata(&metadata).map_err(contract_error)?;
        let model = onnx.model_for_proto_model(&proto).map_err(parse)?;
        contract::check_names(&model, &metadata).map_err(contract_error)?;
        contract::check_declared_input(&model, &metadata).map_err(contract_error)?;
        let model = model
            .with_input_fact(0, f32::fact([1, metadata.window_samples]).into())
            .and_then(|m| m.into_typed())
            .map_err(parse)?;
        contract::check_output(&model, &metadata).map_err(contract_error)?;
        let mut model = model.into_decluttered().map_err(parse)?;
        let macs = contract::macs(&model).map_err(parse)?;
        if options.precision == Precision::Fp16 {
            let to_f16 = tract_onnx::tract_core::transform::get_transform("f32_to_f16")
                .map_err(parse)?
                .ok_or_else(|| EngineError::Run("tract has no f32_to_f16 transform".into()))?;
            to_f16.transform(&mut model).map_err(parse)?;
        }
        let threads = options.threads.unwrap_or(1).max(1);
        let run_options = RunOptions {
            executor: (threads > 1).then(|| Executor::multithread(threads)),
            ..RunOptions::default()
        };
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable_with_options(&run_options))
            .map_err(parse)?;
        Ok(Self {
            plan,
            metadata,
            path: path.to_path_buf(),
            load_seconds: started.elapsed().as_secs_f64(),
            macs,
            threads,
            precision: options.precision,
        })
    }

    /// The model's metadata (labels in output order, window, rate, provenance).
    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    /// The file it came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seconds spent reading, checking and optimising the model.
    pub fn load_seconds(&self) -> f64 {
        self.load_seconds
    }

    /// Multiply-accumulates per window, counted by tract on the decluttered graph.
    pub fn macs_per_window(&self) -> u64 {
        self.macs
    }

    /// Threads tract's matrix products use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The arithmetic the graph runs in.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The graph's input type.
    fn input_type(&self) -> DatumType {
        match self.precision {
            Precision::Fp32 => DatumType::F32,
            Precision::Fp16 => DatumType::F16,
        }
    }

    /// A new per-stream session.
    pub fn session(&self) -> Result<Session<'_>, EngineError> {
        let state = self
            .plan
            .spawn()
            .map_err(|e| EngineError::Run(format!("{e:#}")))?;
        let input = Arc::new(
            Tensor::zero_dt(self.input_type(), &[1, self.metadata.window_samples])
                .map_err(|e| EngineError::Run(format!("{e:#}")))?,
        );
        Ok(Session {
            engine: self,
            state,
            input,
        })
    }
}

/// Something that turns one window of model-rate audio into logits. The engine's [`Session`]
/// is the real one; tests use stand-ins to drive the pipeline without a model.
pub trait Classifier {
    /// Samples per window.
    fn window_samples(&self) -> usize;
    /// Number of classes (length of the logits).
    fn classes(&self) -> usize;
    /// Whether [`Classifier::logits`] returns a cry logit (a two-head model).
    fn has_cry_head(&self) -> bool {
        false
    }
    /// Writes the reason logits of `window` (of [`Classifier::window_samples`] samples) into
    /// `out`; returns the cry logit of a two-head model.
    fn logits(&mut self, window: &[f32], out: &mut [f32]) -> Result<Option<f32>, EngineError>;
}

/// One stream's use of an [`Engine`]: tract's per-run state and a reused input tensor.
pub struct Session<'e> {
    engine: &'e Engine,
    state: TypedSimpleState,
    input: Arc<Tensor>,
}

impl Session<'_> {
    /// The engine this session runs.
    pub fn engine(&self) -> &Engine {
        self.engine
    }

    fn fill_input(&mut self, window: &[f32]) -> Result<(), EngineError> {
        if Arc::get_mut(&mut self.input).is_none() {
            // Only if tract still held the previous input; a finished run releases it.
            self.input = Arc::new(
                Tensor::zero_dt(self.engine.input_type(), &[1, window.len()])
                    .map_err(|e| EngineError::Run(format!("{e:#}")))?,
            );
        }
        let precision = self.engine.precision;
        let tensor = Arc::get_mut(&mut self.input).expect("input tensor is exclusively owned");
        tensor
            .try_as_plain_ram_mut()
            .and_then(|mut view| {
                match precision {
                    Precision::Fp32 => view.as_slice_mut::<f32>()?.copy_from_slice(window),
                    Precision::Fp16 => {
                        for (h, &x) in view.as_slice_mut::<f16>()?.iter_mut().zip(window) {
                            *h = f16::from_f32(x);
                        }
                    }
                }
                Ok(())
            })
            .map_err(|e| EngineError::Run(format!("{e:#}")))?;
        Ok(())
    }

    /// Runs one window with per-operator timing.
    pub fn profile(&mut self, window: &[f32], profile: &mut Profile) -> Result<(), EngineError> {
        self.check_len(window)?;
        self.fill_input(window)?;
        let input = TValue::from_const(self.input.clone());
        profile
            .run(&mut self.state, input)
            .map_err(|e| EngineError::Run(format!("{e:#}")))
    }

    fn check_len(&self, window: &[f32]) -> Result<(), EngineError> {
        let expected = self.engine.metadata.window_samples;
        if window.len() != expected {
            return Err(EngineError::Run(format!(
                "window of {} samples given, the model takes {expected}",
                window.len()
            )));
        }
        Ok(())
    }
}

impl Classifier for Session<'_> {
    fn window_samples(&self) -> usize {
        self.engine.metadata.window_samples
    }

    fn classes(&self) -> usize {
        self.engine.metadata.labels.len()
    }

    fn has_cry_head(&self) -> bool {
        self.engine.metadata.alert.is_some()
    }

    fn logits(&mut self, window: &[f32], out: &mut [f32]) -> Result<Option<f32>, EngineError> {
        self.check_len(window)?;
        self.fill_input(window)?;
        let outputs = self
            .state
            .run(tvec![TValue::from_const(self.input.clone())])
            .map_err(|e| EngineError::Run(format!("{e:#}")))?;
        // An fp16 graph's outputs are f16; an fp32 one's are borrowed as they are.
        let logits = outputs[0]
            .cast_to::<f32>()
            .map_err(|e| EngineError::Run(format!("logits are not floats: {e:#}")))?;
        let logits = logits
            .try_as_plain_ram()
            .and_then(|view| view.as_slice::<f32>())
            .map_err(|e| EngineError::Run(format!("logits are not f32: {e:#}")))?;
        if logits.len() != out.len() {
            return Err(EngineError::Run(format!(
                "{} logits produced, {} expected",
                logits.len(),
                out.len()
            )));
        }
        out.copy_from_slice(logits);
        if !self.has_cry_head() {
            return Ok(None);
        }
        let cry = outputs
            .get(1)
            .ok_or_else(|| EngineError::Run("no cry_logit output".into()))?
            .cast_to::<f32>()
            .map_err(|e| EngineError::Run(format!("cry_logit is not a float: {e:#}")))?;
        let cry = cry
            .try_as_plain_ram()
            .and_then(|view| view.as_slice::<f32>().map(|s| s.first().copied()))
            .map_err(|e| EngineError::Run(format!("cry_logit is not f32: {e:#}")))?
            .ok_or_else(|| EngineError::Run("empty cry_logit".into()))?;
        Ok(Some(cry))
    }
}
