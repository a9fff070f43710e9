//! The page's first screen: per server language, a verdict table (every runtime and mode under
//! the load that ranks them, with absolute figures, multiples of native marked as bounds where
//! the generator limited one side, the tail at the open load, memory, start-up, image size) and
//! one generated sentence of advice. Container and other non-WebAssembly rows say what they are.

use serde::Serialize;

use super::format::{Unit, bytes, compact, millis, ratio, Figure, DASH};
use crate::analysis::diagnosis::Bucket;
use crate::analysis::Analysis;
use crate::config::LoadModel;
use crate::results::{Bound, CellResult, Run, Status};

#[derive(Debug, Serialize)]
pub struct Verdict {
    pub server: String,
    /// The load the table ranks by (peak, plaintext) and the open load its tail column reads.
    pub workload: String,
    pub load: String,
    pub open_load: Option<String>,
    pub rows: Vec<VerdictRow>,
    /// One sentence: the cheapest runtime here and where the others' cost goes.
    pub advice: String,
}

#[derive(Debug, Serialize)]
pub struct VerdictRow {
    /// "wasmtime 49.0.3 · default", "native (rustc) · baseline".
    pub what: String,
    /// "WebAssembly", "native", "container, native image (not WebAssembly)", "container".
    pub kind: String,
    /// Absolute req/s and the multiple of native: "31.7k · ≤ 0.35×".
    pub rps: String,
    /// CPU per request as a multiple of native's, with its interval.
    pub cpu: String,
    pub p99: String,
    pub rss: String,
    pub startup: String,
    pub image: String,
    pub flags: String,
    pub failed: Option<String>,
}

/// The verdict of each server language the run measured under a peak load.
pub fn verdicts(run: &Run, a: &Analysis) -> Vec<Verdict> {
    let Some((workload, load)) = headline(run, a) else {
        return Vec::new();
    };
    super::view::server_order(run)
        .into_iter()
        .filter_map(|server| verdict(run, a, server, &workload, &load))
        .collect()
}

/// The load that ranks runtimes: the first peak load of plaintext without pipelining, with
/// more than one connection; on a page of connection sweeps only, the count whose req/s the
/// rounds pinned down best (narrowest intervals, by their median width); else the first peak
/// load; else the first closed load.
fn headline(run: &Run, a: &Analysis) -> Option<(String, String)> {
    let peak = |c: &&CellResult| c.load_model == LoadModel::Peak && c.share.is_none() && c.link.is_none();
    let plain = |c: &&CellResult| peak(c) && c.pipeline.is_none() && c.concurrency > 1;
    let unswept = |c: &&CellResult| plain(c) && c.sweep.is_none();
    // Without a peak load: the first closed load with more than one client.
    let closed = |c: &&CellResult| c.load_model == LoadModel::Closed && c.concurrency > 1 && c.link.is_none();
    let cell = run
        .cells
        .iter()
        .filter(unswept)
        .find(|c| c.workload == "plaintext")
        .or_else(|| run.cells.iter().find(unswept))
        .or_else(|| tightest_sweep_point(run, a, plain))
        .or_else(|| run.cells.iter().find(peak))
        .or_else(|| run.cells.iter().find(closed))?;
    Some((cell.workload.clone(), cell.load.clone()))
}

/// The sweep load (one connection count) where no series broke whose cells have the narrowest
/// req/s intervals.
fn tightest_sweep_point<'r>(run: &'r Run, a: &Analysis, plain: impl Fn(&&CellResult) -> bool) -> Option<&'r CellResult> {
    let broken: Vec<&str> = a
        .sweeps
        .iter()
        .flat_map(|s| &s.series)
        .flat_map(|s| &s.points)
        .filter(|p| p.broken.is_some())
        .map(|p| run.cells[p.cell].load.as_str())
        .collect();
    let mut loads: Vec<(&CellResult, Vec<f64>)> = Vec::new();
    for (i, c) in run.cells.iter().enumerate().filter(|(_, c)| plain(c) && c.sweep.is_some()) {
        if broken.contains(&c.load.as_str()) {
            continue;
        }
        let Some(e) = a.cells[i].estimates.rps.filter(|e| e.lo > 0.0) else { continue };
        let width = e.hi / e.lo;
        match loads.iter_mut().find(|(first, _)| first.load == c.load && first.workload == c.workload) {
            Some((_, widths)) => widths.push(width),
            None => loads.push((c, vec![width])),
        }
    }
    let median = |w: &[f64]| crate::analysis::stats::median(w).unwrap_or(f64::MAX);
    loads
        .into_iter()
        .min_by(|x, y| median(&x.1).total_cmp(&median(&y.1)))
        .map(|(c, _)| c)
}

