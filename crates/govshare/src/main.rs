use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    govshare::cli::run(govshare::cli::Cli::parse())
}
