//! Measuring: a server started once per round for all the cells it serves (`launch`), one load
//! window per cell and round (`window`), the arithmetic from windows to figures (`summarize`),
//! and the rounds themselves (`rounds`). Nothing here is simulated: real processes, real sockets.

pub mod causes;
pub mod error;
pub mod launch;
mod prepare;
pub mod remeasure;
pub mod rounds;
pub mod summarize;
pub mod threads;
pub mod window;

use std::path::PathBuf;
use std::time::Duration;

pub use error::CellError;
pub use launch::{ContainerLaunch, Launch, LaunchRecord, Started};

use crate::build::ArtifactKind;
use crate::config::{Cell, Settings};
use crate::http::{probe, Workload};
use crate::load::{Invocation, WindowRequest};
use crate::results::{CellResult, Metrics, Status};
use window::{Window, WindowSpec};

/// Everything a cell needs, resolved by `setup`.
pub struct Plan<'a> {
    pub index: usize,
    pub cell: &'a Cell,
    pub launch: Launch<'a>,
    /// The server build this cell runs; `None` when its server language has none for this runtime.
    pub kind: Option<&'static ArtifactKind>,
    pub artifact_stripped_bytes: Option<u64>,
    pub settings: &'a Settings,
    /// The generator's binary (k6 or wrk, after the load model) and its script.
    pub generator: PathBuf,
    pub script: PathBuf,
    /// Where the server and the generators run, and the links between them.
    pub topology: &'a crate::hosts::Topology,
}

impl Plan<'_> {
    /// A result with the cell's labels and no figures yet.
    pub fn blank(&self, status: Status, reason: Option<String>) -> CellResult {
        CellResult {
            index: self.index,
            id: self.cell.id.clone(),
            server: self.cell.server.clone(),
            target: self.kind.map_or("none", |k| k.target_label()).to_string(),
            build_note: self.kind.and_then(|k| k.build_note()).map(String::from),
            runtime: self.cell.runtime.clone(),
            version: self.cell.version.clone(),
            mode: self.cell.mode.clone(),
            mode_about: self.launch.mode.about.clone(),
            direct: self
                .launch
                .mode
                .container
                .as_ref()
                .map(|c| c.direct.clone()),
            write: self.cell.write.clone(),
            workload: self.cell.workload.clone(),
            load: self.cell.load.name.clone(),
            load_model: self.cell.load.model,
            generator: self.cell.load.generator().name().into(),
            concurrency: self.cell.load.concurrency(),
            offered_rps: self.cell.load.rate,
            pipeline: self.cell.load.pipeline.filter(|d| *d > 1),
            sweep: self.cell.load.sweep.clone(),
            link: self
                .cell
                .load
                .link
                .as_ref()
                .map(|(link, load)| crate::results::LinkResult {
                    label: link.label(),
                    rtt_ms: link.rtt.as_secs_f64() * 1000.0,
                    rate: link.rate.clone(),
                    load: load.clone(),
                }),
            share: self
                .cell
                .load
                .share
                .as_ref()
                .map(|(share, curve)| crate::results::Share {
                    curve: curve.clone(),
                    share: *share,
                    of: self.cell.load.peak.clone().unwrap_or_default(),
                }),
            status,
            reason,
            runtime_version: self.launch.runtime_version.clone(),
            command: Vec::new(),
            metrics: Metrics {
                artifact_bytes: self
                    .kind
                    .and_then(|_| std::fs::metadata(&self.launch.artifact).ok())
                    .map(|m| m.len()),
                artifact_stripped_bytes: self.artifact_stripped_bytes,
                ..Default::default()
            },
            flags: Vec::new(),
            repeats_rps: Vec::new(),
            partial: false,
            rounds: Vec::new(),
            estimates: Default::default(),
            disturbed: Vec::new(),
            ratio: None,
        }
    }

    fn workload(&self) -> Result<&'static Workload, CellError> {
        Workload::get(&self.cell.workload)
            .ok_or_else(|| CellError::Setup("unknown workload".into()))
    }

    fn context(&self) -> summarize::Context {
        summarize::Context {
            model: self.cell.load.model,
            concurrency: self.cell.load.concurrency() * self.cell.load.depth(),
            // Every generator host's pinned CPUs: with several, they share the load.
            generator_cpus: self
                .topology
                .generators
                .iter()
                .map(|g| crate::config::cpus::cpu_count(&g.cpus))
                .sum(),
        }
    }

    /// One window of this cell, after `warmup` of load that is not counted, offering `rate`
    /// requests per second (open model); `label` ("r2", "r2-again1") names its logs.
    fn window_spec(
        &self,
        base: &str,
        label: &str,
        warmup: Duration,
        rate: u32,
    ) -> Result<WindowSpec<'_>, CellError> {
        let workload = self.workload()?;
        let url = format!("{base}{}", workload.path);
        let generator = self.cell.load.generator().name();
        let tag = self
            .launch
            .logs
            .join(format!("{:03}-{generator}-{label}", self.index));
        Ok(WindowSpec {
            invocation: Invocation::for_window(&WindowRequest {
                generator: &self.generator,
                script: &self.script,
                url: &url,
                method: workload.method,
                body_bytes: workload.body.map_or(0, <[u8]>::len),
                rate,
                load: &self.cell.load,
                duration: self.settings.duration,
                warmup,
                threads: crate::config::cpus::cpu_count(&self.settings.generator_cpus),
                tag,
            }),
            generator,
            offered_rps: (self.cell.load.model == crate::config::LoadModel::Open).then_some(rate),
            duration: self.settings.duration,
            warmup,
            topology: self.topology,
            link: self.cell.load.link.as_ref().map(|(link, _)| link),
        })
    }
}

