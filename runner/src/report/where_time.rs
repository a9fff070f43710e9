//! "Where the time goes": per diagnosed server, its CPU per request split by where it ran,
//! instructions and system calls per request against native's, the calls by name, a sentence
//! that says what differs, and its flame graph; or why a figure is missing.

use serde::Serialize;

use super::format::{micros, Figure, DASH};
use crate::analysis::diagnosis::{syscall_sentence, Bucket, DiagnosisFigures};
use crate::analysis::Analysis;
use crate::results::Run;

#[derive(Debug, Serialize)]
pub struct WhereTime {
    pub rows: Vec<WhereRow>,
    /// One generated sentence per non-native server with system-call counts.
    pub sentences: Vec<String>,
    /// The buckets, in the order the rows and the chart give them.
    pub buckets: Vec<&'static str>,
    /// Instruction counts reused from earlier runs (same build, release, mode and load).
    pub reused: Vec<String>,
    /// Servers whose runtime got extra arguments under valgrind, with them.
    pub counted_with: Vec<CountedWith>,
    /// Whether any server has a count from the previous run to compare with.
    pub has_previous: bool,
    /// The paced pass's spacing, "2" (ms), where any server had one.
    pub paced_gap_ms: Option<String>,
    /// Whether the steady calls are whole calls of requests served on their own (three paced
    /// passes), rather than the calls the same back to back and paced (one).
    pub alone: bool,
}

