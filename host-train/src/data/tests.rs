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
        ..DataSource::default()
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
    assert!(reason("tired/notes.wav").starts_with("not an audio file"));
    assert!(reason("tired/empty.wav").contains("zero samples"));
    assert!(reason("tired/corrupt.wav").starts_with("truncated data"));
    assert!(reason("tired/readme.txt").starts_with("not an audio file: starts with"));
    assert_eq!(ds.skipped.len(), 4);
}

#[test]
fn compressed_formats_are_clips_by_content_whatever_their_name() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cry-core/tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let copies = [
        ("tone-1000hz-16000hz-stereo.flac", "cry/1-211527-A.flac"),
        ("tone-880hz-48000hz-stereo.m4a", "cry/phone.m4a"),
        ("tone-660hz-44100hz-mono.mp3", "noise/street.mp3"),
        // An Ogg file behind a .wav name is read by its content.
        ("tone-440hz-22050hz-mono.ogg", "noise/mislabelled.wav"),
    ];
    for (fixture, rel) in copies {
        std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(fixtures.join(fixture), root.join(rel)).unwrap();
    }
    let ds = load(root).unwrap();
    let used: Vec<&str> = ds.clips.iter().map(|c| c.rel.as_str()).collect();
    assert_eq!(
        used,
        [
            "cry/1-211527-A.flac",
            "cry/phone.m4a",
            "noise/mislabelled.wav",
            "noise/street.mp3"
        ],
        "skipped: {:?}",
        ds.skipped
    );
    let of = |rel: &str| ds.clips.iter().find(|c| c.rel == rel).unwrap();
    assert_eq!(of("noise/mislabelled.wav").source.sample_rate, 22_050);
    assert_eq!(of("cry/1-211527-A.flac").source.channels, 2);
    assert_eq!(of("cry/1-211527-A.flac").recogniser, Recogniser::Esc50);
    assert_eq!(of("cry/phone.m4a").source.sample_rate, 48_000);
    assert!((of("noise/street.mp3").seconds - 0.5).abs() < 0.1);
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
    // The same audio under `hungry` and `tired` contradicts itself: neither copy is used.
    assert_eq!(used, ["hungry/a.wav", "tired/c.wav"]);
    assert_eq!(
        ds.duplicates,
        [Duplicate {
            path: "hungry/a - Copy.wav".into(),
            kept: "hungry/a.wav".into()
        }]
    );
    assert_eq!(
        ds.conflicts,
        [LabelConflict {
            paths: vec!["hungry/b.wav".into(), "tired/b2.wav".into()],
            labels: vec!["hungry".into(), "tired".into()],
        }]
    );
    for path in ["hungry/b.wav", "tired/b2.wav"] {
        assert!(
            ds.skipped
                .iter()
                .any(|s| s.path == path && s.reason.contains("different labels")),
            "{path}: {:?}",
            ds.skipped
        );
    }
}

fn load_with(root: &Path, rules: &DataRules) -> Result<Dataset, DatasetError> {
    let source = DataSource {
        root: root.to_path_buf(),
        ..DataSource::default()
    };
    Dataset::load_with(&source, rules, &LoadOptions::default(), |_, _| {})
}

#[test]
fn label_map_renames_merges_drops_and_keeps_classes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    clip(root, "belly pain/a.wav", 300.0);
    clip(root, "lonely/b.wav", 310.0);
    clip(root, "discomfort/c.wav", 320.0);
    clip(root, "unknown/d.wav", 330.0);
    clip(root, "tired/e.wav", 340.0);
    let mut rules = DataRules::default();
    for rule in ["belly pain=belly_pain", "lonely=discomfort", "unknown="] {
        rules.labels.add_rule(rule).unwrap();
    }
    let ds = load_with(root, &rules).unwrap();
    assert_eq!(ds.labels.names(), ["belly_pain", "discomfort", "tired"]);
    let label_of = |rel: &str| {
        let c = ds.clips.iter().find(|c| c.rel == rel).unwrap();
        ds.labels.names()[c.label].clone()
    };
    assert_eq!(label_of("lonely/b.wav"), "discomfort");
    assert_eq!(label_of("discomfort/c.wav"), "discomfort");
    assert!(
        ds.skipped
            .iter()
            .any(|s| s.path == "unknown/d.wav" && s.reason.contains("dropped"))
    );

    rules.labels.keep_classes(["discomfort", "tired"]).unwrap();
    let ds = load_with(root, &rules).unwrap();
    assert_eq!(ds.labels.names(), ["discomfort", "tired"]);
    assert!(ds.skipped.iter().any(|s| s.path == "belly pain/a.wav"));
}

