//! Turning a dataset's folder (or manifest) labels into the classes a run trains on: rename,
//! merge, drop, and keep only some.
//!
//! A rule `from=to` renames the label `from` to `to`; two rules with one `to` merge those labels;
//! `from=` (nothing after `=`) drops every clip labelled `from`. After the rules, a class list
//! (when given) keeps only the classes it names. The map is part of a run's identity: a resumed
//! run with another map is refused, so it is serialised with the run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A label rule or class list that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LabelMapError {
    /// A rule is not `from=to`.
    #[error("label rule {rule:?} is not of the form from=to (or from= to drop)")]
    NotARule {
        /// The rule as written.
        rule: String,
    },
    /// A rule's `from` is blank.
    #[error("label rule {rule:?} has an empty label before '='")]
    BlankSource {
        /// The rule as written.
        rule: String,
    },
    /// Two rules map one label to different targets.
    #[error("label {from:?} is mapped twice: to {first:?} and to {second:?}")]
    Conflicting {
        /// The label mapped twice.
        from: String,
        /// The first target (empty: dropped).
        first: String,
        /// The second target (empty: dropped).
        second: String,
    },
    /// A rule in a map file is wrong; the line is named.
    #[error("{}:{line}: {source}", path.display())]
    InFile {
        /// The map file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        #[source]
        source: Box<LabelMapError>,
    },
    /// The map file cannot be read.
    #[error("failed to read label map {}", path.display())]
    Read {
        /// The map file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A kept class name is blank.
    #[error("the class list contains an empty name")]
    BlankClass,
}

/// What the map says about one label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// Use the clip under this class.
    Class(String),
    /// Leave the clip out, for this reason.
    Dropped(String),
}

/// Label rules and an optional list of classes to keep. The default map keeps every label as it
/// is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelMap {
    /// `from` → `to`; an empty `to` drops the label.
    pub rules: BTreeMap<String, String>,
    /// When set, only these classes (after the rules) are kept.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub classes: Option<BTreeSet<String>>,
}

impl LabelMap {
    /// True when the map changes nothing.
    pub fn is_identity(&self) -> bool {
        self.rules.is_empty() && self.classes.is_none()
    }

    /// Adds one `from=to` rule (as given to `--label`).
    pub fn add_rule(&mut self, rule: &str) -> Result<(), LabelMapError> {
        let (from, to) = rule
            .split_once('=')
            .ok_or_else(|| LabelMapError::NotARule {
                rule: rule.to_string(),
            })?;
        let (from, to) = (from.trim(), to.trim());
        if from.is_empty() {
            return Err(LabelMapError::BlankSource {
                rule: rule.to_string(),
            });
        }
        match self.rules.get(from) {
            Some(first) if first != to => Err(LabelMapError::Conflicting {
                from: from.to_string(),
                first: first.clone(),
                second: to.to_string(),
            }),
            _ => {
                self.rules.insert(from.to_string(), to.to_string());
                Ok(())
            }
        }
    }

    /// Adds the rules of a map file: one `from=to` per line; blank lines and lines starting with
    /// `#` are ignored.
    pub fn add_file(&mut self, path: &Path) -> Result<(), LabelMapError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabelMapError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.add_rule(line).map_err(|e| LabelMapError::InFile {
                path: path.to_path_buf(),
                line: i + 1,
                source: Box::new(e),
            })?;
        }
        Ok(())
    }

    /// Keeps only these classes (names after the rules).
    pub fn keep_classes<I, S>(&mut self, classes: I) -> Result<(), LabelMapError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut kept = BTreeSet::new();
        for class in classes {
            let class = class.as_ref().trim();
            if class.is_empty() {
                return Err(LabelMapError::BlankClass);
            }
            kept.insert(class.to_string());
        }
        self.classes = Some(kept);
        Ok(())
    }

    /// The class of a clip whose folder or manifest label is `label`.
    pub fn apply(&self, label: &str) -> Mapped {
        let class = match self.rules.get(label) {
            Some(to) if to.is_empty() => {
                return Mapped::Dropped(format!("label {label:?} is dropped by the label map"));
            }
            Some(to) => to.as_str(),
            None => label,
        };
        match &self.classes {
            Some(kept) if !kept.contains(class) => {
                Mapped::Dropped(format!("class {class:?} is not among the kept classes"))
            }
            _ => Mapped::Class(class.to_string()),
        }
    }

    /// Rules whose `from` is none of `seen` labels (probably a typo), and kept classes that no
    /// seen label maps to.
    pub fn unused(&self, seen: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
        let rules = self
            .rules
            .keys()
            .filter(|from| !seen.contains(*from))
            .cloned()
            .collect();
        let produced: BTreeSet<String> = seen
            .iter()
            .filter_map(|label| match self.apply(label) {
                Mapped::Class(c) => Some(c),
                Mapped::Dropped(_) => None,
            })
            .collect();
        let classes = self
            .classes
            .iter()
            .flatten()
            .filter(|c| !produced.contains(*c))
            .cloned()
            .collect();
        (rules, classes)
    }
}

