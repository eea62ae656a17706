//! Leakage groups: which clips must stay on the same side of every split.
//!
//! A group is one source recording (or, for Donate-a-cry, one phone and in practice one baby).
//! The group of a file comes from the first of these that applies:
//!
//! 1. the manifest's `group` column;
//! 2. the user's `--group-regex`: its first capture group over the relative path;
//! 3. the built-in recognisers, over the file name without its extension, after removing an
//!    augmentation prefix (`generated<N>_`, `aug_`, `augmented_`; an augmented copy joins its
//!    source's group) and Windows copy suffixes (`X - Copy`, `X - Copy (2)`; a copy joins `X`):
//!    - [`Recogniser::DonateACry`]: a leading UUID (`<uuid>-<timestamp>-<version>-<sex>-<age>-<reason>`);
//!    - [`Recogniser::Esc50`]: ESC-50's `<fold>-<clip>-<take>`, one group per Freesound clip;
//!    - [`Recogniser::Segment`]: `<recording>_<N>`, the segments cut from one recording;
//!    - [`Recogniser::FileName`]: otherwise the file is a group of its own.
//!
//! Every clip records the recogniser that formed its group, so a report can say why a class has
//! only one group.

use serde::{Deserialize, Serialize};

/// Length of a canonical textual UUID (8-4-4-4-12 hex digits).
const UUID_LEN: usize = 36;

/// What formed a clip's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Recogniser {
    /// The manifest's `group` column.
    #[serde(rename = "manifest")]
    Manifest,
    /// The user's group pattern.
    #[serde(rename = "regex")]
    Regex,
    /// A Donate-a-cry app-instance UUID.
    #[serde(rename = "donateacry-uuid")]
    DonateACry,
    /// An ESC-50 `<fold>-<clip>-<take>` name.
    #[serde(rename = "esc50-clip")]
    Esc50,
    /// A `<recording>_<N>` segment name.
    #[serde(rename = "segment")]
    Segment,
    /// No pattern: the file (without copy suffix or augmentation prefix) is its own group.
    #[serde(rename = "file-name")]
    FileName,
}

impl Recogniser {
    /// The name used in reports and `folds.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manifest => "manifest",
            Self::Regex => "regex",
            Self::DonateACry => "donateacry-uuid",
            Self::Esc50 => "esc50-clip",
            Self::Segment => "segment",
            Self::FileName => "file-name",
        }
    }
}

/// A clip's leakage group and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// The group key; equal keys never straddle a split.
    pub key: String,
    /// What formed it.
    pub recogniser: Recogniser,
    /// The name carries an augmentation prefix: the clip is a transformed copy of another.
    pub augmented: bool,
}

/// A user's `--group-regex` failed to compile or has no capture group.
#[derive(Debug, thiserror::Error)]
pub enum GroupPatternError {
    /// The pattern is not a valid regular expression.
    #[error("invalid group pattern {pattern:?}")]
    Invalid {
        /// The pattern as given.
        pattern: String,
        /// The parser's complaint.
        #[source]
        source: regex::Error,
    },
    /// The pattern has no capture group to take the group from.
    #[error(
        "group pattern {0:?} has no capture group; wrap the part that names the recording in (...)"
    )]
    NoCaptureGroup(String),
}

/// How groups are formed for a dataset: an optional user pattern above the built-in recognisers.
#[derive(Debug, Clone, Default)]
pub struct GroupRules {
    pattern: Option<regex::Regex>,
}

impl GroupRules {
    /// Rules with a user pattern whose first capture group, over the `/`-separated path relative
    /// to the data root, names the group. Paths it does not match fall through to the built-ins.
    pub fn with_pattern(pattern: &str) -> Result<Self, GroupPatternError> {
        let compiled = regex::Regex::new(pattern).map_err(|source| GroupPatternError::Invalid {
            pattern: pattern.to_string(),
            source,
        })?;
        if compiled.captures_len() < 2 {
            return Err(GroupPatternError::NoCaptureGroup(pattern.to_string()));
        }
        Ok(Self {
            pattern: Some(compiled),
        })
    }

