//! Datasets: scanning, decoding, leakage groups and duplicate collapse.

mod augmented;
mod group;
mod label_map;
mod scan;
mod targets;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use cry_core::audio::{LoadOptions, read_audio};
use cry_core::{LabelSet, SourceInfo};
use serde::Serialize;

pub use augmented::AugmentedPolicy;
pub use group::{
    GroupPatternError, GroupRules, Grouping, Recogniser, donateacry_uuid, esc50_clip,
    group_from_stem, segment_recording, strip_augmentation_prefix, strip_copy_suffix,
};
pub use label_map::{LabelMap, LabelMapError, Mapped, donateacry_reason, same_reason};
pub use scan::{Candidate, Scan, read_manifest, relative, scan_folders};
pub use targets::{Target, TargetError, Targets};

/// Why a dataset cannot be used at all. A single bad file is never one of these: it is
/// [`Skipped`].
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// `--data` is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The data root has no label folders.
    #[error(
        "{} has no label folders (expected <data>/<label>/<clip>.wav, or a manifest)",
        .0.display()
    )]
    NoLabelFolders(PathBuf),
    /// A label folder holds no file at all.
    #[error("label folder {} is empty", .0.display())]
    EmptyLabelFolder(PathBuf),
    /// The manifest cannot be read or lacks its columns.
    #[error("manifest {}: {reason}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Every file was skipped.
    #[error(
        "no usable clip in {} ({skipped} files skipped; see {})",
        root.display(),
        crate::run::layout::SKIPPED_FILE
    )]
    NoUsableClips {
        /// The data root.
        root: PathBuf,
        /// How many files were skipped.
        skipped: usize,
    },
    /// Fewer than two classes have usable clips, so there is nothing to classify.
    #[error("only one class has usable clips ({0}); at least two are needed")]
    SingleClass(String),
    /// The group pattern is not usable.
    #[error(transparent)]
    GroupPattern(#[from] GroupPatternError),
    /// A directory could not be listed.
    #[error("failed to list {}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A file that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Path relative to the data root.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// A file dropped because its decoded audio equals an earlier file's of the same label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Duplicate {
    /// The dropped file, relative to the data root.
    pub path: String,
    /// The file that was kept.
    pub kept: String,
}

/// Files with identical decoded audio under different labels: the source data contradicts
/// itself, so none of them is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LabelConflict {
    /// The files, relative to the data root, in path order.
    pub paths: Vec<String>,
    /// Each file's label (after the label map), in the same order.
    pub labels: Vec<String>,
}

/// A Donate-a-cry file whose name's reason code disagrees with the folder it sits in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReasonMismatch {
    /// The file, relative to the data root.
    pub path: String,
    /// Its folder (or manifest) label, before the label map.
    pub label: String,
    /// The reason its name's code stands for.
    pub code_reason: String,
}

/// One usable clip.
#[derive(Debug, Clone, Serialize)]
pub struct ClipEntry {
    /// Where to read it.
    #[serde(skip)]
    pub path: PathBuf,
    /// Path relative to the data root, `/`-separated.
    pub rel: String,
    /// Index into [`Dataset::labels`].
    pub label: usize,
    /// Leakage group.
    pub group: String,
    /// What formed the group.
    pub recogniser: Recogniser,
    /// A transformed copy of another recording (its name has an augmentation prefix).
    pub augmented: bool,
    /// BLAKE3 of the decoded (mono, source-rate) samples and their rate.
    pub audio_hash: String,
    /// The file's format.
    pub source: SourceInfo,
    /// Seconds used (after any cut).
    pub seconds: f64,
}

/// Per-class counts for reports.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ClassSummary {
    /// Class name.
    pub label: String,
    /// Usable clips.
    pub clips: usize,
    /// Distinct leakage groups among them.
    pub groups: usize,
    /// Total seconds.
    pub seconds: f64,
    /// Augmented copies among the clips.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub augmented: usize,
    /// Groups per recogniser that formed them.
    #[serde(default)]
    pub grouped_by: BTreeMap<Recogniser, usize>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A scanned, decoded, deduplicated dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The data root; every `rel` path is relative to it.
    pub root: PathBuf,
    /// Classes in sorted order.
    pub labels: LabelSet,
    /// Usable clips, sorted by path.
    pub clips: Vec<ClipEntry>,
    /// Files not used (unreadable, not audio, duplicates), with reasons.
    pub skipped: Vec<Skipped>,
    /// Duplicates collapsed into an earlier file.
    pub duplicates: Vec<Duplicate>,
    /// Identical audio under different labels: all such files excluded.
    pub conflicts: Vec<LabelConflict>,
    /// Donate-a-cry names whose reason code disagrees with their label.
    pub reason_mismatches: Vec<ReasonMismatch>,
    /// What the augmented copies among `clips` may be used for.
    pub augmented: AugmentedPolicy,
}

