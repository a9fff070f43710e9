//! The page's view model: a run grouped into sections (workload x load) of rows, each figure
//! typed and written once (`Figure`), the flags with their explanations, and what was not measured.
//! Templates and charts read only this.

use std::collections::BTreeMap;

use serde::Serialize;

use super::format::{bytes, megabytes, micros, millis, thousands, times, Figure, DASH};
use super::previous::PreviousRun;
use crate::config::LoadModel;
use crate::http::Workload;
use crate::results::{CellResult, Run, Status};

#[derive(Debug, Serialize)]
pub struct Page<'a> {
    pub run: &'a Run,
    /// The run this one is compared with (the newest earlier complete run in the same output dir).
    pub previous: Option<PreviousRun>,
    pub sections: Vec<Section>,
    /// Index into `sections` of the table the page leads with: peak throughput (wrk) on plaintext
    /// when the run has it, since k6 cannot rank fast servers.
    pub headline: Option<usize>,
    /// Each flag kind that occurs, with the words that explain it.
    pub flag_notes: Vec<FlagNote>,
    pub not_measured: Vec<Row>,
    pub counts: BTreeMap<String, usize>,
    pub reproduce: String,
    /// Builds that differ from the shared source (runtime-bug workarounds), with where they ran.
    pub build_notes: Vec<BuildNote>,
}

#[derive(Debug, Serialize)]
pub struct BuildNote {
    /// e.g. "go on wasmer".
    pub cells: String,
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct Section {
    pub workload: String,
    pub load_model: LoadModel,
    pub about: String,
    pub load: String,
    /// One request in flight at a time (closed or peak load with one VU/connection).
    pub one_at_a_time: bool,
    pub rows: Vec<Row>,
}

impl Section {
    /// "workload/load": how charts name the table they belong under.
    pub fn key(&self) -> String {
        format!("{}/{}", self.workload, self.load)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub server: String,
    pub runtime: String,
    pub runtime_version: String,
    pub mode: String,
    pub mode_about: String,
    pub write: String,
    pub target: String,
    /// "ok", "skipped", "failed", with " (partial)" when measurement stopped early.
    pub status: String,
    pub reason: String,
    /// req/s was measured (the cell is ok, or partial).
    pub measured: bool,
    pub rps: Figure,
    pub rps_range: String,
    /// req/s relative to native (current-thread, same server, workload, load and write strategy).
    pub ratio: Figure,
    /// Server CPU time per request, e.g. "7.8 µs".
    pub cpu_per_request: Figure,
    /// CPU per request relative to the same native baseline, e.g. "2.9×" (empty without one).
    pub cpu_cost: String,
    pub p50: Figure,
    pub p95: Figure,
    pub p99: Figure,
    pub receiving: Figure,
    /// Peak RSS in MB.
    pub rss: Figure,
    pub cpu: String,
    pub startup: Figure,
    pub artifact: String,
    pub flags: String,
    pub command: String,
    /// req/s change against the previous run's same cell, e.g. "+3.1%".
    pub delta: String,
}

#[derive(Debug, Serialize)]
pub struct FlagNote {
    pub code: String,
    /// Cause and remedy.
    pub explanation: String,
    pub cells: Vec<FlaggedCell>,
}

#[derive(Debug, Serialize)]
pub struct FlaggedCell {
    pub id: String,
    pub evidence: String,
}

/// The cell a row's ratio is taken against.
fn baseline<'a>(run: &'a Run, cell: &CellResult) -> Option<&'a CellResult> {
    let same = |c: &&CellResult| {
        c.runtime == "native"
            && c.status == Status::Ok
            && c.server == cell.server
            && c.workload == cell.workload
            && c.load == cell.load
    };
    run.cells
        .iter()
        .filter(same)
        .find(|c| c.mode == "current-thread" && c.write == cell.write)
        .or_else(|| {
            run.cells
                .iter()
                .filter(same)
                .find(|c| c.mode == "current-thread")
        })
}

/// For native rows the "runtime" is the server's own compiler: rustc for Rust, go for Go.
fn native_compiler(run: &Run, cell: &CellResult) -> Option<String> {
    if cell.runtime != "native" || cell.server == "rust" {
        return None;
    }
    run.tools
        .get(&cell.server)
        .and_then(|t| t.version.clone())
        .map(|v| format!("{} {v}", cell.server))
}

/// `a / b` when both are there and `b` is positive.
fn ratio_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// Server CPU, with the share outside the serving thread once it is worth showing.
fn cpu_text(all: Option<f64>, other: Option<f64>) -> String {
    match (all, other) {
        (Some(all), Some(other)) if other >= 5.0 => {
            format!("{all:.0}% ({other:.0}% other threads)")
        }
        (Some(all), _) => format!("{all:.0}%"),
        (None, _) => DASH.into(),
    }
}

