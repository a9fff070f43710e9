//! Cells as measured, for the analysis' unit tests: a builder that writes the windows a real run
//! would have recorded, so each test says only what matters to it.

use crate::config::LoadModel;
use crate::results::measured::{Measured, WindowRecord};
use crate::results::records::Trend;
use crate::results::{CellResult, Run, Status};

/// A cell of `runtime`/`mode` under `load`, with no windows yet.
pub fn cell(runtime: &str, mode: &str, load: &str) -> CellResult {
    let model = if load.starts_with("open") {
        "open"
    } else if load.starts_with("hostile") {
        "hostile"
    } else {
        "peak"
    };
    let mut c: CellResult = serde_json::from_value(serde_json::json!({
        "index": 0, "id": format!("rust/{runtime}/{mode}/single/plaintext/{load}"),
        "server": "rust", "target": "t", "runtime": runtime, "mode": mode, "mode_about": "",
        "write": "single", "workload": "plaintext", "load": load, "load_model": model,
        "generator": if model == "open" { "oha" } else { "wrk" }, "concurrency": 50,
        "offered_rps": null, "status": "ok", "reason": null, "runtime_version": "1.0",
        "command": [], "metrics": {}, "flags": [], "repeats_rps": [], "partial": false
    }))
    .expect("a valid cell");
    c.measured = Measured::default();
    c
}

/// A window of `rps` req/s for 2 s, p50 `p50_ms` (p99 three times it), `cpu_us` of server CPU per
/// request, with the generator at 50% of its one CPU.
pub fn window(round: u32, rps: f64, p50_ms: f64, cpu_us: f64) -> WindowRecord {
    let requests = (rps * 2.0).round() as u64;
    WindowRecord {
        round,
        requests,
        elapsed_s: 2.0,
        process_s: 2.05,
        latency_ms: Some(Trend {
            avg: p50_ms,
            min: p50_ms / 2.0,
            med: p50_ms,
            max: p50_ms * 4.0,
            p90: p50_ms * 1.5,
            p95: p50_ms * 2.0,
            p99: p50_ms * 3.0,
            p999: None,
        }),
        server_user_s: cpu_us * requests as f64 / 1e6,
        busiest_thread_s: cpu_us * requests as f64 / 1e6,
        switches: requests / 100,
        generator_cpu_s: 1.0,
        generator_cpus: 1,
        steal_pct: Some(0.1),
        ..Default::default()
    }
}

/// `cell` with one window per round: req/s and CPU µs per request of each round.
pub fn measured(mut cell: CellResult, rps: &[f64], cpu_us: &[f64]) -> CellResult {
    cell.measured.windows = rps
        .iter()
        .zip(cpu_us)
        .enumerate()
        .map(|(round, (&r, &c))| window(round as u32, r, 0.5, c))
        .collect();
    cell.status = Status::Ok;
    cell
}

/// A run of these cells (indices set in order), with the settings of a small matrix.
pub fn run(mut cells: Vec<CellResult>) -> Run {
    let mut run: Run = serde_json::from_str(include_str!("../../tests/fixtures/rounds-run.json"))
        .expect("the fixture parses");
    for (i, c) in cells.iter_mut().enumerate() {
        c.index = i;
    }
    run.cells = cells;
    run
}

/// The load model a cell says it has.
pub fn with_model(mut cell: CellResult, model: LoadModel) -> CellResult {
    cell.load_model = model;
    cell
}

/// A recorded run from before rounds were kept (runner/tests/fixtures/run.json).
pub fn recorded() -> Run {
    crate::results::read_run(&crate::paths::repo_root().join("runner/tests/fixtures/run.json")).expect("the fixture reads")
}
