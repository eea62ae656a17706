//! Records the tract version from the workspace's Cargo.lock for `edge-infer bench`.

fn main() {
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
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
