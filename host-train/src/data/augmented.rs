//! What an augmented copy (a name with an augmentation prefix) may be used for.

use serde::{Deserialize, Serialize};

/// `--augmented`: where augmented copies go. A copy always shares its source's leakage group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AugmentedPolicy {
    /// Train on copies; never test or validate on one, never count one in a metric.
    #[default]
    Train,
    /// Leave copies out entirely (listed as skipped).
    Drop,
    /// Treat copies as ordinary clips: they are tested and counted beside their sources, which
    /// inflates every figure.
    Keep,
}

impl AugmentedPolicy {
    /// The flag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Drop => "drop",
            Self::Keep => "keep",
        }
    }

    /// True for the default, which a report does not spell out.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}
