//! The tasks `cargo xtask` runs, one file each.

pub mod ci;
pub mod test;
