//! The arithmetic that turns a cell's measured windows into its published figures and flags: a
//! pure function of what was measured, so each figure has a unit test of its own.

use super::window::Window;
use crate::config::LoadModel;
use crate::results::flags::{self, Observations};
use crate::results::{Estimates, Flag, Metrics, RoundFigures};
use crate::stats::{median, Estimate};

/// What the figures depend on besides the windows.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub model: LoadModel,
    /// Requests in flight: VUs, connections x pipelining depth, or the open model's VU pool.
    pub concurrency: u32,
    /// CPUs the generator was pinned to.
    pub generator_cpus: usize,
}

/// A cell's figures from its windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub metrics: Metrics,
    /// req/s of each round.
    pub repeats_rps: Vec<f64>,
    pub rounds: Vec<RoundFigures>,
    pub estimates: Estimates,
    pub flags: Vec<Flag>,
}

/// What one window says, per round: throughput, latency, and CPU per completed request. The CPU
/// readings span the generator's whole process, which sent exactly the requests it counted (its
/// warm-up ran as a process of its own); shares of a CPU are taken over its own measured time.
pub fn round_figures(round: u32, w: &Window, generator_cpus: usize) -> RoundFigures {
    let s = &w.summary;
    let requests = s.requests as f64;
    let cpu_s = w.server_cpu.0 + w.server_cpu.1;
    let share = |seconds: f64| (s.elapsed_s > 0.0).then(|| seconds / s.elapsed_s * 100.0);
    RoundFigures {
        round,
        offered_rps: w.offered_rps.map(f64::from),
        rps: s.rps(),
        requests: s.requests,
        window_s: s.elapsed_s,
        p50_ms: s.duration_ms.map(|d| d.med),
        p99_ms: s.duration_ms.map(|d| d.p99),
        server_cpu_pct: share(cpu_s),
        server_cpu_us_per_request: (requests >= 1.0).then(|| cpu_s / requests * 1e6),
        generator_cpu_pct: share(w.generator_cpu_s).map(|pct| pct / generator_cpus.max(1) as f64),
        steal_pct: w.steal_pct,
        remeasured: false,
    }
}

