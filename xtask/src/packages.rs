//! The one list of what the machine must have beyond the Rust toolchain: Debian packages and
//! cached Python environments, each with the suites that need it and why.
//!
//! The README, CONTRIBUTING and `cross/aarch64-env.sh` point here instead of repeating it.

use std::collections::BTreeSet;

/// A group of work that needs programs or libraries from the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Suite {
    /// The README's test command (`cargo xtask test`).
    Tests,
    /// edge-infer cross-built for the Raspberry Pi and tested under qemu.
    Aarch64,
    /// host-train's libtorch backend (`--features tch`).
    Libtorch,
    /// edge-infer's Debian packages (`cargo xtask deb`).
    Deb,
    /// The container images (`cargo xtask image`, `image-test`).
    Images,
    /// The monitor against a real Home Assistant (`cargo xtask ha-test`).
    HomeAssistant,
}

impl Suite {
    pub const ALL: [Suite; 6] = [
        Suite::Tests,
        Suite::Aarch64,
        Suite::Libtorch,
        Suite::Deb,
        Suite::Images,
        Suite::HomeAssistant,
    ];

    /// The suite's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Tests => "tests",
            Suite::Aarch64 => "aarch64",
            Suite::Libtorch => "libtorch",
            Suite::Deb => "deb",
            Suite::Images => "images",
            Suite::HomeAssistant => "home-assistant",
        }
    }

    pub fn from_name(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A Debian package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    pub name: &'static str,
    /// A foreign architecture (`arm64`), or `None` for the machine's own.
    pub arch: Option<&'static str>,
    pub suites: &'static [Suite],
    pub why: &'static str,
}

impl Package {
    /// The name apt takes: `libasound2-dev:arm64` for a foreign architecture.
    pub fn spec(&self) -> String {
        match self.arch {
            Some(arch) => format!("{}:{arch}", self.name),
            None => self.name.to_string(),
        }
    }
}

use Suite::{Aarch64, Deb, HomeAssistant, Images, Libtorch, Tests};

/// Every Debian package any suite needs.
pub const PACKAGES: &[Package] = &[
    Package {
        name: "gcc",
        arch: None,
        suites: &[Tests, Aarch64, Libtorch],
        why: "the linker rustc calls, and the C in dependencies (ring)",
    },
    Package {
        name: "libc6-dev",
        arch: None,
        suites: &[Tests, Aarch64, Libtorch],
        why: "the C library's headers and startup files the linker needs",
    },
    Package {
        name: "g++",
        arch: None,
        suites: &[Libtorch],
        why: "torch-sys compiles its C++ bridge",
    },
    Package {
        name: "pkg-config",
        arch: None,
        suites: &[Tests, Aarch64],
        why: "finds ALSA for the microphone build",
    },
    Package {
        name: "libasound2-dev",
        arch: None,
        suites: &[Tests],
        why: "ALSA headers: the tests build edge-infer with the microphone (--features mic), as it ships",
    },
    Package {
        name: "mosquitto",
        arch: None,
        suites: &[Tests, HomeAssistant],
        why: "the MQTT tests and the Home Assistant test start Debian's broker on loopback",
    },
    Package {
        name: "chromium",
        arch: None,
        suites: &[Tests],
        why: "the live page's test loads it in Debian's browser, headless",
    },
    Package {
        name: "chromium-driver",
        arch: None,
        suites: &[Tests],
        why: "chromedriver: the page's test drives the browser over WebDriver",
    },
    Package {
        name: "qemu-user-static",
        arch: None,
        suites: &[Tests, Aarch64, Images],
        why: "the portability tests run the x86 binaries on CPUs without AVX-512 and AVX; the aarch64 tests and the arm64 image run under it",
    },
    Package {
        name: "rustc-web",
        arch: None,
        suites: &[Aarch64],
        why: "Debian's rustc, whose arm64 standard library rustup cannot fetch here",
    },
    Package {
        name: "libstd-rust-web-dev",
        arch: Some("arm64"),
        suites: &[Aarch64],
        why: "the arm64 standard library for rustc-web",
    },
    Package {
        name: "gcc-aarch64-linux-gnu",
        arch: None,
        suites: &[Aarch64],
        why: "the aarch64 linker and C compiler (ring)",
    },
    Package {
        name: "libc6-dev-arm64-cross",
        arch: None,
        suites: &[Aarch64],
        why: "the arm64 C library to link against",
    },
    Package {
        name: "libasound2-dev",
        arch: Some("arm64"),
        suites: &[Aarch64],
        why: "arm64 ALSA for the Pi's microphone build",
    },
    Package {
        name: "dpkg-dev",
        arch: None,
        suites: &[Deb],
        why: "dpkg-shlibdeps: cargo-deb reads the binary's library dependencies with it",
    },
    Package {
        name: "mmdebstrap",
        arch: None,
        suites: &[Deb, Images],
        why: "makes the throwaway Debian root the package is installed into, and the images' base (cached)",
    },
    Package {
        name: "systemd-container",
        arch: None,
        suites: &[Deb],
        why: "systemd-nspawn boots that root with systemd for the service test",
    },
    Package {
        name: "podman",
        arch: None,
        suites: &[Images],
        why: "builds and runs the container images (no registry: bases are imported)",
    },
    Package {
        name: "runc",
        arch: None,
        suites: &[Images],
        why: "podman's runtime here (crun refuses a hybrid cgroup layout)",
    },
    Package {
        name: "python3-venv",
        arch: None,
        suites: &[Libtorch],
        why: "the cached venv that provides libtorch (torch from PyPI)",
    },
];

