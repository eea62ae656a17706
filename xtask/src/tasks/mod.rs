//! The tasks `cargo xtask` runs, one file each.

pub mod ci;
pub mod deb;
pub mod image;
pub mod systemd;
pub mod test;
