//! The rounds of a run: each round visits every launch group in a shuffled order; a group's server
//! is started once and serves each of its cells one window (in a shuffled order too). A server that
//! dies fails the cell it was serving and is started afresh for the rest; a cell that fails is not
//! measured again in later rounds.

use std::time::Instant;

use super::executor::{Executor, WindowArgs};
use super::launch::LaunchRecord;
use super::remeasure::{next_round, take, PASSES};
use super::{CellError, CellRun, Plan};
use crate::config::LoadModel;
use crate::results::{CellResult, LaunchResult};
use crate::schedule::{round_order, Group};
use crate::sys;

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
    /// One result per planned cell, by the cell's index (`None` where nothing was planned).
    pub cells: Vec<Option<CellResult>>,
    pub launches: Vec<LaunchResult>,
    /// Seconds inside measured windows.
    pub window_s: f64,
    /// Seconds spent measuring at all: launches, warm-ups and windows.
    pub busy_s: f64,
    /// Of `busy_s`, the seconds spent measuring disturbed windows again after the rounds.
    pub remeasure_s: f64,
}

/// Runs `rounds` rounds over the plans (by cell index, `None` for cells not measured; grouped by
/// `groups`) in the order `seed` gives, with `executor` starting servers and measuring windows.
pub fn measure_rounds<E: Executor>(
    plans: &[Option<Plan>],
    groups: &[Group],
    rounds: u32,
    seed: u64,
    observer: &mut dyn Observer,
    executor: &mut E,
) -> anyhow::Result<Outcome> {
    let mut runs: Vec<Option<CellRun>> =
        plans.iter().map(|p| p.as_ref().map(CellRun::new)).collect();
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
            serving.run(
                &mut runs,
                &visits,
                &members,
                observer,
                &mut outcome,
                executor,
            )?;
        }
    }
    if let Some(settings) = plans.iter().flatten().next().map(|plan| plan.settings) {
        let started = executor.now();
        let ctx = Context {
            groups,
            seed,
            rounds,
            settings,
        };
        remeasure(&mut runs, &ctx, observer, &mut outcome, executor)?;
        outcome.remeasure_s = (executor.now() - started).as_secs_f64();
    }
    outcome.cells = runs
        .iter()
        .map(|run| run.as_ref().map(CellRun::result))
        .collect();
    Ok(outcome)
}

/// What measuring again needs to know of the run.
struct Context<'a> {
    groups: &'a [Group],
    seed: u64,
    rounds: u32,
    settings: &'a crate::config::Settings,
}