/// The Python a venv is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Python {
    /// `python3` on the PATH.
    OnPath,
    /// A version pyenv installed: `$PYENV_ROOT/versions/VERSION/bin/python3` (`~/.pyenv`
    /// without `PYENV_ROOT`).
    Pyenv(&'static str),
}

impl Python {
    /// How messages name it.
    pub fn describe(self) -> String {
        match self {
            Python::OnPath => "python3 on the PATH".into(),
            Python::Pyenv(version) => format!("pyenv's Python {version}"),
        }
    }
}

/// A Python environment cached under the build directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Venv {
    /// Its folder's name under `<target dir>/xtask/`.
    pub dir: &'static str,
    /// The interpreter `-m venv` runs with.
    pub python: Python,
    /// What `pip install` takes.
    pub requirements: &'static [&'static str],
    /// Python code that succeeds only in a complete environment.
    pub check: &'static str,
    pub suites: &'static [Suite],
    pub why: &'static str,
}

/// Every cached Python environment any suite needs.
pub const VENVS: &[Venv] = &[
    Venv {
        dir: "venv-torch-2.9.0",
        python: Python::OnPath,
        // tch 0.22 expects libtorch 2.9.
        requirements: &["torch==2.9.0"],
        check: "import torch; assert torch.__version__.startswith('2.9.0')",
        suites: &[Libtorch],
        why: "libtorch for host-train --features tch (tch 0.22 expects 2.9)",
    },
    Venv {
        dir: "venv-homeassistant-2025.4.4",
        // Home Assistant 2025.5 needs Python 3.13.2; 2025.4 is the newest that the machine's
        // newest Python (pyenv's 3.13.0) takes. Debian's 3.11 would stop at 2024.3.
        python: Python::Pyenv("3.13.0"),
        // `hass --skip-pip` installs nothing when it starts, so what the integrations it loads
        // require is here, pinned as their manifest.json files in 2025.4.4 pin it: mqtt's client,
        // and the frontend (a default integration; without it Home Assistant starts in
        // recovery mode). The rest of the default integrations' come with homeassistant.
        requirements: &[
            "homeassistant==2025.4.4",
            "paho-mqtt==2.1.0",
            "home-assistant-frontend==20250411.0",
        ],
        check: "import homeassistant.const as c, paho.mqtt.client, hass_frontend; \
                assert c.__version__ == '2025.4.4'",
        suites: &[HomeAssistant],
        why: "Home Assistant Core for the real-HA test (cargo xtask ha-test)",
    },
];

