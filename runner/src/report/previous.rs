//! The run a new one is compared with: the newest earlier complete run in the same output dir.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::results::Run;

#[derive(Debug, Clone, Serialize)]
pub struct PreviousRun {
    pub run_id: String,
    pub started: String,
    /// Set when the previous run measured another machine (CPU model, CPU count or kernel): its
    /// description, since the deltas then mix machine and code.
    pub other_machine: Option<String>,
    #[serde(skip)]
    pub rps: BTreeMap<String, f64>,
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
        Some(PreviousRun {
            run_id: earlier.run_id.clone(),
            started: earlier.started.clone(),
            other_machine: (!same_machine).then(|| {
                format!(
                    "{}, {} CPUs, Linux {}",
                    then.cpu_model, then.cpus, then.kernel
                )
            }),
            rps: earlier
                .cells
                .iter()
                .filter_map(|c| Some((c.id.clone(), c.metrics.rps?)))
                .collect(),
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
        let page = page(&run, Some(previous));
        let native = page.sections[0]
            .rows
            .iter()
            .find(|r| r.runtime == "native")
            .unwrap();
        assert_eq!(native.delta, "+100.0%");
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
