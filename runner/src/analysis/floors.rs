//! The generator's own latency floor under each open load: the p99 it reports against the native
//! baseline (native current-thread) in the same rounds, an upper bound on what the generator adds.
//! A cell whose p99 is within reach of that floor gets the generator-noise flag.

use super::baseline::NATIVE;
use super::cell::CellFigures;
use super::flags::{GENERATOR_FLOOR_MIN_MS, GENERATOR_FLOOR_REACH};
use crate::config::LoadModel;
use crate::results::{CellResult, Flag, GeneratorFloor, Status};

/// The floor of every open load that has a measured native baseline (Rust's if both languages
/// do). A share of a peak offers a rate near the server's limit: its tail is the server's.
pub fn floors(cells: &[CellResult], figures: &[CellFigures]) -> Vec<GeneratorFloor> {
    let mut floors: Vec<GeneratorFloor> = Vec::new();
    for (cell, f) in cells.iter().zip(figures) {
        let baseline = NATIVE.is_baseline(cell)
            && cell.status == Status::Ok
            && cell.load_model == LoadModel::Open
            && cell.share.is_none();
        if !baseline || floors.iter().any(|fl| fl.load == cell.load) {
            continue;
        }
        let p99s: Vec<f64> = f.rounds.iter().filter_map(|r| r.p99_ms).collect();
        if let Some(floor_ms) = super::stats::median(&p99s).or(f.metrics.p99_ms) {
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

/// The generator-noise flag of a cell whose p99 is within reach of its load's floor.
pub fn noise_flag(cell: &CellResult, f: &CellFigures, floors: &[GeneratorFloor]) -> Option<Flag> {
    if cell.share.is_some() {
        return None;
    }
    let floor = floors.iter().find(|fl| fl.load == cell.load)?;
    let p99_ms = f.metrics.p99_ms?;
    (floor.floor_ms >= GENERATOR_FLOOR_MIN_MS && p99_ms <= GENERATOR_FLOOR_REACH * floor.floor_ms)
        .then(|| Flag::GeneratorNoise {
            generator: floor.generator.clone(),
            p99_ms,
            floor_ms: floor.floor_ms,
            reach: GENERATOR_FLOOR_REACH,
        })
}

#[cfg(test)]
mod tests {
    use crate::analysis::fixtures::{cell, run, window};
    use crate::results::Flag;

    /// An open cell with these p99s (ms), one window per round.
    fn open(
        runtime: &str,
        mode: &str,
        generator: &str,
        load: &str,
        p99s: &[f64],
    ) -> crate::results::CellResult {
        let mut c = cell(runtime, mode, load);
        c.generator = generator.into();
        c.measured.windows = p99s
            .iter()
            .enumerate()
            .map(|(r, p99)| window(r as u32, 3000.0, p99 / 3.0, 20.0))
            .collect();
        c
    }

    #[test]
    fn k6_tails_near_its_floor_are_flagged_and_oha_tails_are_not() {
        // Measured here: k6 against native at 3,000 req/s, p99 19-26 ms; oha, 0.2 ms.
        let r = run(vec![
            open(
                "native",
                "current-thread",
                "k6",
                "open-k6",
                &[19.0, 26.0, 22.0],
            ),
            open("wasmtime", "default", "k6", "open-k6", &[31.0, 25.0, 40.0]),
            open(
                "native",
                "current-thread",
                "oha",
                "open",
                &[0.21, 0.19, 0.2],
            ),
            open("wasmtime", "default", "oha", "open", &[0.35, 0.4, 0.38]),
        ]);
        let a = crate::analysis::analyze(&r);
        assert_eq!(a.floors.len(), 2);
        assert_eq!(
            (a.floors[0].generator.as_str(), a.floors[0].floor_ms),
            ("k6", 22.0)
        );
        let flagged: Vec<usize> = (0..4)
            .filter(|&i| {
                a.cells[i]
                    .flags
                    .iter()
                    .any(|f| matches!(f, Flag::GeneratorNoise { .. }))
            })
            .collect();
        // Both k6 cells (31 ms is within 2x of 22 ms); no oha cell: its floor is sub-millisecond.
        assert_eq!(flagged, [0, 1]);
        let noise = a.cells[1]
            .flags
            .iter()
            .find(|f| f.code() == "generator-noise")
            .unwrap();
        assert!(
            noise.evidence().contains("k6's own floor here, 22.00 ms"),
            "{}",
            noise.evidence()
        );
        // A server whose tail is far above the floor is not the generator's.
        let r = run(vec![
            open("native", "current-thread", "k6", "open-l", &[20.0]),
            open("wasmer", "cranelift", "k6", "open-l", &[90.0]),
        ]);
        let a = crate::analysis::analyze(&r);
        assert!(a.cells[1]
            .flags
            .iter()
            .all(|f| f.code() != "generator-noise"));
    }
}
