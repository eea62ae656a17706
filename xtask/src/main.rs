fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = xtask::run(&args) {
        eprintln!("xtask: {e}");
        std::process::exit(e.process_exit_code());
    }
}
