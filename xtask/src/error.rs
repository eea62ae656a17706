//! xtask's failures, each owning its exit code.

use std::fmt;

/// Why a task stopped.
#[derive(Debug)]
pub enum Failure {
    /// The command line is wrong (exit 2).
    Usage(String),
    /// The machine lacks what a suite needs and it was not (or could not be) installed: the
    /// message names it and the command that installs it (exit 2).
    Unprovisioned(String),
    /// A step ran and failed: a test, a check, a build (exit 1).
    Step(String),
}

impl Failure {
    pub fn process_exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) | Failure::Unprovisioned(_) => 2,
            Failure::Step(_) => 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) => write!(f, "usage: {m}"),
            Failure::Unprovisioned(m) | Failure::Step(m) => f.write_str(m),
        }
    }
}

pub type Result<T = ()> = std::result::Result<T, Failure>;
