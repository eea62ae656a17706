# Image recipe for `cross` (see ../Cross.toml): cross's aarch64 image, which already carries the
# aarch64 GCC and qemu, plus the arm64 ALSA development files cpal needs.
ARG CROSS_BASE_IMAGE
FROM $CROSS_BASE_IMAGE

RUN dpkg --add-architecture arm64 \
    && apt-get update \
    && apt-get install --assume-yes --no-install-recommends libasound2-dev:arm64 \
    && rm -rf /var/lib/apt/lists/*

# pkg-config must look at the arm64 .pc files, not the build machine's.
ENV PKG_CONFIG_ALLOW_CROSS=1 \
    PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
