//! Child processes (servers, generators): spawned pinned to CPUs in their own process group and
//! registered, so that every exit path (normal, error, Ctrl-C, SIGTERM) stops them.

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

/// The marker as an environment pair, for processes started by other means (a container's).
pub fn run_marker_env() -> Option<(String, String)> {
    RUN_MARKER
        .get()
        .map(|m| (RUN_MARKER_VAR.to_string(), m.clone()))
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

/// Clean-ups for what lives outside this runner's process groups (a containerd's shims leave
/// their parent's group on purpose), run on Ctrl-C and on error exits.
type Hook = Box<dyn Fn() + Send>;
static INTERRUPT_HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// Runs `hook` on Ctrl-C/SIGTERM and in `stop_all`, after the children's groups are killed.
pub fn on_interrupt(hook: Hook) {
    INTERRUPT_HOOKS.lock().expect("hooks").push(hook);
}

fn kill_all_groups(signal: i32) {
    let groups = LIVE_GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    for pgid in groups {
        // SAFETY: kill(2) on a process group this runner created.
        unsafe { libc::kill(-pgid, signal) };
    }
    if let Ok(hooks) = INTERRUPT_HOOKS.lock() {
        for hook in hooks.iter() {
            hook();
        }
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
    let taskset = find_on_path("taskset")
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
        self.reaped || self.exit_peek().is_some()
    }

    /// How the process ended, if it has, without reaping it (None while it runs).
    pub fn exit_peek(&self) -> Option<std::process::ExitStatus> {
        use std::os::unix::process::ExitStatusExt;
        if self.reaped {
            return None;
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
        if rc != 0 || unsafe { info.si_pid() } != self.pid {
            return None;
        }
        let status = unsafe { info.si_status() };
        Some(match info.si_code {
            libc::CLD_EXITED => std::process::ExitStatus::from_raw(status << 8),
            _ => std::process::ExitStatus::from_raw(status),
        })
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

/// An executable file named `name` on PATH.
/// Runs `argv` to completion (no stdin) and returns its stdout; a failure names the command and
/// what it printed on stderr.
pub fn checked_output(argv: &[String]) -> Result<String> {
    let (program, args) = argv.split_first().context("empty command")?;
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "{} failed: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What `argv` printed (stdout, then stderr), whatever its exit status: version commands such as
/// `wrk -v` print and exit 1.
pub fn printed_output(argv: &[String]) -> Result<String> {
    let (program, args) = argv.split_first().context("empty command")?;
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", argv.join(" ")))?;
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    })
}

pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopping_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let argv: Vec<String> = ["sh", "-c", "sleep 30 & sleep 30"]
            .map(String::from)
            .to_vec();
        let mut child = spawn_pinned("0", &argv, &[], &dir.path().join("log")).unwrap();
        // Until the shell has started its sleeps (a liveness wait, generous on a loaded host).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut tree = super::super::procfs::process_tree(child.pid);
        while tree.len() < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            tree = super::super::procfs::process_tree(child.pid);
        }
        assert!(tree.len() >= 2, "expected sh and its sleeps, got {tree:?}");
        child.stop();
        let alive = |pid: &i32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while tree.iter().any(alive) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in tree {
            let alive = alive(&pid);
            assert!(!alive, "process {pid} survived stop()");
        }
    }
}
