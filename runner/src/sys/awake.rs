//! Virtual CPUs kept from halting while cells are measured. A virtual CPU with nothing to run
//! halts, and its host deschedules it; the next packet has to wait until the host runs it again,
//! which on a busy host takes milliseconds and counts as steal. Measured here: native at 3,000
//! req/s had p99 7.5-17.8 ms with 20-25% of CPU time stolen, and 1.8-5.4 ms with 0.4-6.6% a minute
//! later with every CPU kept awake. That wait is the host's, not the server's. One thread per CPU
//! (of the server's and the generator's) runs at SCHED_IDLE, the lowest priority there is, and
//! calls `sched_yield` in a loop: the CPU never halts, and any other thread that wants it gets it
//! within one turn of the loop. A thread that merely spun (`pause`) kept the CPU whenever a server
//! or generator thread yielded or handed work to another thread on it, until the next scheduler
//! tick (4 ms here): wasmtime's 1-connection p99 went from 0.2 to 4 ms, and oha (which yields)
//! added a millisecond to every open-model tail. This is what the guest kernel's `idle=poll` or
//! haltpoll cpuidle driver would do, from user space. The threads are the runner's own, so they
//! end with it, whatever ends it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};

/// Threads keeping CPUs awake, one per CPU, until dropped.
pub struct KeepAwake {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl KeepAwake {
    /// One lowest-priority yielding thread pinned to each of `cpus`.
    pub fn start(cpus: &[usize]) -> Result<KeepAwake> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut awake = KeepAwake {
            stop: stop.clone(),
            threads: Vec::new(),
        };
        for &cpu in cpus {
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let stop = stop.clone();
            let thread = std::thread::Builder::new()
                .name(format!("awake-cpu{cpu}"))
                .spawn(move || {
                    let pinned = pin_idle(cpu);
                    let ok = pinned.is_ok();
                    let _ = ready_tx.send(pinned);
                    while ok && !stop.load(Ordering::Relaxed) {
                        // SAFETY: no arguments; it only gives up the CPU.
                        unsafe { libc::sched_yield() };
                    }
                })
                .context("cannot start a thread to keep a CPU awake")?;
            awake.threads.push(thread);
            ready_rx
                .recv()
                .context("the keep-awake thread ended before it started")?
                .map_err(|e| anyhow::anyhow!("cannot keep CPU {cpu} awake: {e}"))?;
        }
        Ok(awake)
    }

    /// The CPUs' threads, for checks.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }
}

impl Drop for KeepAwake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Pins the calling thread to `cpu` at SCHED_IDLE.
fn pin_idle(cpu: usize) -> Result<(), String> {
    pin(cpu)?;
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: a plain syscall on the calling thread (pid 0) with an initialised argument.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
        return Err(format!("SCHED_IDLE: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Pins the calling thread to `cpu`.
pub fn pin(cpu: usize) -> Result<(), String> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(format!("CPU {cpu} is beyond what a CPU set holds"));
    }
    // SAFETY: a plain syscall on the calling thread (pid 0) with an initialised CPU set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "sched_setaffinity: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Tests that start keep-awake threads count or time them: one at a time.
#[cfg(test)]
pub(crate) static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    /// The threads spin where they were pinned, at SCHED_IDLE, and stop when dropped.
    #[test]
    fn each_cpu_gets_an_idle_priority_spinner_until_dropped() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let cpus: Vec<usize> = (0..std::thread::available_parallelism().map_or(1, |n| n.get()))
            .take(2)
            .collect();
        let awake = KeepAwake::start(&cpus).unwrap();
        assert_eq!(awake.len(), cpus.len());
        let tasks = || -> Vec<(String, String)> {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .flatten()
                .filter_map(|t| {
                    let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
                    let sched = std::fs::read_to_string(t.path().join("sched")).ok()?;
                    let policy = sched
                        .lines()
                        .find(|l| l.starts_with("policy"))?
                        .split(':')
                        .nth(1)?
                        .trim()
                        .to_string();
                    Some((comm.trim().to_string(), policy))
                })
                .filter(|(comm, _)| comm.starts_with("awake-cpu"))
                .collect()
        };
        let live = tasks();
        assert_eq!(live.len(), cpus.len(), "{live:?}");
        // SCHED_IDLE is policy 5.
        assert!(live.iter().all(|(_, policy)| policy == "5"), "{live:?}");
        drop(awake);
        // Joined threads have finished; the kernel may list an exited thread for a moment more.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !tasks().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(tasks().is_empty(), "the spinners end with the guard");
        let err = KeepAwake::start(&[1000]).err().unwrap();
        assert!(
            format!("{err:#}").contains("cannot keep CPU 1000 awake"),
            "{err:#}"
        );
    }
}
