//! "Across versions": where a run measured one server, mode and load under several releases of a
//! runtime, the releases side by side, newest first, each compared with the newest paired by round.

use serde::Serialize;

use super::format::{micros, plain1, plain2, thousands, times, Figure, DASH};
use crate::config::versions;
use crate::results::{CellResult, Run, Status};
use crate::stats::paired_ratio;

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

/// Every group of cells that differ only in the runtime's release, when it has two or more.
pub fn across_versions(run: &Run) -> Vec<AcrossVersions> {
    let mut groups: Vec<(Vec<&CellResult>, AcrossVersions)> = Vec::new();
    for cell in run
        .cells
        .iter()
        .filter(|c| c.status != Status::Skipped && c.share.is_none() && c.runtime != "native")
    {
        let same = |g: &AcrossVersions| {
            g.runtime == cell.runtime
                && g.server == cell.server
                && g.mode == cell.mode
                && g.write == cell.write
                && g.workload == cell.workload
                && g.load == cell.load
        };
        match groups.iter_mut().find(|(_, g)| same(g)) {
            Some((cells, _)) => cells.push(cell),
            None => groups.push((vec![cell], group_of(cell))),
        }
    }
    groups
        .into_iter()
        .filter_map(|(mut cells, mut group)| {
            cells.sort_by(|a, b| newest_first(a, b));
            cells.dedup_by(|a, b| a.runtime_version == b.runtime_version);
            if cells.len() < 2 {
                return None;
            }
            let newest = cells[0];
            group.rows = cells.iter().map(|c| version_row(c, newest)).collect();
            Some(group)
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

/// Newest reported release first; cells whose version is unknown last.
fn newest_first(a: &CellResult, b: &CellResult) -> std::cmp::Ordering {
    let v = |c: &CellResult| c.runtime_version.as_deref().and_then(versions::reported);
    v(b).cmp(&v(a))
}

fn version_row(cell: &CellResult, newest: &CellResult) -> VersionRow {
    let one = |r: f64| format!("{r:.2}×");
    let is_newest = cell.id == newest.id;
    let against = |a: Vec<(u32, f64)>, b: Vec<(u32, f64)>| -> Figure {
        if is_newest {
            return Figure {
                value: Some(1.0),
                interval: None,
                text: "newest".into(),
            };
        }
        Figure::estimate(paired_ratio(&a, &b).as_ref(), one, plain2)
    };
    let excludes_one =
        |f: &Figure| !is_newest && f.interval.is_some_and(|(lo, hi)| lo > 1.0 || hi < 1.0);
    let vs_newest = against(cell.rps_by_round(), newest.rps_by_round());
    let cpu_vs_newest = against(cell.cpu_by_round(), newest.cpu_by_round());
    let ratio = cell.ratio.as_ref();
    VersionRow {
        id: cell.id.clone(),
        version: cell.runtime_version.clone().unwrap_or_else(|| DASH.into()),
        status: cell.status.as_str().into(),
        reason: cell.reason.clone().unwrap_or_default().replace('\n', " "),
        rps: Figure::estimate(
            cell.estimates.rps.as_ref(),
            thousands,
            super::format::compact,
        ),
        ratio: Figure::estimate(ratio.and_then(|r| r.rps.as_ref()), times, plain2),
        cpu_per_request: Figure::estimate(
            cell.estimates.server_cpu_us_per_request.as_ref(),
            micros,
            plain1,
        ),
        cpu_cost: Figure::estimate(
            ratio.and_then(|r| r.cpu.as_ref()),
            |r| format!("{r:.1}×"),
            plain1,
        ),
        changed: excludes_one(&vs_newest),
        cpu_changed: excludes_one(&cpu_vs_newest),
        cpu_vs_newest,
        vs_newest,
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
                "rps": crate::stats::Estimate::of(rps),
                "server_cpu_us_per_request": crate::stats::Estimate::of(&cpu),
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
        let groups = across_versions(&run);
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
        assert!(across_versions(&run).is_empty());
    }
}
