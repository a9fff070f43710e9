//! Is a cell different from the same cell in an earlier run? Ratios to the same run's baseline are
//! what compares across runs: machine-wide drift between runs (measured here at up to 30%) moves a
//! cell and its baseline alike and cancels in their ratio. A baseline's own raw req/s carries that
//! drift, so its change is shown but not tested.

use serde::Serialize;

use super::schema::CellResult;
use crate::stats::{Change, RunNoise};

/// How much whole runs shift against each other when no self-test on this machine has measured
/// it: about what `make selftest` measured on the 2-core machine kind this project is developed on
/// (results/selftest/). Assumed, and the page says so, until `make selftest` measures it here.
pub const ASSUMED_RUN_NOISE: RunNoise = RunNoise { sd: 0.08, df: 20.0 };

/// What "vs previous" says about a cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The ratio to the baseline changed: its 95% interval excludes no change.
    Changed { change: Change },
    /// The ratio's interval includes no change.
    Unchanged { change: Change },
    /// The cell is a baseline: its raw req/s change, which includes machine drift (not tested).
    Baseline { change: Change },
    /// Too few rounds on one side to test: the plain change of the medians.
    Untested { ratio: f64 },
}

impl Verdict {
    pub fn changed(&self) -> bool {
        matches!(self, Verdict::Changed { .. })
    }

    /// How the page writes it.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Changed { change } => change.describe(),
            Verdict::Unchanged { .. } => "no significant change".into(),
            Verdict::Baseline { change } => {
                format!("{:+.0}% raw†", (change.ratio - 1.0) * 100.0)
            }
            Verdict::Untested { ratio } => format!("{:+.1}% (untested)", (ratio - 1.0) * 100.0),
        }
    }
}

/// `now` against `before` (the same cell id in an earlier run), with `noise` the run-level shift
/// between runs beyond their rounds' spread; `None` when either has no req/s.
pub fn compare(now: &CellResult, before: &CellResult, noise: RunNoise) -> Option<Verdict> {
    let is_baseline = now.ratio.as_ref().is_some_and(|r| r.baseline == now.id);
    let ratios = |c: &CellResult| {
        c.ratio
            .as_ref()
            .map(|r| r.rps_rounds.clone())
            .unwrap_or_default()
    };
    if !is_baseline {
        if let Some(change) = Change::between_runs(&ratios(now), &ratios(before), noise) {
            return Some(match change.significant {
                true => Verdict::Changed { change },
                false => Verdict::Unchanged { change },
            });
        }
    }
    if let Some(change) = Change::between_runs(&now.repeats_rps, &before.repeats_rps, noise) {
        return Some(if is_baseline {
            Verdict::Baseline { change }
        } else if change.significant {
            // No baseline in one of the runs: raw req/s is all there is (its interval includes the
            // run noise too, though machine drift moves raw req/s more than ratios).
            Verdict::Changed { change }
        } else {
            Verdict::Unchanged { change }
        });
    }
    let (now, before) = (now.metrics.rps?, before.metrics.rps?);
    (before > 0.0).then(|| Verdict::Untested {
        ratio: now / before,
    })
}
