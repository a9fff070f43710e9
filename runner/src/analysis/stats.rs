//! The arithmetic behind published figures, as pure functions.
//!
//! A cell is measured once per round; its rounds are its samples. Throughput-like figures are
//! positive and their noise is multiplicative (a slower machine slows everything by a factor), so
//! intervals are computed on logarithms and mapped back: the 95% interval is Student's t interval
//! of the mean of ln(value) over rounds, i.e. of the geometric mean. The point shown is the median
//! of the rounds (robust to one disturbed round); with 3 rounds the t interval always contains it.
//!
//! Ratios to a baseline are paired by round (same round, close in time), so drift that hits both
//! cancels. Changes between two runs compare independent samples (Welch's t on logarithms).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The confidence of every interval on the page.
pub const CONFIDENCE: f64 = 0.95;

/// Median of non-empty values.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample standard deviation (n - 1), `None` below two values.
pub fn std_dev(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let ss: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    Some((ss / (values.len() - 1) as f64).sqrt())
}

/// Coefficient of variation: standard deviation over mean, as a fraction.
pub fn cv(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    (m != 0.0).then_some(std_dev(values)? / m.abs())
}

/// Requests beyond a percentile needed before it is published: a p99.9 from fewer than 10,000
/// requests rests on fewer than 10 requests beyond it.
pub const TAIL_SAMPLES: f64 = 10.0;

/// Does a window of `samples` requests support the `q` quantile (e.g. 0.999)?
pub fn tail_supported(samples: u64, q: f64) -> bool {
    samples as f64 * (1.0 - q) >= TAIL_SAMPLES - 1e-9
}

/// The two-sided Student t quantile for `CONFIDENCE` with `df` degrees of freedom.
pub fn t_quantile(df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df.max(1.0))
        .expect("df >= 1")
        .inverse_cdf(0.5 + CONFIDENCE / 2.0)
}

/// Two-sided p-value of the t statistic `t` with `df` degrees of freedom.
pub fn two_sided_p(t: f64, df: f64) -> f64 {
    let dist = StudentsT::new(0.0, 1.0, df.max(1.0)).expect("df >= 1");
    2.0 * (1.0 - dist.cdf(t.abs()))
}

/// Holm's step-down over a family of tests (one p-value each): which to call significant so that
/// the chance of calling any true "no change" a change stays at 1 − CONFIDENCE for the family, not
/// for each test. A page compares some fifty cells with the previous run; at 5% each, an A/A pair
/// would call two or three of them changed.
pub fn holm(p: &[f64]) -> Vec<bool> {
    let alpha = 1.0 - CONFIDENCE;
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut significant = vec![false; p.len()];
    for (rank, &i) in order.iter().enumerate() {
        if p[i] > alpha / (p.len() - rank) as f64 {
            break;
        }
        significant[i] = true;
    }
    significant
}

/// Mean and half-width of the t interval of the mean of `logs`, `None` below two values.
fn log_interval(logs: &[f64]) -> Option<(f64, f64)> {
    let n = logs.len() as f64;
    let m = mean(logs)?;
    let half = t_quantile(n - 1.0) * std_dev(logs)? / n.sqrt();
    Some((m, half))
}

pub use crate::results::records::Estimate;

impl Estimate {
    /// From positive per-round values; `None` when there are none or any is not positive.
    pub fn of(values: &[f64]) -> Option<Estimate> {
        if values.is_empty()
            || values
                .iter()
                .any(|v| v.is_nan() || *v <= 0.0 || !v.is_finite())
        {
            return None;
        }
        let median = median(values)?;
        let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
        let (lo, hi) = match log_interval(&logs) {
            Some((m, half)) => ((m - half).exp(), (m + half).exp()),
            None => (median, median),
        };
        Some(Estimate {
            median,
            lo: lo.min(median),
            hi: hi.max(median),
            cv: cv(values).unwrap_or(0.0),
            n: values.len(),
        })
    }