/// A server whose instructions were counted with runtime arguments given only under valgrind.
#[derive(Debug, Clone, Serialize)]
pub struct CountedWith {
    pub label: String,
    pub args: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WhereRow {
    pub key: String,
    pub server: String,
    pub runtime: String,
    /// "rust · wasmtime default".
    pub label: String,
    pub cell: String,
    pub load: String,
    pub cpu: Figure,
    /// CPU per request in each bucket (µs), in `WhereTime::buckets` order.
    pub split: Vec<Figure>,
    pub instructions: Figure,
    pub instructions_x: Figure,
    /// Instructions per request against the previous run's same server: "same (+0.2%)", "+4.1%".
    pub vs_previous: String,
    pub changed: bool,
    /// The calls per request that do not depend on timing (every call in runs without a paced
    /// pass).
    pub syscalls: Figure,
    pub syscalls_x: Figure,
    /// "epoll_wait 1 · recvfrom 2 · sendto 1" (the steady calls).
    pub calls: String,
    /// Every call per request, back to back → paced: "15 → 165" (with one paced pass: the calls
    /// that depend on timing), or "–".
    pub timing: String,
    /// The calls that depend on timing by name: "accept4 5.4 → 82 · write 2.9 → 4.5 (4 steady)".
    pub timing_calls: String,
    pub flamegraph: Option<String>,
    /// Why a figure is missing, where one is.
    pub missing: Vec<String>,
}

/// Instructions per request, "102k", "11.98k".
pub fn count(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 1e3 {
        format!("{:.2}k", v / 1e3)
    } else {
        format!("{v:.1}")
    }
}

fn calls(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

pub fn where_time(run: &Run, a: &Analysis) -> Option<WhereTime> {
    if a.diagnoses.is_empty() {
        return None;
    }
    let mut ordered: Vec<&DiagnosisFigures> = a.diagnoses.iter().collect();
    // Native first within each server language, then as the run lists them.
    ordered.sort_by_key(|d| {
        let c = &run.cells[d.cell];
        (
            super::view::server_rank(run, &c.server),
            c.runtime != "native",
        )
    });
    let has_previous = a.instruction_changes.iter().any(Option::is_some);
    // The spacing most servers were paced at heads the columns; a row paced otherwise (a server
    // too slow for it) says its own.
    let gaps: Vec<String> = ordered
        .iter()
        .filter_map(|d| d.syscalls.as_ref().ok()?.paced_gap_ms)
        .map(calls)
        .collect();
    let paced_gap_ms = gaps
        .iter()
        .max_by_key(|g| gaps.iter().filter(|x| x == g).count())
        .cloned();
    let rows: Vec<WhereRow> = ordered
        .iter()
        .map(|d| row(run, a, d, paced_gap_ms.as_deref()))
        .collect();
    let sentences = ordered
        .iter()
        .filter_map(|d| {
            let native = &a.diagnoses[d.native?];
            if native.key == d.key {
                return None;
            }
            let (mine, theirs) = (d.syscalls.as_ref().ok()?, native.syscalls.as_ref().ok()?);
            Some(syscall_sentence(
                &format!("`{}`", label(run, d)),
                mine,
                theirs,
            ))
        })
        .collect();
    let reused = ordered
        .iter()
        .filter_map(|d| {
            d.instructions_reused_from
                .as_ref()
                .map(|r| format!("{} (counted in run {r})", label(run, d)))
        })
        .collect();
    let counted_with = ordered
        .iter()
        .filter(|d| !d.instructions_runtime_args.is_empty())
        .map(|d| CountedWith {
            label: label(run, d),
            args: d.instructions_runtime_args.join(" "),
        })
        .collect();
    Some(WhereTime {
        rows,
        counted_with,
        sentences,
        buckets: Bucket::ALL.iter().map(|b| b.label()).collect(),
        reused,
        has_previous,
        paced_gap_ms,
        alone: a
            .diagnoses
            .iter()
            .any(|d| d.syscalls.as_ref().is_ok_and(|s| s.alone)),
    })
}

fn label(run: &Run, d: &DiagnosisFigures) -> String {
    super::view::series_label(&run.cells[d.cell]).replace(" (single writes)", "")
}

fn row(run: &Run, a: &Analysis, d: &DiagnosisFigures, usual_gap: Option<&str>) -> WhereRow {
    let cell = &run.cells[d.cell];
    let native = d.native.map(|n| &a.diagnoses[n]);
    let times = |mine: Option<f64>, theirs: Option<f64>| match (mine, theirs) {
        (Some(m), Some(t)) if t > 0.0 => Figure::value(Some(m / t), super::format::Unit::Multiple),
        _ => Figure::new(None, |x| x.to_string()),
    };
    let instructions = d.instructions.as_ref().ok().copied();
    let change = a
        .diagnoses
        .iter()
        .position(|x| x.key == d.key)
        .and_then(|i| a.instruction_changes.get(i).copied().flatten());
    let syscalls = d.syscalls.as_ref().ok().map(|s| s.repeatable());
    let mut missing = Vec::new();
    for (what, reason) in [
        ("instructions", d.instructions.as_ref().err()),
        ("system calls", d.syscalls.as_ref().err()),
        ("profile", d.breakdown.as_ref().err()),
    ] {
        if let Some(reason) = reason {
            missing.push(format!("{what}: {reason}"));
        }
    }
    WhereRow {
        key: d.key.clone(),
        server: cell.server.clone(),
        runtime: cell.runtime.clone(),
        label: format!(
            "{} · {}",
            cell.server,
            super::view::series_label(cell).trim_start_matches("go · ")
        ),
        cell: cell.id.clone(),
        load: cell.load.clone(),
        cpu: Figure::new(d.cpu_us, micros),
        split: Bucket::ALL
            .iter()
            .map(|b| Figure::new(d.cpu_in(*b), micros))
            .collect(),
        instructions: Figure::new(instructions, count),
        instructions_x: times(
            instructions,
            native.and_then(|n| n.instructions.as_ref().ok().copied()),
        ),
        vs_previous: change.map(|c| c.describe()).unwrap_or_default(),
        changed: change.is_some_and(|c| c.changed()),
        syscalls: Figure::new(syscalls, calls),
        syscalls_x: times(
            syscalls,
            native.and_then(|n| n.syscalls.as_ref().ok().map(|s| s.repeatable())),
        ),
        calls: d
            .syscalls
            .as_ref()
            .map(|s| {
                s.steady_by_name
                    .iter()
                    .filter(|(_, v)| *v >= 0.1)
                    .map(|(n, v)| format!("{n} {}", calls(*v)))
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .unwrap_or_else(|_| DASH.into()),
        timing: d
            .syscalls
            .as_ref()
            .ok()
            .and_then(|s| {
                if s.alone {
                    s.all_calls()
                } else {
                    s.timing_totals()
                }
            })
            .map_or_else(
                || DASH.into(),
                |(back, paced)| {
                    let gap = d
                        .syscalls
                        .as_ref()
                        .ok()
                        .and_then(|s| s.paced_gap_ms)
                        .map(calls);
                    match gap.filter(|g| Some(g.as_str()) != usual_gap) {
                        Some(g) => format!("{} → {} ({g} ms apart)", calls(back), calls(paced)),
                        None => format!("{} → {}", calls(back), calls(paced)),
                    }
                },
            ),
        timing_calls: d
            .syscalls
            .as_ref()
            .map(|s| {
                s.timing
                    .iter()
                    .filter(|t| t.back_to_back.max(t.paced) >= 0.1)
                    .map(|t| {
                        let steady = if t.steady > 0.0 {
                            format!(" ({} steady)", calls(t.steady))
                        } else {
                            String::new()
                        };
                        format!(
                            "{} {} → {}{steady}",
                            t.name,
                            calls(t.back_to_back),
                            calls(t.paced)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .unwrap_or_default(),
        flamegraph: d.flamegraph.clone(),
        missing,
    }
}