/// How a dataset's classes and leakage groups are formed from its files.
#[derive(Debug, Clone, Default)]
pub struct DataRules {
    /// The group pattern above the built-in recognisers.
    pub groups: GroupRules,
    /// Renames, merges, drops and the classes kept.
    pub labels: LabelMap,
}

/// Where a dataset comes from, and how its files become classes and groups.
#[derive(Debug, Clone, Default)]
pub struct DataSource {
    /// The data root.
    pub root: PathBuf,
    /// More data roots combined with `root` (`--data` given several times; folder layout
    /// only). With any, each clip's relative path starts with its root's folder name.
    pub also: Vec<PathBuf>,
    /// A manifest replacing the folder scan.
    pub manifest: Option<PathBuf>,
    /// Renames, merges, drops and the classes kept.
    pub labels: LabelMap,
    /// A pattern whose first capture group over the relative path names the leakage group.
    pub group_pattern: Option<String>,
    /// What augmented copies may be used for.
    pub augmented: AugmentedPolicy,
}

impl DataSource {
    /// Every root, the first first.
    pub fn roots(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.root).chain(&self.also)
    }

    /// The roots as a reader would name them: `a`, or `a + b + c`.
    pub fn describe(&self) -> String {
        self.roots()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// Each root with the folder name that prefixes its clips' paths when there are several
    /// roots: the root's own folder name, made unique with `-2`, `-3`, ... in root order.
    pub fn root_names(&self) -> Vec<(String, &PathBuf)> {
        let mut named: Vec<(String, &PathBuf)> = Vec::new();
        for root in self.roots() {
            let base = root
                .canonicalize()
                .unwrap_or_else(|_| root.clone())
                .file_name()
                .map_or_else(|| "data".to_string(), |n| n.to_string_lossy().to_string());
            let mut name = base.clone();
            let mut k = 1;
            while named.iter().any(|(n, _)| *n == name) {
                k += 1;
                name = format!("{base}-{k}");
            }
            named.push((name, root));
        }
        named
    }

    /// The candidate files of every root. With several roots each relative path is prefixed
    /// with its root's folder name (made unique with `-2`, `-3`, ... when two roots share one),
    /// so paths never collide and a reader sees where each clip came from; duplicates across
    /// roots are then found like duplicates within one.
    fn scan(&self) -> Result<Scan, DatasetError> {
        for root in self.roots() {
            if !root.is_dir() {
                return Err(DatasetError::NotADirectory(root.clone()));
            }
        }
        if self.also.is_empty() {
            return match &self.manifest {
                Some(manifest) => read_manifest(manifest, &self.root),
                None => scan_folders(&self.root),
            };
        }
        let mut all = Scan::default();
        for (name, root) in self.root_names() {
            let Scan {
                candidates,
                skipped,
            } = scan_folders(root)?;
            all.candidates.extend(candidates.into_iter().map(|mut c| {
                c.rel = format!("{name}/{}", c.rel);
                c
            }));
            all.skipped.extend(skipped.into_iter().map(|mut s| {
                s.path = format!("{name}/{}", s.path);
                s
            }));
        }
        Ok(all)
    }

    /// The label and group rules of this source.
    pub fn rules(&self) -> Result<DataRules, GroupPatternError> {
        Ok(DataRules {
            groups: match &self.group_pattern {
                Some(p) => GroupRules::with_pattern(p)?,
                None => GroupRules::default(),
            },
            labels: self.labels.clone(),
        })
    }
}

impl Dataset {
    /// Scans, decodes and deduplicates a dataset. Unusable files are skipped and listed;
    /// only a dataset with no usable clip (or an empty label folder, or a single class) fails.
    ///
    /// `on_file` is called once per decoded candidate, for progress display.
    pub fn load(
        source: &DataSource,
        options: &LoadOptions,
        on_file: impl FnMut(usize, usize),
    ) -> Result<Self, DatasetError> {
        let rules = source.rules()?;
        Self::load_with(source, &rules, options, on_file)
    }

