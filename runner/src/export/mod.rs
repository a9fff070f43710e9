//! Results for other tools: one row per cell and metric, with its 95% interval, as CSV, JSON or
//! the Bencher Metric Format (BMF, read by Bencher and github-action-benchmark's custom tools).
//! One file per format, after hyperfine's `export/`.

pub mod bmf;
pub mod csv;
pub mod json;

use serde::Serialize;

use crate::results::{CellResult, Run, Status};
use crate::stats::Estimate;

/// One figure of one cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRow {
    pub run_id: String,
    pub cell: String,
    pub server: String,
    pub runtime: String,
    pub mode: String,
    pub write: String,
    pub workload: String,
    pub load: String,
    /// e.g. "rps", "rps_x_native", "cpu_us_per_request".
    pub metric: String,
    pub unit: String,
    pub value: f64,
    /// The 95% interval over rounds, where the figure has one.
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub rounds: usize,
}

/// Every exported figure of every measured cell.
pub fn rows(run: &Run) -> Vec<MetricRow> {
    let mut rows = Vec::new();
    for cell in run.cells.iter().filter(|c| c.status == Status::Ok) {
        for (metric, unit, value, interval) in figures(cell) {
            let Some(value) = value else { continue };
            rows.push(MetricRow {
                run_id: run.run_id.clone(),
                cell: cell.id.clone(),
                server: cell.server.clone(),
                runtime: cell.runtime.clone(),
                mode: cell.mode.clone(),
                write: cell.write.clone(),
                workload: cell.workload.clone(),
                load: cell.load.clone(),
                metric: metric.into(),
                unit: unit.into(),
                value,
                lower: interval.map(|e| e.lo),
                upper: interval.map(|e| e.hi),
                rounds: cell.rounds.len(),
            });
        }
    }
    rows
}

type Figure<'a> = (
    &'static str,
    &'static str,
    Option<f64>,
    Option<&'a Estimate>,
);

/// The figures a cell exports: (metric, unit, median, interval).
fn figures(cell: &CellResult) -> Vec<Figure<'_>> {
    let m = &cell.metrics;
    let e = &cell.estimates;
    fn with(est: Option<&Estimate>) -> Option<&Estimate> {
        est.filter(|e| e.n >= 2)
    }
    let ratio = cell.ratio.as_ref();
    vec![
        ("rps", "requests/s", m.rps, with(e.rps.as_ref())),
        (
            "rps_x_native",
            "ratio",
            ratio.and_then(|r| r.rps.map(|e| e.median)),
            with(ratio.and_then(|r| r.rps.as_ref())),
        ),
        (
            "cpu_us_per_request",
            "µs",
            m.server_cpu_us_per_request,
            with(e.server_cpu_us_per_request.as_ref()),
        ),
        (
            "cpu_x_native",
            "ratio",
            ratio.and_then(|r| r.cpu.map(|e| e.median)),
            with(ratio.and_then(|r| r.cpu.as_ref())),
        ),
        ("p50_ms", "ms", m.p50_ms, with(e.p50_ms.as_ref())),
        ("p99_ms", "ms", m.p99_ms, with(e.p99_ms.as_ref())),
        ("p999_ms", "ms", m.p999_ms, None),
        (
            "rss_peak_mb",
            "MB",
            m.rss_peak_kb.map(|kb| kb as f64 / 1024.0),
            None,
        ),
        ("startup_ms", "ms", m.startup_ms, None),
    ]
}

/// The formats `matrix export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
    Bmf,
}

/// `rows` in `format`.
pub fn write(format: Format, rows: &[MetricRow]) -> anyhow::Result<String> {
    match format {
        Format::Csv => csv::write(rows),
        Format::Json => json::write(rows),
        Format::Bmf => bmf::write(rows),
    }
}

#[cfg(test)]
pub(crate) fn fixture() -> Run {
    crate::results::read_run(
        &crate::paths::repo_root().join("runner/tests/fixtures/rounds-run.json"),
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_measured_cell_exports_its_figures_with_intervals() {
        let run = fixture();
        let rows = rows(&run);
        let ok = run.cells.iter().filter(|c| c.status == Status::Ok).count();
        let rps: Vec<&MetricRow> = rows.iter().filter(|r| r.metric == "rps").collect();
        assert_eq!(rps.len(), ok);
        for r in &rps {
            let (lo, hi) = (r.lower.unwrap(), r.upper.unwrap());
            assert!(lo <= r.value && r.value <= hi, "{r:?}");
            assert!(r.rounds >= 3);
        }
        assert!(rows
            .iter()
            .any(|r| r.metric == "cpu_x_native" && r.lower.is_some()));
    }
}
