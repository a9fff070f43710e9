//! The rules that raise a cell's flags from its figures (the flags themselves, their evidence,
//! cause and remedy, are in `results::flags`).

use crate::results::measured::WindowRecord;
use crate::results::Flag;

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

/// A fresh request during hostile clients slower than this was not served in time (the hostile
/// generator gives up on it then).
pub const FRESH_REQUEST_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

/// Hostile windows: fresh requests unanswered or slower than the bound in any round, or none
/// answered after the hostile clients left.
pub fn shut_out(windows: &[WindowRecord], connections: u32) -> Option<Flag> {
    let bound_ms = FRESH_REQUEST_BOUND.as_secs_f64() * 1000.0;
    let failed: u64 = windows
        .iter()
        .map(|w| (w.failed_rate * w.requests as f64).round() as u64)
        .sum();
    let answered: u64 = windows.iter().map(|w| w.requests).sum::<u64>().saturating_sub(failed);
    let worst_ms = windows
        .iter()
        .filter_map(|w| w.latency_ms.map(|d| d.max))
        .fold(0.0, f64::max);
    let afters: Vec<bool> = windows.iter().filter_map(|w| w.hostile).map(|h| h.after_ms.is_some()).collect();
    let recovered = (!afters.is_empty()).then(|| afters.iter().all(|ok| *ok));
    (failed > 0 || worst_ms > bound_ms || recovered == Some(false)).then_some(Flag::ShutOut {
        connections,
        failed,
        answered,
        worst_ms,
        recovered,
    })
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
            flags[0].evidence().contains("would give 10,288 req/s"),
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