/// The window whose req/s is the median (lower middle for even counts).
fn median_window(windows: &[(u32, Window)]) -> Option<&(u32, Window)> {
    let mut sorted: Vec<&(u32, Window)> = windows.iter().collect();
    sorted.sort_by(|a, b| a.1.summary.rps().total_cmp(&b.1.summary.rps()));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// The median over windows of a figure each may have.
fn median_of(windows: &[(u32, Window)], figure: impl Fn(&Window) -> Option<f64>) -> Option<f64> {
    median(
        &windows
            .iter()
            .filter_map(|(_, w)| figure(w))
            .collect::<Vec<_>>(),
    )
}

/// Fills `metrics` (which already holds what the launches measured) with the load figures of
/// `windows`, one per round: every figure is the median over rounds. With no windows it returns
/// `metrics` as it was.
pub fn summarize(windows: &[(u32, Window)], ctx: Context, mut metrics: Metrics) -> Summary {
    let rounds: Vec<RoundFigures> = windows
        .iter()
        .map(|(round, w)| round_figures(*round, w, ctx.generator_cpus))
        .collect();
    let repeats_rps: Vec<f64> = rounds.iter().map(|r| r.rps).collect();
    let of =
        |f: fn(&RoundFigures) -> Option<f64>| -> Vec<f64> { rounds.iter().filter_map(f).collect() };
    let estimates = Estimates {
        rps: Estimate::of(&repeats_rps),
        server_cpu_us_per_request: Estimate::of(&of(|r| r.server_cpu_us_per_request)),
        p50_ms: Estimate::of(&of(|r| r.p50_ms)),
        p99_ms: Estimate::of(&of(|r| r.p99_ms)),
    };
    if windows.is_empty() {
        return Summary {
            metrics,
            repeats_rps,
            rounds,
            estimates,
            flags: Vec::new(),
        };
    }
    load_metrics(windows, &repeats_rps, &mut metrics);
    cpu_metrics(windows, &rounds, &mut metrics);
    let cv_pct = crate::stats::cv(&repeats_rps).map(|cv| cv * 100.0);
    let flags = flags::evaluate(&observations(&metrics, ctx, cv_pct, windows.len()));
    Summary {
        metrics,
        repeats_rps,
        rounds,
        estimates,
        flags,
    }
}

/// Throughput and errors over rounds (requests and drops are totals); latency of the median round.
fn load_metrics(windows: &[(u32, Window)], repeats_rps: &[f64], m: &mut Metrics) {
    let requests: u64 = windows.iter().map(|(_, w)| w.summary.requests).sum();
    m.rps = median(repeats_rps);
    m.rps_min = repeats_rps.iter().copied().reduce(f64::min);
    m.rps_max = repeats_rps.iter().copied().reduce(f64::max);
    m.requests = Some(requests);
    m.dropped = windows
        .iter()
        .map(|(_, w)| w.summary.dropped)
        .try_fold(0, |sum, d| Some(sum + d?));
    // Failures weighed by each window's requests.
    m.failed_rate = Some(if requests > 0 {
        windows
            .iter()
            .map(|(_, w)| w.summary.failed_rate * w.summary.requests as f64)
            .sum::<f64>()
            / requests as f64
    } else {
        windows
            .iter()
            .map(|(_, w)| w.summary.failed_rate)
            .fold(0.0, f64::max)
    });
    // Latency from one window, the round with the median req/s, so its percentiles stay in
    // order (medians taken percentile by percentile need not be).
    let Some((_, w)) = median_window(windows) else {
        return;
    };
    let s = &w.summary;
    if let Some(d) = s.duration_ms {
        (m.avg_ms, m.p50_ms, m.p90_ms, m.p95_ms, m.p99_ms, m.max_ms) = (
            Some(d.avg),
            Some(d.med),
            Some(d.p90),
            Some(d.p95),
            Some(d.p99),
            Some(d.max),
        );
        m.p999_ms = d
            .p999
            .filter(|_| crate::stats::tail_supported(s.requests, 0.999));
    }
    m.blocked_avg_ms = s.blocked_ms.map(|t| t.avg);
    m.connecting_avg_ms = s.connecting_ms.map(|t| t.avg);
    m.sending_avg_ms = s.sending_ms.map(|t| t.avg);
    m.waiting_avg_ms = s.waiting_ms.map(|t| t.avg);
    m.receiving_avg_ms = s.receiving_ms.map(|t| t.avg);
    m.receiving_p95_ms = s.receiving_ms.map(|t| t.p95);
}

/// Server CPU: medians over rounds of the share of a core, the helper threads' share, CPU and
/// context switches per completed request; user and system time summed over windows.
fn cpu_metrics(windows: &[(u32, Window)], rounds: &[RoundFigures], m: &mut Metrics) {
    let per_round = |f: fn(&RoundFigures) -> Option<f64>| -> Option<f64> {
        median(&rounds.iter().filter_map(f).collect::<Vec<_>>())
    };
    m.server_cpu_pct = per_round(|r| r.server_cpu_pct);
    m.server_cpu_us_per_request = per_round(|r| r.server_cpu_us_per_request);
    m.generator_cpu_pct = per_round(|r| r.generator_cpu_pct);
    m.steal_pct = per_round(|r| r.steal_pct);
    m.server_cpu_user_s = Some(windows.iter().map(|(_, w)| w.server_cpu.0).sum());
    m.server_cpu_sys_s = Some(windows.iter().map(|(_, w)| w.server_cpu.1).sum());
    m.server_other_threads_cpu_pct = median_of(windows, |w| {
        (w.summary.elapsed_s > 0.0)
            .then(|| w.server_threads.other_cpu_s / w.summary.elapsed_s * 100.0)
    });
    m.server_switches_per_request = median_of(windows, |w| {
        (w.summary.requests >= 1)
            .then(|| w.server_threads.switches as f64 / w.summary.requests as f64)
    });
}

/// What the flag rules look at, from the figures.
fn observations(m: &Metrics, ctx: Context, cv_pct: Option<f64>, repeats: usize) -> Observations {
    Observations {
        receiving_avg_ms: m.receiving_avg_ms,
        waiting_avg_ms: m.waiting_avg_ms,
        p50_ms: m.p50_ms,
        server_cpu_pct: m.server_cpu_pct,
        server_other_threads_cpu_pct: m.server_other_threads_cpu_pct,
        server_switches_per_request: m.server_switches_per_request,
        // The open model fixes req/s by its rate, and hostile clients send nothing: Little's law
        // says nothing there.
        concurrency: matches!(ctx.model, LoadModel::Closed | LoadModel::Peak)
            .then_some(ctx.concurrency),
        rps: m.rps,
        avg_ms: m.avg_ms,
        generator_cpu_pct: m.generator_cpu_pct,
        generator_cpus: ctx.generator_cpus,
        rps_repeats_spread_pct: cv_pct,
        repeats,
        failed_rate: m.failed_rate,
        open_model: matches!(ctx.model, LoadModel::Open),
        steal_pct: m.steal_pct,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{LoadSummary, Trend};
    use crate::measure::threads::ThreadSplit;

    fn window(requests: u64, window_s: f64, p50: f64, server_cpu: (f64, f64)) -> Window {
        Window {
            summary: LoadSummary {
                requests,
                elapsed_s: window_s,
                failed_rate: 0.0,
                dropped: None,
                duration_ms: Some(Trend {
                    avg: p50,
                    min: p50 / 2.0,
                    med: p50,
                    max: p50 * 4.0,
                    p90: p50 * 1.5,
                    p95: p50 * 2.0,
                    p99: p50 * 3.0,
                    p999: None,
                }),
                blocked_ms: None,
                connecting_ms: None,
                sending_ms: None,
                waiting_ms: None,
                receiving_ms: None,
            },
            offered_rps: None,
            window_s,
            server_cpu,
            server_threads: ThreadSplit {
                busiest_cpu_s: server_cpu.0 + server_cpu.1,
                other_cpu_s: 0.0,
                switches: requests / 100,
            },
            generator_cpu_s: window_s * 0.5,
            steal_pct: Some(1.0),
        }
    }

    const PEAK: Context = Context {
        model: LoadModel::Peak,
        concurrency: 50,
        generator_cpus: 1,
    };

    #[test]
    fn every_figure_is_the_median_over_rounds_with_an_interval() {
        // Three rounds at 100k, 120k and 110k req/s; the server at 90% of a CPU in each.
        let windows = [
            (0, window(500_000, 5.0, 0.5, (3.5, 1.0))),
            (1, window(600_000, 5.0, 0.4, (3.5, 1.0))),
            (2, window(550_000, 5.0, 0.45, (3.5, 1.0))),
        ];
        let s = summarize(&windows, PEAK, Metrics::default());
        assert_eq!(s.repeats_rps, vec![100_000.0, 120_000.0, 110_000.0]);
        let m = &s.metrics;
        assert_eq!(m.rps, Some(110_000.0));
        assert_eq!(m.p50_ms, Some(0.45), "latency comes from the median round");
        assert_eq!(m.requests, Some(1_650_000));
        assert_eq!((m.rps_min, m.rps_max), (Some(100_000.0), Some(120_000.0)));
        assert!((m.server_cpu_pct.unwrap() - 90.0).abs() < 1e-9);
        // 4.5 CPU-seconds over 550k requests in the median round.
        assert!((m.server_cpu_us_per_request.unwrap() - 4.5 / 550_000.0 * 1e6).abs() < 1e-9);
        assert!((m.server_switches_per_request.unwrap() - 0.01).abs() < 1e-9);
        assert_eq!(m.generator_cpu_pct, Some(50.0));
        let rps = s.estimates.rps.unwrap();
        assert_eq!((rps.median, rps.n), (110_000.0, 3));
        assert!(rps.lo < 100_000.0 && rps.hi > 120_000.0);
        assert!((rps.cv - 0.0909).abs() < 1e-3, "{}", rps.cv);
        assert_eq!(s.rounds[2].round, 2);
        assert!(
            s.flags.is_empty(),
            "a 9% CV is not high spread: {:?}",
            s.flags
        );
    }

    #[test]
    fn rounds_that_disagree_are_flagged_and_no_window_changes_nothing() {
        let windows = [
            (0, window(100, 1.0, 2.0, (0.01, 0.0))),
            (1, window(300, 1.0, 1.0, (0.01, 0.0))),
        ];
        let s = summarize(&windows, PEAK, Metrics::default());
        assert_eq!(s.metrics.rps, Some(200.0));
        assert!(
            s.flags.iter().any(|f| f.code() == "high-spread"),
            "{:?}",
            s.flags
        );
        let before = Metrics {
            startup_ms: Some(12.0),
            ..Default::default()
        };
        let s = summarize(&[], PEAK, before.clone());
        assert_eq!(s.metrics, before);
        assert!(s.repeats_rps.is_empty() && s.flags.is_empty());
        assert_eq!(s.estimates, Estimates::default());
    }

    #[test]
    fn littles_law_is_not_applied_to_the_open_model() {
        // 50 connections at 2 ms would be 25k req/s: 1k req/s is starved under a closed load,
        // but the open model's rate sets req/s whatever the latency.
        let windows = [(0, window(5_000, 5.0, 2.0, (0.5, 0.0)))];
        let closed = Context {
            model: LoadModel::Closed,
            ..PEAK
        };
        let codes = |ctx| {
            summarize(&windows, ctx, Metrics::default())
                .flags
                .iter()
                .map(|f| f.code())
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(closed), ["starved"]);
        let open = Context {
            model: LoadModel::Open,
            ..PEAK
        };
        assert!(codes(open).is_empty());
    }
}
