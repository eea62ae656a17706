//! One module per subcommand: its validated configuration and its `run` function. Nothing here
//! is imported by another subcommand; what they share is in [`crate::run`] and below.

pub mod baselines;
pub mod bench;
pub mod embed;
pub mod export;
pub mod held_out_recording;
pub mod init;
pub mod merge;
pub mod nested_cv;
pub mod score_stream;
pub mod train;
pub mod verify_onnx;