pub fn row(run: &Run, cell: &CellResult, previous: Option<&PreviousRun>) -> Row {
    let m = &cell.metrics;
    let base = baseline(run, cell).map(|b| &b.metrics);
    let cpu_cost = ratio_of(
        m.server_cpu_us_per_request,
        base.and_then(|b| b.server_cpu_us_per_request),
    );
    Row {
        id: cell.id.clone(),
        server: cell.server.clone(),
        runtime: cell.runtime.clone(),
        runtime_version: native_compiler(run, cell)
            .or_else(|| cell.runtime_version.clone())
            .unwrap_or_default(),
        mode: cell.mode.clone(),
        mode_about: cell.mode_about.clone(),
        write: cell.write.clone(),
        target: cell.target.clone(),
        status: cell.status.as_str().to_string() + if cell.partial { " (partial)" } else { "" },
        reason: cell.reason.clone().unwrap_or_default().replace('\n', " "),
        measured: m.rps.is_some(),
        rps: Figure::new(m.rps, thousands),
        rps_range: match (m.rps_min, m.rps_max) {
            (Some(lo), Some(hi)) if cell.repeats_rps.len() > 1 => {
                format!("{}–{}", thousands(lo), thousands(hi))
            }
            _ => String::new(),
        },
        ratio: Figure::new(ratio_of(m.rps, base.and_then(|b| b.rps)), times),
        cpu_per_request: Figure::new(m.server_cpu_us_per_request, micros),
        cpu_cost: cpu_cost.map(|r| format!("{r:.1}×")).unwrap_or_default(),
        p50: Figure::new(m.p50_ms, millis),
        p95: Figure::new(m.p95_ms, millis),
        p99: Figure::new(m.p99_ms, millis),
        receiving: Figure::new(m.receiving_avg_ms, millis),
        rss: Figure::new(m.rss_peak_kb.map(|kb| kb as f64 / 1024.0), megabytes),
        cpu: cpu_text(m.server_cpu_pct, m.server_other_threads_cpu_pct),
        startup: Figure::new(m.startup_ms, millis),
        artifact: m.artifact_bytes.map(bytes).unwrap_or_else(|| DASH.into()),
        flags: cell
            .flags
            .iter()
            .map(|f| f.code())
            .collect::<Vec<_>>()
            .join(", "),
        command: cell.command.join(" "),
        delta: match ratio_of(m.rps, previous.and_then(|p| p.rps.get(&cell.id).copied())) {
            Some(r) => format!("{:+.1}%", (r - 1.0) * 100.0),
            None => String::new(),
        },
    }
}

pub fn page(run: &Run, previous: Option<PreviousRun>) -> Page<'_> {
    let mut counts = BTreeMap::new();
    let mut not_measured = Vec::new();
    for cell in &run.cells {
        *counts.entry(cell.status.as_str().to_string()).or_insert(0) += 1;
        if cell.status != Status::Ok {
            not_measured.push(row(run, cell, previous.as_ref()));
        }
    }
    let sections = sections(run, previous.as_ref());
    let headline = sections
        .iter()
        .position(|s| s.load_model == LoadModel::Peak && s.workload == "plaintext")
        .or_else(|| sections.iter().position(|s| s.load_model == LoadModel::Peak))
        .or(if sections.is_empty() { None } else { Some(0) });
    let matrix_arg = if run.matrix_file.ends_with("matrix.toml") && !run.matrix_file.contains('/') {
        String::new()
    } else {
        format!(" MATRIX={}", run.matrix_file)
    };
    Page {
        run,
        previous,
        build_notes: build_notes(run),
        sections,
        headline,
        flag_notes: flag_notes(run),
        not_measured,
        counts,
        reproduce: format!("make matrix{matrix_arg}"),
    }
}

/// One section per workload x load in matrix order, with its measured (or failed) rows; rows of one
/// server language together (Rust first), in matrix order within each.
fn sections(run: &Run, previous: Option<&PreviousRun>) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for cell in run.cells.iter().filter(|c| c.status != Status::Skipped) {
        let r = row(run, cell, previous);
        match sections
            .iter_mut()
            .find(|s| s.workload == cell.workload && s.load == cell.load)
        {
            Some(section) => section.rows.push(r),
            None => sections.push(Section {
                workload: cell.workload.clone(),
                load_model: cell.load_model,
                about: Workload::get(&cell.workload)
                    .map(|w| w.about)
                    .unwrap_or_default()
                    .into(),
                load: cell.load.clone(),
                one_at_a_time: cell.load_model != LoadModel::Open && cell.concurrency == 1,
                rows: vec![r],
            }),
        }
    }
    for section in &mut sections {
        section.rows.sort_by_key(|r| {
            crate::build::SERVERS
                .iter()
                .position(|s| *s == r.server)
                .unwrap_or(usize::MAX)
        });
    }
    sections
}

/// Each flag kind once, with its cause and remedy and every cell's evidence.
fn flag_notes(run: &Run) -> Vec<FlagNote> {
    let mut notes: BTreeMap<&'static str, FlagNote> = BTreeMap::new();
    for cell in &run.cells {
        for flag in &cell.flags {
            let note = notes.entry(flag.code()).or_insert_with(|| FlagNote {
                code: flag.code().into(),
                cells: Vec::new(),
                explanation: flag.cause_and_remedy().into(),
            });
            note.cells.push(FlaggedCell {
                id: cell.id.clone(),
                evidence: flag.evidence(),
            });
        }
    }
    notes.into_values().collect()
}

