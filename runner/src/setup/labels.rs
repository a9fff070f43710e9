//! A cell's labels as the results carry them (what it is, not what it measured), for every cell,
//! measured or not.

use crate::build::Build;
use crate::config::{Cell, RuntimeDef};
use crate::results::measured::Measured;
use crate::results::{CellResult, LinkResult, Share, Status};

/// The result of `cell` before anything is measured: labels, the build's sizes, no figures.
pub fn labels(
    setup: &super::Setup,
    index: usize,
    cell: &Cell,
    def: &RuntimeDef,
    kind: Option<&Build>,
) -> CellResult {
    let mode = &def.modes[&cell.mode];
    let resolved = &setup.runtimes[&cell.runtime_key()];
    let artifact = kind.and_then(|k| setup.artifact(k));
    CellResult {
        index,
        id: cell.id.clone(),
        server: cell.server.clone(),
        target: kind.map_or("none", |k| k.target_label()).to_string(),
        build_note: kind.and_then(|k| k.build_note()).map(String::from),
        build: kind.map(|k| k.key()),
        runtime: cell.runtime.clone(),
        version: cell.version.clone(),
        mode: cell.mode.clone(),
        mode_about: mode.about.clone(),
        mode_limits: mode.connection_limits.clone(),
        direct: mode.container.as_ref().map(|c| c.direct.clone()),
        write: cell.write.clone(),
        workload: cell.workload.clone(),
        workload_about: setup
            .servers
            .get(&cell.server)
            .and_then(|s| s.workload(&cell.workload))
            .map(|w| w.about.clone()),
        load: cell.load.name.clone(),
        load_model: cell.load.model,
        generator: cell.load.generator().name().into(),
        concurrency: cell.load.concurrency(),
        offered_rps: cell.load.rate,
        pipeline: cell.load.pipeline.filter(|d| *d > 1),
        sweep: cell.load.sweep.clone(),
        link: cell.load.link.as_ref().map(|(link, load)| LinkResult {
            label: link.label(),
            rtt_ms: link.rtt.as_secs_f64() * 1000.0,
            rate: link.rate.clone(),
            load: load.clone(),
        }),
        share: cell.load.share.as_ref().map(|(share, curve)| Share {
            curve: curve.clone(),
            share: *share,
            of: cell.load.peak.clone().unwrap_or_default(),
        }),
        status: Status::Failed,
        reason: None,
        runtime_version: setup.runtime_version(def, cell, resolved),
        command: Vec::new(),
        measured: Measured {
            artifact_bytes: artifact
                .and_then(|a| std::fs::metadata(a).ok())
                .map(|m| m.len()),
            artifact_stripped_bytes: kind
                .and_then(|k| setup.builds.stripped.get(&k.key()).copied()),
            ..Default::default()
        },
        metrics: Default::default(),
        flags: Vec::new(),
        repeats_rps: Vec::new(),
        partial: false,
        rounds: Vec::new(),
        estimates: Default::default(),
        disturbed: Vec::new(),
        ratio: None,
    }
}
