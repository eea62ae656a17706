//! What the frozen part of the model computes for every window of every clip, cached on disk.
//!
//! Each clip has two sets of windows: the training crops (`--crop-seconds` long, starting every
//! `--crop-stride`, the tail aligned to the end) from which each epoch draws one at random, and
//! the scoring windows of `cry-core` ([`WINDOW_SAMPLES`] every [`HOP_SAMPLES`]), whose logits are
//! averaged to score the clip as the edge binary does. With the defaults every scoring window is
//! also a crop, and is computed once.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::prelude::*;
use cry_core::audio::{LoadOptions, load_clip};
use cry_core::contract::{HOP_SAMPLES, WINDOW_SAMPLES};
use cry_core::windows::{copy_window, window_starts};

use super::cache::{CacheKey, FeatureCache};
use super::jobs::run_jobs;
use crate::data::ClipEntry;
use crate::model::boundary::{Boundary, frozen_features};
use crate::model::preprocess::zero_mean_unit_var;
use crate::model::{HubertConfig, HubertForSequenceClassification};

/// How clips are cut into windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPlan {
    /// Training crop length in samples.
    pub crop: usize,
    /// Step between possible crop starts in samples.
    pub crop_stride: usize,
}

/// One window: where it starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    /// First sample.
    pub start: usize,
    /// Length in samples (zero-padded past the clip's end).
    pub len: usize,
}

/// The windows of one clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipWindows {
    /// Every distinct window, sorted.
    pub windows: Vec<Window>,
    /// Indices into `windows` of the training crops.
    pub crops: Vec<usize>,
    /// Indices into `windows` of the scoring windows.
    pub score: Vec<usize>,
}

impl WindowPlan {
    /// The windows of a clip of `len` samples.
    pub fn windows(&self, len: usize) -> ClipWindows {
        let crops: Vec<Window> = window_starts(len, self.crop, self.crop_stride)
            .into_iter()
            .map(|start| Window {
                start,
                len: self.crop,
            })
            .collect();
        let score: Vec<Window> = window_starts(len, WINDOW_SAMPLES, HOP_SAMPLES)
            .into_iter()
            .map(|start| Window {
                start,
                len: WINDOW_SAMPLES,
            })
            .collect();
        let mut windows: Vec<Window> = crops.iter().chain(&score).copied().collect();
        windows.sort();
        windows.dedup();
        let index = |w: &Window| windows.binary_search(w).expect("listed");
        ClipWindows {
            crops: crops.iter().map(index).collect(),
            score: score.iter().map(index).collect(),
            windows,
        }
    }
}

/// The features of one clip at one boundary: one `[frames, dim]` array per window.
#[derive(Debug, Clone)]
pub struct ClipFeatures {
    /// The clip's windows.
    pub windows: ClipWindows,
    /// `[frames, dim]` per window, in `windows.windows` order.
    pub shapes: Vec<[usize; 2]>,
    /// Row-major values per window.
    pub values: Vec<Vec<f32>>,
}

/// Features of every clip of a dataset at one boundary.
#[derive(Debug, Clone)]
pub struct BoundaryFeatures {
    /// The boundary.
    pub boundary: Boundary,
    /// Per clip, in dataset order.
    pub clips: Vec<ClipFeatures>,
}

impl BoundaryFeatures {
    /// Stacks windows (all of one shape) into a `[batch, frames, dim]` tensor.
    pub fn batch(&self, items: &[(usize, usize)], device: &Device) -> Tensor<3> {
        let [frames, dim] = self.clips[items[0].0].shapes[items[0].1];
        let mut data = Vec::with_capacity(items.len() * frames * dim);
        for &(clip, window) in items {
            let features = &self.clips[clip];
            assert_eq!(
                features.shapes[window],
                [frames, dim],
                "one shape per batch"
            );
            data.extend_from_slice(&features.values[window]);
        }
        Tensor::from_data(TensorData::new(data, [items.len(), frames, dim]), device)
    }
}

/// Where feature computation spent its time.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CacheStats {
    /// Clip-boundary entries read from the cache.
    pub hits: usize,
    /// Entries computed (and written).
    pub computed: usize,
    /// Wall seconds.
    pub seconds: f64,
}

/// Everything that decides a cached entry, besides the boundary.
#[derive(Debug, Clone)]
pub struct FeatureSource<'a> {
    /// The frozen model (inference mode, plain device).
    pub model: &'a HubertForSequenceClassification,
    /// Its configuration.
    pub config: &'a HubertConfig,
    /// Whether windows are normalised to zero mean and unit variance.
    pub normalize: bool,
    /// `checkpoint_hash` of the model's files.
    pub checkpoint_hash: &'a str,
    /// How the clips were decoded.
    pub load: &'a LoadOptions,
    /// Window layout.
    pub plan: WindowPlan,
}

