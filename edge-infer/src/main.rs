fn main() {
    eprintln!(
        "edge-infer: not implemented yet (models run at {} Hz); see the README's status section",
        edge_infer::MODEL_SAMPLE_RATE_HZ
    );
    std::process::exit(1);
}
