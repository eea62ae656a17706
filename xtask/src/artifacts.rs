//! What a cargo build produced, from its `--message-format=json` output, and whether a second
//! build reuses the first one's dependencies.
//!
//! Cargo reports every artifact a build uses, fresh or compiled, with file names that carry the
//! hash of the features and profile it was built with. Two builds that give one dependency
//! different features report different file names for it: that is a dependency compiled twice,
//! whatever the build directory already holds.

use std::collections::BTreeMap;

use crate::json;

/// One `compiler-artifact` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub package_id: String,
    /// The target's kinds joined (`lib`, `proc-macro`, `custom-build`, `bin`, `test`).
    pub kind: String,
    pub name: String,
    pub filenames: Vec<String>,
    pub executable: Option<String>,
    /// Whether cargo reused it rather than compiling it in this build.
    pub fresh: bool,
}

impl Artifact {
    /// A crate of this workspace (a path dependency), not one from a registry.
    pub fn is_workspace(&self) -> bool {
        self.package_id.starts_with("path+file://")
    }

    /// `name@version`, from either form of package id cargo has used.
    pub fn package(&self) -> String {
        package_name(&self.package_id)
    }

    fn key(&self) -> (String, String, String) {
        (
            self.package_id.clone(),
            self.kind.clone(),
            self.name.clone(),
        )
    }
}

/// `serde@1.0.229` from `registry+https://...#serde@1.0.229` or `serde 1.0.229 (registry+...)`.
pub fn package_name(id: &str) -> String {
    if let Some((_, tail)) = id.rsplit_once('#') {
        // `path+file:///x/cry-core#0.1.0` names the package by its folder.
        if tail.contains('@') {
            return tail.to_string();
        }
        let folder = id[..id.len() - tail.len() - 1]
            .rsplit('/')
            .next()
            .unwrap_or(id);
        return format!("{folder}@{tail}");
    }
    let mut words = id.split_whitespace();
    match (words.next(), words.next()) {
        (Some(n), Some(v)) => format!("{n}@{v}"),
        _ => id.to_string(),
    }
}

/// The `compiler-artifact` messages of cargo's JSON output; other lines are passed over.
pub fn read(messages: &str) -> Result<Vec<Artifact>, String> {
    let mut out = Vec::new();
    for (n, line) in messages.lines().enumerate() {
        if !line.starts_with('{') {
            continue;
        }
        let v = json::parse(line).map_err(|e| format!("cargo message line {}: {e}", n + 1))?;
        if v.str_at("reason") != Some("compiler-artifact") {
            continue;
        }
        let target = v.get("target");
        out.push(Artifact {
            package_id: v.str_at("package_id").unwrap_or_default().to_string(),
            kind: target
                .map(|t| t.strs_at("kind").join(","))
                .unwrap_or_default(),
            name: target
                .and_then(|t| t.str_at("name"))
                .unwrap_or_default()
                .to_string(),
            filenames: v
                .strs_at("filenames")
                .iter()
                .map(|s| s.to_string())
                .collect(),
            executable: v.str_at("executable").map(str::to_string),
            fresh: v.get("fresh") == Some(&json::Value::Bool(true)),
        });
    }
    Ok(out)
}

/// A dependency that two builds built differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub package: String,
    pub kind: String,
    pub first: Vec<String>,
    pub second: Vec<String>,
}

/// What the second build did with the first one's dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reuse {
    /// Dependency artifacts both builds use, identical.
    pub shared: usize,
    /// Dependency artifacts only the second build uses (dev-dependencies, say).
    pub only_second: Vec<String>,
    /// Dependencies both use but built differently: each would be compiled again.
    pub splits: Vec<Split>,
    /// Dependencies both use, identical, that the second build compiled again all the same
    /// (a build script that reruns when the environment differs): when the second build runs
    /// right after the first, there must be none.
    pub rebuilt: Vec<String>,
}

