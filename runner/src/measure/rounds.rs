//! The rounds of a run: each round visits every launch group in a shuffled order; a group's server
//! is started once and serves each of its cells one window (in a shuffled order too). A server that
//! dies fails the cell it was serving and is started afresh for the rest; a cell that fails is not
//! measured again in later rounds.

use std::time::Instant;

use super::launch::{LaunchRecord, Started};
use super::remeasure::{next_round, take, PASSES};
use super::window::run_window;
use super::{warm_requests, CellError, CellRun, Plan};
use crate::config::LoadModel;
use crate::results::{CellResult, LaunchResult};
use crate::schedule::{round_order, Group};
use crate::setup::Decision;
use crate::sys::{self, sampler::Sampler};

/// What the rounds report while they run.
pub trait Observer {
    /// Where the measurement stands (for a progress display).
    fn phase(&self, text: &str);
    /// A cell's result after one of its windows (or its failure): the run writes it at once, so
    /// an interrupted run keeps every finished window.
    fn measured(&mut self, result: &CellResult) -> anyhow::Result<()>;
}

/// Everything the rounds measured.
pub struct Outcome {
    /// One result per plan, in plan order (skipped and failed ones included).
    pub cells: Vec<CellResult>,
    pub launches: Vec<LaunchResult>,
    /// Seconds inside measured windows.
    pub window_s: f64,
    /// Seconds spent measuring at all: launches, warm-ups and windows.
    pub busy_s: f64,
    /// Of `busy_s`, the seconds spent measuring disturbed windows again after the rounds.
    pub remeasure_s: f64,
}

/// Runs `rounds` rounds over the plans (grouped by `groups`) in the order `seed` gives.
pub fn measure_rounds(
    plans: &[(Plan, Decision)],
    groups: &[Group],
    rounds: u32,
    seed: u64,
    observer: &mut dyn Observer,
) -> anyhow::Result<Outcome> {
    let mut runs: Vec<Option<CellRun>> = plans
        .iter()
        .map(|(plan, decision)| (*decision == Decision::Ready).then(|| CellRun::new(plan)))
        .collect();
    let mut outcome = Outcome {
        cells: Vec::new(),
        launches: Vec::new(),
        window_s: 0.0,
        busy_s: 0.0,
        remeasure_s: 0.0,
    };
    'rounds: for round in 0..rounds {
        for (group, order) in round_order(groups, seed, round) {
            if sys::interrupted() {
                break 'rounds;
            }
            let members = still_measured(&runs, order);
            let visits: Vec<(usize, u32)> = members.iter().map(|&i| (i, round)).collect();
            let serving = Serving::new(format!("L{group:02}-r{round}"), &groups[group].key, round);
            serving.run(&mut runs, &visits, &members, observer, &mut outcome)?;
        }
    }
    if let Some(settings) = plans.first().map(|(plan, _)| plan.settings) {
        let started = Instant::now();
        remeasure(
            &mut runs,
            groups,
            seed,
            rounds,
            settings,
            observer,
            &mut outcome,
        )?;
        outcome.remeasure_s = started.elapsed().as_secs_f64();
    }
    outcome.cells = plans
        .iter()
        .zip(&runs)
        .map(|((plan, decision), run)| match (run, decision) {
            (Some(run), _) => run.result(),
            (None, Decision::Skip(reason)) => {
                plan.blank(crate::results::Status::Skipped, Some(reason.clone()))
            }
            (None, Decision::Fail(reason)) => {
                plan.blank(crate::results::Status::Failed, Some(reason.clone()))
            }
            (None, Decision::Ready) => unreachable!("ready plans have a run"),
        })
        .collect();
    Ok(outcome)
}

/// After the rounds, while `settings.remeasure` lasts: each open-model cell's most disturbed
/// window measured again, group by group, in up to `PASSES` visits (each in its own shuffled
/// order). See `remeasure` for the rule.
fn remeasure(
    runs: &mut [Option<CellRun>],
    groups: &[Group],
    seed: u64,
    rounds: u32,
    settings: &crate::config::Settings,
    observer: &mut dyn Observer,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    let limit = settings.steal_limit_pct;
    let deadline = Instant::now() + settings.remeasure;
    for pass in 1..=PASSES {
        for (group, order) in round_order(groups, seed, rounds + pass) {
            if sys::interrupted() || Instant::now() >= deadline {
                return Ok(());
            }
            let members = still_measured(runs, order);
            let visits: Vec<(usize, u32)> = members
                .iter()
                .filter_map(|&i| {
                    let run = runs[i].as_ref()?;
                    (run.plan.cell.load.model == LoadModel::Open)
                        .then(|| next_round(&run.measured.windows, limit))?
                        .map(|round| (i, round))
                })
                .collect();
            let Some(&(_, round)) = visits.first() else {
                continue;
            };
            let mut serving = Serving::new(
                format!("L{group:02}-again{pass}"),
                &groups[group].key,
                round,
            );
            serving.again = Some(Again {
                pass,
                limit,
                deadline,
            });
            serving.run(runs, &visits, &members, observer, outcome)?;
        }
    }
    Ok(())
}