fn verdict(run: &Run, a: &Analysis, server: &str, workload: &str, load: &str) -> Option<Verdict> {
    let members: Vec<usize> = (0..run.cells.len())
        .filter(|&i| {
            let c = &run.cells[i];
            c.server == server && c.workload == workload && c.load == load && c.status != Status::Skipped
        })
        .collect();
    if members.is_empty() {
        return None;
    }
    let open_load = run
        .cells
        .iter()
        .find(|c| c.server == server && c.workload == workload && c.load_model == LoadModel::Open && c.share.is_none() && c.generator == "oha")
        .map(|c| c.load.clone());
    let rows = members
        .iter()
        .map(|&i| row(run, a, i, open_load.as_deref()))
        .collect();
    Some(Verdict {
        server: server.to_string(),
        workload: workload.to_string(),
        load: load.to_string(),
        open_load,
        rows,
        advice: advice(run, a, &members),
    })
}

/// What a cell is, in the verdict's words.
fn kind(cell: &CellResult) -> &'static str {
    match (cell.runtime.as_str(), cell.direct.is_some(), cell.target.contains("wasm")) {
        ("native", _, _) => "native",
        (_, true, false) => "container, native image (not WebAssembly)",
        (_, true, true) => "container, WebAssembly image",
        _ => "WebAssembly",
    }
}

fn what(cell: &CellResult) -> String {
    let runtime = super::view::series_label(cell);
    let runtime = runtime.trim_start_matches(&format!("{} · ", cell.server)).to_string();
    match cell.runtime.as_str() {
        "native" => format!("{runtime} (baseline)"),
        _ => runtime,
    }
}

fn row(run: &Run, a: &Analysis, i: usize, open_load: Option<&str>) -> VerdictRow {
    let cell = &run.cells[i];
    let f = &a.cells[i];
    let multiple = f.ratio.as_ref().filter(|r| r.baseline != cell.id).and_then(|r| {
        let e = r.rps?;
        let mark = match r.rps_bound {
            Some(Bound::AtMost) => "≤ ",
            Some(Bound::AtLeast) => "≥ ",
            _ => "",
        };
        Some(format!("{mark}{}", ratio(e.median)))
    });
    let rps = match (f.metrics.rps, multiple) {
        (Some(r), Some(m)) => format!("{} · {m}", compact(r)),
        (Some(r), None) => compact(r),
        _ => DASH.into(),
    };
    let cpu = match (&f.ratio, cell.runtime == "native") {
        (_, true) => "1×".into(),
        (Some(r), false) => Figure::of(r.cpu.as_ref(), Unit::Multiple).text,
        _ => DASH.into(),
    };
    // The tail at the open load where the run has one, else under this load.
    let p99 = match open_load {
        Some(load) => run
            .cells
            .iter()
            .position(|c| {
                c.load == load && c.server == cell.server && c.runtime == cell.runtime && c.mode == cell.mode && c.version == cell.version && c.write == cell.write
            })
            .and_then(|j| a.cells[j].metrics.p99_ms),
        None => f.metrics.p99_ms,
    };
    let p99 = p99
        .map(millis)
        .unwrap_or_else(|| DASH.into());
    let image = cell
        .build
        .as_ref()
        .and_then(|b| run.images.get(b))
        .map(|img| bytes(img.compressed_bytes))
        .unwrap_or_else(|| DASH.into());
    VerdictRow {
        what: what(cell),
        kind: kind(cell).into(),
        rps,
        cpu,
        p99,
        rss: f.metrics.rss_peak_kb.map(|kb| bytes(kb * 1024)).unwrap_or_else(|| DASH.into()),
        startup: f.metrics.startup_ms.map(millis).unwrap_or_else(|| DASH.into()),
        image,
        flags: super::view::flag_codes(&f.flags),
        failed: (cell.status == Status::Failed).then(|| cell.reason.clone().unwrap_or_default().replace('\n', " ")),
    }
}

/// "Cheapest here: WasmEdge aot, at 1.9× native's CPU per request. wasmtime default: 2.9×, most
/// of the extra 12 µs in the kernel (see Where the time goes)."
fn advice(run: &Run, a: &Analysis, members: &[usize]) -> String {
    let mut wasm: Vec<(usize, f64)> = members
        .iter()
        .filter(|&&i| kind(&run.cells[i]) == "WebAssembly")
        .filter_map(|&i| Some((i, a.cells[i].ratio.as_ref()?.cpu?.median)))
        .collect();
    wasm.sort_by(|x, y| x.1.total_cmp(&y.1));
    let Some(&(best, best_x)) = wasm.first() else {
        return "No WebAssembly runtime was measured under this load.".into();
    };
    let mut text = format!(
        "Cheapest here: {}, at {} native's CPU per request.",
        what(&run.cells[best]),
        ratio(best_x)
    );
    for (i, x) in others_worth_naming(run, &wasm) {
        text.push_str(&format!(" {}: {}", what(&run.cells[i]), ratio(x)));
        if let Some(clause) = where_extra(run, a, i) {
            text.push_str(&format!(", {clause}"));
        }
        text.push('.');
    }
    if a.diagnoses.iter().any(|d| d.breakdown.is_ok()) {
        text.push_str(" (See Where the time goes.)");
    }
    text
}