impl FeatureSource<'_> {
    fn preprocessing(&self, windows: &ClipWindows) -> String {
        let list: Vec<String> = windows
            .windows
            .iter()
            .map(|w| format!("{}+{}", w.start, w.len))
            .collect();
        // Without a bandwidth the key is what it was, so existing caches stay valid.
        let band = self
            .load
            .bandwidth
            .map_or(String::new(), |b| format!(";bandwidth={}", b.hz()));
        format!(
            "rate={};normalize={};max_seconds={:?}{band};windows={}",
            self.load.target_rate,
            self.normalize,
            self.load.max_seconds,
            list.join(",")
        )
    }

    /// Features of every clip at each of `boundaries`, from the cache where present, `jobs`
    /// clips at a time. A clip that no longer decodes (changed on disk since the scan) is an
    /// error naming it. `on_clip(done)` reports progress.
    pub fn compute(
        &self,
        clips: &[ClipEntry],
        boundaries: &[Boundary],
        cache: &FeatureCache,
        device: &Device,
        jobs: usize,
        on_clip: impl Fn(usize) + Sync,
    ) -> crate::error::Result<(Vec<BoundaryFeatures>, CacheStats)> {
        let started = Instant::now();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let per_clip = run_jobs(jobs, clips, |clip| {
            let features = self.clip_features(clip, boundaries, cache, device)?;
            on_clip(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            Ok::<_, crate::error::Error>(features)
        })?;
        let mut stats = CacheStats::default();
        let mut out: Vec<BoundaryFeatures> = boundaries
            .iter()
            .map(|&boundary| BoundaryFeatures {
                boundary,
                clips: Vec::with_capacity(clips.len()),
            })
            .collect();
        for (features, computed) in per_clip {
            stats.hits += boundaries.len() - computed;
            stats.computed += computed;
            for (b, f) in features.into_iter().enumerate() {
                out[b].clips.push(f);
            }
        }
        stats.seconds = started.elapsed().as_secs_f64();
        Ok((out, stats))
    }

    /// One clip's features at each of `boundaries` (from the cache, or computed and stored),
    /// with how many were computed.
    fn clip_features(
        &self,
        clip: &ClipEntry,
        boundaries: &[Boundary],
        cache: &FeatureCache,
        device: &Device,
    ) -> crate::error::Result<(Vec<ClipFeatures>, usize)> {
        // Decoded again (not kept from the scan): the windows follow the resampled length.
        let audio = load_clip(&clip.path, self.load)?;
        let windows = self.plan.windows(audio.samples.len());
        let preprocessing = self.preprocessing(&windows);
        let keys: Vec<CacheKey> = boundaries
            .iter()
            .map(|b| CacheKey {
                checkpoint: self.checkpoint_hash.to_string(),
                audio: clip.audio_hash.clone(),
                preprocessing: preprocessing.clone(),
                boundary: b.name(),
            })
            .collect();
        let cached: Vec<Option<(Vec<usize>, Vec<f32>)>> =
            keys.iter().map(|k| cache.get(k)).collect();
        let missing: Vec<usize> = (0..boundaries.len())
            .filter(|&b| cached[b].is_none())
            .collect();
        let mut fresh: BTreeMap<usize, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
        if !missing.is_empty() {
            let wanted: Vec<Boundary> = missing.iter().map(|&b| boundaries[b]).collect();
            let computed = self.compute_clip(&audio.samples, &windows, &wanted, device)?;
            for (&b, per_window) in missing.iter().zip(computed) {
                let dim = boundaries[b].item_shape(self.config, WINDOW_SAMPLES)[1];
                let values: Vec<f32> = per_window.concat();
                let shape = vec![values.len() / dim, dim];
                cache.put(&keys[b], &shape, &values)?;
                fresh.insert(b, (shape, values));
            }
        }
        let mut out = Vec::with_capacity(boundaries.len());
        for (b, entry) in cached.into_iter().enumerate() {
            let (shape, values) = entry.or_else(|| fresh.remove(&b)).expect("filled");
            let features = self
                .split(boundaries[b], &windows, &shape, values)
                .map_err(|e| anyhow::anyhow!("{}: {e}", clip.rel))?;
            out.push(features);
        }
        Ok((out, missing.len()))
    }

    /// Each wanted boundary's features of every window of the clip, in window order. Windows
    /// of one length run as one batch.
    fn compute_clip(
        &self,
        samples: &[f32],
        windows: &ClipWindows,
        wanted: &[Boundary],
        device: &Device,
    ) -> anyhow::Result<Vec<Vec<Vec<f32>>>> {
        let n = windows.windows.len();
        let mut out: Vec<Vec<Vec<f32>>> = vec![vec![Vec::new(); n]; wanted.len()];
        let mut lengths: Vec<usize> = windows.windows.iter().map(|w| w.len).collect();
        lengths.sort_unstable();
        lengths.dedup();
        for len in lengths {
            let members: Vec<usize> = (0..n).filter(|&w| windows.windows[w].len == len).collect();
            let mut batch = vec![0.0f32; members.len() * len];
            for (row, &w) in members.iter().enumerate() {
                let out = &mut batch[row * len..(row + 1) * len];
                copy_window(samples, windows.windows[w].start, out);
                if self.normalize {
                    zero_mean_unit_var(out);
                }
            }
            let input =
                Tensor::<2>::from_data(TensorData::new(batch, [members.len(), len]), device);
            for (b, data) in frozen_features(self.model, input, wanted)
                .into_iter()
                .enumerate()
            {
                let values = data
                    .try_into_vec::<f32>()
                    .map_err(|e| anyhow::anyhow!("feature tensor: {e:?}"))?;
                let per = values.len() / members.len();
                for (row, &w) in members.iter().enumerate() {
                    out[b][w] = values[row * per..(row + 1) * per].to_vec();
                }
            }
        }
        Ok(out)
    }

    /// Splits a clip's `[rows, dim]` array back into its windows, whose shapes follow from
    /// their lengths.
    fn split(
        &self,
        boundary: Boundary,
        windows: &ClipWindows,
        shape: &[usize],
        values: Vec<f32>,
    ) -> anyhow::Result<ClipFeatures> {
        let shapes: Vec<[usize; 2]> = windows
            .windows
            .iter()
            .map(|w| boundary.item_shape(self.config, w.len))
            .collect();
        let rows: usize = shapes.iter().map(|s| s[0]).sum();
        let dim = shapes.first().map_or(0, |s| s[1]);
        anyhow::ensure!(
            shape == [rows, dim] && values.len() == rows * dim,
            "cached features have shape {shape:?}, the windows need [{rows}, {dim}]"
        );
        let mut out = Vec::with_capacity(shapes.len());
        let mut at = 0;
        for s in &shapes {
            out.push(values[at * dim..(at + s[0]) * dim].to_vec());
            at += s[0];
        }
        Ok(ClipFeatures {
            windows: windows.clone(),
            shapes,
            values: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::checkpoint::{Checkpoint, HubertModelKind};
    use crate::model::presets;
    use crate::synth::{WavFormat, tone, write_wav};
    use std::path::Path;

    #[test]
    fn default_crops_contain_the_scoring_windows() {
        let plan = WindowPlan {
            crop: WINDOW_SAMPLES,
            crop_stride: 8_000,
        };
        let w = plan.windows(7 * 16_000 + 123);
        let starts =
            |idx: &[usize]| -> Vec<usize> { idx.iter().map(|&i| w.windows[i].start).collect() };
        assert_eq!(starts(&w.score), [0, 32_000, 64_000, 64_123]);
        assert_eq!(
            w.crops.len(),
            10,
            "0, 0.5 s, ... 4 s and the end-aligned tail"
        );
        assert!(
            w.score.iter().all(|s| w.crops.contains(s)),
            "scoring windows are crops"
        );
        assert_eq!(w.windows.len(), 10, "computed once");
        let short = plan.windows(20_000);
        assert_eq!(
            short.windows,
            [Window {
                start: 0,
                len: WINDOW_SAMPLES
            }]
        );
    }

    /// A random-init tiny classifier with two labels.
    fn tiny_checkpoint(device: &Device) -> Checkpoint {
        let (config, pre) = presets::tiny();
        let labels = ["a".to_string(), "b".to_string()];
        Checkpoint::random(config, pre, Some(&labels), 5, device).unwrap()
    }

    /// `ck`'s features on the default crops, normalised, under the checkpoint hash "ck".
    fn tiny_source<'a>(ck: &'a Checkpoint, load: &'a LoadOptions) -> FeatureSource<'a> {
        let HubertModelKind::Classifier(model) = &ck.model else {
            unreachable!()
        };
        FeatureSource {
            model,
            config: &ck.config,
            normalize: true,
            checkpoint_hash: "ck",
            load,
            plan: WindowPlan {
                crop: WINDOW_SAMPLES,
                crop_stride: 8_000,
            },
        }
    }

    /// A 16-bit WAV `NAME.wav` in `dir` of a `hz` tone lasting `seconds`, as a clip of its own
    /// group.
    fn tone_clip(dir: &Path, name: &str, hz: f64, seconds: f64, load: &LoadOptions) -> ClipEntry {
        let path = dir.join(format!("{name}.wav"));
        let audio = tone(hz, 16_000, seconds, 0.3);
        write_wav(&path, &audio, 16_000, 1, WavFormat::Pcm(16)).unwrap();
        ClipEntry {
            source: load_clip(&path, load).unwrap().source,
            path,
            rel: format!("{name}.wav"),
            label: 0,
            group: format!("g-{name}"),
            recogniser: crate::data::Recogniser::FileName,
            augmented: false,
            audio_hash: format!("h-{name}"),
            seconds,
        }
    }

    /// A second pass reads every entry from the cache and gets exactly what was computed; a
    /// different checkpoint hash misses.
    #[test]
    fn cached_features_equal_computed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::flex();
        let ck = tiny_checkpoint(&device);
        let load = LoadOptions::default();
        let clip = tone_clip(dir.path(), "clip", 440.0, 4.2, &load);
        let source = tiny_source(&ck, &load);
        let cache = FeatureCache::new(dir.path().join("cache"));
        let boundaries = [Boundary::Layer(1), Boundary::Pooled];
        let clips = std::slice::from_ref(&clip);
        let (first, stats) = source
            .compute(clips, &boundaries, &cache, &device, 1, |_| {})
            .unwrap();
        assert_eq!((stats.computed, stats.hits), (2, 0));
        let (second, stats) = source
            .compute(clips, &boundaries, &cache, &device, 1, |_| {})
            .unwrap();
        assert_eq!((stats.computed, stats.hits), (0, 2));
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.clips[0].values, b.clips[0].values);
            assert_eq!(a.clips[0].shapes, b.clips[0].shapes);
        }
        assert_eq!(first[0].clips[0].shapes[0], [149, 32]);
        assert_eq!(first[1].clips[0].shapes[0], [1, 32]);
        let other = FeatureSource {
            checkpoint_hash: "another",
            ..source
        };
        let (_, stats) = other
            .compute(clips, &boundaries, &cache, &device, 1, |_| {})
            .unwrap();
        assert_eq!(stats.computed, 2, "a changed checkpoint is a miss");
        let band_load = LoadOptions {
            bandwidth: Some(cry_core::audio::Bandwidth::new(1000.0).unwrap()),
            ..LoadOptions::default()
        };
        let banded = FeatureSource {
            load: &band_load,
            ..source
        };
        let (limited, stats) = banded
            .compute(clips, &boundaries, &cache, &device, 1, |_| {})
            .unwrap();
        assert_eq!(stats.computed, 2, "another bandwidth is a miss");
        assert_ne!(
            limited[1].clips[0].values, first[1].clips[0].values,
            "a 440 Hz tone limited to 1 kHz is not the same input"
        );
    }

    /// Clips cached side by side come back in clip order with the values one job computes.
    #[test]
    fn jobs_cache_the_same_features_in_clip_order() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::flex();
        let ck = tiny_checkpoint(&device);
        let load = LoadOptions::default();
        let clips: Vec<ClipEntry> = (0..6)
            .map(|k| {
                let (hz, seconds) = (300.0 + 90.0 * k as f64, 3.0 + 0.7 * k as f64);
                tone_clip(dir.path(), &format!("clip{k}"), hz, seconds, &load)
            })
            .collect();
        let source = tiny_source(&ck, &load);
        let boundaries = [Boundary::Layer(1), Boundary::Pooled];
        let run = |jobs: usize| {
            let cache = FeatureCache::new(dir.path().join(format!("cache-{jobs}")));
            let reported = std::sync::Mutex::new(Vec::new());
            let (features, stats) = source
                .compute(&clips, &boundaries, &cache, &device, jobs, |done| {
                    reported.lock().unwrap().push(done)
                })
                .unwrap();
            assert_eq!(stats.computed, 12);
            let mut reported = reported.into_inner().unwrap();
            reported.sort_unstable();
            assert_eq!(reported, (1..=6).collect::<Vec<_>>());
            features
        };
        let (one, three) = (run(1), run(3));
        for (a, b) in one.iter().zip(&three) {
            assert_eq!(a.clips.len(), 6);
            for (x, y) in a.clips.iter().zip(&b.clips) {
                assert_eq!(x.shapes, y.shapes);
                assert_eq!(x.values, y.values);
            }
        }
        // Clip order kept: the clips differ in length, so their window counts tell them apart.
        let windows: Vec<usize> = one[0].clips.iter().map(|c| c.shapes.len()).collect();
        assert!(
            windows.windows(2).all(|w| w[0] <= w[1]) && windows[0] < windows[5],
            "{windows:?}"
        );
    }
}