    /// The user pattern, if any.
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_ref().map(regex::Regex::as_str)
    }

    /// The group of the file at `rel` (relative to the data root, `/`-separated), given the
    /// manifest's group if it names one.
    pub fn group(&self, rel: &str, manifest_group: Option<&str>) -> Grouping {
        let stem = stem_of(rel);
        let (base, augmented) = strip_augmentation_prefix(strip_copy_suffix(stem));
        let base = strip_copy_suffix(base);
        if let Some(key) = manifest_group {
            return Grouping {
                key: key.to_string(),
                recogniser: Recogniser::Manifest,
                augmented,
            };
        }
        if let Some(key) = self
            .pattern
            .as_ref()
            .and_then(|p| p.captures(rel))
            .and_then(|c| c.get(1))
        {
            return Grouping {
                key: key.as_str().to_string(),
                recogniser: Recogniser::Regex,
                augmented,
            };
        }
        let (key, recogniser) = builtin_group(base);
        Grouping {
            key,
            recogniser,
            augmented,
        }
    }
}

/// The built-in group of a file stem that has no augmentation prefix or copy suffix.
fn builtin_group(base: &str) -> (String, Recogniser) {
    if let Some(uuid) = donateacry_uuid(base) {
        return (uuid.to_ascii_lowercase(), Recogniser::DonateACry);
    }
    if let Some(clip) = esc50_clip(base) {
        return (format!("esc50-{clip}"), Recogniser::Esc50);
    }
    if let Some(recording) = segment_recording(base) {
        return (recording.to_string(), Recogniser::Segment);
    }
    (base.to_string(), Recogniser::FileName)
}

/// The leakage group of a file, from its stem (file name without extension), by the built-in
/// recognisers alone.
pub fn group_from_stem(stem: &str) -> String {
    GroupRules::default().group(stem, None).key
}

/// The file name of `rel` without its last extension.
fn stem_of(rel: &str) -> &str {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    match name.rfind('.') {
        Some(dot) if dot > 0 => &name[..dot],
        _ => name,
    }
}

/// `X - Copy`, `X - Copy (3)` and `X - Copy - Copy` all become `X`.
pub fn strip_copy_suffix(stem: &str) -> &str {
    let mut base = stem.trim_end();
    loop {
        let without_number = match base.strip_suffix(')') {
            Some(rest) => match rest.rfind(" (") {
                Some(open) if rest[open + 2..].chars().all(|c| c.is_ascii_digit()) => {
                    rest[..open].trim_end()
                }
                _ => base,
            },
            None => base,
        };
        match without_number.strip_suffix(" - Copy") {
            Some(rest) => base = rest.trim_end(),
            None => return base,
        }
    }
}

