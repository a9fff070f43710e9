//! "Hostile clients": per server x runtime of a hostile load (`model = "hostile"`), the largest
//! level it withstood (every fresh request answered within the bound while N slowloris and N idle
//! keep-alive clients were held, and one answered after they left) and what happened beyond it.

use serde::Serialize;

use super::format::{millis, thousands, DASH};
use crate::analysis::hostile::{hostile_figures, HostileFigures};
use crate::analysis::Analysis;
use crate::config::LoadModel;
use crate::results::{Run, Status};

#[derive(Debug, Serialize)]
pub struct HostileTable {
    pub workload: String,
    pub load: String,
    /// The bound a fresh request must be answered within, seconds.
    pub bound_s: u64,
    pub series: Vec<HostileSeries>,
}

#[derive(Debug, Serialize)]
pub struct HostileSeries {
    pub label: String,
    /// "5,000 + 5,000", or "none of the levels measured".
    pub withstands: String,
    /// What happened at the first level it did not withstand.
    pub beyond: String,
    /// What limits the runtime mode under many connections, as its definition states.
    pub limits: Option<String>,
    pub points: Vec<HostilePoint>,
}

#[derive(Debug, Serialize)]
pub struct HostilePoint {
    /// N slowloris and N idle clients.
    pub level: u32,
    /// "500 + 500": what the clients managed to hold when the fresh requests began (fewest over rounds).
    pub held: String,
    /// "20 of 20".
    pub fresh: String,
    pub slowest: String,
    /// Hostile connections the server closed per round (median).
    pub closed: String,
    /// "answered (1.2 ms)" / "no answer within 1 s".
    pub after: String,
    pub withstood: bool,
    pub status: String,
}

pub fn hostile_tables(run: &Run, a: &Analysis) -> Vec<HostileTable> {
    let bound_s = crate::analysis::flags::FRESH_REQUEST_BOUND.as_secs();
    a.sweeps
        .iter()
        .filter(|s| s.series.first().and_then(|x| x.points.first()).is_some_and(|p| run.cells[p.cell].load_model == LoadModel::Hostile))
        .map(|sweep| HostileTable {
            workload: sweep.workload.clone(),
            load: sweep.load.clone(),
            bound_s,
            series: sweep
                .series
                .iter()
                .map(|s| {
                    let points: Vec<HostilePoint> = s.points.iter().map(|p| point(run, p.cell, bound_s)).collect();
                    let first = &run.cells[s.points[0].cell];
                    let held_up_to = points.iter().take_while(|p| p.withstood).last().map(|p| p.level);
                    let beyond = points.iter().find(|p| !p.withstood).map(|p| beyond(run, s.points.iter().find(|q| run.cells[q.cell].concurrency == p.level).map(|q| q.cell), p, bound_s));
                    HostileSeries {
                        label: super::view::series_label(first),
                        withstands: held_up_to.map_or_else(|| "none of the levels measured".into(), |n| format!("{} + {}", thousands(f64::from(n)), thousands(f64::from(n)))),
                        beyond: beyond.unwrap_or_else(|| "withstood every level measured".into()),
                        limits: first.mode_limits.clone(),
                        points,
                    }
                })
                .collect(),
        })
        .collect()
}

fn point(run: &Run, i: usize, bound_s: u64) -> HostilePoint {
    let cell = &run.cells[i];
    let level = cell.concurrency;
    match (cell.status, hostile_figures(&cell.measured.windows)) {
        (Status::Ok, Some(f)) => HostilePoint {
            level,
            held: format!("{} + {}", thousands(f64::from(f.slow_held)), thousands(f64::from(f.idle_held))),
            fresh: format!("{} of {}", f.fresh_answered, f.fresh_sent),
            slowest: f.slowest_ms.map(millis).unwrap_or_else(|| DASH.into()),
            closed: thousands(f.closed_per_round as f64),
            after: after(&f, bound_s),
            withstood: f.withstood(),
            status: "ok".into(),
        },
        (status, _) => HostilePoint {
            level,
            held: DASH.into(),
            fresh: DASH.into(),
            slowest: DASH.into(),
            closed: DASH.into(),
            after: DASH.into(),
            withstood: false,
            status: format!("{}: {}", status.as_str(), cell.reason.clone().unwrap_or_default().replace('\n', " ")),
        },
    }
}

fn after(f: &HostileFigures, bound_s: u64) -> String {
    match f.recovered {
        Some(true) => "answered in every round".into(),
        Some(false) => format!("no answer within {bound_s} s in some round"),
        None => DASH.into(),
    }
}

/// "at 5,000 + 5,000: none of 60 fresh requests answered within 1 s (it held 500 + 500 of them,
/// closing 4,800 per round); it answered again after they left".
fn beyond(run: &Run, cell: Option<usize>, p: &HostilePoint, bound_s: u64) -> String {
    let level = thousands(f64::from(p.level));
    let Some(f) = cell.and_then(|i| hostile_figures(&run.cells[i].measured.windows)) else {
        return format!("at {level} + {level}: {}", p.status);
    };
    let during = match f.fresh_answered {
        0 => format!("none of {} fresh requests answered within {bound_s} s", f.fresh_sent),
        n if n < f.fresh_sent => format!("{} of {} fresh requests unanswered within {bound_s} s", f.fresh_sent - n, f.fresh_sent),
        _ => format!("every fresh request answered, the slowest in {}", p.slowest),
    };
    let recovery = match f.recovered {
        Some(true) => "; it answered again after they left",
        Some(false) => "; it did not answer after they left either",
        None => "",
    };
    format!("at {level} + {level}: {during} (held {}, {} closed by the server per round){recovery}", p.held, p.closed)
}
