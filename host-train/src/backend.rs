//! Backend choice: a build feature plus a runtime `--device`; the model code is written once.

use burn::prelude::Device;

/// A compute device among those built in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// burn's pure-Rust CPU backend (always available).
    Flex,
    /// libtorch on the CPU (build with `--features tch`).
    #[cfg(feature = "tch")]
    Tch,
    /// libtorch on CUDA device 0 (build with `--features tch` against a CUDA libtorch).
    #[cfg(feature = "tch")]
    TchCuda,
}

impl DeviceChoice {
    /// The burn device.
    pub fn device(self) -> Device {
        match self {
            DeviceChoice::Flex => Device::flex(),
            #[cfg(feature = "tch")]
            DeviceChoice::Tch => libtorch(false),
            #[cfg(feature = "tch")]
            DeviceChoice::TchCuda => libtorch(true),
        }
    }

    /// Every device this build can use, in preference order.
    pub fn available() -> Vec<DeviceChoice> {
        vec![
            DeviceChoice::Flex,
            #[cfg(feature = "tch")]
            DeviceChoice::Tch,
        ]
    }
}

/// burn 0.22 marks its libtorch devices deprecated; this is the one place that names them.
#[cfg(feature = "tch")]
#[expect(deprecated)]
fn libtorch(cuda: bool) -> Device {
    if cuda {
        Device::libtorch_cuda(0)
    } else {
        Device::libtorch()
    }
}