#[test]
fn groups_name_their_recogniser_and_augmented_copies_join_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source = format!("{UUID_A}-1430130772174-1.7-m-48-hu");
    clip(root, &format!("hungry/{source}.wav"), 300.0);
    clip(root, &format!("hungry/generated1_{source}.wav"), 305.0);
    clip(root, "cry/1-211527-A.wav", 310.0);
    clip(root, "cry/1-211527-B.wav", 315.0);
    clip(root, "cry/margot.m4a_3.wav", 320.0);
    clip(root, "cry/margot.m4a_4.wav", 325.0);
    clip(root, "cry/lone.wav", 330.0);
    let ds = load(root).unwrap();
    let of = |rel: &str| ds.clips.iter().find(|c| c.rel == rel).unwrap().clone();
    let original = of(&format!("hungry/{source}.wav"));
    let copy = of(&format!("hungry/generated1_{source}.wav"));
    assert_eq!(original.group, copy.group);
    assert!(copy.augmented && !original.augmented);
    assert_eq!(copy.recogniser, Recogniser::DonateACry);
    assert_eq!(
        of("cry/1-211527-A.wav").group,
        of("cry/1-211527-B.wav").group
    );
    assert_eq!(of("cry/1-211527-A.wav").recogniser, Recogniser::Esc50);
    assert_eq!(
        of("cry/margot.m4a_3.wav").group,
        of("cry/margot.m4a_4.wav").group
    );
    assert_eq!(of("cry/margot.m4a_3.wav").recogniser, Recogniser::Segment);
    assert_eq!(of("cry/lone.wav").recogniser, Recogniser::FileName);
    let summary = ds.class_summary();
    let cry = summary.iter().find(|s| s.label == "cry").unwrap();
    assert_eq!((cry.clips, cry.groups), (5, 3));

    let rules = DataRules {
        groups: GroupRules::with_pattern(r"^cry/(\d)-").unwrap(),
        ..DataRules::default()
    };
    let ds = load_with(root, &rules).unwrap();
    let esc = ds
        .clips
        .iter()
        .find(|c| c.rel == "cry/1-211527-A.wav")
        .unwrap();
    assert_eq!(
        (esc.group.as_str(), esc.recogniser),
        ("1", Recogniser::Regex)
    );
}

/// Copies the committed cry-core fixture `name` (tones made with ffmpeg) to `rel` under `root`.
fn fixture(root: &Path, name: &str, rel: &str) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cry-core/tests/fixtures")
        .join(name);
    let to = root.join(rel);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(&from, &to).unwrap();
}

#[test]
fn a_mixed_tree_groups_every_pattern_and_decodes_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source = format!("{UUID_A}-1430130772174-1.7-m-48-hu");
    clip(root, &format!("hungry/{source}.wav"), 300.0);
    clip(root, &format!("hungry/generated1_{source}.wav"), 305.0);
    clip(root, "hungry/night - Copy.wav", 306.0);
    clip(root, "hungry/night.wav", 307.0);
    clip(root, "noise/1-211527-A.wav", 310.0);
    clip(root, "noise/1-211527-B.wav", 315.0);
    clip(root, "noise/silence.wav_17.wav", 320.0);
    clip(root, "noise/silence.wav_18.wav", 325.0);
    fixture(root, "tone-440hz-22050hz-mono.ogg", "noise/5-200334-A.ogg");
    fixture(root, "tone-1000hz-16000hz-stereo.flac", "hungry/phone.flac");
    fixture(root, "tone-660hz-44100hz-mono.mp3", "noise/monitor.mp3");
    let ds = load(root).unwrap();
    assert!(ds.skipped.is_empty(), "{:?}", ds.skipped);
    let of = |rel: &str| ds.clips.iter().find(|c| c.rel == rel).unwrap().clone();
    let group = |rel: &str| (of(rel).group, of(rel).recogniser);
    assert_eq!(
        group(&format!("hungry/generated1_{source}.wav")),
        group(&format!("hungry/{source}.wav"))
    );
    assert_eq!(
        group(&format!("hungry/{source}.wav")).1,
        Recogniser::DonateACry
    );
    assert!(of(&format!("hungry/generated1_{source}.wav")).augmented);
    // `night - Copy` differs in its audio, so it is kept, in the original's group.
    assert_eq!(group("hungry/night - Copy.wav"), group("hungry/night.wav"));
    assert_eq!(group("noise/1-211527-A.wav"), group("noise/1-211527-B.wav"));
    assert_eq!(group("noise/1-211527-A.wav").1, Recogniser::Esc50);
    assert_eq!(group("noise/5-200334-A.ogg").1, Recogniser::Esc50);
    assert_ne!(group("noise/5-200334-A.ogg"), group("noise/1-211527-A.wav"));
    assert_eq!(
        group("noise/silence.wav_17.wav"),
        group("noise/silence.wav_18.wav")
    );
    assert_eq!(group("noise/silence.wav_17.wav").1, Recogniser::Segment);
    assert_eq!(group("hungry/phone.flac").1, Recogniser::FileName);
    let encodings: Vec<(&str, Encoding, u32, u16)> = [
        "noise/5-200334-A.ogg",
        "hungry/phone.flac",
        "noise/monitor.mp3",
    ]
    .into_iter()
    .map(|rel| {
        let s = of(rel).source;
        (rel, s.encoding, s.sample_rate, s.channels)
    })
    .collect();
    assert_eq!(
        encodings,
        [
            ("noise/5-200334-A.ogg", Encoding::Vorbis, 22_050, 1),
            ("hungry/phone.flac", Encoding::Flac(16), 16_000, 2),
            ("noise/monitor.mp3", Encoding::Mp3, 44_100, 1),
        ]
    );
    assert!(of("noise/monitor.mp3").seconds > 0.4);
}

