//! `cargo xtask test`: the README's test command. Provisions the machine, then runs every test
//! of the workspace, with edge-infer built as it ships (with the microphone).

use crate::cmd::cargo;
use crate::error::Result;
use crate::packages::Suite;
use crate::provision::{Mode, provision};

/// The features of the test build: edge-infer as the packages ship it.
pub const FEATURES: &str = "edge-infer/mic";

/// The arguments of the test build, before any the caller adds.
pub fn cargo_test_args() -> Vec<String> {
    ["test", "--workspace", "--locked", "--features", FEATURES]
        .map(String::from)
        .to_vec()
}

/// Provisions the test suites, then `cargo test` with `extra` (cargo test's own arguments,
/// `-- --skip NAME` included).
pub fn run(extra: &[String], mode: Mode) -> Result {
    provision(&[Suite::Tests], mode)?;
    cargo().args(cargo_test_args()).args(extra).run()
}