/// A program installed with `cargo install`, cached under the build directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CargoTool {
    /// The crate, and the program it installs.
    pub name: &'static str,
    /// The version installed (`--locked`, so its own dependencies are the ones it was
    /// published with).
    pub version: &'static str,
    pub suites: &'static [Suite],
    pub why: &'static str,
}

/// Every cargo-installed tool any suite needs.
pub const TOOLS: &[CargoTool] = &[CargoTool {
    name: "cargo-deb",
    version: "3.8.0",
    suites: &[Deb],
    why: "builds edge-infer's .deb from [package.metadata.deb]",
}];

/// The tools the suites need.
pub fn tools(suites: &[Suite]) -> Vec<&'static CargoTool> {
    TOOLS
        .iter()
        .filter(|t| t.suites.iter().any(|s| suites.contains(s)))
        .collect()
}

/// The packages the suites need, each once, in list order.
pub fn needed(suites: &[Suite]) -> Vec<&'static Package> {
    PACKAGES
        .iter()
        .filter(|p| p.suites.iter().any(|s| suites.contains(s)))
        .collect()
}

/// The venvs the suites need.
pub fn venvs(suites: &[Suite]) -> Vec<&'static Venv> {
    VENVS
        .iter()
        .filter(|v| v.suites.iter().any(|s| suites.contains(s)))
        .collect()
}

/// What dpkg says is installed: `name:arch` for every package, and the machine's architecture.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    native: String,
    have: BTreeSet<String>,
}

impl Installed {
    /// Reads `dpkg-query -W -f '${Package}:${Architecture} ${db:Status-Status}\n'`; only
    /// `installed` counts (a removed package whose config files remain does not).
    pub fn parse(native_arch: &str, dpkg_query: &str) -> Installed {
        let have = dpkg_query
            .lines()
            .filter_map(|line| {
                let (spec, status) = line.split_once(' ')?;
                (status.trim() == "installed").then(|| spec.to_string())
            })
            .collect();
        Installed {
            native: native_arch.to_string(),
            have,
        }
    }

    /// Whether `p` is installed (an `all`-architecture package satisfies any).
    pub fn has(&self, p: &Package) -> bool {
        let arch = p.arch.unwrap_or(&self.native);
        self.have.contains(&format!("{}:{arch}", p.name))
            || self.have.contains(&format!("{}:all", p.name))
    }
}

/// The packages of `needed` that are not installed.
pub fn missing<'a>(needed: &[&'a Package], installed: &Installed) -> Vec<&'a Package> {
    needed
        .iter()
        .copied()
        .filter(|p| !installed.has(p))
        .collect()
}

/// The foreign architectures the packages need (`dpkg --add-architecture`).
pub fn foreign_archs(packages: &[&Package]) -> BTreeSet<&'static str> {
    packages.iter().filter_map(|p| p.arch).collect()
}

