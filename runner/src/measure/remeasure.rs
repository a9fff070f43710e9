//! Windows the host disturbed, measured again. On a virtual machine the hypervisor sometimes runs
//! other guests on this machine's CPUs for minutes at a time; every pause lands on whichever
//! request was in flight, so an open-model window's tail then measures the host. Such a window is
//! known from a reading independent of its outcome (the steal share /proc/stat counts inside it),
//! so after the rounds, while the run's `remeasure` time lasts, each disturbed round of an
//! open-model cell is measured again; a window the host left alone takes its place, and every
//! window set aside stays in the results (`disturbed`). The rule looks only at steal, never at
//! the latency measured: it cannot pick the windows that flatter a cell.

use crate::results::measured::WindowRecord;

/// Rounds over the cells with disturbed windows: each visit measures one window per cell, so a
/// host busy for the whole remeasure time costs each cell at most this many more windows.
pub const PASSES: u32 = 3;

/// The host disturbed the window: it stole more than `limit_pct` of the machine's CPU time.
/// A window without a steal reading (the counters went backwards) is not known to be disturbed.
pub fn disturbed(window: &WindowRecord, limit_pct: f64) -> bool {
    window.steal_pct.is_some_and(|s| s > limit_pct)
}

/// The round to measure again next: the most disturbed of the kept windows.
pub fn next_round(windows: &[WindowRecord], limit_pct: f64) -> Option<u32> {
    windows
        .iter()
        .filter(|w| disturbed(w, limit_pct))
        .max_by(|a, b| {
            a.steal_pct
                .unwrap_or(0.0)
                .total_cmp(&b.steal_pct.unwrap_or(0.0))
        })
        .map(|w| w.round)
}

/// Takes an `attempt` at its round's window: in place of the kept one when the host left it
/// alone (marked `remeasured`), else aside (the kept window stays, and may be measured again in a
/// later pass). Whatever is not kept goes to `set_aside`: nothing measured is dropped.
pub fn take(
    windows: &mut [WindowRecord],
    set_aside: &mut Vec<WindowRecord>,
    mut attempt: WindowRecord,
    limit_pct: f64,
) {
    let kept = windows.iter_mut().find(|w| w.round == attempt.round);
    match kept {
        Some(kept) if !disturbed(&attempt, limit_pct) => {
            attempt.remeasured = true;
            set_aside.push(std::mem::replace(kept, attempt));
        }
        _ => set_aside.push(attempt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(round: u32, steal: Option<f64>, p99: f64) -> WindowRecord {
        WindowRecord {
            round,
            requests: 6000,
            elapsed_s: 2.0,
            process_s: 2.0,
            latency_ms: Some(crate::results::records::Trend {
                avg: p99 / 4.0,
                min: 0.05,
                med: p99 / 5.0,
                max: p99 * 2.0,
                p90: p99 / 2.0,
                p95: p99 / 1.5,
                p99,
                p999: None,
            }),
            offered_rps: Some(3000.0),
            server_user_s: 0.1,
            server_sys_s: 0.1,
            generator_cpu_s: 0.4,
            generator_cpus: 1,
            steal_pct: steal,
            ..Default::default()
        }
    }

    #[test]
    fn a_window_is_disturbed_by_steal_above_the_limit_only() {
        assert!(disturbed(&window(0, Some(1.5), 0.3), 1.0));
        assert!(!disturbed(&window(0, Some(1.0), 50.0), 1.0), "at the limit");
        assert!(
            !disturbed(&window(0, Some(0.2), 50.0), 1.0),
            "latency alone never makes a window disturbed"
        );
        assert!(!disturbed(&window(0, None, 50.0), 1.0), "no reading");
    }

    #[test]
    fn the_most_disturbed_round_goes_first() {
        let windows = vec![
            window(0, Some(4.0), 5.0),
            window(1, Some(0.1), 0.4),
            window(2, Some(16.0), 6.0),
            window(3, None, 9.0),
        ];
        assert_eq!(next_round(&windows, 1.0), Some(2));
        assert_eq!(next_round(&windows, 20.0), None);
        assert_eq!(next_round(&windows[1..2], 1.0), None);
    }

    #[test]
    fn a_quiet_attempt_replaces_the_round_and_a_disturbed_one_is_set_aside() {
        let mut windows = vec![window(0, Some(12.0), 6.0), window(1, Some(0.3), 0.5)];
        let mut aside = Vec::new();
        // The host is still busy: the attempt is kept aside, the round keeps its window.
        take(&mut windows, &mut aside, window(0, Some(9.0), 4.0), 1.0);
        assert_eq!(windows[0].steal_pct, Some(12.0));
        assert_eq!(aside.len(), 1);
        assert!(windows.iter().all(|w| !w.remeasured));
        assert_eq!(next_round(&windows, 1.0), Some(0), "tried again later");
        // Quiet now: the attempt takes round 0's place, the disturbed window is set aside.
        take(&mut windows, &mut aside, window(0, Some(0.2), 0.6), 1.0);
        assert_eq!(windows[0].steal_pct, Some(0.2));
        assert!(windows[0].remeasured);
        assert_eq!(windows.len(), 2, "still one window per round");
        let aside: Vec<Option<f64>> = aside.iter().map(|w| w.steal_pct).collect();
        assert_eq!(
            aside,
            [Some(9.0), Some(12.0)],
            "nothing measured is dropped"
        );
        assert_eq!(next_round(&windows, 1.0), None);
    }
}
