//! One cell, start to finish: prepare the artifact, start the server pinned, wait until it answers
//! correctly, load it with k6 on other CPUs, sample its resources, stop it, and turn what was seen
//! into a `CellResult`. Nothing here is simulated: real processes, real sockets.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::artifacts::{self, ArtifactKind};
use crate::flags::{self, Observations};
use crate::matrix::{Cell, LoadModel, Settings};
use crate::process::{self, Managed, Sampler};
use crate::results::{median, CellResult, Metrics, Status};
use crate::runtime::{ModeDef, Placeholders, RuntimeDef};
use crate::workload::Workload;
use crate::{k6, wrk};

/// Everything a cell needs, resolved by the run loop.
pub struct Plan<'a> {
    pub index: usize,
    pub cell: &'a Cell,
    pub def: &'a RuntimeDef,
    pub mode: &'a ModeDef,
    pub bin: Option<PathBuf>,
    pub runtime_version: Option<String>,
    /// The server build this cell runs; `None` when its server language has none for this runtime.
    pub kind: Option<&'static ArtifactKind>,
    pub artifact: PathBuf,
    pub artifact_stripped_bytes: Option<u64>,
    pub settings: &'a Settings,
    /// The generator's binary (k6 or wrk, after the load model) and its script.
    pub generator: PathBuf,
    pub script: PathBuf,
    pub logs: PathBuf,
    pub prepared_cache: PathBuf,
}

/// Where a cell's measurement stands, for the progress display.
pub trait Progress {
    fn phase(&self, text: &str);
}

impl<'a> Plan<'a> {
    /// A result with the cell's labels and no figures yet.
    pub fn blank(&self, status: Status, reason: Option<String>) -> CellResult {
        CellResult {
            index: self.index,
            id: self.cell.id.clone(),
            server: self.cell.server.clone(),
            target: self.kind.map_or("none", |k| k.target_label()).to_string(),
            build_note: self.kind.and_then(|k| k.build_note()).map(String::from),
            runtime: self.cell.runtime.clone(),
            mode: self.cell.mode.clone(),
            mode_about: self.mode.about.clone(),
            write: self.cell.write.clone(),
            workload: self.cell.workload.clone(),
            load: self.cell.load.name.clone(),
            load_model: format!("{:?}", self.cell.load.model).to_lowercase(),
            generator: self.cell.load.model.generator().into(),
            concurrency: self.cell.load.concurrency(),
            offered_rps: self.cell.load.rate,
            status,
            reason,
            runtime_version: self.runtime_version.clone(),
            command: Vec::new(),
            metrics: Metrics {
                artifact_bytes: self
                    .kind
                    .and_then(|_| std::fs::metadata(&self.artifact).ok())
                    .map(|m| m.len()),
                artifact_stripped_bytes: self.artifact_stripped_bytes,
                ..Default::default()
            },
            flags: Vec::new(),
            repeats_rps: Vec::new(),
            partial: false,
        }
    }

    fn placeholders(&self) -> Placeholders {
        let mut vars = Placeholders::default();
        if let Some(bin) = &self.bin {
            vars.set("bin", bin.display().to_string());
        }
        vars.set("artifact", self.artifact.display().to_string())
            .set("write", self.cell.write.clone());
        vars
    }

    /// Runs the mode's prepare step (AOT compile) once per artifact content, runtime version and
    /// mode; later cells and later runs reuse the file. Returns (path, milliseconds spent, 0 if cached).
    fn prepare(&self, vars: &Placeholders) -> Result<Option<(PathBuf, f64)>, String> {
        if self.mode.prepare.is_empty() {
            return Ok(None);
        }
        let hash = artifacts::content_hash(&self.artifact).map_err(|e| format!("{e:#}"))?;
        let version = self.runtime_version.as_deref().unwrap_or("unknown");
        let prepared = self.prepared_cache.join(format!(
            "{}-{}-{}-{}.bin",
            self.def.name, version, self.cell.mode, hash
        ));
        if prepared.is_file() {
            return Ok(Some((prepared, 0.0)));
        }
        std::fs::create_dir_all(&self.prepared_cache)
            .map_err(|e| format!("cannot create {}: {e}", self.prepared_cache.display()))?;
        let partial = prepared.with_extension("partial");
        let mut vars = vars.clone();
        vars.set("prepared", partial.display().to_string());
        let argv = vars
            .expand_all(&self.mode.prepare)
            .map_err(|e| format!("runtimes/{}.toml prepare: {e}", self.def.name))?;
        let log = self.logs.join(format!("{:03}-prepare.log", self.index));
        let start = Instant::now();
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let status = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", argv.join(" ")))?;
        if !status.success() || !partial.is_file() {
            return Err(format!(
                "prepare step failed ({}): {}",
                argv.join(" "),
                process::log_tail(&log, 5)
            ));
        }
        std::fs::rename(&partial, &prepared).map_err(|e| e.to_string())?;
        Ok(Some((prepared, start.elapsed().as_secs_f64() * 1000.0)))
    }

