//! Starting one server: prepare its artifact, launch it pinned to the server CPUs on a fresh
//! loopback port, and poll until it answers a workload correctly.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::error::CellError;
use super::prepare::{prepare, PrepareStep};
use crate::build::image::Image;
use crate::config::runtimes::{ModeDef, RuntimeDef};
use crate::config::Placeholders;
use crate::container::{Ctr, Task};
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
    /// The server's definition: how it is told its address, its arguments and environment.
    pub server: &'a crate::config::ServerDef,
    pub server_cpus: &'a str,
    /// Where the server runs and the address it listens on there.
    pub server_place: &'a crate::hosts::Place,
    pub server_ip: &'a str,
    /// The matrix's limit; a mode may ask for longer (whole-module JIT), never less.
    pub ready_timeout: Duration,
    pub logs: PathBuf,
    pub prepared_cache: PathBuf,
    /// A container mode: the run's containerd and the build's image (None until both exist).
    pub container: Option<ContainerLaunch<'a>>,
}

/// How a diagnosis starts a server differently: the runtime's profiling arguments, a wrapper
/// command (valgrind), and a longer wait for its first answer.
#[derive(Debug, Clone, Default)]
pub struct Diagnostic {
    pub profile: bool,
    /// valgrind's argv: the mode's `valgrind_args` come with it.
    pub wrapper: Vec<String>,
    pub ready_timeout: Duration,
}

/// What a container mode needs to start its task.
pub struct ContainerLaunch<'a> {
    pub ctr: &'a Ctr,
    pub image: &'a Image,
    /// containerd's runtime name, e.g. "io.containerd.runc.v2".
    pub runtime: &'a str,
    /// Arguments after the image's entrypoint.
    pub args: &'a [String],
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
    /// A container mode's task, removed before `server` (its `ctr run`) is stopped.
    pub container: Option<Task>,
    /// The server process; for a container, the `ctr run` attached to the task (it exits when
    /// the task does).
    pub server: Managed,
    /// The root of the process tree whose CPU and memory are the server's: the server itself,
    /// or a container's shim (with the container's processes under it).
    pub measured_pid: i32,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// `127.0.0.1:<port>`
    pub addr: String,
}

impl Started {
    /// Stops the server (a container's task first: its init ignores ctr's SIGTERM).
    pub fn stop(&mut self) {
        self.container.take();
        self.server.stop();
    }
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
        self.start_for(tag, workload, record, phase, &Diagnostic::default())
    }

    /// `start`, for a diagnosis: with the runtime's profiling arguments (`{profile}`), and/or
    /// under a wrapper (valgrind), given longer to answer.
    pub fn start_for(
        &self,
        tag: &str,
        workload: &Workload,
        record: &mut LaunchRecord,
        phase: &dyn Fn(&str),
        diagnostic: &Diagnostic,
    ) -> Result<Started, CellError> {
        let mut vars = self.placeholders();
        let mut profile = if diagnostic.profile {
            self.def.profile_args.clone()
        } else {
            Vec::new()
        };
        if !diagnostic.wrapper.is_empty() {
            profile.extend(self.mode.valgrind_args.iter().cloned());
        }
        vars.set_list("profile", profile);
        phase("prepare");
        if let Some(prepared) = prepare(&self.prepare_step(tag), &vars)? {
            record.prepared_bytes = std::fs::metadata(&prepared.path).ok().map(|m| m.len());
            record.prepare_ms = Some(prepared.ms);
            vars.set("prepared", prepared.path.display().to_string());
        }
        let port = sys::net::free_port().map_err(CellError::setup)?;
        let addr = format!("{}:{port}", self.server_ip);
        vars.set("addr", addr.clone())
            .set("host", self.server_ip)
            .set("port", port.to_string());
        let (mut argv, env, task) = self.command(tag, port, &vars, phase)?;
        if !diagnostic.wrapper.is_empty() {
            if task.is_some() {
                return Err(CellError::Setup(
                    "a container cannot be started under a wrapper".into(),
                ));
            }
            argv.splice(0..0, diagnostic.wrapper.iter().cloned());
        }
        record.command = argv.clone();

        phase("starting server");
        let server_log = self.logs.join(format!("{tag}-server.log"));
        let placed = self.server_place.wrap(&argv, &env, self.server_cpus);
        let mut server = sys::spawn_pinned(self.server_cpus, &placed, &env, &server_log)
            .map_err(CellError::setup)?;
        // Bound after `server`, so dropped before it on every path out of here: the task is
        // killed and removed while its `ctr run` still runs.
        let mut task = task;
        let base = format!("http://{addr}");
        let timeout = self
            .mode
            .ready_timeout()
            .unwrap_or_default()
            .max(self.ready_timeout)
            .max(diagnostic.ready_timeout);
        let (startup, first) = wait_ready(&mut server, &base, workload, timeout)?;
        record.startup_ms = Some(ms(startup));
        record.first_request_ms = Some(ms(first));
        let measured_pid = measured_pid(&server, task.as_mut())?;
        record.rss_idle_kb = crate::sys::procfs::tree_rss_kb(measured_pid);
        Ok(Started {
            container: task,
            server,
            measured_pid,
            base,
            addr,
        })
    }
}

