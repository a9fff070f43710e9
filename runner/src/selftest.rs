//! What the statistics resolve on this machine, measured: A/A (the same code run twice must call
//! no more cells "changed" than the confidence allows) and A/B (a known slowdown, the `compute`
//! workload with 10% more rounds as a second cell, must be told apart from `compute`).
//! This file judges finished runs; `matrix selftest` makes them.

use serde::{Deserialize, Serialize};

use crate::analysis::compare::{Verdict, ASSUMED_RUN_NOISE};
use crate::analysis::stats::{differs_paired, paired_ratio, Change, RunNoise};
use crate::results::{CellResult, Run, Status};

/// The workload pair of the A/B check: B does 10% more work than A.
pub const FAST: &str = "compute";
pub const SLOW: &str = "compute-slow";

/// One try: two runs of the same matrix on the same code.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Try {
    /// Every cell both runs measured with a ratio to native: its per-round ratios in each run.
    pub pairs_a_a: Vec<AaPair>,
    /// Cells compared between the two runs, and how many were called changed (set by `judge`).
    pub compared: usize,
    pub changed: usize,
    /// The cells called changed, with what was said.
    pub changed_cells: Vec<String>,
    /// A/B pairs (one per runtime x mode and run) checked, and how many told B slower than A.
    pub pairs: usize,
    pub detected: usize,
    /// Half-widths of the paired B/A intervals (fraction): the resolution within a run.
    pub paired_half_widths: Vec<f64>,
    /// Half-widths of the between-run intervals of the tested comparisons (fraction).
    pub between_half_widths: Vec<f64>,
}

/// One cell of an A/A try: the same figure in both runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AaPair {
    pub cell: String,
    pub first: Vec<f64>,
    pub second: Vec<f64>,
}

/// A/A: collects every cell both runs measured, as "vs previous" would compare it.
pub fn a_a(first: &Run, second: &Run, t: &mut Try) {
    for cell in second.cells.iter().filter(|c| c.status == Status::Ok) {
        let Some(before) = first.cells.iter().find(|c| c.id == cell.id) else {
            continue;
        };
        let ratios = |c: &CellResult| c.ratio.as_ref().map(|r| r.rps_rounds.clone());
        // Baselines (ratio 1 by construction) are shown, not tested.
        if cell.ratio.as_ref().is_some_and(|r| r.baseline == cell.id) {
            continue;
        }
        if let (Some(first), Some(second)) = (ratios(before), ratios(cell)) {
            t.pairs_a_a.push(AaPair {
                cell: cell.id.clone(),
                first,
                second,
            });
        }
    }
}

/// Judges a try's A/A pairs with `noise`, as "vs previous" judges a cell.
pub fn judge(t: &mut Try, noise: RunNoise) {
    t.compared = 0;
    t.changed = 0;
    t.changed_cells.clear();
    t.between_half_widths.clear();
    for pair in &t.pairs_a_a {
        let Some(change) = Change::between_runs(&pair.second, &pair.first, noise) else {
            continue;
        };
        t.compared += 1;
        t.between_half_widths.push(half_width(&change));
        if change.significant {
            t.changed += 1;
            let verdict = Verdict::Changed { change };
            t.changed_cells
                .push(format!("{}: {}", pair.cell, verdict.describe()));
        }
    }
}

/// The run noise of all tries' A/A pairs but `except` (to judge that try out of sample).
pub fn run_noise(tries: &[Try], except: Option<usize>) -> Option<RunNoise> {
    let pairs: Vec<(Vec<f64>, Vec<f64>)> = tries
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != except)
        .flat_map(|(_, t)| {
            t.pairs_a_a
                .iter()
                .map(|p| (p.first.clone(), p.second.clone()))
        })
        .collect();
    RunNoise::estimate(&pairs)
}

fn half_width(change: &Change) -> f64 {
    (change.hi - change.lo) / 2.0
}

/// A/B: in `run`, each `SLOW` cell against the `FAST` cell of the same server, runtime, mode,
/// write and load, paired by round. Detected when B is significantly slower.
pub fn a_b(run: &Run, t: &mut Try) {
    for slow in run
        .cells
        .iter()
        .filter(|c| c.workload == SLOW && c.status == Status::Ok)
    {
        let Some(fast) = run.cells.iter().find(|c| is_pair(c, slow)) else {
            continue;
        };
        let (b, a) = (slow.rps_by_round(), fast.rps_by_round());
        t.pairs += 1;
        if let Some(ratio) = paired_ratio(&b, &a) {
            t.paired_half_widths.push((ratio.hi - ratio.lo) / 2.0);
            if differs_paired(&b, &a) && ratio.median < 1.0 {
                t.detected += 1;
            }
        }
    }
}

