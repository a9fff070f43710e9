//! Hostile windows (`model = "hostile"`): what the hostile clients held, how many fresh requests
//! got through in time, how many hostile connections the server closed, and whether it answered
//! once they left; summed or taken at their worst over the rounds, since one bad round is enough
//! to shut clients out.

use crate::results::measured::WindowRecord;

#[derive(Debug, Clone, PartialEq)]
pub struct HostileFigures {
    /// The fewest slowloris and idle connections held when the fresh requests began, over rounds.
    pub slow_held: u32,
    pub idle_held: u32,
    /// Fresh requests over all rounds, and of them those answered within the bound.
    pub fresh_sent: u64,
    pub fresh_answered: u64,
    /// The slowest answered fresh request (ms).
    pub slowest_ms: Option<f64>,
    /// Hostile connections the server closed, per round (median).
    pub closed_per_round: u64,
    /// Answered after the hostile clients left, in every round (None: no round said).
    pub recovered: Option<bool>,
}

impl HostileFigures {
    /// Every fresh request answered within the bound, and the server answered after.
    pub fn withstood(&self) -> bool {
        self.fresh_sent > 0 && self.fresh_answered == self.fresh_sent && self.recovered != Some(false)
    }
}

pub fn hostile_figures(windows: &[WindowRecord]) -> Option<HostileFigures> {
    let readings: Vec<_> = windows.iter().filter_map(|w| w.hostile.map(|h| (w, h))).collect();
    if readings.is_empty() {
        return None;
    }
    let failed = |w: &WindowRecord| (w.failed_rate * w.requests as f64).round() as u64;
    let mut closed: Vec<u64> = readings.iter().map(|(_, h)| h.closed_by_server).collect();
    closed.sort_unstable();
    let afters: Vec<bool> = readings.iter().map(|(_, h)| h.after_ms.is_some()).collect();
    Some(HostileFigures {
        slow_held: readings.iter().map(|(_, h)| h.slow_held).min().unwrap_or(0),
        idle_held: readings.iter().map(|(_, h)| h.idle_held).min().unwrap_or(0),
        fresh_sent: readings.iter().map(|(w, _)| w.requests).sum(),
        fresh_answered: readings.iter().map(|(w, _)| w.requests - failed(w).min(w.requests)).sum(),
        slowest_ms: readings.iter().filter_map(|(w, _)| w.latency_ms.map(|l| l.max)).reduce(f64::max),
        closed_per_round: closed[closed.len() / 2],
        recovered: Some(afters.iter().all(|ok| *ok)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::measured::HostileReading;
    use crate::results::records::Trend;

    fn window(sent: u64, answered: u64, slowest: f64, held: u32, closed: u64, after: Option<f64>) -> WindowRecord {
        WindowRecord {
            requests: sent,
            failed_rate: (sent - answered) as f64 / sent as f64,
            latency_ms: (answered > 0).then_some(Trend { max: slowest, ..Default::default() }),
            hostile: Some(HostileReading { slow_held: held, idle_held: held, closed_by_server: closed, after_ms: after }),
            ..Default::default()
        }
    }

    #[test]
    fn one_bad_round_is_enough() {
        let f = hostile_figures(&[window(20, 20, 3.0, 500, 40, Some(1.0)), window(20, 18, 900.0, 480, 60, Some(2.0)), window(20, 20, 4.0, 500, 50, Some(1.0))]).unwrap();
        assert_eq!((f.slow_held, f.fresh_sent, f.fresh_answered), (480, 60, 58));
        assert_eq!((f.slowest_ms, f.closed_per_round), (Some(900.0), 50));
        assert!(!f.withstood());
        let ok = hostile_figures(&[window(20, 20, 3.0, 5000, 0, Some(1.0))]).unwrap();
        assert!(ok.withstood());
        let no_recovery = hostile_figures(&[window(20, 20, 3.0, 5000, 0, None)]).unwrap();
        assert!(!no_recovery.withstood());
        assert_eq!(hostile_figures(&[WindowRecord::default()]), None);
    }
}
