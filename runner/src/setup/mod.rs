//! What `run` and `check` both do before starting servers: locate and version each runtime and
//! load generator once, build each server flavour once, and then plan each cell: ready to
//! measure (a `Plan` with real paths), or not run, with the reason (skipped or failed).

mod labels;
mod resolve;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::build::{Build, Builds};
use crate::config::{Cell, RuntimeDef, RuntimeDefs, ServerDefs, Settings};
use crate::container::Containerd;
use crate::measure::{ContainerLaunch, Launch, Plan};
use crate::results::{CellResult, Status, ToolInfo};
pub use resolve::Resolved;
use resolve::{locate, locate_tool, locate_version};

/// A cell as planned: ready to measure, or not run (its result says skipped or failed, and why).
pub enum Planned<'c> {
    Ready(Box<Plan<'c>>),
    NotRun(Box<CellResult>),
}

/// Why a cell is not run.
enum NotRun {
    Skip(String),
    Fail(String),
}

/// Runtimes, generators and builds of one run (or check), resolved and built once; then the
/// places and containerd a matrix asks for, when it asks (cells that need them and lack them are
/// planned as not run, with the reason).
pub struct Setup<'a> {
    defs: &'a RuntimeDefs,
    servers: &'a ServerDefs,
    root: PathBuf,
    target_dir: PathBuf,
    /// Where build, prepare, server and generator logs go.
    logs: PathBuf,
    runtimes: BTreeMap<String, Resolved>,
    /// k6 and wrk, when the cells' load models use them.
    generators: BTreeMap<&'static str, Resolved>,
    go: Option<Resolved>,
    builds: Builds,
    /// What container modes need beyond containerd (runc, a wasm shim), by tool name.
    shims: BTreeMap<String, Resolved>,
    /// This run's containerd, once a container cell is ready to start one (or why it did not).
    containerd: Option<std::result::Result<Containerd, String>>,
    /// Where servers and generators run (everything local unless the matrix places them), or
    /// why the places could not be made.
    topology: crate::hosts::Topology,
    topology_problem: Option<String>,
}

