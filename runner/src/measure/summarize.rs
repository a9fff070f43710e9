//! The arithmetic that turns a cell's measured windows into its published figures and flags: a
//! pure function of what was measured, so each figure has a unit test of its own.

use super::threads::ThreadSplit;
use super::window::Window;
use crate::config::LoadModel;
use crate::results::flags::{self, Observations};
use crate::results::{Flag, Metrics};
use crate::stats::median;

/// What the figures depend on besides the windows.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub model: LoadModel,
    /// VUs, connections or the open model's VU pool.
    pub concurrency: u32,
    /// CPUs the generator was pinned to.
    pub generator_cpus: usize,
}

/// A cell's figures from its windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub metrics: Metrics,
    /// req/s of each window.
    pub repeats_rps: Vec<f64>,
    pub flags: Vec<Flag>,
}

/// The window whose req/s is the median (lower middle for even counts), so its latencies go with it.
fn median_window(windows: &[Window]) -> Option<&Window> {
    let mut sorted: Vec<&Window> = windows.iter().collect();
    sorted.sort_by(|a, b| a.summary.rps().total_cmp(&b.summary.rps()));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// Totals over windows: CPU is summed and divided by summed time and requests, so every window
/// weighs by its length.
#[derive(Debug, Default)]
struct Totals {
    server_user_s: f64,
    server_sys_s: f64,
    window_s: f64,
    /// Requests completed inside the measured windows (the CPU and switch counts cover those).
    requests: f64,
    threads: ThreadSplit,
}

impl Totals {
    fn of(windows: &[Window]) -> Totals {
        let mut t = Totals::default();
        for w in windows {
            t.server_user_s += w.server_cpu.0;
            t.server_sys_s += w.server_cpu.1;
            t.window_s += w.window_s;
            t.requests += w.summary.rps() * w.window_s;
            t.threads.add(&w.server_threads);
        }
        t
    }

    fn server_cpu_s(&self) -> f64 {
        self.server_user_s + self.server_sys_s
    }
}

/// Fills `metrics` (which already holds what the launch measured) with the load figures of
/// `windows`. With no windows it returns `metrics` as it was.
pub fn summarize(windows: &[Window], ctx: Context, mut metrics: Metrics) -> Summary {
    let repeats_rps: Vec<f64> = windows.iter().map(|w| w.summary.rps()).collect();
    let Some(median_run) = median_window(windows) else {
        return Summary {
            metrics,
            repeats_rps,
            flags: Vec::new(),
        };
    };
    let s = &median_run.summary;
    let m = &mut metrics;
    m.rps = Some(s.rps());
    m.dropped = s.dropped;
    m.rps_min = repeats_rps.iter().copied().reduce(f64::min);
    m.rps_max = repeats_rps.iter().copied().reduce(f64::max);
    m.requests = Some(s.requests);
    m.failed_rate = Some(s.failed_rate);
    if let Some(d) = s.duration_ms {
        (m.avg_ms, m.p50_ms, m.p90_ms, m.p95_ms, m.p99_ms, m.max_ms) = (
            Some(d.avg),
            Some(d.med),
            Some(d.p90),
            Some(d.p95),
            Some(d.p99),
            Some(d.max),
        );
    }
    m.blocked_avg_ms = s.blocked_ms.map(|t| t.avg);
    m.connecting_avg_ms = s.connecting_ms.map(|t| t.avg);
    m.sending_avg_ms = s.sending_ms.map(|t| t.avg);
    m.waiting_avg_ms = s.waiting_ms.map(|t| t.avg);
    m.receiving_avg_ms = s.receiving_ms.map(|t| t.avg);
    m.receiving_p95_ms = s.receiving_ms.map(|t| t.p95);
    cpu_figures(&Totals::of(windows), m);
    let generator_pct: Vec<f64> = windows
        .iter()
        .map(|w| w.generator_cpu_s / w.window_s / ctx.generator_cpus as f64 * 100.0)
        .collect();
    m.generator_cpu_pct = median(&generator_pct);
    let flags = flags::evaluate(&observations(m, ctx, windows.len()));
    Summary {
        metrics,
        repeats_rps,
        flags,
    }
}

/// Server CPU as a share of the windows, CPU and switches per completed request.
fn cpu_figures(t: &Totals, m: &mut Metrics) {
    if t.window_s > 0.0 {
        m.server_cpu_pct = Some(t.server_cpu_s() / t.window_s * 100.0);
        m.server_cpu_user_s = Some(t.server_user_s);
        m.server_cpu_sys_s = Some(t.server_sys_s);
        m.server_other_threads_cpu_pct = Some(t.threads.other_cpu_s / t.window_s * 100.0);
    }
    if t.requests >= 1.0 {
        m.server_cpu_us_per_request = Some(t.server_cpu_s() / t.requests * 1e6);
        m.server_switches_per_request = Some(t.threads.switches as f64 / t.requests);
    }
}

/// What the flag rules look at, from the figures.
fn observations(m: &Metrics, ctx: Context, repeats: usize) -> Observations {
    let spread = match (m.rps_min, m.rps_max, m.rps) {
        (Some(lo), Some(hi), Some(mid)) if mid > 0.0 => Some((hi - lo) / mid * 100.0),
        _ => None,
    };
    Observations {
        receiving_avg_ms: m.receiving_avg_ms,
        waiting_avg_ms: m.waiting_avg_ms,
        p50_ms: m.p50_ms,
        server_cpu_pct: m.server_cpu_pct,
        server_other_threads_cpu_pct: m.server_other_threads_cpu_pct,
        server_switches_per_request: m.server_switches_per_request,
        // The open model fixes req/s by its rate, so Little's law says nothing there.
        concurrency: (ctx.model != LoadModel::Open).then_some(ctx.concurrency),
        rps: m.rps,
        avg_ms: m.avg_ms,
        generator_cpu_pct: m.generator_cpu_pct,
        generator_cpus: ctx.generator_cpus,
        rps_repeats_spread_pct: spread,
        repeats,
        failed_rate: m.failed_rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{LoadSummary, Trend};

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
                }),
                blocked_ms: None,
                connecting_ms: None,
                sending_ms: None,
                waiting_ms: None,
                receiving_ms: None,
            },
            window_s,
            server_cpu,
            server_threads: ThreadSplit {
                busiest_cpu_s: server_cpu.0 + server_cpu.1,
                other_cpu_s: 0.0,
                switches: requests / 100,
            },
            generator_cpu_s: window_s * 0.5,
        }
    }

    const PEAK: Context = Context {
        model: LoadModel::Peak,
        concurrency: 50,
        generator_cpus: 1,
    };

    #[test]
    fn the_median_window_gives_req_s_and_latency_and_cpu_weighs_every_window() {
        // Three 5 s windows at 100k, 120k and 110k req/s; the server at 90% of a CPU in each.
        let windows = [
            window(500_000, 5.0, 0.5, (3.5, 1.0)),
            window(600_000, 5.0, 0.4, (3.5, 1.0)),
            window(550_000, 5.0, 0.45, (3.5, 1.0)),
        ];
        let s = summarize(&windows, PEAK, Metrics::default());
        assert_eq!(s.repeats_rps, vec![100_000.0, 120_000.0, 110_000.0]);
        let m = &s.metrics;
        assert_eq!(m.rps, Some(110_000.0));
        assert_eq!(m.p50_ms, Some(0.45), "latency comes from the median window");
        assert_eq!((m.rps_min, m.rps_max), (Some(100_000.0), Some(120_000.0)));
        assert!((m.server_cpu_pct.unwrap() - 90.0).abs() < 1e-9);
        // 13.5 CPU-seconds over 1.65 M requests.
        assert!((m.server_cpu_us_per_request.unwrap() - 13.5 / 1.65e6 * 1e6).abs() < 1e-9);
        assert!((m.server_switches_per_request.unwrap() - 0.01).abs() < 1e-9);
        assert_eq!(m.generator_cpu_pct, Some(50.0));
        // (120k - 100k) / 110k = 18% > 10%: the repeats disagree.
        assert_eq!(
            s.flags.iter().map(Flag::code).collect::<Vec<_>>(),
            ["high-spread"]
        );
    }

    #[test]
    fn an_even_count_takes_the_lower_middle_and_no_window_changes_nothing() {
        let windows = [
            window(100, 1.0, 2.0, (0.1, 0.0)),
            window(300, 1.0, 1.0, (0.1, 0.0)),
        ];
        let s = summarize(&windows, PEAK, Metrics::default());
        assert_eq!(s.metrics.rps, Some(100.0));
        let before = Metrics {
            startup_ms: Some(12.0),
            ..Default::default()
        };
        let s = summarize(&[], PEAK, before.clone());
        assert_eq!(s.metrics, before);
        assert!(s.repeats_rps.is_empty() && s.flags.is_empty());
    }

    #[test]
    fn littles_law_is_not_applied_to_the_open_model() {
        // 50 connections at 2 ms would be 25k req/s: 1k req/s is starved under a closed load,
        // but the open model's rate sets req/s whatever the latency.
        let windows = [window(5_000, 5.0, 2.0, (0.5, 0.0))];
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
