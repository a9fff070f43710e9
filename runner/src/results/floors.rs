//! The generator's own latency floor under each open load: the p99 it reports against the native
//! baseline (native current-thread) in the same rounds, an upper bound on what the generator adds.
//! A cell whose p99 is within reach of that floor gets the generator-noise flag.

use serde::{Deserialize, Serialize};

use super::flags::{Flag, GENERATOR_FLOOR_MIN_MS, GENERATOR_FLOOR_REACH};
use super::schema::{CellResult, Status};
use crate::config::LoadModel;

/// One open load's floor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GeneratorFloor {
    pub load: String,
    pub generator: String,
    /// Median over rounds of the baseline's p99.
    pub floor_ms: f64,
    /// The baseline cell it comes from.
    pub baseline: String,
}

/// The floor of every open load that has a measured native baseline (Rust's if both languages do).
pub fn floors(cells: &[CellResult]) -> Vec<GeneratorFloor> {
    let mut floors: Vec<GeneratorFloor> = Vec::new();
    for cell in cells {
        let baseline = cell.runtime == "native"
            && cell.mode == "current-thread"
            && cell.status == Status::Ok
            && cell.load_model == LoadModel::Open
            // A share of a peak offers a rate near the server's limit: its tail is the server's.
            && cell.share.is_none();
        if !baseline || floors.iter().any(|f| f.load == cell.load) {
            continue;
        }
        let p99s: Vec<f64> = cell.rounds.iter().filter_map(|r| r.p99_ms).collect();
        if let Some(floor_ms) = crate::stats::median(&p99s).or(cell.metrics.p99_ms) {
            floors.push(GeneratorFloor {
                load: cell.load.clone(),
                generator: cell.generator.clone(),
                floor_ms,
                baseline: cell.id.clone(),
            });
        }
    }
    floors
}

/// Flags each open-load cell whose p99 is within reach of its load's floor.
pub fn attach(cells: &mut [CellResult], floors: &[GeneratorFloor]) {
    for cell in cells.iter_mut().filter(|c| c.share.is_none()) {
        let Some(floor) = floors.iter().find(|f| f.load == cell.load) else {
            continue;
        };
        let Some(p99_ms) = cell.metrics.p99_ms else {
            continue;
        };
        if floor.floor_ms >= GENERATOR_FLOOR_MIN_MS
            && p99_ms <= GENERATOR_FLOOR_REACH * floor.floor_ms
        {
            cell.flags.push(Flag::GeneratorNoise {
                generator: floor.generator.clone(),
                p99_ms,
                floor_ms: floor.floor_ms,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RoundFigures;

    fn cell(id: &str, runtime: &str, generator: &str, load: &str, p99s: &[f64]) -> CellResult {
        let mut c: CellResult = serde_json::from_value(serde_json::json!({
            "index": 0, "id": id, "server": "rust", "target": "host", "runtime": runtime,
            "mode": if runtime == "native" { "current-thread" } else { "default" },
            "mode_about": "", "write": "single", "workload": "plaintext", "load": load,
            "load_model": "open", "generator": generator, "concurrency": 300,
            "offered_rps": 3000, "status": "ok", "reason": null, "runtime_version": null,
            "command": [], "metrics": {}, "flags": [], "repeats_rps": [], "partial": false
        }))
        .unwrap();
        c.rounds = p99s
            .iter()
            .enumerate()
            .map(|(r, p)| RoundFigures {
                round: r as u32,
                p99_ms: Some(*p),
                ..Default::default()
            })
            .collect();
        c.metrics.p99_ms = crate::stats::median(p99s);
        c
    }

    #[test]
    fn k6_tails_near_its_floor_are_flagged_and_oha_tails_are_not() {
        // Measured here: k6 against native at 3,000 req/s, p99 19-26 ms; oha, 0.2 ms.
        let mut cells = vec![
            cell("n-k6", "native", "k6", "open-k6", &[19.0, 26.0, 22.0]),
            cell("w-k6", "wasmtime", "k6", "open-k6", &[31.0, 25.0, 40.0]),
            cell("n-oha", "native", "oha", "open", &[0.21, 0.19, 0.2]),
            cell("w-oha", "wasmtime", "oha", "open", &[0.35, 0.4, 0.38]),
        ];
        let floors = floors(&cells);
        assert_eq!(floors.len(), 2);
        assert_eq!(
            (floors[0].generator.as_str(), floors[0].floor_ms),
            ("k6", 22.0)
        );
        attach(&mut cells, &floors);
        let flagged: Vec<&str> = cells
            .iter()
            .filter(|c| c.flags.iter().any(|f| f.code() == "generator-noise"))
            .map(|c| c.id.as_str())
            .collect();
        // Both k6 cells (31 ms is within 2x of 22 ms); no oha cell: its floor is sub-millisecond.
        assert_eq!(flagged, ["n-k6", "w-k6"]);
        assert!(cells[1].flags[0]
            .evidence()
            .contains("k6's own floor here, 22.00 ms"));
        // A server whose tail is far above the floor is not the generator's.
        let mut slow = vec![
            cell("n", "native", "k6", "l", &[20.0]),
            cell("s", "wasmer", "k6", "l", &[90.0]),
        ];
        let f = super::floors(&slow);
        attach(&mut slow, &f);
        assert!(slow[1].flags.is_empty());
    }
}
