//! Whether to keep the CPUs awake on this machine, from the pre-flight's hand-off trial: the same
//! relay a request takes through a runtime (a thread on the generator's CPU wakes an I/O thread
//! on the server's CPU, which hands the request to a guest thread there, which answers), timed
//! trip by trip in blocks that alternate with and without the keep-awake threads.
//!
//! The keep-awake threads help where a halted virtual CPU takes the host long to wake (the trip
//! waits for it), and hurt where they keep a CPU from a woken thread (the trip waits for a tick).
//! Both show in the mean round trip, so that is what decides: each pair of neighbouring blocks
//! gives one ratio (with / without), and the 95% interval of those ratios must lie below 1 by
//! `MIN_GAIN` for the threads to be used. Otherwise they are not: a setting that was not shown to
//! help is left off. The slow trips (over 1 ms) and the steal in each arm are reported beside it.

use crate::analysis::stats::Estimate;
use crate::config::matrix::KeepAwakeSetting;
use crate::results::preflight::{ArmFigures, AwakeDecision, AwakeVerdict, HandoffBlock};

/// A round trip over this long waited for a host wake-up or a scheduler tick, not for work.
pub const SLOW_TRIP_NS: u64 = 1_000_000;
/// The smallest improvement of the mean round trip (as a share) that turns the threads on.
pub const MIN_GAIN: f64 = 0.05;
/// Ratio intervals wider than this factor (hi / lo) cannot tell a 5% difference: too noisy.
pub const NOISY_WIDTH: f64 = 1.5;

/// The figures of one block from its trips' durations (nanoseconds, any order).
pub fn block_figures(awake: bool, trips_ns: &[u64], steal_pct: Option<f64>) -> HandoffBlock {
    let mut sorted = trips_ns.to_vec();
    sorted.sort_unstable();
    let us = |ns: u64| ns as f64 / 1000.0;
    let at = |q: f64| {
        sorted
            .get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |&ns| us(ns))
    };
    HandoffBlock {
        awake,
        trips: sorted.len() as u32,
        slow: sorted.iter().filter(|&&ns| ns > SLOW_TRIP_NS).count() as u32,
        mean_us: crate::analysis::stats::mean(&sorted.iter().map(|&ns| us(ns)).collect::<Vec<_>>())
            .unwrap_or(0.0),
        median_us: at(0.5),
        p99_us: at(0.99),
        steal_pct,
    }
}

fn arm(blocks: &[&HandoffBlock]) -> Option<ArmFigures> {
    let trips: u32 = blocks.iter().map(|b| b.trips).sum();
    if trips == 0 {
        return None;
    }
    let median_of = |f: fn(&HandoffBlock) -> f64| {
        crate::analysis::stats::median(&blocks.iter().map(|b| f(b)).collect::<Vec<_>>())
            .unwrap_or(0.0)
    };
    let steals: Vec<f64> = blocks.iter().filter_map(|b| b.steal_pct).collect();
    Some(ArmFigures {
        trips,
        slow_pct: blocks.iter().map(|b| b.slow).sum::<u32>() as f64 / trips as f64 * 100.0,
        mean_us: blocks
            .iter()
            .map(|b| b.mean_us * b.trips as f64)
            .sum::<f64>()
            / trips as f64,
        median_us: median_of(|b| b.median_us),
        p99_us: median_of(|b| b.p99_us),
        steal_pct: crate::analysis::stats::mean(&steals),
    })
}

/// The decision for `setting` from the trial's blocks (in the order they ran; `None`: no trial).
pub fn decide(setting: KeepAwakeSetting, blocks: Option<&[HandoffBlock]>) -> AwakeDecision {
    let blocks = blocks.unwrap_or_default();
    let by = |awake: bool| -> Vec<&HandoffBlock> {
        blocks.iter().filter(|b| b.awake == awake).collect()
    };
    let (without, with) = (arm(&by(false)), arm(&by(true)));
    // Neighbouring blocks of opposite arms, in the order they ran (ABBA...): one ratio each.
    let ratios: Vec<f64> = blocks
        .chunks(2)
        .filter_map(|pair| match pair {
            [a, b] if a.awake != b.awake && a.mean_us > 0.0 && b.mean_us > 0.0 => {
                let (w, wo) = if a.awake { (a, b) } else { (b, a) };
                Some(w.mean_us / wo.mean_us)
            }
            _ => None,
        })
        .collect();
    let mean_ratio = Estimate::of(&ratios).filter(|e| e.n >= 2);
    let forced = match setting {
        KeepAwakeSetting::On => Some(true),
        KeepAwakeSetting::Off => Some(false),
        KeepAwakeSetting::Auto => None,
    };
    let (verdict, reason) = match (forced, &mean_ratio) {
        (Some(on), _) => (
            AwakeVerdict::Forced,
            format!("settings.keep_cpus_awake = {on}"),
        ),
        (None, None) => (
            AwakeVerdict::NotMeasured,
            "no hand-off trial (it needs a server CPU and a generator CPU of their own): off"
                .into(),
        ),
        (None, Some(r)) => verdict_of(r),
    };
    AwakeDecision {
        setting: setting.as_str().into(),
        enabled: forced.unwrap_or(verdict == AwakeVerdict::Helps),
        verdict,
        mean_ratio,
        without,
        with,
        reason,
    }
}

