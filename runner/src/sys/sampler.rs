//! Peak memory of a server's process tree, sampled in the background while it is measured.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::procfs::{memory_kb, process_tree};

/// Samples a server's process tree in the background while it is measured.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<SamplerReport>>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SamplerReport {
    /// Highest sum of VmRSS over the tree seen by any sample.
    pub rss_sum_peak_kb: u64,
    /// Highest VmHWM of any process in the tree (the kernel's own peak, between samples too).
    pub hwm_peak_kb: u64,
}

impl Sampler {
    pub fn start(pid: i32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut report = SamplerReport::default();
            loop {
                let mut sum = 0;
                for p in process_tree(pid) {
                    if let Some((rss, hwm)) = memory_kb(p) {
                        sum += rss;
                        report.hwm_peak_kb = report.hwm_peak_kb.max(hwm);
                    }
                }
                report.rss_sum_peak_kb = report.rss_sum_peak_kb.max(sum);
                if flag.load(Ordering::Relaxed) {
                    return report;
                }
                // Woken early by `finish`, which then gets one last sample without waiting.
                std::thread::park_timeout(Duration::from_millis(100));
            }
        });
        Sampler {
            stop,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) -> SamplerReport {
        self.stop.store(true, Ordering::Relaxed);
        let Some(handle) = self.handle.take() else {
            return SamplerReport::default();
        };
        handle.thread().unpark();
        handle.join().unwrap_or_default()
    }
}
