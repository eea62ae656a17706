//! One module per subcommand, each a leaf: what commands share lives below them (`config`,
//! `stream`, `capture`, `output`, `interrupt`), and nothing imports a command but [`run`].

mod bench;
mod classify;
mod devices;
mod health;
mod listen;
mod serve;
mod stream;

use crate::cli::{Cli, Command};
use crate::error::Error;

/// Runs a parsed command line: its arguments become a validated config, then the command runs.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Classify(args) => classify::run(&args.into_config()?),
        Command::Stream(args) => stream::run(&args.into_config()?),
        Command::Listen(args) => listen::run(&args.into_config()?),
        Command::Devices(args) => devices::run(&args.into_config()),
        Command::Bench(args) => bench::run(&args.into_config()?),
        Command::Serve(args) => serve::run(&args.into_config()?),
        Command::Health(args) => health::run(&args.into_config()?),
    }
}
