//! Before a run's rounds: what the machine says about itself that the figures depend on
//! (`machine`), and a few seconds of the hand-off pattern with and without the keep-awake threads
//! (`handoff`), from which `analysis::awake` decides whether to keep the CPUs awake here.

pub mod handoff;
pub mod machine;

use crate::analysis::awake;
use crate::config::Settings;
use crate::results::preflight::Preflight;

/// Reads the machine, runs the hand-off trial on the server's and the generator's first CPUs
/// (when they are two different ones), and decides.
pub fn run(settings: &Settings) -> Preflight {
    let cpus = |list: &str| crate::config::cpus::parse_cpu_list(list).unwrap_or_default();
    let (server, generator) = (cpus(&settings.server_cpus), cpus(&settings.generator_cpus));
    let machine = machine::read(&[server.clone(), generator.clone()].concat());
    let pair = server
        .first()
        .zip(generator.first())
        .filter(|(s, g)| s != g);
    let handoff = match pair {
        Some((&s, &g)) => handoff::trial(s, g, &[server, generator].concat()),
        None => Vec::new(),
    };
    let keep_awake = awake::decide(
        settings.keep_cpus_awake,
        (!handoff.is_empty()).then_some(handoff.as_slice()),
    );
    Preflight {
        machine,
        handoff,
        keep_awake,
    }
}
