//! The hand-off trial: a request's path through a runtime, without a runtime. A thread on the
//! generator's CPU wakes an I/O thread on the server's CPU, which does a little work and hands
//! the request to a guest thread on the same CPU, which does some more and answers. Each round
//! trip is timed. Blocks alternate without and with the keep-awake threads on every CPU the run
//! uses, in ABBA order so that drift hits both arms alike.

use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use crate::analysis::awake::block_figures;
use crate::results::preflight::HandoffBlock;
use crate::sys::awake::{pin, KeepAwake};

/// Round trips per block, and blocks per arm: about 3 s in all here.
pub const TRIPS: usize = 1500;
pub const PAIRS: usize = 6;

/// The trial's blocks, in the order they ran. A block whose keep-awake threads could not start is
/// left out (the decision then has fewer pairs).
pub fn trial(server_cpu: usize, generator_cpu: usize, awake_cpus: &[usize]) -> Vec<HandoffBlock> {
    let mut blocks = Vec::new();
    for pair in 0..PAIRS {
        let order = if pair % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for awake in order {
            if crate::sys::interrupted() {
                return blocks;
            }
            let threads = match awake {
                true => match KeepAwake::start(awake_cpus) {
                    Ok(t) => Some(t),
                    Err(_) => continue,
                },
                false => None,
            };
            let steal_before = crate::sys::procfs::machine_steal_ticks();
            let trips = round_trips(TRIPS, server_cpu, generator_cpu);
            let steal = steal_before
                .zip(crate::sys::procfs::machine_steal_ticks())
                .and_then(|(a, b)| crate::sys::procfs::steal_pct(a, b));
            drop(threads);
            blocks.push(block_figures(awake, &trips, steal));
        }
    }
    blocks
}

/// `trips` round trips through the three threads: each one's duration in nanoseconds.
pub fn round_trips(trips: usize, server_cpu: usize, generator_cpu: usize) -> Vec<u64> {
    // Some work per hand-off, as a runtime's threads do (a few microseconds each).
    let work = |n: u64| std::hint::black_box((0..n).fold(0u64, |a, k| a ^ std::hint::black_box(k)));
    let (to_io, io_in) = channel::<()>();
    let (to_guest, guest_in) = channel::<()>();
    let (to_generator, generator_in) = channel::<()>();
    let relay = move |cpu: usize,
                      input: std::sync::mpsc::Receiver<()>,
                      output: std::sync::mpsc::Sender<()>,
                      n: u64| {
        std::thread::spawn(move || {
            let _ = pin(cpu);
            while input.recv().is_ok() {
                work(n);
                if output.send(()).is_err() {
                    break;
                }
            }
        })
    };
    let io = relay(server_cpu, io_in, to_guest, 2000);
    let guest = relay(server_cpu, guest_in, to_generator, 4000);
    let times = std::thread::spawn(move || {
        let _ = pin(generator_cpu);
        // A pause between requests, so the server's CPU may go idle as it would between requests.
        (0..trips)
            .map(|_| {
                std::thread::sleep(Duration::from_micros(50));
                let sent = Instant::now();
                let ok = to_io.send(()).is_ok() && generator_in.recv().is_ok();
                ok.then(|| sent.elapsed().as_nanos() as u64)
            })
            .take_while(Option::is_some)
            .flatten()
            .collect::<Vec<u64>>()
    })
    .join()
    .unwrap_or_default();
    let _ = io.join();
    let _ = guest.join();
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A measurement that reports: the trial runs, every trip is counted in one block, and the
    /// arms alternate. What the figures say about this host is printed, not asserted.
    #[test]
    fn the_trial_alternates_arms_and_counts_every_trip() {
        let _one = crate::sys::awake::ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 2 {
            eprintln!("SKIPPED the hand-off trial: it needs two CPUs, this machine has {cpus}");
            return;
        }
        let blocks = trial(0, 1, &[0, 1]);
        assert_eq!(blocks.len(), 2 * PAIRS);
        assert!(blocks.iter().all(|b| b.trips as usize == TRIPS));
        let arms: Vec<bool> = blocks.iter().map(|b| b.awake).collect();
        assert_eq!(&arms[..4], &[false, true, true, false]);
        let d = crate::analysis::awake::decide(Default::default(), Some(&blocks));
        eprintln!("hand-off trial on this host: {:?}: {}", d.verdict, d.reason);
    }
}