/// The reason a Donate-a-cry file name's last field encodes (`...-hu` is `hungry`), if the name
/// ends with one of the app's codes.
pub fn donateacry_reason(stem: &str) -> Option<&'static str> {
    let code = stem.rsplit('-').next()?;
    Some(match code.to_ascii_lowercase().as_str() {
        "hu" => "hungry",
        "bu" => "burping",
        "bp" => "belly_pain",
        "dc" => "discomfort",
        "ti" => "tired",
        "lo" => "lonely",
        "sc" => "scared",
        "ch" => "cold_hot",
        "dk" => "dont_know",
        _ => return None,
    })
}

/// Whether a folder label names the same reason as a code's reason, ignoring case, spaces,
/// hyphens and underscores (`belly pain` and `belly_pain` agree; so do `cold_hot` and `Cold-Hot`).
pub fn same_reason(label: &str, reason: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    norm(label) == norm(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(rules: &[&str]) -> LabelMap {
        let mut m = LabelMap::default();
        for r in rules {
            m.add_rule(r).unwrap();
        }
        m
    }

    #[test]
    fn rules_rename_merge_and_drop() {
        let m = map(&["belly pain=belly_pain", "lonely=discomfort", "unknown="]);
        assert_eq!(m.apply("belly pain"), Mapped::Class("belly_pain".into()));
        assert_eq!(m.apply("lonely"), Mapped::Class("discomfort".into()));
        assert_eq!(m.apply("discomfort"), Mapped::Class("discomfort".into()));
        assert!(matches!(m.apply("unknown"), Mapped::Dropped(r) if r.contains("unknown")));
        assert_eq!(m.apply("hungry"), Mapped::Class("hungry".into()));
        assert!(!m.is_identity());
        assert!(LabelMap::default().is_identity());
    }

    #[test]
    fn classes_keep_only_the_named_ones_after_the_rules() {
        let mut m = map(&["lonely=discomfort"]);
        m.keep_classes(["discomfort", "hungry"]).unwrap();
        assert_eq!(m.apply("lonely"), Mapped::Class("discomfort".into()));
        assert!(matches!(m.apply("tired"), Mapped::Dropped(r) if r.contains("tired")));
        assert!(matches!(
            LabelMap::default().keep_classes(["a", " "]),
            Err(LabelMapError::BlankClass)
        ));
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_and_line() {
        let mut m = LabelMap::default();
        assert!(matches!(
            m.add_rule("hungry"),
            Err(LabelMapError::NotARule { .. })
        ));
        assert!(matches!(
            m.add_rule("=x"),
            Err(LabelMapError::BlankSource { .. })
        ));
        m.add_rule("a=b").unwrap();
        m.add_rule("a=b").unwrap();
        assert!(matches!(
            m.add_rule("a=c"),
            Err(LabelMapError::Conflicting { .. })
        ));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.map");
        std::fs::write(
            &path,
            "# cry vs not\n301 - Crying baby = cry\n\nbroken line\n",
        )
        .unwrap();
        let err = LabelMap::default().add_file(&path).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("labels.map:4"), "{text}");
        std::fs::write(
            &path,
            "# cry vs not\n301 - Crying baby = cry\n903 - Baby laugh=not_cry\n",
        )
        .unwrap();
        let mut m = LabelMap::default();
        m.add_file(&path).unwrap();
        assert_eq!(m.apply("301 - Crying baby"), Mapped::Class("cry".into()));
        assert_eq!(m.apply("903 - Baby laugh"), Mapped::Class("not_cry".into()));
    }

    #[test]
    fn unused_rules_and_classes_are_named() {
        let mut m = map(&["belly pain=belly_pain", "lonley=discomfort"]);
        m.keep_classes(["belly_pain", "hungry", "tierd"]).unwrap();
        let seen: BTreeSet<String> = ["belly pain", "hungry", "tired"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (rules, classes) = m.unused(&seen);
        assert_eq!(rules, ["lonley"]);
        assert_eq!(classes, ["tierd"]);
    }

    #[test]
    fn map_round_trips_through_json() {
        let mut m = map(&["lonely=discomfort", "unknown="]);
        m.keep_classes(["discomfort"]).unwrap();
        let back: LabelMap = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn donateacry_reason_codes() {
        let stem = "dc5429de-0b6c-4c1f-8e0a-2b6c3f5d1a7e-1430000000-1.0-m-26-lo";
        assert_eq!(donateacry_reason(stem), Some("lonely"));
        assert_eq!(donateacry_reason("x-BP"), Some("belly_pain"));
        assert_eq!(donateacry_reason("margot.m4a_3"), None);
        assert!(same_reason("belly pain", "belly_pain"));
        assert!(same_reason("Cold-Hot", "cold_hot"));
        assert!(!same_reason("discomfort", "lonely"));
    }
}
