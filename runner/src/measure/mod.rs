//! One cell, start to finish: start the server (`launch`), check it answers, load it for each
//! repeat (`window`) while sampling its memory, stop it, and turn what was seen into figures
//! (`summarize`). Nothing here is simulated: real processes, real sockets.

pub mod error;
pub mod launch;
mod prepare;
pub mod summarize;
pub mod threads;
pub mod window;

use std::path::PathBuf;
use std::time::Duration;

pub use error::CellError;
pub use launch::{Launch, LaunchRecord, Started};

use crate::build::ArtifactKind;
use crate::config::{Cell, Settings};
use crate::http::{probe, Workload};
use crate::load::{Invocation, WindowRequest};
use crate::results::{CellResult, Metrics, Status};
use crate::sys::{procfs, sampler::Sampler};
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
            mode: self.cell.mode.clone(),
            mode_about: self.launch.mode.about.clone(),
            write: self.cell.write.clone(),
            workload: self.cell.workload.clone(),
            load: self.cell.load.name.clone(),
            load_model: self.cell.load.model,
            generator: self.cell.load.model.generator().into(),
            concurrency: self.cell.load.concurrency(),
            offered_rps: self.cell.load.rate,
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
        }
    }

    /// Measures the cell: `Ok` with every figure, or `Failed` with the reason and what was
    /// measured before it (`partial` when some windows finished).
    pub fn measure(&self, phase: &dyn Fn(&str)) -> CellResult {
        let mut result = self.blank(Status::Failed, None);
        let mut record = LaunchRecord::default();
        let outcome = self.measure_windows(&mut record, &mut result.metrics, phase);
        result.command = record.command.clone();
        apply_launch(&record, &mut result.metrics);
        let (windows, failure) = match outcome {
            Ok(windows) => (windows, None),
            Err((windows, e)) => (windows, Some(e)),
        };
        let ctx = summarize::Context {
            model: self.cell.load.model,
            concurrency: self.cell.load.concurrency(),
            generator_cpus: crate::config::cpus::cpu_count(&self.settings.generator_cpus),
        };
        let summary = summarize::summarize(&windows, ctx, std::mem::take(&mut result.metrics));
        result.metrics = summary.metrics;
        result.repeats_rps = summary.repeats_rps;
        result.flags = summary.flags;
        match failure {
            None if windows.is_empty() => result.reason = Some(CellError::NoMeasurement.to_string()),
            None => result.status = Status::Ok,
            Some(e) => {
                result.partial = !windows.is_empty();
                result.reason = Some(e.to_string());
            }
        }
        result
    }

    /// Starts the server, runs every repeat's window and stops it. On failure, the windows that
    /// finished come back with the error. Memory figures go straight into `metrics`.
    fn measure_windows(
        &self,
        record: &mut LaunchRecord,
        metrics: &mut Metrics,
        phase: &dyn Fn(&str),
    ) -> Result<Vec<Window>, (Vec<Window>, CellError)> {
        let workload = Workload::get(&self.cell.workload)
            .ok_or_else(|| (Vec::new(), CellError::Setup("unknown workload".into())))?;
        let Started { mut server, base, .. } = self
            .launch
            .start(workload, record, phase)
            .map_err(|e| (Vec::new(), e))?;
        metrics.warm_request_ms = warm_up(&base, workload).map_err(|e| (Vec::new(), e))?;
        metrics.rss_idle_kb = procfs::tree_rss_kb(server.pid);
        let sampler = Sampler::start(server.pid);
        let mut windows = Vec::new();
        let mut failure = None;
        for repeat in 0..self.settings.repeats {
            phase(&format!(
                "{} {}/{}",
                self.cell.load.model.generator(),
                repeat + 1,
                self.settings.repeats
            ));
            match window::run_window(&server, &self.window_spec(workload, &base, repeat)) {
                Ok(w) => windows.push(w),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            if server.exited_keep_zombie() {
                failure = Some(CellError::ServerDied {
                    log: server.log_tail(5),
                });
                break;
            }
        }
        let memory = sampler.finish();
        metrics.rss_end_kb = procfs::tree_rss_kb(server.pid);
        metrics.rss_peak_kb =
            Some(memory.hwm_peak_kb.max(memory.rss_sum_peak_kb)).filter(|&kb| kb > 0);
        server.stop();
        match failure {
            None => Ok(windows),
            Some(e) => Err((windows, e)),
        }
    }

    fn window_spec(&self, workload: &Workload, base: &str, repeat: u32) -> WindowSpec<'_> {
        let url = format!("{base}{}", workload.path);
        let generator = self.cell.load.model.generator();
        let tag = self
            .launch
            .logs
            .join(format!("{:03}-{generator}-{repeat}", self.index));
        WindowSpec {
            invocation: Invocation::for_window(&WindowRequest {
                generator: &self.generator,
                script: &self.script,
                url: &url,
                method: workload.method,
                body_bytes: workload.body.map_or(0, <[u8]>::len),
                load: &self.cell.load,
                duration: self.settings.duration,
                warmup: self.settings.warmup,
                threads: crate::config::cpus::cpu_count(&self.settings.generator_cpus),
                tag,
            }),
            generator,
            generator_cpus: &self.settings.generator_cpus,
            duration: self.settings.duration,
            warmup: self.settings.warmup,
        }
    }
}

/// Ten checked single requests after readiness: the warm request latency (median).
fn warm_up(base: &str, workload: &Workload) -> Result<Option<f64>, CellError> {
    let agent = probe::agent(Duration::from_secs(5));
    let mut warm = Vec::new();
    for _ in 0..10 {
        let took = probe::timed_check(&agent, base, workload).map_err(CellError::WarmRequest)?;
        warm.push(launch::ms(took));
    }
    Ok(crate::stats::median(&warm))
}

fn apply_launch(record: &LaunchRecord, m: &mut Metrics) {
    m.prepared_bytes = record.prepared_bytes;
    m.prepare_ms = record.prepare_ms;
    m.startup_ms = record.startup_ms;
    m.first_request_ms = record.first_request_ms;
}
