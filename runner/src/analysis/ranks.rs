//! Ranks within a section (same workload and load): by req/s, paired by round; cells no test can
//! separate share a rank. Open loads are not ranked (their rate is fixed), nor are the points of
//! a latency curve (they belong to their curve).

use super::cell::CellFigures;
use crate::config::LoadModel;
use crate::results::{CellResult, Status};

/// A cell's place in its section: `rank` 1 is the fastest; `tied` when another cell shares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rank {
    pub rank: usize,
    pub tied: bool,
}

/// The rank of every cell that has one, in the run's order.
pub fn ranks(cells: &[CellResult], figures: &[CellFigures]) -> Vec<Option<Rank>> {
    let mut out = vec![None; cells.len()];
    let ranked = |c: &CellResult, f: &CellFigures| {
        c.status != Status::Skipped
            && c.share.is_none()
            && c.load_model != LoadModel::Open
            && !f.rounds.is_empty()
    };
    let mut sections: Vec<(&str, &str)> = Vec::new();
    for c in cells {
        if !sections.contains(&(c.workload.as_str(), c.load.as_str())) {
            sections.push((&c.workload, &c.load));
        }
    }
    for (workload, load) in sections {
        let members: Vec<usize> = (0..cells.len())
            .filter(|&i| {
                cells[i].workload == workload
                    && cells[i].load == load
                    && ranked(&cells[i], &figures[i])
            })
            .collect();
        let values: Vec<Vec<(u32, f64)>> = members
            .iter()
            .map(|&i| figures[i].rounds.iter().map(|r| (r.round, r.rps)).collect())
            .collect();
        let ranks = super::stats::ranks(&values);
        for (&i, &rank) in members.iter().zip(&ranks) {
            let tied = ranks.iter().filter(|&&r| r == rank).count() > 1;
            out[i] = Some(Rank { rank, tied });
        }
    }
    out
}
