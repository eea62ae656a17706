//! The event history: where it lives, how long it keeps, what a night is.

use std::path::PathBuf;

use clap::Args;

use crate::error::UsageError;

/// The event history.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Directory of the event history (`events.sqlite3`), from which `seq` continues after a
    /// restart and the HTTP API answers /api/v1/events and /api/v1/nights. Default: the
    /// STATE_DIRECTORY systemd sets for the unit; without either, the history of this run is
    /// kept in memory.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Days of events the history keeps.
    #[arg(long, value_name = "DAYS", default_value_t = crate::history::DEFAULT_RETENTION_DAYS)]
    pub history_days: u32,
    /// The local hours of a night for /api/v1/nights, START-END.
    #[arg(long, value_name = "START-END", default_value = "18-10")]
    pub night: String,
}

impl HistoryArgs {
    pub(super) fn into_config(self) -> Result<crate::history::HistoryConfig, UsageError> {
        let night = self
            .night
            .parse()
            .map_err(|e| UsageError(format!("--night: {e}")))?;
        if self.history_days == 0 {
            return Err(UsageError("--history-days must be at least 1".into()));
        }
        // systemd separates several directories with `:`; the first is the unit's own.
        let from_env = std::env::var_os(crate::history::STATE_DIRECTORY_ENV)
            .filter(|v| !v.is_empty())
            .and_then(|v| std::env::split_paths(&v).next());
        Ok(crate::history::HistoryConfig {
            dir: self.state_dir.or(from_env),
            retention_days: self.history_days,
            night,
        })
    }
}
