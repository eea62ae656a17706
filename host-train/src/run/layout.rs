//! [`RunDir`]: every path of a run directory, named once.
//!
//! ```text
//! OUT/                          nested-cv, baselines, merge: --out; train: the work directory
//!   run.json                    what defines a nested-cv run (resume and merge compare it)
//!   skipped.json  folds.json    the data not used, and the split
//!   cache/                      frozen features (default; --cache moves it)
//!   init-model/                 the random-init checkpoint when no pretrained one is given
//!   units/features.json         how long caching took in the directory's first run
//!   units/outer-K/outer.json    a finished outer fold
//!   units/outer-K/refit.json    its refit on the whole outer training part
//!   units/outer-K/inner-I/config-C.json   one inner unit (fold I, grid point C)
//!   units/selection/inner-I/config-C.json `train`'s selection units
//!   report.json  report.md  confusion.png  folds.png
//! ```
//!
//! `train` keeps its working files in `<model>.work` beside the model directory.

use std::path::{Path, PathBuf};

/// Name of the list of files not used, in every run directory.
pub const SKIPPED_FILE: &str = "skipped.json";
/// Name of the file that defines a nested-cv run.
pub const RUN_FILE: &str = "run.json";

/// A run's output (or work) directory and the paths inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run directory at `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `train`'s default work directory for the model directory `model`: `<model>.work`.
    pub fn work_for(model: &Path) -> Self {
        let mut w = model.as_os_str().to_owned();
        w.push(".work");
        Self::new(w)
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `run.json`.
    pub fn spec(&self) -> PathBuf {
        self.root.join(RUN_FILE)
    }

    /// Whether the directory already holds a nested-cv run.
    pub fn holds_run(&self) -> bool {
        self.spec().is_file()
    }

    /// `skipped.json`.
    pub fn skipped(&self) -> PathBuf {
        self.root.join(SKIPPED_FILE)
    }

    /// `folds.json`.
    pub fn folds(&self) -> PathBuf {
        self.root.join("folds.json")
    }

    /// `report.json`.
    pub fn report_json(&self) -> PathBuf {
        self.root.join("report.json")
    }

    /// `report.md`.
    pub fn report_md(&self) -> PathBuf {
        self.root.join("report.md")
    }

    /// `confusion.png`.
    pub fn confusion_plot(&self) -> PathBuf {
        self.root.join("confusion.png")
    }

    /// `folds.png`.
    pub fn folds_plot(&self) -> PathBuf {
        self.root.join("folds.png")
    }

    /// `roc.png` (runs with a cry head).
    pub fn roc_plot(&self) -> PathBuf {
        self.root.join("roc.png")
    }

    /// `alerts.png` (runs with a cry head).
    pub fn alerts_plot(&self) -> PathBuf {
        self.root.join("alerts.png")
    }

    /// `detection-inputs.json`: every clip's length, stream-window levels and source (runs
    /// with a cry head), computed once.
    pub fn detection_inputs(&self) -> PathBuf {
        self.root.join("detection-inputs.json")
    }

    /// The default feature cache, `cache/`.
    pub fn default_cache(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// `init-model/`: the random-init starting checkpoint.
    pub fn init_model(&self) -> PathBuf {
        self.root.join("init-model")
    }

    /// `units/`.
    fn units(&self) -> PathBuf {
        self.root.join("units")
    }

    /// `units/features.json`: how long caching took in the directory's first run.
    pub fn features(&self) -> PathBuf {
        self.units().join("features.json")
    }

    /// `units/outer-K/`: the units of outer fold `k`.
    pub fn outer(&self, k: usize) -> UnitsDir {
        UnitsDir(self.units().join(format!("outer-{k}")))
    }

    /// `units/selection/`: the units of `train`'s selection CV.
    pub fn selection(&self) -> UnitsDir {
        UnitsDir(self.units().join("selection"))
    }
}

/// A folder of finished units of work: one inner CV and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitsDir(PathBuf);

impl UnitsDir {
    /// `inner-I/config-C.json`: grid point `config` scored on inner fold `inner`.
    pub fn inner_unit(&self, inner: usize, config: usize) -> PathBuf {
        self.0
            .join(format!("inner-{inner}"))
            .join(format!("config-{config}.json"))
    }

    /// `refit.json`: the chosen point fitted on the whole outer training part.
    pub fn refit(&self) -> PathBuf {
        self.0.join("refit.json")
    }

    /// `outer.json`: the finished outer fold.
    pub fn result(&self) -> PathBuf {
        self.0.join("outer.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_the_documented_ones() {
        let run = RunDir::new("/r");
        assert_eq!(run.spec(), Path::new("/r/run.json"));
        assert_eq!(run.features(), Path::new("/r/units/features.json"));
        assert_eq!(
            run.outer(3).result(),
            Path::new("/r/units/outer-3/outer.json")
        );
        assert_eq!(
            run.outer(0).inner_unit(1, 2),
            Path::new("/r/units/outer-0/inner-1/config-2.json")
        );
        assert_eq!(
            run.selection().inner_unit(0, 0),
            Path::new("/r/units/selection/inner-0/config-0.json")
        );
        assert_eq!(run.init_model(), Path::new("/r/init-model"));
        assert_eq!(
            RunDir::work_for(Path::new("models/cry")).root(),
            Path::new("models/cry.work")
        );
    }
}
