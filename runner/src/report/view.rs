//! The page's view model: a run grouped into sections (workload x load) of rows, each figure
//! typed and written once (`Figure`), the flags with their explanations, and what was not measured.
//! Templates and charts read only this.

use std::collections::BTreeMap;

use serde::Serialize;

use super::format::{Unit, 
    bytes, megabytes, micros, millis, thousands, Figure, DASH,
};
use crate::analysis::cell::CellFigures;
use crate::analysis::sweeps::Breakage;
use crate::analysis::Analysis;
use crate::config::LoadModel;
use crate::published::PreviousRun;
use crate::results::{Bound, CellResult, Flag, Run, Status};

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
    /// How the figures and intervals were made.
    pub method: Method,
    /// Set when the baseline cells varied too much across rounds to rank close cells.
    pub noise_notice: Option<String>,
    /// Pipelined loads, described ("pipe-16: 16 requests in flight per connection").
    pub pipelined: Vec<String>,
    /// Latency against offered load: one curve per workload and `of_peak` load.
    pub curves: Vec<Curve>,
    /// Connection sweeps: one per workload and sweeping load.
    pub scaling: Vec<Scaling>,
    /// Each open load's generator floor.
    pub floors: Vec<FloorNote>,
    /// Cells measured under several releases of their runtime, the releases side by side.
    pub across_versions: Vec<super::versions::AcrossVersions>,
    /// The same cells over several links, side by side, with what the RTT alone predicts.
    pub links: Vec<super::links::LinkGroup>,
    /// Where server and generators ran, when not all on loopback.
    pub topology: Option<crate::hosts::TopologyRecord>,
    /// Each build's OCI image and its sizes.
    pub images: Vec<super::containers::ImageRow>,
    /// The server languages of the run, in the order it first names them.
    pub servers: Vec<String>,
    /// How whole runs shift on this machine, which every interval includes (when measured).
    pub noise: Option<NoiseView>,
    /// The first screen: per server language, its verdict table and advice.
    pub verdicts: Vec<super::front::Verdict>,
    /// Hostile loads: the level each server x runtime withstood.
    pub hostile: Vec<super::hostile::HostileTable>,
    /// Where each diagnosed server's time goes (when the run diagnosed servers).
    pub where_time: Option<super::where_time::WhereTime>,
    /// Container cells beside their direct counterparts.
    pub direct_vs_container: Vec<super::containers::ContainerPair>,
}

/// Latency against offered load for one workload: a series per server x runtime x mode.
#[derive(Debug, Serialize)]
pub struct Curve {
    pub workload: String,
    /// The `[[load]]` name the shares came from, and the peak load they are shares of.
    pub name: String,
    pub of: String,
    pub series: Vec<Series>,
}

#[derive(Debug, Serialize)]
pub struct Series {
    /// The server language, which sets the series' line and marker.
    pub server: String,
    /// e.g. "wasmtime default".
    pub label: String,
    pub runtime: String,
    pub points: Vec<Point>,
}

/// One share of the peak: what was offered and what came back (medians over rounds).
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub id: String,
    pub share_pct: f64,
    pub offered: Figure,
    pub achieved: Figure,
    pub p50: Figure,
    pub p99: Figure,
    pub flags: String,
    /// The generator, not the server, limited this point (flagged generator-bound): drawn hollow.
    pub limited: bool,
}

/// req/s and p99 against connections for one workload: a series per server x runtime x mode.
#[derive(Debug, Serialize)]
pub struct Scaling {
    pub workload: String,
    /// The `[[load]]` whose `connections` list expanded into the points.
    pub name: String,
    pub series: Vec<ScalingSeries>,
}

