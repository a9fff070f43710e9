//! What measuring a cell recorded, before any arithmetic: each window's raw readings, what its
//! launches showed, and how it failed. `analysis` derives every published figure from these, so a
//! run's figures can be derived again from its JSON at any time.

use serde::{Deserialize, Serialize};

use super::records::Trend;

/// One measured window, as read: the generator's report and the /proc readings around it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowRecord {
    /// The round it belongs to.
    pub round: u32,
    /// Measured after the rounds, in place of a window of this round that the host disturbed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remeasured: bool,
    /// Open model: the rate offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_rps: Option<f64>,
    /// Completed requests, as the generator counted them.
    pub requests: u64,
    /// The generator's own measured time (s).
    pub elapsed_s: f64,
    /// The generator process from start to exit (s): what the CPU readings span.
    pub process_s: f64,
    pub failed_rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Trend>,
    /// k6's phases of a request, where the generator reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases_ms: Option<Phases>,
    /// Server process tree CPU inside the window (s).
    pub server_user_s: f64,
    pub server_sys_s: f64,
    /// Of it, the busiest thread's and all others' (s), and context switches of all its threads.
    pub busiest_thread_s: f64,
    pub other_threads_s: f64,
    pub switches: u64,
    /// The generator processes' CPU over their run (s), and the CPUs they were pinned to.
    pub generator_cpu_s: f64,
    pub generator_cpus: usize,
    /// Share (%) of the machine's CPU time stolen by the hypervisor inside the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal_pct: Option<f64>,
    /// Hostile windows: what the hostile clients held and saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostile: Option<HostileReading>,
}

/// What the hostile clients of a window held and saw (`matrix hostile`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HostileReading {
    /// Slowloris and idle keep-alive connections open when the fresh requests began.
    pub slow_held: u32,
    pub idle_held: u32,
    /// Hostile connections the server closed during the window (each reconnected).
    pub closed_by_server: u64,
    /// A fresh request after the hostile clients left: its latency (ms) when answered in time.
    pub after_ms: Option<f64>,
}

impl WindowRecord {
    /// Completed requests per second of the generator's measured time.
    pub fn rps(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            self.requests as f64 / self.elapsed_s
        } else {
            0.0
        }
    }
}

/// k6's `http_req_*` phase trends (ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    pub blocked: Option<Trend>,
    pub connecting: Option<Trend>,
    pub sending: Option<Trend>,
    pub waiting: Option<Trend>,
    pub receiving: Option<Trend>,
}

/// What one launch that served the cell showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchFigures {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_request_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_idle_kb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepare_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared_bytes: Option<u64>,
}

/// How a cell's measurement failed, as the analysis needs it (the words are the cell's `reason`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    /// The cause the server's log or exit status named, where one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    Interrupted,
    Setup,
    BuildFailed,
    PrepareFailed,
    ServerExited,
    NotReady,
    WrongAnswer,
    WarmRequest,
    ServerDied,
    StoppedAnswering,
    GeneratorHung,
    GeneratorReport,
    NoRequests,
    NoMeasurement,
    NoPeak,
    ClockStepped,
}

impl FailureKind {
    /// The server broke under the load (died, or stopped answering fresh connections).
    pub fn broke(self) -> bool {
        matches!(
            self,
            FailureKind::ServerDied | FailureKind::StoppedAnswering
        )
    }
}

/// Everything measured for one cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// The kept window of each measured round.
    #[serde(default)]
    pub windows: Vec<WindowRecord>,
    /// Open-model windows the host disturbed, set aside (replaced, or measured again in vain).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_aside: Vec<WindowRecord>,
    /// Each launch that served a window of the cell (the same launch once per window it served).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub launches: Vec<LaunchFigures>,
    /// Latency of the single checked requests before each window (ms).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warm_ms: Vec<f64>,
    /// Peak RSS of the server's tree over the cell's windows, and after its last one (KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_peak_kb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_end_kb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_stripped_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}
