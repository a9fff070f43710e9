//! Warnings attached to a cell. Each says what was seen, what it means for the numbers, and what to
//! do about it (after hyperfine's `output/warnings.rs`).

use serde::{Deserialize, Serialize};

/// Receiving time at or above this, with waiting well below it, is the delayed-ACK signature.
pub const STALL_RECEIVING_MS: f64 = 20.0;
/// Without phase timings: a median latency in this range with the server mostly idle.
pub const STALL_P50_MS: (f64, f64) = (30.0, 50.0);
pub const STALL_IDLE_CPU_PCT: f64 = 30.0;
/// A generator using this share of its CPUs is the bottleneck, not the server (k6 pinned to one
/// CPU measured 86-89% here while it capped native and wasmtime at the same req/s).
pub const GENERATOR_BOUND_PCT: f64 = 80.0;
/// Rounds whose req/s vary by more than this coefficient of variation (percent) are flagged.
pub const HIGH_SPREAD_PCT: f64 = 10.0;
/// CPU outside the busiest server thread, as a share of all server CPU, that is worth explaining
/// (native current-thread servers stay near 0; `wasmtime run` measured 25-30% here).
pub const HELPER_THREADS_SHARE: f64 = 0.15;
/// ... when the server is busy enough for CPU to be the limit.
pub const HELPER_THREADS_MIN_CPU_PCT: f64 = 50.0;
/// Hypervisor steal (% of the machine's CPU time inside the windows) at which an open model's
/// tail is flagged: here 10-15% stolen turned native's 0.2 ms p99 at 3,000 req/s into 2-6 ms.
pub const HOST_STEAL_PCT: f64 = 3.0;

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
        worst_ms: f64,
    },
    /// A latency tail within reach of what the generator itself adds (its p99 against the native
    /// baseline under the same load): the tail is the generator's, not the server's.
    GeneratorNoise {
        generator: String,
        p99_ms: f64,
        floor_ms: f64,
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
                "{rps:.0} req/s completed, while {concurrency} connections at the measured latency would give {implied_rps:.0} req/s"
            ),
            Flag::Broke { connections, cause } => {
                format!("at {connections} connections: {cause}")
            }
            Flag::ShutOut {
                connections,
                failed,
                worst_ms,
            } => format!(
                "with {connections} hostile connections held, {failed} fresh request(s) went unanswered within 2 s; the slowest answered took {worst_ms:.0} ms"
            ),
            Flag::GeneratorNoise {
                generator,
                p99_ms,
                floor_ms,
            } => format!(
                "p99 {p99_ms:.2} ms is within {GENERATOR_FLOOR_REACH:.0}x of {generator}'s own floor here, {floor_ms:.2} ms (its p99 against the native baseline under the same load)"
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
                 (slowloris), fresh requests waited past 2 s or got no answer, so a few bad clients would take this \
                 server off the air. Remedy: a server-side timeout for request heads (this server's is 10 s) and \
                 enough connection slots; where the runtime caps the sockets it can poll, hostile clients fill the \
                 cap; report the limit upstream."
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

/// What the rules look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observations {
    pub receiving_avg_ms: Option<f64>,
    pub waiting_avg_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub server_cpu_pct: Option<f64>,
    pub server_other_threads_cpu_pct: Option<f64>,
    pub server_switches_per_request: Option<f64>,
    pub generator_cpu_pct: Option<f64>,
    pub generator_cpus: usize,
    pub rps_repeats_spread_pct: Option<f64>,
    pub repeats: usize,
    pub failed_rate: Option<f64>,
    /// Closed and peak models only: connections kept busy, measured req/s and mean latency.
    pub concurrency: Option<u32>,
    pub rps: Option<f64>,
    pub avg_ms: Option<f64>,
    /// An open model, whose tail latency is what the cell is read for.
    pub open_model: bool,
    /// Median share (%) of CPU time stolen by the hypervisor inside the windows.
    pub steal_pct: Option<f64>,
}

/// A p99 within this factor of the generator's floor is the generator's.
pub const GENERATOR_FLOOR_REACH: f64 = 2.0;
/// Floors below this are the server's as much as the generator's: they flag nothing.
pub const GENERATOR_FLOOR_MIN_MS: f64 = 1.0;

/// Completed req/s below this share of concurrency / latency means starved connections.
pub const STARVED_SHARE: f64 = 0.5;

/// The Nagle + delayed-ACK stall, from k6's phases, a median near 40 ms with an idle server, or,
/// for pipelined loads that time batches, Little's law.
fn stall(o: &Observations) -> Option<Flag> {
    let mut flags = Vec::new();
    match (
        o.receiving_avg_ms,
        o.waiting_avg_ms,
        o.p50_ms,
        o.server_cpu_pct,
    ) {
        (Some(receiving), Some(waiting), _, _) => {
            if receiving >= STALL_RECEIVING_MS && waiting < receiving / 4.0 {
                flags.push(Flag::Stall {
                    evidence: format!("receiving averaged {receiving:.1} ms while waiting averaged {waiting:.2} ms"),
                });
            }
        }
        (None, _, Some(p50), Some(cpu))
            if (STALL_P50_MS.0..=STALL_P50_MS.1).contains(&p50) && cpu < STALL_IDLE_CPU_PCT =>
        {
            flags.push(Flag::Stall {
                evidence: format!(
                    "median latency was {p50:.1} ms while the server used only {cpu:.0}% of a CPU"
                ),
            });
        }
        // Pipelined loads time batches, not requests: Little's law gives each request's time.
        (None, _, None, Some(cpu)) => {
            if let (Some(in_flight), Some(rps)) = (o.concurrency, o.rps.filter(|r| *r > 0.0)) {
                let each_ms = f64::from(in_flight) / rps * 1000.0;
                if (STALL_P50_MS.0..=STALL_P50_MS.1).contains(&each_ms) && cpu < STALL_IDLE_CPU_PCT
                {
                    flags.push(Flag::Stall {
                        evidence: format!(
                            "{in_flight} requests in flight completed at {rps:.0} req/s, {each_ms:.1} ms each, while the server used only {cpu:.0}% of a CPU"
                        ),
                    });
                }
            }
        }
        _ => {}
    }
    flags.pop()
}

/// Applies every rule.
pub fn evaluate(o: &Observations) -> Vec<Flag> {
    let mut flags: Vec<Flag> = stall(o).into_iter().collect();
    if let Some(pct) = o.generator_cpu_pct {
        if o.generator_cpus > 0 && pct >= GENERATOR_BOUND_PCT {
            flags.push(Flag::GeneratorBound {
                generator_cpu_pct: pct,
                generator_cpus: o.generator_cpus,
            });
        }
    }
    if let Some(spread) = o.rps_repeats_spread_pct {
        if o.repeats >= 2 && spread > HIGH_SPREAD_PCT {
            flags.push(Flag::HighSpread {
                spread_pct: spread,
                repeats: o.repeats,
            });
        }
    }
    if let (Some(concurrency), Some(rps), Some(avg_ms)) = (o.concurrency, o.rps, o.avg_ms) {
        let implied_rps = f64::from(concurrency) / (avg_ms / 1000.0);
        if avg_ms > 0.0 && rps < STARVED_SHARE * implied_rps {
            flags.push(Flag::Starved {
                rps,
                implied_rps,
                concurrency,
            });
        }
    }
    if let (Some(server), Some(other)) = (o.server_cpu_pct, o.server_other_threads_cpu_pct) {
        if server >= HELPER_THREADS_MIN_CPU_PCT && other >= HELPER_THREADS_SHARE * server {
            flags.push(Flag::HelperThreads {
                other_cpu_pct: other,
                server_cpu_pct: server,
                switches_per_request: o.server_switches_per_request,
            });
        }
    }
    if let Some(steal) = o.steal_pct {
        if o.open_model && steal >= HOST_STEAL_PCT {
            flags.push(Flag::HostSteal { steal_pct: steal });
        }
    }
    if let Some(rate) = o.failed_rate {
        if rate > 0.0 {
            flags.push(Flag::RequestErrors { failed_rate: rate });
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_flags_open_model_tails_only() {
        let stolen = |open_model, steal| Observations {
            open_model,
            steal_pct: Some(steal),
            ..Default::default()
        };
        let flags = evaluate(&stolen(true, 12.3));
        assert_eq!(flags, vec![Flag::HostSteal { steal_pct: 12.3 }]);
        assert!(flags[0].evidence().contains("12.3%"));
        assert!(flags[0].cause_and_remedy().contains("Remedy"));
        assert!(evaluate(&stolen(true, HOST_STEAL_PCT - 0.1)).is_empty());
        // Throughput cells carry steal in their figures and the page's notice, not as a flag.
        assert!(evaluate(&stolen(false, 12.3)).is_empty());
    }

    #[test]
    fn the_origin_readme_wasm_row_is_a_stall() {
        // The origin README's WASM run: receiving avg 41 ms, waiting avg 2.97 ms.
        let flags = evaluate(&Observations {
            receiving_avg_ms: Some(41.0),
            waiting_avg_ms: Some(2.97),
            ..Default::default()
        });
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0].code(), "stall");
        assert!(flags[0].cause_and_remedy().contains("delayed ACK"));
        assert!(flags[0].evidence().contains("receiving averaged 41.0 ms"));
    }

    #[test]
    fn without_phases_an_idle_server_at_40_ms_is_a_stall() {
        // wrk against vectored writes: 50 connections at ~44 ms, the server nearly idle.
        let flags = evaluate(&Observations {
            p50_ms: Some(43.5),
            server_cpu_pct: Some(9.0),
            ..Default::default()
        });
        assert_eq!(flags.iter().map(Flag::code).collect::<Vec<_>>(), ["stall"]);
        assert!(flags[0].evidence().contains("median latency was 43.5 ms"));
        // A busy server at 40 ms is slow, not stalled.
        assert!(evaluate(&Observations {
            p50_ms: Some(43.5),
            server_cpu_pct: Some(99.0),
            ..Default::default()
        })
        .is_empty());
    }

    #[test]
    fn a_pipelined_batch_answered_in_pieces_is_a_stall() {
        // wasmtime without pipeline_flush: 50 connections x 16 in flight at 18k req/s = 44 ms each,
        // the server at 8% CPU. No latency figures: wrk times batches.
        let flags = evaluate(&Observations {
            concurrency: Some(800),
            rps: Some(18_000.0),
            server_cpu_pct: Some(8.0),
            ..Default::default()
        });
        assert_eq!(flags.iter().map(Flag::code).collect::<Vec<_>>(), ["stall"]);
        assert!(
            flags[0].evidence().contains("44.4 ms each"),
            "{}",
            flags[0].evidence()
        );
        // The same batch answered at once: 800 / 300k = 2.7 ms each, the server busy.
        assert!(evaluate(&Observations {
            concurrency: Some(800),
            rps: Some(298_000.0),
            server_cpu_pct: Some(99.0),
            ..Default::default()
        })
        .is_empty());
    }

    #[test]
    fn starved_connections_follow_littles_law() {
        // Go on wasmer here: 50 VUs, 4.9 ms per completed request, yet only 223 req/s.
        let starved = Observations {
            concurrency: Some(50),
            rps: Some(223.0),
            avg_ms: Some(4.86),
            ..Default::default()
        };
        let flags = evaluate(&starved);
        assert_eq!(
            flags.iter().map(Flag::code).collect::<Vec<_>>(),
            ["starved"]
        );
        assert!(
            flags[0].evidence().contains("would give 10288 req/s"),
            "{}",
            flags[0].evidence()
        );
        // Healthy (native: 50 / 3.45 ms = 14.5k) and stalled (50 / 44 ms = 1.1k) runs agree with it.
        for (rps, avg_ms) in [(14_481.0, 3.4), (1_142.0, 43.9)] {
            let ok = Observations {
                concurrency: Some(50),
                rps: Some(rps),
                avg_ms: Some(avg_ms),
                ..Default::default()
            };
            assert!(
                evaluate(&ok).iter().all(|f| f.code() != "starved"),
                "{rps} req/s at {avg_ms} ms"
            );
        }
    }

    #[test]
    fn a_slow_server_is_not_a_stall() {
        // Time spent waiting for the server means slow processing, not a network stall.
        let flags = evaluate(&Observations {
            receiving_avg_ms: Some(30.0),
            waiting_avg_ms: Some(25.0),
            ..Default::default()
        });
        assert!(flags.is_empty());
        let flags = evaluate(&Observations {
            receiving_avg_ms: Some(0.03),
            waiting_avg_ms: Some(5.0),
            ..Default::default()
        });
        assert!(flags.is_empty());
    }

    #[test]
    fn generator_spread_and_errors() {
        let o = Observations {
            generator_cpu_pct: Some(97.0),
            generator_cpus: 1,
            rps_repeats_spread_pct: Some(25.0),
            repeats: 3,
            failed_rate: Some(0.01),
            ..Default::default()
        };
        let codes: Vec<_> = evaluate(&o).iter().map(Flag::code).collect();
        assert_eq!(codes, ["generator-bound", "high-spread", "errors"]);
        let calm = Observations {
            generator_cpu_pct: Some(60.0),
            generator_cpus: 1,
            rps_repeats_spread_pct: Some(25.0),
            repeats: 1,
            failed_rate: Some(0.0),
            ..Default::default()
        };
        assert!(evaluate(&calm).is_empty());
    }

    #[test]
    fn runtime_threads_beside_the_guest_are_explained() {
        // `wasmtime run` on one CPU: the guest's thread 69%, the tokio I/O worker 27%.
        let wasmtime = Observations {
            server_cpu_pct: Some(96.0),
            server_other_threads_cpu_pct: Some(27.0),
            server_switches_per_request: Some(0.74),
            ..Default::default()
        };
        let flags = evaluate(&wasmtime);
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(flags[0].code(), "helper-threads");
        assert_eq!(
            flags[0].evidence(),
            "27% of a CPU (of the server's 96%) ran outside the thread that serves requests; 0.74 context switches per request"
        );
        // A single-threaded server, and an idle one whose helper threads merely tick, are not flagged.
        for (server, other) in [(95.0, 0.5), (20.0, 10.0)] {
            let o = Observations {
                server_cpu_pct: Some(server),
                server_other_threads_cpu_pct: Some(other),
                ..Default::default()
            };
            assert!(evaluate(&o).is_empty(), "{server}% / {other}%");
        }
    }
}
