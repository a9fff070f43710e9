//! The results schema: `latest.json`, `runs/<id>/run.json` and one file per finished cell.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::flags::Flag;
use super::records::Estimate;
use crate::config::{LoadModel, Settings};

/// 2: cells carry what was measured (`measured`: windows, launches, failure), from which every
/// figure is derived; 1 had the figures only.
pub const RUN_SCHEMA: &str = "wasm-bench/run/2";

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
    /// Only where the median round's window had enough requests for it (10 beyond it: 10,000).
    #[serde(default)]
    pub p999_ms: Option<f64>,
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
    /// Median over windows of the share (%) of the machine's CPU time the hypervisor stole: a
    /// virtual machine's CPUs paused while they had work, which no generator can tell from a slow
    /// server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal_pct: Option<f64>,
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
    /// The build it runs, "server/kind" (the key of its image in the run's `images`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    pub runtime: String,
    /// The release the matrix entry's `versions` asked for; absent: the pinned one (or the
    /// override). `runtime_version` is what the binary reported either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub mode: String,
    pub mode_about: String,
    /// What limits the mode under many connections (its runtime definition's `connection_limits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode_limits: Option<String>,
    /// A container cell's direct counterpart, "runtime/mode" (e.g. "wasmtime/default").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct: Option<String>,
    pub write: String,
    pub workload: String,
    /// What the workload is, as its server's workloads file says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_about: Option<String>,
    pub load: String,
    pub load_model: LoadModel,
    /// k6 or wrk.
    pub generator: String,
    /// VUs (closed), VU pool (open) or connections (peak).
    pub concurrency: u32,
    /// Open model: requests per second offered.
    pub offered_rps: Option<u32>,
    /// Peak model: requests pipelined per connection, when more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<u32>,
    /// Open model offering a share of a peak: which share, of which load, in which curve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Share>,
    /// The link this cell's load ran over (matrices with `links`): its label, RTT and rate, and the
    /// `[[load]]` name before the link was added to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkResult>,
    /// A point of a connection sweep: the `[[load]]` name its counts expanded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<String>,
    pub status: Status,
    pub reason: Option<String>,
    pub runtime_version: Option<String>,
    /// The exact server command (before CPU pinning).
    pub command: Vec<String>,
    /// What was measured: windows, launches, memory, how it failed. Every figure below is derived
    /// from this by `analysis`.
    #[serde(default)]
    pub measured: super::measured::Measured,
    pub metrics: Metrics,
    pub flags: Vec<Flag>,
    /// req/s of each round, in round order.
    pub repeats_rps: Vec<f64>,
    /// Measurement stopped early (interrupt, server death): figures cover only what finished.
    pub partial: bool,
    /// The figures of each round's window.
    #[serde(default)]
    pub rounds: Vec<RoundFigures>,
    /// Median, 95% interval and CV over rounds of the figures cells are compared by.
    #[serde(default)]
    pub estimates: Estimates,
    /// Open-model windows set aside because the hypervisor stole more than the run's
    /// `steal_limit_pct` inside them, each replaced by a later window of the same round that it did
    /// not disturb (`remeasured` on that round), or measured again without success.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disturbed: Vec<RoundFigures>,
    /// req/s and CPU per request relative to the baseline cell (native current-thread of the same
    /// server language, workload, load and write strategy), paired by round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<Ratio>,
}

/// A point of a latency-against-load curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Share {
    /// The `[[load]]` name the shares expanded from.
    pub curve: String,
    pub share: f64,
    /// The peak load whose req/s it offers a share of.
    pub of: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LinkResult {
    pub label: String,
    pub rtt_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    pub load: String,
}

/// What one round's window measured for a cell.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RoundFigures {
    pub round: u32,
    /// Open model: the rate offered in this round (a share of a peak varies by round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_rps: Option<f64>,
    pub rps: f64,
    pub requests: u64,
    pub window_s: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub server_cpu_pct: Option<f64>,
    pub server_cpu_us_per_request: Option<f64>,
    pub generator_cpu_pct: Option<f64>,
    /// Share (%) of the machine's CPU time stolen by the hypervisor inside the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal_pct: Option<f64>,
    /// Measured after the rounds, in place of this round's window that the host disturbed (the
    /// disturbed one is in the cell's `disturbed`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remeasured: bool,
}

/// Estimates over rounds (`null` when not measured).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Estimates {
    pub rps: Option<Estimate>,
    pub server_cpu_us_per_request: Option<Estimate>,
    pub p50_ms: Option<Estimate>,
    pub p99_ms: Option<Estimate>,
}

