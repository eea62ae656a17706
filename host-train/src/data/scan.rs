//! Finding the clips of a dataset: `<root>/<label>/**/<clip>` folders or a CSV manifest. A file
//! is a clip by its content (WAV, Ogg Vorbis, FLAC, MP3, MP4/AAC), whatever its extension.

use std::path::{Path, PathBuf};

use super::{DatasetError, Skipped};

/// A file that should be a clip, before it is decoded.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Where to read it.
    pub path: PathBuf,
    /// Its path relative to the data root, `/`-separated (as written to reports).
    pub rel: String,
    /// Its class name.
    pub label: String,
    /// Its leakage group when the manifest gives one.
    pub group: Option<String>,
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Files to decode.
    pub candidates: Vec<Candidate>,
    /// Files that are not clips, with the reason.
    pub skipped: Vec<Skipped>,
}

/// `/`-separated path of `path` relative to `root` (or `path` itself when it is elsewhere).
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Whether `path` holds audio `cry-core` decodes, by its first bytes (not its extension); if not,
/// why not.
fn audio_by_content(path: &Path) -> Result<(), String> {
    cry_core::audio::sniff_file(path)
        .map(|_| ())
        .map_err(|e| e.kind.to_string())
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let read = std::fs::read_dir(dir).map_err(|source| DatasetError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| DatasetError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if !is_hidden(&entry.path()) {
            entries.push(entry.path());
        }
    }
    entries.sort();
    Ok(entries)
}

/// Scans `<root>/<label>/` folders; every audio file (recognised by content) below a label folder
/// (at any depth) is a clip of that label. Other files in label folders are reported as skipped
/// with what they start with; audio files directly in the root are reported too. Hidden files
/// and folders are ignored.
pub fn scan_folders(root: &Path) -> Result<Scan, DatasetError> {
    if !root.is_dir() {
        return Err(DatasetError::NotADirectory(root.to_path_buf()));
    }
    let mut scan = Scan::default();
    let mut label_folders = 0;
    for entry in sorted_entries(root)? {
        if entry.is_dir() {
            label_folders += 1;
            let label = entry
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let before = scan.candidates.len() + scan.skipped.len();
            collect_label_folder(root, &entry, &label, &mut scan)?;
            if scan.candidates.len() + scan.skipped.len() == before {
                return Err(DatasetError::EmptyLabelFolder(entry));
            }
        } else if audio_by_content(&entry).is_ok() {
            scan.skipped.push(Skipped {
                path: relative(root, &entry),
                reason: "not inside a label folder (expected <data>/<label>/<clip>)".into(),
            });
        }
    }
    if label_folders == 0 {
        return Err(DatasetError::NoLabelFolders(root.to_path_buf()));
    }
    Ok(scan)
}

fn collect_label_folder(
    root: &Path,
    dir: &Path,
    label: &str,
    scan: &mut Scan,
) -> Result<(), DatasetError> {
    for entry in sorted_entries(dir)? {
        if entry.is_dir() {
            collect_label_folder(root, &entry, label, scan)?;
        } else {
            match audio_by_content(&entry) {
                Ok(()) => scan.candidates.push(Candidate {
                    rel: relative(root, &entry),
                    path: entry,
                    label: label.to_string(),
                    group: None,
                }),
                Err(reason) => scan.skipped.push(Skipped {
                    path: relative(root, &entry),
                    reason,
                }),
            }
        }
    }
    Ok(())
}

/// Reads a CSV manifest with a header naming the columns `path` and `label`, and optionally
/// `group`. Relative paths are taken from `root`. A row with an empty path or label is skipped
/// and reported; a manifest without the required columns is an error.
pub fn read_manifest(manifest: &Path, root: &Path) -> Result<Scan, DatasetError> {
    let manifest_error = |reason: String| DatasetError::Manifest {
        path: manifest.to_path_buf(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(manifest)
        .map_err(|e| manifest_error(e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| manifest_error(e.to_string()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(path_col), Some(label_col)) = (column("path"), column("label")) else {
        return Err(manifest_error(format!(
            "the header must name the columns `path` and `label` (found: {})",
            headers.iter().collect::<Vec<_>>().join(", ")
        )));
    };
    let group_col = column("group");

    let mut scan = Scan::default();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| manifest_error(format!("line {line}: {e}")))?;
        let field = |col: usize| record.get(col).unwrap_or("").to_string();
        let (path, label) = (field(path_col), field(label_col));
        if path.is_empty() || label.is_empty() {
            scan.skipped.push(Skipped {
                path: format!("{}:{line}", manifest.display()),
                reason: "manifest row without a path or a label".into(),
            });
            continue;
        }
        let full = root.join(&path);
        scan.candidates.push(Candidate {
            rel: relative(root, &full),
            path: full,
            label,
            group: group_col.map(field).filter(|g| !g.is_empty()),
        });
    }
    Ok(scan)
}
