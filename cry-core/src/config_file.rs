//! Options from a TOML file for a command line: both binaries' `--config FILE` (and the
//! research workflow's experiment files) read it here, so every file is held to the same rules.
//!
//! A key is a long flag without its dashes, with `_` or `-` between words (`gate_dbfs = -45`
//! is `--gate-dbfs -45`); a switch takes `true` or `false`, a flag with a value a string or a
//! number, and a repeatable flag also an array of them. Anything else is an error that names
//! the file, the line and the key, so a typo in a file on a Raspberry Pi is found at once
//! rather than silently ignored.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// What a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Nothing: `--realtime` (`true` gives the flag, `false` leaves it out).
    Switch,
    /// One value: `--threads 2`.
    One,
    /// One value per use, any number of uses: `--webhook A --webhook B` (`["A", "B"]`).
    Many,
}

/// Why a config file gave no flags.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{}{}: not TOML: {message}", path.display(), at_line(*line))]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where the parser stopped, when it says.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A key that is no option, or a value the option cannot take.
    #[error("{}, line {line}: `{key}` {problem}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// The key's line, from 1.
        line: usize,
        /// The key as written.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

/// The flags the file `path` gives `command` (for messages), in the order of its lines. `arity`
/// says what a long flag (without dashes) takes, or `None` when `command` has no such flag.
pub fn read_flags(
    path: &Path,
    command: &str,
    arity: impl Fn(&str) -> Option<Arity>,
) -> Result<Vec<String>, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    flags_from_str(&text, path, command, arity)
}

/// [`read_flags`] on the text of a file already read; `path` names it in errors.
pub fn flags_from_str(
    text: &str,
    path: &Path,
    command: &str,
    arity: impl Fn(&str) -> Option<Arity>,
) -> Result<Vec<String>, ConfigFileError> {
    let line_of = |span: Range<usize>| text[..span.start.min(text.len())].matches('\n').count() + 1;
    let table: std::collections::BTreeMap<String, toml::Spanned<toml::Value>> =
        toml::from_str(text).map_err(|e| ConfigFileError::Syntax {
            path: path.to_path_buf(),
            line: e.span().map(line_of),
            message: e.message().trim().to_string(),
        })?;
    let mut entries: Vec<_> = table.into_iter().collect();
    entries.sort_by_key(|(_, value)| value.span().start);
    let mut flags = Vec::new();
    for (key, value) in entries {
        let line = line_of(value.span());
        let bad = |problem: &str| ConfigFileError::Key {
            path: path.to_path_buf(),
            line,
            key: key.clone(),
            problem: problem.to_string(),
        };
        let flag = key.replace('_', "-");
        if flag == "config" {
            return Err(bad("cannot name another file"));
        }
        let arity = arity(&flag).ok_or_else(|| bad(&format!("is not an option of `{command}`")))?;
        let name = format!("--{flag}");
        match (arity, value.into_inner()) {
            (Arity::Switch, toml::Value::Boolean(on)) => {
                if on {
                    flags.push(name);
                }
            }
            (Arity::Switch, _) => return Err(bad("is a switch: true or false")),
            (_, toml::Value::Boolean(_)) => {
                return Err(bad(
                    "takes a value (a string or a number), not true or false",
                ));
            }
            (Arity::One, toml::Value::Array(_)) => {
                return Err(bad("takes one value, not an array"));
            }
            (Arity::Many, toml::Value::Array(items)) => {
                for item in items {
                    let text = scalar(&item).ok_or_else(|| bad("must hold strings or numbers"))?;
                    flags.extend([name.clone(), text]);
                }
            }
            (_, value) => {
                let text = scalar(&value).ok_or_else(|| bad("must be a string or a number"))?;
                flags.extend([name, text]);
            }
        }
    }
    Ok(flags)
}

/// A string or number as a command-line value.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arity(flag: &str) -> Option<Arity> {
        match flag {
            "realtime" => Some(Arity::Switch),
            "threads" | "gate-dbfs" | "model" => Some(Arity::One),
            "webhook" => Some(Arity::Many),
            _ => None,
        }
    }

    fn flags(text: &str) -> Result<Vec<String>, ConfigFileError> {
        flags_from_str(text, Path::new("/etc/m.toml"), "stream", arity)
    }

    #[test]
    fn keys_become_flags_in_the_order_of_the_file() {
        let got = flags(
            "threads = 2\nmodel = \"/m.onnx\"\nrealtime = true\ngate_dbfs = -45.5\n\
             webhook = [\"http://a\", \"http://b\"]\n",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "--threads",
                "2",
                "--model",
                "/m.onnx",
                "--realtime",
                "--gate-dbfs",
                "-45.5",
                "--webhook",
                "http://a",
                "--webhook",
                "http://b"
            ]
        );
        assert!(flags("realtime = false\n").unwrap().is_empty());
        assert_eq!(
            flags("webhook = \"http://a\"\n").unwrap(),
            ["--webhook", "http://a"]
        );
    }

    #[test]
    fn a_bad_key_or_value_names_the_file_the_line_and_the_key() {
        let message = |text: &str| flags(text).unwrap_err().to_string();
        assert_eq!(
            message("threads = 2\n\n# the model\nmodle = \"x\"\n"),
            "/etc/m.toml, line 4: `modle` is not an option of `stream`"
        );
        assert_eq!(
            message("model = \"m\"\nthreads = [1, 2]\n"),
            "/etc/m.toml, line 2: `threads` takes one value, not an array"
        );
        assert_eq!(
            message("threads = { n = 1 }\n"),
            "/etc/m.toml, line 1: `threads` must be a string or a number"
        );
        assert_eq!(
            message("realtime = \"yes\"\n"),
            "/etc/m.toml, line 1: `realtime` is a switch: true or false"
        );
        assert!(message("threads = true\n").contains("line 1: `threads` takes a value"));
        assert!(message("webhook = [{ url = \"x\" }]\n").contains("must hold strings or numbers"));
        assert!(message("config = \"other.toml\"\n").contains("cannot name another file"));
    }

    #[test]
    fn a_file_that_is_not_toml_says_where_the_parser_stopped() {
        let err = flags("threads = 2\nmodel = \n").unwrap_err();
        let ConfigFileError::Syntax { line, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*line, Some(2), "{err}");
        assert!(
            err.to_string()
                .starts_with("/etc/m.toml, line 2: not TOML: "),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = read_flags(Path::new("/nonexistent/c.toml"), "stream", arity).unwrap_err();
        assert!(matches!(err, ConfigFileError::Read { .. }));
        assert_eq!(err.to_string(), "cannot read /nonexistent/c.toml");
    }
}
