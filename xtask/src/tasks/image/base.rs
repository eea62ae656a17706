//! The images' bases, made here from Debian's packages: `mmdebstrap --variant=extract` unpacks
//! what the binary links and nothing that runs (no shell, no package manager), a hook adds what
//! maintainer scripts would have made, and `podman import` turns the cached tarball into an
//! image. No registry is asked.

use std::path::PathBuf;

use crate::cmd::cache_dir;
use crate::error::Result;
use crate::podman::Podman;
use crate::tasks::deb::Arch;

/// The Debian release of the bases, as the package's.
const RELEASE: &str = "bookworm";

/// What every base's hook does: the CA bundle that ca-certificates' maintainer script would
/// make, a /tmp, and none of what the Rust binaries never load: docs, manuals, translations,
/// glibc's iconv modules (8 MB on amd64, 20 MB on arm64) and OpenSSL, which ca-certificates
/// depends on (7 MB; TLS here is rustls). (Joined into one line: mmdebstrap takes a hook with a
/// newline for a file name first.)
const COMMON_HOOK: &[&str] = &[
    r#"cat "$1"/usr/share/ca-certificates/mozilla/*.crt > "$1"/etc/ssl/certs/ca-certificates.crt"#,
    r#"rm -rf "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/locale "$1"/usr/share/lintian"#,
    r#"rm -rf "$1"/usr/lib/*/gconv "$1"/usr/bin/openssl "$1"/usr/lib/*/libssl.so* "$1"/usr/lib/*/libcrypto.so* "$1"/usr/lib/*/engines-3 "$1"/usr/lib/*/ossl-modules"#,
    r#"mkdir -p "$1"/tmp && chmod 1777 "$1"/tmp"#,
];

/// A base image.
pub struct Base {
    /// Its name, `localhost/NAME:RELEASE-ARCH`.
    pub name: &'static str,
    /// The Debian packages it holds (with their dependencies), comma-separated.
    pub packages: &'static str,
    /// Its own hook lines: users and directories.
    pub hook: &'static [&'static str],
}

/// The monitor's: what edge-infer links (glibc, libgcc, ALSA) and the CA certificates that
/// `mqtts://` and https webhooks verify against; the edge-infer user (10001) in Debian's audio
/// group (29) and its state directory.
pub const EDGE: Base = Base {
    name: "edge-infer-base",
    packages: "libc6,libgcc-s1,libasound2,ca-certificates",
    hook: &[
        r#"printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nedge-infer:x:10001:29:edge-infer:/var/lib/edge-infer:/usr/sbin/nologin\n' > "$1"/etc/passwd"#,
        r#"printf 'root:x:0:\naudio:x:29:edge-infer\nedge-infer:x:10001:\n' > "$1"/etc/group"#,
        r#"mkdir -p "$1"/etc/edge-infer "$1"/var/lib/edge-infer"#,
        r#"chown 10001:29 "$1"/var/lib/edge-infer && chmod 750 "$1"/var/lib/edge-infer"#,
    ],
};

/// The trainer's: glibc, libgcc and libstdc++ (libtorch is C++), CA certificates (the Hugging
/// Face hub); the host-train user (10001) and its working directory /runs.
pub const TRAIN: Base = Base {
    name: "host-train-base",
    packages: "libc6,libgcc-s1,libstdc++6,ca-certificates",
    hook: &[
        r#"printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nhost-train:x:10001:10001:host-train:/runs:/usr/sbin/nologin\n' > "$1"/etc/passwd"#,
        r#"printf 'root:x:0:\nhost-train:x:10001:\n' > "$1"/etc/group"#,
        r#"mkdir -p "$1"/runs && chown 10001:10001 "$1"/runs"#,
    ],
};

impl Base {
    fn hook(&self) -> String {
        COMMON_HOOK
            .iter()
            .chain(self.hook)
            .copied()
            .collect::<Vec<_>>()
            .join(" && ")
    }

    /// The cached root for `arch`, made once per release, package list and hook.
    fn tarball(&self, arch: Arch) -> Result<PathBuf> {
        let dir = cache_dir().join("images");
        let hook = self.hook();
        // The hook's text is part of the name: a changed hook makes a new base.
        let hook_id = hook.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let tar = dir.join(format!(
            "{}-{RELEASE}-{}-{}-{hook_id:016x}.tar",
            self.name,
            arch.name(),
            self.packages.replace(',', "+")
        ));
        crate::mmdebstrap::cached(
            &tar,
            RELEASE,
            &[
                "--variant=extract".into(),
                format!("--arch={}", arch.name()),
                format!("--include={}", self.packages),
                format!("--extract-hook={hook}"),
            ],
        )
    }

    /// Imports the base for `arch` into `podman` and returns its tag.
    pub fn import(&self, podman: &Podman, arch: Arch) -> Result<String> {
        let tar = self.tarball(arch)?;
        let tag = format!("localhost/{}:{RELEASE}-{}", self.name, arch.name());
        podman
            .cmd()
            .args(["import", "--quiet", "--arch", arch.name()])
            .args([&tar.to_string_lossy(), tag.as_str()])
            .read()?;
        Ok(tag)
    }
}