#[test]
fn augmented_copies_train_only_drop_or_keep() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (i, label) in ["hungry", "tired"].into_iter().enumerate() {
        for j in 0..4 {
            let freq = 200.0 + 40.0 * (4 * i + j) as f64;
            clip(root, &format!("{label}/rec{i}{j}.wav"), freq);
            clip(root, &format!("{label}/aug_rec{i}{j}.wav"), freq + 7.0);
        }
    }
    let with = |augmented| {
        let source = DataSource {
            root: root.to_path_buf(),
            augmented,
            ..DataSource::default()
        };
        Dataset::load(&source, &LoadOptions::default(), |_, _| {}).unwrap()
    };
    let train = with(AugmentedPolicy::Train);
    assert_eq!(train.clips.len(), 16);
    let eligible = train.eligible();
    for (clip, may_test) in train.clips.iter().zip(&eligible) {
        assert_eq!(*may_test, !clip.rel.contains("/aug_"), "{}", clip.rel);
    }
    let copies: usize = train.class_summary().iter().map(|c| c.augmented).sum();
    assert_eq!(copies, 8);

    let drop = with(AugmentedPolicy::Drop);
    assert_eq!(drop.clips.len(), 8);
    assert!(drop.clips.iter().all(|c| !c.augmented));
    assert_eq!(
        drop.skipped
            .iter()
            .filter(|s| s.reason.contains("--augmented drop"))
            .count(),
        8
    );

    let keep = with(AugmentedPolicy::Keep);
    assert_eq!(keep.clips.len(), 16);
    assert!(keep.eligible().iter().all(|&e| e));
}

#[test]
fn reason_codes_that_disagree_with_the_folder_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    clip(
        root,
        &format!("discomfort/{UUID_A}-1430130772174-1.7-m-48-lo.wav"),
        300.0,
    );
    clip(
        root,
        &format!("belly pain/{UUID_B}-1430138495-1.0-m-72-bp.wav"),
        310.0,
    );
    let ds = load(root).unwrap();
    assert_eq!(
        ds.reason_mismatches,
        [ReasonMismatch {
            path: format!("discomfort/{UUID_A}-1430130772174-1.7-m-48-lo.wav"),
            label: "discomfort".into(),
            code_reason: "lonely".into(),
        }]
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
        ..DataSource::default()
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

#[test]
fn several_roots_combine_with_their_names_and_share_duplicates_and_label_rules() {
    let dir = tempfile::tempdir().unwrap();
    let reasons = dir.path().join("reasons");
    let noises = dir.path().join("household");
    clip(
        &reasons,
        &format!("hungry/{UUID_A}-1430130772174-1.7-m-48-hu.wav"),
        300.0,
    );
    clip(&reasons, "tired/t1.wav", 310.0);
    clip(&noises, "902 - Noise/1-100038-A.wav", 900.0);
    clip(&noises, "901 - Silence/silence.wav_3.wav", 950.0);
    clip(&reasons, "tired/t2.wav", 320.0);
    // The same recording in both corpora under contradicting labels: found across the roots,
    // neither used.
    std::fs::copy(
        reasons.join("tired/t1.wav"),
        noises.join("902 - Noise/t1.wav"),
    )
    .unwrap();
    let mut labels = LabelMap::default();
    labels.add_rule("902 - Noise=not_cry").unwrap();
    labels.add_rule("901 - Silence=not_cry").unwrap();
    let source = DataSource {
        root: reasons.clone(),
        also: vec![noises.clone()],
        labels,
        ..DataSource::default()
    };
    assert_eq!(
        source.describe(),
        format!("{} + {}", reasons.display(), noises.display())
    );
    let ds = Dataset::load(&source, &LoadOptions::default(), |_, _| {}).unwrap();
    assert_eq!(ds.labels.names(), ["hungry", "not_cry", "tired"]);
    let rels: Vec<&str> = ds.clips.iter().map(|c| c.rel.as_str()).collect();
    assert!(
        rels.iter()
            .all(|r| r.starts_with("reasons/") || r.starts_with("household/"))
    );
    assert_eq!(rels.len(), 4, "{rels:?}");
    assert_eq!(
        ds.conflicts,
        [LabelConflict {
            paths: vec![
                "household/902 - Noise/t1.wav".into(),
                "reasons/tired/t1.wav".into()
            ],
            labels: vec!["not_cry".into(), "tired".into()],
        }]
    );
    let esc = ds
        .clips
        .iter()
        .find(|c| c.rel == "household/902 - Noise/1-100038-A.wav")
        .unwrap();
    // The built-in recognisers still see the file names.
    assert_eq!(esc.group, "esc50-100038");
    // A root that is not a folder is named.
    let missing = DataSource {
        root: reasons,
        also: vec![dir.path().join("nope")],
        ..DataSource::default()
    };
    let err = Dataset::load(&missing, &LoadOptions::default(), |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
