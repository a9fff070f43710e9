//! Windows the host disturbed, measured again. On a virtual machine the hypervisor sometimes runs
//! other guests on this machine's CPUs for minutes at a time; every pause lands on whichever
//! request was in flight, so an open-model window's tail then measures the host. Such a window is
//! known from a reading independent of its outcome (the steal share /proc/stat counts inside it),
//! so after the rounds, while the run's `remeasure` time lasts, each disturbed round of an
//! open-model cell is measured again; a window the host left alone takes its place, and every
//! window set aside stays in the results (`disturbed`). The rule looks only at steal, never at
//! the latency measured: it cannot pick the windows that flatter a cell.

use super::window::Window;

/// Rounds over the cells with disturbed windows: each visit measures one window per cell, so a
/// host busy for the whole remeasure time costs each cell at most this many more windows.
pub const PASSES: u32 = 3;

/// The host disturbed the window: it stole more than `limit_pct` of the machine's CPU time.
/// A window without a steal reading (the counters went backwards) is not known to be disturbed.
pub fn disturbed(window: &Window, limit_pct: f64) -> bool {
    window.steal_pct.is_some_and(|s| s > limit_pct)
}

/// The round to measure again next: the most disturbed of the kept windows.
pub fn next_round(windows: &[(u32, Window)], limit_pct: f64) -> Option<u32> {
    windows
        .iter()
        .filter(|(_, w)| disturbed(w, limit_pct))
        .max_by(|a, b| {
            a.1.steal_pct
                .unwrap_or(0.0)
                .total_cmp(&b.1.steal_pct.unwrap_or(0.0))
        })
        .map(|(round, _)| *round)
}

/// What measuring a cell's windows again has produced so far.
#[derive(Debug, Default)]
pub struct Remeasured {
    /// Windows set aside: disturbed ones replaced, and attempts the host disturbed too.
    pub set_aside: Vec<(u32, Window)>,
    /// Rounds whose kept window was measured after the rounds.
    pub rounds: Vec<u32>,
}

impl Remeasured {
    /// Takes the `attempt` at `round`'s window: in place of the kept one when the host left it
    /// alone, else aside (the kept window stays, and may be measured again in a later pass).
    pub fn take(
        &mut self,
        windows: &mut [(u32, Window)],
        round: u32,
        attempt: Window,
        limit_pct: f64,
    ) {
        let kept = windows.iter_mut().find(|(r, _)| *r == round);
        match kept {
            Some((_, kept)) if !disturbed(&attempt, limit_pct) => {
                let replaced = std::mem::replace(kept, attempt);
                self.set_aside.push((round, replaced));
                self.rounds.push(round);
            }
            _ => self.set_aside.push((round, attempt)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadSummary;
    use crate::measure::threads::ThreadSplit;

    fn window(steal: Option<f64>, p99: f64) -> Window {
        Window {
            summary: LoadSummary {
                requests: 6000,
                elapsed_s: 2.0,
                failed_rate: 0.0,
                dropped: None,
                duration_ms: Some(crate::load::Trend {
                    avg: p99 / 4.0,
                    min: 0.05,
                    med: p99 / 5.0,
                    max: p99 * 2.0,
                    p90: p99 / 2.0,
                    p95: p99 / 1.5,
                    p99,
                    p999: None,
                }),
                blocked_ms: None,
                connecting_ms: None,
                sending_ms: None,
                waiting_ms: None,
                receiving_ms: None,
            },
            offered_rps: Some(3000),
            window_s: 2.0,
            server_cpu: (0.1, 0.1),
            server_threads: ThreadSplit::default(),
            generator_cpu_s: 0.4,
            steal_pct: steal,
        }
    }

    #[test]
    fn a_window_is_disturbed_by_steal_above_the_limit_only() {
        assert!(disturbed(&window(Some(1.5), 0.3), 1.0));
        assert!(!disturbed(&window(Some(1.0), 50.0), 1.0), "at the limit");
        assert!(
            !disturbed(&window(Some(0.2), 50.0), 1.0),
            "latency alone never makes a window disturbed"
        );
        assert!(!disturbed(&window(None, 50.0), 1.0), "no reading");
    }

    #[test]
    fn the_most_disturbed_round_goes_first() {
        let windows = vec![
            (0, window(Some(4.0), 5.0)),
            (1, window(Some(0.1), 0.4)),
            (2, window(Some(16.0), 6.0)),
            (3, window(None, 9.0)),
        ];
        assert_eq!(next_round(&windows, 1.0), Some(2));
        assert_eq!(next_round(&windows, 20.0), None);
        assert_eq!(next_round(&windows[1..2], 1.0), None);
    }

    #[test]
    fn a_quiet_attempt_replaces_the_round_and_a_disturbed_one_is_set_aside() {
        let mut windows = vec![(0, window(Some(12.0), 6.0)), (1, window(Some(0.3), 0.5))];
        let mut remeasured = Remeasured::default();
        // The host is still busy: the attempt is kept aside, the round keeps its window.
        remeasured.take(&mut windows, 0, window(Some(9.0), 4.0), 1.0);
        assert_eq!(windows[0].1.steal_pct, Some(12.0));
        assert_eq!(remeasured.set_aside.len(), 1);
        assert!(remeasured.rounds.is_empty());
        assert_eq!(next_round(&windows, 1.0), Some(0), "tried again later");
        // Quiet now: the attempt takes round 0's place, the disturbed window is set aside.
        remeasured.take(&mut windows, 0, window(Some(0.2), 0.6), 1.0);
        assert_eq!(windows[0], (0, window(Some(0.2), 0.6)));
        assert_eq!(windows.len(), 2, "still one window per round");
        assert_eq!(remeasured.rounds, [0]);
        let aside: Vec<Option<f64>> = remeasured
            .set_aside
            .iter()
            .map(|(_, w)| w.steal_pct)
            .collect();
        assert_eq!(
            aside,
            [Some(9.0), Some(12.0)],
            "nothing measured is dropped"
        );
        assert_eq!(next_round(&windows, 1.0), None);
    }
}
