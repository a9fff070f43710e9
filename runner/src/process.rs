//! Child processes (servers, generators): spawned pinned to CPUs in their own process group,
//! registered so that every exit path (normal, error, Ctrl-C, SIGTERM) stops them, and measured
//! from /proc while they run.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Process groups of every live child, for the signal handler and for `stop_all`.
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
/// Set in the environment of every child, so a leftover process can be traced to its run (the
/// robustness tests look for it after every exit path). WASI guests do not see it.
pub const RUN_MARKER_VAR: &str = "WASM_BENCH_RUN";
static RUN_MARKER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub fn set_run_marker(marker: &str) {
    let _ = RUN_MARKER.set(marker.to_string());
}

/// Number of SIGINT/SIGTERM received; the run loop stops starting cells once it is non-zero.
pub static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

pub fn interrupted() -> bool {
    INTERRUPTS.load(Ordering::SeqCst) > 0
}

/// First Ctrl-C/SIGTERM: stop every child and let the run loop keep what was measured and exit.
/// Second: stop every child and exit at once.
pub fn install_signal_handlers() -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .context("cannot install signal handlers")?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let count = INTERRUPTS.fetch_add(1, Ordering::SeqCst) + 1;
            kill_all_groups(libc::SIGKILL);
            if count >= 2 {
                eprintln!("\nsecond interrupt: stopped every child, exiting now");
                std::process::exit(128 + signal);
            }
            eprintln!("\ninterrupted: stopping children, keeping the cells already measured (Ctrl-C again to exit at once)");
        }
    });
    Ok(())
}

fn kill_all_groups(signal: i32) {
    let groups = LIVE_GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    for pgid in groups {
        // SAFETY: kill(2) on a process group this runner created.
        unsafe { libc::kill(-pgid, signal) };
    }
}

/// Kills every child still registered (used on error paths before exiting).
pub fn stop_all() {
    kill_all_groups(libc::SIGKILL);
}

/// A child in its own process group, stopped (group-wide) when dropped.
pub struct Managed {
    pub child: Child,
    pub pid: i32,
    pub log: PathBuf,
    pub started: Instant,
    reaped: bool,
}

/// Spawns `argv` pinned to `cpus` (via `taskset`, so the exact command can be repeated by hand),
/// with stdout+stderr going to `log`.
pub fn spawn_pinned(
    cpus: &str,
    argv: &[String],
    env: &[(String, String)],
    log: &Path,
) -> Result<Managed> {
    let taskset = crate::runtime::find_on_path("taskset")
        .context("taskset (util-linux) is needed to pin processes to CPUs")?;
    let out = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let err = out.try_clone()?;
    let mut command = Command::new(taskset);
    command.arg("-c").arg(cpus).args(argv);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(marker) = RUN_MARKER.get() {
        command.env(RUN_MARKER_VAR, marker);
    }
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {}", argv.join(" ")))?;
    let pid = child.id() as i32;
    LIVE_GROUPS.lock().expect("registry").insert(pid);
    Ok(Managed {
        child,
        pid,
        log: log.to_path_buf(),
        started,
        reaped: false,
    })
}

impl Managed {
    /// Has the process exited? (Reaps it if so.)
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        if status.is_some() {
            self.reaped = true;
        }
        status
    }

    /// Has the process exited? Unlike `exited`, does not reap it, so /proc still holds its final
    /// CPU times (a zombie keeps them until it is reaped).
    pub fn exited_keep_zombie(&self) -> bool {
        if self.reaped {
            return true;
        }
        // SAFETY: waitid on our own child with WNOWAIT leaves it reapable by Child::wait.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                self.pid as u32,
                &mut info,
                libc::WEXITED | libc::WNOWAIT | libc::WNOHANG,
            )
        };
        rc == 0 && unsafe { info.si_pid() } == self.pid
    }

    /// SIGTERM to the group, then SIGKILL after a grace period; always reaps.
    pub fn stop(&mut self) {
        if !self.reaped {
            // SAFETY: signals to the group this child leads.
            unsafe { libc::kill(-self.pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
            unsafe { libc::kill(-self.pid, libc::SIGKILL) };
            let _ = self.child.wait();
            self.reaped = true;
        }
        // Anything the child left in its group dies with it.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
        LIVE_GROUPS.lock().expect("registry").remove(&self.pid);
    }

    /// Last `lines` lines of the child's output, for failure reasons.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

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
pub fn thread_usage(root: i32) -> std::collections::HashMap<i32, ThreadUsage> {
    let mut threads = std::collections::HashMap::new();
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

/// Samples a server's process tree in the background while it is measured.
pub struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
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
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
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
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Sampler {
            stop,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) -> SamplerReport {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

/// Sum of CPU seconds (user+system) over a process tree.
pub fn tree_cpu_seconds(pid: i32) -> f64 {
    process_tree(pid)
        .into_iter()
        .filter_map(cpu_seconds)
        .map(|(u, s)| u + s)
        .sum()
}

/// A free loopback port: bind port 0, read it, release it. Each cell asks anew, so no two cells share
/// a port, and a port taken by someone else is never chosen.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn stopping_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let argv: Vec<String> = ["sh", "-c", "sleep 30 & sleep 30"]
            .map(String::from)
            .to_vec();
        let mut child = spawn_pinned("0", &argv, &[], &dir.path().join("log")).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let tree = process_tree(child.pid);
        assert!(tree.len() >= 2, "expected sh and its sleeps, got {tree:?}");
        child.stop();
        std::thread::sleep(Duration::from_millis(100));
        for pid in tree {
            let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| !s.contains(") Z "));
            assert!(!alive, "process {pid} survived stop()");
        }
    }
}
