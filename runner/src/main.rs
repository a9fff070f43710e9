//! `matrix`: runs the WebAssembly server benchmark matrix. One subcommand per file in `cli/`.

mod artifacts;
mod charts;
mod cli;
mod conformance;
mod environment;
mod flags;
mod k6;
mod matrix;
mod measure;
mod paths;
mod probe;
mod process;
mod render;
mod results;
mod runtime;
mod setup;
mod workload;
mod wrk;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            process::stop_all();
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
