#!/usr/bin/env bash
# The docker-free aarch64 toolchain (see cross/README.md).
#   bash cross/aarch64-env.sh --install   installs the Debian 12 packages (as root), through
#                                         `cargo xtask provision aarch64`
#   source cross/aarch64-env.sh           sets up cargo for --target aarch64-unknown-linux-gnu

if [[ "${1:-}" == "--install" ]]; then
  # The Debian packages are listed once, in xtask/src/packages.rs (the suite `aarch64`).
  cd "$(dirname "${BASH_SOURCE[0]}")/.." && exec cargo xtask provision aarch64
fi

# Debian's rustc-web ships the arm64 standard library that rustup cannot fetch here; cargo
# (any recent one) drives it.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# C and assembly in dependencies (ring, for MQTT over TLS) for the Pi.
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
# Tests and `cargo run` go through qemu; the integration tests also use EDGE_INFER_RUNNER to
# start the binary under qemu without binfmt_misc.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64-static
export EDGE_INFER_RUNNER=qemu-aarch64-static
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
