//! Validated configurations of the commands, built from the command line by [`crate::cli`]:
//! once a command has its config, its input has been checked.

use std::path::PathBuf;

use cry_core::audio::Bandwidth;

use crate::bench::BenchConfig;
use crate::engine::{Engine, EngineError, EngineOptions};
use crate::stream::DetectorConfig;
use crate::stream::Format;
use crate::stream::feed::Pace;
use crate::stream::readers::PcmEncoding;

/// The model to load.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// The exported ONNX file.
    pub path: PathBuf,
    /// Threads and other load options.
    pub options: EngineOptions,
    /// Audio is limited to this band before the model sees it (`--bandwidth`).
    pub bandwidth: Option<Bandwidth>,
}

impl ModelConfig {
    /// Loads and checks the model.
    pub fn load(&self) -> Result<Engine, EngineError> {
        Engine::load(&self.path, &self.options)
    }
}

/// `classify`: score whole files.
#[derive(Debug, Clone)]
pub struct ClassifyConfig {
    /// WAV files, any rate and channel count.
    pub files: Vec<PathBuf>,
    /// The model.
    pub model: ModelConfig,
}

/// What `stream` and `listen` share: the capture ring, the model and the detector.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Capacity of the capture ring in seconds.
    pub ring_seconds: f32,
    /// The model.
    pub model: ModelConfig,
    /// How windows become events.
    pub detector: DetectorConfig,
}

/// Where `stream` reads.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamInput {
    /// An audio file in any format `cry-core` decodes (it carries its own format).
    File(PathBuf),
    /// Raw interleaved PCM on stdin.
    Stdin {
        /// Rate and channels.
        format: Format,
        /// Sample encoding.
        encoding: PcmEncoding,
    },
}

/// `stream`: a file or stdin through the streaming pipeline.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The input.
    pub input: StreamInput,
    /// As fast as the detector takes, or paced like a device.
    pub pace: Pace,
    /// Ring, model and detector.
    pub pipeline: PipelineConfig,
}

/// `listen`: a microphone through the streaming pipeline.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// Device name or id; the default input when `None`.
    pub device: Option<String>,
    /// Ring, model and detector.
    pub pipeline: PipelineConfig,
}

/// `devices`: list the inputs.
#[derive(Debug, Clone)]
pub struct DevicesConfig {
    /// One JSON object per device instead of a table.
    pub json: bool,
}

/// `bench`: measure a model on this machine.
#[derive(Debug, Clone)]
pub struct BenchCommandConfig {
    /// The model.
    pub model: ModelConfig,
    /// What to measure.
    pub bench: BenchConfig,
    /// One JSON object instead of text.
    pub json: bool,
}
