#!/usr/bin/env bash
# The docker-free aarch64 toolchain (see cross/README.md).
#   bash cross/aarch64-env.sh --install   installs the Debian 12 packages (as root)
#   source cross/aarch64-env.sh           sets up cargo for --target aarch64-unknown-linux-gnu

if [[ "${1:-}" == "--install" ]]; then
  set -euo pipefail
  export DEBIAN_FRONTEND=noninteractive
  dpkg --add-architecture arm64
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    rustc-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
    libasound2-dev:arm64 qemu-user-static pkg-config
  exit 0
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
