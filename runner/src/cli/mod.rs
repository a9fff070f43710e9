//! Command line: one subcommand, one file.

mod build;
mod check;
mod delay;
mod diagnose;
mod doctor;
mod export;
mod hostile;
mod install;
mod render;
mod run;
mod screenshot;
mod selftest;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "matrix",
    about = "What does it cost to run an HTTP server as WebAssembly, on which runtime, and why?"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the servers, run every cell of a matrix file, write JSON and the page.
    Run(run::Args),
    /// Build every server (each language, each listener bootstrap) without measuring.
    Build(build::Args),
    /// Start every runtime x mode found here and check that each answers every route correctly.
    Check(check::Args),
    /// Only the diagnosis pass of a matrix's servers: system calls, instructions, profiles.
    Diagnose(diagnose::Args),
    /// Re-render the page from saved JSON without measuring anything.
    Render(render::Args),
    /// Show each runtime and tool: found or not, version, path, modes, and how to fix what is missing.
    Doctor(doctor::Args),
    /// Install runtimes and tools into the project tools dir (pinned versions).
    Install(install::Args),
    /// A/A and A/B self-test: how small a difference this machine resolves.
    Selftest(selftest::Args),
    /// The first screen of a published page as a PNG, with the run it shows beside it.
    Screenshot(screenshot::Args),
    /// Export a run's figures (one row per cell and metric, with intervals): CSV, JSON, BMF.
    Export(export::Args),
    /// The hostile-clients generator (started by `run` for `model = "hostile"` loads).
    #[command(hide = true)]
    Hostile(hostile::Args),
    /// The link delayer (started by `run` inside the server's namespace for links with an RTT).
    #[command(hide = true)]
    Delay(delay::Args),
}

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Build(args) => build::run(args),
        Command::Render(args) => render::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Check(args) => check::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Install(args) => install::run(args),
        Command::Selftest(args) => selftest::run(args),
        Command::Export(args) => export::run(args),
        Command::Screenshot(args) => screenshot::run(args),
        Command::Hostile(args) => hostile::run(args),
        Command::Delay(args) => delay::run(args),
    }
}

/// Options shared by subcommands that read definitions.
#[derive(Debug, clap::Args, Clone)]
pub struct Common {
    /// Directory with runtime definitions.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("runtimes"))]
    pub runtimes: PathBuf,
    /// Project-local tools dir (k6, wasmtime, wasmer...).
    #[arg(long, default_value_os_t = crate::paths::tools_dir())]
    pub tools_dir: PathBuf,
}