/// One open load's generator floor: the p99 it reports against the native baseline (native
/// current-thread) in the same rounds, an upper bound on what the generator adds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GeneratorFloor {
    pub load: String,
    pub generator: String,
    /// Median over rounds of the baseline's p99.
    pub floor_ms: f64,
    /// The baseline cell it comes from.
    pub baseline: String,
}

/// A cell against its baseline, round by round.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ratio {
    /// The baseline cell's id.
    pub baseline: String,
    /// req/s over the baseline's req/s in the same round (none for an open load: its rate is
    /// fixed, so its req/s says nothing about the server).
    pub rps: Option<Estimate>,
    /// Where the generator, not the server, limited one side's req/s, the multiple is a bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps_bound: Option<Bound>,
    /// Per-round req/s ratios, in round order (what comparisons between runs use).
    pub rps_rounds: Vec<f64>,
    /// CPU per request over the baseline's, in the same round (the cost multiple).
    pub cpu: Option<Estimate>,
    /// Per-round CPU-per-request ratios, in round order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu_rounds: Vec<f64>,
}

/// Which way a multiple is only a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    /// The baseline was generator-bound (its req/s is a floor), so the true multiple is at most
    /// this: "≤ 0.35×".
    AtMost,
    /// The cell was generator-bound, so the true multiple is at least this: "≥ 0.9×".
    AtLeast,
    /// Both were: the multiple says only that neither was the limit.
    Neither,
}

impl CellResult {
    /// (round, req/s) of every measured round.
    pub fn rps_by_round(&self) -> Vec<(u32, f64)> {
        self.rounds.iter().map(|r| (r.round, r.rps)).collect()
    }

    /// (round, CPU µs per request) of every round that has it.
    pub fn cpu_by_round(&self) -> Vec<(u32, f64)> {
        self.rounds
            .iter()
            .filter_map(|r| Some((r.round, r.server_cpu_us_per_request?)))
            .collect()
    }
}

/// One launched server in one round: what starting it showed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LaunchResult {
    /// "server/runtime/mode/write".
    pub key: String,
    pub round: u32,
    /// Started after the rounds to measure disturbed windows again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub again: bool,
    /// The cells it served, in the order it served them.
    pub cells: Vec<String>,
    pub startup_ms: Option<f64>,
    pub first_request_ms: Option<f64>,
    pub prepare_ms: Option<f64>,
    pub rss_idle_kb: Option<u64>,
    /// Why it could not start, when it could not.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    /// A pseudonym of this machine (a hash of /etc/machine-id): reruns on the same machine can be
    /// told from runs on another of the same kind.
    #[serde(default)]
    pub machine: String,
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
    /// Time spent measuring cells: launches, warm-ups and windows.
    pub load_s: f64,
    pub build_s: f64,
    /// Time inside measured windows only (what the figures come from).
    #[serde(default)]
    pub window_s: f64,
    /// Of `load_s`, the time spent measuring disturbed windows again after the rounds.
    #[serde(default)]
    pub remeasure_s: f64,
    /// Of `load_s`, the time spent diagnosing the servers after the rounds.
    #[serde(default)]
    pub diagnose_s: f64,
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
    /// The page's title and what it answers (the matrix file's `title` and `about`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    pub command: String,
    pub settings: Settings,
    pub environment: Environment,
    pub tools: BTreeMap<String, ToolInfo>,
    pub cells: Vec<CellResult>,
    pub timing: Timing,
    /// Every launch of every round, in the order they ran.
    #[serde(default)]
    pub launches: Vec<LaunchResult>,
    /// Each open load's generator floor (the native baseline's p99 under it).
    #[serde(default)]
    pub generator_floors: Vec<GeneratorFloor>,
    /// Where server and generators ran and the links between them (absent: all on loopback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<super::records::TopologyRecord>,
    /// The OCI image of each build the run made ("rust/wasip2" -> image), FROM scratch.
    #[serde(default)]
    pub images: BTreeMap<String, super::records::Image>,
    /// How much whole runs shift on this machine (from stored runs of the same code, or the
    /// self-test), which widens every interval of the run; absent when it was not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<super::records::NoiseTable>,
    /// Each server's diagnosis after its measured windows: system calls, instructions, profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<super::diagnosis::Diagnosis>,
    /// What the machine said about itself before the rounds, and whether its CPUs were kept awake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<super::preflight::Preflight>,
}
