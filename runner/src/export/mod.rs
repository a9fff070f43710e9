//! Results for other tools: one row per cell and metric, with its 95% interval, as CSV, JSON or
//! the Bencher Metric Format (BMF, read by Bencher and github-action-benchmark's custom tools).
//! One file per format, after hyperfine's `export/`.

pub mod bmf;
pub mod csv;
pub mod json;

use serde::{Deserialize, Serialize};

use crate::analysis::cell::CellFigures;
use crate::analysis::stats::Estimate;
use crate::analysis::Analysis;
use crate::results::{Run, Status};

/// One figure of one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// Every figure of every measured cell, as the analysis derived it (the page shows the same
/// numbers, formatted): the cell's own figures, its multiples of native, of its direct cell (a
/// container) and of its runtime's newest release, its link prediction, and its change against
/// the previous run.
pub fn rows(run: &Run, a: &Analysis) -> Vec<MetricRow> {
    let mut rows = Vec::new();
    for (i, cell) in run.cells.iter().enumerate() {
        if cell.status != Status::Ok {
            continue;
        }
        let f = &a.cells[i];
        let mut figures = cell_figures(f);
        figures.extend(comparisons(a, i, &cell.id));
        for (metric, unit, value, interval) in figures {
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
                lower: interval.map(|e| e.0),
                upper: interval.map(|e| e.1),
                rounds: f.rounds.len(),
            });
        }
    }
    rows
}

/// (metric, unit, value, 95% interval).
type Figure = (&'static str, &'static str, Option<f64>, Option<(f64, f64)>);

fn est(e: Option<&Estimate>) -> (Option<f64>, Option<(f64, f64)>) {
    (
        e.map(|e| e.median),
        e.filter(|e| e.n >= 2).map(|e| (e.lo, e.hi)),
    )
}

fn figure(metric: &'static str, unit: &'static str, e: Option<&Estimate>) -> Figure {
    let (value, interval) = est(e);
    (metric, unit, value, interval)
}

/// A cell's own figures and its multiples of native.
fn cell_figures(f: &CellFigures) -> Vec<Figure> {
    let m = &f.metrics;
    let e = &f.estimates;
    let ratio = f.ratio.as_ref();
    let plain = |metric, unit, value| (metric, unit, value, None);
    vec![
        figure("rps", "requests/s", e.rps.as_ref()).or(m.rps),
        figure("rps_x_native", "ratio", ratio.and_then(|r| r.rps.as_ref())),
        figure(
            "cpu_us_per_request",
            "µs",
            e.server_cpu_us_per_request.as_ref(),
        )
        .or(m.server_cpu_us_per_request),
        figure("cpu_x_native", "ratio", ratio.and_then(|r| r.cpu.as_ref())),
        plain("offered_rps", "requests/s", f.offered_rps.map(f64::from)),
        figure("p50_ms", "ms", e.p50_ms.as_ref()).or(m.p50_ms),
        figure("p99_ms", "ms", e.p99_ms.as_ref()).or(m.p99_ms),
        plain("median_round_p50_ms", "ms", m.p50_ms),
        plain("median_round_p95_ms", "ms", m.p95_ms),
        plain("median_round_p99_ms", "ms", m.p99_ms),
        plain("median_round_p999_ms", "ms", m.p999_ms),
        plain("receiving_avg_ms", "ms", m.receiving_avg_ms),
        plain("server_cpu_pct", "%", m.server_cpu_pct),
        plain("other_threads_cpu_pct", "%", m.server_other_threads_cpu_pct),
        plain(
            "rss_peak_mb",
            "MB",
            m.rss_peak_kb.map(|kb| kb as f64 / 1024.0),
        ),
        plain("startup_ms", "ms", m.startup_ms),
        plain(
            "artifact_bytes",
            "bytes",
            m.artifact_bytes.map(|b| b as f64),
        ),
    ]
}

/// The cell's other comparisons: × direct, × newest, the link prediction, the generator floor
/// it sets (a baseline of an open load), vs previous.
fn comparisons(a: &Analysis, i: usize, id: &str) -> Vec<Figure> {
    let mut out = Vec::new();
    for p in a.container_pairs.iter().filter(|p| p.container == i) {
        out.push(figure("rps_x_direct", "ratio", p.ratio.rps.as_ref()));
        out.push(figure("cpu_x_direct", "ratio", p.ratio.cpu.as_ref()));
    }
    for m in a
        .version_groups
        .iter()
        .flat_map(|g| &g.members)
        .filter(|m| m.cell == i)
    {
        if let Some(p) = &m.vs_newest {
            out.push(figure("rps_x_newest", "ratio", p.rps.as_ref()));
            out.push(figure("cpu_x_newest", "ratio", p.cpu.as_ref()));
        }
    }
    for m in a
        .link_groups
        .iter()
        .flat_map(|g| &g.members)
        .filter(|m| m.cell == i)
    {
        out.push(("predicted_rps", "requests/s", m.predicted_rps, None));
        out.push(("measured_over_predicted", "ratio", m.agreement, None));
    }
    for d in a.diagnoses.iter().filter(|d| d.cell == i) {
        out.push((
            "instructions_per_request",
            "instructions",
            d.instructions.as_ref().ok().copied(),
            None,
        ));
        // The calls that do not depend on timing (every call in runs without a paced pass),
        // then every call, back to back and paced.
        let calls = d.syscalls.as_ref().ok();
        out.push((
            "syscalls_per_request",
            "calls",
            calls.map(|s| s.repeatable()),
            None,
        ));
        let all = calls.and_then(|s| s.all_calls());
        out.push((
            "syscalls_all_per_request_back_to_back",
            "calls",
            all.map(|t| t.0),
            None,
        ));
        out.push((
            "syscalls_all_per_request_paced",
            "calls",
            all.map(|t| t.1),
            None,
        ));
        for bucket in crate::analysis::diagnosis::Bucket::ALL {
            out.push((bucket.metric(), "µs", d.cpu_in(bucket), None));
        }
    }
    if let Some(floor) = a.floors.iter().find(|f| f.baseline == id) {
        out.push(("generator_floor_p99_ms", "ms", Some(floor.floor_ms), None));
    }
    if let Some(change) = a
        .verdicts
        .get(i)
        .cloned()
        .flatten()
        .and_then(|v| v.change())
    {
        out.push((
            "change_vs_previous",
            "ratio",
            Some(change.ratio),
            Some((change.lo, change.hi)),
        ));
    }
    out
}

/// A figure with no interval of its own falls back to the median the cell has.
trait OrMedian {
    fn or(self, median: Option<f64>) -> Self;
}

impl OrMedian for Figure {
    fn or(mut self, median: Option<f64>) -> Figure {
        if self.2.is_none() {
            self.2 = median;
        }
        self
    }
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
        let rows = rows(&run, &crate::analysis::analyze(&run));
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