/// What one cell has measured so far, over rounds.
pub struct CellRun<'p, 'a> {
    pub plan: &'p Plan<'a>,
    pub windows: Vec<(u32, Window)>,
    /// The launches that served it (startup and prepare figures), one or more per round.
    pub launches: Vec<LaunchRecord>,
    pub warm_ms: Vec<f64>,
    /// Peak RSS of the server's tree over this cell's windows, and RSS after its last one.
    pub rss_peak_kb: u64,
    pub rss_end_kb: Option<u64>,
    /// Why it stopped being measured; it is not measured in later rounds.
    pub failure: Option<CellError>,
    /// Disturbed windows measured again after the rounds.
    pub remeasured: remeasure::Remeasured,
}

impl<'p, 'a> CellRun<'p, 'a> {
    pub fn new(plan: &'p Plan<'a>) -> Self {
        CellRun {
            plan,
            windows: Vec::new(),
            launches: Vec::new(),
            warm_ms: Vec::new(),
            rss_peak_kb: 0,
            rss_end_kb: None,
            failure: None,
            remeasured: Default::default(),
        }
    }

    /// The cell's result from what it measured so far: `Ok` once a window finished and nothing
    /// failed, else `Failed` with the reason (`partial` when some rounds finished first).
    pub fn result(&self) -> CellResult {
        let mut result = self.plan.blank(Status::Failed, None);
        if let Some(first) = self.launches.first() {
            result.command = first.command.clone();
        }
        let launch_figures = self.launch_metrics(std::mem::take(&mut result.metrics));
        let summary = summarize::summarize(&self.windows, self.plan.context(), launch_figures);
        result.metrics = summary.metrics;
        result.repeats_rps = summary.repeats_rps;
        result.rounds = summary.rounds;
        result.estimates = summary.estimates;
        result.flags = summary.flags;
        for round in &mut result.rounds {
            round.remeasured = self.remeasured.rounds.contains(&round.round);
        }
        let generator_cpus = self.plan.context().generator_cpus;
        result.disturbed = (self.remeasured.set_aside.iter())
            .map(|(round, w)| summarize::round_figures(*round, w, generator_cpus))
            .collect();
        if self.plan.cell.load.model == crate::config::LoadModel::Hostile {
            result
                .flags
                .extend(shut_out(&self.windows, self.plan.cell.load.concurrency()));
        }
        let offered: Vec<f64> = result.rounds.iter().filter_map(|r| r.offered_rps).collect();
        if let Some(rate) = crate::stats::median(&offered) {
            result.offered_rps = Some(rate.round() as u32);
        }
        match &self.failure {
            None if self.windows.is_empty() => {
                result.reason = Some(CellError::NoMeasurement.to_string())
            }
            None => result.status = Status::Ok,
            Some(e) => {
                result.partial = !self.windows.is_empty();
                result.reason = Some(e.to_string());
                if let CellError::ServerDied {
                    cause: Some(cause), ..
                }
                | CellError::StoppedAnswering {
                    cause: Some(cause), ..
                } = e
                {
                    result.flags.push(crate::results::Flag::Broke {
                        connections: self.plan.cell.load.concurrency(),
                        cause: cause.clone(),
                    });
                }
            }
        }
        result
    }

    /// Startup, prepare and memory figures: medians over the launches that served the cell; the
    /// prepare time is the first launch's (later ones reuse its cached output).
    fn launch_metrics(&self, mut m: Metrics) -> Metrics {
        let median = |f: fn(&LaunchRecord) -> Option<f64>| {
            crate::stats::median(&self.launches.iter().filter_map(f).collect::<Vec<_>>())
        };
        m.startup_ms = median(|l| l.startup_ms);
        m.first_request_ms = median(|l| l.first_request_ms);
        m.rss_idle_kb = median(|l| l.rss_idle_kb.map(|kb| kb as f64)).map(|kb| kb as u64);
        m.prepare_ms = self.launches.first().and_then(|l| l.prepare_ms);
        m.prepared_bytes = self.launches.first().and_then(|l| l.prepared_bytes);
        m.warm_request_ms = crate::stats::median(&self.warm_ms);
        m.rss_peak_kb = Some(self.rss_peak_kb).filter(|&kb| kb > 0);
        m.rss_end_kb = self.rss_end_kb;
        m
    }
}

/// Hostile windows: fresh requests unanswered or slower than the bound, in any round.
fn shut_out(windows: &[(u32, Window)], connections: u32) -> Option<crate::results::Flag> {
    let bound_ms = crate::load::hostile::FRESH_REQUEST_BOUND.as_secs_f64() * 1000.0;
    let failed: u64 = windows
        .iter()
        .map(|(_, w)| (w.summary.failed_rate * w.summary.requests as f64).round() as u64)
        .sum();
    let worst_ms = windows
        .iter()
        .filter_map(|(_, w)| w.summary.duration_ms.map(|d| d.max))
        .fold(0.0, f64::max);
    (failed > 0 || worst_ms > bound_ms).then_some(crate::results::Flag::ShutOut {
        connections,
        failed,
        worst_ms,
    })
}

/// Ten checked single requests before a window: the warm request latency (milliseconds each).
fn warm_requests(base: &str, workload: &Workload) -> Result<Vec<f64>, CellError> {
    let agent = probe::agent(Duration::from_secs(5));
    (0..10)
        .map(|_| {
            probe::timed_check(&agent, base, workload)
                .map(launch::ms)
                .map_err(CellError::WarmRequest)
        })
        .collect()
}
