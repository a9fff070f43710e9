//! One measured window: the generator runs against a started server, pinned to the generator
//! CPUs, while server and generator CPU (and the server's threads) are read at the window's start
//! and end. The server is watched all along: a death ends the window at once.

use std::time::{Duration, Instant};

use super::error::CellError;
use super::threads::{ThreadSnapshot, ThreadSplit};
use crate::config::LinkSpec;
use crate::hosts::Topology;
use crate::load::{Invocation, LoadSummary};
use crate::results::measured::{Phases, WindowRecord};
use crate::sys::{self, procfs, Managed};

/// What one window measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub summary: LoadSummary,
    /// Open model: the rate offered.
    pub offered_rps: Option<u32>,
    /// The generator's process from start to exit (the CPU readings span this); its own measured
    /// time is `summary.elapsed_s`.
    pub window_s: f64,
    /// Server CPU (user, system) seconds inside the window.
    pub server_cpu: (f64, f64),
    pub server_threads: ThreadSplit,
    pub generator_cpu_s: f64,
    /// Share (%) of the machine's CPU time the hypervisor stole inside the window.
    pub steal_pct: Option<f64>,
}

impl Window {
    /// The window as the results record it, in `round`, read by a generator pinned to
    /// `generator_cpus` CPUs.
    pub fn record(&self, round: u32, generator_cpus: usize) -> WindowRecord {
        let s = &self.summary;
        let phases = [
            &s.blocked_ms,
            &s.connecting_ms,
            &s.sending_ms,
            &s.waiting_ms,
            &s.receiving_ms,
        ];
        WindowRecord {
            round,
            remeasured: false,
            offered_rps: self.offered_rps.map(f64::from),
            requests: s.requests,
            elapsed_s: s.elapsed_s,
            process_s: self.window_s,
            failed_rate: s.failed_rate,
            dropped: s.dropped,
            latency_ms: s.duration_ms,
            phases_ms: phases.iter().any(|p| p.is_some()).then_some(Phases {
                blocked: s.blocked_ms,
                connecting: s.connecting_ms,
                sending: s.sending_ms,
                waiting: s.waiting_ms,
                receiving: s.receiving_ms,
            }),
            server_user_s: self.server_cpu.0,
            server_sys_s: self.server_cpu.1,
            busiest_thread_s: self.server_threads.busiest_cpu_s,
            other_threads_s: self.server_threads.other_cpu_s,
            switches: self.server_threads.switches,
            generator_cpu_s: self.generator_cpu_s,
            generator_cpus,
            steal_pct: self.steal_pct,
            hostile: s.hostile,
        }
    }
}

/// How one window is run.
pub struct WindowSpec<'a> {
    pub invocation: Invocation,
    /// "k6", "wrk" or "oha", for messages.
    pub generator: &'static str,
    /// Open model: the rate offered.
    pub offered_rps: Option<u32>,
    pub duration: Duration,
    /// Length of the generator's warm-up (bounds a separate warm-up run).
    pub warmup: Duration,
    /// Where the generator runs: one place, or several that split the load (k6 segments).
    pub topology: &'a Topology,
    /// The link this window runs over, set before the generator starts.
    pub link: Option<&'a LinkSpec>,
}

/// One generator process of a window and where it runs.
struct Part {
    invocation: Invocation,
    argv: Vec<String>,
    /// The discarded warm-up run's argv, wrapped for the same place.
    warmup_argv: Option<Vec<String>>,
    /// Runs through ssh: its CPU is what the remote shell reports, not the local ssh client's.
    remote: bool,
    cpus: String,
}

