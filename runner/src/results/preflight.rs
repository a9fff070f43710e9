//! What the pre-flight recorded before a run's rounds (`preflight` in latest.json): the machine's
//! own facts, the hand-off trial's blocks, and whether the CPUs were kept awake, and why.

use serde::{Deserialize, Serialize};

use super::records::Estimate;

/// Published with the run (`preflight` in latest.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preflight {
    pub machine: MachineFacts,
    /// The hand-off trial's blocks, in the order they ran (empty: no trial).
    #[serde(default)]
    pub handoff: Vec<HandoffBlock>,
    pub keep_awake: AwakeDecision,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineFacts {
    pub cpu_model: String,
    /// MHz of each CPU the run pins to, as /proc/cpuinfo reports it now.
    #[serde(default)]
    pub cpu_mhz: Vec<(usize, f64)>,
    /// cpufreq's scaling governor of the first of them, where the machine exposes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governor: Option<String>,
    /// How idle CPUs wait: cpuidle's driver (e.g. "haltpoll", "intel_idle", "none").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuidle_driver: Option<String>,
    /// The kernel's clock source: with "tsc" or "kvm-clock" clock_gettime stays in the vDSO; with
    /// others ("hpet", "acpi_pm") each reading of the time is a system call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clocksource: Option<String>,
    /// Timer slack of the runner's threads (ns): how late a sleeping thread may be woken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_slack_ns: Option<u64>,
    /// Share (%) of the machine's CPU time the hypervisor stole in a second with nothing running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_steal_pct: Option<f64>,
}

/// One block of the trial: consecutive round trips with or without the keep-awake threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffBlock {
    pub awake: bool,
    pub trips: u32,
    /// Trips over `SLOW_TRIP_NS`.
    pub slow: u32,
    pub mean_us: f64,
    pub median_us: f64,
    pub p99_us: f64,
    /// Share (%) of the machine's CPU time the hypervisor stole during the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal_pct: Option<f64>,
}

/// What the trial showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AwakeVerdict {
    /// The matrix set `keep_cpus_awake = true` or `false`.
    Forced,
    /// Round trips were faster with the threads, by at least `MIN_GAIN`.
    Helps,
    /// Round trips were slower with the threads.
    Hurts,
    /// No difference of `MIN_GAIN` either way.
    NoDifference,
    /// The blocks disagreed too much to tell.
    TooNoisy,
    /// No trial: fewer than two CPUs, or server and generator share one.
    NotMeasured,
}

/// The decision and the figures behind it, as the page states them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwakeDecision {
    pub setting: String,
    pub enabled: bool,
    pub verdict: AwakeVerdict,
    /// Mean round trip with the threads over without, paired by neighbouring blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ratio: Option<Estimate>,
    /// Per arm (without, with): mean of block means and medians (µs), share of slow trips (%),
    /// and steal (%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub without: Option<ArmFigures>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<ArmFigures>,
    pub reason: String,
}

/// One arm of the trial, summed over its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArmFigures {
    pub trips: u32,
    pub slow_pct: f64,
    pub mean_us: f64,
    pub median_us: f64,
    pub p99_us: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal_pct: Option<f64>,
}