/// Compares the registry dependencies of two builds (workspace crates are left out: a fresh
/// clone compiles them anyway). One build may hold a crate twice, for the target and for build
/// scripts and proc macros with other features: an artifact of the second build is shared when
/// the first built any of its variants with the same files.
pub fn reuse(first: &[Artifact], second: &[Artifact]) -> Reuse {
    type Key = (String, String, String);
    let mut built: BTreeMap<Key, Vec<&Artifact>> = BTreeMap::new();
    for a in first.iter().filter(|a| !a.is_workspace()) {
        built.entry(a.key()).or_default().push(a);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut r = Reuse::default();
    for art in second.iter().filter(|a| !a.is_workspace()) {
        if !seen.insert((art.key(), art.filenames.clone())) {
            continue;
        }
        match built.get(&art.key()) {
            Some(variants) if variants.iter().any(|v| v.filenames == art.filenames) => {
                r.shared += 1;
                if !art.fresh {
                    r.rebuilt.push(format!("{} ({})", art.package(), art.kind));
                }
            }
            Some(variants) => r.splits.push(Split {
                package: art.package(),
                kind: art.kind.clone(),
                first: variants.iter().flat_map(|v| v.filenames.clone()).collect(),
                second: art.filenames.clone(),
            }),
            None => r
                .only_second
                .push(format!("{} ({})", art.package(), art.kind)),
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, kind: &str, name: &str, file: &str, fresh: bool) -> String {
        format!(
            r#"{{"reason":"compiler-artifact","package_id":"{id}","target":{{"kind":["{kind}"],"name":"{name}"}},"filenames":["{file}"],"executable":null,"fresh":{fresh}}}"#
        )
    }

    const LIBC: &str = "registry+https://github.com/rust-lang/crates.io-index#libc@0.2.191";
    const BURN: &str = "registry+https://github.com/rust-lang/crates.io-index#burn@0.22.1";
    const RCGEN: &str = "registry+https://github.com/rust-lang/crates.io-index#rcgen@0.14.10";
    const CORE: &str = "path+file:///work/main/cry-core#0.1.0";

    #[test]
    fn names_packages_in_both_id_forms() {
        assert_eq!(package_name(LIBC), "libc@0.2.191");
        assert_eq!(package_name(CORE), "cry-core@0.1.0");
        assert_eq!(
            package_name("libc 0.2.191 (registry+https://github.com/rust-lang/crates.io-index)"),
            "libc@0.2.191"
        );
    }

    #[test]
    fn same_features_are_reused_and_test_only_crates_are_listed() {
        let first = [
            msg(LIBC, "lib", "libc", "/t/liblibc-aaaa.rlib", false),
            msg(BURN, "lib", "burn", "/t/libburn-bbbb.rlib", false),
            msg(CORE, "lib", "cry_core", "/t/libcry_core-1111.rlib", false),
        ]
        .join("\n");
        let second = [
            "   Compiling rcgen v0.14.10".to_string(),
            msg(LIBC, "lib", "libc", "/t/liblibc-aaaa.rlib", true),
            msg(BURN, "lib", "burn", "/t/libburn-bbbb.rlib", true),
            msg(RCGEN, "lib", "rcgen", "/t/librcgen-cccc.rlib", false),
            // Workspace crates differ between builds (tests); they never count as splits.
            msg(CORE, "lib", "cry_core", "/t/libcry_core-2222.rlib", false),
            r#"{"reason":"build-finished","success":true}"#.to_string(),
        ]
        .join("\n");
        let r = reuse(&read(&first).unwrap(), &read(&second).unwrap());
        assert_eq!(r.shared, 2);
        assert_eq!(r.only_second, ["rcgen@0.14.10 (lib)"]);
        assert!(r.splits.is_empty());
        assert!(r.rebuilt.is_empty());
    }

    #[test]
    fn an_identical_dependency_compiled_again_is_reported() {
        let first = msg(LIBC, "lib", "libc", "/t/liblibc-aaaa.rlib", false);
        let second = msg(LIBC, "lib", "libc", "/t/liblibc-aaaa.rlib", false);
        let r = reuse(&read(&first).unwrap(), &read(&second).unwrap());
        assert_eq!(r.shared, 1);
        assert_eq!(r.rebuilt, ["libc@0.2.191 (lib)"]);
    }

    #[test]
    fn a_dependency_with_other_features_is_a_split() {
        let first = msg(LIBC, "lib", "libc", "/t/liblibc-aaaa.rlib", false);
        let second = msg(LIBC, "lib", "libc", "/t/liblibc-ffff.rlib", false);
        let r = reuse(&read(&first).unwrap(), &read(&second).unwrap());
        assert_eq!(r.shared, 0);
        assert_eq!(
            r.splits,
            [Split {
                package: "libc@0.2.191".into(),
                kind: "lib".into(),
                first: vec!["/t/liblibc-aaaa.rlib".into()],
                second: vec!["/t/liblibc-ffff.rlib".into()],
            }]
        );
    }

    #[test]
    fn a_crate_built_twice_in_one_build_matches_either_variant() {
        // half for the target (with serde) and for a build script (without), in one build.
        let first = [
            msg(LIBC, "lib", "libc", "/t/liblibc-target.rlib", false),
            msg(LIBC, "lib", "libc", "/t/liblibc-host.rlib", false),
        ]
        .join("\n");
        let second = msg(LIBC, "lib", "libc", "/t/liblibc-target.rlib", true);
        let r = reuse(&read(&first).unwrap(), &read(&second).unwrap());
        assert_eq!((r.shared, r.splits.len()), (1, 0));
        let other = msg(LIBC, "lib", "libc", "/t/liblibc-other.rlib", true);
        let r = reuse(&read(&first).unwrap(), &read(&other).unwrap());
        assert_eq!(r.splits.len(), 1);
        assert_eq!(
            r.splits[0].first,
            ["/t/liblibc-target.rlib", "/t/liblibc-host.rlib"]
        );
    }

    #[test]
    fn a_broken_message_is_an_error_naming_its_line() {
        let err = read("{\"reason\":\"compiler-artifact\"}\n{\"reason\": ").unwrap_err();
        assert!(err.starts_with("cargo message line 2:"), "{err}");
    }
}