    /// Where the same figure's median falls in a rerun on this machine, with 95% confidence: the
    /// rounds' spread and `noise`, how much whole runs shift beyond it, for this run and the next
    /// (half-width t·√(2(s²/n + σ²)) on logarithms, Welch–Satterthwaite degrees of freedom).
    /// The point is still the rounds' median.
    pub fn for_rerun(values: &[f64], noise: RunNoise) -> Option<Estimate> {
        let within = Estimate::of(values)?;
        let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
        let n = logs.len() as f64;
        let m = mean(&logs)?;
        let vw = std_dev(&logs).map_or(0.0, |s| s * s / n);
        let vb = noise.sd * noise.sd;
        if vw + vb <= 0.0 {
            return Some(within);
        }
        let df = (vw + vb).powi(2)
            / (if n > 1.0 { vw * vw / (n - 1.0) } else { 0.0 } + vb * vb / noise.df.max(1.0));
        let half = t_quantile(df) * (2.0 * (vw + vb)).sqrt();
        Some(Estimate {
            lo: ((m - half).exp()).min(within.median),
            hi: ((m + half).exp()).max(within.median),
            ..within
        })
    }

    /// Do the two intervals overlap?
    pub fn overlaps(&self, other: &Estimate) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }
}

/// The ratio of two cells measured in the same rounds, paired by round: per-round ratios, their
/// median and the t interval of their geometric mean. `a` and `b` are (round, value) pairs; rounds
/// present in only one of them are left out.
pub fn paired_ratio(a: &[(u32, f64)], b: &[(u32, f64)]) -> Option<Estimate> {
    let ratios: Vec<f64> = a
        .iter()
        .filter_map(|(round, x)| {
            let (_, y) = b.iter().find(|(r, _)| r == round)?;
            (*y > 0.0).then(|| x / y)
        })
        .collect();
    Estimate::of(&ratios)
}

/// A change between two independent samples (e.g. the same cell in two runs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Ratio of geometric means, now / before (1.0 = no change).
    pub ratio: f64,
    /// Its 95% interval (Welch's t on logarithms).
    pub lo: f64,
    pub hi: f64,
    /// The interval excludes 1: a change at 95% confidence.
    pub significant: bool,
    /// Two-sided p-value of "no change", for tests of several cells at once (`holm`); derived,
    /// so not written out.
    #[serde(default, skip_serializing)]
    pub p: f64,
}

pub use crate::results::records::RunNoise;

impl RunNoise {
    /// No run-level noise: Welch's test on the rounds alone.
    pub const NONE: RunNoise = RunNoise {
        sd: 0.0,
        df: f64::INFINITY,
    };

    /// Estimates it from A/A pairs: each pair is the per-round values of the same figure in two
    /// runs of the same code. Method of moments: E[d²] = 2 sd² + var_a/n_a + var_b/n_b for the
    /// difference d of the two runs' mean logarithms. `None` without a pair of two rounds or more.
    pub fn estimate(pairs: &[(Vec<f64>, Vec<f64>)]) -> Option<RunNoise> {
        let terms: Vec<f64> = pairs
            .iter()
            .filter_map(|(a, b)| {
                let (a, b) = (logs(a)?, logs(b)?);
                let d = mean(&a)? - mean(&b)?;
                let within =
                    std_dev(&a)?.powi(2) / a.len() as f64 + std_dev(&b)?.powi(2) / b.len() as f64;
                Some(d * d - within)
            })
            .collect();
        let m = mean(&terms)?;
        Some(RunNoise {
            sd: (m.max(0.0) / 2.0).sqrt(),
            df: terms.len() as f64,
        })
    }
}

fn logs(v: &[f64]) -> Option<Vec<f64>> {
    v.iter().map(|x| (*x > 0.0).then(|| x.ln())).collect()
}

impl Change {
    /// `now` against `before`; `None` when either has fewer than two positive values.
    pub fn between(now: &[f64], before: &[f64]) -> Option<Change> {
        Change::between_runs(now, before, RunNoise::NONE)
    }

