//! A mode's prepare step (AOT compile), run once per artifact content, runtime version and mode;
//! later cells and later runs reuse the file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::error::CellError;
use crate::config::Placeholders;

/// One prepare step, as a runtime mode defines it for one artifact.
pub struct PrepareStep<'a> {
    pub runtime: &'a str,
    pub mode: &'a str,
    /// argv template; `{prepared}` is where the step writes its output.
    pub argv: &'a [String],
    pub artifact: &'a Path,
    pub runtime_version: Option<&'a str>,
    pub cache_dir: &'a Path,
    pub log: PathBuf,
}

/// A prepared artifact: where it is and how long making it took (0 when it came from the cache).
pub struct Prepared {
    pub path: PathBuf,
    pub ms: f64,
}

/// Runs the step unless its result is cached; `None` for modes without one.
pub fn prepare(step: &PrepareStep, vars: &Placeholders) -> Result<Option<Prepared>, CellError> {
    if step.argv.is_empty() {
        return Ok(None);
    }
    let hash = crate::build::sizes::content_hash(step.artifact).map_err(CellError::setup)?;
    let version = step.runtime_version.unwrap_or("unknown");
    let prepared = step.cache_dir.join(format!(
        "{}-{}-{}-{}.bin",
        step.runtime, version, step.mode, hash
    ));
    if prepared.is_file() {
        return Ok(Some(Prepared {
            path: prepared,
            ms: 0.0,
        }));
    }
    std::fs::create_dir_all(step.cache_dir).map_err(|e| {
        CellError::Setup(format!("cannot create {}: {e}", step.cache_dir.display()))
    })?;
    let partial = prepared.with_extension("partial");
    let mut vars = vars.clone();
    vars.set("prepared", partial.display().to_string());
    let argv = vars
        .expand_all(step.argv)
        .map_err(|e| CellError::Setup(format!("runtimes/{}.toml prepare: {e}", step.runtime)))?;
    let start = Instant::now();
    let out = std::fs::File::create(&step.log).map_err(|e| CellError::Setup(e.to_string()))?;
    let status = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(
            out.try_clone()
                .map_err(|e| CellError::Setup(e.to_string()))?,
        )
        .stderr(out)
        .status()
        .map_err(|e| CellError::Setup(format!("cannot run {}: {e}", argv.join(" "))))?;
    if !status.success() || !partial.is_file() {
        return Err(CellError::PrepareFailed {
            argv: argv.join(" "),
            log: crate::sys::log_tail(&step.log, 5),
        });
    }
    std::fs::rename(&partial, &prepared).map_err(|e| CellError::Setup(e.to_string()))?;
    Ok(Some(Prepared {
        path: prepared,
        ms: start.elapsed().as_secs_f64() * 1000.0,
    }))
}
