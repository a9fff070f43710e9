//! Comparisons between cells other than "× native": a container cell against the same build run
//! directly ("× direct"), and one cell under several releases of its runtime against the newest
//! ("× newest"). Both are paired by round, with the pairing rules of `baseline`.

use super::baseline::{direct_of, same_but_version};
use super::cell::CellFigures;
use super::stats::{paired_ratio, Estimate};
use crate::config::{versions, LoadModel};
use crate::results::records::{NoiseFigure, NoiseTable};
use crate::results::{CellResult, RoundFigures, Status};

/// (round, value) of every round that has the value.
pub fn by_round(f: &CellFigures, value: fn(&RoundFigures) -> Option<f64>) -> Vec<(u32, f64)> {
    f.rounds
        .iter()
        .filter_map(|r| Some((r.round, value(r)?)))
        .collect()
}

fn rps(r: &RoundFigures) -> Option<f64> {
    Some(r.rps)
}

fn cpu(r: &RoundFigures) -> Option<f64> {
    r.server_cpu_us_per_request
}

/// One cell against another of the same rounds: req/s and CPU per request, `a / b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    pub rps: Option<Estimate>,
    pub cpu: Option<Estimate>,
}

impl Paired {
    /// `a / b` by round; with a noise table, each interval is where the ratio falls in a rerun
    /// (the same widening as every figure's), else the rounds' own.
    pub fn of(a: &CellFigures, b: &CellFigures, model: LoadModel, table: Option<&NoiseTable>) -> Paired {
        let (ra, rb) = (by_round(a, rps), by_round(b, rps));
        let (ca, cb) = (by_round(a, cpu), by_round(b, cpu));
        let widened = |x: &[(u32, f64)], y: &[(u32, f64)], figure| {
            super::history::widen_pair(&super::ratios::per_round(x, y), figure, model, table)
        };
        Paired {
            rps: widened(&ra, &rb, NoiseFigure::Ratio).or_else(|| paired_ratio(&ra, &rb)),
            cpu: widened(&ca, &cb, NoiseFigure::CpuRatio).or_else(|| paired_ratio(&ca, &cb)),
        }
    }
}

/// The interval excludes 1: a difference at 95% confidence.
pub fn differs(e: Option<&Estimate>) -> bool {
    e.is_some_and(|e| e.n >= 2 && (e.lo > 1.0 || e.hi < 1.0))
}

/// A container cell and its direct counterpart (indices into the run's cells).
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPair {
    pub direct: usize,
    pub container: usize,
    /// Container over direct.
    pub ratio: Paired,
}

/// Every measured container cell whose direct counterpart ran in the same run.
pub fn container_pairs(
    cells: &[CellResult],
    figures: &[CellFigures],
    table: Option<&NoiseTable>,
) -> Vec<ContainerPair> {
    (0..cells.len())
        .filter(|&i| cells[i].status != Status::Skipped && cells[i].share.is_none())
        .filter_map(|container| {
            let direct = direct_of(cells, &cells[container])?;
            Some(ContainerPair {
                direct,
                container,
                ratio: Paired::of(&figures[container], &figures[direct], cells[container].load_model, table),
            })
        })
        .collect()
}

/// One group of cells that differ only in their runtime's release, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionGroup {
    pub members: Vec<VersionMember>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionMember {
    pub cell: usize,
    /// Against the newest release (none for the newest itself).
    pub vs_newest: Option<Paired>,
    pub rps_changed: bool,
    pub cpu_changed: bool,
}

/// Every group of two or more releases.
pub fn version_groups(
    cells: &[CellResult],
    figures: &[CellFigures],
    table: Option<&NoiseTable>,
) -> Vec<VersionGroup> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let eligible =
        |c: &CellResult| c.status != Status::Skipped && c.share.is_none() && c.runtime != "native";
    for (i, c) in cells.iter().enumerate().filter(|(_, c)| eligible(c)) {
        match groups
            .iter_mut()
            .find(|g| same_but_version(&cells[g[0]], c))
        {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    let release = |i: &usize| {
        cells[*i]
            .runtime_version
            .as_deref()
            .and_then(versions::reported)
    };
    groups
        .into_iter()
        .filter_map(|mut g| {
            g.sort_by_key(|i| std::cmp::Reverse(release(i)));
            g.dedup_by(|a, b| cells[*a].runtime_version == cells[*b].runtime_version);
            if g.len() < 2 {
                return None;
            }
            let newest = g[0];
            let members = g
                .iter()
                .map(|&i| {
                    let vs = (i != newest)
                        .then(|| Paired::of(&figures[i], &figures[newest], cells[i].load_model, table));
                    VersionMember {
                        cell: i,
                        rps_changed: vs.is_some_and(|p| differs(p.rps.as_ref())),
                        cpu_changed: vs.is_some_and(|p| differs(p.cpu.as_ref())),
                        vs_newest: vs,
                    }
                })
                .collect();
            Some(VersionGroup { members })
        })
        .collect()
}