impl WindowSpec<'_> {
    /// The window's invocation once per generator place (k6 segments when there are several).
    fn parts(&self) -> Result<Vec<Part>, CellError> {
        let places = &self.topology.generators;
        places
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let invocation = if places.len() == 1 {
                    self.invocation.clone()
                } else {
                    self.invocation.segment(i, places.len()).ok_or_else(|| {
                        CellError::Setup(format!(
                            "{} cannot split a load among hosts (only k6 can)",
                            self.generator
                        ))
                    })?
                };
                let argv = g.place.wrap(&invocation.argv, &invocation.env, &g.cpus);
                let warmup_argv = invocation
                    .warmup
                    .as_ref()
                    .map(|w| g.place.wrap(w, &invocation.env, &g.cpus));
                Ok(Part {
                    invocation,
                    argv,
                    warmup_argv,
                    remote: matches!(g.place, crate::hosts::Place::Ssh(_)),
                    cpus: g.cpus.clone(),
                })
            })
            .collect()
    }
}

/// Readings at the start and the end of the generator's run.
struct Mark {
    at: Instant,
    server_cpu: (f64, f64),
    generator_cpu_s: f64,
    threads: ThreadSnapshot,
    steal: Option<(u64, u64)>,
}

impl Mark {
    /// `generators` are the local generator processes (remote ones report their own CPU).
    fn now(measured_pid: i32, generators: &[i32]) -> Mark {
        Mark {
            at: Instant::now(),
            server_cpu: procfs::tree_cpu_pair(measured_pid),
            generator_cpu_s: generators
                .iter()
                .map(|pid| procfs::tree_cpu_seconds(*pid))
                .sum(),
            threads: procfs::thread_usage(measured_pid),
            steal: procfs::machine_steal_ticks(),
        }
    }
}

/// Runs the generator (after its separate warm-up run, if it has one) and returns the window.
/// `server` is watched for death; `measured_pid`'s process tree is what CPU is read from (the
/// server itself, or a container's shim).
pub fn run_window(
    server: &Managed,
    measured_pid: i32,
    spec: &WindowSpec,
) -> Result<Window, CellError> {
    spec.topology
        .apply(spec.link)
        .map_err(|e| CellError::Setup(format!("cannot set the link: {e:#}")))?;
    let parts = spec.parts()?;
    warm_up(&parts, spec)?;
    let mut generators = spawn(&parts)?;
    let local = local_pids(&generators, &parts);
    let start = Mark::now(measured_pid, &local);
    wait_for(&mut generators, server, spec)?;
    // The generators are zombies until reaped: their final CPU time is still readable.
    let end = Mark::now(measured_pid, &local);
    let statuses: Vec<_> = generators.iter_mut().map(|g| g.exited()).collect();
    for g in &mut generators {
        g.stop();
    }
    let remote_cpu_s = remote_cpu_seconds(&parts);
    let summary = read_summary(parts, &statuses, spec)?;
    let window_s = (end.at - start.at).as_secs_f64();
    check_summary(&summary, window_s, spec)?;
    Ok(Window {
        summary,
        offered_rps: spec.offered_rps,
        window_s,
        server_cpu: (
            end.server_cpu.0 - start.server_cpu.0,
            end.server_cpu.1 - start.server_cpu.1,
        ),
        server_threads: ThreadSplit::between(&start.threads, &end.threads),
        generator_cpu_s: end.generator_cpu_s - start.generator_cpu_s + remote_cpu_s,
        steal_pct: start
            .steal
            .zip(end.steal)
            .and_then(|(a, b)| procfs::steal_pct(a, b)),
    })
}

/// Each part's discarded warm-up run, where it has one, before any measured process starts.
fn warm_up(parts: &[Part], spec: &WindowSpec) -> Result<(), CellError> {
    for part in parts {
        part.invocation.clear();
        if let Some(argv) = &part.warmup_argv {
            run_warmup(argv, &part.invocation.env, &part.cpus, spec)?;
        }
    }
    Ok(())
}

fn spawn(parts: &[Part]) -> Result<Vec<Managed>, CellError> {
    parts
        .iter()
        .map(|p| {
            let inv = &p.invocation;
            sys::spawn_pinned(&p.cpus, &p.argv, &inv.env, &inv.log).map_err(CellError::setup)
        })
        .collect()
}

