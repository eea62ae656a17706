//! One module per subcommand: a validated configuration and a `run` function.

pub mod baselines;
pub mod bench;
pub mod embed;
pub mod export;
pub mod init;
pub mod merge;
pub mod nested_cv;
pub mod train;
pub mod tune;
