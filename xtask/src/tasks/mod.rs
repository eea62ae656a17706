//! The tasks `cargo xtask` runs, one file each.

pub mod ci;
pub mod deb;
pub mod home_assistant;
pub mod image;
pub mod systemd;
pub mod test;