    /// `now` against `before` from two different runs, whose offsets vary with `noise` on top of
    /// their rounds' spread (Welch–Satterthwaite with that variance as a third term).
    pub fn between_runs(now: &[f64], before: &[f64], noise: RunNoise) -> Option<Change> {
        let (a, b) = (logs(now)?, logs(before)?);
        let (na, nb) = (a.len() as f64, b.len() as f64);
        let (va, vb) = (std_dev(&a)?.powi(2) / na, std_dev(&b)?.powi(2) / nb);
        let vr = 2.0 * noise.sd.powi(2);
        let diff = mean(&a)? - mean(&b)?;
        let se = (va + vb + vr).sqrt();
        // Equal samples without run noise make it n_a + n_b - 2.
        let df = if se > 0.0 {
            (va + vb + vr).powi(2)
                / (va.powi(2) / (na - 1.0) + vb.powi(2) / (nb - 1.0) + vr.powi(2) / noise.df)
        } else {
            na + nb - 2.0
        };
        let half = t_quantile(df) * se;
        let p = if se > 0.0 {
            two_sided_p(diff / se, df)
        } else if diff == 0.0 {
            1.0
        } else {
            0.0
        };
        Some(Change {
            ratio: diff.exp(),
            lo: (diff - half).exp(),
            hi: (diff + half).exp(),
            significant: diff - half > 0.0 || diff + half < 0.0,
            p,
        })
    }

    /// "+12% ± 4%": the change and the half-width of its interval, in percent.
    pub fn describe(&self) -> String {
        let pct = (self.ratio - 1.0) * 100.0;
        let half = (self.hi - self.lo) / 2.0 * 100.0;
        format!("{pct:+.0}% ± {half:.0}%")
    }
}

/// Is `a` different from `b` when both were measured in the same rounds? (The paired ratio's
/// interval excludes 1.)
pub fn differs_paired(a: &[(u32, f64)], b: &[(u32, f64)]) -> bool {
    paired_ratio(a, b).is_some_and(|r| r.n >= 2 && (r.lo > 1.0 || r.hi < 1.0))
}