fn verdict_of(r: &Estimate) -> (AwakeVerdict, String) {
    let pct = |x: f64| (x - 1.0) * 100.0;
    let interval = format!(
        "mean round trip {:+.0}% with them ({:+.0}% to {:+.0}%, {} pairs of blocks)",
        pct(r.median),
        pct(r.lo),
        pct(r.hi),
        r.n
    );
    if r.hi < 1.0 - MIN_GAIN {
        (
            AwakeVerdict::Helps,
            format!("{interval}: they help here, so they are on"),
        )
    } else if r.lo > 1.0 {
        (
            AwakeVerdict::Hurts,
            format!("{interval}: they hold the CPU from woken threads here, so they are off"),
        )
    } else if r.hi / r.lo > NOISY_WIDTH {
        (
            AwakeVerdict::TooNoisy,
            format!("{interval}: too noisy to tell, so they are off (not shown to help)"),
        )
    } else {
        (
            AwakeVerdict::NoDifference,
            format!(
                "{interval}: no gain of {:.0}% or more, so they are off",
                MIN_GAIN * 100.0
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One arm of a pair of blocks: mean round trip (µs) and trips over 1 ms.
    type Arm = (f64, u32);

    /// Blocks alternating without/with (ABBA order), with these mean round trips (µs) and slow counts.
    fn trial(pairs: &[(Arm, Arm)]) -> Vec<HandoffBlock> {
        let block = |awake, (mean_us, slow): Arm| HandoffBlock {
            awake,
            trips: 1000,
            slow,
            mean_us,
            median_us: mean_us * 0.8,
            p99_us: mean_us * 3.0,
            steal_pct: Some(0.5),
        };
        pairs
            .iter()
            .enumerate()
            .flat_map(|(i, &(without, with))| {
                let pair = [block(false, without), block(true, with)];
                if i % 2 == 0 {
                    pair.to_vec()
                } else {
                    pair.into_iter().rev().collect()
                }
            })
            .collect()
    }

    #[test]
    fn faster_round_trips_with_the_threads_turn_them_on() {
        // Recorded on a VM whose halted vCPUs took ~50 µs to wake: 90 µs without, 40 with.
        let blocks = trial(&[
            ((92.0, 3), (41.0, 0)),
            ((88.0, 2), (40.0, 1)),
            ((95.0, 4), (43.0, 0)),
            ((90.0, 2), (39.0, 0)),
        ]);
        let d = decide(KeepAwakeSetting::Auto, Some(&blocks));
        assert_eq!(d.verdict, AwakeVerdict::Helps, "{d:?}");
        assert!(d.enabled);
        assert!(d.reason.contains("-5"), "{}", d.reason);
        let (with, without) = (d.with.unwrap(), d.without.unwrap());
        assert_eq!((with.trips, without.trips), (4000, 4000));
        assert!((without.slow_pct - 0.275).abs() < 1e-9, "{without:?}");
    }

    #[test]
    fn held_ticks_beside_the_threads_turn_them_off() {
        // The 2026-12 CI machine: 6% of trips over 1 ms beside the threads, a few without.
        let blocks = trial(&[
            ((60.0, 2), (290.0, 59)),
            ((58.0, 1), (250.0, 46)),
            ((61.0, 2), (310.0, 62)),
            ((59.0, 3), (270.0, 51)),
        ]);
        let d = decide(KeepAwakeSetting::Auto, Some(&blocks));
        assert_eq!(d.verdict, AwakeVerdict::Hurts, "{d:?}");
        assert!(!d.enabled);
        assert!(d.with.unwrap().slow_pct > 5.0);
    }

    #[test]
    fn blocks_that_disagree_leave_them_off_and_say_why() {
        let blocks = trial(&[
            ((60.0, 2), (30.0, 0)),
            ((50.0, 1), (90.0, 10)),
            ((70.0, 2), (40.0, 1)),
            ((40.0, 3), (80.0, 9)),
        ]);
        let d = decide(KeepAwakeSetting::Auto, Some(&blocks));
        assert_eq!(d.verdict, AwakeVerdict::TooNoisy, "{d:?}");
        assert!(!d.enabled && d.reason.contains("too noisy"));
        // The same figures on a steady machine with no gain: no difference, off.
        let steady = trial(&[
            ((50.0, 0), (50.5, 0)),
            ((51.0, 0), (50.0, 0)),
            ((50.0, 0), (49.8, 0)),
            ((49.0, 0), (49.9, 0)),
        ]);
        let d = decide(KeepAwakeSetting::Auto, Some(&steady));
        assert_eq!(d.verdict, AwakeVerdict::NoDifference, "{d:?}");
        assert!(!d.enabled);
    }

    #[test]
    fn a_forced_setting_wins_and_no_trial_means_off() {
        let blocks = trial(&[((60.0, 2), (290.0, 59)), ((58.0, 1), (250.0, 46))]);
        let on = decide(KeepAwakeSetting::On, Some(&blocks));
        assert!(on.enabled && on.verdict == AwakeVerdict::Forced);
        assert!(on.with.is_some(), "the figures are still reported");
        let off = decide(KeepAwakeSetting::Off, None);
        assert!(!off.enabled && off.verdict == AwakeVerdict::Forced);
        let none = decide(KeepAwakeSetting::Auto, None);
        assert!(!none.enabled && none.verdict == AwakeVerdict::NotMeasured);
    }

    #[test]
    fn block_figures_are_order_statistics_of_the_trips() {
        let trips: Vec<u64> = (1..=100).map(|i| i * 20_000).collect(); // 20 µs .. 2 ms
        let b = block_figures(true, &trips, None);
        assert_eq!((b.trips, b.slow), (100, 50));
        assert_eq!(b.median_us, 1000.0);
        assert_eq!(b.p99_us, 1980.0);
        assert!((b.mean_us - 1010.0).abs() < 1e-9);
    }
}
