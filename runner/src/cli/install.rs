//! `matrix install <name>...`: puts pinned runtimes and tools into the project tools dir, trying each
//! definition's methods in order, and does nothing for what is already there.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::config::RuntimeDefs;
use crate::install::install;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runtimes or tools to install (e.g. k6 wasmtime wasmer wasmedge).
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Report a failure to install as a warning and go on (used by `make init` for optional runtimes).
    #[arg(long)]
    pub optional: bool,
    #[command(flatten)]
    pub common: super::Common,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let defs = RuntimeDefs::load(&args.common.runtimes)?;
    let mut failed = Vec::new();
    for name in &args.names {
        let def = defs.any(name).with_context(|| {
            let all: Vec<&str> = defs
                .runtimes()
                .chain(defs.tools())
                .map(|d| d.name.as_str())
                .collect();
            format!(
                "no definition named {name:?} in runtimes/ (valid: {})",
                all.join(", ")
            )
        })?;
        match install(def, &args.common.tools_dir) {
            Ok(path) => println!("{name}: {}", path.display()),
            Err(e) if args.optional => {
                eprintln!("warning: {name} not installed: {e:#}\n  cells that need {name} will be skipped; {}", def.install_hint);
                failed.push(name.clone());
            }
            Err(e) => bail!("{name}: {e:#}"),
        }
    }
    if !failed.is_empty() {
        eprintln!("not installed (optional): {}", failed.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