/// After the rounds, while `settings.remeasure` lasts: each open-model cell's most disturbed
/// window measured again, group by group, in up to `PASSES` visits (each in its own shuffled
/// order). See `remeasure` for the rule.
fn remeasure<E: Executor>(
    runs: &mut [Option<CellRun>],
    ctx: &Context,
    observer: &mut dyn Observer,
    outcome: &mut Outcome,
    executor: &mut E,
) -> anyhow::Result<()> {
    let limit = ctx.settings.steal_limit_pct;
    let deadline = executor.now() + ctx.settings.remeasure;
    for pass in 1..=PASSES {
        for (group, order) in round_order(ctx.groups, ctx.seed, ctx.rounds + pass) {
            if sys::interrupted() || executor.now() >= deadline {
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
            let tag = format!("L{group:02}-again{pass}");
            let mut serving = Serving::new(tag, &ctx.groups[group].key, round);
            serving.again = Some(Again {
                pass,
                limit,
                deadline,
            });
            serving.run(runs, &visits, &members, observer, outcome, executor)?;
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

/// Measuring again after the rounds: which visit, the steal limit, and when the time is up.
#[derive(Clone, Copy)]
struct Again {
    pass: u32,
    limit: f64,
    deadline: Instant,
}

/// One group's server in one round (or one visit of measuring again).
struct Serving<'k, S> {
    tag: String,
    key: &'k str,
    /// The round its launch is counted in (measuring again: the first window's round).
    round: u32,
    again: Option<Again>,
    /// The running server and the index of its launch in `launches` and `records`.
    server: Option<(S, usize)>,
    launches: Vec<LaunchResult>,
    records: Vec<LaunchRecord>,
    window_s: f64,
}

impl<'k, S> Serving<'k, S> {
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
    fn run<E: Executor<Server = S>>(
        mut self,
        runs: &mut [Option<CellRun>],
        visits: &[(usize, u32)],
        members: &[usize],
        observer: &mut dyn Observer,
        outcome: &mut Outcome,
        executor: &mut E,
    ) -> anyhow::Result<()> {
        if visits.is_empty() {
            return Ok(());
        }
        let started = executor.now();
        let result = self.serve(runs, visits, members, observer, executor);
        outcome.busy_s += (executor.now() - started).as_secs_f64();
        outcome.window_s += self.window_s;
        outcome.launches.extend(self.finish(executor));
        result
    }

    /// Whether one more window (with a fresh server's warm-up) ends before the remeasure time
    /// is up; always, in the rounds.
    fn fits(&self, settings: &crate::config::Settings, now: Instant) -> bool {
        self.again
            .is_none_or(|again| now + settings.duration + settings.warmup <= again.deadline)
    }

    /// Each visited cell gets its window, a fresh server when there is none (or it died).
    fn serve<E: Executor<Server = S>>(
        &mut self,
        runs: &mut [Option<CellRun>],
        visits: &[(usize, u32)],
        members: &[usize],
        observer: &mut dyn Observer,
        executor: &mut E,
    ) -> anyhow::Result<()> {
        let mut first_window = true;
        for (position, &(i, round)) in visits.iter().enumerate() {
            let run = runs[i].as_mut().expect("visits have runs");
            if !self.fits(run.plan.settings, executor.now()) {
                return Ok(());
            }
            if self.server.is_none() {
                match self.start(run, observer, executor) {
                    Ok(()) => first_window = true,
                    Err(_) if crate::sys::interrupted() => return Ok(()),
                    // It started but answered this cell's request wrongly: that route's cell
                    // fails, the next cell gets a server of its own.
                    Err(e @ CellError::WrongAnswer(_)) => {
                        let failed = runs[i].as_mut().expect("visits have runs");
                        failed.failure = Some(e);
                        failed.served_by(&self.records.last().cloned().unwrap_or_default());
                        observer.measured(&failed.result())?;
                        continue;
                    }
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
            let outcome = rate
                .and_then(|rate| self.window(run, first_window, round, rate, observer, executor));
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
    fn start<E: Executor<Server = S>>(
        &mut self,
        run: &CellRun,
        observer: &dyn Observer,
        executor: &mut E,
    ) -> Result<(), CellError> {
        let tag = match self.launches.len() {
            0 => self.tag.clone(),
            n => format!("{}-{n}", self.tag),
        };
        let mut record = LaunchRecord::default();
        let phase = |text: &str| observer.phase(&format!("{} · {text}", run.plan.cell.id));
        let started = executor.start(run.plan, &tag, &mut record, &phase);
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
    /// sampled. The window is the round's, or (measuring again) it may take a disturbed one's
    /// place. A window the wall clock stepped in is measured again, once.
    fn window<E: Executor<Server = S>>(
        &mut self,
        run: &mut CellRun,
        first: bool,
        round: u32,
        rate: u32,
        observer: &dyn Observer,
        executor: &mut E,
    ) -> Result<(), CellError> {
        let (server, launch) = self.server.as_ref().expect("a started server");
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
        let generator = plan.cell.load.generator().name();
        observer.phase(&format!("{} · {doing} · {generator}", plan.cell.id));
        run.measured.warm_ms.extend(executor.warm(server, plan)?);
        let args = WindowArgs {
            label: &label,
            warmup: if first {
                plan.settings.warmup
            } else {
                plan.settings.rewarm
            },
            rate,
        };
        let mut measured = executor.window(server, plan, &args);
        if let Err(CellError::ClockStepped { .. }) = measured.window {
            // A wall-clock step is the machine's, not the cell's: measure the window again.
            measured = executor.window(server, plan, &args);
        }
        let peak = run
            .measured
            .rss_peak_kb
            .unwrap_or(0)
            .max(measured.rss_peak_kb);
        run.measured.rss_peak_kb = Some(peak);
        run.measured.rss_end_kb = measured.rss_end_kb;
        let broken = match executor.died(server) {
            Some(died) => Some(died),
            None if measured.window.is_ok() => executor.answers(server, plan),
            None => None,
        };
        if broken.is_some() {
            // The next cell gets a fresh server.
            if let Some((gone, _)) = self.server.take() {
                executor.stop(gone);
            }
        }
        let window = measured.window?;
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
    fn finish<E: Executor<Server = S>>(mut self, executor: &mut E) -> Vec<LaunchResult> {
        if let Some((started, _)) = self.server.take() {
            executor.stop(started);
        }
        self.launches
    }
}

#[cfg(test)]
mod tests {
    //! The rules of measuring, against a scripted server and generator: what each window
    //! "measures" and when a server dies or stops answering is written in the test, and a virtual
    //! clock keeps the remeasure deadline.

    use std::collections::{BTreeMap, VecDeque};
    use std::time::Duration;

    use super::*;
    use crate::config::{Cell, LoadSpec, RuntimeDefs, Settings};
    use crate::hosts::Topology;
    use crate::load::{LoadSummary, Trend};
    use crate::measure::executor::Measurement;
    use crate::measure::threads::ThreadSplit;
    use crate::measure::window::Window;
    use crate::measure::Launch;
    use crate::results::Status;

    /// What the scripted generator reports for one window of a cell.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        /// A whole window at this req/s with this much steal.
        Ok { rps: f64, steal: f64 },
        /// The server died during the window.
        Dies,
        /// The window finished, then the server stopped answering fresh connections.
        StopsAnswering,
        /// The wall clock stepped during the window.
        Stepped,
    }

    struct Mock {
        clock: Instant,
        /// Each window advances the clock this much.
        window: Duration,
        /// Per cell id: what its windows do, in order (then `Ok` at 1,000 req/s, no steal).
        script: BTreeMap<String, VecDeque<Step>>,
        /// Cell ids whose server fails to start.
        unstartable: Vec<String>,
        /// Cell ids whose request the server answers wrongly.
        wrong: Vec<String>,
        /// Every start, by the cell it started for.
        starts: Vec<String>,
        /// Every window asked for: (cell id, rate).
        windows: Vec<(String, u32)>,
        next: u32,
    }

    struct Server {
        id: u32,
        dead: bool,
        deaf: bool,
    }

    impl Mock {
        fn new() -> Mock {
            Mock {
                clock: Instant::now(),
                window: Duration::from_secs(3),
                script: BTreeMap::new(),
                unstartable: Vec::new(),
                wrong: Vec::new(),
                starts: Vec::new(),
                windows: Vec::new(),
                next: 0,
            }
        }

        fn script(mut self, id: &str, steps: &[Step]) -> Mock {
            self.script
                .insert(id.into(), steps.iter().copied().collect());
            self
        }
    }

    fn window(rps: f64, steal: f64, rate: u32) -> Window {
        let requests = (rps * 2.0) as u64;
        Window {
            summary: LoadSummary {
                requests,
                elapsed_s: 2.0,
                failed_rate: 0.0,
                dropped: None,
                duration_ms: Some(Trend {
                    med: 1.0,
                    p99: 3.0,
                    ..Default::default()
                }),
                blocked_ms: None,
                connecting_ms: None,
                sending_ms: None,
                waiting_ms: None,
                receiving_ms: None,
                hostile: None,
            },
            offered_rps: (rate > 0).then_some(rate),
            window_s: 2.0,
            server_cpu: (requests as f64 * 20e-6, 0.0),
            server_threads: ThreadSplit::default(),
            generator_cpu_s: 1.0,
            steal_pct: Some(steal),
        }
    }

    impl Executor for Mock {
        type Server = Server;

        fn start(
            &mut self,
            plan: &Plan,
            _: &str,
            record: &mut LaunchRecord,
            _: &dyn Fn(&str),
        ) -> Result<Server, CellError> {
            self.starts.push(plan.cell.id.clone());
            self.clock += Duration::from_millis(100);
            if self.wrong.contains(&plan.cell.id) {
                return Err(CellError::WrongAnswer(crate::http::workload::WrongAnswer::Status {
                    request: "GET /broken".into(),
                    got: 500,
                    want: 200,
                }));
            }
            if self.unstartable.contains(&plan.cell.id) {
                return Err(CellError::NotReady {
                    timeout: Duration::from_secs(30),
                    last_error: "connection refused".into(),
                    log: String::new(),
                });
            }
            record.startup_ms = Some(100.0);
            self.next += 1;
            Ok(Server {
                id: self.next,
                dead: false,
                deaf: false,
            })
        }

        fn warm(&mut self, _: &Server, _: &Plan) -> Result<Vec<f64>, CellError> {
            Ok(vec![0.1])
        }

        fn window(&mut self, server: &Server, plan: &Plan, args: &WindowArgs) -> Measurement {
            self.clock += self.window;
            self.windows.push((plan.cell.id.clone(), args.rate));
            let step = self
                .script
                .get_mut(&plan.cell.id)
                .and_then(VecDeque::pop_front)
                .unwrap_or(Step::Ok {
                    rps: 1000.0,
                    steal: 0.0,
                });
            assert!(!server.dead && !server.deaf, "a window on a broken server");
            let window = match step {
                Step::Ok { rps, steal } => Ok(window(rps, steal, args.rate)),
                Step::StopsAnswering => {
                    // The flag is read by `answers` right after.
                    self.script
                        .entry(format!("deaf:{}", server.id))
                        .or_default();
                    Ok(window(1000.0, 0.0, args.rate))
                }
                Step::Dies => {
                    self.script
                        .entry(format!("dead:{}", server.id))
                        .or_default();
                    Err(CellError::ServerDied {
                        log: "bye".into(),
                        cause: Some("the scripted cause".into()),
                    })
                }
                Step::Stepped => Err(CellError::ClockStepped {
                    generator: "wrk",
                    reported_s: 30.0,
                    measured_s: 2.0,
                }),
            };
            Measurement {
                window,
                rss_peak_kb: 1000,
                rss_end_kb: Some(900),
            }
        }

        fn died(&mut self, server: &Server) -> Option<CellError> {
            self.script
                .contains_key(&format!("dead:{}", server.id))
                .then(|| CellError::ServerDied {
                    log: "bye".into(),
                    cause: Some("the scripted cause".into()),
                })
        }

        fn answers(&mut self, server: &Server, _: &Plan) -> Option<CellError> {
            self.script
                .contains_key(&format!("deaf:{}", server.id))
                .then(|| CellError::StoppedAnswering {
                    waited: Duration::from_secs(5),
                    log: String::new(),
                    cause: Some("the scripted cause".into()),
                })
        }

        fn stop(&mut self, _: Server) {}

        fn now(&self) -> Instant {
            self.clock
        }
    }

    struct Quiet;

    impl Observer for Quiet {
        fn phase(&self, _: &str) {}
        fn measured(&mut self, _: &CellResult) -> anyhow::Result<()> {
            Ok(())
        }
    }

    fn cell(runtime: &str, mode: &str, load: LoadSpec) -> Cell {
        Cell {
            id: format!("rust/{runtime}/{mode}/single/plaintext/{}", load.name),
            server: "rust".into(),
            runtime: runtime.into(),
            version: None,
            mode: mode.into(),
            write: "single".into(),
            workload: "plaintext".into(),
            load,
        }
    }

    fn peak(name: &str) -> LoadSpec {
        LoadSpec {
            connections: Some(crate::config::Counts::One(50)),
            ..LoadSpec::new(name, crate::config::LoadModel::Peak)
        }
    }

    fn open(name: &str) -> LoadSpec {
        LoadSpec {
            rate: Some(3000),
            generator: Some(crate::config::Generator::Oha),
            ..LoadSpec::new(name, crate::config::LoadModel::Open)
        }
    }

    /// Runs the rules over `cells` (all ready but those in `not_ready`) with `mock`.
    fn measure(
        cells: &[Cell],
        settings: &Settings,
        not_ready: &[usize],
        mock: &mut Mock,
    ) -> Outcome {
        let defs = RuntimeDefs::load(&crate::paths::repo_root().join("runtimes")).unwrap();
        let servers = crate::config::ServerDefs::builtin(&crate::paths::servers_dir()).unwrap();
        let topology = Topology::local(settings);
        let plans: Vec<Option<Plan>> = cells
            .iter()
            .enumerate()
            .map(|(index, cell)| {
                let def = defs.get(&cell.runtime).unwrap();
                let mut labels =
                    crate::analysis::fixtures::cell(&cell.runtime, &cell.mode, &cell.load.name);
                labels.index = index;
                labels.id = cell.id.clone();
                (!not_ready.contains(&index)).then(|| Plan {
                    cell,
                    labels,
                    launch: Launch {
                        def,
                        mode_name: &cell.mode,
                        mode: &def.modes[&cell.mode],
                        write: &cell.write,
                        bin: None,
                        runtime_version: None,
                        artifact: "server".into(),
                        server: servers.get("rust").unwrap(),
                        server_cpus: "0",
                        server_place: &topology.server,
                        server_ip: "127.0.0.1",
                        ready_timeout: Duration::from_secs(30),
                        logs: std::env::temp_dir(),
                        prepared_cache: std::env::temp_dir(),
                        container: None,
                    },
                    settings,
                    generator: "wrk".into(),
                    script: "s".into(),
                    topology: &topology,
                })
            })
            .collect();
        let groups = crate::schedule::groups(cells);
        measure_rounds(&plans, &groups, settings.repeats, 7, &mut Quiet, mock).unwrap()
    }

    fn settings(rounds: u32) -> Settings {
        Settings {
            repeats: rounds,
            duration: Duration::from_secs(2),
            warmup: Duration::from_secs(1),
            ..Settings::default()
        }
    }

    fn result(outcome: &Outcome, i: usize) -> &CellResult {
        outcome.cells[i].as_ref().expect("measured")
    }

    #[test]
    fn each_ready_cell_gets_a_window_per_round_and_each_server_one_launch_per_round() {
        let cells = [
            cell("native", "current-thread", peak("a")),
            cell("native", "current-thread", peak("b")),
            cell("wasmtime", "default", peak("a")),
            cell("wasmtime", "pooling", peak("a")),
        ];
        let mut mock = Mock::new();
        let outcome = measure(&cells, &settings(3), &[3], &mut mock);
        for i in 0..3 {
            let c = result(&outcome, i);
            assert_eq!(c.status, Status::Ok, "{}", c.id);
            let rounds: Vec<u32> = c.measured.windows.iter().map(|w| w.round).collect();
            assert_eq!(rounds, [0, 1, 2], "{}", c.id);
        }
        assert!(
            outcome.cells[3].is_none(),
            "a cell not planned is not measured"
        );
        // Two servers (native, wasmtime default) x 3 rounds; native served both its cells.
        assert_eq!(outcome.launches.len(), 6);
        assert_eq!(mock.starts.len(), 6);
        assert!(outcome
            .launches
            .iter()
            .filter(|l| l.key.contains("native"))
            .all(|l| l.cells.len() == 2));
    }

    #[test]
    fn a_server_that_cannot_start_fails_every_cell_it_would_serve_and_they_are_not_tried_again() {
        let cells = [
            cell("wasmtime", "default", peak("a")),
            cell("wasmtime", "default", peak("b")),
            cell("native", "current-thread", peak("a")),
        ];
        let mut mock = Mock::new();
        mock.unstartable = vec![cells[0].id.clone(), cells[1].id.clone()];
        let outcome = measure(&cells, &settings(3), &[], &mut mock);
        for i in 0..2 {
            let c = result(&outcome, i);
            assert_eq!(c.status, Status::Failed);
            assert!(c
                .reason
                .as_deref()
                .unwrap()
                .contains("did not answer within 30s"));
            assert!(!c.partial);
        }
        assert_eq!(result(&outcome, 2).measured.windows.len(), 3);
        // One attempt for the wasmtime group, in the first round that reached it.
        assert_eq!(
            mock.starts
                .iter()
                .filter(|s| s.contains("wasmtime"))
                .count(),
            1
        );
        assert!(outcome.launches.iter().any(|l| l.error.is_some()));
    }

    #[test]
    fn a_route_answered_wrongly_fails_its_own_cells_only() {
        let cells = [
            cell("wasmtime", "default", peak("a")),
            cell("wasmtime", "default", peak("b")),
        ];
        let mut mock = Mock::new();
        mock.wrong = vec![cells[0].id.clone()];
        let outcome = measure(&cells, &settings(3), &[], &mut mock);
        let broken = result(&outcome, 0);
        assert_eq!(broken.status, Status::Failed);
        assert!(broken.reason.as_deref().unwrap().contains("GET /broken: status 500 (expected 200)"), "{:?}", broken.reason);
        assert_eq!(result(&outcome, 1).status, Status::Ok);
        assert_eq!(result(&outcome, 1).measured.windows.len(), 3);
    }

    #[test]
    fn a_server_that_dies_fails_its_cell_and_the_next_cell_gets_a_fresh_one() {
        let cells = [
            cell("wasmer", "cranelift", peak("a")),
            cell("wasmer", "cranelift", peak("b")),
        ];
        let mut mock = Mock::new().script(
            &cells[0].id,
            &[
                Step::Ok {
                    rps: 900.0,
                    steal: 0.0,
                },
                Step::Dies,
            ],
        );
        let outcome = measure(&cells, &settings(3), &[], &mut mock);
        let died = result(&outcome, 0);
        assert_eq!(died.status, Status::Failed);
        assert!(died.partial, "its first round stays");
        assert_eq!(died.measured.windows.len(), 1);
        let failure = died.measured.failure.as_ref().unwrap();
        assert_eq!(failure.cause.as_deref(), Some("the scripted cause"));
        // The other cell has every round, and in the round its neighbour died it had a server of
        // its own (3 rounds, one restart).
        assert_eq!(result(&outcome, 1).measured.windows.len(), 3);
        assert_eq!(result(&outcome, 1).status, Status::Ok);
        assert!(
            mock.starts.len() >= 3 && mock.starts.len() <= 4,
            "{:?}",
            mock.starts
        );
    }

    #[test]
    fn a_window_after_which_the_server_stops_answering_is_kept_and_fails_the_cell() {
        let cells = [cell("wasmtime", "serve", peak("a"))];
        let mut mock = Mock::new().script(&cells[0].id, &[Step::StopsAnswering]);
        let outcome = measure(&cells, &settings(3), &[], &mut mock);
        let c = result(&outcome, 0);
        assert_eq!(c.status, Status::Failed);
        assert!(c.partial);
        assert_eq!(c.measured.windows.len(), 1, "the window it measured stays");
        assert!(c.reason.as_deref().unwrap().contains("stopped answering"));
        assert_eq!(
            mock.windows.len(),
            1,
            "a failed cell is not measured in later rounds"
        );
    }

    #[test]
    fn a_clock_step_is_measured_again_once_and_twice_fails_the_cell() {
        let cells = [
            cell("native", "current-thread", peak("a")),
            cell("native", "current-thread", peak("b")),
        ];
        let mut mock = Mock::new()
            .script(&cells[0].id, &[Step::Stepped])
            .script(&cells[1].id, &[Step::Stepped, Step::Stepped]);
        let outcome = measure(&cells, &settings(2), &[], &mut mock);
        assert_eq!(result(&outcome, 0).status, Status::Ok);
        assert_eq!(result(&outcome, 0).measured.windows.len(), 2);
        let twice = result(&outcome, 1);
        assert_eq!(twice.status, Status::Failed);
        assert!(twice
            .reason
            .as_deref()
            .unwrap()
            .contains("wall clock stepped"));
    }

    #[test]
    fn disturbed_open_windows_are_measured_again_until_quiet_and_only_while_the_time_lasts() {
        let cells = [
            cell("native", "current-thread", open("open-3000")),
            cell("native", "current-thread", peak("peak-50")),
        ];
        let disturbed = Step::Ok {
            rps: 3000.0,
            steal: 5.0,
        };
        let quiet = Step::Ok {
            rps: 3000.0,
            steal: 0.1,
        };
        let mut s = settings(2);
        s.steal_limit_pct = 0.3;
        s.remeasure = Duration::from_secs(60);
        let mut mock = Mock::new()
            .script(
                &cells[0].id,
                &[disturbed, disturbed, disturbed, quiet, quiet],
            )
            .script(
                &cells[1].id,
                &[Step::Ok {
                    rps: 50_000.0,
                    steal: 9.0,
                }],
            );
        let outcome = measure(&cells, &s, &[], &mut mock);
        let open = result(&outcome, 0);
        // Both rounds were disturbed; the first attempt was too (set aside), then two quiet ones
        // replaced both rounds.
        assert_eq!(open.measured.windows.len(), 2);
        assert!(open
            .measured
            .windows
            .iter()
            .all(|w| w.remeasured && w.steal_pct == Some(0.1)));
        assert_eq!(
            open.measured.set_aside.len(),
            3,
            "nothing measured is dropped"
        );
        // A closed-loop cell is never measured again, whatever the steal.
        let peak = result(&outcome, 1);
        assert!(
            peak.measured.set_aside.is_empty()
                && peak.measured.windows.iter().all(|w| !w.remeasured)
        );
        assert!(outcome.launches.iter().any(|l| l.again));
        // With time for one window only, one attempt is made, and none after the deadline.
        let mut mock = Mock::new().script(&cells[0].id, &[disturbed, disturbed, quiet, quiet]);
        s.remeasure = Duration::from_secs(4);
        let outcome = measure(&cells, &s, &[], &mut mock);
        let open = result(&outcome, 0);
        assert_eq!(
            mock.windows
                .iter()
                .filter(|(id, _)| id == &cells[0].id)
                .count(),
            3
        );
        assert_eq!(
            open.measured
                .windows
                .iter()
                .filter(|w| w.remeasured)
                .count(),
            1
        );
        assert!(outcome.remeasure_s <= 4.0 + 0.2, "{}", outcome.remeasure_s);
    }

    #[test]
    fn a_share_of_a_peak_offers_that_share_of_the_same_rounds_peak() {
        let mut curve = LoadSpec {
            generator: Some(crate::config::Generator::Oha),
            peak: Some("peak-50".into()),
            share: Some((0.5, "curve".into())),
            ..LoadSpec::new("curve@50%", crate::config::LoadModel::Open)
        };
        curve.rate = None;
        let cells = [
            cell("native", "current-thread", curve),
            cell("native", "current-thread", peak("peak-50")),
        ];
        let mut mock = Mock::new().script(
            &cells[1].id,
            &[
                Step::Ok {
                    rps: 40_000.0,
                    steal: 0.0,
                },
                Step::Ok {
                    rps: 30_000.0,
                    steal: 0.0,
                },
            ],
        );
        let outcome = measure(&cells, &settings(2), &[], &mut mock);
        assert_eq!(result(&outcome, 0).status, Status::Ok);
        let rates: Vec<u32> = mock
            .windows
            .iter()
            .filter(|(id, _)| id == &cells[0].id)
            .map(|(_, rate)| *rate)
            .collect();
        assert_eq!(rates, [20_000, 15_000]);
    }
}
