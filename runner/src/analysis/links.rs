//! Links: the same cells over several links (round-trip times, rates), shortest first, with what a
//! closed load's req/s would be at each RTT if the link added nothing but its delay: in-flight
//! requests / (the shortest link's time per request + the added RTT).

use super::cell::CellFigures;
use crate::config::LoadModel;
use crate::results::{CellResult, Status};

/// One group of cells that differ only in their link, shortest RTT first.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkGroup {
    pub members: Vec<LinkMember>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinkMember {
    pub cell: usize,
    /// Closed and peak loads: req/s predicted from the shortest measured link plus this RTT.
    pub predicted_rps: Option<f64>,
    /// Measured over predicted.
    pub agreement: Option<f64>,
}

/// Closed-loop req/s at `rtt_s` for `in_flight` requests kept busy, when the shortest link
/// (RTT `rtt0_s`) gave `rps0`: each request's time grows by exactly the added round trip.
pub fn predicted_rps(in_flight: f64, rps0: f64, rtt0_s: f64, rtt_s: f64) -> Option<f64> {
    (in_flight > 0.0 && rps0 > 0.0).then(|| in_flight / (in_flight / rps0 + (rtt_s - rtt0_s)))
}

pub fn link_groups(cells: &[CellResult], figures: &[CellFigures]) -> Vec<LinkGroup> {
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
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        let Some(k) = key(c) else { continue };
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, members)) => members.push(i),
            None => groups.push((k, vec![i])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, members)| members.len() >= 2)
        .map(|(_, members)| group(cells, figures, members))
        .collect()
}

fn group(cells: &[CellResult], figures: &[CellFigures], mut members: Vec<usize>) -> LinkGroup {
    let rtt_s = |i: usize| cells[i].link.as_ref().map_or(0.0, |l| l.rtt_ms) / 1000.0;
    members.sort_by(|&a, &b| rtt_s(a).total_cmp(&rtt_s(b)));
    let first = &cells[members[0]];
    let closed_loop = matches!(first.load_model, LoadModel::Closed | LoadModel::Peak);
    let in_flight = f64::from(first.concurrency) * f64::from(first.pipeline.unwrap_or(1));
    let measured = |i: usize| {
        figures[i]
            .metrics
            .rps
            .filter(|_| cells[i].status == Status::Ok)
    };
    let base = members.iter().find_map(|&i| Some((measured(i)?, rtt_s(i))));
    LinkGroup {
        members: members
            .iter()
            .map(|&i| {
                let predicted = base
                    .filter(|_| closed_loop)
                    .and_then(|(rps0, rtt0)| predicted_rps(in_flight, rps0, rtt0, rtt_s(i)));
                LinkMember {
                    cell: i,
                    agreement: measured(i)
                        .zip(predicted)
                        .filter(|(_, p)| *p > 0.0)
                        .map(|(m, p)| m / p),
                    predicted_rps: predicted,
                }
            })
            .collect(),
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
