//! `matrix export`: a run's figures for other tools (CSV, JSON, BMF), to stdout or a file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::export::{rows, write, Format};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    pub format: Format,
    /// Results directory holding latest.json.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("results"))]
    pub out: PathBuf,
    /// Export this run directory (results/runs/<id>) instead of latest.json.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Write here instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let run = match &args.run {
        Some(dir) => crate::results::load_run_dir(dir)?,
        None => crate::results::read_run(&args.out.join("latest.json"))
            .context("run `make matrix` first, or pass --run results/runs/<id>")?,
    };
    let out = match &args.run {
        Some(dir) => dir
            .parent()
            .and_then(|p| p.parent())
            .unwrap_or(&args.out)
            .to_path_buf(),
        None => args.out.clone(),
    };
    let (analysis, _) = crate::published::analysis_of(&out, &run);
    let text = write(args.format, &rows(&run, &analysis))?;
    match &args.output {
        Some(path) => crate::results::write_atomic(path, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
