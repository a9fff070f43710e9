//! Starting one server: prepare its artifact, launch it pinned to the server CPUs on a fresh
//! loopback port, and poll until it answers a workload correctly.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::error::CellError;
use super::prepare::{prepare, PrepareStep};
use crate::config::runtimes::{ModeDef, RuntimeDef};
use crate::config::Placeholders;
use crate::http::{probe, Workload};
use crate::sys::{self, Managed};

/// How to start one server: a runtime mode running a build with a write strategy.
pub struct Launch<'a> {
    pub def: &'a RuntimeDef,
    pub mode_name: &'a str,
    pub mode: &'a ModeDef,
    pub write: &'a str,
    pub bin: Option<PathBuf>,
    pub runtime_version: Option<String>,
    pub artifact: PathBuf,
    pub server_cpus: &'a str,
    /// The matrix's limit; a mode may ask for longer (whole-module JIT), never less.
    pub ready_timeout: Duration,
    pub logs: PathBuf,
    pub prepared_cache: PathBuf,
}

/// What starting a server showed, kept even when it then failed.
#[derive(Debug, Clone, Default)]
pub struct LaunchRecord {
    /// The exact server command (before CPU pinning).
    pub command: Vec<String>,
    pub prepared_bytes: Option<u64>,
    pub prepare_ms: Option<f64>,
    /// Launch to first correct response, and that response's own latency.
    pub startup_ms: Option<f64>,
    pub first_request_ms: Option<f64>,
    /// RSS of the server's tree once it answered, before any load.
    pub rss_idle_kb: Option<u64>,
}

/// A server that answered correctly.
pub struct Started {
    pub server: Managed,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// `127.0.0.1:<port>`
    pub addr: String,
}

impl Launch<'_> {
    fn placeholders(&self) -> Placeholders {
        let mut vars = Placeholders::default();
        if let Some(bin) = &self.bin {
            vars.set("bin", bin.display().to_string());
        }
        vars.set("artifact", self.artifact.display().to_string())
            .set("write", self.write.to_string());
        vars
    }

    fn prepare_step(&self, tag: &str) -> PrepareStep<'_> {
        PrepareStep {
            runtime: &self.def.name,
            mode: self.mode_name,
            argv: &self.mode.prepare,
            artifact: &self.artifact,
            runtime_version: self.runtime_version.as_deref(),
            cache_dir: &self.prepared_cache,
            log: self.logs.join(format!("{tag}-prepare.log")),
        }
    }

    /// Prepares the artifact, starts the server and waits until it answers `workload` correctly,
    /// filling `record` as it goes. `tag` prefixes its log files (e.g. "L03-r1").
    pub fn start(
        &self,
        tag: &str,
        workload: &Workload,
        record: &mut LaunchRecord,
        phase: &dyn Fn(&str),
    ) -> Result<Started, CellError> {
        let mut vars = self.placeholders();
        phase("prepare");
        if let Some(prepared) = prepare(&self.prepare_step(tag), &vars)? {
            record.prepared_bytes = std::fs::metadata(&prepared.path).ok().map(|m| m.len());
            record.prepare_ms = Some(prepared.ms);
            vars.set("prepared", prepared.path.display().to_string());
        }
        let port = sys::net::free_port().map_err(CellError::setup)?;
        let addr = format!("127.0.0.1:{port}");
        vars.set("addr", addr.clone()).set("port", port.to_string());
        let argv = vars.expand_all(&self.mode.launch).map_err(|e| {
            CellError::Setup(format!("runtimes/{}.toml launch: {e}", self.def.name))
        })?;
        let env: Vec<(String, String)> = self
            .mode
            .env
            .iter()
            .map(|(k, v)| vars.expand(v).map(|v| (k.clone(), v)))
            .collect::<Result<_, _>>()
            .map_err(|e| CellError::Setup(format!("runtimes/{}.toml env: {e}", self.def.name)))?;
        record.command = argv.clone();

        phase("starting server");
        let server_log = self.logs.join(format!("{tag}-server.log"));
        let mut server = sys::spawn_pinned(self.server_cpus, &argv, &env, &server_log)
            .map_err(CellError::setup)?;
        let base = format!("http://{addr}");
        let timeout = self
            .mode
            .ready_timeout()
            .unwrap_or_default()
            .max(self.ready_timeout);
        let (startup, first) = wait_ready(&mut server, &base, workload, timeout)?;
        record.startup_ms = Some(ms(startup));
        record.first_request_ms = Some(ms(first));
        record.rss_idle_kb = crate::sys::procfs::tree_rss_kb(server.pid);
        Ok(Started { server, base, addr })
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Polls until the server answers the workload correctly. Returns (launch to correct answer, that
/// request's own latency). Fails when the server exits, answers wrongly, or the wait runs out.
fn wait_ready(
    server: &mut Managed,
    base: &str,
    workload: &Workload,
    timeout: Duration,
) -> Result<(Duration, Duration), CellError> {
    let agent = probe::agent(Duration::from_secs(2));
    let deadline = server.started + timeout;
    loop {
        if let Some(status) = server.exited() {
            return Err(CellError::ServerExited {
                status,
                log: server.log_tail(8),
            });
        }
        if sys::interrupted() {
            return Err(CellError::Interrupted);
        }
        let sent = Instant::now();
        match probe::probe(&agent, base, workload) {
            Ok(observed) => {
                let took = sent.elapsed();
                crate::http::workload::check(workload, &observed)
                    .map_err(CellError::WrongAnswer)?;
                return Ok((server.started.elapsed(), took));
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(CellError::NotReady {
                    timeout,
                    last_error: e,
                    log: server.log_tail(5),
                })
            }
        }
    }
}
