//! Connection sweeps: the points of one load's `connections` list, a series per server x runtime
//! x mode (x release x write), and where each series breaks. A point is broken when the server
//! failed there (died, stopped answering, could not be measured), when its figures say it was not
//! really serving (starved connections, fresh requests shut out by hostile clients, errors), when
//! its req/s fell below `HALF_OF_BEST` of the best at fewer connections (more connections should
//! never serve fewer requests), or when its p99 passed `P99_BOUND_MS`.
//! The series breaks at its first broken point; it served cleanly up to the point before.

use super::cell::CellFigures;
use crate::results::{CellResult, Flag, Status};

/// req/s below this share of the series' best point is degradation, not capacity.
pub const HALF_OF_BEST: f64 = 0.5;
/// A p99 over this (ms) means clients wait too long to call the point served.
pub const P99_BOUND_MS: f64 = 1000.0;

/// Why a point is broken.
#[derive(Debug, Clone, PartialEq)]
pub enum Breakage {
    /// The cell failed (its reason says how).
    Failed,
    /// A flag that says the server was not serving: starved, shut-out, broke, errors.
    Flagged(&'static str),
    /// req/s fell below half of the best at fewer connections.
    Degraded { rps: f64, best: f64 },
    /// p99 above the bound.
    SlowTail { p99_ms: f64 },
}

/// One point of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// Index of the cell in the run.
    pub cell: usize,
    pub connections: u32,
    pub broken: Option<Breakage>,
}

/// One series: a server x runtime x mode (x release x write) across connection counts.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSeries {
    pub points: Vec<SweepPoint>,
    /// The largest count served cleanly before the first broken point.
    pub clean_up_to: Option<u32>,
    /// The first broken point's count and why.
    pub breaks_at: Option<(u32, Breakage)>,
}

/// One sweeping load of one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub workload: String,
    /// The `[[load]]` whose `connections` list expanded into the points.
    pub load: String,
    pub series: Vec<SweepSeries>,
}

/// The series key: cells that differ only in their connection count share it.
fn series_key(c: &CellResult) -> String {
    format!(
        "{}/{}/{}/{}/{}",
        c.server,
        crate::config::matrix::runtime_key(&c.runtime, c.version.as_deref()),
        c.mode,
        c.write,
        c.workload
    )
}

/// Cell indices of each series, by series key.
type Members = Vec<(String, Vec<usize>)>;

pub fn sweeps(cells: &[CellResult], figures: &[CellFigures]) -> Vec<Sweep> {
    let mut sweeps: Vec<(Sweep, Members)> = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        let Some(load) = &c.sweep else { continue };
        if c.status == Status::Skipped {
            continue;
        }
        let at = match sweeps
            .iter()
            .position(|(s, _)| s.workload == c.workload && &s.load == load)
        {
            Some(at) => at,
            None => {
                let sweep = Sweep {
                    workload: c.workload.clone(),
                    load: load.clone(),
                    series: Vec::new(),
                };
                sweeps.push((sweep, Vec::new()));
                sweeps.len() - 1
            }
        };
        let groups = &mut sweeps[at].1;
        let key = series_key(c);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    sweeps
        .into_iter()
        .map(|(mut sweep, groups)| {
            sweep.series = groups
                .into_iter()
                .map(|(_, members)| series(cells, figures, members))
                .collect();
            sweep
        })
        .collect()
}

fn series(cells: &[CellResult], figures: &[CellFigures], mut members: Vec<usize>) -> SweepSeries {
    members.sort_by_key(|&i| cells[i].concurrency);
    let mut best: f64 = 0.0;
    let points: Vec<SweepPoint> = members
        .iter()
        .map(|&i| {
            let point = SweepPoint {
                cell: i,
                connections: cells[i].concurrency,
                broken: breakage(&cells[i], &figures[i], best),
            };
            if cells[i].status == Status::Ok {
                best = best.max(figures[i].metrics.rps.unwrap_or(0.0));
            }
            point
        })
        .collect();
    let first_broken = points.iter().position(|p| p.broken.is_some());
    let clean = &points[..first_broken.unwrap_or(points.len())];
    SweepSeries {
        clean_up_to: clean.last().map(|p| p.connections),
        breaks_at: first_broken.map(|at| {
            let p = &points[at];
            (p.connections, p.broken.clone().expect("broken"))
        }),
        points,
    }
}