    /// [`Dataset::load`] with label and group rules: clips whose label the map drops are
    /// skipped with the reason, groups follow `rules.groups`.
    pub fn load_with(
        source: &DataSource,
        rules: &DataRules,
        options: &LoadOptions,
        mut on_file: impl FnMut(usize, usize),
    ) -> Result<Self, DatasetError> {
        let root = source.root.clone();
        let Scan {
            mut candidates,
            mut skipped,
        } = source.scan()?;
        let reason_mismatches = reason_mismatches(&candidates);
        let seen: BTreeSet<String> = candidates.iter().map(|c| c.label.clone()).collect();
        let (unused_rules, unused_classes) = rules.labels.unused(&seen);
        for from in unused_rules {
            log::warn!("label map: no clip is labelled {from:?}");
        }
        for class in unused_classes {
            log::warn!("label map: no clip maps to the kept class {class:?}");
        }
        candidates.retain_mut(|c| match rules.labels.apply(&c.label) {
            Mapped::Class(class) => {
                c.label = class;
                true
            }
            Mapped::Dropped(reason) => {
                skipped.push(Skipped {
                    path: c.rel.clone(),
                    reason,
                });
                false
            }
        });
        if source.augmented == AugmentedPolicy::Drop {
            candidates.retain(|c| {
                let copy = rules.groups.group(&c.rel, c.group.as_deref()).augmented;
                if copy {
                    skipped.push(Skipped {
                        path: c.rel.clone(),
                        reason: "augmented copy, left out (--augmented drop)".into(),
                    });
                }
                !copy
            });
        }
        // Originals sort before their `- Copy`s, so a collapsed duplicate keeps the original.
        candidates.sort_by_cached_key(|c| {
            let stem = stem_of(&c.rel);
            let base = strip_copy_suffix(&stem);
            let dir = c.rel.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            (
                dir,
                base.to_string(),
                base.len() != stem.len(),
                c.rel.clone(),
            )
        });

        let total = candidates.len();
        let mut decoded = Vec::with_capacity(total);
        for (i, candidate) in candidates.into_iter().enumerate() {
            match read_audio(&candidate.path, options) {
                Ok(wav) => {
                    let hash = audio_hash(&wav.samples, wav.sample_rate);
                    let source = SourceInfo {
                        sample_rate: wav.sample_rate,
                        channels: wav.channels,
                        encoding: wav.encoding,
                        frames: wav.cut_from_frames.unwrap_or(wav.samples.len() as u64),
                    };
                    let seconds = wav.samples.len() as f64 / f64::from(wav.sample_rate);
                    decoded.push((candidate, hash, source, seconds));
                }
                Err(err) => {
                    log::warn!("skipping {}", err);
                    skipped.push(Skipped {
                        path: candidate.rel,
                        reason: err.kind.to_string(),
                    });
                }
            }
            on_file(i + 1, total);
        }

        let mut kept_by_hash: HashMap<String, usize> = HashMap::new();
        let mut conflicted: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut duplicates = Vec::new();
        let mut unique: Vec<(Candidate, String, SourceInfo, f64)> =
            Vec::with_capacity(decoded.len());
        let mut dropped: Vec<(Candidate, String, SourceInfo, f64)> = Vec::new();
        for entry in decoded {
            let (candidate, hash) = (&entry.0, &entry.1);
            if let Some(&first) = kept_by_hash.get(hash) {
                let kept = &unique[first].0;
                if kept.label != candidate.label {
                    conflicted.entry(first).or_default().push(dropped.len());
                    dropped.push(entry);
                    continue;
                }
                let reason = format!("identical audio to {}", kept.rel);
                log::info!("{}: {reason}", candidate.rel);
                duplicates.push(Duplicate {
                    path: candidate.rel.clone(),
                    kept: kept.rel.clone(),
                });
                skipped.push(Skipped {
                    path: entry.0.rel,
                    reason,
                });
                continue;
            }
            kept_by_hash.insert(hash.clone(), unique.len());
            unique.push(entry);
        }
        let mut conflicts = Vec::new();
        for (&first, others) in &conflicted {
            let mut members: Vec<(&str, &str)> = std::iter::once(first)
                .map(|i| (unique[i].0.rel.as_str(), unique[i].0.label.as_str()))
                .chain(
                    others
                        .iter()
                        .map(|&i| (dropped[i].0.rel.as_str(), dropped[i].0.label.as_str())),
                )
                .collect();
            members.sort();
            let listing = members
                .iter()
                .map(|(path, label)| format!("{path} ({label})"))
                .collect::<Vec<_>>()
                .join(", ");
            log::warn!("identical audio under different labels, all excluded: {listing}");
            for (path, _) in &members {
                skipped.push(Skipped {
                    path: path.to_string(),
                    reason: format!("identical audio under different labels: {listing}"),
                });
            }
            conflicts.push(LabelConflict {
                paths: members.iter().map(|m| m.0.to_string()).collect(),
                labels: members.iter().map(|m| m.1.to_string()).collect(),
            });
        }
        let excluded: std::collections::HashSet<usize> = conflicted.keys().copied().collect();
        let unique: Vec<_> = unique
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !excluded.contains(i))
            .map(|(_, entry)| entry)
            .collect();