    pub fn measure(&self, progress: &dyn Progress) -> CellResult {
        let mut result = self.blank(Status::Failed, None);
        match self.measure_into(&mut result, progress) {
            Ok(()) => {
                result.status = Status::Ok;
                result.reason = None;
            }
            Err(reason) => {
                result.status = Status::Failed;
                result.reason = Some(reason);
            }
        }
        result
    }

    /// Prepares the artifact, starts the server pinned to the server CPUs and waits until it answers
    /// `workload` correctly. Fills the cell's command, prepare and startup figures.
    pub fn start(
        &self,
        workload: &Workload,
        result: &mut CellResult,
        progress: &dyn Progress,
    ) -> Result<Started, String> {
        let mut vars = self.placeholders();
        progress.phase("prepare");
        if let Some((prepared, ms)) = self.prepare(&vars)? {
            result.metrics.prepared_bytes = std::fs::metadata(&prepared).ok().map(|m| m.len());
            result.metrics.prepare_ms = Some(ms);
            vars.set("prepared", prepared.display().to_string());
        }
        let port = process::free_port().map_err(|e| format!("{e:#}"))?;
        let addr = format!("127.0.0.1:{port}");
        vars.set("addr", addr.clone()).set("port", port.to_string());
        let argv = vars
            .expand_all(&self.mode.launch)
            .map_err(|e| format!("runtimes/{}.toml launch: {e}", self.def.name))?;
        let env: Vec<(String, String)> = self
            .mode
            .env
            .iter()
            .map(|(k, v)| vars.expand(v).map(|v| (k.clone(), v)))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("runtimes/{}.toml env: {e}", self.def.name))?;
        result.command = argv.clone();

