use std::path::Path;

use cry_core::audio::{Encoding, LoadOptions};

use super::*;
use crate::synth::{WavFormat, tone, write_wav};

const UUID_A: &str = "549a46d8-9c84-430e-ade8-97eae2bef787";
const UUID_B: &str = "643D64AD-B711-469A-AF69-55C0D5D3E30F";

fn clip(root: &Path, rel: &str, freq: f64) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_wav(
        &path,
        &tone(freq, 8000, 0.5, 0.3),
        8000,
        1,
        WavFormat::Pcm(16),
    )
    .unwrap();
}

fn load(root: &Path) -> Result<Dataset, DatasetError> {
    let source = DataSource {
        root: root.to_path_buf(),
        manifest: None,
    };
    Dataset::load(&source, &LoadOptions::default(), |_, _| {})
}

#[test]
fn bad_files_are_skipped_with_reasons_and_odd_formats_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    clip(
        root,
        &format!("hungry/{UUID_A}-1430130772174-1.7-m-48-hu.wav"),
        300.0,
    );
    clip(
        root,
        &format!("hungry/{UUID_B}-1430138495-1.0-m-72-hu.wav"),
        310.0,
    );
    clip(
        root,
        &format!("tired/{UUID_A}-1430130799999-1.7-m-48-ti.wav"),
        320.0,
    );
    let stereo: Vec<f32> = tone(440.0, 44_100, 0.5, 0.2)
        .into_iter()
        .flat_map(|s| [s, -s * 0.5])
        .collect();
    write_wav(
        &root.join("tired/stereo24.wav"),
        &stereo,
        44_100,
        2,
        WavFormat::Pcm(24),
    )
    .unwrap();
    write_wav(
        &root.join("tired/float.wav"),
        &tone(500.0, 16_000, 0.5, 0.2),
        16_000,
        1,
        WavFormat::Float32,
    )
    .unwrap();
    std::fs::write(root.join("tired/notes.wav"), "not audio").unwrap();
    write_wav(
        &root.join("tired/empty.wav"),
        &[],
        8000,
        1,
        WavFormat::Pcm(16),
    )
    .unwrap();
    let good = std::fs::read(root.join("tired/float.wav")).unwrap();
    std::fs::write(root.join("tired/corrupt.wav"), &good[..good.len() / 2]).unwrap();
    std::fs::write(root.join("tired/readme.txt"), "x").unwrap();

    let ds = load(root).unwrap();
    assert_eq!(ds.labels.names(), ["hungry", "tired"]);
    let used: Vec<&str> = ds.clips.iter().map(|c| c.rel.as_str()).collect();
    assert_eq!(used.len(), 5, "{used:?}");
    assert!(used.contains(&"tired/stereo24.wav") && used.contains(&"tired/float.wav"));
    let stereo = ds
        .clips
        .iter()
        .find(|c| c.rel == "tired/stereo24.wav")
        .unwrap();
    assert_eq!(stereo.source.encoding, Encoding::Pcm(24));
    assert_eq!(
        (stereo.source.sample_rate, stereo.source.channels),
        (44_100, 2)
    );

    let reason = |p: &str| {
        ds.skipped
            .iter()
            .find(|s| s.path == p)
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| panic!("{p} not in skipped: {:?}", ds.skipped))
    };
    assert!(reason("tired/notes.wav").starts_with("not a WAV file"));
    assert!(reason("tired/empty.wav").contains("zero samples"));
    assert!(reason("tired/corrupt.wav").starts_with("truncated data"));
    assert_eq!(reason("tired/readme.txt"), "not a .wav file");
    assert_eq!(ds.skipped.len(), 4);
}

#[test]
fn groups_follow_uuid_and_copies() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let a1 = format!("hungry/{UUID_A}-1430130772174-1.7-m-48-hu.wav");
    let b1 = format!("tired/{UUID_B}-1430138495-1.0-m-72-ti.wav");
    let a2 = format!("tired/{UUID_A}-1430130799999-1.7-m-48-ti.wav");
    clip(root, &a1, 300.0);
    clip(root, &b1, 310.0);
    clip(root, &a2, 320.0);
    clip(root, "tired/cry7.wav", 330.0);
    // A copy that was edited (different audio) still belongs with its original.
    clip(root, "hungry/cry7 - Copy.wav", 340.0);
    let ds = load(root).unwrap();
    let group = |rel: &str| {
        ds.clips
            .iter()
            .find(|c| c.rel == rel)
            .unwrap()
            .group
            .clone()
    };
    assert_eq!(group(&a1), group(&a2));
    assert_eq!(group(&a1), UUID_A);
    assert_eq!(group(&b1), UUID_B.to_lowercase());
    assert_eq!(group("tired/cry7.wav"), group("hungry/cry7 - Copy.wav"));
    assert_ne!(group("tired/cry7.wav"), group(&a1));
}

