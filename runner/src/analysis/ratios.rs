//! Every cell against its "× native" baseline (`baseline::NATIVE`), paired by round: req/s and
//! CPU per request, each round's cell over the same round's baseline, so drift that hits both
//! cancels.

use super::cell::CellFigures;
use super::stats::paired_ratio;
use crate::config::LoadModel;
use crate::results::{Bound, Flag, Ratio, RoundFigures};

fn by_round(rounds: &[RoundFigures], f: fn(&RoundFigures) -> Option<f64>) -> Vec<(u32, f64)> {
    rounds
        .iter()
        .filter_map(|r| Some((r.round, f(r)?)))
        .collect()
}

/// The ratio of a cell (`model` its load model) to its baseline `base`, both as analysed.
pub fn ratio(model: LoadModel, cell: &CellFigures, base: &CellFigures, base_id: &str) -> Ratio {
    let rps = |r: &RoundFigures| Some(r.rps);
    let cpu = |r: &RoundFigures| r.server_cpu_us_per_request;
    let (a, b) = (by_round(&cell.rounds, rps), by_round(&base.rounds, rps));
    let (ca, cb) = (by_round(&cell.rounds, cpu), by_round(&base.rounds, cpu));
    let measures_server = model != LoadModel::Open;
    let rps_rounds = per_round(&a, &b);
    Ratio {
        baseline: base_id.to_string(),
        rps: measures_server.then(|| paired_ratio(&a, &b)).flatten(),
        rps_bound: measures_server
            .then(|| bound(generator_bound(cell), generator_bound(base)))
            .flatten(),
        rps_rounds,
        cpu: paired_ratio(&ca, &cb),
        cpu_rounds: per_round(&ca, &cb),
    }
}

/// `a / b` round by round, over the rounds both have.
pub fn per_round(a: &[(u32, f64)], b: &[(u32, f64)]) -> Vec<f64> {
    a.iter()
        .filter_map(|(round, x)| {
            let (_, y) = b.iter().find(|(r, _)| r == round)?;
            (*y > 0.0).then(|| x / y)
        })
        .collect()
}

fn generator_bound(f: &CellFigures) -> bool {
    f.flags
        .iter()
        .any(|flag| matches!(flag, Flag::GeneratorBound { .. }))
}

/// Which way a req/s multiple is a bound, from which side the generator limited.
pub fn bound(cell_bound: bool, base_bound: bool) -> Option<Bound> {
    match (cell_bound, base_bound) {
        (false, false) => None,
        (false, true) => Some(Bound::AtMost),
        (true, false) => Some(Bound::AtLeast),
        (true, true) => Some(Bound::Neither),
    }
}
