//! No code: this crate only names shared dependencies with the features the workspace builds
//! them with (see its Cargo.toml).
