//! "Links": where a run measured the same cells over several links (round-trip times, rates), the
//! links side by side per runtime, with what a closed load's req/s should be at each RTT if the
//! link added nothing but its delay: concurrency / (latency at the shortest RTT + the added RTT).

use serde::Serialize;

use super::format::{Unit, millis, thousands, Figure, DASH};
use crate::analysis::Analysis;
use crate::results::Run;

#[derive(Debug, Serialize)]
pub struct LinkGroup {
    /// "rust · wasmtime default, plaintext closed-50".
    pub title: String,
    pub load: String,
    pub model: String,
    /// Shortest RTT first.
    pub rows: Vec<LinkRow>,
}

#[derive(Debug, Serialize)]
pub struct LinkRow {
    pub link: String,
    pub status: String,
    pub reason: String,
    pub rps: Figure,
    pub p50: Figure,
    pub p99: Figure,
    /// Closed and peak loads: req/s predicted from the shortest link's latency plus this RTT.
    pub predicted: Figure,
    /// Measured over predicted, "0.97×".
    pub agreement: String,
}

/// One group per server x runtime x mode x write x workload x load measured over two or more
/// links, as the analysis grouped them.
pub fn link_groups(run: &Run, a: &Analysis) -> Vec<LinkGroup> {
    a.link_groups.iter().map(|g| group(run, a, g)).collect()
}

fn group(run: &Run, a: &Analysis, g: &crate::analysis::links::LinkGroup) -> LinkGroup {
    let first = &run.cells[g.members[0].cell];
    let load = first
        .link
        .as_ref()
        .map(|l| l.load.clone())
        .unwrap_or_default();
    let rows = g
        .members
        .iter()
        .map(|m| {
            let c = &run.cells[m.cell];
            let f = &a.cells[m.cell];
            LinkRow {
                link: c.link.as_ref().map(|l| l.label.clone()).unwrap_or_default(),
                status: c.status.as_str().into(),
                reason: c.reason.clone().unwrap_or_default(),
                rps: Figure::of(f.estimates.rps.as_ref(), Unit::Count),
                p50: Figure::new(f.metrics.p50_ms, millis),
                p99: Figure::new(f.metrics.p99_ms, millis),
                predicted: Figure::new(m.predicted_rps, thousands),
                agreement: m
                    .agreement
                    .map_or_else(|| DASH.into(), super::format::ratio),
            }
        })
        .collect();
    LinkGroup {
        title: format!(
            "{} · {} {}{}, {} {load}",
            first.server,
            crate::config::matrix::runtime_key(&first.runtime, first.version.as_deref()),
            first.mode,
            if first.write == "single" {
                String::new()
            } else {
                format!(" ({} writes)", first.write)
            },
            first.workload
        ),
        load,
        model: first.load_model.as_str().into(),
        rows,
    }
}
