//! The tasks `cargo xtask` runs, one file each.

pub mod ci;
pub mod deb;
pub mod systemd;
pub mod test;
