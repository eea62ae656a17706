//! Records the tract version from the workspace's Cargo.lock for `edge-infer bench`.

fn main() {
    // Read at run time: a build script compiled for one checkout can be reused for another, and
    // `env!` would keep pointing at the first (found when a deleted CI clone left "unknown").
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let lock = std::path::Path::new(&manifest_dir).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let version = text
        .split("[[package]]")
        .find(|p| p.contains("name = \"tract-core\""))
        .and_then(|p| {
            p.lines()
                .find_map(|l| l.strip_prefix("version = \"")?.strip_suffix('"'))
        })
        .unwrap_or("unknown");
    println!("cargo:rustc-env=EDGE_INFER_TRACT_VERSION={version}");
}