        if unique.is_empty() {
            return Err(DatasetError::NoUsableClips {
                root,
                skipped: skipped.len(),
            });
        }
        let labels = LabelSet::from_names(unique.iter().map(|(c, ..)| c.label.clone()))
            .expect("non-empty names from non-empty folders");
        if labels.len() < 2 {
            return Err(DatasetError::SingleClass(labels.names()[0].clone()));
        }
        let mut clips: Vec<ClipEntry> = unique
            .into_iter()
            .map(|(candidate, audio_hash, source, seconds)| {
                let grouping = rules
                    .groups
                    .group(&candidate.rel, candidate.group.as_deref());
                ClipEntry {
                    group: grouping.key,
                    recogniser: grouping.recogniser,
                    augmented: grouping.augmented,
                    label: labels
                        .index_of(&candidate.label)
                        .expect("label from this set"),
                    path: candidate.path,
                    rel: candidate.rel,
                    audio_hash,
                    source,
                    seconds,
                }
            })
            .collect();
        clips.sort_by(|a, b| a.rel.cmp(&b.rel));
        let copies = clips.iter().filter(|c| c.augmented).count();
        match source.augmented {
            AugmentedPolicy::Train if copies > 0 => log::info!(
                "{copies} augmented copies: trained on, never tested, validated or counted"
            ),
            AugmentedPolicy::Keep if copies > 0 => log::warn!(
                "--augmented keep: {copies} augmented copies are tested and counted beside \
                 their sources, so every figure is inflated"
            ),
            _ => {}
        }
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Self {
            root,
            labels,
            clips,
            skipped,
            duplicates,
            conflicts,
            reason_mismatches,
            augmented: source.augmented,
        })
    }

    /// Whether each clip may be tested or validated on, in clip order: all but the augmented
    /// copies under [`AugmentedPolicy::Train`].
    pub fn eligible(&self) -> Vec<bool> {
        self.clips
            .iter()
            .map(|c| !(c.augmented && self.augmented == AugmentedPolicy::Train))
            .collect()
    }

    /// Label index of every clip, in clip order.
    pub fn label_indices(&self) -> Vec<usize> {
        self.clips.iter().map(|c| c.label).collect()
    }

    /// Group name of every clip, in clip order.
    pub fn group_names(&self) -> Vec<&str> {
        self.clips.iter().map(|c| c.group.as_str()).collect()
    }

    /// Clips, groups and seconds per class, with what formed the groups.
    pub fn class_summary(&self) -> Vec<ClassSummary> {
        let mut groups: Vec<BTreeMap<&str, Recogniser>> = vec![BTreeMap::new(); self.labels.len()];
        let mut out: Vec<ClassSummary> = self
            .labels
            .names()
            .iter()
            .map(|label| ClassSummary {
                label: label.clone(),
                clips: 0,
                groups: 0,
                seconds: 0.0,
                augmented: 0,
                grouped_by: BTreeMap::new(),
            })
            .collect();
        for clip in &self.clips {
            let class = &mut out[clip.label];
            class.clips += 1;
            class.seconds += clip.seconds;
            class.augmented += usize::from(clip.augmented);
            groups[clip.label].insert(&clip.group, clip.recogniser);
        }
        for (summary, g) in out.iter_mut().zip(groups) {
            summary.groups = g.len();
            for recogniser in g.into_values() {
                *summary.grouped_by.entry(recogniser).or_default() += 1;
            }
        }
        out
    }
}

/// Donate-a-cry files (a UUID name) whose reason code names another reason than their label.
fn reason_mismatches(candidates: &[Candidate]) -> Vec<ReasonMismatch> {
    let mut out: Vec<ReasonMismatch> = candidates
        .iter()
        .filter_map(|c| {
            let stem = stem_of(&c.rel);
            let (base, _) = strip_augmentation_prefix(strip_copy_suffix(&stem));
            donateacry_uuid(base)?;
            let reason = donateacry_reason(base)?;
            (!same_reason(&c.label, reason)).then(|| ReasonMismatch {
                path: c.rel.clone(),
                label: c.label.clone(),
                code_reason: reason.to_string(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn stem_of(rel: &str) -> String {
    Path::new(rel)
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string()
}

fn audio_hash(samples: &[f32], sample_rate: u32) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&sample_rate.to_le_bytes());
    let mut bytes = Vec::with_capacity(4 * samples.len().min(4096));
    for chunk in samples.chunks(4096) {
        bytes.clear();
        bytes.extend(chunk.iter().flat_map(|s| s.to_le_bytes()));
        hasher.update(&bytes);
    }
    hasher.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests;
