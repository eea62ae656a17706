//! The binary's error, [`CliError`], and the exit status each failure gets.

use std::fmt;

use crate::data::DatasetError;
use crate::error::{Error, chain};
use crate::export::verify::VerifyError;
use crate::run::RunError;

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: an unexpected failure (I/O, a bug).
pub const EXIT_FAILURE: i32 = 1;
/// Exit status: invalid arguments.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: the input cannot be used: a dataset (no usable clip, empty label folder, too few
/// groups for the folds requested, bad manifest), an audio file that cannot be decoded, or a
/// checkpoint (missing files or tensors, wrong shapes, unsupported config, unreachable hub id,
/// ONNX metadata that breaks the contract).
pub const EXIT_DATA: i32 = 3;

/// The exit codes, as `--help` lists them.
pub(crate) const EXIT_CODES: &str = "Exit codes: 0 success; 1 unexpected failure (I/O, bug); \
2 invalid arguments; 3 unusable input: a dataset (no usable clip, empty label folder, single \
class, fewer leakage groups than folds, bad manifest), an audio file that cannot be decoded, or \
a checkpoint (missing files or tensors, wrong shapes, unsupported config).";

/// An argument that parsed but makes no sense.
#[derive(Debug, thiserror::Error)]
#[error("invalid argument {arg}: {reason}")]
pub struct UsageError {
    /// The argument.
    pub arg: &'static str,
    /// Why.
    pub reason: String,
}

/// `arg` is invalid because of `reason`.
pub(crate) fn usage(arg: &'static str, reason: impl Into<String>) -> UsageError {
    UsageError {
        arg,
        reason: reason.into(),
    }
}

/// Every way the binary can fail, each with its exit status.
#[derive(Debug)]
pub enum CliError {
    /// Invalid arguments.
    Usage(UsageError),
    /// The job failed.
    Job(Error),
    /// The job failed, and the command line can change that.
    Hinted {
        /// The failure.
        error: Error,
        /// What to change, naming the flag.
        hint: &'static str,
    },
}

impl CliError {
    /// The documented exit status of this failure.
    pub fn process_exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            Self::Job(error) | Self::Hinted { error, .. } => job_exit_code(error),
        }
    }

    /// The message and those of every source, joined by `": "`.
    pub fn report(&self) -> String {
        match self {
            Self::Usage(e) => chain(e),
            Self::Job(e) => chain(e),
            Self::Hinted { error, hint } => format!("{}; {hint}", chain(error)),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(e) => e.fmt(f),
            Self::Job(e) => e.fmt(f),
            Self::Hinted { error, hint } => write!(f, "{error}; {hint}"),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Usage(e) => e.source(),
            Self::Job(e) | Self::Hinted { error: e, .. } => e.source(),
        }
    }
}

impl From<UsageError> for CliError {
    fn from(e: UsageError) -> Self {
        Self::Usage(e)
    }
}

impl From<Error> for CliError {
    /// A job's error, with the flag to blame where a value given on the command line is why.
    fn from(error: Error) -> Self {
        match error {
            Error::Grid(e) => Self::Usage(usage("--grid", chain(&e))),
            Error::Run(RunError::Exists { .. }) => Self::Usage(usage(
                "--out",
                format!(
                    "{}; add --resume to continue it, or choose another directory",
                    chain(&error)
                ),
            )),
            Error::Run(RunError::NoSuchFold { fold, outer }) => Self::Usage(usage(
                "--outer-fold",
                format!("fold {fold} does not exist with --outer {outer}"),
            )),
            Error::Verify(VerifyError::Failed { ref verification })
                if verification.quantization != "fp32" =>
            {
                Self::Hinted {
                    error,
                    hint: "--force keeps it",
                }
            }
            Error::Hub(_) => Self::Hinted {
                error,
                hint: "then pass --pretrained DIR",
            },
            Error::Dataset(DatasetError::NoLabelFolders(_)) => Self::Hinted {
                error,
                hint: "pass --manifest CSV for any other layout",
            },
            error => Self::Job(error),
        }
    }
}

/// The exit status of a job's error. Exhaustive on purpose: a new kind of failure needs a
/// decision here.
fn job_exit_code(error: &Error) -> i32 {
    match error {
        Error::Dataset(_)
        | Error::Targets(_)
        | Error::Split(_)
        | Error::Checkpoint(_)
        | Error::Hub(_)
        | Error::Config(_)
        | Error::Audio(_) => EXIT_DATA,
        Error::Grid(_) => EXIT_USAGE,
        Error::Run(e) => match e {
            RunError::Exists { .. } | RunError::NoSuchFold { .. } => EXIT_USAGE,
            RunError::NotARun { .. }
            | RunError::Read { .. }
            | RunError::Invalid { .. }
            | RunError::NoCryScores { .. }
            | RunError::Changed { .. }
            | RunError::NotOneRun { .. }
            | RunError::Conflict { .. }
            | RunError::Unfinished { .. } => EXIT_FAILURE,
        },
        Error::Verify(e) => match e {
            VerifyError::Metadata(_) => EXIT_DATA,
            VerifyError::NotOnnx(_)
            | VerifyError::Load { .. }
            | VerifyError::Run { .. }
            | VerifyError::WindowLength { .. }
            | VerifyError::Labels { .. }
            | VerifyError::LogitCount { .. }
            | VerifyError::CryHead { .. }
            | VerifyError::ReadDir { .. }
            | VerifyError::Failed { .. }
            | VerifyError::NoWindows { .. } => EXIT_FAILURE,
        },
        // Writing an output (a report, a `.npy` array) failed: I/O.
        Error::Write(_) | Error::Npy(_) => EXIT_FAILURE,
        Error::Context { source, .. } => job_exit_code(source),
        Error::Other(_) => EXIT_FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cv::SplitError;

    #[test]
    fn context_keeps_the_exit_code_and_adds_to_the_message() {
        let e = Error::from(SplitError::TooFewFolds { k: 1 }).context("splitting");
        let cli = CliError::from(e);
        assert_eq!(cli.process_exit_code(), EXIT_DATA);
        assert!(cli.report().starts_with("splitting: "), "{}", cli.report());
    }

    #[test]
    fn values_from_the_command_line_become_usage_errors_naming_the_flag() {
        let e = Error::from(RunError::NoSuchFold { fold: 3, outer: 3 });
        let cli = CliError::from(e);
        assert_eq!(cli.process_exit_code(), EXIT_USAGE);
        assert!(cli.report().contains("--outer-fold"), "{}", cli.report());
        let e = Error::from(crate::train::grid::GridError::EmptyList);
        assert!(CliError::from(e).report().contains("--grid"));
    }
}