fn is_pair(fast: &CellResult, slow: &CellResult) -> bool {
    fast.workload == FAST
        && fast.status == Status::Ok
        && (
            &fast.server,
            &fast.runtime,
            &fast.mode,
            &fast.write,
            &fast.load,
        ) == (
            &slow.server,
            &slow.runtime,
            &slow.mode,
            &slow.write,
            &slow.load,
        )
}

/// All tries together.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdicts {
    pub tries: usize,
    pub compared: usize,
    pub changed: usize,
    /// changed / compared: must stay at or below 1 - confidence (5%).
    pub false_change_rate: f64,
    pub pairs: usize,
    pub detected: usize,
    /// detected / pairs: the aim is 90% or more.
    pub detection_rate: f64,
    /// Median half-width of the paired B/A intervals: the smallest difference within one run that
    /// is told apart about half the time.
    pub paired_resolution: Option<f64>,
    /// Median half-width of the between-run intervals.
    pub between_runs_resolution: Option<f64>,
    /// What whole runs shift by beyond their rounds, from every try: what "vs previous" uses.
    pub run_noise: Option<RunNoise>,
    /// The chance of at least `changed` false calls in `compared` comparisons at the allowed 5%
    /// rate (absent in records from before it was published).
    #[serde(default)]
    pub false_changes_p: Option<f64>,
}

impl Verdicts {
    /// Judges each try's A/A pairs with the run noise of the other tries (out of sample; the
    /// assumed noise when there is only one try), then sums up.
    pub fn of(tries: &mut [Try]) -> Verdicts {
        for k in 0..tries.len() {
            let noise = run_noise(tries, Some(k)).unwrap_or(ASSUMED_RUN_NOISE);
            judge(&mut tries[k], noise);
        }
        let sum = |f: fn(&Try) -> usize| tries.iter().map(f).sum::<usize>();
        let (compared, changed, pairs, detected) = (
            sum(|t| t.compared),
            sum(|t| t.changed),
            sum(|t| t.pairs),
            sum(|t| t.detected),
        );
        let all = |f: fn(&Try) -> &Vec<f64>| -> Vec<f64> {
            tries.iter().flat_map(|t| f(t).iter().copied()).collect()
        };
        let rate = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        Verdicts {
            tries: tries.len(),
            compared,
            changed,
            false_change_rate: rate(changed, compared),
            pairs,
            detected,
            detection_rate: rate(detected, pairs),
            paired_resolution: crate::analysis::stats::median(&all(|t| &t.paired_half_widths)),
            between_runs_resolution: crate::analysis::stats::median(&all(|t| {
                &t.between_half_widths
            })),
            run_noise: run_noise(tries, None),
            false_changes_p: Some(binomial_at_least(
                changed,
                compared,
                1.0 - crate::analysis::stats::CONFIDENCE,
            )),
        }
    }

    /// A/A consistent with the false-change rate the confidence allows, and A/B at 90% or more.
    pub fn pass(&self) -> bool {
        self.false_changes_plausible() && self.detection_rate >= 0.9
    }

    /// Whether the A/A count of "changed" calls could come from a 5% false-change rate: a
    /// one-sided binomial test at the page's confidence. A share cap would fail one false call
    /// in 15 comparisons, which a sound 5% test makes in more than half of all self-tests.
    pub fn false_changes_plausible(&self) -> bool {
        self.false_changes_p_value() >= 1.0 - crate::analysis::stats::CONFIDENCE
    }

    /// The chance of at least this many "changed" calls if each comparison had the allowed
    /// false-change rate.
    pub fn false_changes_p_value(&self) -> f64 {
        binomial_at_least(self.changed, self.compared, 1.0 - crate::analysis::stats::CONFIDENCE)
    }
}

