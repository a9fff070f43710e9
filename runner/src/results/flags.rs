//! Warnings attached to a cell. Each says what was seen, what it means for the numbers, and what to
//! do about it (after hyperfine's `output/warnings.rs`). The rules that raise them are in
//! `analysis::flags`.

use serde::{Deserialize, Serialize};

fn default_reach() -> f64 {
    2.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Flag {
    /// Nagle + delayed-ACK: responses leave in two segments and the second waits ~40 ms. Seen in
    /// k6's phases (receiving high, waiting low) or, for generators without phases (wrk), as a
    /// median latency near 40 ms while the server's CPU sits idle.
    Stall { evidence: String },
    /// The load generator used (nearly) all of its CPUs.
    GeneratorBound {
        generator_cpu_pct: f64,
        generator_cpus: usize,
    },
    /// Repeats disagree.
    HighSpread { spread_pct: f64, repeats: usize },
    /// Some requests failed or answered wrongly.
    RequestErrors { failed_rate: f64 },
    /// Far fewer requests completed than the connections and their latency imply: most
    /// connections waited without an answer (Little's law: rps ≈ concurrency / latency).
    Starved {
        rps: f64,
        implied_rps: f64,
        concurrency: u32,
    },
    /// The server died or stopped answering under this load, for a reason its log or exit names.
    Broke { connections: u32, cause: String },
    /// Hostile clients (idle and half-sent connections) shut out fresh requests.
    ShutOut {
        connections: u32,
        failed: u64,
        /// Fresh requests answered (any time); 0 means none was.
        #[serde(default)]
        answered: u64,
        worst_ms: f64,
        /// Whether a fresh request after the hostile clients left was answered in time, where the
        /// windows say (false in any round: the server did not recover).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recovered: Option<bool>,
    },
    /// A latency tail within reach of what the generator itself adds (its p99 against the native
    /// baseline under the same load): the tail is the generator's, not the server's.
    GeneratorNoise {
        generator: String,
        p99_ms: f64,
        floor_ms: f64,
        /// The factor of the floor within which a tail is the generator's.
        #[serde(default = "default_reach")]
        reach: f64,
    },
    /// The hypervisor took CPU time from this virtual machine inside the windows of an open
    /// model: its tail holds the pauses of the machine, not the server's.
    HostSteal { steal_pct: f64 },
    /// A good share of the server's CPU ran outside the thread that serves requests.
    HelperThreads {
        other_cpu_pct: f64,
        server_cpu_pct: f64,
        switches_per_request: Option<f64>,
    },
}

impl Flag {
    pub fn code(&self) -> &'static str {
        match self {
            Flag::Stall { .. } => "stall",
            Flag::GeneratorBound { .. } => "generator-bound",
            Flag::HighSpread { .. } => "high-spread",
            Flag::RequestErrors { .. } => "errors",
            Flag::Starved { .. } => "starved",
            Flag::HelperThreads { .. } => "helper-threads",
            Flag::GeneratorNoise { .. } => "generator-noise",
            Flag::HostSteal { .. } => "host-steal",
            Flag::Broke { .. } => "broke",
            Flag::ShutOut { .. } => "shut-out",
        }
    }

    /// What was measured that raised the flag.
    pub fn evidence(&self) -> String {
        match self {
            Flag::Stall { evidence } => evidence.clone(),
            Flag::GeneratorBound {
                generator_cpu_pct,
                generator_cpus,
            } => {
                format!("the load generator used {generator_cpu_pct:.0}% of its {generator_cpus} CPU(s)")
            }
            Flag::HighSpread {
                spread_pct,
                repeats,
            } => format!("req/s varied across {repeats} rounds with a coefficient of variation of {spread_pct:.0}%"),
            Flag::RequestErrors { failed_rate } => format!(
                "{:.2}% of requests failed or got a non-200 answer",
                failed_rate * 100.0
            ),
            Flag::Starved { rps, implied_rps, concurrency } => format!(
                "{} req/s completed, while {concurrency} connections at the measured latency would give {} req/s", crate::report::format::thousands(*rps), crate::report::format::thousands(*implied_rps)
            ),
            Flag::Broke { connections, cause } => {
                format!("at {connections} connections: {cause}")
            }
            Flag::ShutOut {
                connections,
                failed,
                answered,
                worst_ms,
                recovered,
            } => {
                let bound = crate::analysis::flags::FRESH_REQUEST_BOUND.as_secs();
                let during = match answered {
                    0 => format!("with {connections} slowloris and {connections} idle clients held, none of {failed} fresh request(s) was answered within {bound} s"),
                    _ => format!(
                        "with {connections} slowloris and {connections} idle clients held, {failed} fresh request(s) went unanswered within {bound} s; of the {answered} answered, the slowest took {}",
                        crate::report::format::millis(*worst_ms)
                    ),
                };
                match recovered {
                    Some(false) => format!("{during}; it did not answer one after they left either"),
                    Some(true) => format!("{during}; it answered again after they left"),
                    None => during,
                }
            }
            Flag::GeneratorNoise {
                generator,
                p99_ms,
                floor_ms,
                reach,
            } => format!(
                "p99 {p99_ms:.2} ms is within {reach:.0}x of {generator}'s own floor here, {floor_ms:.2} ms (its p99 against the native baseline under the same load)"
            ),
            Flag::HostSteal { steal_pct } => format!(
                "the hypervisor stole {steal_pct:.1}% of this machine's CPU time inside the measured windows (median over rounds; /proc/stat's steal)"
            ),
            Flag::HelperThreads {
                other_cpu_pct,
                server_cpu_pct,
                switches_per_request,
            } => {
                let switches = switches_per_request
                    .map(|s| format!("; {s:.2} context switches per request"))
                    .unwrap_or_default();
                format!(
                    "{other_cpu_pct:.0}% of a CPU (of the server's {server_cpu_pct:.0}%) ran outside the thread that serves requests{switches}"
                )
            }
        }
    }

    /// What it means for the numbers and what to do, without this cell's figures.
    pub fn cause_and_remedy(&self) -> &'static str {
        match self {
            Flag::Stall { .. } => {
                "Network stall, not runtime cost. Each response left in two writes; without TCP_NODELAY (which WASI \
                 sockets cannot set) Nagle's algorithm holds the second segment until the client's delayed ACK \
                 (~40 ms), so every connection is capped near 1 request per 40 ms. Remedy: write each response in one \
                 write (`writes = [\"single\"]`, hyper `writev(false)`), or set TCP_NODELAY where the runtime allows it."
            }
            Flag::GeneratorBound { .. } => {
                "Generator-bound: req/s is a lower bound on what the server can do, and cells at this level cannot be \
                 ranked against each other by req/s (their CPU per request still compares). Remedy: give the \
                 generator more CPUs (`generator_cpus`) or compare peak throughput with a faster generator (wrk)."
            }
            Flag::HighSpread { .. } => {
                "High spread: rounds disagree, so this cell's interval is wide and close cells tie with it. Remedy: \
                 longer `duration`, more `repeats` (rounds), or a quieter machine before trusting small differences."
            }
            Flag::Starved { .. } => {
                "Starved connections: most connections waited without an answer while a few were served, so the \
                 latency percentiles describe only the requests that completed and req/s is what the runtime's event \
                 loop let through, not CPU cost (the server's CPU is usually idle). Cause: the runtime does not wake \
                 the guest for every ready socket. Seen with Go on wasmer 7.4/7.5: its `poll_oneoff` treats a clock \
                 subscription with a zero timeout (\"just check\") as \"no timeout\", and Go's scheduler polls that way \
                 whenever it looks for work, so it sleeps until some unrelated socket event (the Go build for wasmer \
                 here works around it). Remedy: compare with another runtime or server language; report it \
                 upstream."
            }
            Flag::HelperThreads { .. } => {
                "Runtime threads beside the guest: the runtime does host work on threads other than the one running \
                 the server, e.g. `wasmtime run` polls sockets on a tokio worker thread and wakes the guest's thread \
                 when one becomes ready. On the server's pinned CPU they take turns with the guest, so part of the gap \
                 to native is this hand-off (context switches, cold caches), not slower code. It is a real cost of \
                 this runtime on this many cores. Remedy: none inside the guest; give the server more CPUs \
                 (`server_cpus`) to see what the hand-off costs, or compare a runtime that polls on the guest's thread."
            }
            Flag::ShutOut { .. } => {
                "Shut out by hostile clients: while many connections sat idle or with half a request sent \
                 (slowloris), fresh requests waited past 1 s or got no answer, so a few bad clients would take this \
                 server off the air. Remedy: shed connections that make no progress when slots run short (this \
                 project's servers do, near their cap: see `server/src/slots.rs`); where the host owns the sockets \
                 (`wasmtime serve`), put a proxy with header timeouts in front, and report the limit upstream."
            }
            Flag::Broke { .. } => {
                "Broke under load: the server died or stopped answering, for the reason named (a runtime limit, \
                 not slow code). Its point is failed, and the next one gets a fresh server. Remedy: a cap on open \
                 connections in that runtime's listener bootstrap (wasmer: server-wasix.rs, listen_wasix.go) keeps the \
                 server alive with the others waiting in the accept backlog; report the limit upstream."
            }
            Flag::GeneratorNoise { .. } => {
                "Generator noise: this tail is the generator's, not the server's. Every latency a generator reports \
                 includes its own scheduling; k6 on one core adds tens of milliseconds at the tail of an open model \
                 even against native, so a server's p99 close to that floor says nothing about the server. Remedy: \
                 read the tails measured by the low-noise generator (`generator = \"oha\"`, fixed rate with \
                 coordinated-omission correction), give the generator more CPUs, or lower the rate."
            }
            Flag::HostSteal { .. } => {
                "Host steal: this is a virtual machine, and its host ran other guests on its CPUs while server or \
                 generator had work. Each steal is a pause of milliseconds that lands on whichever request was in \
                 flight, so the tail (p99, max) measures the host's scheduling, not the server; medians and CPU per \
                 request are barely touched. Remedy: dedicated or bare-metal CPUs, a longer `remeasure` (disturbed \
                 windows are measured again after the rounds while it lasts), or a quieter hour (the run records steal \
                 per window, so reruns show when it fell)."
            }
            Flag::RequestErrors { .. } => {
                "Errors: req/s counts failures too. Remedy: read the server log in the run directory; lower the load if \
                 the server is overwhelmed."
            }
        }
    }
}
