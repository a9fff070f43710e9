//! Measuring: a server started once per round for all the cells it serves (`launch`), one load
//! window per cell and round (`window`), the arithmetic from windows to figures (`summarize`),
//! and the rounds themselves (`rounds`). Nothing here is simulated: real processes, real sockets.

pub mod causes;
pub mod diagnose;
pub mod error;
pub mod executor;
pub mod launch;
mod prepare;
pub mod remeasure;
pub mod rounds;
pub mod threads;
pub mod window;

use std::path::PathBuf;
use std::time::Duration;

pub use error::CellError;
pub use launch::{ContainerLaunch, Diagnostic, Launch, LaunchRecord, Started};

use crate::config::{Cell, Settings};
use crate::http::{probe, Workload};
use crate::load::{Invocation, WindowRequest};
use crate::results::measured::{LaunchFigures, Measured};
use crate::results::{CellResult, Status};
use window::WindowSpec;

/// Everything a cell needs to be measured, resolved by `setup` (which plans only cells that can
/// be: every path here is real).
pub struct Plan<'a> {
    pub cell: &'a Cell,
    /// Its labels as the results carry them (status and figures are filled in as it is measured).
    pub labels: CellResult,
    pub launch: Launch<'a>,
    pub settings: &'a Settings,
    /// The generator's binary (k6 or wrk, after the load model) and its script.
    pub generator: PathBuf,
    pub script: PathBuf,
    /// Where the server and the generators run, and the links between them.
    pub topology: &'a crate::hosts::Topology,
}

impl Plan<'_> {
    pub fn workload(&self) -> Result<&Workload, CellError> {
        self.launch
            .server
            .workload(&self.cell.workload)
            .ok_or_else(|| CellError::Setup(self.launch.server.missing_workload(&self.cell.workload)))
    }

    /// The generator's pinned CPUs over every generator host: with several, they share the load.
    pub fn generator_cpus(&self) -> usize {
        self.topology
            .generators
            .iter()
            .map(|g| crate::config::cpus::cpu_count(&g.cpus))
            .sum()
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
            .join(format!("{:03}-{generator}-{label}", self.labels.index));
        // The generators read the request body from a file, whatever it holds.
        let body_file = self.launch.logs.join(format!("{:03}-request-body", self.labels.index));
        if !workload.body.is_empty() {
            std::fs::write(&body_file, &workload.body)
                .map_err(|e| CellError::Setup(format!("cannot write {}: {e}", body_file.display())))?;
        }
        Ok(WindowSpec {
            invocation: Invocation::for_window(&WindowRequest {
                generator: &self.generator,
                script: &self.script,
                url: &url,
                method: &workload.method,
                headers: &workload.headers,
                body_file: (!workload.body.is_empty()).then_some(body_file.as_path()),
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
    /// Its windows, launches and memory, as the results record them.
    pub measured: Measured,
    /// The exact command of the first launch that served it.
    pub command: Vec<String>,
    /// Why it stopped being measured; it is not measured in later rounds.
    pub failure: Option<CellError>,
}

impl<'p, 'a> CellRun<'p, 'a> {
    pub fn new(plan: &'p Plan<'a>) -> Self {
        CellRun {
            plan,
            measured: Measured::default(),
            command: Vec::new(),
            failure: None,
        }
    }

    /// Adds what a launch that served one of its windows showed.
    pub fn served_by(&mut self, record: &LaunchRecord) {
        if self.command.is_empty() {
            self.command = record.command.clone();
        }
        self.measured.launches.push(LaunchFigures {
            startup_ms: record.startup_ms,
            first_request_ms: record.first_request_ms,
            rss_idle_kb: record.rss_idle_kb,
            prepare_ms: record.prepare_ms,
            prepared_bytes: record.prepared_bytes,
        });
    }

    /// The cell as measured so far: `Ok` once a window finished and nothing failed, else
    /// `Failed` with the reason (`partial` when some rounds finished first). Its figures are
    /// derived from this by `analysis`.
    pub fn result(&self) -> CellResult {
        let mut result = self.plan.labels.clone();
        result.command = self.command.clone();
        let sizes = std::mem::take(&mut result.measured);
        result.measured = Measured {
            artifact_bytes: sizes.artifact_bytes,
            artifact_stripped_bytes: sizes.artifact_stripped_bytes,
            failure: self.failure.as_ref().map(CellError::record),
            ..self.measured.clone()
        };
        let windows = &self.measured.windows;
        (result.status, result.reason, result.partial) = match &self.failure {
            None if windows.is_empty() => (
                Status::Failed,
                Some(CellError::NoMeasurement.to_string()),
                false,
            ),
            None => (Status::Ok, None, false),
            Some(e) => (Status::Failed, Some(e.to_string()), !windows.is_empty()),
        };
        result
    }
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
