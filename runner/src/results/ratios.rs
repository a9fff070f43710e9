//! Every cell against its baseline: native current-thread of the same server language, workload
//! and load (and write strategy, where native has it), paired by round.

use super::schema::{CellResult, Ratio, Status};
use crate::stats::{paired_ratio, Estimate};

/// The cell a cell is compared with, if the run has it.
pub fn baseline<'a>(cells: &'a [CellResult], cell: &CellResult) -> Option<&'a CellResult> {
    let same = |c: &&CellResult| {
        c.runtime == "native"
            && c.status == Status::Ok
            && c.server == cell.server
            && c.workload == cell.workload
            && c.load == cell.load
            && c.mode == "current-thread"
    };
    cells
        .iter()
        .filter(same)
        .find(|c| c.write == cell.write)
        .or_else(|| cells.iter().find(same))
}

/// The ratio of `cell` to `base`, round by round.
pub fn ratio(cell: &CellResult, base: &CellResult) -> Ratio {
    let (rps, rps_base) = (cell.rps_by_round(), base.rps_by_round());
    let rps_rounds = rps
        .iter()
        .filter_map(|(round, x)| {
            let (_, y) = rps_base.iter().find(|(r, _)| r == round)?;
            Some(x / y)
        })
        .collect();
    Ratio {
        baseline: base.id.clone(),
        rps: paired_ratio(&rps, &rps_base),
        rps_rounds,
        cpu: paired_ratio(&cell.cpu_by_round(), &base.cpu_by_round()),
    }
}

/// Fills every measured cell's `ratio` (the baseline's own is 1 by construction).
pub fn attach(cells: &mut [CellResult]) {
    let ratios: Vec<Option<Ratio>> = cells
        .iter()
        .map(|cell| {
            let base = baseline(cells, cell)?;
            (!cell.rounds.is_empty()).then(|| ratio(cell, base))
        })
        .collect();
    for (cell, ratio) in cells.iter_mut().zip(ratios) {
        cell.ratio = ratio;
    }
}

/// The ratio's estimate, where the cell has one.
pub fn rps_ratio(cell: &CellResult) -> Option<&Estimate> {
    cell.ratio.as_ref()?.rps.as_ref()
}
