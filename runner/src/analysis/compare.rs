//! Is a cell different from the same cell in an earlier run? Ratios to the same run's baseline are
//! what compares across runs: machine-wide drift between runs (measured here at up to 30%) moves a
//! cell and its baseline alike and cancels in their ratio. A baseline's own raw req/s carries that
//! drift, so its change is shown but not tested.

use serde::Serialize;

use super::cell::CellFigures;
use super::stats::{Change, RunNoise};
use crate::config::LoadModel;
use crate::results::{CellResult, Run};

/// How much whole runs shift against each other when no self-test on this machine has measured
/// it: about what `make selftest` measured on the 2-core machine kind this project is developed on
/// (results/selftest/). Assumed, and the page says so, until `make selftest` measures it here.
pub const ASSUMED_RUN_NOISE: RunNoise = RunNoise { sd: 0.08, df: 20.0 };

/// What "vs previous" says about a cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The ratio to the baseline changed: its 95% interval excludes no change, and it stands
    /// Holm's correction over every cell the page tests.
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

    /// The change and its interval, where one was computed.
    pub fn change(&self) -> Option<Change> {
        match self {
            Verdict::Changed { change }
            | Verdict::Unchanged { change }
            | Verdict::Baseline { change } => Some(*change),
            Verdict::Untested { .. } => None,
        }
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

/// `now` against `before` (the same cell in an earlier run, both as analysed), with `noise` the
/// run-level shift between runs beyond their rounds' spread; `None` when either has no req/s, or
/// when the load offered a fixed rate (its req/s is the rate, not the server's).
pub fn compare(
    now: &CellFigures,
    before: &CellFigures,
    is_baseline: bool,
    model: LoadModel,
    noise: RunNoise,
) -> Option<Verdict> {
    if model == LoadModel::Open {
        return None;
    }
    let ratios = |f: &CellFigures| {
        f.ratio
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

/// Instructions per request against the previous run's for the same server: a count, so any
/// change of `INSTRUCTIONS_CHANGE` or more is real whatever the machine's noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountChange {
    pub now: f64,
    pub before: f64,
}

impl CountChange {
    pub fn ratio(&self) -> f64 {
        self.now / self.before
    }

    pub fn changed(&self) -> bool {
        (self.ratio() - 1.0).abs() >= super::diagnosis::INSTRUCTIONS_CHANGE
    }

    /// "+4.2%" or "same (+0.1%)".
    pub fn describe(&self) -> String {
        let pct = (self.ratio() - 1.0) * 100.0;
        if self.changed() {
            format!("{pct:+.1}%")
        } else {
            format!("same ({pct:+.1}%)")
        }
    }
}

/// Each diagnosed server's instruction count against the previous run's same server.
pub fn instruction_changes(
    now: &[super::diagnosis::DiagnosisFigures],
    before: &[super::diagnosis::DiagnosisFigures],
) -> Vec<Option<CountChange>> {
    now.iter()
        .map(|d| {
            let b = before.iter().find(|b| b.key == d.key)?;
            let (now, before) = (
                *d.instructions.as_ref().ok()?,
                *b.instructions.as_ref().ok()?,
            );
            (before > 0.0).then_some(CountChange { now, before })
        })
        .collect()
}

/// Every cell's verdict against the same cell id in `previous` (`before`: its analysis, with the
/// same rules).
pub fn verdicts(
    cells: &[CellResult],
    figures: &[CellFigures],
    previous: &Run,
    before: &super::Analysis,
    noise: RunNoise,
) -> Vec<Option<Verdict>> {
    let mut verdicts: Vec<Option<Verdict>> = cells
        .iter()
        .zip(figures)
        .map(|(cell, now)| {
            let at = previous.cells.iter().position(|c| c.id == cell.id)?;
            let is_baseline = now.ratio.as_ref().is_some_and(|r| r.baseline == cell.id);
            compare(now, &before.cells[at], is_baseline, cell.load_model, noise)
        })
        .collect();
    correct_for_multiple_tests(&mut verdicts);
    verdicts
}

/// The page tests every cell at once: a cell is called changed only if it stands Holm's
/// step-down over all of them (each verdict's own 95% interval stays as computed).
fn correct_for_multiple_tests(verdicts: &mut [Option<Verdict>]) {
    let tested: Vec<(usize, Change)> = verdicts
        .iter()
        .enumerate()
        .filter_map(|(i, v)| match v {
            Some(Verdict::Changed { change } | Verdict::Unchanged { change }) => Some((i, *change)),
            _ => None,
        })
        .collect();
    let p: Vec<f64> = tested.iter().map(|(_, c)| c.p).collect();
    for ((i, change), significant) in tested.into_iter().zip(super::stats::holm(&p)) {
        verdicts[i] = Some(if significant {
            Verdict::Changed { change }
        } else {
            Verdict::Unchanged { change }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::{cell, measured, run};
    use crate::results::diagnosis::{Counted, Diagnosis, InstructionPasses};

    /// A run of native and two wasmtime cells whose whole run is `shift` off, with its
    /// instruction counts (wasmtime default's scaled by `slower`).
    fn a_run(id: &str, shift: f64, slower: f64) -> Run {
        let rps = |base: f64| (0..5).map(|i| base * shift * (1.0 + 0.02 * (i as f64 - 2.0))).collect::<Vec<_>>();
        let mut r = run(vec![
            measured(cell("native", "current-thread", "peak-50"), &rps(100e3), &[10.0; 5]),
            measured(cell("wasmtime", "default", "peak-50"), &rps(35e3), &[29.0; 5]),
            measured(cell("wasmtime", "pooling", "peak-50"), &rps(33e3), &[30.0; 5]),
        ]);
        r.run_id = id.into();
        r.complete = true;
        r.diagnoses = ["native/current-thread", "wasmtime/default"]
            .iter()
            .enumerate()
            .map(|(i, key)| Diagnosis {
                key: format!("rust/{key}/single"),
                cell: r.cells[i].id.clone(),
                syscalls: Counted::Unavailable { reason: "n/a".into() },
                instructions: Counted::Measured(InstructionPasses {
                    connections: 1,
                    passes: vec![(200, 2_000_000), (400, 2_000_000 + (200.0 * 102_000.0 * if i == 1 { slower } else { 1.0 }) as u64)],
                    options: vec![],
                    runtime_args: Vec::new(),
                    reused_from: None,
                }),
                profile: Counted::Unavailable { reason: "n/a".into() },
            })
            .collect();
        r
    }

    #[test]
    fn two_runs_of_the_same_code_call_nothing_changed() {
        // Whole runs shifted by 12% against each other, as this machine does between runs.
        let history = [a_run("20261201-000000", 1.0, 1.0), a_run("20261202-000000", 1.12, 1.0), a_run("20261203-000000", 0.95, 1.0)];
        let refs: Vec<&Run> = history.iter().collect();
        let mut now = a_run("20261204-000000", 1.08, 1.0);
        now.noise = crate::analysis::history::noise_table(&refs, None);
        let before = &history[2];
        let noise = now.noise.as_ref().unwrap().get(crate::results::records::NoiseFigure::Ratio, LoadModel::Peak).unwrap();
        let a = crate::analysis::analyze_against(&now, before, noise);
        assert!(a.verdicts.iter().flatten().all(|v| !v.changed()), "{:?}", a.verdicts);
        assert!(a.instruction_changes.iter().flatten().all(|c| !c.changed()));
    }

    #[test]
    fn ten_percent_more_instructions_is_called_changed_whatever_the_noise() {
        let before = a_run("20261201-000000", 1.0, 1.0);
        let now = a_run("20261202-000000", 0.85, 1.10);
        let a = crate::analysis::analyze_against(&now, &before, RunNoise { sd: 0.08, df: 20.0 });
        let changed: Vec<bool> = a.instruction_changes.iter().map(|c| c.is_some_and(|c| c.changed())).collect();
        assert_eq!(changed, [false, true], "{:?}", a.instruction_changes);
        assert!(a.instruction_changes[1].unwrap().describe().starts_with("+10.0%"));
    }

    #[test]
    fn among_many_cells_a_borderline_change_is_not_called_but_a_large_one_is() {
        let change = |ratio: f64, p: f64| Change { ratio, lo: ratio * 0.9, hi: ratio * 1.1, significant: p < 0.05, p };
        let mut v: Vec<Option<Verdict>> = (0..40).map(|_| Some(Verdict::Unchanged { change: change(1.0, 0.5) })).collect();
        v.push(Some(Verdict::Changed { change: change(0.7, 0.03) }));
        v.push(Some(Verdict::Changed { change: change(0.5, 1e-6) }));
        v.push(Some(Verdict::Baseline { change: change(1.6, 0.0) }));
        v.push(None);
        correct_for_multiple_tests(&mut v);
        let called: Vec<usize> = v.iter().enumerate().filter(|(_, x)| x.as_ref().is_some_and(Verdict::changed)).map(|(i, _)| i).collect();
        assert_eq!(called, [41], "only the large change stands 42 tests at once");
        assert!(matches!(v[42], Some(Verdict::Baseline { .. })), "a baseline is shown, never tested");
    }
}
