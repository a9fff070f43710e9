//! Runs over time: which stored runs measured the same thing (same builds and runtime releases,
//! same matrix, same machine), how much whole runs of it shift beyond their rounds (the noise that
//! widens every interval), whether each figure's interval held the next run's median (coverage),
//! and the series the history chart draws.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::cell::CellFigures;
use super::stats::RunNoise;
use crate::config::LoadModel;
use crate::results::records::{NoiseEntry, NoiseFigure, NoiseTable};
use crate::results::{CellResult, Run, Status};

/// What a run measured, as four identities: its code (the builds' image digests and the
/// runtimes' releases), its matrix (settings and cells), its machine, and whether the pre-flight
/// kept the CPUs awake (at one connection that alone moved native's req/s about 2x here, and
/// `auto` decides it per run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub code: String,
    pub matrix: String,
    pub machine: String,
    /// `Some(true)`: kept awake; `None`: a run from before the pre-flight recorded it.
    pub kept_awake: Option<bool>,
}

fn short(h: Sha256) -> String {
    h.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

pub fn fingerprint(run: &Run) -> Fingerprint {
    let mut code = Sha256::new();
    for (build, image) in &run.images {
        code.update(format!("{build}={};", image.digest));
    }
    let mut versions: Vec<(&str, &str)> = run
        .cells
        .iter()
        .filter(|c| c.status != Status::Skipped)
        .map(|c| (c.runtime.as_str(), c.runtime_version.as_deref().unwrap_or("")))
        .collect();
    versions.sort();
    versions.dedup();
    code.update(format!("{versions:?}"));
    let mut matrix = Sha256::new();
    let s = &run.settings;
    matrix.update(format!(
        "{:?}/{:?}/{:?}/{}/{}/{}",
        s.duration, s.warmup, s.rewarm, s.repeats, s.server_cpus, s.generator_cpus
    ));
    let mut ids: Vec<&str> = run.cells.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    matrix.update(ids.join(";"));
    let e = &run.environment;
    Fingerprint {
        code: short(code),
        matrix: short(matrix),
        machine: format!("{}/{}/{}", e.machine, e.cpu_model, e.cpus),
        kept_awake: run.preflight.as_ref().map(|p| p.keep_awake.enabled),
    }
}

/// The runs of `history` (oldest first) that measured what `run` measures: same code, matrix,
/// machine and keep-awake state (complete runs only).
pub fn same_experiment<'a>(history: &'a [Run], run: &Run) -> Vec<&'a Run> {
    let f = fingerprint(run);
    history
        .iter()
        .filter(|h| h.complete && h.run_id != run.run_id && fingerprint(h) == f)
        .collect()
}

/// Per-round values of one figure of one cell: the series a noise estimate pairs across runs.
fn series(cell: &CellResult, f: &CellFigures, figure: NoiseFigure) -> Vec<f64> {
    let rounds = &f.rounds;
    match figure {
        NoiseFigure::Rps if cell.load_model != LoadModel::Open => rounds.iter().map(|r| r.rps).collect(),
        NoiseFigure::Cpu => rounds.iter().filter_map(|r| r.server_cpu_us_per_request).collect(),
        NoiseFigure::Latency => rounds.iter().filter_map(|r| r.p99_ms).collect(),
        NoiseFigure::Ratio => f
            .ratio
            .as_ref()
            .filter(|r| r.rps.is_some() && r.baseline != cell.id)
            .map(|r| r.rps_rounds.clone())
            .unwrap_or_default(),
        NoiseFigure::CpuRatio => f
            .ratio
            .as_ref()
            .filter(|r| r.baseline != cell.id)
            .map(|r| r.cpu_rounds.clone())
            .unwrap_or_default(),
        NoiseFigure::Rps => Vec::new(),
    }
}

const FIGURES: [NoiseFigure; 5] = [
    NoiseFigure::Rps,
    NoiseFigure::Ratio,
    NoiseFigure::Cpu,
    NoiseFigure::CpuRatio,
    NoiseFigure::Latency,
];

