//! What the diagnosis pass recorded for one server (a launch group: server x runtime x mode x
//! write), after its measured windows: system calls counted by name over a fixed number of
//! requests, instructions counted under callgrind, and a sampled CPU profile. Raw counts only;
//! `analysis::diagnosis` derives the per-request figures.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One server's diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// "server/runtime[@version]/mode/write".
    pub key: String,
    /// The cell whose workload and connection count the passes used.
    pub cell: String,
    pub syscalls: Counted<SyscallPasses>,
    pub instructions: Counted<InstructionPasses>,
    pub profile: Counted<ProfileRecord>,
}

/// A pass that ran, or why it did not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Counted<T> {
    Measured(T),
    Unavailable { reason: String },
}

impl<T> Counted<T> {
    pub fn measured(&self) -> Option<&T> {
        match self {
            Counted::Measured(t) => Some(t),
            Counted::Unavailable { .. } => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Counted::Measured(_) => None,
            Counted::Unavailable { reason } => Some(reason),
        }
    }
}

/// System calls of the server's process tree (every thread) over fixed request counts, one
/// request at a time, counted by the kernel's syscall tracepoint (`perf record -e
/// raw_syscalls:sys_enter`, each number named).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyscallPasses {
    /// Requests in flight (1: one at a time, so the count does not depend on timing).
    pub connections: u32,
    /// Back to back: N and 2N requests, each sent as soon as the last was answered.
    pub passes: Vec<SyscallPass>,
    /// Requests sent at a fixed rate, so the server waits between them: a call whose count per
    /// request differs from the back-to-back passes' depends on timing (a runtime that polls while
    /// it waits, a scheduler that spins), not on the request. Absent in runs before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paced: Option<Counted<PacedPass>>,
    /// Two more paced passes, each twice as long as `paced`: twice its requests at its rate, and
    /// its requests at half its rate. With `paced` they tell the calls a request makes from the
    /// calls made while the server waits, each exactly. Absent in runs before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paced_longer: Option<Counted<LongerPaced>>,
}

/// The paced passes beside `SyscallPasses::paced`: as long as each other, one with twice the
/// requests of the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LongerPaced {
    /// Twice the requests of the paced pass, at its rate.
    pub more_requests: PacedPass,
    /// The paced pass's requests at half its rate: twice the wait between them.
    pub longer_gaps: PacedPass,
}

/// Requests at a fixed rate, one at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacedPass {
    pub per_second: u32,
    #[serde(flatten)]
    pub pass: SyscallPass,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyscallPass {
    pub requests: u64,
    /// Calls by name (nonzero ones).
    pub counts: BTreeMap<String, u64>,
}

/// Instructions the server executed over fixed request counts, counted by `valgrind
/// --tool=callgrind` (its counters zeroed before each pass and dumped after it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstructionPasses {
    pub connections: u32,
    /// (requests, instructions) of each pass.
    pub passes: Vec<(u64, u64)>,
    /// The valgrind options beyond the tool (e.g. `--smc-check=all-non-file` for JIT code).
    pub options: Vec<String>,
    /// What the runtime was given only under valgrind (its mode's `valgrind_args`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtime_args: Vec<String>,
    /// Set when the count was taken from the cache (same build, runtime release, mode and load):
    /// the run it was counted in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
}

/// A sampled profile of every thread of the server (`perf record -e cpu-clock`) under the
/// cell's load: samples by thread and by the object their innermost frame ran in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    pub connections: u32,
    pub seconds: f64,
    pub frequency_hz: u32,
    pub samples: Vec<LeafSamples>,
    /// Objects that are the runtime itself (its binary, its libraries) and the guest code built
    /// ahead of time (a prepared artifact), as paths perf reports.
    pub runtime_objects: Vec<String>,
    pub guest_objects: Vec<String>,
    /// The flame graph written beside the page, relative to the output dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flamegraph: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeafSamples {
    pub tid: i32,
    /// The object the innermost frame ran in, as perf names it: a path, "[kernel.kallsyms]",
    /// "/tmp/perf-<pid>.map" (JIT code with a perf map), "[unknown]".
    pub object: String,
    pub count: u64,
}