/// Removes augmentation prefixes (`generated<N>_`, `aug_`, `augmented_`, in any case, repeated),
/// and says whether there was one.
pub fn strip_augmentation_prefix(stem: &str) -> (&str, bool) {
    let mut rest = stem;
    let mut augmented = false;
    loop {
        let next = strip_prefix_ignore_case(rest, "augmented_")
            .or_else(|| strip_prefix_ignore_case(rest, "aug_"))
            .or_else(|| {
                let after = strip_prefix_ignore_case(rest, "generated")?;
                let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                after[digits..].strip_prefix('_')
            });
        match next {
            Some(stripped) if !stripped.is_empty() => {
                rest = stripped;
                augmented = true;
            }
            _ => return (rest, augmented),
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The leading UUID of a Donate-a-cry style name, if the name has one.
pub fn donateacry_uuid(stem: &str) -> Option<&str> {
    let candidate = stem.get(..UUID_LEN)?;
    let follows_ok = stem[UUID_LEN..].is_empty() || stem[UUID_LEN..].starts_with('-');
    is_uuid(candidate)
        .then_some(candidate)
        .filter(|_| follows_ok)
}

fn is_uuid(s: &str) -> bool {
    s.len() == UUID_LEN
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The Freesound clip id of an ESC-50 name `<fold>-<clip>-<take>` (`1-211527-A`), if it is one.
pub fn esc50_clip(stem: &str) -> Option<&str> {
    let mut parts = stem.split('-');
    let (fold, clip, take) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let take_ok = !take.is_empty() && take.bytes().all(|b| b.is_ascii_alphabetic());
    (parts.next().is_none() && digits(fold) && digits(clip) && take_ok).then_some(clip)
}

/// The recording of a segment name `<recording>_<N>` (`margot.m4a_3` is segment 3 of
/// `margot.m4a`), if it is one.
pub fn segment_recording(stem: &str) -> Option<&str> {
    let (recording, index) = stem.rsplit_once('_')?;
    let is_index = !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit());
    (is_index && !recording.trim().is_empty()).then_some(recording)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> GroupRules {
        GroupRules::default()
    }

    #[test]
    fn donateacry_names_group_by_uuid_in_any_case() {
        let a = group_from_stem("643D64AD-B711-469A-AF69-55C0D5D3E30F-1430138495-1.0-m-72-bp");
        let b = group_from_stem("643d64ad-b711-469a-af69-55c0d5d3e30f-1430139000-1.0-m-72-hu");
        assert_eq!(a, "643d64ad-b711-469a-af69-55c0d5d3e30f");
        assert_eq!(a, b);
        let c = group_from_stem("549a46d8-9c84-430e-ade8-97eae2bef787-1430130772174-1.7-m-48-bp");
        assert_ne!(a, c);
    }

    #[test]
    fn copies_join_their_original() {
        let original = "549a46d8-9c84-430e-ade8-97eae2bef787-1430130772174-1.7-m-48-bp";
        for copy in [
            format!("{original} - Copy"),
            format!("{original} - Copy (2)"),
            format!("{original} - Copy - Copy"),
        ] {
            assert_eq!(group_from_stem(&copy), group_from_stem(original), "{copy}");
        }
        assert_eq!(group_from_stem("cry7 - Copy"), group_from_stem("cry7"));
        assert_eq!(group_from_stem("cry7 - Copy (12)"), "cry7");
    }

    #[test]
    fn other_names_are_their_own_group() {
        assert_eq!(group_from_stem("cry7"), "cry7");
        assert_ne!(group_from_stem("cry7"), group_from_stem("cry8"));
        assert_eq!(
            rules().group("a/cry7.wav", None).recogniser,
            Recogniser::FileName
        );
        // Not a UUID: wrong separator positions, non-hex digits, or glued to more text.
        assert_eq!(
            donateacry_uuid("643D64ADB711-469A-AF69-55C0D5D3E30F-1"),
            None
        );
        assert_eq!(
            donateacry_uuid("Z43D64AD-B711-469A-AF69-55C0D5D3E30F-1"),
            None
        );
        assert_eq!(
            donateacry_uuid("643D64AD-B711-469A-AF69-55C0D5D3E30Fx"),
            None
        );
        assert_eq!(strip_copy_suffix("take (2)"), "take (2)");
        assert_eq!(strip_copy_suffix("Copy"), "Copy");
    }

    #[test]
    fn augmented_copies_join_their_source_and_are_marked() {
        let source = "dc5429de-0b6c-4c1f-8e0a-2b6c3f5d1a7e-1430000000-1.0-m-26-lo";
        let plain = rules().group(&format!("lonely/{source}.wav"), None);
        assert!(!plain.augmented);
        assert_eq!(plain.recogniser, Recogniser::DonateACry);
        for copy in [
            format!("lonely/generated1_{source}.wav"),
            format!("lonely/Generated12_{source}.wav"),
            format!("lonely/aug_{source}.wav"),
            format!("lonely/augmented_{source}.wav"),
            format!("lonely/generated2_aug_{source} - Copy.wav"),
        ] {
            let g = rules().group(&copy, None);
            assert_eq!(g.key, plain.key, "{copy}");
            assert_eq!(g.recogniser, Recogniser::DonateACry, "{copy}");
            assert!(g.augmented, "{copy}");
        }
        // A prefix alone, or a word that merely starts like one, is not an augmentation.
        assert!(!rules().group("x/generated_.wav", None).augmented);
        assert!(!rules().group("x/augury_3.wav", None).augmented);
        assert!(!rules().group("x/generatedX_a.wav", None).augmented);
    }

    #[test]
    fn esc50_takes_of_one_clip_are_one_group() {
        let a = rules().group("301 - Crying baby/1-211527-A.ogg", None);
        let b = rules().group("301 - Crying baby/1-211527-B.ogg", None);
        let other = rules().group("301 - Crying baby/2-107351-A.ogg", None);
        assert_eq!(a.key, b.key);
        assert_eq!(a.recogniser, Recogniser::Esc50);
        assert_ne!(a.key, other.key);
        assert_eq!(esc50_clip("1-211527"), None);
        assert_eq!(esc50_clip("1-211527-A-x"), None);
        assert_eq!(esc50_clip("1-2115x7-A"), None);
    }

    #[test]
    fn segments_of_one_recording_are_one_group() {
        let a = rules().group("cry/margot.m4a_3.wav", None);
        let b = rules().group("cry/margot.m4a_17.wav", None);
        let c = rules().group("laugh/laugh_1.m4a_9.wav", None);
        assert_eq!(a.key, "margot.m4a");
        assert_eq!(a.key, b.key);
        assert_eq!(a.recogniser, Recogniser::Segment);
        assert_eq!(c.key, "laugh_1.m4a");
        assert_eq!(segment_recording("_3"), None);
        assert_eq!(segment_recording("take_3b"), None);
    }

    #[test]
    fn manifest_and_pattern_win_over_the_builtins() {
        let rel = "hungry/643D64AD-B711-469A-AF69-55C0D5D3E30F-1430138495-1.0-m-72-hu.wav";
        let manifest = rules().group(rel, Some("baby-7"));
        assert_eq!(manifest.key, "baby-7");
        assert_eq!(manifest.recogniser, Recogniser::Manifest);

        let by_folder = GroupRules::with_pattern(r"^[^/]+/([^/]+)/").unwrap();
        let g = by_folder.group("cry/session-4/take_1.wav", None);
        assert_eq!(
            (g.key.as_str(), g.recogniser),
            ("session-4", Recogniser::Regex)
        );
        // A path the pattern does not match falls through to the built-ins.
        let g = by_folder.group(rel, None);
        assert_eq!(g.recogniser, Recogniser::DonateACry);
        assert_eq!(
            by_folder.group(rel, Some("m")).recogniser,
            Recogniser::Manifest
        );
        let augmented = by_folder.group("cry/s1/aug_take_1.wav", None);
        assert!(augmented.augmented && augmented.key == "s1");
    }

    #[test]
    fn recogniser_names_are_the_same_in_json_and_text() {
        for r in [
            Recogniser::Manifest,
            Recogniser::Regex,
            Recogniser::DonateACry,
            Recogniser::Esc50,
            Recogniser::Segment,
            Recogniser::FileName,
        ] {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Recogniser>(&json).unwrap(), r);
        }
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(matches!(
            GroupRules::with_pattern("("),
            Err(GroupPatternError::Invalid { .. })
        ));
        assert!(matches!(
            GroupRules::with_pattern("^cry"),
            Err(GroupPatternError::NoCaptureGroup(_))
        ));
    }
}
