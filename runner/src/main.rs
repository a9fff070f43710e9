//! `matrix`: runs the WebAssembly server benchmark matrix. Parses the command line, dispatches to
//! one subcommand of `runner::cli`, and exits with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = runner::cli::Cli::parse();
    match runner::cli::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            runner::sys::process::stop_all();
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