/// Per-round series of every cell and figure of a run, by (cell id, figure), with the model.
fn all_series(run: &Run) -> BTreeMap<(String, NoiseFigure), (LoadModel, Vec<f64>)> {
    let a = super::analyze(run);
    let mut out = BTreeMap::new();
    for (cell, f) in run.cells.iter().zip(&a.cells) {
        if cell.status != Status::Ok {
            continue;
        }
        for figure in FIGURES {
            let values = series(cell, f, figure);
            if values.len() >= 2 {
                out.insert((cell.id.clone(), figure), (cell.load_model, values));
            }
        }
    }
    out
}

/// How much whole runs of `runs` (oldest first, the same experiment) shift beyond their rounds,
/// per figure and load model, from every cell of every pair of consecutive runs; `None` with
/// fewer than two runs. `leave_out`: a pair (by its later run's index) not to use.
pub fn noise_table(runs: &[&Run], leave_out: Option<usize>) -> Option<NoiseTable> {
    if runs.len() < 2 {
        return None;
    }
    let series: Vec<_> = runs.iter().map(|r| all_series(r)).collect();
    let mut pairs: BTreeMap<(NoiseFigure, LoadModel), Vec<(Vec<f64>, Vec<f64>)>> = BTreeMap::new();
    for k in 1..series.len() {
        if Some(k) == leave_out {
            continue;
        }
        for (key, (model, now)) in &series[k] {
            if let Some((_, before)) = series[k - 1].get(key) {
                pairs.entry((key.1, *model)).or_default().push((before.clone(), now.clone()));
            }
        }
    }
    let mut entries = Vec::new();
    for figure in FIGURES {
        let mut pooled = Vec::new();
        for ((f, model), list) in &pairs {
            if *f != figure {
                continue;
            }
            pooled.extend(list.iter().cloned());
            if let Some(noise) = RunNoise::estimate(list) {
                entries.push(NoiseEntry {
                    figure,
                    model: Some(*model),
                    noise,
                    pairs: list.len(),
                });
            }
        }
        if let Some(noise) = RunNoise::estimate(&pooled) {
            entries.push(NoiseEntry {
                figure,
                model: None,
                noise,
                pairs: pooled.len(),
            });
        }
    }
    (!entries.is_empty()).then(|| NoiseTable {
        entries,
        runs: runs.iter().map(|r| r.run_id.clone()).collect(),
        source: format!(
            "measured over {} stored runs of unchanged servers and runtimes on this machine ({} to {})",
            runs.len(),
            runs.first().map_or("", |r| r.run_id.as_str()),
            runs.last().map_or("", |r| r.run_id.as_str()),
        ),
        coverage_checked: 0,
        coverage_inside: 0,
    })
}

/// Whether intervals held: for each pair of consecutive runs and each figure of each cell, did
/// the later run's median fall inside the earlier run's rerun interval, the noise estimated
/// without that pair?
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Coverage {
    pub checked: usize,
    pub inside: usize,
    pub runs: usize,
}

impl Coverage {
    pub fn share(&self) -> Option<f64> {
        (self.checked > 0).then(|| self.inside as f64 / self.checked as f64)
    }
}

pub fn coverage(runs: &[&Run]) -> Coverage {
    let mut c = Coverage {
        runs: runs.len(),
        ..Default::default()
    };
    if runs.len() < 3 {
        return c;
    }
    let series: Vec<_> = runs.iter().map(|r| all_series(r)).collect();
    for k in 1..runs.len() {
        let Some(table) = noise_table(runs, Some(k)) else { continue };
        for (key, (model, before)) in &series[k - 1] {
            let Some((_, now)) = series[k].get(key) else { continue };
            let Some(noise) = table.get(key.1, *model) else { continue };
            let (Some(interval), Some(median)) =
                (super::stats::Estimate::for_rerun(before, noise), super::stats::median(now))
            else {
                continue;
            };
            c.checked += 1;
            if interval.lo <= median && median <= interval.hi {
                c.inside += 1;
            }
        }
    }
    c
}