#[test]
fn identical_audio_is_collapsed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    clip(root, "hungry/a.wav", 300.0);
    clip(root, "hungry/b.wav", 310.0);
    std::fs::copy(root.join("hungry/a.wav"), root.join("hungry/a - Copy.wav")).unwrap();
    std::fs::create_dir_all(root.join("tired")).unwrap();
    std::fs::copy(root.join("hungry/b.wav"), root.join("tired/b2.wav")).unwrap();
    clip(root, "tired/c.wav", 320.0);
    let ds = load(root).unwrap();
    let used: Vec<&str> = ds.clips.iter().map(|c| c.rel.as_str()).collect();
    assert_eq!(used, ["hungry/a.wav", "hungry/b.wav", "tired/c.wav"]);
    assert_eq!(ds.duplicates.len(), 2);
    let copy = ds
        .duplicates
        .iter()
        .find(|d| d.path == "hungry/a - Copy.wav")
        .unwrap();
    assert_eq!(copy.kept, "hungry/a.wav");
    assert_eq!(copy.conflicting_labels, None);
    let conflict = ds
        .duplicates
        .iter()
        .find(|d| d.path == "tired/b2.wav")
        .unwrap();
    assert_eq!(
        conflict.conflicting_labels,
        Some(("hungry".to_string(), "tired".to_string()))
    );
    assert!(
        ds.skipped
            .iter()
            .any(|s| s.path == "tired/b2.wav" && s.reason.contains("conflict"))
    );
}

#[test]
fn unusable_datasets_fail_with_the_problem_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(matches!(load(root), Err(DatasetError::NoLabelFolders(_))));

    clip(root, "hungry/a.wav", 300.0);
    std::fs::create_dir_all(root.join("tired")).unwrap();
    let err = load(root).unwrap_err();
    assert!(
        matches!(&err, DatasetError::EmptyLabelFolder(p) if p.ends_with("tired")),
        "{err}"
    );

    std::fs::write(root.join("tired/x.wav"), "junk").unwrap();
    assert!(matches!(load(root), Err(DatasetError::SingleClass(l)) if l == "hungry"));

    std::fs::write(root.join("hungry/a.wav"), "junk").unwrap();
    let err = load(root).unwrap_err();
    assert!(
        matches!(err, DatasetError::NoUsableClips { skipped: 2, .. }),
        "{err}"
    );
}

#[test]
fn manifest_with_groups_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    clip(root, "clips/1.wav", 300.0);
    clip(root, "clips/2.wav", 310.0);
    clip(root, "clips/3.wav", 320.0);
    let manifest = root.join("m.csv");
    std::fs::write(
        &manifest,
        "label,path,group\nhungry,clips/1.wav,baby1\ntired,clips/2.wav,baby1\n\
         tired,clips/3.wav,\n,clips/4.wav,baby2\nhungry,clips/missing.wav,baby3\n",
    )
    .unwrap();
    let source = DataSource {
        root: root.to_path_buf(),
        manifest: Some(manifest.clone()),
    };
    let ds = Dataset::load(&source, &LoadOptions::default(), |_, _| {}).unwrap();
    let groups: Vec<&str> = ds.group_names();
    assert_eq!(groups, ["baby1", "baby1", "3"]);
    assert_eq!(ds.label_indices(), [0, 1, 1]);
    assert_eq!(ds.skipped.len(), 2, "{:?}", ds.skipped);
    assert!(ds.skipped.iter().any(|s| s.path == "clips/missing.wav"));

    std::fs::write(&manifest, "file,class\nclips/1.wav,hungry\n").unwrap();
    let err = Dataset::load(&source, &LoadOptions::default(), |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("`path` and `label`"), "{err}");
}
