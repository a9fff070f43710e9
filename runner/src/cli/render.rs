//! `matrix render`: the page from saved JSON (`latest.json`, or a run directory, even an
//! interrupted one), so a template edit needs no new measurement.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Results directory holding latest.json; the page is written there.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("results"))]
    pub out: PathBuf,
    /// Render this run directory (results/runs/<id>) instead of latest.json; works for partial runs.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Templates directory.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("templates"))]
    pub templates: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let run = match &args.run {
        Some(dir) => crate::results::load_run_dir(dir)?,
        None => {
            let latest = args.out.join("latest.json");
            if !latest.exists() {
                anyhow::bail!("{} does not exist: run `make matrix` first, or pass --run results/runs/<id> for a partial run", latest.display());
            }
            crate::results::read_run(&latest)?
        }
    };
    let written = crate::report::render_all(&args.templates, &run, &args.out)
        .context("rendering the results page")?;
    for path in written {
        println!("wrote {}", path.display());
    }
    if args.run.is_none() {
        crate::report::readme::quote_if_repository_results(&args.out, &run)?;
    }
    Ok(ExitCode::SUCCESS)
}