/// The noise of `figure` for a cell of `model` in `table`, where the run has one.
fn noise_of(table: Option<&NoiseTable>, figure: NoiseFigure, model: LoadModel) -> Option<RunNoise> {
    table?.get(figure, model)
}

/// Every interval of `figures` widened by the run's noise (`Estimate::for_rerun`): where the
/// figure's median falls in a rerun on this machine. Without a table they stay the rounds' own.
pub fn widen(cells: &[CellResult], figures: &mut [CellFigures], table: Option<&NoiseTable>) {
    use super::stats::Estimate;
    let Some(table) = table else { return };
    for (cell, f) in cells.iter().zip(figures.iter_mut()) {
        let model = cell.load_model;
        let rerun = |values: Vec<f64>, figure| -> Option<Estimate> {
            Estimate::for_rerun(&values, noise_of(Some(table), figure, model)?)
        };
        let rounds = f.rounds.clone();
        let of = |g: fn(&crate::results::RoundFigures) -> Option<f64>| rounds.iter().filter_map(g).collect::<Vec<_>>();
        if let Some(e) = rerun(of(|r| Some(r.rps)), NoiseFigure::Rps).filter(|_| model != LoadModel::Open) {
            f.estimates.rps = Some(e);
        }
        if let Some(e) = rerun(of(|r| r.server_cpu_us_per_request), NoiseFigure::Cpu) {
            f.estimates.server_cpu_us_per_request = Some(e);
        }
        if let Some(e) = rerun(of(|r| r.p50_ms), NoiseFigure::Latency) {
            f.estimates.p50_ms = Some(e);
        }
        if let Some(e) = rerun(of(|r| r.p99_ms), NoiseFigure::Latency) {
            f.estimates.p99_ms = Some(e);
        }
        let is_baseline = f.ratio.as_ref().is_some_and(|r| r.baseline == cell.id);
        if let Some(ratio) = f.ratio.as_mut().filter(|_| !is_baseline) {
            if ratio.rps.is_some() {
                ratio.rps = rerun(ratio.rps_rounds.clone(), NoiseFigure::Ratio).or(ratio.rps);
            }
            ratio.cpu = rerun(ratio.cpu_rounds.clone(), NoiseFigure::CpuRatio).or(ratio.cpu);
        }
    }
}

/// A paired ratio's interval widened the same way (× direct, × newest), from its per-round values.
pub fn widen_pair(values: &[f64], figure: NoiseFigure, model: LoadModel, table: Option<&NoiseTable>) -> Option<super::stats::Estimate> {
    super::stats::Estimate::for_rerun(values, noise_of(table, figure, model)?)
}

/// One point of a history series: a run's figure for one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub run_id: String,
    pub commit: String,
    /// The runtime release the cell ran, where it reported one.
    pub version: Option<String>,
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
}

/// One cell's figure across runs (oldest first).
#[derive(Debug, Clone, PartialEq)]
pub struct HistorySeries {
    pub cell: String,
    pub runtime: String,
    pub points: Vec<HistoryPoint>,
}