/// The generators whose CPU is read here (remote ones report their own).
fn local_pids(generators: &[Managed], parts: &[Part]) -> Vec<i32> {
    generators
        .iter()
        .zip(parts)
        .filter(|(_, p)| !p.remote)
        .map(|(g, _)| g.pid)
        .collect()
}

/// Until every generator has exited, watching the server and the time.
fn wait_for(
    generators: &mut [Managed],
    server: &Managed,
    spec: &WindowSpec,
) -> Result<(), CellError> {
    let limit = spec.duration + Duration::from_secs(60);
    while !generators.iter_mut().all(|g| g.exited_keep_zombie()) {
        watch(server)?;
        if generators[0].started.elapsed() > limit {
            return Err(CellError::GeneratorHung {
                generator: spec.generator,
                limit,
                log: generators[0].log_tail(5),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// What the remote parts' shells reported their generators used.
fn remote_cpu_seconds(parts: &[Part]) -> f64 {
    parts
        .iter()
        .filter(|p| p.remote)
        .filter_map(|p| {
            let log = std::fs::read_to_string(&p.invocation.log).ok()?;
            crate::hosts::remote_cpu_seconds(&log)
        })
        .sum()
}

/// One part's report, or the segments' reports merged.
fn read_summary(
    parts: Vec<Part>,
    statuses: &[Option<std::process::ExitStatus>],
    spec: &WindowSpec,
) -> Result<LoadSummary, CellError> {
    if parts.len() == 1 {
        parts[0].invocation.read(spec.duration, statuses[0])
    } else {
        let invocations: Vec<Invocation> = parts.into_iter().map(|p| p.invocation).collect();
        Invocation::read_segments(&invocations, spec.duration)
    }
    .map_err(CellError::GeneratorReport)
}

/// A report that cannot be true, or one without a single completed request, is an error.
fn check_summary(summary: &LoadSummary, window_s: f64, spec: &WindowSpec) -> Result<(), CellError> {
    // No generator can run longer than the process that ran it: a wall-clock step did that.
    if summary.elapsed_s > window_s + 0.05 {
        return Err(CellError::ClockStepped {
            generator: spec.generator,
            reported_s: summary.elapsed_s,
            measured_s: window_s,
        });
    }
    if summary.requests == 0 {
        return Err(CellError::NoRequests {
            generator: spec.generator,
            window_s,
            log: spec.invocation.log.display().to_string(),
        });
    }
    Ok(())
}

/// Fails at once when the run was interrupted or the server died.
pub fn watch(server: &Managed) -> Result<(), CellError> {
    if sys::interrupted() {
        return Err(CellError::Interrupted);
    }
    if server.exited_keep_zombie() {
        return Err(died(server));
    }
    Ok(())
}

/// The server has exited: its last lines, and the cause where they or its exit status name one.
pub fn died(server: &Managed) -> CellError {
    CellError::ServerDied {
        log: super::causes::salient(&server.log_tail(200)),
        cause: super::causes::known_cause(server.exit_peek(), &server.log_tail(200)),
    }
}

/// wrk has no warm-up phase: a separate run whose figures are discarded.
fn run_warmup(
    argv: &[String],
    env: &[(String, String)],
    cpus: &str,
    spec: &WindowSpec,
) -> Result<(), CellError> {
    let log = spec.invocation.warmup_log();
    let mut warm = sys::spawn_pinned(cpus, argv, env, &log).map_err(CellError::setup)?;
    let limit = spec.warmup + Duration::from_secs(30);
    while !warm.exited_keep_zombie() {
        if sys::interrupted() {
            return Err(CellError::Interrupted);
        }
        if warm.started.elapsed() > limit {
            return Err(CellError::WarmupHung { limit });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    warm.stop();
    Ok(())
}