/// The cells of `order` that are measured and have not failed.
fn still_measured(runs: &[Option<CellRun>], order: Vec<usize>) -> Vec<usize> {
    order
        .into_iter()
        .filter(|&i| runs[i].as_ref().is_some_and(|r| r.failure.is_none()))
        .collect()
}

/// The rate a cell offers (open model): its load's, or its share of the req/s its peak load
/// measured on the same server in this round (measured first: the schedule puts shares last).
fn offered_rate(
    runs: &[Option<CellRun>],
    members: &[usize],
    i: usize,
    round: u32,
) -> Result<u32, CellError> {
    let cell = runs[i].as_ref().expect("members have runs").plan.cell;
    let Some((share, _)) = &cell.load.share else {
        return Ok(cell.load.rate.unwrap_or(0));
    };
    let peak = cell.load.peak.clone().unwrap_or_default();
    members
        .iter()
        .filter_map(|&j| runs[j].as_ref())
        .filter(|r| r.plan.cell.load.name == peak && r.plan.cell.workload == cell.workload)
        .flat_map(|r| r.measured.windows.iter().filter(|w| w.round == round))
        .map(|w| (w.rps() * share).round().max(1.0) as u32)
        .next()
        .ok_or(CellError::NoPeak { peak })
}

/// After a window: a server that no longer answers a fresh connection within 5 s (it may still
/// run, wedged) has broken; the window measured up to that point stays.
fn still_answers(started: &Started, plan: &Plan) -> Option<CellError> {
    let limit = std::time::Duration::from_secs(5);
    let agent = crate::http::probe::agent(limit);
    let workload = plan.workload().ok()?;
    let sent = Instant::now();
    match crate::http::probe::probe(&agent, &started.base, workload) {
        Ok(_) => None,
        Err(_) => Some(CellError::StoppedAnswering {
            waited: sent.elapsed(),
            log: super::causes::salient(&started.server.log_tail(200)),
            cause: super::causes::known_cause(None, &started.server.log_tail(200)),
        }),
    }
}

/// Measuring again after the rounds: which visit, the steal limit, and when the time is up.
#[derive(Clone, Copy)]
struct Again {
    pass: u32,
    limit: f64,
    deadline: Instant,
}

/// One group's server in one round (or one visit of measuring again).
struct Serving<'k> {
    tag: String,
    key: &'k str,
    /// The round its launch is counted in (measuring again: the first window's round).
    round: u32,
    again: Option<Again>,
    /// The running server and the index of its launch in `launches` and `records`.
    server: Option<(Started, usize)>,
    launches: Vec<LaunchResult>,
    records: Vec<LaunchRecord>,
    window_s: f64,
}

impl<'k> Serving<'k> {
    fn new(tag: String, key: &'k str, round: u32) -> Self {
        Serving {
            tag,
            key,
            round,
            again: None,
            server: None,
            launches: Vec::new(),
            records: Vec::new(),
            window_s: 0.0,
        }
    }

    /// Serves the visits (cell, round) and adds what it took to `outcome`; `members` are the
    /// group's cells still measured (a share finds its peak's window among them).
    fn run(
        mut self,
        runs: &mut [Option<CellRun>],
        visits: &[(usize, u32)],
        members: &[usize],
        observer: &mut dyn Observer,
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        if visits.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let result = self.serve(runs, visits, members, observer);
        outcome.busy_s += started.elapsed().as_secs_f64();
        outcome.window_s += self.window_s;
        outcome.launches.extend(self.finish());
        result
    }

    /// Whether one more window (with a fresh server's warm-up) ends before the remeasure time
    /// is up; always, in the rounds.
    fn fits(&self, settings: &crate::config::Settings) -> bool {
        self.again.is_none_or(|again| {
            Instant::now() + settings.duration + settings.warmup <= again.deadline
        })
    }

    /// Each visited cell gets its window, a fresh server when there is none (or it died).
    fn serve(
        &mut self,
        runs: &mut [Option<CellRun>],
        visits: &[(usize, u32)],
        members: &[usize],
        observer: &mut dyn Observer,
    ) -> anyhow::Result<()> {
        let mut first_window = true;
        for (position, &(i, round)) in visits.iter().enumerate() {
            let run = runs[i].as_mut().expect("visits have runs");
            if !self.fits(run.plan.settings) {
                return Ok(());
            }
            if self.server.is_none() {
                match self.start(run, observer) {
                    Ok(()) => first_window = true,
                    Err(_) if crate::sys::interrupted() => return Ok(()),
                    Err(e) => {
                        // The same server would fail the same way for every cell it serves.
                        let record = self.records.last().cloned().unwrap_or_default();
                        for &(j, _) in &visits[position..] {
                            let failed = runs[j].as_mut().expect("visits have runs");
                            failed.failure = Some(e.clone());
                            failed.served_by(&record);
                            observer.measured(&failed.result())?;
                        }
                        return Ok(());
                    }
                }
            }
            let rate = offered_rate(runs, members, i, round);
            let run = runs[i].as_mut().expect("visits have runs");
            let outcome =
                rate.and_then(|rate| self.window(run, first_window, round, rate, observer));
            // Ctrl-C stops every child at once: whatever failed after it is not a measurement
            // (and `window` kept nothing it measured once Ctrl-C came).
            if crate::sys::interrupted() {
                return Ok(());
            }
            if let Err(e) = outcome {
                run.failure = Some(e);
            }
            first_window = false;
            observer.measured(&run.result())?;
        }
        Ok(())
    }

