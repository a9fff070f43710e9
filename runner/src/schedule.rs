//! The order of a run: cells grouped by the server that serves them (one launch per group and
//! round), and rounds that each visit every group, and every cell within it, in an order shuffled
//! with a recorded seed (randomized multiple interleaved trials, Abedi & Brecht, ICPE 2017), so
//! slow drift of the machine hits every cell alike.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::Cell;

/// Cells served by one launched server: same server language, runtime, mode and write strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `Cell::launch_key`.
    pub key: String,
    /// Indices into the matrix's cells, in matrix order.
    pub cells: Vec<usize>,
    /// Those of them that offer a share of another cell's peak: they go after the others.
    pub late: Vec<usize>,
}

/// The groups of `cells`, in the order their first cell appears.
pub fn groups(cells: &[Cell]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (index, cell) in cells.iter().enumerate() {
        let key = cell.launch_key();
        let group = match groups.iter().position(|g| g.key == key) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(Group {
                    key,
                    cells: Vec::new(),
                    late: Vec::new(),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        group.cells.push(index);
        if cell.load.share.is_some() {
            group.late.push(index);
        }
    }
    groups
}

/// One round's visiting order: (group index, its cells in the order to measure them).
pub fn round_order(groups: &[Group], seed: u64, round: u32) -> Vec<(usize, Vec<usize>)> {
    // One stream per round: a round's order does not depend on how many rounds came before.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(round) << 32 | 0x9e37));
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.shuffle(&mut rng);
    order
        .into_iter()
        .map(|g| {
            let mut cells = groups[g].cells.clone();
            cells.shuffle(&mut rng);
            // A share of a peak is measured after that peak, in the same round, on the same server.
            cells.sort_by_key(|c| groups[g].late.contains(c));
            (g, cells)
        })
        .collect()
}

/// A seed for a run that names none: the clock's nanoseconds (it is recorded with the run).
pub fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadModel, LoadSpec};

    fn cell(runtime: &str, mode: &str, workload: &str) -> Cell {
        Cell {
            id: format!("rust/{runtime}/{mode}/single/{workload}/l"),
            server: "rust".into(),
            runtime: runtime.into(),
            version: None,
            mode: mode.into(),
            write: "single".into(),
            workload: workload.into(),
            load: LoadSpec {
                connections: Some(crate::config::Counts::One(1)),
                ..LoadSpec::new("l", LoadModel::Peak)
            },
        }
    }

    #[test]
    fn cells_of_one_server_share_a_launch() {
        let cells = [
            cell("native", "current-thread", "plaintext"),
            cell("wasmtime", "default", "plaintext"),
            cell("native", "current-thread", "json"),
        ];
        let g = groups(&cells);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].cells, vec![0, 2]);
        assert_eq!(g[1].key, "rust/wasmtime/default/single");
    }

    #[test]
    fn every_round_visits_every_cell_once_in_a_reproducible_shuffled_order() {
        let cells: Vec<Cell> = (0..8)
            .flat_map(|m| {
                ["plaintext", "json", "echo"].map(|w| cell("native", &format!("m{m}"), w))
            })
            .collect();
        let g = groups(&cells);
        let flat = |order: &[(usize, Vec<usize>)]| -> Vec<usize> {
            order.iter().flat_map(|(_, c)| c.clone()).collect()
        };
        let mut orders = Vec::new();
        for round in 0..3 {
            let order = round_order(&g, 42, round);
            let mut seen = flat(&order);
            seen.sort();
            assert_eq!(seen, (0..cells.len()).collect::<Vec<_>>(), "round {round}");
            // A group's cells stay together: they share one launched server.
            for (group, members) in &order {
                let mut sorted = members.clone();
                sorted.sort();
                assert_eq!(sorted, g[*group].cells);
            }
            assert_eq!(
                order,
                round_order(&g, 42, round),
                "the seed fixes the order"
            );
            orders.push(flat(&order));
        }
        assert_ne!(orders[0], orders[1], "rounds are shuffled anew");
        assert_ne!(
            flat(&round_order(&g, 43, 0)),
            orders[0],
            "another seed, another order"
        );
    }
}