/// After the cheapest (first of `by_cost`): each other runtime's cheapest mode, and the most
/// expensive cell when that is not one of them, so that neither a runtime nor the worst case
/// goes unnamed.
fn others_worth_naming(run: &Run, by_cost: &[(usize, f64)]) -> Vec<(usize, f64)> {
    let cheapest_runtime = &run.cells[by_cost[0].0].runtime;
    let mut named: Vec<(usize, f64)> = Vec::new();
    for &(i, x) in &by_cost[1..] {
        let runtime = &run.cells[i].runtime;
        if runtime != cheapest_runtime && !named.iter().any(|(j, _)| run.cells[*j].runtime == *runtime) {
            named.push((i, x));
        }
    }
    if let Some(&worst) = by_cost.last().filter(|w| w.0 != by_cost[0].0 && !named.iter().any(|n| n.0 == w.0)) {
        named.push(worst);
    }
    named
}

/// "most of the extra 12.3 µs in the kernel", from the diagnosis of the cell's server against
/// native's.
fn where_extra(run: &Run, a: &Analysis, i: usize) -> Option<String> {
    let key = run.cells[i].id.rsplitn(3, '/').nth(2)?.to_string();
    let d = a.diagnoses.iter().find(|d| d.key == key)?;
    let native = &a.diagnoses[d.native?];
    let (mine, theirs) = (d.cpu_us?, native.cpu_us?);
    let (bucket, extra) = Bucket::ALL
        .iter()
        .filter_map(|b| Some((*b, d.cpu_in(*b)? - native.cpu_in(*b).unwrap_or(0.0))))
        .max_by(|x, y| x.1.total_cmp(&y.1))?;
    (extra > 0.0 && mine > theirs).then(|| {
        format!(
            "{:.0}% of the extra {:.1} µs in {}",
            extra / (mine - theirs) * 100.0,
            mine - theirs,
            match bucket {
                Bucket::OtherThreads => "the runtime's other threads".to_string(),
                Bucket::Guest => "the guest's own code".to_string(),
                b => format!("the {}", b.label()),
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::{cell, measured, run};

    /// Native at 100k req/s with its generator saturated; runtimes at lower rates and CPU costs.
    fn verdict_run() -> Run {
        let mut native = measured(cell("native", "current-thread", "peak-50"), &[100e3, 101e3, 99e3], &[10.0, 10.0, 10.0]);
        for w in &mut native.measured.windows {
            w.generator_cpu_s = 2.0; // its whole CPU over the 2-s window: generator-bound
        }
        let wasm = |runtime: &str, mode: &str, cpu: f64| {
            let mut c = measured(cell(runtime, mode, "peak-50"), &[30e3, 31e3, 29e3], &[cpu, cpu * 1.01, cpu * 0.99]);
            c.target = "wasm32-wasip2".into();
            c
        };
        let mut runc = measured(cell("containerd", "runc", "peak-50"), &[98e3, 99e3, 97e3], &[10.5, 10.4, 10.6]);
        runc.direct = Some("rust/native/current-thread/single/plaintext/peak-50".into());
        run(vec![
            native,
            wasm("wasmtime", "default", 29.0),
            wasm("wasmtime", "serve", 180.0),
            wasm("wasmer", "cranelift", 42.0),
            wasm("wasmedge", "aot", 19.0),
            runc,
        ])
    }

    #[test]
    fn multiples_against_a_generator_bound_native_are_marked_as_upper_bounds() {
        let run = verdict_run();
        let v = verdicts(&run, &crate::analysis::analyze(&run));
        assert_eq!(v.len(), 1);
        let rows = &v[0].rows;
        assert_eq!(rows[0].what, "native current-thread (baseline)");
        assert!(rows[1].rps.starts_with("30.0k · ≤ 0.30×"), "{}", rows[1].rps);
        assert!(rows[1].cpu.starts_with("2.9× ("), "{}", rows[1].cpu);
        let runc = rows.iter().find(|r| r.what.contains("runc")).unwrap();
        assert_eq!(runc.kind, "container, native image (not WebAssembly)");
    }

    #[test]
    fn the_advice_names_the_cheapest_every_other_runtime_and_the_worst() {
        let run = verdict_run();
        let v = verdicts(&run, &crate::analysis::analyze(&run));
        assert_eq!(
            v[0].advice,
            "Cheapest here: wasmedge aot, at 1.9× native's CPU per request. wasmtime default: 2.9×. \
             wasmer cranelift: 4.2×. wasmtime serve: 18×."
        );
    }
}
