//! Turns a run (JSON) into the published page: `templates/*.tera` rendered into the output dir.
//! The view model carries both the raw run and preformatted rows, so a template edit can use either.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::results::{CellResult, Run, Status};
use crate::workload::Workload;

#[derive(Debug, Serialize)]
pub struct Page<'a> {
    pub run: &'a Run,
    /// The run this one is compared with (the newest earlier complete run in the same output dir).
    pub previous: Option<PreviousRun>,
    /// Filled by `render_all` once the SVGs are drawn.
    pub charts: Vec<crate::charts::Chart>,
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
    /// closed, open or peak.
    pub load_model: String,
    pub about: String,
    pub load: String,
    /// One request in flight at a time (closed or peak load with one VU/connection).
    pub one_at_a_time: bool,
    pub rows: Vec<Row>,
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
    pub status: String,
    pub reason: String,
    pub rps: String,
    pub rps_range: String,
    /// req/s relative to native (current-thread, same server, workload, load and write strategy).
    pub ratio: String,
    pub ratio_value: Option<f64>,
    /// Server CPU time per request, e.g. "7.8 µs".
    pub cpu_per_request: String,
    /// CPU per request relative to the same native baseline, e.g. "2.9×".
    pub cpu_cost: String,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    pub receiving: String,
    pub rss: String,
    pub cpu: String,
    pub startup: String,
    pub artifact: String,
    pub flags: String,
    pub command: String,
    /// req/s change against the previous run's same cell, e.g. "+3.1%".
    pub delta: String,
    pub raw_rps: Option<f64>,
    pub raw_p50: Option<f64>,
    pub raw_p95: Option<f64>,
    pub raw_p99: Option<f64>,
    pub raw_rss_mb: Option<f64>,
    pub raw_startup_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviousRun {
    pub run_id: String,
    pub started: String,
    /// Set when the previous run measured another machine (CPU model, CPU count or kernel): its
    /// description, since the deltas then mix machine and code.
    pub other_machine: Option<String>,
    #[serde(skip)]
    pub rps: BTreeMap<String, f64>,
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

pub fn row(run: &Run, cell: &CellResult, previous: Option<&PreviousRun>) -> Row {
    let m = &cell.metrics;
    let base = baseline(run, cell).map(|b| &b.metrics);
    let ratio_value = match (m.rps, base.and_then(|b| b.rps)) {
        (Some(rps), Some(base)) if base > 0.0 => Some(rps / base),
        _ => None,
    };
    let cpu_cost = match (
        m.server_cpu_us_per_request,
        base.and_then(|b| b.server_cpu_us_per_request),
    ) {
        (Some(us), Some(base)) if base > 0.0 => format!("{:.1}×", us / base),
        _ => String::new(),
    };
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
        status: format!("{:?}", cell.status).to_lowercase()
            + if cell.partial { " (partial)" } else { "" },
        reason: cell.reason.clone().unwrap_or_default().replace('\n', " "),
        rps: m.rps.map(thousands).unwrap_or_else(dash),
        rps_range: match (m.rps_min, m.rps_max) {
            (Some(lo), Some(hi)) if cell.repeats_rps.len() > 1 => {
                format!("{}–{}", thousands(lo), thousands(hi))
            }
            _ => String::new(),
        },
        ratio: ratio_value.map(|r| format!("{r:.2}×")).unwrap_or_else(dash),
        ratio_value,
        cpu_per_request: m
            .server_cpu_us_per_request
            .map(|us| format!("{us:.1} µs"))
            .unwrap_or_else(dash),
        cpu_cost,
        p50: m.p50_ms.map(millis).unwrap_or_else(dash),
        p95: m.p95_ms.map(millis).unwrap_or_else(dash),
        p99: m.p99_ms.map(millis).unwrap_or_else(dash),
        receiving: m.receiving_avg_ms.map(millis).unwrap_or_else(dash),
        rss: m
            .rss_peak_kb
            .map(|kb| format!("{:.1} MB", kb as f64 / 1024.0))
            .unwrap_or_else(dash),
        cpu: match (m.server_cpu_pct, m.server_other_threads_cpu_pct) {
            // Worth showing once threads beside the serving one take a visible share.
            (Some(all), Some(other)) if other >= 5.0 => {
                format!("{all:.0}% ({other:.0}% other threads)")
            }
            (Some(all), _) => format!("{all:.0}%"),
            (None, _) => dash(),
        },
        startup: m.startup_ms.map(millis).unwrap_or_else(dash),
        artifact: m.artifact_bytes.map(bytes).unwrap_or_else(dash),
        flags: cell
            .flags
            .iter()
            .map(|f| f.code())
            .collect::<Vec<_>>()
            .join(", "),
        command: cell.command.join(" "),
        delta: match (m.rps, previous.and_then(|p| p.rps.get(&cell.id))) {
            (Some(now), Some(&before)) if before > 0.0 => {
                format!("{:+.1}%", (now / before - 1.0) * 100.0)
            }
            _ => String::new(),
        },
        raw_rps: m.rps,
        raw_p50: m.p50_ms,
        raw_p95: m.p95_ms,
        raw_p99: m.p99_ms,
        raw_rss_mb: m.rss_peak_kb.map(|kb| kb as f64 / 1024.0),
        raw_startup_ms: m.startup_ms,
    }
}

