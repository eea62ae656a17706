//! [`Error`]: why a host-train job failed, one variant per kind of failure, each keeping its
//! source. The binary turns it into an exit status in [`crate::cli::CliError`], by an exhaustive
//! match, so a new variant needs a deliberate exit code.

use crate::cv::SplitError;
use crate::data::{DatasetError, TargetError};
use crate::export::verify::VerifyError;
use crate::fsx::WriteError;
use crate::model::ConfigError;
use crate::model::checkpoint::CheckpointError;
use crate::model::hub::HubError;
use crate::npy::NpyError;
use crate::run::RunError;
use crate::train::grid::GridError;

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The dataset cannot be used.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// The dataset's classes cannot train the heads they name.
    #[error(transparent)]
    Targets(#[from] TargetError),
    /// The data cannot be split as asked.
    #[error(transparent)]
    Split(#[from] SplitError),
    /// A checkpoint directory cannot be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A hub id cannot be resolved to a checkpoint directory.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// A model config asks for something the model does not implement.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An audio file cannot be decoded.
    #[error(transparent)]
    Audio(#[from] cry_core::AudioError),
    /// The hyperparameter grid is unusable (for this model).
    #[error(transparent)]
    Grid(#[from] GridError),
    /// A run directory is not what the job expects.
    #[error(transparent)]
    Run(#[from] RunError),
    /// An exported model cannot be verified.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// An output file cannot be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A `.npy` array cannot be written.
    #[error(transparent)]
    Npy(#[from] NpyError),
    /// `source`, with what was being done.
    #[error("{context}")]
    Context {
        /// What was being done.
        context: String,
        /// The failure.
        #[source]
        source: Box<Error>,
    },
    /// Anything else: I/O, tract, training internals.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    /// This error, after `context`.
    pub fn context(self, context: impl Into<String>) -> Self {
        Self::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// The error under any [`Error::Context`] layers.
    pub fn root(&self) -> &Error {
        match self {
            Self::Context { source, .. } => source.root(),
            other => other,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The message of `err` followed by those of its sources, joined by `": "`.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
