//! `--config FILE` for every subcommand: the file's options, read by the loader both binaries
//! share ([`cry_core::config_file`]), go in front of the command line's, so a flag given there
//! overrides the file.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, CommandFactory};
use cry_core::config_file::{self, Arity};

use super::Cli;
use crate::error::UsageError;

/// `--config`, which every subcommand takes.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// TOML file of this command's options, named as the flags without the leading dashes
    /// (`model = "/var/lib/edge-infer/cry.onnx"`, `ha_discovery = true`, `webhook = ["...",
    /// "..."]`); flags on the command line override it. A key that is no option of the
    /// command is an error naming its line.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The command line with the options of its `--config FILE` spliced in right after the
/// subcommand, so the flags written on the command line, which come later, override them.
pub fn with_config_file(args: Vec<OsString>) -> Result<Vec<OsString>, UsageError> {
    let Some(sub) = args.get(1).and_then(|a| a.to_str()) else {
        return Ok(args);
    };
    let command = Cli::command();
    let Some(sub_command) = command.find_subcommand(sub) else {
        return Ok(args);
    };
    let mut path = None;
    for (i, a) in args.iter().enumerate().skip(2) {
        let Some(a) = a.to_str() else { continue };
        if a == "--" {
            break;
        }
        if let Some(p) = a.strip_prefix("--config=") {
            path = Some(PathBuf::from(p));
        } else if a == "--config" {
            path = args.get(i + 1).map(PathBuf::from);
        }
    }
    let Some(path) = path else {
        return Ok(args);
    };
    let arity = |flag: &str| {
        let arg = sub_command
            .get_arguments()
            .find(|a| a.get_long() == Some(flag))?;
        Some(match arg.get_action() {
            ArgAction::SetTrue => Arity::Switch,
            ArgAction::Append => Arity::Many,
            _ => Arity::One,
        })
    };
    let flags = config_file::read_flags(&path, sub, arity).map_err(|e| {
        let mut message = format!("--config {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        UsageError(message)
    })?;
    let mut out = args[..2].to_vec();
    out.extend(flags.into_iter().map(OsString::from));
    out.extend(args[2..].iter().cloned());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn file_options_come_first_so_flags_override_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("edge-infer.toml");
        std::fs::write(
            &file,
            "model = \"/m.onnx\"\nthreads = 2\ngate_dbfs = -45.5\nha_discovery = true\nrealtime = false\nmqtt = \"mqtt://h/p\"\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let out = with_config_file(args(&[
            "edge-infer",
            "stream",
            "--config",
            f,
            "--input",
            "a.wav",
            "--threads",
            "4",
        ]))
        .unwrap();
        let text: Vec<&str> = out.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(&text[..2], ["edge-infer", "stream"],);
        let mut file_part: Vec<&str> = text[2..text.len() - 6].to_vec();
        file_part.sort_unstable();
        let mut want = vec![
            "--model",
            "/m.onnx",
            "--threads",
            "2",
            "--gate-dbfs",
            "-45.5",
            "--ha-discovery",
            "--mqtt",
            "mqtt://h/p",
        ];
        want.sort_unstable();
        assert_eq!(file_part, want);
        let cli = Cli::try_parse_from(&out).unwrap();
        let Command::Stream(stream) = cli.command else {
            panic!("stream")
        };
        assert_eq!(
            stream.pipeline.model.threads,
            Some(4),
            "the command line wins"
        );
        assert_eq!(stream.pipeline.model.model, PathBuf::from("/m.onnx"));
        assert_eq!(stream.pipeline.detector.gate_dbfs, -45.5);
        assert!(!stream.realtime);
    }

    #[test]
    fn an_array_gives_a_repeatable_flag_once_per_item() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("edge-infer.toml");
        std::fs::write(
            &file,
            "webhook = [\"https://ntfy.sh/nursery\", \"http://127.0.0.1:9/hook\"]\n",
        )
        .unwrap();
        let out = with_config_file(args(&[
            "edge-infer",
            "stream",
            "--config",
            file.to_str().unwrap(),
            "--input",
            "a.wav",
            "--model",
            "m.onnx",
        ]))
        .unwrap();
        let Command::Stream(stream) = Cli::try_parse_from(&out).unwrap().command else {
            panic!("stream")
        };
        assert_eq!(
            stream.pipeline.webhooks.webhook,
            ["https://ntfy.sh/nursery", "http://127.0.0.1:9/hook"]
        );
        std::fs::write(&file, "webhook = [{ url = \"x\" }]\n").unwrap();
        let err = with_config_file(args(&[
            "edge-infer",
            "stream",
            "--config",
            file.to_str().unwrap(),
        ]))
        .unwrap_err();
        assert!(
            err.0.contains("`webhook` must hold strings or numbers"),
            "{}",
            err.0
        );
    }

    #[test]
    fn every_subcommand_takes_a_file_and_a_bad_key_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        let f = file.to_str().unwrap().to_string();
        let run = |sub: &str, text: &str| {
            std::fs::write(&file, text).unwrap();
            with_config_file(args(&["edge-infer", sub, "--config", &f]))
        };
        let err = run("listen", "threads = 2\n\nmodle = \"x\"\n")
            .unwrap_err()
            .0;
        assert_eq!(
            err,
            format!("--config {f}, line 3: `modle` is not an option of `listen`")
        );
        let err = run("serve", "http = \"127.0.0.1:8080\"\nthreads = [1, 2]\n")
            .unwrap_err()
            .0;
        assert!(
            err.ends_with("line 2: `threads` takes one value, not an array"),
            "{err}"
        );
        let err = run("stream", "realtime = \"yes\"\n").unwrap_err().0;
        assert!(
            err.ends_with("line 1: `realtime` is a switch: true or false"),
            "{err}"
        );
        let err = run("stream", "threads = \n").unwrap_err().0;
        assert!(err.contains("line 1: not TOML"), "{err}");
        // classify, bench and devices read one too.
        let out = run("classify", "threads = 3\nmodel = \"/m.onnx\"\n").unwrap();
        let mut with_file = out.clone();
        with_file.push("a.wav".into());
        let Command::Classify(classify) = Cli::try_parse_from(&with_file).unwrap().command else {
            panic!("classify")
        };
        assert_eq!(classify.model.threads, Some(3));
        assert_eq!(classify.model.model, PathBuf::from("/m.onnx"));
        assert!(run("devices", "json = true\n").is_ok());
        let err = run("devices", "model = \"m\"\n").unwrap_err().0;
        assert!(
            err.contains("`model` is not an option of `devices`"),
            "{err}"
        );
        let err = with_config_file(args(&[
            "edge-infer",
            "bench",
            "--config",
            "/nonexistent.toml",
        ]))
        .unwrap_err()
        .0;
        assert!(
            err.starts_with("--config cannot read /nonexistent.toml: "),
            "{err}"
        );
        // Command lines without --config pass through untouched.
        let plain = args(&["edge-infer", "classify", "a.wav"]);
        assert_eq!(with_config_file(plain.clone()).unwrap(), plain);
    }
}