/// P(X >= k) for X ~ Binomial(n, p).
pub fn binomial_at_least(k: usize, n: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    // The terms below k, each from the one before: C(n, i+1) p^(i+1) q^(n-i-1).
    let q = 1.0 - p;
    let mut term = q.powi(n as i32);
    let mut below = 0.0;
    for i in 0..k {
        below += term;
        term *= (n - i) as f64 / (i + 1) as f64 * p / q;
    }
    (1.0 - below).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Ratio, RoundFigures};

    fn cell(id: &str, workload: &str, rps: &[f64], ratio: Option<&[f64]>) -> CellResult {
        let mut c: CellResult = serde_json::from_value(serde_json::json!({
            "index": 0, "id": id, "server": "rust", "target": "host", "runtime": "wasmtime",
            "mode": "default", "mode_about": "", "write": "single", "workload": workload,
            "load": "peak-50", "load_model": "peak", "generator": "wrk", "concurrency": 50,
            "offered_rps": null, "status": "ok", "reason": null, "runtime_version": null,
            "command": [], "metrics": {}, "flags": [], "repeats_rps": [], "partial": false
        }))
        .unwrap();
        c.repeats_rps = rps.to_vec();
        c.metrics.rps = crate::analysis::stats::median(rps);
        c.rounds = rps
            .iter()
            .enumerate()
            .map(|(r, v)| RoundFigures {
                round: r as u32,
                rps: *v,
                ..Default::default()
            })
            .collect();
        c.ratio = ratio.map(|rounds| Ratio {
            baseline: "rust/native/current-thread/single/compute/peak-50".into(),
            rps: crate::analysis::stats::Estimate::of(rounds),
            rps_bound: None,
            cpu_rounds: Vec::new(),
            rps_rounds: rounds.to_vec(),
            cpu: None,
        });
        c
    }

    fn run(cells: Vec<CellResult>) -> Run {
        let mut run: Run =
            serde_json::from_str(include_str!("../tests/fixtures/run.json")).unwrap();
        run.cells = cells;
        run
    }

    #[test]
    fn binomial_tails_match_their_sums() {
        assert_eq!(binomial_at_least(0, 15, 0.05), 1.0);
        assert!((binomial_at_least(1, 15, 0.05) - (1.0 - 0.95f64.powi(15))).abs() < 1e-12);
        // 1 - P(0) - P(1) - P(2) = 0.0362 for 15 comparisons at 5%.
        assert!((binomial_at_least(3, 15, 0.05) - 0.036_200).abs() < 1e-6);
        assert!((binomial_at_least(4, 4, 0.5) - 0.0625).abs() < 1e-12);
        assert_eq!(binomial_at_least(5, 4, 0.5), 0.0);
    }

    #[test]
    fn one_false_call_in_fifteen_passes_and_three_do_not() {
        let verdicts = |changed: usize, compared: usize| Verdicts {
            tries: 5,
            compared,
            changed,
            false_change_rate: changed as f64 / compared as f64,
            pairs: 20,
            detected: 20,
            detection_rate: 1.0,
            paired_resolution: None,
            between_runs_resolution: None,
            run_noise: None,
            false_changes_p: None,
        };
        assert!(verdicts(1, 15).pass());
        assert!(verdicts(2, 15).pass());
        assert!(!verdicts(3, 15).pass());
        assert!(!verdicts(12, 100).pass());
        assert!(verdicts(0, 0).pass());
    }

    #[test]
    fn the_same_ratio_twice_is_no_change_and_a_shifted_one_is() {
        let first = run(vec![cell(
            "a",
            FAST,
            &[100.0, 90.0, 95.0],
            Some(&[0.40, 0.41, 0.40]),
        )]);
        let same = run(vec![cell(
            "a",
            FAST,
            &[70.0, 72.0, 69.0],
            Some(&[0.405, 0.40, 0.41]),
        )]);
        let mut t = Try::default();
        a_a(&first, &same, &mut t);
        judge(&mut t, RunNoise::NONE);
        // Raw req/s fell 25% (machine drift); the ratio to native did not move.
        assert_eq!((t.compared, t.changed), (1, 0));
        let shifted = run(vec![cell(
            "a",
            FAST,
            &[100.0, 90.0, 95.0],
            Some(&[0.50, 0.51, 0.50]),
        )]);
        let mut t = Try::default();
        a_a(&first, &shifted, &mut t);
        judge(&mut t, RunNoise::NONE);
        assert_eq!((t.compared, t.changed), (1, 1));
        assert!(
            t.changed_cells[0].starts_with("a: +"),
            "{:?}",
            t.changed_cells
        );
        // A machine whose runs shift by 20% cannot call a 25% shift a change.
        judge(&mut t, RunNoise { sd: 0.2, df: 50.0 });
        assert_eq!((t.compared, t.changed), (1, 0));
    }

    #[test]
    fn a_ten_percent_slower_pair_is_detected_when_rounds_agree() {
        let r = run(vec![
            cell("f", FAST, &[1000.0, 800.0, 950.0], None),
            cell("s", SLOW, &[900.0, 722.0, 853.0], None),
        ]);
        let mut t = Try::default();
        a_b(&r, &mut t);
        assert_eq!((t.pairs, t.detected), (1, 1));
        // Rounds that disagree about the pair cannot detect it.
        let r = run(vec![
            cell("f", FAST, &[1000.0, 800.0, 950.0], None),
            cell("s", SLOW, &[1020.0, 650.0, 900.0], None),
        ]);
        let mut t = Try::default();
        a_b(&r, &mut t);
        assert_eq!((t.pairs, t.detected), (1, 0));
        let v = Verdicts::of(&mut [t]);
        assert_eq!(v.detection_rate, 0.0);
        assert!(!v.pass());
    }
}
