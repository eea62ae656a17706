//! What the subcommands that run jobs share: the run directory's layout ([`layout`]), loading
//! and splitting the data ([`dataset`]), the starting model and fine-tuning session
//! ([`tune`]), the definition of a nested-cv run ([`spec`]) and its report ([`report`]).

pub mod dataset;
pub mod layout;
pub mod report;
pub mod spec;
pub mod tune;

use std::path::PathBuf;

pub use layout::{RunDir, UnitsDir};

/// A run directory that does not hold what a job expects.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A new run was asked for in a directory that holds one.
    #[error("{} already holds a run", dir.display())]
    Exists {
        /// The directory.
        dir: PathBuf,
    },
    /// The outer fold asked for is not in the split.
    #[error("fold {fold} does not exist with {outer} outer folds")]
    NoSuchFold {
        /// The fold asked for.
        fold: usize,
        /// Outer folds of the run.
        outer: usize,
    },
    /// No run definition in the directory.
    #[error("{} is not a nested-cv run (no {})", dir.display(), layout::RUN_FILE)]
    NotARun {
        /// The directory.
        dir: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A file of the run cannot be read.
    #[error("failed to read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A unit of a run with a cry head lacks its cry scores.
    #[error("{} has no cry-head scores; it was written by a run without a cry head", path.display())]
    NoCryScores {
        /// The unit file.
        path: PathBuf,
    },
    /// A file of the run does not parse.
    #[error("invalid {}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// Resuming with different data, model or arguments.
    #[error(
        "{} holds a different run ({} changed); resuming needs the same data, model and arguments",
        dir.display(),
        fields.join(", ")
    )]
    Changed {
        /// The directory.
        dir: PathBuf,
        /// The fields of the run definition that differ.
        fields: Vec<String>,
    },
    /// Two parts given to merge are not one run.
    #[error(
        "{} is a different run from {} ({} differ)",
        dir.display(),
        first.display(),
        fields.join(", ")
    )]
    NotOneRun {
        /// The part that differs.
        dir: PathBuf,
        /// The first part.
        first: PathBuf,
        /// The fields of the run definition that differ.
        fields: Vec<String>,
    },
    /// An outer fold was found twice with different results.
    #[error("outer fold {fold} appears twice with different results ({})", file.display())]
    Conflict {
        /// The fold.
        fold: usize,
        /// The second file.
        file: PathBuf,
    },
    /// Outer folds missing from the parts.
    #[error(
        "outer fold(s) {} not finished in {}",
        folds.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Unfinished {
        /// The missing folds.
        folds: Vec<usize>,
        /// The directories searched.
        dirs: Vec<PathBuf>,
    },
}
