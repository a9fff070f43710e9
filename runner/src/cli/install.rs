//! `matrix install <name>...`: puts pinned runtimes and tools into the project tools dir, trying each
//! definition's methods in order, and does nothing for what is already there.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::config::RuntimeDefs;
use crate::install::install;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runtimes or tools to install (e.g. k6 wasmtime wasmer wasmedge).
    #[arg(required_unless_present = "for_matrix")]
    pub names: Vec<String>,
    /// Install what this matrix file's cells use (its runtimes, generators, and Go for Go
    /// servers) and nothing else; what fails to install is a warning (its cells are skipped).
    #[arg(long = "for", value_name = "MATRIX")]
    pub for_matrix: Option<std::path::PathBuf>,
    /// Report a failure to install as a warning and go on (used by `make init` for optional runtimes).
    #[arg(long)]
    pub optional: bool,
    #[command(flatten)]
    pub common: super::Common,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let defs = RuntimeDefs::load(&args.common.runtimes)?;
    let mut failed = Vec::new();
    let mut names = args.names.clone();
    let optional = args.optional || args.for_matrix.is_some();
    if let Some(path) = &args.for_matrix {
        let matrix = crate::config::Matrix::load(path, &defs)?;
        names.extend(needed(&matrix, &defs));
        eprintln!("{} uses: {}", path.display(), names.join(", "));
    }
    for name in &names {
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
        let started = std::time::Instant::now();
        match install(def, &args.common.tools_dir) {
            Ok(path) => println!(
                "{name}: {} ({:.0} s)",
                path.display(),
                started.elapsed().as_secs_f64()
            ),
            Err(e) if optional => {
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

/// What a matrix's cells need installed: each runtime with a binary, each load's generator, and
/// the Go toolchain when a Go server is built.
fn needed(matrix: &crate::config::Matrix, defs: &RuntimeDefs) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for cell in &matrix.cells {
        if defs.get(&cell.runtime).is_some_and(|d| d.binary.is_some()) {
            names.insert(cell.runtime.clone());
        }
        names.insert(cell.load.generator().name().to_string());
        if cell.server == "go" {
            names.insert("go".to_string());
        }
    }
    names.into_iter().collect()
}
