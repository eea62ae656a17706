//! The binary's one error type and its exit codes. Every failure of a command is an [`Error`],
//! and [`Error::process_exit_code`] matches every kind exhaustively: a new kind of error does not
//! compile until it has a documented code.

use crate::capture::CaptureError;
use crate::engine::EngineError;
use crate::stream::{DetectorError, PumpError, SourceError};

/// Exit status: success (including a stream ended by SIGINT).
pub const EXIT_OK: i32 = 0;
/// Exit status: an unexpected failure (I/O, inference, a bug).
pub const EXIT_FAILURE: i32 = 1;
/// Exit status: invalid arguments.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: the model is missing or unusable (not ONNX, metadata or contract not met).
pub const EXIT_MODEL: i32 = 3;
/// Exit status: audio input unusable (a file that does not decode, stdin not in the declared
/// format); `classify` uses it when any file failed.
pub const EXIT_AUDIO: i32 = 4;
/// Exit status: no such audio device, capture failed, or this build has no microphone support.
pub const EXIT_DEVICE: i32 = 5;
/// Exit status: the MQTT broker refused the credentials, its TLS certificate did not verify, or
/// `--ha-remove` could not finish. (A broker that cannot be reached is retried, not an error.)
pub const EXIT_ALERTS: i32 = 6;

/// The exit codes as `--help` shows them.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 success (also a stream stopped with Ctrl-C); 1 \
unexpected failure; 2 invalid arguments; 3 model missing or unusable (not ONNX, metadata or \
input/output contract not met); 4 audio input unusable (undecodable file, stdin not in the \
declared format); 5 audio device missing or capture failed (also `listen` and `devices` in a \
build without the `mic` feature); 6 MQTT broker refused the credentials or its TLS certificate \
did not verify (an unreachable broker is retried, never an exit), --ha-remove did not finish, or \
a --webhook over https found no trusted root certificates. \
A refused --http setting (a public address without a token, a short token) is 2; an address that \
cannot be bound is 1, as is a `health` check the monitor failed or did not answer, and a --state-dir that cannot be created or written (a corrupt history \
is set aside and replaced, not an error).";

/// Arguments that parse but do not make sense together; the message names the flags. Here
/// rather than in [`crate::cli`], so the validated configs ([`crate::config`]) and the command
/// line both use it without depending on each other.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arguments that do not make sense.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The model could not be loaded or run.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// An audio input could not be opened.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The detector could not be built.
    #[error(transparent)]
    Detector(#[from] DetectorError),
    /// The streaming loop failed.
    #[error(transparent)]
    Pump(#[from] PumpError),
    /// Capture could not start (or is not built in).
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// Some files given to `classify` could not be classified.
    #[error("{failed} of {total} file(s) could not be classified (reported on stdout)")]
    FilesFailed {
        /// Files that failed.
        failed: usize,
        /// Files given.
        total: usize,
    },
    /// Writing to stdout failed.
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
    /// A result could not be encoded as JSON.
    #[error("cannot encode the result as JSON")]
    Json(#[from] serde_json::Error),
    /// The SIGINT handler could not be installed.
    #[error("cannot install the SIGINT handler")]
    Interrupt(#[from] ctrlc::Error),
    /// A webhook cannot start (https without trusted roots).
    #[error("cannot start the webhook")]
    Webhook(#[from] crate::alerts::WebhookError),
    /// The event history cannot be opened.
    #[error("cannot open the event history")]
    History(#[from] crate::history::HistoryError),
    /// Alerts cannot be published (a configuration the broker rejects).
    #[error("MQTT alerts stopped")]
    Alerts(#[from] crate::alerts::MqttError),
    /// `--ha-remove` did not finish.
    #[error("cannot remove the Home Assistant entities")]
    HaRemove(#[from] crate::alerts::RemoveError),
    /// `health`: the monitor did not answer 200.
    #[error("{url} is not healthy: {reason}")]
    Unhealthy {
        /// The URL asked.
        url: String,
        /// What it answered, or why it did not.
        reason: String,
    },
    /// The HTTP server could not start (the address is taken, say).
    #[error(transparent)]
    Http(#[from] crate::http::ServerError),
}

impl Error {
    /// The documented exit status for this failure.
    pub fn process_exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::Engine(e) => engine_code(e),
            Error::Source(e) | Error::Pump(PumpError::Source(e)) => source_code(e),
            Error::Detector(e) | Error::Pump(PumpError::Detector(e)) => detector_code(e),
            Error::Capture(_) => EXIT_DEVICE,
            Error::FilesFailed { .. } => EXIT_AUDIO,
            Error::Alerts(_) | Error::HaRemove(_) | Error::Webhook(_) => EXIT_ALERTS,
            Error::Pump(PumpError::Output(_))
            | Error::Output(_)
            | Error::Json(_)
            | Error::Interrupt(_)
            | Error::Http(_)
            | Error::History(_) => EXIT_FAILURE,
            // Container healthchecks read 1 as unhealthy (and reserve 2).
            Error::Unhealthy { .. } => EXIT_FAILURE,
        }
    }

    /// The message and its causes, `error: cause: cause`, as the binary prints it.
    pub fn report(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

fn engine_code(e: &EngineError) -> i32 {
    match e {
        EngineError::Missing { .. }
        | EngineError::Read { .. }
        | EngineError::Parse { .. }
        | EngineError::Metadata { .. }
        | EngineError::Contract { .. } => EXIT_MODEL,
        EngineError::Run(_) => EXIT_FAILURE,
    }
}

fn source_code(e: &SourceError) -> i32 {
    match e {
        SourceError::Decode { .. } | SourceError::Format { .. } | SourceError::Io { .. } => {
            EXIT_AUDIO
        }
        SourceError::DeviceLost(_) => EXIT_DEVICE,
    }
}

fn detector_code(e: &DetectorError) -> i32 {
    match e {
        DetectorError::Config(_) | DetectorError::NoCryHead => EXIT_USAGE,
        DetectorError::Classes(_) => EXIT_MODEL,
        DetectorError::Format(_) => EXIT_AUDIO,
        DetectorError::Classify(e) => engine_code(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::DetectorConfigError;

    #[test]
    fn nested_errors_keep_their_class() {
        let lost = || SourceError::DeviceLost("gone".into());
        let cases: [(Error, i32); 9] = [
            (UsageError("--hop".into()).into(), EXIT_USAGE),
            (
                EngineError::Missing {
                    path: "m.onnx".into(),
                }
                .into(),
                EXIT_MODEL,
            ),
            (EngineError::Run("boom".into()).into(), EXIT_FAILURE),
            (
                PumpError::Detector(DetectorError::Classify(EngineError::Run("x".into()))).into(),
                EXIT_FAILURE,
            ),
            (PumpError::Source(lost()).into(), EXIT_DEVICE),
            (
                DetectorError::Config(DetectorConfigError::ZeroHop).into(),
                EXIT_USAGE,
            ),
            (CaptureError::NotBuilt.into(), EXIT_DEVICE),
            (
                crate::alerts::MqttError::Refused {
                    target: "mqtt://h:1883/p".into(),
                    reason: "not authorised".into(),
                }
                .into(),
                EXIT_ALERTS,
            ),
            (
                Error::FilesFailed {
                    failed: 1,
                    total: 2,
                },
                EXIT_AUDIO,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.process_exit_code(), code, "{error:?}");
        }
    }

    #[test]
    fn the_report_walks_the_causes() {
        let error = Error::Pump(PumpError::Output(std::io::Error::other("pipe closed")));
        assert_eq!(error.report(), "cannot write the output: pipe closed");
    }
}