        progress.phase("starting server");
        let server_log = self.logs.join(format!("{:03}-server.log", self.index));
        let mut server =
            process::spawn_pinned(&self.settings.server_cpus, &argv, &env, &server_log)
                .map_err(|e| format!("{e:#}"))?;
        let base = format!("http://{addr}");
        // A mode may need longer than the matrix allows (whole-module JIT), never less.
        let timeout = self
            .mode
            .ready_timeout()
            .unwrap_or_default()
            .max(self.settings.ready_timeout);
        let (startup, first) = wait_ready(&mut server, &base, workload, timeout)?;
        result.metrics.startup_ms = Some(ms(startup));
        result.metrics.first_request_ms = Some(ms(first));
        Ok(Started { server, base, addr })
    }

    fn measure_into(&self, result: &mut CellResult, progress: &dyn Progress) -> Result<(), String> {
        let workload = Workload::get(&self.cell.workload).ok_or("unknown workload")?;
        let Started {
            mut server, base, ..
        } = self.start(workload, result, progress)?;
        let agent = crate::probe::agent(Duration::from_secs(5));
        let mut warm = Vec::new();
        for _ in 0..10 {
            warm.push(ms(crate::probe::timed_check(&agent, &base, workload)
                .map_err(|e| format!("warm request: {e}"))?));
        }
        result.metrics.warm_request_ms = median(&warm);
        result.metrics.rss_idle_kb = process::process_tree(server.pid)
            .into_iter()
            .filter_map(process::memory_kb)
            .map(|m| m.0)
            .reduce(|a, b| a + b);

        let sampler = Sampler::start(server.pid);
        let generator_cpus = crate::matrix::parse_cpu_list(&self.settings.generator_cpus)
            .map(|c| c.len())
            .unwrap_or(1);
        let mut runs = Vec::new();
        let (
            mut server_cpu_s,
            mut server_user_s,
            mut server_sys_s,
            mut window_s,
            mut generator_pct,
        ) = (0.0, 0.0, 0.0, 0.0, Vec::new());
        let mut threads = ThreadSplit::default();
        // Requests completed inside the measured windows (the CPU and switch counts cover those).
        let mut window_requests = 0.0;
        let mut failure = None;
        for repeat in 0..self.settings.repeats {
            progress.phase(&format!(
                "{} {}/{}",
                self.cell.load.model.generator(),
                repeat + 1,
                self.settings.repeats
            ));
            match self.run_load(&server, workload, &base, repeat) {
                Ok(run) => {
                    server_cpu_s += run.server_cpu.0 + run.server_cpu.1;
                    server_user_s += run.server_cpu.0;
                    server_sys_s += run.server_cpu.1;
                    threads.add(&run.server_threads);
                    window_requests += run.summary.rps() * run.window_s;
                    window_s += run.window_s;
                    generator_pct
                        .push(run.generator_cpu_s / run.window_s / generator_cpus as f64 * 100.0);
                    runs.push(run);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            if server.exited_keep_zombie() {
                failure = Some(format!(
                    "the server died during load: {}",
                    server.log_tail(5)
                ));
                break;
            }
        }
        let memory = sampler.finish();
        result.metrics.rss_end_kb = process::process_tree(server.pid)
            .into_iter()
            .filter_map(process::memory_kb)
            .map(|m| m.0)
            .reduce(|a, b| a + b);
        result.metrics.rss_peak_kb =
            Some(memory.hwm_peak_kb.max(memory.rss_sum_peak_kb)).filter(|&kb| kb > 0);
        server.stop();

        result.repeats_rps = runs.iter().map(|r| r.summary.rps()).collect();
        if let Some(median_run) = median_run(&runs) {
            let s = &median_run.summary;
            let m = &mut result.metrics;
            m.rps = Some(s.rps());
            m.dropped = s.dropped;
            m.rps_min = result.repeats_rps.iter().copied().reduce(f64::min);
            m.rps_max = result.repeats_rps.iter().copied().reduce(f64::max);
            m.requests = Some(s.requests);
            m.failed_rate = Some(s.failed_rate);
            if let Some(d) = s.duration_ms {
                (m.avg_ms, m.p50_ms, m.p90_ms, m.p95_ms, m.p99_ms, m.max_ms) = (
                    Some(d.avg),
                    Some(d.med),
                    Some(d.p90),
                    Some(d.p95),
                    Some(d.p99),
                    Some(d.max),
                );
            }
            m.blocked_avg_ms = s.blocked_ms.map(|t| t.avg);
            m.connecting_avg_ms = s.connecting_ms.map(|t| t.avg);
            m.sending_avg_ms = s.sending_ms.map(|t| t.avg);
            m.waiting_avg_ms = s.waiting_ms.map(|t| t.avg);
            m.receiving_avg_ms = s.receiving_ms.map(|t| t.avg);
            m.receiving_p95_ms = s.receiving_ms.map(|t| t.p95);
            if window_s > 0.0 {
                m.server_cpu_pct = Some(server_cpu_s / window_s * 100.0);
                m.server_cpu_user_s = Some(server_user_s);
                m.server_cpu_sys_s = Some(server_sys_s);
                m.server_other_threads_cpu_pct = Some(threads.other_cpu_s / window_s * 100.0);
            }
            if window_requests >= 1.0 {
                m.server_cpu_us_per_request = Some(server_cpu_s / window_requests * 1e6);
                m.server_switches_per_request = Some(threads.switches as f64 / window_requests);
            }
            m.generator_cpu_pct = median(&generator_pct);
            let spread = match (m.rps_min, m.rps_max, m.rps) {
                (Some(lo), Some(hi), Some(mid)) if mid > 0.0 => Some((hi - lo) / mid * 100.0),
                _ => None,
            };
            result.flags = flags::evaluate(&Observations {
                receiving_avg_ms: m.receiving_avg_ms,
                waiting_avg_ms: m.waiting_avg_ms,
                p50_ms: m.p50_ms,
                server_cpu_pct: m.server_cpu_pct,
                server_other_threads_cpu_pct: m.server_other_threads_cpu_pct,
                server_switches_per_request: m.server_switches_per_request,
                // The open model fixes req/s by its rate, so Little's law says nothing there.
                concurrency: (self.cell.load.model != LoadModel::Open)
                    .then(|| self.cell.load.concurrency()),
                rps: m.rps,
                avg_ms: m.avg_ms,
                generator_cpu_pct: m.generator_cpu_pct,
                generator_cpus,
                rps_repeats_spread_pct: spread,
                repeats: runs.len(),
                failed_rate: m.failed_rate,
            });
        }
        if let Some(reason) = failure {
            result.partial = !runs.is_empty();
            return Err(reason);
        }
        if runs.is_empty() {
            return Err("no measurement was made".into());
        }
        Ok(())
    }

    /// One measured window with the generator the load model uses (k6 or wrk), pinned to the
    /// generator CPUs. Server and generator CPU are sampled over the measured window only.
    fn run_load(
        &self,
        server: &Managed,
        workload: &Workload,
        base: &str,
        repeat: u32,
    ) -> Result<LoadRun, String> {
        let url = format!("{base}{}", workload.path);
        let body_bytes = workload.body.map_or(0, <[u8]>::len);
        let tag = format!(
            "{:03}-{}-{repeat}",
            self.index,
            self.cell.load.model.generator()
        );
        let log = self.logs.join(format!("{tag}.log"));
        let summary_path = self.logs.join(format!("{tag}.json"));
        let load = &self.cell.load;
        let (argv, env, window_delay) = match load.model {
            LoadModel::Closed | LoadModel::Open => {
                let _ = std::fs::remove_file(&summary_path);
                let mut argv = vec![self.generator.display().to_string()];
                argv.extend(k6::args(&k6::Request {
                    script: &self.script,
                    url: &url,
                    method: workload.method,
                    body_bytes,
                    load,
                    duration_ms: self.settings.duration.as_millis(),
                    warmup_ms: self.settings.warmup.as_millis(),
                    summary: &summary_path,
                }));
                // k6 must not phone home.
                (
                    argv,
                    vec![("K6_NO_USAGE_REPORT".to_string(), "true".to_string())],
                    self.settings.warmup,
                )
            }
            LoadModel::Peak => {
                let threads = crate::matrix::parse_cpu_list(&self.settings.generator_cpus)
                    .map(|c| c.len())
                    .unwrap_or(1);
                let connections = load.connections.unwrap_or(50);
                let env = vec![
                    ("WRK_METHOD".to_string(), workload.method.to_string()),
                    ("WRK_BODY_BYTES".to_string(), body_bytes.to_string()),
                ];
                let wrk_argv = |duration: Duration| {
                    let mut argv = vec![self.generator.display().to_string()];
                    argv.extend(wrk::args(
                        &self.script,
                        &url,
                        threads,
                        connections,
                        duration.as_millis(),
                    ));
                    argv
                };
                if !self.settings.warmup.is_zero() {
                    // wrk has no warm-up phase: a separate, discarded run.
                    let argv = wrk_argv(self.settings.warmup);
                    let warm_log = self.logs.join(format!("{tag}-warmup.log"));
                    let mut warm = process::spawn_pinned(
                        &self.settings.generator_cpus,
                        &argv,
                        &env,
                        &warm_log,
                    )
                    .map_err(|e| format!("{e:#}"))?;
                    let limit = self.settings.warmup + Duration::from_secs(30);
                    while !warm.exited_keep_zombie() {
                        if process::interrupted() {
                            return Err("interrupted before this cell finished".into());
                        }
                        if warm.started.elapsed() > limit {
                            return Err(format!("wrk warm-up did not finish within {limit:?}"));
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    warm.stop();
                }
                (wrk_argv(self.settings.duration), env, Duration::ZERO)
            }
        };
        let mut generator = process::spawn_pinned(&self.settings.generator_cpus, &argv, &env, &log)
            .map_err(|e| format!("{e:#}"))?;
        let limit = window_delay + self.settings.duration + Duration::from_secs(60);
        let mut window_start: Option<(Instant, (f64, f64), f64, ThreadSnapshot)> = None;
        let cpu_pair = |pid| {
            process::process_tree(pid)
                .into_iter()
                .filter_map(process::cpu_seconds)
                .fold((0.0, 0.0), |a, c| (a.0 + c.0, a.1 + c.1))
        };
        loop {
            if window_start.is_none() && generator.started.elapsed() >= window_delay {
                window_start = Some((
                    Instant::now(),
                    cpu_pair(server.pid),
                    process::tree_cpu_seconds(generator.pid),
                    process::thread_usage(server.pid),
                ));
            }
            if generator.exited_keep_zombie() {
                break;
            }
            if process::interrupted() {
                return Err("interrupted before this cell finished".into());
            }
            if server.exited_keep_zombie() {
                return Err(format!(
                    "the server died during load: {}",
                    server.log_tail(5)
                ));
            }
            if generator.started.elapsed() > limit {
                return Err(format!(
                    "{} did not finish within {limit:?}: {}",
                    load.model.generator(),
                    generator.log_tail(5)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let end = Instant::now();
        let server_end = cpu_pair(server.pid);
        let threads_end = process::thread_usage(server.pid);
        let generator_end = process::tree_cpu_seconds(generator.pid);
        let status = generator.exited();
        generator.stop();
        let (start, server_start, generator_start, threads_start) =
            window_start.ok_or("the generator exited before its warm-up ended")?;
        let summary = match load.model {
            LoadModel::Closed | LoadModel::Open => {
                let text = std::fs::read_to_string(&summary_path).map_err(|_| {
                    format!(
                        "k6 wrote no summary (exit {status:?}): {}",
                        process::log_tail(&log, 8)
                    )
                })?;
                k6::parse_summary(&text, &summary_path)
                    .map_err(|e| format!("{e:#}"))?
                    .into_load_summary(self.settings.duration.as_secs_f64())
            }
            LoadModel::Peak => {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                wrk::parse(&text).map_err(|e| format!("{e:#}"))?
            }
        };
        if summary.requests == 0 {
            return Err(format!(
                "{} completed no request in the {:.1} s window: the server accepted connections but answered none (log: {})",
                load.model.generator(),
                (end - start).as_secs_f64(),
                log.display()
            ));
        }
        Ok(LoadRun {
            summary,
            window_s: (end - start).as_secs_f64(),
            server_cpu: (server_end.0 - server_start.0, server_end.1 - server_start.1),
            server_threads: ThreadSplit::between(&threads_start, &threads_end),
            generator_cpu_s: generator_end - generator_start,
        })
    }
}

/// A server that answered correctly.
pub struct Started {
    pub server: Managed,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// `127.0.0.1:<port>`
    pub addr: String,
}

struct LoadRun {
    summary: k6::LoadSummary,
    window_s: f64,
    server_cpu: (f64, f64),
    server_threads: ThreadSplit,
    generator_cpu_s: f64,
}

type ThreadSnapshot = std::collections::HashMap<i32, process::ThreadUsage>;

/// Where the server's CPU went during a window: the busiest thread (the one serving requests)
/// versus all others (runtime I/O drivers, compiler threads), and how often threads switched.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct ThreadSplit {
    busiest_cpu_s: f64,
    other_cpu_s: f64,
    switches: u64,
}

impl ThreadSplit {
    /// Threads born during the window count from zero; threads that ended are lost (their time
    /// is still in the process totals).
    fn between(start: &ThreadSnapshot, end: &ThreadSnapshot) -> ThreadSplit {
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

    /// Totals over repeats.
    fn add(&mut self, other: &ThreadSplit) {
        self.busiest_cpu_s += other.busiest_cpu_s;
        self.other_cpu_s += other.other_cpu_s;
        self.switches += other.switches;
    }
}

/// The repeat whose req/s is the median (lower middle for even counts), so its latencies go with it.
fn median_run(runs: &[LoadRun]) -> Option<&LoadRun> {
    let mut sorted: Vec<&LoadRun> = runs.iter().collect();
    sorted.sort_by(|a, b| a.summary.rps().total_cmp(&b.summary.rps()));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Polls until the server answers the workload correctly. Returns (launch to correct answer, that
/// request's own latency). Fails when the server exits, answers wrongly, or the wait runs out.
fn wait_ready(
    server: &mut Managed,
    base: &str,
    workload: &Workload,
    timeout: Duration,
) -> Result<(Duration, Duration), String> {
    let agent = crate::probe::agent(Duration::from_secs(2));
    let deadline = server.started + timeout;
    loop {
        if let Some(status) = server.exited() {
            return Err(format!(
                "the server exited ({status}) before answering: {}",
                server.log_tail(8)
            ));
        }
        if process::interrupted() {
            return Err("interrupted before this cell finished".into());
        }
        let sent = Instant::now();
        match crate::probe::probe(&agent, base, workload) {
            Ok(observed) => {
                let took = sent.elapsed();
                crate::workload::check(workload, &observed)
                    .map_err(|e| format!("wrong answer: {e}"))?;
                return Ok((server.started.elapsed(), took));
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(format!(
                    "the server did not answer within {timeout:?} (last error: {e}); its log: {}",
                    server.log_tail(5)
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ThreadUsage;

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