pub fn page(run: &Run, previous: Option<PreviousRun>) -> Page<'_> {
    let mut sections: Vec<Section> = Vec::new();
    let mut not_measured = Vec::new();
    let mut notes: BTreeMap<&'static str, FlagNote> = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for cell in &run.cells {
        *counts
            .entry(format!("{:?}", cell.status).to_lowercase())
            .or_insert(0) += 1;
        let r = row(run, cell, previous.as_ref());
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
        if cell.status != Status::Ok {
            not_measured.push(r.clone());
        }
        if cell.status == Status::Skipped {
            continue;
        }
        let about = Workload::get(&cell.workload)
            .map(|w| w.about)
            .unwrap_or_default();
        match sections
            .iter_mut()
            .find(|s| s.workload == cell.workload && s.load == cell.load)
        {
            Some(section) => section.rows.push(r),
            None => sections.push(Section {
                workload: cell.workload.clone(),
                load_model: cell.load_model.clone(),
                about: about.into(),
                load: cell.load.clone(),
                one_at_a_time: cell.load_model != "open" && cell.concurrency == 1,
                rows: vec![r],
            }),
        }
    }
    // Rows of one server language together (Rust first), in matrix order within each.
    for section in &mut sections {
        section.rows.sort_by_key(|r| {
            crate::artifacts::SERVERS
                .iter()
                .position(|s| *s == r.server)
                .unwrap_or(usize::MAX)
        });
    }
    let headline = sections
        .iter()
        .position(|s| s.load_model == "peak" && s.workload == "plaintext")
        .or_else(|| sections.iter().position(|s| s.load_model == "peak"))
        .or(if sections.is_empty() { None } else { Some(0) });
    let matrix_arg = if run.matrix_file.ends_with("matrix.toml") && !run.matrix_file.contains('/') {
        String::new()
    } else {
        format!(" MATRIX={}", run.matrix_file)
    };
    // One line per workaround, naming the server x runtime pairs that ran that build.
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
    let build_notes = by_note
        .into_iter()
        .map(|(note, pairs)| BuildNote {
            cells: pairs.join(", "),
            note: note.to_string(),
        })
        .collect();
    Page {
        run,
        previous,
        build_notes,
        charts: Vec::new(),
        sections,
        headline,
        flag_notes: notes.into_values().collect(),
        not_measured,
        counts,
        reproduce: format!("make matrix{matrix_arg}"),
    }
}

/// The newest complete run in `out/runs/` that started before `run`, for the per-cell deltas.
pub fn previous_run(out: &Path, run: &Run) -> Option<PreviousRun> {
    let mut ids: Vec<String> = std::fs::read_dir(out.join("runs"))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|id| id.as_str() < run.run_id.as_str())
        .collect();
    ids.sort();
    ids.iter().rev().find_map(|id| {
        let earlier = crate::results::read_run(&out.join("runs").join(id).join("run.json")).ok()?;
        let (then, now) = (&earlier.environment, &run.environment);
        let same_machine =
            (&then.cpu_model, then.cpus, &then.kernel) == (&now.cpu_model, now.cpus, &now.kernel);
        Some(PreviousRun {
            run_id: earlier.run_id.clone(),
            started: earlier.started.clone(),
            other_machine: (!same_machine).then(|| {
                format!(
                    "{}, {} CPUs, Linux {}",
                    then.cpu_model, then.cpus, then.kernel
                )
            }),
            rps: earlier
                .cells
                .iter()
                .filter_map(|c| Some((c.id.clone(), c.metrics.rps?)))
                .collect(),
        })
    })
}

