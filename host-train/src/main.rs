use clap::Parser;
use host_train::cli::{Cli, EXIT_OK, run};

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let command = std::iter::once("host-train".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let code = match run(Cli::parse(), command) {
        Ok(()) => EXIT_OK,
        Err(err) => {
            eprintln!("error: {}", err.report());
            err.process_exit_code()
        }
    };
    std::process::exit(code);
}
