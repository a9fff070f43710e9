//! The results schema (`latest.json`, `runs/<id>/run.json`, one file per finished cell) and atomic
//! writing, so an interrupted or crashed run leaves only whole files behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::flags::Flag;
use crate::matrix::Settings;

pub const RUN_SCHEMA: &str = "wasm-bench/run/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skipped,
    Failed,
}

/// Every figure of a cell. `null` means "not measured" (skipped, failed before that point, or not
/// applicable), never zero.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    /// Requests per second in the measured window (median repeat).
    pub rps: Option<f64>,
    pub rps_min: Option<f64>,
    pub rps_max: Option<f64>,
    pub requests: Option<u64>,
    pub failed_rate: Option<f64>,
    /// Open model: requests the generator could not start at the offered rate.
    pub dropped: Option<u64>,
    pub avg_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub blocked_avg_ms: Option<f64>,
    pub connecting_avg_ms: Option<f64>,
    pub sending_avg_ms: Option<f64>,
    pub waiting_avg_ms: Option<f64>,
    pub receiving_avg_ms: Option<f64>,
    pub receiving_p95_ms: Option<f64>,
    /// Peak resident memory of the server process tree (KiB).
    pub rss_peak_kb: Option<u64>,
    /// RSS once the server answered its first request, before load.
    pub rss_idle_kb: Option<u64>,
    /// RSS at the end of the load.
    pub rss_end_kb: Option<u64>,
    /// Server CPU over the measured windows (100 = one core busy).
    pub server_cpu_pct: Option<f64>,
    pub server_cpu_user_s: Option<f64>,
    pub server_cpu_sys_s: Option<f64>,
    /// Server CPU spent outside its busiest thread (100 = one core), e.g. a runtime's I/O thread.
    pub server_other_threads_cpu_pct: Option<f64>,
    /// Context switches of all server threads per completed request.
    pub server_switches_per_request: Option<f64>,
    /// Server CPU time per completed request (µs): the cost of a request, meaningful even when
    /// the generator, not the server, limited req/s.
    pub server_cpu_us_per_request: Option<f64>,
    /// Generator CPU over its run, as a share of its pinned CPUs (100 = all of them busy).
    pub generator_cpu_pct: Option<f64>,
    /// Launch to first correct response.
    pub startup_ms: Option<f64>,
    /// Latency of the first request (cold) and of a later single request (warm).
    pub first_request_ms: Option<f64>,
    pub warm_request_ms: Option<f64>,
    /// Size of the file the runtime loads (native binary, .wasm).
    pub artifact_bytes: Option<u64>,
    /// Native binaries only: the size once stripped of symbols (what one would ship).
    pub artifact_stripped_bytes: Option<u64>,
    /// Size of a prepared artifact (AOT / precompiled) when the mode has one.
    pub prepared_bytes: Option<u64>,
    /// Time the mode's prepare step took (0 when it came from the cache).
    pub prepare_ms: Option<f64>,
}

/// One cell's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CellResult {
    pub index: usize,
    pub id: String,
    pub server: String,
    /// Rust target triple (or "host") of the artifact.
    pub target: String,
    /// What the build changed beyond the shared source (a runtime-bug workaround), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_note: Option<String>,
    pub runtime: String,
    pub mode: String,
    pub mode_about: String,
    pub write: String,
    pub workload: String,
    pub load: String,
    pub load_model: String,
    /// k6 or wrk.
    pub generator: String,
    /// VUs (closed), VU pool (open) or connections (peak).
    pub concurrency: u32,
    /// Open model: requests per second offered.
    pub offered_rps: Option<u32>,
    pub status: Status,
    pub reason: Option<String>,
    pub runtime_version: Option<String>,
    /// The exact server command (before CPU pinning).
    pub command: Vec<String>,
    pub metrics: Metrics,
    pub flags: Vec<Flag>,
    /// req/s of each repeat.
    pub repeats_rps: Vec<f64>,
    /// Measurement stopped early (interrupt, server death): figures cover only what finished.
    pub partial: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    pub cpu_model: String,
    pub cpus: usize,
    pub kernel: String,
    pub rustc: String,
    pub git_commit: String,
    pub hostname: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolInfo {
    pub version: Option<String>,
    pub path: Option<String>,
    /// Why it is unusable, when it is.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Timing {
    pub wall_s: f64,
    /// Time inside load-generator runs (warm-up plus measured windows).
    pub load_s: f64,
    pub build_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub schema: String,
    pub run_id: String,
    pub started: String,
    pub finished: Option<String>,
    /// False when the run was interrupted: the cells are what it measured.
    pub complete: bool,
    pub matrix_file: String,
    pub command: String,
    pub settings: Settings,
    pub environment: Environment,
    pub tools: BTreeMap<String, ToolInfo>,
    pub cells: Vec<CellResult>,
    pub timing: Timing,
}

/// Writes `value` as pretty JSON to `path` through a temporary file and a rename.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_atomic(path, text.as_bytes())
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
}

/// Layout of one run's directory.
pub struct RunDir {
    pub dir: PathBuf,
}

impl RunDir {
    pub fn new(out: &Path, run_id: &str) -> RunDir {
        RunDir {
            dir: out.join("runs").join(run_id),
        }
    }
    pub fn cells_dir(&self) -> PathBuf {
        self.dir.join("cells")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }
    pub fn cell_file(&self, cell: &CellResult) -> PathBuf {
        self.cells_dir().join(format!(
            "{:03}-{}.json",
            cell.index,
            cell.id.replace('/', "_")
        ))
    }
    pub fn run_file(&self) -> PathBuf {
        self.dir.join("run.json")
    }
    /// The run header (settings, environment) written before the first cell, so a partial run can
    /// be rendered.
    pub fn header_file(&self) -> PathBuf {
        self.dir.join("header.json")
    }
}

/// Reads a run: its `run.json` when complete, otherwise its header plus every finished cell file.
pub fn load_run_dir(dir: &Path) -> Result<Run> {
    let run_file = dir.join("run.json");
    if run_file.exists() {
        return read_run(&run_file);
    }
    let header = dir.join("header.json");
    let mut run = read_run(&header).with_context(|| {
        format!(
            "{} has neither run.json nor a readable header.json",
            dir.display()
        )
    })?;
    let mut cells = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("cells")) {
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path)?;
            cells.push(
                serde_json::from_str::<CellResult>(&text)
                    .with_context(|| format!("{} is not a cell result", path.display()))?,
            );
        }
    }
    run.cells = cells;
    run.complete = false;
    Ok(run)
}

pub fn read_run(path: &Path) -> Result<Run> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let run: Run = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a run of schema {RUN_SCHEMA}", path.display()))?;
    Ok(run)
}

/// Median of non-empty values.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.json");
        write_json_atomic(&path, &serde_json::json!({"x": 1})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            "{\n  \"x\": 1\n}"
        );
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
