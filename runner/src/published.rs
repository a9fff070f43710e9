//! What an output directory holds besides a run: the run it is compared with (the newest earlier
//! complete run there) and how much whole runs shift on this machine (the self-test's figure).
//! The page and the exports both get a run's analysis here, so they read the same numbers.

use std::path::Path;

use serde::Serialize;

use crate::analysis::stats::RunNoise;
use crate::results::records::{NoiseEntry, NoiseFigure, NoiseTable};
use crate::results::Run;

#[derive(Debug, Clone, Serialize)]
pub struct PreviousRun {
    pub run_id: String,
    pub started: String,
    /// Set when the previous run measured another machine or another matrix: why its figures
    /// are not compared with this run's (only counts, which do not depend on the machine, are).
    pub not_comparable: Option<String>,
    /// The run itself (the analysis compares each cell with its namesake there).
    #[serde(skip)]
    pub run: Run,
    /// How much runs shift beyond their rounds on this machine, and where that figure comes from.
    pub noise: RunNoise,
    pub noise_source: String,
}

/// The run noise the self-test measured beside this page (`out/selftest/selftest.json`), if it
/// ran, with a sentence that says so.
pub fn selftest_noise(out: &Path) -> Option<(RunNoise, String)> {
    let text = std::fs::read_to_string(out.join("selftest").join("selftest.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let noise: RunNoise = serde_json::from_value(v["verdicts"]["run_noise"].clone()).ok()?;
    let tries = v["verdicts"]["tries"].as_u64().unwrap_or(0);
    Some((
        noise,
        format!("measured by the A/A self-test beside this page ({tries} tries, selftest/)"),
    ))
}

/// How whole runs of what `run` measures shift on this machine: from the stored runs of the same
/// experiment in `out` (with `run` itself), else the self-test's figure for ratios, else none.
/// With its coverage: whether each figure's interval held the next run's median.
pub fn noise_table(out: &Path, run: &Run) -> Option<NoiseTable> {
    let stored = crate::results::stored_runs(out);
    let mut same: Vec<&Run> = crate::analysis::history::same_experiment(&stored, run);
    same.retain(|r| r.run_id < run.run_id);
    let keep = same.len().saturating_sub(HISTORY_RUNS - 1);
    let mut runs: Vec<&Run> = same.split_off(keep);
    runs.push(run);
    if let Some(mut table) = crate::analysis::history::noise_table(&runs, None) {
        let c = crate::analysis::history::coverage(&runs);
        (table.coverage_checked, table.coverage_inside) = (c.checked, c.inside);
        return Some(table);
    }
    let (noise, source) = selftest_noise(out)?;
    Some(NoiseTable {
        entries: [NoiseFigure::Ratio, NoiseFigure::CpuRatio]
            .into_iter()
            .map(|figure| NoiseEntry {
                figure,
                model: None,
                noise,
                pairs: noise.df as usize,
            })
            .collect(),
        runs: Vec::new(),
        source: format!("{source}: for ratios only (no stored runs of these servers on this machine yet)"),
        coverage_checked: 0,
        coverage_inside: 0,
    })
}

/// How many runs of the same experiment the noise is measured over (the newest).
pub const HISTORY_RUNS: usize = 10;

/// The analysis of `run` as published in `out`: against the previous run there, when there is
/// one (returned beside it for the page's words about it).
pub fn analysis_of(out: &Path, run: &Run) -> (crate::analysis::Analysis, Option<PreviousRun>) {
    let previous = previous_run(out, run);
    let analysis = match &previous {
        Some(p) if p.not_comparable.is_none() => {
            crate::analysis::analyze_against(run, &p.run, p.noise)
        }
        Some(p) => crate::analysis::analyze_counts_against(run, &p.run),
        None => crate::analysis::analyze(run),
    };
    (analysis, previous)
}

/// The newest complete run stored in `out/runs/` that started before `run`, for "vs previous";
/// whether it measured the same matrix on the same machine decides what is compared.
pub fn previous_run(out: &Path, run: &Run) -> Option<PreviousRun> {
    let earlier = crate::results::stored_runs(out)
        .into_iter()
        .filter(|r| r.complete && r.run_id.as_str() < run.run_id.as_str())
        .next_back()?;
    let (then, now) = (
        crate::analysis::history::fingerprint(&earlier),
        crate::analysis::history::fingerprint(run),
    );
    let not_comparable = if then.machine != now.machine {
        let e = &earlier.environment;
        Some(format!(
            "it ran on another machine ({}, {} CPUs, Linux {}): a different experiment, whose figures move by \
             more than this machine's run-to-run noise, so only counts (instructions per request) are compared",
            e.cpu_model, e.cpus, e.kernel
        ))
    } else if then.kept_awake != now.kept_awake {
        let state = |k: Option<bool>| match k {
            Some(true) => "kept awake",
            Some(false) => "not kept awake",
            None => "not recorded",
        };
        Some(format!(
            "its CPUs were {} by the pre-flight and this run's were {}: a different experiment (at one \
             connection that alone moves req/s about 2x here), so its figures are not compared; \
             `keep_cpus_awake = true` or `false` in the matrix fixes the choice",
            state(then.kept_awake),
            state(now.kept_awake)
        ))
    } else if then.matrix != now.matrix {
        Some("it measured another matrix (other cells or settings), so its figures are not compared".into())
    } else {
        None
    };
    let noise = run
        .noise
        .as_ref()
        .and_then(|t| t.get(NoiseFigure::Ratio, crate::config::LoadModel::Peak))
        .map(|n| (n, run.noise.as_ref().map(|t| t.source.clone()).unwrap_or_default()));
    let (noise, noise_source) = noise.unwrap_or((
        RunNoise { sd: 0.0, df: f64::INFINITY },
        "not measured on this machine (no stored runs of these servers, no self-test): changes are tested on \
         the rounds' spread alone"
            .into(),
    ));
    Some(PreviousRun {
        run_id: earlier.run_id.clone(),
        started: earlier.started.clone(),
        not_comparable,
        noise,
        noise_source,
        run: earlier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::page;

    use crate::analysis::fixtures::recorded as fixture;

    #[test]
    fn deltas_compare_with_the_newest_earlier_run() {
        let run = fixture();
        let out = tempfile::tempdir().unwrap();
        let mut older = run.clone();
        older.run_id = "20000101-000000".into();
        let mut newer_but_before = run.clone();
        newer_but_before.run_id = "20000102-000000".into();
        for cell in &mut newer_but_before.cells {
            cell.metrics.rps = cell.metrics.rps.map(|r| r / 2.0);
        }
        let mut later = run.clone();
        later.run_id = "99990101-000000".into();
        for r in [&older, &newer_but_before, &later] {
            crate::results::write_json_atomic(
                &out.path().join("runs").join(&r.run_id).join("run.json"),
                r,
            )
            .unwrap();
        }
        let previous = previous_run(out.path(), &run).unwrap();
        assert_eq!(previous.run_id, "20000102-000000");
        let analysis = crate::analysis::analyze_against(&run, &previous.run, previous.noise);
        let page = page(&run, &analysis, Some(previous));
        let native = page.sections[0]
            .rows
            .iter()
            .find(|r| r.runtime == "native")
            .unwrap();
        assert_eq!(native.delta, "+100.0% (untested)");
        assert_eq!(page.previous.as_ref().unwrap().not_comparable, None);
        // A previous run from another machine is another experiment: it is named, and its
        // figures are not compared (only counts would be).
        older.run_id = "20000103-000000".into();
        older.environment.cpu_model = "Another CPU".into();
        crate::results::write_json_atomic(
            &out.path().join("runs").join(&older.run_id).join("run.json"),
            &older,
        )
        .unwrap();
        let previous = previous_run(out.path(), &run).unwrap();
        assert_eq!(previous.run_id, "20000103-000000");
        let other = previous.not_comparable.clone().unwrap();
        assert!(other.contains("another machine (Another CPU, "), "{other}");
        let (analysis, shown) = analysis_of(out.path(), &run);
        assert!(shown.is_some() && analysis.verdicts.iter().all(Option::is_none));
    }
}