#[derive(Debug, Serialize)]
pub struct ScalingSeries {
    pub server: String,
    pub label: String,
    pub runtime: String,
    pub points: Vec<ScalePoint>,
    /// The largest count served cleanly (measured in every round, no errors, no breakage).
    pub clean_up_to: Option<u32>,
    /// The first count where it broke, and what happened.
    pub broke: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScalePoint {
    pub id: String,
    pub connections: u32,
    pub rps: Figure,
    pub p99: Figure,
    pub status: String,
    pub note: String,
    /// The generator, not the server, limited this point (flagged generator-bound): drawn hollow.
    pub limited: bool,
}

/// An open load's generator floor, as the page states it.
#[derive(Debug, Serialize)]
pub struct FloorNote {
    pub load: String,
    pub generator: String,
    pub floor: String,
}

/// The statistics behind the page, as the page states them.
#[derive(Debug, Serialize)]
pub struct Method {
    pub rounds: u32,
    pub seed: Option<u64>,
    pub confidence_pct: f64,
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
    /// Requests pipelined per connection, when more than one.
    pub pipeline: Option<u32>,
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
    /// The release, where the run has several of this runtime (labels then carry it).
    pub shown_version: Option<String>,
    /// "wasmtime 49.0.3" ("containerd 1.6.20 · runc 1.1.5": a version naming its runtime once).
    pub runtime_label: String,
    pub mode: String,
    pub mode_about: String,
    pub write: String,
    pub target: String,
    /// "ok", "skipped", "failed", with " (partial)" when measurement stopped early.
    pub status: String,
    pub reason: String,
    /// req/s was measured (the cell is ok, or partial).
    pub measured: bool,
    /// Rounds the figures come from.
    pub rounds: usize,
    /// Median req/s over rounds with its 95% interval.
    pub rps: Figure,
    /// req/s relative to native (current-thread, same server, workload, load and write strategy),
    /// paired by round.
    pub ratio: Figure,
    /// Rank by req/s within the section; "=2" when tied (the difference is not significant).
    pub rank: String,
    /// Server CPU time per request, e.g. "7.8 µs".
    pub cpu_per_request: Figure,
    /// CPU per request relative to the same native baseline, e.g. "2.9× (2.8–3.0)".
    pub cpu_cost: Figure,
    pub p50: Figure,
    pub p95: Figure,
    pub p99: Figure,
    /// Only where a window had enough requests (see `stats::tail_supported`).
    pub p999: Figure,
    pub receiving: Figure,
    /// Peak RSS in MB.
    pub rss: Figure,
    pub cpu: String,
    pub startup: Figure,
    pub artifact: String,
    pub flags: String,
    pub command: String,
    /// Against the previous run's same cell: "+12% ± 4%", "no significant change", ...
    pub delta: String,
    /// The change is significant.
    pub changed: bool,
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

/// The run measured more than one release of this runtime.
fn several_versions(run: &Run, runtime: &str) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    for cell in run
        .cells
        .iter()
        .filter(|c| c.runtime == runtime && c.status != Status::Skipped)
    {
        seen.insert(cell.runtime_version.as_deref());
    }
    seen.len() > 1
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

/// The flags' codes, as a row lists them.
pub fn flag_codes(flags: &[Flag]) -> String {
    flags.iter().map(Flag::code).collect::<Vec<_>>().join(", ")
}

/// req/s as the page writes it: the estimate over rounds, or the median alone.
fn rps_figure(f: &CellFigures) -> Figure {
    match &f.estimates.rps {
        Some(e) => Figure::of(Some(e), Unit::Count),
        None => Figure::new(f.metrics.rps, thousands),
    }
}

/// The row of cell `i`.
pub fn row(run: &Run, a: &Analysis, i: usize) -> Row {
    let cell = &run.cells[i];
    let f = &a.cells[i];
    let m = &f.metrics;
    let verdict = a.verdicts.get(i).cloned().flatten();
    let compiler = native_compiler(run, cell);
    let version = compiler
        .clone()
        .or_else(|| cell.runtime_version.clone())
        .unwrap_or_default();
    Row {
        id: cell.id.clone(),
        server: cell.server.clone(),
        runtime: cell.runtime.clone(),
        runtime_label: super::format::with_version(&cell.runtime, &version),
        runtime_version: version,
        // Shown after the runtime's name: a version naming its runtime ("containerd 1.6.20 · runc
        // 1.1.5") is shown without it.
        shown_version: several_versions(run, &cell.runtime)
            .then(|| cell.runtime_version.clone())
            .flatten()
            .map(|v| match v.strip_prefix(&format!("{} ", cell.runtime)) {
                Some(rest) => rest.to_string(),
                None => v,
            }),
        mode: cell.mode.clone(),
        mode_about: cell.mode_about.clone(),
        write: cell.write.clone(),
        target: cell.target.clone(),
        status: cell.status.as_str().to_string() + if cell.partial { " (partial)" } else { "" },
        reason: cell.reason.clone().unwrap_or_default().replace('\n', " "),
        measured: m.rps.is_some(),
        rounds: f.rounds.len(),
        rps: rps_figure(f),
        ratio: ratio_figure(cell, f),
        rank: a
            .ranks
            .get(i)
            .copied()
            .flatten()
            .map_or(String::new(), |r| {
                format!("{}{}", if r.tied { "=" } else { "" }, r.rank)
            }),
        cpu_per_request: match &f.estimates.server_cpu_us_per_request {
            Some(e) => Figure::of(Some(e), Unit::Micros),
            None => Figure::new(m.server_cpu_us_per_request, micros),
        },
        cpu_cost: cpu_cost(cell, f),
        p50: Figure::new(m.p50_ms, millis),
        p95: Figure::new(m.p95_ms, millis),
        p99: Figure::new(m.p99_ms, millis),
        p999: Figure::new(m.p999_ms, millis),
        receiving: Figure::new(m.receiving_avg_ms, millis),
        rss: Figure::new(m.rss_peak_kb.map(|kb| kb as f64 / 1024.0), megabytes),
        cpu: cpu_text(m.server_cpu_pct, m.server_other_threads_cpu_pct),
        startup: Figure::new(m.startup_ms, millis),
        artifact: m.artifact_bytes.map(bytes).unwrap_or_else(|| DASH.into()),
        flags: flag_codes(&f.flags),
        command: cell.command.join(" "),
        changed: verdict.as_ref().is_some_and(|v| v.changed()),
        delta: verdict.map(|v| v.describe()).unwrap_or_default(),
    }
}

/// The cell is its own baseline.
fn is_baseline(cell: &CellResult, f: &CellFigures) -> bool {
    f.ratio.as_ref().is_some_and(|r| r.baseline == cell.id)
}

/// The paired ratio to the baseline with its interval, as a bound where the generator limited
/// one side ("≤ 0.35×").
fn ratio_figure(cell: &CellResult, f: &CellFigures) -> Figure {
    let Some(ratio) = &f.ratio else {
        return Figure::value(None, Unit::Multiple);
    };
    let mut figure = Figure::of(ratio.rps.as_ref(), Unit::Multiple);
    if figure.value.is_none() {
        // An open load's rate is fixed: no req/s multiple, not even the baseline's.
    } else if is_baseline(cell, f) {
        figure.text = "baseline".into();
    } else if let Some(bound) = ratio.rps_bound {
        figure.text = match bound {
            Bound::AtMost => format!("≤ {}", figure.text),
            Bound::AtLeast => format!("≥ {}", figure.text),
            Bound::Neither => format!("{} (both generator-bound)", figure.text),
        };
    }
    figure
}

/// CPU per request as a multiple of the baseline's, "2.9× (2.8–3.0)"; the baseline's own is 1.
fn cpu_cost(cell: &CellResult, f: &CellFigures) -> Figure {
    let mut figure = Figure::of(f.ratio.as_ref().and_then(|r| r.cpu.as_ref()), Unit::Multiple);
    if is_baseline(cell, f) && figure.value.is_some() {
        figure.text = "1.0×".into();
    }
    figure
}

pub fn page<'a>(run: &'a Run, a: &Analysis, previous: Option<PreviousRun>) -> Page<'a> {
    let mut counts = BTreeMap::new();
    let mut not_measured = Vec::new();
    for (i, cell) in run.cells.iter().enumerate() {
        *counts.entry(cell.status.as_str().to_string()).or_insert(0) += 1;
        if cell.status != Status::Ok {
            not_measured.push(row(run, a, i));
        }
    }
    let sections = sections(run, a);
    let verdicts = super::front::verdicts(run, a);
    let headline = verdicts
        .first()
        .and_then(|v| sections.iter().position(|s| s.workload == v.workload && s.load == v.load))
        .or_else(|| headline(&sections));
    let matrix_arg = if run.matrix_file.ends_with("matrix.toml") && !run.matrix_file.contains('/') {
        String::new()
    } else {
        format!(" MATRIX={}", run.matrix_file)
    };
    Page {
        run,
        previous,
        build_notes: build_notes(run),
        noise_notice: noise_notice(run, a),
        pipelined: pipelined(&sections),
        sections,
        curves: curves(run, a),
        scaling: scaling(run, a),
        floors: a
            .floors
            .iter()
            .map(|f| FloorNote {
                load: f.load.clone(),
                generator: f.generator.clone(),
                floor: millis(f.floor_ms),
            })
            .collect(),
        headline,
        across_versions: super::versions::across_versions(run, a),
        links: super::links::link_groups(run, a),
        topology: run.topology.clone(),
        images: super::containers::images(run),
        servers: server_order(run).into_iter().cloned().collect(),
        where_time: super::where_time::where_time(run, a),
        verdicts,
        hostile: super::hostile::hostile_tables(run, a),
        noise: noise_view(run),
        direct_vs_container: super::containers::direct_vs_container(run, a),
        flag_notes: flag_notes(run, a),
        not_measured,
        counts,
        reproduce: format!("make matrix{matrix_arg}"),
        method: Method {
            rounds: run.settings.repeats,
            seed: run.settings.seed,
            confidence_pct: crate::analysis::stats::CONFIDENCE * 100.0,
        },
    }
}

