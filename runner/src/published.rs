//! What an output directory holds besides a run: the run it is compared with (the newest earlier
//! complete run there) and how much whole runs shift on this machine (the self-test's figure).
//! The page and the exports both get a run's analysis here, so they read the same numbers.

use std::path::Path;

use serde::Serialize;

use crate::analysis::compare::ASSUMED_RUN_NOISE;
use crate::analysis::stats::RunNoise;
use crate::results::Run;

#[derive(Debug, Clone, Serialize)]
pub struct PreviousRun {
    pub run_id: String,
    pub started: String,
    /// Set when the previous run measured another machine (CPU model, CPU count or kernel): its
    /// description, since the deltas then mix machine and code.
    pub other_machine: Option<String>,
    /// The run itself (the analysis compares each cell with its namesake there).
    #[serde(skip)]
    pub run: Run,
    /// How much runs shift beyond their rounds on this machine, and where that figure comes from.
    pub noise: RunNoise,
    pub noise_source: String,
}

/// The run noise `make selftest` measured beside this page (`out/selftest/selftest.json`), or
/// the assumed one; with a sentence that says which.
pub fn run_noise(out: &Path) -> (RunNoise, String) {
    let measured = std::fs::read_to_string(out.join("selftest").join("selftest.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| {
            let noise: RunNoise =
                serde_json::from_value(v["verdicts"]["run_noise"].clone()).ok()?;
            Some((noise, v["verdicts"]["tries"].as_u64().unwrap_or(0)))
        });
    match measured {
        Some((noise, tries)) => (
            noise,
            format!(
                "measured by the A/A self-test beside this page ({tries} tries, selftest/README.md)"
            ),
        ),
        None => (
            ASSUMED_RUN_NOISE,
            "assumed (what the self-test measured on this project's 2-core machine kind): run \
             `make selftest` to measure it here"
                .into(),
        ),
    }
}

/// The analysis of `run` as published in `out`: against the previous run there, when there is
/// one (returned beside it for the page's words about it).
pub fn analysis_of(out: &Path, run: &Run) -> (crate::analysis::Analysis, Option<PreviousRun>) {
    let previous = previous_run(out, run);
    let analysis = match &previous {
        Some(p) => crate::analysis::analyze_against(run, &p.run, p.noise),
        None => crate::analysis::analyze(run),
    };
    (analysis, previous)
}

/// The newest complete run in `out/runs/` that started before `run`, for the per-cell deltas.
pub fn previous_run(out: &Path, run: &Run) -> Option<PreviousRun> {
    let mut ids: Vec<String> = std::fs::read_dir(out.join("runs"))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|id| id.as_str() < run.run_id.as_str())
        .collect();
    ids.sort();
    ids.iter().rev().find_map(|id| {
        let earlier = crate::results::read_run(&out.join("runs").join(id).join("run.json")).ok()?;
        let (then, now) = (&earlier.environment, &run.environment);
        let same_machine =
            (&then.cpu_model, then.cpus, &then.kernel) == (&now.cpu_model, now.cpus, &now.kernel);
        let (noise, noise_source) = run_noise(out);
        Some(PreviousRun {
            noise,
            noise_source,
            run_id: earlier.run_id.clone(),
            started: earlier.started.clone(),
            other_machine: (!same_machine).then(|| {
                format!(
                    "{}, {} CPUs, Linux {}",
                    then.cpu_model, then.cpus, then.kernel
                )
            }),
            run: earlier,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::page;

    fn fixture() -> Run {
        let path = crate::paths::repo_root().join("runner/tests/fixtures/run.json");
        crate::results::read_run(&path).unwrap()
    }

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
        assert_eq!(page.previous.as_ref().unwrap().other_machine, None);
        // A previous run from another machine is named, so its deltas are not read as code changes.
        older.run_id = "20000103-000000".into();
        older.environment.cpu_model = "Another CPU".into();
        crate::results::write_json_atomic(
            &out.path().join("runs").join(&older.run_id).join("run.json"),
            &older,
        )
        .unwrap();
        let previous = previous_run(out.path(), &run).unwrap();
        assert_eq!(previous.run_id, "20000103-000000");
        let other = previous.other_machine.unwrap();
        assert!(other.starts_with("Another CPU, "), "{other}");
    }
}
