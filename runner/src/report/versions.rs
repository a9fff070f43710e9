//! "Across versions": where a run measured one server, mode and load under several releases of a
//! runtime, the releases side by side, newest first, each compared with the newest paired by round.

use serde::Serialize;

use super::format::{Figure, Unit, DASH};
use crate::analysis::pairs::VersionMember;
use crate::analysis::stats::Estimate;
use crate::analysis::Analysis;
use crate::results::{CellResult, Run};

/// One server x runtime x mode x write x workload x load measured under several releases.
#[derive(Debug, Serialize)]
pub struct AcrossVersions {
    pub runtime: String,
    pub server: String,
    pub mode: String,
    pub write: String,
    pub workload: String,
    pub load: String,
    /// "rust · wasmtime default, plaintext peak-50".
    pub title: String,
    /// Newest release first.
    pub rows: Vec<VersionRow>,
}

impl AcrossVersions {
    /// How charts name the table they belong under.
    pub fn key(&self) -> String {
        format!(
            "versions/{}/{}/{}/{}/{}/{}",
            self.server, self.runtime, self.mode, self.write, self.workload, self.load
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub id: String,
    /// What the binary reported.
    pub version: String,
    pub status: String,
    pub reason: String,
    pub rps: Figure,
    /// × native, paired by round.
    pub ratio: Figure,
    pub cpu_per_request: Figure,
    pub cpu_cost: Figure,
    /// req/s against the newest release's, paired by round: "0.97× (0.93–1.01)", "newest".
    pub vs_newest: Figure,
    /// CPU per request against the newest release's, paired by round.
    pub cpu_vs_newest: Figure,
    /// The req/s difference from the newest is significant (its interval excludes 1).
    pub changed: bool,
    /// The CPU-per-request difference from the newest is significant.
    pub cpu_changed: bool,
}

/// Every group of cells that differ only in the runtime's release, as the analysis grouped them.
pub fn across_versions(run: &Run, a: &Analysis) -> Vec<AcrossVersions> {
    a.version_groups
        .iter()
        .map(|g| {
            let mut group = group_of(&run.cells[g.members[0].cell]);
            group.rows = g.members.iter().map(|m| version_row(run, a, m)).collect();
            group
        })
        .collect()
}

fn group_of(cell: &CellResult) -> AcrossVersions {
    let mut label = format!("{} · {} {}", cell.server, cell.runtime, cell.mode);
    if cell.write != "single" {
        label.push_str(&format!(" ({} writes)", cell.write));
    }
    AcrossVersions {
        runtime: cell.runtime.clone(),
        server: cell.server.clone(),
        mode: cell.mode.clone(),
        write: cell.write.clone(),
        workload: cell.workload.clone(),
        load: cell.load.clone(),
        title: format!("{label}, {} {}", cell.workload, cell.load),
        rows: Vec::new(),
    }
}

fn version_row(run: &Run, a: &Analysis, m: &VersionMember) -> VersionRow {
    let cell = &run.cells[m.cell];
    let f = &a.cells[m.cell];
    let against = |e: Option<&Estimate>| -> Figure {
        match m.vs_newest {
            None => Figure {
                value: Some(1.0),
                interval: None,
                text: "newest".into(),
            },
            Some(_) => Figure::of(e, Unit::Multiple),
        }
    };
    let ratio = f.ratio.as_ref();
    VersionRow {
        id: cell.id.clone(),
        version: cell.runtime_version.clone().unwrap_or_else(|| DASH.into()),
        status: cell.status.as_str().into(),
        reason: cell.reason.clone().unwrap_or_default().replace('\n', " "),
        rps: Figure::of(f.estimates.rps.as_ref(), Unit::Count),
        ratio: Figure::of(ratio.and_then(|r| r.rps.as_ref()), Unit::Multiple),
        cpu_per_request: Figure::of(f.estimates.server_cpu_us_per_request.as_ref(), Unit::Micros),
        cpu_cost: Figure::of(ratio.and_then(|r| r.cpu.as_ref()), Unit::Multiple),
        vs_newest: against(m.vs_newest.and_then(|p| p.rps).as_ref()),
        cpu_vs_newest: against(m.vs_newest.and_then(|p| p.cpu).as_ref()),
        changed: m.rps_changed,
        cpu_changed: m.cpu_changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(id: &str, version: &str, rps: &[f64]) -> CellResult {
        let cpu: Vec<f64> = rps.iter().map(|r| 1e6 / r).collect();
        let rounds: Vec<serde_json::Value> = rps
            .iter()
            .enumerate()
            .map(|(i, r)| serde_json::json!({"round": i + 1, "rps": r, "requests": 1000, "window_s": 2.0, "server_cpu_us_per_request": 1e6 / r}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "index": 0, "id": id, "server": "rust", "target": "wasm32-wasip2",
            "runtime": "wasmtime", "version": version, "mode": "default", "mode_about": "",
            "write": "single", "workload": "plaintext", "load": "peak-50", "load_model": "peak",
            "generator": "wrk", "concurrency": 50, "offered_rps": null, "status": "ok",
            "reason": null, "runtime_version": version, "command": [], "metrics": {},
            "flags": [], "repeats_rps": rps, "partial": false, "rounds": rounds,
            "estimates": {
                "rps": crate::analysis::stats::Estimate::of(rps),
                "server_cpu_us_per_request": crate::analysis::stats::Estimate::of(&cpu),
            },
        }))
        .unwrap()
    }

    fn run(cells: Vec<CellResult>) -> Run {
        let mut run: Run =
            serde_json::from_str(include_str!("../../tests/fixtures/rounds-run.json")).unwrap();
        run.cells = cells;
        run
    }

    #[test]
    fn releases_are_compared_with_the_newest_paired_by_round() {
        let run = run(vec![
            cell(
                "rust/wasmtime@46.0.1/default/single/plaintext/peak-50",
                "46.0.1",
                &[40e3, 44e3, 38e3, 42e3, 41e3],
            ),
            cell(
                "rust/wasmtime/default/single/plaintext/peak-50",
                "49.0.3",
                &[50e3, 55e3, 47e3, 52e3, 51e3],
            ),
            cell(
                "rust/wasmtime@36.0.9/default/single/plaintext/peak-50",
                "36.0.9",
                &[50.5e3, 54e3, 47.5e3, 52e3, 51.5e3],
            ),
        ]);
        let groups = across_versions(&run, &crate::analysis::analyze(&run));
        assert_eq!(groups.len(), 1);
        let versions: Vec<&str> = groups[0].rows.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["49.0.3", "46.0.1", "36.0.9"]);
        let rows = &groups[0].rows;
        assert_eq!(rows[0].vs_newest.text, "newest");
        // 46.0.1 is 20% slower in every round: significant. 36.0.9 is within 1%: not.
        assert!(rows[1].changed, "{:?}", rows[1].vs_newest);
        assert!((rows[1].vs_newest.value.unwrap() - 0.8).abs() < 0.01);
        assert!(!rows[2].changed, "{:?}", rows[2].vs_newest);
        assert!(rows[1].cpu_vs_newest.value.unwrap() > 1.2);
        assert!(rows[1].cpu_changed && !rows[2].cpu_changed);
    }

    #[test]
    fn a_single_release_is_not_a_comparison() {
        let run = run(vec![cell(
            "rust/wasmtime/default/single/plaintext/peak-50",
            "49.0.3",
            &[50e3, 51e3],
        )]);
        assert!(across_versions(&run, &crate::analysis::analyze(&run)).is_empty());
    }
}
