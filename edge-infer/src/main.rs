use clap::Parser;
use edge_infer::cli::Cli;
use edge_infer::commands;
use edge_infer::error::EXIT_OK;

fn main() {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,tract_linalg=warn"),
    )
    .target(env_logger::Target::Stderr)
    .init();
    let code = match commands::run(Cli::parse()) {
        Ok(()) => EXIT_OK,
        Err(err) => {
            eprintln!("error: {}", err.report());
            err.process_exit_code()
        }
    };
    std::process::exit(code);
}
