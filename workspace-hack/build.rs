// Empty: a build script, so that the [build-dependencies] of this crate take part in the
// resolution of proc-macro and build-script features.
fn main() {}