/// Competition ranks with ties: a cell's rank is 1 + the number of cells significantly faster
/// than it (higher per-round values, paired by round). Cells no test can separate share a rank.
pub fn ranks(cells: &[Vec<(u32, f64)>]) -> Vec<usize> {
    let typical: Vec<f64> = cells
        .iter()
        .map(|c| median(&c.iter().map(|(_, v)| *v).collect::<Vec<_>>()).unwrap_or(0.0))
        .collect();
    (0..cells.len())
        .map(|i| {
            1 + (0..cells.len())
                .filter(|&j| {
                    j != i && typical[j] > typical[i] && differs_paired(&cells[j], &cells[i])
                })
                .count()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use statrs::distribution::Normal;

    #[test]
    fn medians_means_and_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(std_dev(&[2.0]), None);
        assert!((std_dev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap() - 2.138).abs() < 1e-3);
        assert!((cv(&[90.0, 100.0, 110.0]).unwrap() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn a_tail_needs_ten_requests_beyond_it() {
        assert!(tail_supported(10_000, 0.999));
        assert!(!tail_supported(6_000, 0.999));
        assert!(tail_supported(1_000, 0.99));
    }

    #[test]
    fn holm_steps_down_from_the_smallest_p_value() {
        // 0.01 <= 0.05/4 passes; 0.03 > 0.05/3 stops the walk, so 0.04 fails too.
        assert_eq!(holm(&[0.01, 0.04, 0.03, 0.5]), [true, false, false, false]);
        assert_eq!(holm(&[0.001, 0.012, 0.02]), [true, true, true]);
        assert!(holm(&[]).is_empty());
        // Alone, a test is its own family: 0.04 passes at 5%.
        assert_eq!(holm(&[0.04]), [true]);
    }

    #[test]
    fn a_change_carries_the_p_value_of_its_interval() {
        let before = [100.0, 101.0, 99.0, 100.5, 99.5];
        let same = Change::between(&before, &before).unwrap();
        assert!(same.p > 0.99 && !same.significant);
        let slower: Vec<f64> = before.iter().map(|v| v * 0.9).collect();
        let c = Change::between(&slower, &before).unwrap();
        assert!(c.significant && c.p < 0.001, "{c:?}");
        assert!((two_sided_p(t_quantile(4.0), 4.0) - 0.05).abs() < 1e-9);
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // Two-sided 95%: df 2 -> 4.303, df 4 -> 2.776, df 30 -> 2.042.
        for (df, t) in [(2.0, 4.303), (4.0, 2.776), (30.0, 2.042)] {
            assert!(
                (t_quantile(df) - t).abs() < 1e-3,
                "df {df}: {}",
                t_quantile(df)
            );
        }
    }

    #[test]
    fn a_rerun_interval_holds_the_rounds_spread_and_the_runs_shift() {
        let values = [95.0, 100.0, 105.0, 98.0, 102.0];
        let within = Estimate::of(&values).unwrap();
        let none = Estimate::for_rerun(&values, RunNoise { sd: 0.0, df: 20.0 }).unwrap();
        // Without run noise it is wider than the rounds' own interval by about √2 (next run too).
        let width = |e: &Estimate| (e.hi / e.lo).ln();
        assert!((width(&none) / width(&within) - 2f64.sqrt()).abs() < 1e-9);
        // With 8% run noise (the self-test's figure here) it is about ±22% around the median.
        let noisy = Estimate::for_rerun(&values, RunNoise { sd: 0.08, df: 20.0 }).unwrap();
        assert!(noisy.lo < 80.0 && noisy.hi > 120.0 && noisy.median == 100.0, "{noisy:?}");
        // One round: the run noise alone.
        let one = Estimate::for_rerun(&[100.0], RunNoise { sd: 0.05, df: 20.0 }).unwrap();
        assert!(one.lo < 90.0 && one.hi > 110.0, "{one:?}");
    }

    #[test]
    fn an_estimate_brackets_its_median_and_is_multiplicative() {
        let e = Estimate::of(&[95.0, 100.0, 105.0]).unwrap();
        assert_eq!(e.median, 100.0);
        assert!(e.lo < 95.0 && e.hi > 105.0, "{e:?}");
        assert_eq!(e.n, 3);
        // Scaling every round scales the interval: it is relative, not absolute.
        let scaled = Estimate::of(&[950.0, 1000.0, 1050.0]).unwrap();
        assert!((scaled.lo / e.lo - 10.0).abs() < 1e-9 && (scaled.hi / e.hi - 10.0).abs() < 1e-9);
        // One round: no interval to speak of; nothing non-positive is estimated.
        let one = Estimate::of(&[42.0]).unwrap();
        assert_eq!((one.lo, one.hi, one.cv), (42.0, 42.0, 0.0));
        assert_eq!(Estimate::of(&[1.0, 0.0]), None);
        assert_eq!(Estimate::of(&[]), None);
    }

    #[test]
    fn paired_ratios_cancel_drift_that_hits_both() {
        // The machine slows by 30% in round 2; the wasm cell stays at 0.4 of native in each round.
        let native = [(0, 100_000.0), (1, 70_000.0), (2, 98_000.0)];
        let wasm = [(0, 40_000.0), (1, 28_000.0), (2, 39_200.0)];
        let r = paired_ratio(&wasm, &native).unwrap();
        assert!((r.median - 0.4).abs() < 1e-12);
        assert!(
            (r.lo - 0.4).abs() < 1e-9 && (r.hi - 0.4).abs() < 1e-9,
            "{r:?}"
        );
        // Unpaired, the same numbers overlap widely.
        let (a, b) = (
            Estimate::of(&[40_000.0, 28_000.0, 39_200.0]).unwrap(),
            Estimate::of(&[100_000.0, 70_000.0, 98_000.0]).unwrap(),
        );
        assert!(a.hi / b.lo > 0.5);
        // Rounds missing on one side are left out.
        assert_eq!(paired_ratio(&wasm[..1], &native).unwrap().n, 1);
    }

    #[test]
    fn a_change_is_reported_only_when_its_interval_excludes_zero() {
        let before = [100.0, 102.0, 98.0];
        let same = Change::between(&[101.0, 99.0, 100.5], &before).unwrap();
        assert!(!same.significant, "{same:?}");
        let faster = Change::between(&[112.0, 114.0, 110.0], &before).unwrap();
        assert!(faster.significant, "{faster:?}");
        assert_eq!(faster.describe(), "+12% ± 5%");
        assert_eq!(Change::between(&[1.0], &before), None);
    }

    #[test]
    fn run_noise_is_what_two_runs_differ_by_beyond_their_rounds() {
        // Runs offset by +-10% (sd 0.1 on logs per run) with 2% noise per round: recovered.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let offset = Normal::new(0.0, 0.1).unwrap();
        let pairs: Vec<(Vec<f64>, Vec<f64>)> = (0..4000)
            .map(|_| {
                let (ra, rb) = (rng.sample(offset).exp(), rng.sample(offset).exp());
                (
                    rounds(&mut rng, 5, 100.0 * ra, 0.02),
                    rounds(&mut rng, 5, 100.0 * rb, 0.02),
                )
            })
            .collect();
        let noise = RunNoise::estimate(&pairs).unwrap();
        assert!((noise.sd - 0.1).abs() < 0.01, "{noise:?}");
        assert_eq!(noise.df, 4000.0);
        // Without it such runs are "changed" most of the time; with it, at most 5%.
        let changed = |n: RunNoise| {
            pairs
                .iter()
                .filter(|(a, b)| Change::between_runs(a, b, n).unwrap().significant)
                .count() as f64
                / pairs.len() as f64
        };
        assert!(changed(RunNoise::NONE) > 0.5);
        assert!(changed(noise) <= 0.05, "{}", changed(noise));
        // Identical runs: nothing beyond the rounds.
        let flat: Vec<_> = (0..500)
            .map(|_| {
                (
                    rounds(&mut rng, 3, 100.0, 0.05),
                    rounds(&mut rng, 3, 100.0, 0.05),
                )
            })
            .collect();
        assert!(RunNoise::estimate(&flat).unwrap().sd < 0.02);
    }

    #[test]
    fn ties_share_a_rank() {
        let rounds = |vals: [f64; 3]| {
            vals.iter()
                .enumerate()
                .map(|(r, v)| (r as u32, *v))
                .collect::<Vec<_>>()
        };
        // a and b cannot be told apart; c is clearly slower than both.
        let cells = [
            rounds([100.0, 97.0, 103.0]),
            rounds([101.0, 98.0, 99.0]),
            rounds([50.0, 49.0, 51.0]),
        ];
        assert_eq!(ranks(&cells), vec![1, 1, 3]);
    }

    /// Samples of a cell whose rounds vary with `cv` (log-normal), drifting by `drift` per run.
    fn rounds(rng: &mut ChaCha8Rng, n: usize, level: f64, cv: f64) -> Vec<f64> {
        let noise = Normal::new(0.0, cv).unwrap();
        (0..n).map(|_| level * rng.sample(noise).exp()).collect()
    }

    #[test]
    fn a_a_comparisons_call_about_five_percent_changed() {
        // Known answer: identical cells, 3 rounds each, 6% noise. At 95% confidence at most 5% of
        // comparisons may come out "changed" (Welch's test is slightly conservative at n = 3).
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let tries = 20_000;
        let changed = (0..tries)
            .filter(|_| {
                let (a, b) = (
                    rounds(&mut rng, 3, 1e5, 0.06),
                    rounds(&mut rng, 3, 1e5, 0.06),
                );
                Change::between(&a, &b).unwrap().significant
            })
            .count();
        let rate = changed as f64 / tries as f64;
        assert!((0.02..=0.05).contains(&rate), "false positive rate {rate}");
    }

    #[test]
    fn a_known_slowdown_is_detected_when_rounds_are_paired() {
        // Known answer: cell b is 10% slower than a; both see the same round-to-round drift (8%)
        // plus 1.5% noise of their own. Paired by round, 3 rounds detect it in >= 90% of tries.
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let drift = Normal::new(0.0, 0.08).unwrap();
        let own = Normal::new(0.0, 0.015).unwrap();
        let tries = 5_000;
        let detected = (0..tries)
            .filter(|_| {
                let mut a = Vec::new();
                let mut b = Vec::new();
                for round in 0..3 {
                    let machine = rng.sample(drift).exp();
                    a.push((round, 1e5 * machine * rng.sample(own).exp()));
                    b.push((round, 0.9e5 * machine * rng.sample(own).exp()));
                }
                differs_paired(&a, &b)
            })
            .count();
        let power = detected as f64 / tries as f64;
        assert!(power >= 0.9, "power {power}");
    }
}