/// How whole runs shift: per figure and load model, and whether intervals held the next run.
#[derive(Debug, Serialize)]
pub struct NoiseView {
    pub source: String,
    pub rows: Vec<NoiseRow>,
    /// "163 of 171 intervals (95%) held the next run's median".
    pub coverage: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct NoiseRow {
    pub figure: String,
    pub model: String,
    /// The standard deviation of a run's shift, in percent: "±3.2%".
    pub shift: String,
    pub pairs: usize,
}

fn noise_view(run: &Run) -> Option<NoiseView> {
    use crate::results::records::NoiseFigure;
    let t = run.noise.as_ref()?;
    let label = |f: NoiseFigure| match f {
        NoiseFigure::Rps => "req/s",
        NoiseFigure::Ratio => "req/s × native (and × direct, × newest)",
        NoiseFigure::Cpu => "CPU per request",
        NoiseFigure::CpuRatio => "CPU per request × native",
        NoiseFigure::Latency => "latency percentiles",
    };
    Some(NoiseView {
        source: t.source.clone(),
        rows: t
            .entries
            .iter()
            .map(|e| NoiseRow {
                figure: label(e.figure).into(),
                model: e.model.map_or("every load".into(), |m| m.as_str().to_string()),
                shift: format!("±{:.1}%", ((e.noise.sd).exp() - 1.0) * 100.0),
                pairs: e.pairs,
            })
            .collect(),
        coverage: (t.coverage_checked > 0).then(|| {
            format!(
                "{} of {} intervals ({:.0}%) held the next run's median",
                t.coverage_inside,
                t.coverage_checked,
                t.coverage_inside as f64 / t.coverage_checked as f64 * 100.0
            )
        }),
    })
}

/// The table the page leads with: peak throughput (wrk) on plaintext when the run has it, since
/// k6 cannot rank fast servers.
fn headline(sections: &[Section]) -> Option<usize> {
    sections
        .iter()
        .position(|s| s.load_model == LoadModel::Peak && s.workload == "plaintext")
        .or_else(|| {
            sections
                .iter()
                .position(|s| s.load_model == LoadModel::Peak)
        })
        .or(if sections.is_empty() { None } else { Some(0) })
}

/// Pipelined loads, described once each.
fn pipelined(sections: &[Section]) -> Vec<String> {
    sections
        .iter()
        .filter_map(|s| {
            s.pipeline
                .map(|depth| format!("{}: {depth} requests in flight per connection", s.load))
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The page-level notice: the baselines' req/s varied too much across rounds, the hypervisor
/// stole CPU time inside the windows, or disturbed open-model windows (or several).
fn noise_notice(run: &Run, a: &Analysis) -> Option<String> {
    let n = &a.notices;
    let spread = n.noisy_baselines_cv.map(|cv| {
        format!(
            "The machine was noisy: the native baselines' req/s varied across rounds with a median coefficient of \
             variation of {:.0}% (above {:.0}%), so intervals are wide and close cells tie. Remedy: run on a quieter \
             machine (no other load, fixed CPU frequency), raise `repeats` or `duration`, or compare ratios, which \
             pair each cell with its baseline in the same round.",
            cv * 100.0,
            crate::analysis::notices::NOISY_BASELINE_CV * 100.0
        )
    });
    let steal = n.steal.map(|(typical, worst, windows)| {
        format!(
            "This is a virtual machine and its host stole {typical:.1}% of its CPU time inside the measured windows \
             (median over {windows} windows, up to {worst:.0}% in one; /proc/stat's steal): latency tails include the host's \
             pauses, and open-model cells say so (host-steal). Remedy: dedicated or bare-metal CPUs, or a quieter hour."
        )
    });
    let disturbed = n.disturbed.map(|d| remeasure_text(run, d));
    let notices: Vec<String> = [spread, steal, disturbed].into_iter().flatten().collect();
    (!notices.is_empty()).then(|| notices.join(" "))
}

fn remeasure_text(run: &Run, d: crate::analysis::notices::Disturbed) -> String {
    let limit = run.settings.steal_limit_pct;
    let again = if run.settings.remeasure.is_zero() {
        "this run measures none again (settings.remeasure = \"0s\")".to_string()
    } else {
        format!(
            "{} of them were measured again after the rounds and replaced by one the host left alone \
             (`remeasured` in latest.json; what they replaced is in each cell's `disturbed`), in {:.0} s of the {} \
             allowed ({} more attempts were disturbed too)",
            d.replaced,
            run.timing.remeasure_s,
            humantime::format_duration(run.settings.remeasure),
            d.attempts
        )
    };
    format!(
        "{} open-model windows had more than {limit}% of the machine's CPU time stolen: {again}; {} rounds \
         keep a disturbed window.",
        d.replaced + d.still,
        d.still
    )
}

/// One section per workload x load in matrix order, with its measured (or failed) rows; rows of one
/// server language together (Rust first), in matrix order within each.
fn sections(run: &Run, a: &Analysis) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    // Shares of a peak are points of a curve, shown in their own section.
    for (i, cell) in run.cells.iter().enumerate() {
        // Hostile loads have a table of their own: their req/s is the fresh requests' pace.
        if cell.status == Status::Skipped || cell.share.is_some() || cell.load_model == LoadModel::Hostile {
            continue;
        }
        let r = row(run, a, i);
        match sections
            .iter_mut()
            .find(|s| s.workload == cell.workload && s.load == cell.load)
        {
            Some(section) => section.rows.push(r),
            None => sections.push(Section {
                workload: cell.workload.clone(),
                load_model: cell.load_model,
                about: cell.workload_about.clone().unwrap_or_else(|| {
                    // Runs from before workloads were data: the project's own.
                    crate::config::workloads::project()
                        .iter()
                        .find(|w| w.name == cell.workload)
                        .map(|w| w.about.clone())
                        .unwrap_or_default()
                }),
                load: cell.load.clone(),
                one_at_a_time: cell.load_model != LoadModel::Open && cell.concurrency == 1,
                pipeline: cell.pipeline,
                rows: vec![r],
            }),
        }
    }
    let languages: Vec<&String> = server_order(run);
    for section in &mut sections {
        section.rows.sort_by_key(|r| {
            languages
                .iter()
                .position(|s| **s == r.server)
                .unwrap_or(usize::MAX)
        });
    }
    sections
}

/// Where a server language comes in the run's order.
pub fn server_rank(run: &Run, server: &str) -> usize {
    server_order(run)
        .iter()
        .position(|s| *s == server)
        .unwrap_or(usize::MAX)
}

/// Server languages in the order the run first names them.
pub fn server_order(run: &Run) -> Vec<&String> {
    let mut order: Vec<&String> = Vec::new();
    for c in &run.cells {
        if !order.contains(&&c.server) {
            order.push(&c.server);
        }
    }
    order
}

/// The latency-against-load curves: cells that offer a share of a peak, grouped by workload and
/// curve, one series per server x runtime x mode x write, points by share.
fn curves(run: &Run, a: &Analysis) -> Vec<Curve> {
    let mut curves: Vec<Curve> = Vec::new();
    for (i, cell) in run.cells.iter().enumerate() {
        let Some(share) = cell.share.as_ref().filter(|_| cell.status == Status::Ok) else {
            continue;
        };
        let at = match curves
            .iter()
            .position(|c| c.workload == cell.workload && c.name == share.curve)
        {
            Some(at) => at,
            None => {
                curves.push(Curve {
                    workload: cell.workload.clone(),
                    name: share.curve.clone(),
                    of: share.of.clone(),
                    series: Vec::new(),
                });
                curves.len() - 1
            }
        };
        let label = series_label(cell);
        let series = &mut curves[at].series;
        let s = match series.iter().position(|s| s.label == label) {
            Some(at) => &mut series[at],
            None => {
                series.push(Series {
                    server: cell.server.clone(),
                    label,
                    runtime: cell.runtime.clone(),
                    points: Vec::new(),
                });
                series.last_mut().expect("just pushed")
            }
        };
        s.points.push(curve_point(cell, &a.cells[i], share.share));
    }
    for curve in &mut curves {
        for s in &mut curve.series {
            s.points.sort_by(|a, b| a.share_pct.total_cmp(&b.share_pct));
        }
    }
    curves
}

fn curve_point(cell: &CellResult, f: &CellFigures, share: f64) -> Point {
    Point {
        id: cell.id.clone(),
        share_pct: share * 100.0,
        offered: Figure::new(f.offered_rps.or(cell.offered_rps).map(f64::from), thousands),
        achieved: Figure::new(f.metrics.rps, thousands),
        p50: Figure::of(f.estimates.p50_ms.as_ref(), Unit::Millis),
        p99: Figure::of(f.estimates.p99_ms.as_ref(), Unit::Millis),
        flags: flag_codes(&f.flags),
        limited: generator_limited(f),
    }
}

/// Whether the generator, not the server, set this cell's figures (it used its whole CPU).
fn generator_limited(f: &CellFigures) -> bool {
    f.flags.iter().any(|flag| matches!(flag, Flag::GeneratorBound { .. }))
}

/// The connection sweeps, as the analysis found them: a series per server x runtime x mode,
/// points by count, where each broke.
fn scaling(run: &Run, a: &Analysis) -> Vec<Scaling> {
    a.sweeps
        .iter()
        .filter(|s| s.series.first().and_then(|x| x.points.first()).is_some_and(|p| run.cells[p.cell].load_model != LoadModel::Hostile))
        .map(|sweep| Scaling {
            workload: sweep.workload.clone(),
            name: sweep.load.clone(),
            series: sweep
                .series
                .iter()
                .map(|s| {
                    let first = &run.cells[s.points[0].cell];
                    let points: Vec<ScalePoint> = s
                        .points
                        .iter()
                        .map(|p| scale_point(run, a, p.cell, p.broken.as_ref()))
                        .collect();
                    ScalingSeries {
                        server: first.server.clone(),
                        label: series_label(first),
                        runtime: first.runtime.clone(),
                        clean_up_to: s.clean_up_to,
                        broke: s.breaks_at.as_ref().map(|(n, _)| {
                            let note = &points
                                .iter()
                                .find(|p| p.connections == *n)
                                .expect("a point")
                                .note;
                            format!("at {n} connections: {note}")
                        }),
                        points,
                    }
                })
                .collect(),
        })
        .collect()
}

fn scale_point(run: &Run, a: &Analysis, i: usize, broken: Option<&Breakage>) -> ScalePoint {
    let cell = &run.cells[i];
    let f = &a.cells[i];
    ScalePoint {
        id: cell.id.clone(),
        connections: cell.concurrency,
        rps: rps_figure(f),
        p99: Figure::new(f.metrics.p99_ms, millis),
        status: cell.status.as_str().into(),
        limited: generator_limited(f),
        note: match broken {
            None => String::new(),
            Some(Breakage::Failed) => cell.reason.clone().unwrap_or_default().replace('\n', " "),
            Some(Breakage::Flagged(code)) => f
                .flags
                .iter()
                .find(|flag| flag.code() == *code)
                .map(|flag| match flag {
                    Flag::RequestErrors { failed_rate } => {
                        format!("{:.2}% of requests failed", failed_rate * 100.0)
                    }
                    other => other.evidence(),
                })
                .unwrap_or_default(),
            Some(Breakage::Degraded { rps, best }) => format!(
                "{} req/s, below half of its best ({})",
                thousands(*rps),
                thousands(*best)
            ),
            Some(Breakage::SlowTail { p99_ms }) => format!(
                "p99 {} above {}",
                millis(*p99_ms),
                millis(crate::analysis::sweeps::P99_BOUND_MS)
            ),
        },
    }
}

/// "wasmtime default", with the server language and write strategy where they are not the usual.
pub fn series_label(cell: &CellResult) -> String {
    let mut text = match &cell.version {
        Some(_) => format!(
            "{} {}",
            super::format::with_version(
                &cell.runtime,
                cell.runtime_version.as_deref().unwrap_or_default()
            ),
            cell.mode
        ),
        None => format!("{} {}", cell.runtime, cell.mode),
    };
    if cell.write != "single" {
        text.push_str(&format!(" ({} writes)", cell.write));
    }
    if cell.server != "rust" {
        text = format!("{} · {text}", cell.server);
    }
    text
}

/// Each flag kind once, with its cause and remedy and every cell's evidence.
fn flag_notes(run: &Run, a: &Analysis) -> Vec<FlagNote> {
    let mut notes: BTreeMap<&'static str, FlagNote> = BTreeMap::new();
    for (cell, f) in run.cells.iter().zip(&a.cells) {
        for flag in &f.flags {
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

    /// The fixture's plaintext cells of one load, given per-round req/s (ratios attached).
    fn with_rounds(rounds: &[(&str, [f64; 3])]) -> Run {
        let mut run = fixture();
        let load = run.cells[0].load.clone();
        run.cells
            .retain(|c| c.load == load && c.workload == "plaintext" && c.status == Status::Ok);
        for cell in &mut run.cells {
            let Some((_, values)) = rounds.iter().find(|(id, _)| cell.id.contains(id)) else {
                continue;
            };
            cell.repeats_rps = values.to_vec();
            cell.rounds = values
                .iter()
                .enumerate()
                .map(|(r, v)| crate::results::RoundFigures {
                    round: r as u32,
                    rps: *v,
                    ..Default::default()
                })
                .collect();
            cell.estimates.rps = crate::analysis::stats::Estimate::of(values);
            cell.metrics.rps = crate::analysis::stats::median(values);
        }
        run.cells.retain(|c| !c.rounds.is_empty());
        run
    }

    fn page_of(run: &Run) -> Page<'_> {
        page(run, &crate::analysis::analyze(run), None)
    }

    #[test]
    fn rows_show_intervals_paired_ratios_and_ties() {
        let run = with_rounds(&[
            ("native/current-thread", [100_000.0, 80_000.0, 95_000.0]),
            ("wasmtime/default/single", [40_000.0, 32_100.0, 38_000.0]),
            ("wasmtime/default/vectored", [41_000.0, 32_000.0, 38_500.0]),
        ]);
        let page = page_of(&run);
        let rows = &page.sections[0].rows;
        let row = |id: &str| rows.iter().find(|r| r.id.contains(id)).unwrap();
        assert_eq!(row("native/current-thread").ratio.text, "baseline");
        assert_eq!(row("native/current-thread").rank, "1");
        let default = row("wasmtime/default/single");
        assert!(
            default.rps.text.starts_with("38,000 ("),
            "{}",
            default.rps.text
        );
        // Paired by round the ratio is tight although raw req/s moved 20% between rounds.
        let (lo, hi) = default.ratio.interval.unwrap();
        assert!(
            hi - lo < 0.02 && default.ratio.text.starts_with("0.40×"),
            "{}",
            default.ratio.text
        );
        // The two wasmtime cells cannot be told apart: tied.
        assert_eq!(
            (
                default.rank.as_str(),
                row("wasmtime/default/vectored").rank.as_str()
            ),
            ("=2", "=2")
        );
    }

    #[test]
    fn a_noisy_baseline_puts_a_notice_on_the_page() {
        let quiet = with_rounds(&[
            ("native/current-thread", [100_000.0, 98_000.0, 101_000.0]),
            ("wasmtime/default/single", [40_000.0, 39_000.0, 40_500.0]),
        ]);
        assert_eq!(page_of(&quiet).noise_notice, None);
        let run = with_rounds(&[
            ("native/current-thread", [100_000.0, 70_000.0, 95_000.0]),
            ("wasmtime/default/single", [40_000.0, 28_000.0, 38_000.0]),
        ]);
        let notice = page_of(&run).noise_notice.unwrap();
        assert!(
            notice.contains("coefficient of variation of 18%"),
            "{notice}"
        );
        assert!(notice.contains("Remedy"), "{notice}");
    }

    #[test]
    fn stolen_cpu_time_puts_a_notice_on_the_page() {
        let mut run = with_rounds(&[
            ("native/current-thread", [100_000.0, 98_000.0, 101_000.0]),
            ("wasmtime/default/single", [40_000.0, 39_000.0, 40_500.0]),
        ]);
        let steal = |run: &mut Run, pct: [f64; 3]| {
            for c in &mut run.cells {
                for (r, s) in c.rounds.iter_mut().zip(pct) {
                    r.steal_pct = Some(s);
                }
            }
        };
        steal(&mut run, [0.5, 1.0, 8.0]);
        assert_eq!(page_of(&run).noise_notice, None);
        steal(&mut run, [4.0, 12.0, 6.0]);
        let notice = page_of(&run).noise_notice.unwrap();
        assert!(notice.contains("stole 6.0%"), "{notice}");
        assert!(notice.contains("over 6 windows, up to 12%"), "{notice}");
        assert!(!notice.contains("coefficient of variation"), "{notice}");
    }

    #[test]
    fn windows_measured_again_are_counted_on_the_page() {
        let mut run = with_rounds(&[("native/current-thread", [3000.0, 3000.0, 3000.0])]);
        run.settings.remeasure = std::time::Duration::from_secs(90);
        run.settings.steal_limit_pct = 1.0;
        run.timing.remeasure_s = 31.0;
        let cell = &mut run.cells[0];
        cell.load_model = crate::config::LoadModel::Open;
        for (r, s) in cell.rounds.iter_mut().zip([0.4, 0.2, 0.9]) {
            r.steal_pct = Some(s);
        }
        assert_eq!(page_of(&run).noise_notice, None, "nothing disturbed");
        run.cells[0].rounds[2].steal_pct = Some(9.0);
        // Round 0 was measured again (its 14% window set aside, one more attempt at 6%);
        // round 2 still holds a disturbed window.
        run.cells[0].rounds[0].remeasured = true;
        let aside = |steal| crate::results::RoundFigures {
            steal_pct: Some(steal),
            ..run.cells[0].rounds[0].clone()
        };
        run.cells[0].disturbed = vec![aside(6.0), aside(14.0)];
        let notice = page_of(&run).noise_notice.unwrap();
        assert!(
            notice.contains("2 open-model windows had more than 1%"),
            "{notice}"
        );
        assert!(notice.contains("1 of them were measured again"), "{notice}");
        assert!(
            notice.contains("in 31 s of the 1m 30s allowed (1 more attempts"),
            "{notice}"
        );
        assert!(
            notice.contains("1 rounds keep a disturbed window"),
            "{notice}"
        );
    }

    #[test]
    fn ratios_are_paired_by_round_and_runs_without_rounds_have_none() {
        use crate::analysis::fixtures::{cell, measured, run as run_of};
        let run = run_of(vec![
            measured(
                cell("native", "current-thread", "peak-50"),
                &[100e3, 80e3, 95e3],
                &[10.0, 10.0, 10.0],
            ),
            measured(
                cell("wasmtime", "default", "peak-50"),
                &[40e3, 32e3, 38e3],
                &[29.0, 29.0, 29.0],
            ),
        ]);
        let page = page_of(&run);
        let rows = &page.sections[0].rows;
        assert_eq!(rows[0].ratio.text, "baseline");
        assert_eq!(rows[0].cpu_cost.text, "1.0×");
        assert!(
            rows[1].ratio.text.starts_with("0.40×"),
            "{}",
            rows[1].ratio.text
        );
        assert_eq!(rows[1].cpu_cost.text, "2.9× (2.9–2.9)");
        // The pre-rounds fixture has medians only: no paired ratio, and none is made up from
        // the medians (the page and the exports show the same "–").
        let legacy = fixture();
        let page = page_of(&legacy);
        let wasmtime = page.sections[0]
            .rows
            .iter()
            .find(|r| r.runtime == "wasmtime")
            .unwrap();
        assert_eq!(
            (
                wasmtime.ratio.text.as_str(),
                wasmtime.cpu_cost.text.as_str()
            ),
            ("–", "–")
        );
    }

    #[test]
    fn a_generator_bound_baseline_makes_the_multiple_a_bound() {
        use crate::analysis::fixtures::{cell, measured, run as run_of};
        let mut native = measured(
            cell("native", "current-thread", "peak-50"),
            &[100e3, 98e3, 99e3],
            &[10.0, 10.0, 10.0],
        );
        for w in &mut native.measured.windows {
            w.generator_cpu_s = 1.96;
        }
        let run = run_of(vec![
            native,
            measured(
                cell("wasmtime", "default", "peak-50"),
                &[40e3, 39e3, 41e3],
                &[29.0, 29.0, 29.0],
            ),
        ]);
        let page = page_of(&run);
        assert!(page.sections[0].rows[1].ratio.text.starts_with("≤ 0.40×"));
    }

    #[test]
    fn one_request_at_a_time_sections_are_marked() {
        let mut run = fixture();
        assert!(page_of(&run).sections.iter().all(|s| !s.one_at_a_time));
        let load = run.cells[0].load.clone();
        for cell in run.cells.iter_mut().filter(|c| c.load == load) {
            cell.concurrency = 1;
        }
        let page = page_of(&run);
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
        let page = page_of(&run);
        assert_eq!(page.build_notes.len(), 1);
        assert_eq!(page.build_notes[0].note, note);
        assert!(page.build_notes[0].cells.contains("on wasmtime"));
        // Runs written before build notes existed have none, and list none.
        assert!(page_of(&fixture()).build_notes.is_empty());
    }
}
