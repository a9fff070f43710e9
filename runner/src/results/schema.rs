//! The results schema: `latest.json`, `runs/<id>/run.json` and one file per finished cell.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::flags::Flag;
use crate::config::{LoadModel, Settings};

pub const RUN_SCHEMA: &str = "wasm-bench/run/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skipped,
    Failed,
}

impl Status {
    /// As in the JSON: "ok", "skipped", "failed".
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
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
    pub load_model: LoadModel,
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

