//! What the page says about the run as a whole: how much the baselines varied over rounds, how
//! much CPU time the hypervisor stole inside the windows, and how many open-model windows it
//! disturbed (and how many of those were measured again).

use super::baseline::NATIVE;
use super::cell::CellFigures;
use super::stats::median;
use crate::config::LoadModel;
use crate::results::{CellResult, Run};

/// Median CV of the baseline cells' req/s above which the page says the machine was too noisy.
pub const NOISY_BASELINE_CV: f64 = 0.08;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notices {
    /// Median coefficient of variation of the baselines' req/s over rounds, when above
    /// `NOISY_BASELINE_CV`.
    pub noisy_baselines_cv: Option<f64>,
    /// Steal over every measured window: (median %, worst %, windows), when the median reached
    /// the host-steal flag's threshold.
    pub steal: Option<(f64, f64, usize)>,
    /// Open-model windows disturbed by the host: replaced by a quiet one, still kept, and further
    /// attempts set aside; `None` when there were none.
    pub disturbed: Option<Disturbed>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Disturbed {
    pub replaced: usize,
    pub still: usize,
    pub attempts: usize,
}

pub fn notices(run: &Run, figures: &[CellFigures]) -> Notices {
    Notices {
        noisy_baselines_cv: noisy_baselines(&run.cells, figures),
        steal: steal(figures),
        disturbed: disturbed(run, figures),
    }
}

fn noisy_baselines(cells: &[CellResult], figures: &[CellFigures]) -> Option<f64> {
    let cvs: Vec<f64> = cells
        .iter()
        .zip(figures)
        .filter(|(c, _)| NATIVE.is_baseline(c))
        .filter_map(|(_, f)| f.estimates.rps.filter(|e| e.n >= 2).map(|e| e.cv))
        .collect();
    median(&cvs).filter(|&cv| cv > NOISY_BASELINE_CV)
}

fn steal(figures: &[CellFigures]) -> Option<(f64, f64, usize)> {
    let steals: Vec<f64> = figures
        .iter()
        .flat_map(|f| {
            f.rounds
                .iter()
                .chain(&f.disturbed)
                .filter_map(|r| r.steal_pct)
        })
        .collect();
    let typical = median(&steals)?;
    let worst = steals.iter().copied().fold(0.0, f64::max);
    (typical >= super::flags::HOST_STEAL_PCT).then_some((typical, worst, steals.len()))
}

fn disturbed(run: &Run, figures: &[CellFigures]) -> Option<Disturbed> {
    let limit = run.settings.steal_limit_pct;
    let open = || {
        run.cells
            .iter()
            .zip(figures)
            .filter(|(c, _)| c.load_model == LoadModel::Open)
            .map(|(_, f)| f)
    };
    let replaced = open()
        .flat_map(|f| &f.rounds)
        .filter(|r| r.remeasured)
        .count();
    let still = open()
        .flat_map(|f| &f.rounds)
        .filter(|r| r.steal_pct.is_some_and(|s| s > limit))
        .count();
    let attempts = open()
        .map(|f| f.disturbed.len())
        .sum::<usize>()
        .saturating_sub(replaced);
    (replaced + still > 0).then_some(Disturbed {
        replaced,
        still,
        attempts,
    })
}