/// Why a point is broken, by the rule above (`best`: the best req/s at fewer connections).
pub fn breakage(cell: &CellResult, f: &CellFigures, best: f64) -> Option<Breakage> {
    if cell.status != Status::Ok {
        return Some(Breakage::Failed);
    }
    let not_serving = f.flags.iter().find_map(|flag| match flag {
        Flag::Broke { .. }
        | Flag::ShutOut { .. }
        | Flag::Starved { .. }
        | Flag::RequestErrors { .. } => Some(flag.code()),
        _ => None,
    });
    if let Some(code) = not_serving {
        return Some(Breakage::Flagged(code));
    }
    let hostile = cell.load_model == crate::config::LoadModel::Hostile;
    if let Some(rps) = f.metrics.rps.filter(|_| !hostile) {
        if best > 0.0 && rps < HALF_OF_BEST * best {
            return Some(Breakage::Degraded { rps, best });
        }
    }
    match f.metrics.p99_ms {
        Some(p99_ms) if p99_ms > P99_BOUND_MS && !hostile => Some(Breakage::SlowTail { p99_ms }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::{cell, measured, run};

    /// A sweep point of `runtime` at `connections`, with this median req/s and p50 (ms).
    fn point(runtime: &str, connections: u32, rps: f64, p50_ms: f64) -> CellResult {
        let mut c = measured(
            cell(runtime, "m", &format!("connections@{connections}")),
            &[rps; 3],
            &[10.0; 3],
        );
        c.sweep = Some("connections".into());
        c.concurrency = connections;
        for w in &mut c.measured.windows {
            if let Some(t) = w.latency_ms.as_mut() {
                (t.avg, t.med, t.p99) = (p50_ms, p50_ms, p50_ms * 3.0);
            }
        }
        c
    }

    /// A sweep recorded on this machine kind (capacity page, 2026-11): native held its req/s to
    /// 5,000 connections; wasmtime's p99 passed a second at 5,000; wasmer halved at 1,000; a
    /// server that died at 5,000 failed there.
    #[test]
    fn each_series_breaks_at_its_first_degraded_point_by_the_stated_rule() {
        let mut cells = vec![
            point("native", 1, 11_566.0, 0.08),
            point("native", 50, 34_212.0, 1.4),
            point("native", 1000, 33_000.0, 28.0),
            point("native", 5000, 31_000.0, 150.0),
            point("wasmtime", 1, 5_270.0, 0.2),
            point("wasmtime", 50, 18_977.0, 2.6),
            point("wasmtime", 5000, 15_000.0, 400.0),
            point("wasmer", 1, 3_725.0, 0.3),
            point("wasmer", 50, 11_564.0, 4.3),
            point("wasmer", 1000, 5_100.0, 190.0),
            point("wasmedge", 1, 9_801.0, 0.1),
            point("wasmedge", 50, 26_275.0, 1.9),
            point("wasmedge", 5000, 0.0, 0.0),
        ];
        cells[12].status = Status::Failed;
        cells[12].measured.windows.clear();
        let r = run(cells);
        let a = crate::analysis::analyze(&r);
        let series = &a.sweeps[0].series;
        assert_eq!(series.len(), 4);
        let breaks: Vec<Option<u32>> = series
            .iter()
            .map(|s| s.breaks_at.as_ref().map(|b| b.0))
            .collect();
        assert_eq!(breaks, [None, Some(5000), Some(1000), Some(5000)]);
        assert_eq!(series[0].clean_up_to, Some(5000));
        assert!(matches!(
            series[1].breaks_at,
            Some((_, Breakage::SlowTail { .. }))
        ));
        assert!(
            matches!(series[2].breaks_at, Some((_, Breakage::Degraded { best, .. })) if best == 11_564.0)
        );
        assert_eq!(series[2].clean_up_to, Some(50));
        assert!(matches!(series[3].breaks_at, Some((_, Breakage::Failed))));
        // One connection serves fewer requests than fifty: latency, not a break.
        assert!(series.iter().all(|s| s.points[0].broken.is_none()));
    }

    /// The capacity page as published at 94db2de (recorded on this machine kind, 3 rounds): its
    /// table said all eight series served cleanly to 5,000 connections. By the rule, three are
    /// starved at 5,000, two halve their best at 1,000 and one's p99 passes a second there.
    #[test]
    fn a_recorded_sweep_breaks_where_its_figures_say() {
        let run: crate::results::Run =
            serde_json::from_str(include_str!("../../tests/fixtures/capacity-run.json")).expect("the fixture parses");
        let a = crate::analysis::analyze(&run);
        let found: Vec<(String, Option<u32>, Option<&str>)> = a.sweeps[0]
            .series
            .iter()
            .map(|s| {
                let c = &run.cells[s.points[0].cell];
                let why = s.breaks_at.as_ref().map(|(_, b)| match b {
                    Breakage::Failed => "failed",
                    Breakage::Flagged(code) => code,
                    Breakage::Degraded { .. } => "below half its best",
                    Breakage::SlowTail { .. } => "p99 over 1 s",
                });
                (format!("{} {}", c.server, c.runtime), s.breaks_at.as_ref().map(|b| b.0), why)
            })
            .collect();
        let expected = [
            ("rust native", None, None),
            ("go native", None, None),
            ("rust wasmtime", Some(5000), Some("starved")),
            ("rust wasmtime", Some(5000), Some("starved")),
            ("rust wasmer", Some(5000), Some("starved")),
            ("go wasmer", Some(1000), Some("below half its best")),
            ("rust wasmedge", Some(1000), Some("below half its best")),
            ("go wasmedge", Some(1000), Some("p99 over 1 s")),
        ];
        let expected: Vec<(String, Option<u32>, Option<&str>)> =
            expected.iter().map(|(n, at, why)| (n.to_string(), *at, *why)).collect();
        assert_eq!(found, expected);
    }
}
