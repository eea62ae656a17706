//! The README's quick start, read where a newcomer reads it: CI runs exactly these commands.

/// The commands of the first ```` ```sh ```` block under `## Quick start`.
pub fn quick_start(readme: &str) -> Result<Vec<String>, String> {
    let mut lines = readme
        .lines()
        .skip_while(|l| l.trim_end() != "## Quick start");
    if lines.next().is_none() {
        return Err("README.md has no `## Quick start` section".into());
    }
    let mut block = lines.skip_while(|l| !l.starts_with("```sh"));
    if block.next().is_none() {
        return Err("README.md's quick start has no ```sh block".into());
    }
    let mut commands = Vec::new();
    for line in block {
        if line.starts_with("```") {
            return Ok(commands);
        }
        if !line.trim().is_empty() {
            commands.push(line.trim().to_string());
        }
    }
    Err("README.md's quick start block is not closed".into())
}

/// `cargo build <args>` for `cargo run <args> -- <program args>`: what the command compiles.
pub fn build_of_run(command: &str) -> Result<Vec<String>, String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    if words.len() < 2 || words[0] != "cargo" || words[1] != "run" {
        return Err(format!("not a `cargo run` command: {command}"));
    }
    let mut build = vec!["build".to_string()];
    build.extend(
        words[2..]
            .iter()
            .take_while(|w| **w != "--")
            .map(|w| w.to_string()),
    );
    Ok(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_two_commands_of_the_project_readme() {
        let readme = std::fs::read_to_string(crate::cmd::workspace_root().join("README.md"))
            .expect("README.md");
        let quick = quick_start(&readme).unwrap();
        assert_eq!(quick.len(), 2, "{quick:?}");
        assert!(quick[0].starts_with("cargo run -p host-train -- nested-cv"));
        assert_eq!(quick[1], "cargo xtask test");
    }

    #[test]
    fn stops_at_the_block_and_refuses_a_missing_section() {
        let text = "# x\n## Quick start\n\nsome words\n```sh\na b\n\nc\n```\n```sh\nd\n```\n";
        assert_eq!(quick_start(text).unwrap(), ["a b", "c"]);
        assert!(quick_start("# x\n## Quick starts\n```sh\na\n```\n").is_err());
        assert!(quick_start("## Quick start\n```sh\na\n").is_err());
    }

    #[test]
    fn the_build_of_a_run_keeps_cargo_options_only() {
        assert_eq!(
            build_of_run("cargo run -p host-train -- nested-cv --data x").unwrap(),
            ["build", "-p", "host-train"]
        );
        assert!(build_of_run("cargo test").is_err());
    }
}