/// argv, environment, and a container mode's task.
type ServerCommand = (Vec<String>, Vec<(String, String)>, Option<Task>);

impl Launch<'_> {
    /// The argv and environment that start the server, and for a container mode its task (the
    /// argv is then `ctr run`, which hands the environment to the container).
    fn command(
        &self,
        tag: &str,
        port: u16,
        vars: &Placeholders,
        phase: &dyn Fn(&str),
    ) -> Result<ServerCommand, CellError> {
        let mut vars = vars.clone();
        let mut env: Vec<(String, String)> = self
            .mode
            .env
            .iter()
            .map(|(k, v)| vars.expand(v).map(|v| (k.clone(), v)))
            .collect::<Result<_, _>>()
            .map_err(|e| CellError::Setup(format!("runtimes/{}.toml env: {e}", self.def.name)))?;
        self.server_placeholders(&mut vars, &mut env)?;
        let expand = |argv: &[String]| {
            vars.expand_all(argv).map_err(|e| {
                CellError::Setup(format!("runtimes/{}.toml launch: {e}", self.def.name))
            })
        };
        let Some(container) = &self.container else {
            return Ok((expand(&self.mode.launch)?, env, None));
        };
        phase("importing image");
        container
            .ctr
            .import(container.image)
            .map_err(CellError::setup)?;
        let id = format!("{tag}-{port}");
        let mut command = vec![container.image.entrypoint.clone()];
        command.extend(expand(container.args)?);
        // A native container's processes carry the run's marker too (a wasm container's run
        // inside its shim, which has it from containerd; guests are not given it).
        if container.image.platform == crate::build::image::Platform::Native.label() {
            env.extend(sys::process::run_marker_env());
        }
        let argv = container
            .ctr
            .run_argv(container.image, &id, container.runtime, &env, &command);
        let task = Task {
            ctr: container.ctr.clone(),
            id,
            shim_pid: None,
        };
        Ok((argv, Vec::new(), Some(task)))
    }
}

impl Launch<'_> {
    /// `{server_args}` and `{server_env}`: the server definition's arguments (with those of this
    /// mode) and environment, the latter through the runtime's `env_flag`, or else into the
    /// process environment `env`.
    fn server_placeholders(
        &self,
        vars: &mut Placeholders,
        env: &mut Vec<(String, String)>,
    ) -> Result<(), CellError> {
        let mode = self.mode.server_mode.as_deref().unwrap_or(self.mode_name);
        let args = self
            .server
            .launch_args(mode, vars)
            .map_err(CellError::Setup)?;
        let server_env = self.server.launch_env(vars).map_err(CellError::Setup)?;
        let mut flags = Vec::new();
        if self.def.env_flag.is_empty() {
            env.extend(server_env);
        } else {
            for (key, value) in server_env {
                let mut one = Placeholders::default();
                one.set("key", key).set("value", value);
                flags.extend(one.expand_all(&self.def.env_flag).map_err(|e| {
                    CellError::Setup(format!("runtimes/{}.toml env_flag: {e}", self.def.name))
                })?);
            }
        }
        vars.set_list("server_args", args)
            .set_list("server_env", flags);
        Ok(())
    }
}

/// The root of the tree whose CPU and memory are the server's: the server, or a container's shim
/// (the parent of the task's init process).
fn measured_pid(server: &Managed, task: Option<&mut Task>) -> Result<i32, CellError> {
    let Some(task) = task else {
        return Ok(server.pid);
    };
    task.shim_pid = task
        .ctr
        .task_pid(&task.id)
        .and_then(crate::container::parent_pid);
    task.shim_pid.ok_or_else(|| {
        CellError::Setup(format!(
            "container {} answered but containerd lists no task pid for it",
            task.id
        ))
    })
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
