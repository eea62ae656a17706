use clap::Parser;
use edge_infer::cli::{Cli, with_config_file};
use edge_infer::commands;
use edge_infer::error::{EXIT_OK, Error};

fn main() {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,tract_linalg=warn"),
    )
    .target(env_logger::Target::Stderr)
    .init();
    let args = match with_config_file(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(usage) => {
            let err = Error::from(usage);
            eprintln!("error: {}", err.report());
            std::process::exit(err.process_exit_code());
        }
    };
    let code = match commands::run(Cli::parse_from(args)) {
        Ok(()) => EXIT_OK,
        Err(err) => {
            eprintln!("error: {}", err.report());
            err.process_exit_code()
        }
    };
    std::process::exit(code);
}
