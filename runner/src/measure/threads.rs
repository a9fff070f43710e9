//! Where a server's CPU went during a window: the busiest thread (the one serving requests) versus
//! all others (runtime I/O drivers, compiler threads), and how often threads switched.

use std::collections::HashMap;

use crate::sys::procfs::ThreadUsage;

/// Every thread of a server's process tree at one instant, by thread id.
pub type ThreadSnapshot = HashMap<i32, ThreadUsage>;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ThreadSplit {
    pub busiest_cpu_s: f64,
    pub other_cpu_s: f64,
    pub switches: u64,
}

impl ThreadSplit {
    /// Threads born during the window count from zero; threads that ended are lost (their time
    /// is still in the process totals).
    pub fn between(start: &ThreadSnapshot, end: &ThreadSnapshot) -> ThreadSplit {
        let mut split = ThreadSplit::default();
        let mut cpu: Vec<f64> = Vec::new();
        for (tid, after) in end {
            let before = start.get(tid).copied().unwrap_or_default();
            cpu.push((after.cpu_s - before.cpu_s).max(0.0));
            split.switches += after.switches.saturating_sub(before.switches);
        }
        cpu.sort_by(|a, b| b.total_cmp(a));
        split.busiest_cpu_s = cpu.first().copied().unwrap_or(0.0);
        split.other_cpu_s = cpu.iter().skip(1).sum();
        split
    }

    /// Totals over windows.
    pub fn add(&mut self, other: &ThreadSplit) {
        self.busiest_cpu_s += other.busiest_cpu_s;
        self.other_cpu_s += other.other_cpu_s;
        self.switches += other.switches;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(cpu_s: f64, switches: u64) -> ThreadUsage {
        ThreadUsage { cpu_s, switches }
    }

    #[test]
    fn the_busiest_thread_is_the_serving_one_and_the_rest_are_helpers() {
        // A guest thread, a runtime I/O thread, an idle thread, and one born during the window.
        let start: ThreadSnapshot = [
            (1, usage(1.0, 10)),
            (2, usage(0.5, 100)),
            (3, usage(0.2, 5)),
        ]
        .into_iter()
        .collect();
        let end: ThreadSnapshot = [
            (1, usage(4.0, 1_010)),
            (2, usage(1.5, 2_100)),
            (3, usage(0.2, 5)),
            (4, usage(0.25, 40)),
        ]
        .into_iter()
        .collect();
        let split = ThreadSplit::between(&start, &end);
        assert_eq!(split.busiest_cpu_s, 3.0);
        assert!((split.other_cpu_s - 1.25).abs() < 1e-9, "{split:?}");
        assert_eq!(split.switches, 1_000 + 2_000 + 40);
        // A single-threaded server has no helper CPU.
        let one: ThreadSnapshot = [(1, usage(2.0, 3))].into_iter().collect();
        let split = ThreadSplit::between(&start, &one);
        assert_eq!((split.busiest_cpu_s, split.other_cpu_s), (1.0, 0.0));
    }
}