/// The headline figure (CPU per request × native) of every non-native cell of `load` in
/// `workload` across `runs` (oldest first), as each run published it (its own intervals).
pub fn cpu_history(runs: &[&Run], workload: &str, load: &str) -> Vec<HistorySeries> {
    let mut series: Vec<HistorySeries> = Vec::new();
    for run in runs {
        let a = super::analyze(run);
        for (cell, f) in run.cells.iter().zip(&a.cells) {
            if cell.workload != workload || cell.load != load || cell.runtime == "native" || cell.status != Status::Ok {
                continue;
            }
            let Some(e) = f.ratio.as_ref().and_then(|r| r.cpu) else { continue };
            let point = HistoryPoint {
                run_id: run.run_id.clone(),
                commit: run.environment.git_commit.clone(),
                version: cell.runtime_version.clone(),
                median: e.median,
                lo: e.lo,
                hi: e.hi,
            };
            match series.iter_mut().find(|s| s.cell == cell.id) {
                Some(s) => s.points.push(point),
                None => series.push(HistorySeries {
                    cell: cell.id.clone(),
                    runtime: cell.runtime.clone(),
                    points: vec![point],
                }),
            }
        }
    }
    series.retain(|s| s.points.len() >= 2);
    series
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::{cell, measured, run};

    /// Runs of the same servers: native and wasmtime with per-round req/s and CPU, each run a
    /// little off the others as whole runs are here.
    fn runs(shifts: &[f64]) -> Vec<Run> {
        shifts
            .iter()
            .enumerate()
            .map(|(k, shift)| {
                let wobble = |base: f64, i: usize| base * shift * (1.0 + 0.01 * (i as f64 - 2.0));
                let rps = |base| (0..5).map(|i| wobble(base, i)).collect::<Vec<_>>();
                let mut r = run(vec![
                    measured(cell("native", "current-thread", "peak-50"), &rps(100e3), &[10.0; 5]),
                    measured(cell("wasmtime", "default", "peak-50"), &rps(35e3), &[29.0; 5]),
                ]);
                r.run_id = format!("2026120{k}-000000");
                r.complete = true;
                r
            })
            .collect()
    }

    #[test]
    fn runs_of_the_same_experiment_give_the_noise_that_widens_intervals() {
        let stored = runs(&[1.0, 1.1, 0.92, 1.05]);
        let refs: Vec<&Run> = stored.iter().collect();
        assert_eq!(same_experiment(&stored, &stored[3]).len(), 3);
        let table = noise_table(&refs, None).unwrap();
        // Raw req/s moves with the whole run: about 7% here.
        let rps = table.get(NoiseFigure::Rps, LoadModel::Peak).unwrap();
        assert!(rps.sd > 0.04 && rps.sd < 0.12, "{rps:?}");
        // The ratio to native does not: the shift hits both cells of a round.
        let ratio = table.get(NoiseFigure::Ratio, LoadModel::Peak).unwrap();
        assert!(ratio.sd < 0.01, "{ratio:?}");
        // Widened by it, req/s intervals hold the next run's median.
        let c = coverage(&refs);
        assert!(c.checked > 0 && c.share().unwrap() >= 0.9, "{c:?}");
        // Another machine is another experiment.
        let mut other = stored[0].clone();
        other.environment.machine = "elsewhere".into();
        other.run_id = "20261209-000000".into();
        let mut all = stored.clone();
        all.push(other);
        assert_eq!(same_experiment(&all, &stored[3]).len(), 3);
        // So is a run whose CPUs the pre-flight kept awake.
        let mut awake = stored[1].clone();
        awake.run_id = "20261210-000000".into();
        awake.preflight = Some(
            serde_json::from_value(serde_json::json!({
                "machine": {"cpu_model": "x"},
                "keep_awake": {"setting": "auto", "enabled": true, "verdict": "helps", "reason": "they help"}
            }))
            .unwrap(),
        );
        all.push(awake.clone());
        assert_eq!(same_experiment(&all, &stored[3]).len(), 3);
        assert_ne!(fingerprint(&awake), fingerprint(&stored[1]));
    }

    #[test]
    fn with_the_noise_an_interval_says_where_a_rerun_falls() {
        let stored = runs(&[1.0, 1.1, 0.92]);
        let refs: Vec<&Run> = stored.iter().collect();
        let mut latest = stored[2].clone();
        let plain = crate::analysis::analyze(&latest).cells[0].estimates.rps.unwrap();
        latest.noise = noise_table(&refs, None);
        let widened = crate::analysis::analyze(&latest).cells[0].estimates.rps.unwrap();
        assert_eq!(plain.median, widened.median);
        assert!(widened.hi / widened.lo > 1.15 * (plain.hi / plain.lo), "{plain:?} {widened:?}");
    }
}
