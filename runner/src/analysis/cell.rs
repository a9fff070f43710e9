//! One cell's figures from its measured windows and launches: per-round figures, medians over
//! rounds with intervals, and the flags its own figures raise. Pure: the same record gives the
//! same figures.

use super::flags::{self, Observations};
use super::stats::{median, Estimate};
use crate::config::LoadModel;
use crate::results::measured::{Measured, WindowRecord};
use crate::results::{CellResult, Estimates, Flag, Metrics, RoundFigures};

/// What a cell's figures depend on besides its windows, from its labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellContext {
    pub model: LoadModel,
    /// Requests in flight: VUs, connections x pipelining depth, or the open model's VU pool.
    pub in_flight: u32,
    /// Connections the load holds (hostile clients: how many).
    pub connections: u32,
}

impl CellContext {
    pub fn of(cell: &CellResult) -> CellContext {
        CellContext {
            model: cell.load_model,
            in_flight: cell.concurrency * cell.pipeline.unwrap_or(1).max(1),
            connections: cell.concurrency,
        }
    }
}

/// Everything derived from one cell's own measurements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellFigures {
    pub metrics: Metrics,
    pub repeats_rps: Vec<f64>,
    pub rounds: Vec<RoundFigures>,
    pub disturbed: Vec<RoundFigures>,
    pub estimates: Estimates,
    pub flags: Vec<Flag>,
    /// Open model: the median rate offered over rounds.
    pub offered_rps: Option<u32>,
    /// Against the run's "× native" baseline (set by `analyze`, which sees the whole run).
    pub ratio: Option<crate::results::Ratio>,
}

/// The figures of one window: throughput, latency, and CPU per completed request. The CPU
/// readings span the generator's whole process, which sent exactly the requests it counted;
/// shares of a CPU are taken over the generator's own measured time.
pub fn round_figures(w: &WindowRecord) -> RoundFigures {
    let cpu_s = w.server_user_s + w.server_sys_s;
    let share = |seconds: f64| (w.elapsed_s > 0.0).then(|| seconds / w.elapsed_s * 100.0);
    RoundFigures {
        round: w.round,
        offered_rps: w.offered_rps,
        rps: w.rps(),
        requests: w.requests,
        window_s: w.elapsed_s,
        p50_ms: w.latency_ms.map(|d| d.med),
        p99_ms: w.latency_ms.map(|d| d.p99),
        server_cpu_pct: share(cpu_s),
        server_cpu_us_per_request: (w.requests >= 1).then(|| cpu_s / w.requests as f64 * 1e6),
        generator_cpu_pct: share(w.generator_cpu_s).map(|pct| pct / w.generator_cpus.max(1) as f64),
        steal_pct: w.steal_pct,
        remeasured: w.remeasured,
    }
}

/// A cell's figures. Runs published before windows were recorded keep the figures they were
/// published with (nothing is left to derive them from).
pub fn figures(cell: &CellResult) -> CellFigures {
    let m = &cell.measured;
    let legacy = *m == Measured::default()
        && (!cell.rounds.is_empty() || cell.metrics != Metrics::default());
    if legacy {
        return CellFigures {
            metrics: cell.metrics.clone(),
            repeats_rps: cell.repeats_rps.clone(),
            rounds: cell.rounds.clone(),
            disturbed: cell.disturbed.clone(),
            estimates: cell.estimates.clone(),
            // The floor's flag is the run's to raise again.
            flags: (cell.flags.iter())
                .filter(|f| !matches!(f, Flag::GeneratorNoise { .. }))
                .cloned()
                .collect(),
            offered_rps: cell.offered_rps,
            ratio: None,
        };
    }
    let ctx = CellContext::of(cell);
    let rounds: Vec<RoundFigures> = m.windows.iter().map(round_figures).collect();
    let repeats_rps: Vec<f64> = rounds.iter().map(|r| r.rps).collect();
    let of =
        |f: fn(&RoundFigures) -> Option<f64>| -> Vec<f64> { rounds.iter().filter_map(f).collect() };
    let estimates = Estimates {
        rps: Estimate::of(&repeats_rps),
        server_cpu_us_per_request: Estimate::of(&of(|r| r.server_cpu_us_per_request)),
        p50_ms: Estimate::of(&of(|r| r.p50_ms)),
        p99_ms: Estimate::of(&of(|r| r.p99_ms)),
    };
    let mut metrics = launch_metrics(m);
    let mut flags = Vec::new();
    if !m.windows.is_empty() {
        load_metrics(&m.windows, &repeats_rps, &mut metrics);
        cpu_metrics(&m.windows, &rounds, &mut metrics);
        let cv_pct = super::stats::cv(&repeats_rps).map(|cv| cv * 100.0);
        flags = flags::evaluate(&observations(&metrics, &m.windows, ctx, cv_pct));
    }
    if ctx.model == LoadModel::Hostile {
        flags.extend(flags::shut_out(&m.windows, ctx.connections));
    }
    if let Some(failure) = m.failure.as_ref().filter(|f| f.kind.broke()) {
        if let Some(cause) = &failure.cause {
            flags.push(Flag::Broke {
                connections: ctx.connections,
                cause: cause.clone(),
            });
        }
    }
    CellFigures {
        offered_rps: median(&of(|r| r.offered_rps)).map(|rate| rate.round() as u32),
        disturbed: m.set_aside.iter().map(round_figures).collect(),
        metrics,
        repeats_rps,
        rounds,
        estimates,
        flags,
        ratio: None,
    }
}