    /// Starts the group's server, answering `run`'s workload.
    fn start(&mut self, run: &CellRun, observer: &dyn Observer) -> Result<(), CellError> {
        let tag = match self.launches.len() {
            0 => self.tag.clone(),
            n => format!("{}-{n}", self.tag),
        };
        let mut record = LaunchRecord::default();
        let phase = |text: &str| observer.phase(&format!("{} · {text}", run.plan.cell.id));
        let started = run
            .plan
            .launch
            .start(&tag, run.plan.workload()?, &mut record, &phase);
        self.launches.push(LaunchResult {
            key: self.key.to_string(),
            round: self.round,
            again: self.again.is_some(),
            cells: Vec::new(),
            startup_ms: record.startup_ms,
            first_request_ms: record.first_request_ms,
            prepare_ms: record.prepare_ms,
            rss_idle_kb: record.rss_idle_kb,
            error: started.as_ref().err().map(|e| e.to_string()),
        });
        self.records.push(record);
        let started = started?;
        self.server = Some((started, self.launches.len() - 1));
        Ok(())
    }

    /// Warm requests, then one window of `run`'s load in `round`, with the server's memory
    /// sampled. The window is the round's, or (measuring again) it may take a disturbed one's place.
    fn window(
        &mut self,
        run: &mut CellRun,
        first: bool,
        round: u32,
        rate: u32,
        observer: &dyn Observer,
    ) -> Result<(), CellError> {
        let (started, launch) = self.server.as_ref().expect("a started server");
        let plan = run.plan;
        self.launches[*launch].cells.push(plan.cell.id.clone());
        run.served_by(&self.records[*launch]);
        let (label, doing) = match self.again {
            None => (format!("r{round}"), format!("round {}", round + 1)),
            Some(again) => (
                format!("r{round}-again{}", again.pass),
                format!("round {} again (host steal)", round + 1),
            ),
        };
        observer.phase(&format!(
            "{} · {doing} · {}",
            plan.cell.id,
            plan.cell.load.generator().name()
        ));
        run.measured
            .warm_ms
            .extend(warm_requests(&started.base, plan.workload()?)?);
        let warmup = if first {
            plan.settings.warmup
        } else {
            plan.settings.rewarm
        };
        let spec = plan.window_spec(&started.base, &label, warmup, rate)?;
        let sampler = Sampler::start(started.measured_pid);
        let window = match run_window(&started.server, started.measured_pid, &spec) {
            // A wall-clock step is the machine's, not the cell's: measure the window again.
            Err(CellError::ClockStepped { .. }) => {
                run_window(&started.server, started.measured_pid, &spec)
            }
            other => other,
        };
        let memory = sampler.finish();
        let peak = memory.hwm_peak_kb.max(memory.rss_sum_peak_kb);
        run.measured.rss_peak_kb = Some(run.measured.rss_peak_kb.unwrap_or(0).max(peak));
        run.measured.rss_end_kb = crate::sys::procfs::tree_rss_kb(started.measured_pid);
        let broken = if started.server.exited_keep_zombie() {
            Some(super::window::died(&started.server))
        } else if window.is_ok() {
            still_answers(started, plan)
        } else {
            None
        };
        if broken.is_some() {
            // The next cell gets a fresh server.
            if let Some((mut gone, _)) = self.server.take() {
                gone.stop();
            }
        }
        let window = window?;
        if crate::sys::interrupted() {
            // Ctrl-C cut the generator short: not a whole window.
            return Ok(());
        }
        self.window_s += window.summary.elapsed_s;
        let record = window.record(round, plan.generator_cpus());
        match self.again {
            None => run.measured.windows.push(record),
            Some(again) => take(
                &mut run.measured.windows,
                &mut run.measured.set_aside,
                record,
                again.limit,
            ),
        }
        broken.map_or(Ok(()), Err)
    }

    /// Stops the server; the launches with the cells each served.
    fn finish(mut self) -> Vec<LaunchResult> {
        if let Some((mut started, _)) = self.server.take() {
            started.stop();
        }
        self.launches
    }
}
