//! Analysis: every published figure, derived from what was measured, in pure functions with unit
//! tests. `analyze` takes a run as measured (its cells' windows and launches) and returns every
//! figure the page and the exports show; `publish` writes them into the run's JSON. Nothing here
//! measures, formats or writes files.
//!
//! Where each figure comes from:
//! - a cell's own figures (medians over rounds, intervals, per-round figures, its flags): `cell`,
//!   with the flag rules in `flags`;
//! - which cell a cell is compared with, and why: `baseline`;
//! - "× native" (req/s and CPU per request, paired by round, with bounds): `ratios`;
//! - each open load's generator floor and the generator-noise flag: `floors`;
//! - system calls, instructions and the CPU split per request, against native's: `diagnosis`;
//! - "vs previous": `compare`; whether to keep the CPUs awake: `awake`;
//! - the arithmetic itself (medians, t intervals, paired ratios, ranks): `stats`.

pub mod awake;
pub mod baseline;
pub mod cell;
pub mod compare;
pub mod diagnosis;
#[cfg(test)]
pub mod fixtures;
pub mod flags;
pub mod floors;
pub mod history;
pub mod hostile;
pub mod links;
pub mod notices;
pub mod pairs;
pub mod ranks;
pub mod ratios;
pub mod stats;
pub mod sweeps;

use crate::results::{CellResult, GeneratorFloor, Run};
use cell::CellFigures;

/// Every derived figure of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    /// One per cell, in the run's order.
    pub cells: Vec<CellFigures>,
    pub floors: Vec<GeneratorFloor>,
    /// Each cell's rank in its section (workload x load), where it has one.
    pub ranks: Vec<Option<ranks::Rank>>,
    /// Against the previous run, where `analyze_against` was given one.
    pub verdicts: Vec<Option<compare::Verdict>>,
    pub sweeps: Vec<sweeps::Sweep>,
    pub container_pairs: Vec<pairs::ContainerPair>,
    pub version_groups: Vec<pairs::VersionGroup>,
    pub link_groups: Vec<links::LinkGroup>,
    pub notices: notices::Notices,
    /// Where each diagnosed server's cost goes: system calls, instructions, the CPU split.
    pub diagnoses: Vec<diagnosis::DiagnosisFigures>,
    /// Each diagnosed server's instructions per request against the previous run's.
    pub instruction_changes: Vec<Option<compare::CountChange>>,
}

/// The run's figures, and each cell against the same cell of `previous` (with `noise`, how much
/// whole runs shift on this machine beyond their rounds).
pub fn analyze_against(run: &Run, previous: &Run, noise: stats::RunNoise) -> Analysis {
    let mut analysis = analyze(run);
    let before = analyze(previous);
    analysis.verdicts = compare::verdicts(&run.cells, &analysis.cells, previous, &before, noise);
    analysis.instruction_changes =
        compare::instruction_changes(&analysis.diagnoses, &before.diagnoses);
    analysis
}

/// The run's figures, and only its counts (instructions per request) against `previous`: a run
/// of another machine or matrix, whose times are a different experiment.
pub fn analyze_counts_against(run: &Run, previous: &Run) -> Analysis {
    let mut analysis = analyze(run);
    let before = analyze(previous);
    analysis.instruction_changes = compare::instruction_changes(&analysis.diagnoses, &before.diagnoses);
    analysis
}

/// The run's figures, from its cells as measured.
pub fn analyze(run: &Run) -> Analysis {
    let mut cells: Vec<CellFigures> = run.cells.iter().map(cell::figures).collect();
    let floors = floors::floors(&run.cells, &cells);
    for (cell, f) in run.cells.iter().zip(cells.iter_mut()) {
        f.flags.extend(floors::noise_flag(cell, f, &floors));
    }
    let ratios: Vec<_> = run
        .cells
        .iter()
        .zip(&cells)
        .map(|(cell, f)| {
            let base = baseline::NATIVE.baseline_of(&run.cells, cell)?;
            (!f.rounds.is_empty())
                .then(|| ratios::ratio(cell.load_model, f, &cells[base], &run.cells[base].id))
        })
        .collect();
    for (f, ratio) in cells.iter_mut().zip(ratios) {
        f.ratio = ratio;
    }
    let within = cells.clone();
    history::widen(&run.cells, &mut cells, run.noise.as_ref());
    let diagnoses = diagnosis::figures(&run.cells, &cells, &run.diagnoses);
    Analysis {
        ranks: ranks::ranks(&run.cells, &cells),
        verdicts: vec![None; run.cells.len()],
        sweeps: sweeps::sweeps(&run.cells, &cells),
        container_pairs: pairs::container_pairs(&run.cells, &within, run.noise.as_ref()),
        version_groups: pairs::version_groups(&run.cells, &within, run.noise.as_ref()),
        link_groups: links::link_groups(&run.cells, &cells),
        notices: notices::notices(run, &cells),
        instruction_changes: vec![None; diagnoses.len()],
        diagnoses,
        cells,
        floors,
    }
}

/// Writes a run's derived figures into it, as the JSON publishes them.
pub fn publish(run: &mut Run) {
    let analysis = analyze(run);
    for (cell, figures) in run.cells.iter_mut().zip(analysis.cells) {
        apply(cell, figures);
    }
    run.generator_floors = analysis.floors;
}

/// One cell's own figures (no baseline, no floor), for a cell file written while the run goes on.
pub fn publish_cell(cell: &mut CellResult) {
    let figures = cell::figures(cell);
    apply(cell, figures);
}

fn apply(cell: &mut CellResult, f: CellFigures) {
    cell.metrics = f.metrics;
    cell.repeats_rps = f.repeats_rps;
    cell.rounds = f.rounds;
    cell.disturbed = f.disturbed;
    cell.estimates = f.estimates;
    cell.flags = f.flags;
    cell.ratio = f.ratio;
    if f.offered_rps.is_some() {
        cell.offered_rps = f.offered_rps;
    }
}
