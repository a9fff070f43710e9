//! "Links": where a run measured the same cells over several links (round-trip times, rates), the
//! links side by side per runtime, with what a closed load's req/s should be at each RTT if the
//! link added nothing but its delay: concurrency / (latency at the shortest RTT + the added RTT).

use serde::Serialize;

use super::format::{millis, thousands, Figure, DASH};
use crate::results::{CellResult, Run, Status};

#[derive(Debug, Serialize)]
pub struct LinkGroup {
    /// "rust · wasmtime default, plaintext closed-50".
    pub title: String,
    pub load: String,
    pub model: String,
    /// Shortest RTT first.
    pub rows: Vec<LinkRow>,
}

#[derive(Debug, Serialize)]
pub struct LinkRow {
    pub link: String,
    pub status: String,
    pub reason: String,
    pub rps: Figure,
    pub p50: Figure,
    pub p99: Figure,
    /// Closed and peak loads: req/s predicted from the shortest link's latency plus this RTT.
    pub predicted: Figure,
    /// Measured over predicted, "0.97×".
    pub agreement: String,
}

/// Closed-loop req/s at `rtt_s` for `in_flight` requests kept busy, when the shortest link
/// (RTT `rtt0_s`) gave `rps0`: each request's time grows by exactly the added round trip.
pub fn predicted_rps(in_flight: f64, rps0: f64, rtt0_s: f64, rtt_s: f64) -> Option<f64> {
    (in_flight > 0.0 && rps0 > 0.0).then(|| in_flight / (in_flight / rps0 + (rtt_s - rtt0_s)))
}

/// One group per server x runtime x mode x write x workload x load measured over two or more links.
pub fn link_groups(run: &Run) -> Vec<LinkGroup> {
    // Cells that differ only in their link share this key (the load is the one before the link).
    let key = |c: &CellResult| {
        c.link.as_ref().map(|link| {
            format!(
                "{}/{}/{}/{}/{}/{}",
                c.server,
                crate::config::matrix::runtime_key(&c.runtime, c.version.as_deref()),
                c.mode,
                c.write,
                c.workload,
                link.load
            )
        })
    };
    let mut groups: Vec<(String, Vec<&CellResult>)> = Vec::new();
    for c in &run.cells {
        let Some(k) = key(c) else { continue };
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, cells)) => cells.push(c),
            None => groups.push((k, vec![c])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, cells)| cells.len() >= 2)
        .map(|(_, mut cells)| {
            let load = cells[0].link.as_ref().expect("keyed").load.clone();
            group(&mut cells, &load)
        })
        .collect()
}

fn group(cells: &mut [&CellResult], load: &str) -> LinkGroup {
    let rtt = |c: &CellResult| c.link.as_ref().map_or(0.0, |l| l.rtt_ms);
    cells.sort_by(|a, b| rtt(a).total_cmp(&rtt(b)));
    let first = cells[0];
    let closed_loop = matches!(
        first.load_model,
        crate::config::LoadModel::Closed | crate::config::LoadModel::Peak
    );
    let in_flight = f64::from(first.concurrency) * f64::from(first.pipeline.unwrap_or(1));
    let base = cells
        .iter()
        .find(|c| c.status == Status::Ok)
        .and_then(|c| Some((c.metrics.rps?, rtt(c))));
    let rows = cells
        .iter()
        .map(|c| {
            let predicted = base.filter(|_| closed_loop).and_then(|(rps0, rtt0)| {
                predicted_rps(in_flight, rps0, rtt0 / 1000.0, rtt(c) / 1000.0)
            });
            let measured = c.metrics.rps.filter(|_| c.status == Status::Ok);
            LinkRow {
                link: c.link.as_ref().map(|l| l.label.clone()).unwrap_or_default(),
                status: c.status.as_str().into(),
                reason: c.reason.clone().unwrap_or_default(),
                rps: Figure::estimate(c.estimates.rps.as_ref(), thousands, super::format::compact),
                p50: Figure::new(c.metrics.p50_ms, millis),
                p99: Figure::new(c.metrics.p99_ms, millis),
                predicted: Figure::new(predicted, thousands),
                agreement: match (measured, predicted) {
                    (Some(m), Some(p)) if p > 0.0 => format!("{:.2}×", m / p),
                    _ => DASH.into(),
                },
            }
        })
        .collect();
    LinkGroup {
        title: format!(
            "{} · {} {}{}, {} {load}",
            first.server,
            crate::config::matrix::runtime_key(&first.runtime, first.version.as_deref()),
            first.mode,
            if first.write == "single" {
                String::new()
            } else {
                format!(" ({} writes)", first.write)
            },
            first.workload
        ),
        load: load.to_string(),
        model: first.load_model.as_str().into(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_loop_slows_by_exactly_the_added_round_trip() {
        // 50 connections at 25,000 req/s: 2 ms each; 10 ms more per request gives 50 / 12 ms.
        let p = predicted_rps(50.0, 25_000.0, 0.0, 0.010).unwrap();
        assert!((p - 50.0 / 0.012).abs() < 1e-6);
        // The shortest link predicts itself.
        assert!((predicted_rps(50.0, 25_000.0, 0.001, 0.001).unwrap() - 25_000.0).abs() < 1e-6);
        assert_eq!(predicted_rps(0.0, 1.0, 0.0, 0.01), None);
    }
}