/// One line per workaround, naming the server x runtime pairs that ran that build.
fn build_notes(run: &Run) -> Vec<BuildNote> {
    let mut by_note: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for cell in &run.cells {
        if let Some(note) = cell.build_note.as_deref() {
            let pair = format!("{} on {}", cell.server, cell.runtime);
            let pairs = by_note.entry(note).or_default();
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
    }
    by_note
        .into_iter()
        .map(|(note, pairs)| BuildNote {
            cells: pairs.join(", "),
            note: note.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Run {
        let path = crate::paths::repo_root().join("runner/tests/fixtures/run.json");
        crate::results::read_run(&path).unwrap()
    }

    #[test]
    fn ratios_are_taken_against_native_current_thread() {
        let run = fixture();
        let page = page(&run, None);
        let plaintext = page
            .sections
            .iter()
            .find(|s| s.workload == "plaintext")
            .unwrap();
        let native = plaintext
            .rows
            .iter()
            .find(|r| r.runtime == "native")
            .unwrap();
        assert_eq!(native.ratio.text, "1.00×");
        let wasmtime = plaintext
            .rows
            .iter()
            .find(|r| r.runtime == "wasmtime" && r.write == "single")
            .unwrap();
        let expected = run
            .cells
            .iter()
            .find(|c| c.id == wasmtime.id)
            .unwrap()
            .metrics
            .rps
            .unwrap()
            / run
                .cells
                .iter()
                .find(|c| c.id == native.id)
                .unwrap()
                .metrics
                .rps
                .unwrap();
        assert_eq!(wasmtime.ratio.value, Some(expected));
        // The fixture predates CPU per request: shown as not measured, no cost ratio.
        assert_eq!(wasmtime.cpu_per_request.text, "–");
        assert_eq!(wasmtime.cpu_cost, "");
    }

    #[test]
    fn one_request_at_a_time_sections_are_marked() {
        let mut run = fixture();
        assert!(page(&run, None).sections.iter().all(|s| !s.one_at_a_time));
        let load = run.cells[0].load.clone();
        for cell in run.cells.iter_mut().filter(|c| c.load == load) {
            cell.concurrency = 1;
        }
        let page = page(&run, None);
        for section in &page.sections {
            let closed_or_peak = section.load_model != LoadModel::Open;
            assert_eq!(
                section.one_at_a_time,
                section.load == load && closed_or_peak
            );
        }
    }

    #[test]
    fn builds_that_differ_from_the_shared_source_are_listed_once() {
        let mut run = fixture();
        let note = "built with a workaround";
        let wasm_ids: Vec<String> = run
            .cells
            .iter()
            .filter(|c| c.runtime == "wasmtime")
            .map(|c| c.id.clone())
            .collect();
        assert!(wasm_ids.len() > 1, "the fixture has several wasmtime cells");
        for cell in &mut run.cells {
            if wasm_ids.contains(&cell.id) {
                cell.build_note = Some(note.into());
            }
        }
        let page = page(&run, None);
        assert_eq!(page.build_notes.len(), 1);
        assert_eq!(page.build_notes[0].note, note);
        assert!(page.build_notes[0].cells.contains("on wasmtime"));
        // Runs written before build notes existed have none, and list none.
        assert!(super::page(&fixture(), None).build_notes.is_empty());
    }

    #[test]
    fn cpu_per_request_is_compared_with_the_same_native_baseline() {
        let mut run = fixture();
        let (native_id, wasmtime_id) = {
            let plaintext = |c: &&CellResult| c.workload == "plaintext";
            let native = run
                .cells
                .iter()
                .filter(plaintext)
                .find(|c| c.runtime == "native");
            let wasmtime = run
                .cells
                .iter()
                .filter(plaintext)
                .find(|c| c.runtime == "wasmtime" && c.write == "single");
            (native.unwrap().id.clone(), wasmtime.unwrap().id.clone())
        };
        for cell in &mut run.cells {
            if cell.id == native_id {
                cell.metrics.server_cpu_us_per_request = Some(7.8);
            } else if cell.id == wasmtime_id {
                cell.metrics.server_cpu_us_per_request = Some(22.62);
            }
        }
        let page = page(&run, None);
        let row = |id: &str| {
            page.sections
                .iter()
                .flat_map(|s| &s.rows)
                .find(|r| r.id == id)
                .unwrap()
                .clone()
        };
        assert_eq!(row(&native_id).cpu_per_request.text, "7.8 µs");
        assert_eq!(row(&native_id).cpu_cost, "1.0×");
        assert_eq!(row(&wasmtime_id).cpu_per_request.text, "22.6 µs");
        assert_eq!(row(&wasmtime_id).cpu_cost, "2.9×");
    }

}