/// Startup, prepare and memory figures: medians over the launches that served the cell; the
/// prepare time is the first launch's (later ones reuse its cached output).
fn launch_metrics(m: &Measured) -> Metrics {
    let median_of = |f: fn(&crate::results::measured::LaunchFigures) -> Option<f64>| {
        median(&m.launches.iter().filter_map(f).collect::<Vec<_>>())
    };
    Metrics {
        startup_ms: median_of(|l| l.startup_ms),
        first_request_ms: median_of(|l| l.first_request_ms),
        rss_idle_kb: median_of(|l| l.rss_idle_kb.map(|kb| kb as f64)).map(|kb| kb as u64),
        prepare_ms: m.launches.first().and_then(|l| l.prepare_ms),
        prepared_bytes: m.launches.first().and_then(|l| l.prepared_bytes),
        warm_request_ms: median(&m.warm_ms),
        rss_peak_kb: m.rss_peak_kb.filter(|&kb| kb > 0),
        rss_end_kb: m.rss_end_kb,
        artifact_bytes: m.artifact_bytes,
        artifact_stripped_bytes: m.artifact_stripped_bytes,
        ..Default::default()
    }
}

/// The window whose req/s is the median (lower middle for even counts).
fn median_window(windows: &[WindowRecord]) -> Option<&WindowRecord> {
    let mut sorted: Vec<&WindowRecord> = windows.iter().collect();
    sorted.sort_by(|a, b| a.rps().total_cmp(&b.rps()));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// Throughput and errors over rounds (requests and drops are totals); latency of the median
/// round, so its percentiles stay in order (medians taken percentile by percentile need not be).
fn load_metrics(windows: &[WindowRecord], repeats_rps: &[f64], m: &mut Metrics) {
    let requests: u64 = windows.iter().map(|w| w.requests).sum();
    m.rps = median(repeats_rps);
    m.rps_min = repeats_rps.iter().copied().reduce(f64::min);
    m.rps_max = repeats_rps.iter().copied().reduce(f64::max);
    m.requests = Some(requests);
    m.dropped = windows
        .iter()
        .map(|w| w.dropped)
        .try_fold(0, |sum, d| Some(sum + d?));
    // Failures weighed by each window's requests.
    m.failed_rate = Some(if requests > 0 {
        windows
            .iter()
            .map(|w| w.failed_rate * w.requests as f64)
            .sum::<f64>()
            / requests as f64
    } else {
        windows.iter().map(|w| w.failed_rate).fold(0.0, f64::max)
    });
    let Some(w) = median_window(windows) else {
        return;
    };
    if let Some(d) = w.latency_ms {
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
            .filter(|_| super::stats::tail_supported(w.requests, 0.999));
    }
    let phases = w.phases_ms.unwrap_or_default();
    m.blocked_avg_ms = phases.blocked.map(|t| t.avg);
    m.connecting_avg_ms = phases.connecting.map(|t| t.avg);
    m.sending_avg_ms = phases.sending.map(|t| t.avg);
    m.waiting_avg_ms = phases.waiting.map(|t| t.avg);
    m.receiving_avg_ms = phases.receiving.map(|t| t.avg);
    m.receiving_p95_ms = phases.receiving.map(|t| t.p95);
}

/// Server CPU: medians over rounds of the share of a core, the helper threads' share, CPU and
/// context switches per completed request; user and system time summed over windows.
fn cpu_metrics(windows: &[WindowRecord], rounds: &[RoundFigures], m: &mut Metrics) {
    let per_round = |f: fn(&RoundFigures) -> Option<f64>| -> Option<f64> {
        median(&rounds.iter().filter_map(f).collect::<Vec<_>>())
    };
    let per_window = |f: &dyn Fn(&WindowRecord) -> Option<f64>| -> Option<f64> {
        median(&windows.iter().filter_map(f).collect::<Vec<_>>())
    };
    m.server_cpu_pct = per_round(|r| r.server_cpu_pct);
    m.server_cpu_us_per_request = per_round(|r| r.server_cpu_us_per_request);
    m.generator_cpu_pct = per_round(|r| r.generator_cpu_pct);
    m.steal_pct = per_round(|r| r.steal_pct);
    m.server_cpu_user_s = Some(windows.iter().map(|w| w.server_user_s).sum());
    m.server_cpu_sys_s = Some(windows.iter().map(|w| w.server_sys_s).sum());
    m.server_other_threads_cpu_pct =
        per_window(&|w| (w.elapsed_s > 0.0).then(|| w.other_threads_s / w.elapsed_s * 100.0));
    m.server_switches_per_request =
        per_window(&|w| (w.requests >= 1).then(|| w.switches as f64 / w.requests as f64));
}

/// What the flag rules look at, from the figures.
fn observations(
    m: &Metrics,
    windows: &[WindowRecord],
    ctx: CellContext,
    cv_pct: Option<f64>,
) -> Observations {
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
            .then_some(ctx.in_flight),
        rps: m.rps,
        avg_ms: m.avg_ms,
        generator_cpu_pct: m.generator_cpu_pct,
        generator_cpus: windows.first().map_or(0, |w| w.generator_cpus),
        rps_repeats_spread_pct: cv_pct,
        repeats: windows.len(),
        failed_rate: m.failed_rate,
        open_model: matches!(ctx.model, LoadModel::Open),
        steal_pct: m.steal_pct,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::{cell, window};

    fn peak(windows: Vec<WindowRecord>) -> CellResult {
        let mut c = cell("native", "current-thread", "peak-50");
        c.measured.windows = windows;
        c
    }

    #[test]
    fn every_figure_is_the_median_over_rounds_with_an_interval() {
        // Three rounds at 100k, 120k and 110k req/s, 9 µs of CPU per request in each.
        let c = peak(vec![
            window(0, 100_000.0, 0.5, 9.0),
            window(1, 120_000.0, 0.4, 9.0),
            window(2, 110_000.0, 0.45, 9.0),
        ]);
        let f = figures(&c);
        assert_eq!(f.repeats_rps, vec![100_000.0, 120_000.0, 110_000.0]);
        let m = &f.metrics;
        assert_eq!(m.rps, Some(110_000.0));
        assert_eq!(m.p50_ms, Some(0.45), "latency comes from the median round");
        assert_eq!(m.requests, Some(660_000));
        assert_eq!((m.rps_min, m.rps_max), (Some(100_000.0), Some(120_000.0)));
        assert!((m.server_cpu_us_per_request.unwrap() - 9.0).abs() < 1e-9);
        assert!((m.server_switches_per_request.unwrap() - 0.01).abs() < 1e-9);
        assert_eq!(m.generator_cpu_pct, Some(50.0));
        let rps = f.estimates.rps.unwrap();
        assert_eq!((rps.median, rps.n), (110_000.0, 3));
        assert!(rps.lo < 100_000.0 && rps.hi > 120_000.0);
        assert!((rps.cv - 0.0909).abs() < 1e-3, "{}", rps.cv);
        assert_eq!(f.rounds[2].round, 2);
        assert!(
            f.flags.is_empty(),
            "a 9% CV is not high spread: {:?}",
            f.flags
        );
    }

    #[test]
    fn rounds_that_disagree_are_flagged_and_no_window_gives_launch_figures_only() {
        let c = peak(vec![
            window(0, 100.0, 0.4, 50.0),
            window(1, 300.0, 0.1, 50.0),
        ]);
        let f = figures(&c);
        assert_eq!(f.metrics.rps, Some(200.0));
        assert!(
            f.flags.iter().any(|f| matches!(f, Flag::HighSpread { .. })),
            "{:?}",
            f.flags
        );
        let mut none = peak(Vec::new());
        none.measured.launches = vec![crate::results::measured::LaunchFigures {
            startup_ms: Some(12.0),
            ..Default::default()
        }];
        let f = figures(&none);
        assert_eq!(f.metrics.startup_ms, Some(12.0));
        assert_eq!(f.metrics.rps, None);
        assert!(f.repeats_rps.is_empty() && f.flags.is_empty());
        assert_eq!(f.estimates, Estimates::default());
    }

    #[test]
    fn littles_law_is_not_applied_to_the_open_model() {
        // 50 connections at 2 ms would be 25k req/s: 1k req/s is starved under a closed load,
        // but the open model's rate sets req/s whatever the latency.
        let mut c = peak(vec![window(0, 1_000.0, 2.0, 50.0)]);
        let codes = |c: &CellResult| figures(c).flags.iter().map(Flag::code).collect::<Vec<_>>();
        assert_eq!(codes(&c), ["starved"]);
        c.load_model = LoadModel::Open;
        assert!(codes(&c).is_empty());
    }

    #[test]
    fn a_server_that_broke_is_flagged_with_its_cause_and_hostile_shut_outs_are_counted() {
        use crate::results::measured::{Failure, FailureKind};
        let mut c = peak(vec![window(0, 1_000.0, 0.2, 50.0)]);
        c.measured.failure = Some(Failure {
            kind: FailureKind::ServerDied,
            cause: Some("poll_oneoff failed".into()),
        });
        let f = figures(&c);
        assert!(f.flags.contains(&Flag::Broke {
            connections: 50,
            cause: "poll_oneoff failed".into()
        }));
        let mut hostile = peak(vec![window(0, 10.0, 900.0, 50.0)]);
        hostile.load_model = LoadModel::Hostile;
        // The slowest fresh request took 3.6 s (four times the p50 of 900 ms): past the bound.
        let f = figures(&hostile);
        assert!(
            f.flags
                .iter()
                .any(|f| matches!(f, Flag::ShutOut { worst_ms, .. } if *worst_ms == 3600.0)),
            "{:?}",
            f.flags
        );
    }
}