/// The exact commands that install `packages` on a Debian machine, as root.
pub fn install_commands(packages: &[&Package]) -> Vec<String> {
    let mut cmds: Vec<String> = foreign_archs(packages)
        .into_iter()
        .map(|a| format!("dpkg --add-architecture {a}"))
        .collect();
    cmds.push("apt-get update".into());
    let specs: Vec<String> = packages.iter().map(|p| p.spec()).collect();
    cmds.push(format!(
        "apt-get install -y --no-install-recommends {}",
        specs.join(" ")
    ));
    cmds
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOME_MACHINE: &str = "\
gcc:amd64 installed
libc6-dev:amd64 installed
pkg-config:amd64 installed
mosquitto:amd64 config-files
libasound2-dev:arm64 installed
qemu-user-static:amd64 installed
python3-venv:amd64 installed
chromium:amd64 installed
chromium-driver:amd64 installed
";

    #[test]
    fn on_an_empty_machine_every_package_is_missing() {
        let empty = Installed::parse("amd64", "");
        for suites in [
            &Suite::ALL[..],
            &[Tests],
            &[Aarch64],
            &[Libtorch],
            &[Deb],
            &[Images],
            &[HomeAssistant],
        ] {
            let need = needed(suites);
            assert!(!need.is_empty());
            assert_eq!(missing(&need, &empty), need, "{suites:?}");
        }
        assert_eq!(needed(&Suite::ALL).len(), PACKAGES.len());
    }

    #[test]
    fn only_what_dpkg_lacks_is_installed() {
        let m = Installed::parse("amd64", SOME_MACHINE);
        let specs: Vec<String> = missing(&needed(&[Tests]), &m)
            .iter()
            .map(|p| p.spec())
            .collect();
        // mosquitto left only its config files; the native ALSA headers are absent although the
        // arm64 ones are installed.
        assert_eq!(specs, ["libasound2-dev", "mosquitto"]);
        let aarch64: Vec<String> = missing(&needed(&[Aarch64]), &m)
            .iter()
            .map(|p| p.spec())
            .collect();
        assert_eq!(
            aarch64,
            [
                "rustc-web",
                "libstd-rust-web-dev:arm64",
                "gcc-aarch64-linux-gnu",
                "libc6-dev-arm64-cross"
            ]
        );
    }

    #[test]
    fn the_install_commands_add_the_foreign_architecture_first() {
        let need = needed(&Suite::ALL);
        let cmds = install_commands(&need);
        assert_eq!(cmds[0], "dpkg --add-architecture arm64");
        assert_eq!(cmds[1], "apt-get update");
        assert!(cmds[2].starts_with("apt-get install -y --no-install-recommends gcc libc6-dev"));
        assert!(cmds[2].contains(" libasound2-dev:arm64"));
        let tests_only = install_commands(&needed(&[Tests]));
        assert_eq!(tests_only.len(), 2, "no foreign architecture for the tests");
    }

    #[test]
    fn the_tests_need_the_broker_the_browser_qemu_and_alsa() {
        let names: Vec<&str> = needed(&[Tests]).iter().map(|p| p.name).collect();
        for n in [
            "mosquitto",
            "chromium",
            "chromium-driver",
            "qemu-user-static",
            "libasound2-dev",
        ] {
            assert!(names.contains(&n), "{n}");
        }
    }

    #[test]
    fn every_suite_is_named_once_on_the_command_line() {
        for s in Suite::ALL {
            assert_eq!(Suite::from_name(s.name()), Some(s));
        }
        assert_eq!(Suite::from_name("home-assistant"), Some(HomeAssistant));
    }

    #[test]
    fn the_home_assistant_test_needs_the_broker_and_a_venv_of_the_release_it_pins() {
        let names: Vec<&str> = needed(&[HomeAssistant]).iter().map(|p| p.name).collect();
        assert_eq!(names, ["mosquitto"]);
        let [ha] = venvs(&[HomeAssistant])[..] else {
            panic!("one venv for Home Assistant")
        };
        let version = ha
            .requirements
            .iter()
            .find_map(|r| r.strip_prefix("homeassistant=="))
            .expect("homeassistant pinned");
        assert_eq!(ha.dir, format!("venv-homeassistant-{version}"));
        assert!(ha.check.contains(&format!("'{version}'")), "{}", ha.check);
        assert!(matches!(ha.python, Python::Pyenv(_)));
        // Every requirement pinned exactly, so the cached venv is one environment.
        for v in VENVS {
            for r in v.requirements {
                assert!(r.contains("=="), "{r} in {} is not pinned", v.dir);
            }
        }
        assert_eq!(venvs(&[Libtorch])[0].python, Python::OnPath);
    }
}