impl<'a> Setup<'a> {
    /// Locates every runtime the cells name, the Go toolchain and, with `with_generators`, the
    /// load generator of each cell's model, and builds what the cells need.
    pub fn new(
        defs: &'a RuntimeDefs,
        servers: &'a ServerDefs,
        cells: &[Cell],
        tools_dir: &Path,
        logs: PathBuf,
        with_generators: bool,
    ) -> Result<Setup<'a>> {
        let mut setup = Setup::resolve(defs, servers, cells, tools_dir, logs, with_generators)?;
        setup.build(cells)?;
        Ok(setup)
    }

    fn resolve(
        defs: &'a RuntimeDefs,
        servers: &'a ServerDefs,
        cells: &[Cell],
        tools_dir: &Path,
        logs: PathBuf,
        with_generators: bool,
    ) -> Result<Setup<'a>> {
        let root = crate::paths::repo_root();
        let mut runtimes = BTreeMap::new();
        for cell in cells {
            runtimes.entry(cell.runtime_key()).or_insert_with(|| {
                let def = defs
                    .get(&cell.runtime)
                    .expect("cells name defined runtimes");
                match &cell.version {
                    None => locate(def, tools_dir, &root),
                    Some(version) => locate_version(def, version, tools_dir),
                }
            });
        }
        let mut generators = BTreeMap::new();
        for cell in cells.iter().filter(|_| with_generators) {
            let name = cell.load.generator().name();
            if cell.load.generator() == crate::config::Generator::Hostile {
                // This runner's own client: the binary that is running.
                let bin = std::env::current_exe().ok();
                generators.entry(name).or_insert(Resolved {
                    problem: bin
                        .is_none()
                        .then(|| "cannot find the runner's own binary".into()),
                    version: Some(env!("CARGO_PKG_VERSION").into()),
                    bin,
                });
                continue;
            }
            if !generators.contains_key(name) {
                let def = defs
                    .tool(name)
                    .with_context(|| format!("runtimes/tools/{name}.toml is missing"))?;
                generators.insert(name, locate_tool(def, tools_dir));
            }
        }
        let mut shims = BTreeMap::new();
        for cell in cells {
            let def = defs
                .get(&cell.runtime)
                .expect("cells name defined runtimes");
            if let Some(container) = &def.modes[&cell.mode].container {
                if !shims.contains_key(&container.shim) {
                    let tool = defs.tool(&container.shim).with_context(|| {
                        format!(
                            "runtimes/{}.toml mode {}: runtimes/tools/{}.toml is missing",
                            def.name, cell.mode, container.shim
                        )
                    })?;
                    shims.insert(container.shim.clone(), locate_tool(tool, tools_dir));
                }
            }
        }
        let go = defs.tool("go").map(|def| locate(def, tools_dir, &root));
        Ok(Setup {
            defs,
            servers,
            root,
            target_dir: crate::paths::target_dir(),
            logs,
            runtimes,
            generators,
            go,
            builds: Builds::default(),
            shims,
            containerd: None,
            topology: crate::hosts::Topology::local(&crate::config::Settings::default()),
            topology_problem: None,
        })
    }

    /// The Go toolchain, when it is installed.
    fn go_bin(&self) -> Option<&Path> {
        self.go.as_ref().and_then(|g| g.bin.as_deref())
    }

    /// Builds what the cells need (leaving out cells whose runtime is unusable and cells whose
    /// server language has no such build: those are skipped with a reason).
    fn build(&mut self, cells: &[Cell]) -> Result<()> {
        let mut needed: Vec<Build> = Vec::new();
        for cell in cells {
            let resolved = &self.runtimes[&cell.runtime_key()];
            let def = self.def(cell);
            let range = def.modes[&cell.mode].versions.as_deref();
            let lacks = range
                .zip(resolved.version.as_deref())
                .is_some_and(|(range, v)| !crate::config::versions::in_range(range, v));
            if resolved.problem.is_none() && !lacks {
                if let Ok(build) = self.build_of(def, cell)? {
                    needed.push(build);
                }
            }
        }
        self.builds = crate::build::build_all(&needed, self.go_bin(), &self.target_dir, &self.logs);
        Ok(())
    }

    /// The build a cell runs: the one its mode (or runtime) names, of its server; `Ok(Err(reason))`
    /// when the server has none (the cell is skipped with the reason).
    fn build_of(
        &self,
        def: &RuntimeDef,
        cell: &Cell,
    ) -> Result<std::result::Result<Build<'a>, String>> {
        let server = self
            .servers
            .get(&cell.server)
            .with_context(|| format!("server {:?} has no definition", cell.server))?;
        let kind = def
            .modes
            .get(&cell.mode)
            .and_then(|m| m.artifact.as_deref())
            .or(def.artifact.as_deref())
            .with_context(|| {
                format!(
                    "runtimes/{}.toml: mode {} names no artifact",
                    def.name, cell.mode
                )
            })?;
        Ok(Build::of(server, kind))
    }

    /// The artifact a build made.
    fn artifact(&self, build: &Build) -> Option<&Path> {
        self.builds
            .results
            .get(&build.key())?
            .as_ref()
            .ok()
            .map(PathBuf::as_path)
    }

    /// Starts this run's containerd (pinned to the server CPUs, so shims and containers are too)
    /// when a container cell has everything else it needs.
    pub fn start_containers(&mut self, cells: &[Cell], server_cpus: &str) {
        let shims: BTreeMap<String, PathBuf> = cells
            .iter()
            .filter(|cell| self.container_blocker(cell).is_none())
            .filter_map(|cell| self.def(cell).modes[&cell.mode].container.as_ref())
            .filter_map(|c| {
                let bin = self.shims.get(&c.shim)?.bin.clone()?;
                Some((bin.file_name()?.to_string_lossy().to_string(), bin))
            })
            .collect();
        let Some(containerd) = cells
            .iter()
            .filter(|cell| self.container_blocker(cell).is_none())
            .find(|cell| self.def(cell).modes[&cell.mode].container.is_some())
            .and_then(|cell| self.runtimes[&cell.runtime_key()].bin.clone())
        else {
            return;
        };
        let shims: Vec<(String, PathBuf)> = shims.into_iter().collect();
        self.containerd = Some(
            Containerd::start(&containerd, &shims, server_cpus, &self.logs)
                .map_err(|e| format!("this run's containerd did not start: {e:#}")),
        );
    }

    /// Why a container cell cannot run whatever the builds do: not root, or its shim missing.
    fn container_blocker(&self, cell: &Cell) -> Option<String> {
        let container = self.def(cell).modes[&cell.mode].container.as_ref()?;
        if self.runtimes[&cell.runtime_key()].problem.is_some() {
            return Some("containerd is missing".into());
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Some(
                "containers need root (containerd and runc make namespaces and mounts): run the matrix as root, or leave the containerd runtime out"
                    .into(),
            );
        }
        match self.shims.get(&container.shim) {
            Some(Resolved {
                problem: Some(problem),
                ..
            }) => Some(format!("{} is missing: {problem}", container.shim)),
            Some(_) => None,
            None => Some(format!("{} was not looked for", container.shim)),
        }
    }

    /// The container half of a cell's decision: None when it is not a container cell or can run.
    fn container_decision(&self, cell: &Cell, kind: &Build) -> Option<NotRun> {
        self.def(cell).modes[&cell.mode].container.as_ref()?;
        if let Some(reason) = self.container_blocker(cell) {
            return Some(NotRun::Skip(reason));
        }
        if let Some(Err(e)) = self.builds.images.get(&kind.key()) {
            return Some(NotRun::Fail(e.clone()));
        }
        match &self.containerd {
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(NotRun::Fail(e.clone())),
            None => Some(NotRun::Fail("this run's containerd was not started".into())),
        }
    }

    /// The image of every build that has one.
    pub fn images(&self) -> BTreeMap<String, crate::build::image::Image> {
        self.builds
            .images
            .iter()
            .filter_map(|(key, image)| Some((key.clone(), image.as_ref().ok()?.clone())))
            .collect()
    }

    /// Whether a Go build was among those needed.
    fn built_go(&self) -> bool {
        self.builds.results.keys().any(|k| k.starts_with("go/"))
    }

    /// Every tool and runtime as the run records it.
    pub fn tools(&self) -> BTreeMap<String, ToolInfo> {
        let mut tools: BTreeMap<String, ToolInfo> = self
            .generators
            .iter()
            .map(|(name, r)| (name.to_string(), r.tool_info()))
            .collect();
        for (name, r) in &self.runtimes {
            tools.insert(name.clone(), r.tool_info());
        }
        for (name, r) in &self.shims {
            tools.insert(name.clone(), r.tool_info());
        }
        if let (Some(go), true) = (&self.go, self.built_go()) {
            if go.problem.is_none() {
                tools.insert("go".into(), go.tool_info());
            }
        }
        tools
    }

    fn def(&self, cell: &Cell) -> &'a RuntimeDef {
        self.defs
            .get(&cell.runtime)
            .expect("cells name defined runtimes")
    }

    /// The plan for one cell: ready to measure, or not run with the reason. `settings` bound the
    /// launch and the windows; the generator is left empty when the setup resolved none (check).
    pub fn plan<'c>(
        &'c self,
        index: usize,
        cell: &'c Cell,
        settings: &'c Settings,
    ) -> Result<Planned<'c>> {
        let def = self.def(cell);
        let kind = self.build_of(def, cell)?;
        let resolved = &self.runtimes[&cell.runtime_key()];
        let labels = labels::labels(self, index, cell, def, kind.as_ref().ok());
        let not_run = match self.blocker(cell, def, resolved, &kind) {
            Some(NotRun::Skip(reason)) => Some((Status::Skipped, reason)),
            Some(NotRun::Fail(reason)) => Some((Status::Failed, reason)),
            None => None,
        };
        let kind = match (not_run, kind) {
            (Some((status, reason)), _) => {
                return Ok(Planned::NotRun(Box::new(CellResult {
                    status,
                    reason: Some(reason),
                    ..labels
                })))
            }
            (None, Ok(kind)) => kind,
            (None, Err(reason)) => unreachable!("a missing build is a skip: {reason}"),
        };
        let generator = self.generators.get(cell.load.generator().name());
        Ok(Planned::Ready(Box::new(self.plan_for(
            cell, def, resolved, kind, generator, settings, labels,
        ))))
    }

    /// Why a cell cannot be measured, if anything stops it.
    fn blocker(
        &self,
        cell: &Cell,
        def: &RuntimeDef,
        resolved: &Resolved,
        kind: &std::result::Result<Build, String>,
    ) -> Option<NotRun> {
        let generator = self.generators.get(cell.load.generator().name());
        if let Some(problem) = &self.topology_problem {
            return Some(NotRun::Skip(problem.clone()));
        }
        if !self.topology.is_local() && def.modes[&cell.mode].container.is_some() {
            return Some(NotRun::Skip(
                "container cells run on containerd's host network, not in the namespaces this matrix places the \
                 server in: measure them in a matrix without hosts"
                    .into(),
            ));
        }
        if let Some(problem) = &resolved.problem {
            return Some(NotRun::Skip(problem.clone()));
        }
        let kind = match kind {
            Err(reason) => return Some(NotRun::Skip(reason.clone())),
            Ok(kind) => kind,
        };
        let server = &self.servers.get(&cell.server).expect("checked by build_of");
        if server.workload(&cell.workload).is_none() {
            return Some(NotRun::Skip(server.missing_workload(&cell.workload)));
        }
        if !server.writes.contains(&cell.write) {
            return Some(NotRun::Skip(format!(
                "the {} server has no {:?} write strategy (its writes: {}; {})",
                server.name,
                cell.write,
                server.writes.join(", "),
                server.file.display()
            )));
        }
        if let Err(reason) = def.mode_support(
            &cell.mode,
            resolved.bin.as_deref(),
            resolved.version.as_deref(),
        ) {
            return Some(NotRun::Skip(reason));
        }
        if let Some(problem) = generator.and_then(|g| g.problem.as_ref()) {
            return Some(NotRun::Skip(format!("load generator missing: {problem}")));
        }
        match self.builds.results.get(&kind.key()) {
            Some(Ok(_)) => self.container_decision(cell, kind),
            Some(Err(e)) => Some(NotRun::Fail(
                crate::measure::CellError::BuildFailed(e.clone()).to_string(),
            )),
            None => Some(NotRun::Fail(
                crate::measure::CellError::NotBuilt.to_string(),
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_for<'c>(
        &'c self,
        cell: &'c Cell,
        def: &'c RuntimeDef,
        resolved: &Resolved,
        kind: Build<'a>,
        generator: Option<&Resolved>,
        settings: &'c Settings,
        labels: CellResult,
    ) -> Plan<'c> {
        let script = match cell.load.generator().name() {
            "wrk" => "wrk-report.lua",
            _ => "k6.js",
        };
        Plan {
            cell,
            labels,
            launch: Launch {
                def,
                mode_name: &cell.mode,
                mode: &def.modes[&cell.mode],
                write: &cell.write,
                bin: resolved.bin.clone(),
                runtime_version: self.runtime_version(def, cell, resolved),
                artifact: self
                    .artifact(&kind)
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
                server: kind.server,
                server_cpus: &settings.server_cpus,
                server_place: &self.topology.server,
                server_ip: &self.topology.server_ip,
                ready_timeout: settings.ready_timeout,
                logs: self.logs.clone(),
                prepared_cache: self.target_dir.join("matrix-prepared"),
                container: self.container_launch(def, cell, Some(&kind)),
            },
            settings,
            generator: generator.and_then(|g| g.bin.clone()).unwrap_or_default(),
            script: self.root.join("scripts").join(script),
            topology: &self.topology,
        }
    }

    /// Makes the namespaces, veths, sshds and delayer the matrix's placement needs. When they
    /// cannot be made, every cell is skipped with the reason (nothing is half made: what was
    /// made is removed).
    pub fn start_hosts(&mut self, matrix: &crate::config::Matrix, work: &Path) {
        let made =
            crate::hosts::Topology::build(&matrix.settings, &matrix.hosts, &matrix.links, work)
                .and_then(|mut t| {
                    let generator = matrix
                        .cells
                        .first()
                        .and_then(|c| self.generators.get(c.load.generator().name()))
                        .and_then(|g| g.bin.clone().map(|bin| (bin, g.version.clone())));
                    if let Some((bin, version)) = generator.filter(|_| !t.is_local()) {
                        t.check_generators(&bin, version.as_deref())?;
                    }
                    Ok(t)
                });
        match made {
            Ok(t) => self.topology = t,
            Err(e) => self.topology_problem = Some(format!("hosts: {e:#}")),
        }
    }

    /// A container cell's containerd, image and shim, when all exist.
    fn container_launch<'c>(
        &'c self,
        def: &'c RuntimeDef,
        cell: &Cell,
        kind: Option<&Build>,
    ) -> Option<ContainerLaunch<'c>> {
        let container = def.modes[&cell.mode].container.as_ref()?;
        let ctr = &self.containerd.as_ref()?.as_ref().ok()?.ctr;
        let image = self.builds.images.get(&kind?.key())?.as_ref().ok()?;
        Some(ContainerLaunch {
            ctr,
            image,
            runtime: &container.runtime,
            args: &container.args,
        })
    }

    /// Where server and generators ran, for the results (none when all ran on loopback).
    pub fn topology_record(&self) -> Option<crate::results::records::TopologyRecord> {
        (!self.topology.is_local()).then(|| self.topology.record())
    }

    /// Removes the places the matrix asked for (also done on drop).
    pub fn teardown(&mut self) {
        self.topology.teardown();
    }

    /// Native Go is "run" by the Go toolchain that built it; other native builds by rustc.
    fn runtime_version(
        &self,
        def: &RuntimeDef,
        cell: &Cell,
        resolved: &Resolved,
    ) -> Option<String> {
        if def.binary.is_none() && cell.server == "go" {
            return self
                .go
                .as_ref()
                .filter(|_| self.built_go())
                .and_then(|g| g.version.clone())
                .map(|v| format!("go {v}"));
        }
        if let Some(container) = &def.modes[&cell.mode].container {
            // The container path is containerd and its shim: both versions name the cell's runtime.
            let shim = self.shims.get(&container.shim)?;
            return Some(format!(
                "containerd {} · {} {}",
                resolved.version.as_deref()?,
                container.shim,
                shim.version.as_deref().unwrap_or("unknown")
            ));
        }
        resolved.version.clone()
    }
}
