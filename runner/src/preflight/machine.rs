//! What the machine says about itself that the figures depend on: its CPU model and clock, how
//! its idle CPUs wait (cpuidle driver, governor), the clock source (whether reading the time is a
//! system call), the timer slack, and how much CPU time the hypervisor steals in a quiet second.

use std::path::Path;
use std::time::Duration;

use crate::results::preflight::MachineFacts;

/// Reads every fact it can; what the machine does not expose stays empty.
pub fn read(cpus: &[usize]) -> MachineFacts {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let first = cpus.first().copied().unwrap_or(0);
    let sys = |path: String| {
        std::fs::read_to_string(Path::new(&path))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let mut cpu_mhz: Vec<(usize, f64)> = cpu_mhz(&cpuinfo)
        .into_iter()
        .filter(|(cpu, _)| cpus.contains(cpu))
        .collect();
    cpu_mhz.dedup();
    MachineFacts {
        cpu_model: crate::sys::procfs::cpu_model_of(&cpuinfo),
        cpu_mhz,
        governor: sys(format!(
            "/sys/devices/system/cpu/cpu{first}/cpufreq/scaling_governor"
        )),
        cpuidle_driver: sys("/sys/devices/system/cpu/cpuidle/current_driver".into()),
        clocksource: sys("/sys/devices/system/clocksource/clocksource0/current_clocksource".into()),
        timer_slack_ns: sys("/proc/self/timerslack_ns".into()).and_then(|s| s.parse().ok()),
        quiet_steal_pct: quiet_steal(Duration::from_secs(1)),
    }
}

/// Steal over `quiet`, with the runner asleep and nothing of the run started yet.
fn quiet_steal(quiet: Duration) -> Option<f64> {
    let before = crate::sys::procfs::machine_steal_ticks()?;
    std::thread::sleep(quiet);
    let after = crate::sys::procfs::machine_steal_ticks()?;
    crate::sys::procfs::steal_pct(before, after)
}

/// (processor, MHz) from /proc/cpuinfo's text.
pub fn cpu_mhz(cpuinfo: &str) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    let mut processor = None;
    for line in cpuinfo.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "processor" => processor = value.trim().parse().ok(),
            "cpu MHz" => {
                if let (Some(p), Ok(mhz)) = (processor, value.trim().parse()) {
                    out.push((p, mhz));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_rates_are_read_per_processor() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2445.406\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2300.000\n";
        assert_eq!(cpu_mhz(text), vec![(0, 2445.406), (1, 2300.0)]);
        assert!(cpu_mhz("").is_empty());
    }
}