/// Draws the charts and renders every `templates/*.tera` into `out` (file name minus `.tera`).
pub fn render_all(templates: &Path, run: &Run, out: &Path) -> Result<Vec<std::path::PathBuf>> {
    let glob = format!("{}/*.tera", templates.display());
    let tera = tera::Tera::new(&glob)
        .with_context(|| format!("templates in {} do not parse", templates.display()))?;
    let mut page = page(run, previous_run(out, run));
    page.charts = crate::charts::write_all(&page, out).context("drawing the charts")?;
    let mut written: Vec<std::path::PathBuf> =
        page.charts.iter().map(|c| out.join(&c.file)).collect();
    let context = tera::Context::from_serialize(&page).context("cannot build the page context")?;
    let mut names: Vec<&str> = tera.get_template_names().collect();
    names.sort();
    for name in names {
        let text = tera
            .render(name, &context)
            .map_err(|e| anyhow::anyhow!("{}", tera_error_chain(&e)))
            .with_context(|| format!("rendering templates/{name}"))?;
        let target = out.join(name.trim_end_matches(".tera"));
        crate::results::write_atomic(&target, text.as_bytes())?;
        written.push(target);
    }
    Ok(written)
}

fn tera_error_chain(e: &tera::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

fn dash() -> String {
    "–".into()
}

pub fn thousands(value: f64) -> String {
    let whole = value.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn millis(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

pub fn bytes(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.2} MB", n as f64 / 1024.0 / 1024.0)
    } else {
        format!("{:.0} KB", n as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Run {
        let path = crate::paths::repo_root().join("runner/tests/fixtures/run.json");
        crate::results::read_run(&path).unwrap()
    }

    #[test]
    fn deltas_compare_with_the_newest_earlier_run() {
        let run = fixture();
        let out = tempfile::tempdir().unwrap();
        let mut older = run.clone();
        older.run_id = "20000101-000000".into();
        let mut newer_but_before = run.clone();
        newer_but_before.run_id = "20000102-000000".into();
        for cell in &mut newer_but_before.cells {
            cell.metrics.rps = cell.metrics.rps.map(|r| r / 2.0);
        }
        let mut later = run.clone();
        later.run_id = "99990101-000000".into();
        for r in [&older, &newer_but_before, &later] {
            crate::results::write_json_atomic(
                &out.path().join("runs").join(&r.run_id).join("run.json"),
                r,
            )
            .unwrap();
        }
        let previous = previous_run(out.path(), &run).unwrap();
        assert_eq!(previous.run_id, "20000102-000000");
        let page = page(&run, Some(previous));
        let native = page.sections[0]
            .rows
            .iter()
            .find(|r| r.runtime == "native")
            .unwrap();
        assert_eq!(native.delta, "+100.0%");
        assert_eq!(page.previous.as_ref().unwrap().other_machine, None);
        // A previous run from another machine is named, so its deltas are not read as code changes.
        older.run_id = "20000103-000000".into();
        older.environment.cpu_model = "Another CPU".into();
        crate::results::write_json_atomic(
            &out.path().join("runs").join(&older.run_id).join("run.json"),
            &older,
        )
        .unwrap();
        let previous = previous_run(out.path(), &run).unwrap();
        assert_eq!(previous.run_id, "20000103-000000");
        let other = previous.other_machine.unwrap();
        assert!(other.starts_with("Another CPU, "), "{other}");
    }

    #[test]
    fn formats() {
        assert_eq!(thousands(19680.47), "19,680");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(millis(43.98), "43.98 ms");
        assert_eq!(millis(0.0351), "0.035 ms");
        assert_eq!(bytes(2_894_069), "2.76 MB");
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
        assert_eq!(native.ratio, "1.00×");
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
        assert_eq!(wasmtime.ratio_value, Some(expected));
        // The fixture predates CPU per request: shown as not measured, no cost ratio.
        assert_eq!(wasmtime.cpu_per_request, "–");
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
            let closed_or_peak = section.load_model != "open";
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
        assert_eq!(row(&native_id).cpu_per_request, "7.8 µs");
        assert_eq!(row(&native_id).cpu_cost, "1.0×");
        assert_eq!(row(&wasmtime_id).cpu_per_request, "22.6 µs");
        assert_eq!(row(&wasmtime_id).cpu_cost, "2.9×");
    }

    #[test]
    fn the_page_shows_figures_flags_and_skips() {
        let run = fixture();
        let dir = tempfile::tempdir().unwrap();
        let written = render_all(
            &crate::paths::repo_root().join("templates"),
            &run,
            dir.path(),
        )
        .unwrap();
        assert!(written.iter().any(|p| p.ends_with("README.md")));
        let md = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
        let native = run.cells.iter().find(|c| c.runtime == "native").unwrap();
        assert!(
            md.contains(&thousands(native.metrics.rps.unwrap())),
            "native req/s missing:\n{md}"
        );
        assert!(md.contains("| wasmtime"), "{md}");
        assert!(
            md.contains("Network stall, not runtime cost"),
            "stall explanation missing:\n{md}"
        );
        assert!(md.contains("skipped"), "skipped cells missing:\n{md}");
        assert!(md.contains(&run.environment.cpu_model));
        assert!(md.contains("make matrix"));
    }
}
