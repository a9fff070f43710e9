//! What /proc says about a process tree: CPU time (per process and per thread), context switches,
//! memory, descendants.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// CPU time (user, system) of a process, in seconds, from /proc/<pid>/stat.
pub fn cpu_seconds(pid: i32) -> Option<(f64, f64)> {
    stat_cpu_seconds(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// (user, system) seconds from the text of a `/proc/.../stat` file (process or thread).
fn stat_cpu_seconds(stat: &str) -> Option<(f64, f64)> {
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = clock_ticks();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime / ticks, stime / ticks))
}

/// Ticks of all CPUs from /proc/stat's "cpu" line: (stolen, total). Steal is time the
/// hypervisor ran someone else on this machine's virtual CPUs while they had work.
pub fn machine_steal_ticks() -> Option<(u64, u64)> {
    steal_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// (steal, total) ticks from the aggregate "cpu" line of /proc/stat's text.
fn steal_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    let steal = *ticks.get(7)?;
    Some((steal, ticks.iter().take(8).sum()))
}

/// The share (%) of all CPU time stolen between two `machine_steal_ticks` readings.
pub fn steal_pct(start: (u64, u64), end: (u64, u64)) -> Option<f64> {
    let total = end.1.checked_sub(start.1)?;
    let stolen = end.0.checked_sub(start.0)?;
    (total > 0).then(|| stolen as f64 / total as f64 * 100.0)
}

/// The first "model name" of /proc/cpuinfo's text, or "unknown".
pub fn cpu_model_of(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Clock ticks per second, the unit of /proc's CPU times.
pub fn clock_ticks_per_second() -> f64 {
    clock_ticks()
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// CPU time and context switches of one thread.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ThreadUsage {
    pub cpu_s: f64,
    /// Voluntary + involuntary context switches.
    pub switches: u64,
}

/// Every thread of a process tree, by thread id. A runtime that serves from one thread while
/// others drive its I/O shows up here as CPU outside the busiest thread.
pub fn thread_usage(root: i32) -> HashMap<i32, ThreadUsage> {
    let mut threads = HashMap::new();
    for pid in process_tree(root) {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|t| t.parse::<i32>().ok())
            else {
                continue;
            };
            let dir = task.path();
            let Some((user, system)) = std::fs::read_to_string(dir.join("stat"))
                .ok()
                .and_then(|stat| stat_cpu_seconds(&stat))
            else {
                continue;
            };
            let switches = std::fs::read_to_string(dir.join("status"))
                .map(|status| {
                    status
                        .lines()
                        .filter(|l| l.contains("ctxt_switches:"))
                        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                        .sum()
                })
                .unwrap_or(0);
            threads.insert(
                tid,
                ThreadUsage {
                    cpu_s: user + system,
                    switches,
                },
            );
        }
    }
    threads
}

/// (VmRSS, VmHWM) in KiB from /proc/<pid>/status.
pub fn memory_kb(pid: i32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The process and all its descendants (wasm runtimes may fork helpers).
pub fn process_tree(root: i32) -> Vec<i32> {
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        if let Ok(children) =
            std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
        {
            tree.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
        i += 1;
    }
    tree
}

/// Sum of CPU seconds (user+system) over a process tree.
pub fn tree_cpu_seconds(pid: i32) -> f64 {
    process_tree(pid)
        .into_iter()
        .filter_map(cpu_seconds)
        .map(|(u, s)| u + s)
        .sum()
}

/// Sum of VmRSS over a process tree (KiB), `None` when nothing could be read.
pub fn tree_rss_kb(pid: i32) -> Option<u64> {
    process_tree(pid)
        .into_iter()
        .filter_map(memory_kb)
        .map(|m| m.0)
        .reduce(|a, b| a + b)
}

/// (user, system) CPU seconds summed over a process tree.
pub fn tree_cpu_pair(pid: i32) -> (f64, f64) {
    process_tree(pid)
        .into_iter()
        .filter_map(cpu_seconds)
        .fold((0.0, 0.0), |a, c| (a.0 + c.0, a.1 + c.1))
}

/// Processes (other than this one) whose command line contains `needle`.
pub fn pids_with_cmdline(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| {
                String::from_utf8_lossy(&raw)
                    .replace('\0', " ")
                    .contains(needle)
            })
        })
        .collect()
}

/// Mount points at or under `dir`, shallowest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .map(|point| PathBuf::from(point.replace("\\040", " ")))
        .filter(|point| point.starts_with(dir))
        .collect();
    mounts.sort_by_key(|p| p.components().count());
    mounts
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn steal_is_the_stolen_share_of_all_ticks() {
        let before = "cpu  100 0 50 800 10 0 10 30 5 0\ncpu0 50 0 25 400 5 0 5 15 0 0\n";
        let after = "cpu  160 0 70 900 10 0 20 40 9 0\n";
        let (a, b) = (steal_ticks(before).unwrap(), steal_ticks(after).unwrap());
        assert_eq!(a, (30, 1000));
        assert_eq!(b, (40, 1200));
        assert!((steal_pct(a, b).unwrap() - 5.0).abs() < 1e-9);
        assert_eq!(steal_pct(b, b), None);
        assert_eq!(steal_ticks("intr 1 2\n"), None);
        assert!(
            machine_steal_ticks().is_some(),
            "this kernel's /proc/stat has a steal column"
        );
    }

    #[test]
    fn proc_readers_see_this_process() {
        let me = std::process::id() as i32;
        let (rss, hwm) = memory_kb(me).unwrap();
        assert!(rss > 0 && hwm >= rss);
        assert!(cpu_seconds(me).is_some());
        // A second thread that sleeps (switches out) and stays alive while /proc is read.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let helper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let _ = rx.recv();
        });
        std::thread::sleep(Duration::from_millis(50));
        let threads = thread_usage(me);
        tx.send(()).unwrap();
        helper.join().unwrap();
        assert!(threads.len() >= 2, "{threads:?}");
        assert!(threads.values().any(|t| t.switches > 0), "{threads:?}");
        assert_eq!(process_tree(me)[0], me);
        assert!(mounts_under(Path::new("/"))
            .iter()
            .any(|m| m == Path::new("/")));
        assert!(mounts_under(Path::new("/no/such/dir")).is_empty());
    }

    #[test]
    fn processes_are_found_by_their_command_line() {
        let marker = format!("wasm-bench-needle-{}", std::process::id());
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 5; true", &marker])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(pids_with_cmdline(&marker), vec![child.id() as i32]);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(pids_with_cmdline(&marker).is_empty());
    }
}
