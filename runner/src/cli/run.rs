//! `matrix run`: load the matrix, resolve the tools, open the run directory, build the servers,
//! measure every cell (writing each as it finishes), then finish: the run summary and the page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Matrix, RuntimeDefs};
use crate::measure::rounds::{measure_rounds, Observer};
use crate::report::format::{millis, thousands};
use crate::results::{self, CellResult, Run, RunDir, Status, Timing};
use crate::setup::{Planned, Setup};
use crate::sys::process;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Matrix file.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("matrix.toml"))]
    pub matrix: PathBuf,
    /// Output directory (latest.json, runs/, the page). Default: where the matrix file says it is
    /// published (`publish`), else results/.
    #[arg(long = "out")]
    pub out_arg: Option<PathBuf>,
    /// The output directory used: --out, or the matrix's `publish`.
    #[arg(skip)]
    pub out: PathBuf,
    /// Seconds-long smoke run: 1 s windows, no warm-up, one repeat.
    #[arg(long)]
    pub quick: bool,
    /// Only cells whose id contains this text (e.g. "wasmtime" or "/json/").
    #[arg(long)]
    pub only: Option<String>,
    /// Print the cells and the servers that would be launched, measure nothing.
    #[arg(long)]
    pub list: bool,
    /// Publish the hostname and absolute paths (by default results keep paths relative to the
    /// repository, tools dir or output dir, and no hostname).
    #[arg(long)]
    pub record_host: bool,
    /// Templates directory.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("templates"))]
    pub templates: PathBuf,
    #[command(flatten)]
    pub common: super::Common,
}

pub fn run(mut args: Args) -> Result<ExitCode> {
    let started_at = Instant::now();
    let defs = RuntimeDefs::load(&args.common.runtimes)?;
    let matrix = load_matrix(&args, &defs)?;
    args.out = match &args.out_arg {
        Some(out) => out.clone(),
        None => crate::paths::repo_root().join(matrix.publish.as_deref().unwrap_or("results")),
    };
    if args.list {
        return list(&matrix);
    }
    // Everything that can be wrong with the input is checked above: nothing is written before here.
    process::install_signal_handlers()?;
    match crate::sys::limits::raise_open_files() {
        Ok((before, after, _)) if before != after => {
            eprintln!("open files: raised the limit from {before} to {after} (servers and generators inherit it)")
        }
        Ok((_, after, _)) => {
            eprintln!("open files: limit {after} (servers and generators inherit it)")
        }
        Err(e) => eprintln!("warning: cannot raise the open-file limit: {e}"),
    }
    let privacy = crate::results::privacy::Privacy::new(
        &crate::paths::repo_root(),
        &args.common.tools_dir,
        &args.out,
        args.record_host,
    );
    let run_dir = open_run_dir(&args.out, privacy)?;
    let build_start = Instant::now();
    let mut setup = Setup::new(
        &defs,
        &matrix.servers,
        &matrix.cells,
        &args.common.tools_dir,
        run_dir.logs_dir(),
        true,
    )?;
    let mut run = new_run(&args, &matrix, &run_dir, &setup)?;
    setup.start_containers(&matrix.cells, &matrix.settings.server_cpus);
    setup.start_hosts(&matrix, &crate::hosts::work_dir());
    run.tools = setup.tools();
    run.images = setup.images();
    run.timing.build_s = build_start.elapsed().as_secs_f64();
    run.timing.load_s = measure_cells(&matrix, &setup, &run_dir, &mut run, &args)?;
    run.topology = setup.topology_record();
    setup.teardown();
    run.timing.wall_s = started_at.elapsed().as_secs_f64();
    finish(&args, &matrix, &run_dir, run)
}

/// The matrix file, narrowed by `--quick` and `--only`.
fn load_matrix(args: &Args, defs: &RuntimeDefs) -> Result<Matrix> {
    let builtin = crate::config::ServerDefs::builtin(&crate::paths::servers_dir())?;
    let mut matrix = Matrix::load(&args.matrix, defs, &builtin)?;
    // The shuffles' seed is recorded with the run, so its order can be repeated.
    matrix.settings.seed = Some(
        matrix
            .settings
            .seed
            .unwrap_or_else(crate::schedule::fresh_seed),
    );
    if args.quick {
        matrix.settings.duration = Duration::from_secs(1);
        matrix.settings.warmup = Duration::ZERO;
        matrix.settings.repeats = 1;
    }
    if let Some(only) = &args.only {
        matrix.cells.retain(|c| c.id.contains(only.as_str()));
        anyhow::ensure!(
            !matrix.cells.is_empty(),
            "--only {only:?} matches no cell of {}",
            args.matrix.display()
        );
    }
    Ok(matrix)
}

/// `--list`: the cells, the launch groups, and how many windows the rounds will measure.
fn list(matrix: &Matrix) -> Result<ExitCode> {
    for cell in &matrix.cells {
        println!("{}", cell.id);
    }
    let groups = crate::schedule::groups(&matrix.cells).len();
    let s = &matrix.settings;
    println!(
        "{} cells on {groups} servers x {} rounds: {} windows of {:?}",
        matrix.cells.len(),
        s.repeats,
        matrix.cells.len() * s.repeats as usize,
        s.duration
    );
    Ok(ExitCode::SUCCESS)
}

/// `out/runs/<id>/` with its cells/ and logs/, marked on every child so leftovers can be traced.
fn open_run_dir(out: &Path, privacy: crate::results::privacy::Privacy) -> Result<RunDir> {
    let run_id = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    let run_dir = RunDir::new(out, &run_id, privacy);
    process::set_run_marker(&run_dir.dir.display().to_string());
    std::fs::create_dir_all(run_dir.cells_dir())?;
    std::fs::create_dir_all(run_dir.logs_dir())?;
    Ok(run_dir)
}

/// The run record, written as the run's header before the first cell so a partial run renders.
fn new_run(args: &Args, matrix: &Matrix, run_dir: &RunDir, setup: &Setup) -> Result<Run> {
    let root = crate::paths::repo_root();
    let run = Run {
        schema: results::RUN_SCHEMA.into(),
        run_id: run_dir.run_id(),
        started: now(),
        finished: None,
        complete: false,
        matrix_file: display_relative(&args.matrix, &root),
        title: matrix.title.clone(),
        about: matrix.about.clone(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        settings: matrix.settings.clone(),
        environment: crate::results::environment::capture(&root, args.record_host),
        tools: setup.tools(),
        cells: Vec::new(),
        timing: Timing::default(),
        launches: Vec::new(),
        generator_floors: Vec::new(),
        images: Default::default(),
        topology: None,
        preflight: None,
        diagnoses: Vec::new(),
        noise: None,
    };
    run_dir.write_json(&run_dir.header_file(), &run)?;
    Ok(run)
}

/// Every cell, round by round, each cell's file rewritten after each of its windows. Returns the
/// seconds spent measuring.
fn measure_cells(
    matrix: &Matrix,
    setup: &Setup,
    run_dir: &RunDir,
    run: &mut Run,
    args: &Args,
) -> Result<f64> {
    let mut plans: Vec<Option<crate::measure::Plan>> = Vec::new();
    let mut not_run: Vec<CellResult> = Vec::new();
    for (index, cell) in matrix.cells.iter().enumerate() {
        match setup.plan(index, cell, &matrix.settings)? {
            Planned::Ready(plan) => plans.push(Some(*plan)),
            Planned::NotRun(result) => {
                plans.push(None);
                not_run.push(*result);
            }
        }
    }
    let ready = plans.iter().flatten().count();
    let rounds = matrix.settings.repeats;
    let bar = ProgressBar::new(ready as u64 * u64::from(rounds));
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} windows · {msg} · ETA {eta}")
            .expect("static template"),
    );
    let mut observer = Progress {
        bar: &bar,
        run_dir,
        total: matrix.cells.len(),
        rounds,
    };
    // Cells that will not be measured are written (and listed) first.
    for result in &mut not_run {
        crate::analysis::publish_cell(result);
        observer.print(summary_line(result.index, matrix.cells.len(), result));
        run_dir.write_json(&run_dir.cell_file(result), result)?;
    }
    let groups = crate::schedule::groups(&matrix.cells);
    let seed = matrix.settings.seed.expect("set when the run starts");
    let preflight = crate::preflight::run(&matrix.settings);
    eprintln!(
        "pre-flight: keep the CPUs awake: {} ({})",
        if preflight.keep_awake.enabled {
            "yes"
        } else {
            "no"
        },
        preflight.keep_awake.reason
    );
    let awake = keep_cpus_awake(&matrix.settings, preflight.keep_awake.enabled)?;
    run.preflight = Some(preflight);
    let mut executor = crate::measure::executor::RealExecutor;
    let outcome = measure_rounds(&plans, &groups, rounds, seed, &mut observer, &mut executor)?;
    drop(awake);
    bar.finish_and_clear();
    let mut not_run = not_run.into_iter();
    run.cells = outcome
        .cells
        .into_iter()
        .map(|measured| {
            measured
                .or_else(|| not_run.next())
                .expect("every cell planned")
        })
        .collect();
    if matrix.settings.diagnose && !process::interrupted() {
        let started = Instant::now();
        run.diagnoses = diagnose_servers(matrix, &plans, &groups, run, args, run_dir, &bar);
        run.timing.diagnose_s = started.elapsed().as_secs_f64();
    }
    crate::analysis::publish(run);
    for cell in run.cells.iter().filter(|c| c.status != Status::Skipped) {
        if !(process::interrupted() && cell.rounds.is_empty()) {
            eprintln!("{}", summary_line(cell.index, matrix.cells.len(), cell));
        }
    }
    run.launches = outcome.launches;
    run.timing.window_s = outcome.window_s;
    run.timing.remeasure_s = outcome.remeasure_s;
    Ok(outcome.busy_s)
}

/// After the rounds: each server diagnosed under its representative cell (`measure::diagnose`).
fn diagnose_servers(
    matrix: &Matrix,
    plans: &[Option<crate::measure::Plan>],
    groups: &[crate::schedule::Group],
    run: &Run,
    args: &Args,
    run_dir: &RunDir,
    bar: &ProgressBar,
) -> Vec<crate::results::diagnosis::Diagnosis> {
    let oha = RuntimeDefs::load(&args.common.runtimes)
        .ok()
        .and_then(|defs| oha(&defs, &args.common.tools_dir));
    let Some(oha) = oha else {
        eprintln!("diagnosis skipped: oha is not installed (`make init`)");
        return Vec::new();
    };
    let tools = crate::measure::diagnose::Tools::find(oha);
    let _ = std::fs::remove_dir_all(args.out.join("flames"));
    let ctx = crate::measure::diagnose::Context {
        tools: &tools,
        out: &args.out,
        logs: &run_dir.logs_dir(),
        cache_dir: &crate::paths::target_dir().join("matrix-diagnose-cache"),
        run_id: &run.run_id,
        generator_cpus: &matrix.settings.generator_cpus,
    };
    let ok = |i: usize| run.cells[i].status == Status::Ok;
    let mut out = Vec::new();
    for group in groups {
        if process::interrupted() {
            break;
        }
        let Some(i) = crate::measure::diagnose::pick(plans, group, &ok) else {
            continue;
        };
        let plan = plans[i].as_ref().expect("picked from plans");
        let phase = |text: &str| bar.set_message(format!("diagnosing {} · {text}", group.key));
        out.push(crate::measure::diagnose::diagnose(plan, &ctx, &phase));
    }
    out
}

/// oha, where it is installed (the diagnosis' fixed-count generator).
pub fn oha(defs: &RuntimeDefs, tools_dir: &std::path::Path) -> Option<PathBuf> {
    defs.tool("oha")?
        .locate(tools_dir)
        .ok()
        .flatten()
        .map(|found| found.path)
}

/// While the cells are measured: one lowest-priority yielding thread on each of the server's and
/// the generator's CPUs, when the pre-flight decided so (`settings.keep_cpus_awake`).
fn keep_cpus_awake(
    settings: &crate::config::Settings,
    enabled: bool,
) -> Result<Option<crate::sys::awake::KeepAwake>> {
    if !enabled {
        return Ok(None);
    }
    let mut cpus = Vec::new();
    for list in [&settings.server_cpus, &settings.generator_cpus] {
        cpus.extend(crate::config::cpus::parse_cpu_list(list).map_err(anyhow::Error::msg)?);
    }
    cpus.sort_unstable();
    cpus.dedup();
    crate::sys::awake::KeepAwake::start(&cpus)
        .map(Some)
        .map_err(|e| {
            e.context(
                "settings.keep_cpus_awake: set it to false (or \"auto\") to measure with CPUs that may halt",
            )
        })
}

/// The progress bar and the cell files, as the rounds report.
struct Progress<'a> {
    bar: &'a ProgressBar,
    run_dir: &'a RunDir,
    total: usize,
    rounds: u32,
}

impl Progress<'_> {
    fn print(&self, line: String) {
        // indicatif drops println when it draws nothing (not a terminal, e.g. CI): print plainly.
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

impl Observer for Progress<'_> {
    fn phase(&self, text: &str) {
        self.bar.set_message(text.to_string());
    }

    fn measured(&mut self, result: &CellResult) -> Result<()> {
        // The cell file holds its own figures so far (its ratios come with the whole run).
        let mut result = result.clone();
        crate::analysis::publish_cell(&mut result);
        let result = &result;
        self.run_dir
            .write_json(&self.run_dir.cell_file(result), result)?;
        self.bar.inc(1);
        if result.status == Status::Failed {
            self.print(summary_line(result.index, self.total, result));
        } else if self.rounds > 1 {
            self.bar.set_message(format!(
                "{}: {} of {} rounds",
                result.id,
                result.rounds.len(),
                self.rounds
            ));
        }
        Ok(())
    }
}

/// The run summary and the page when complete (else how to render what was measured), the flag
/// notes, the counts, and the exit code: 130 interrupted, 1 some cell failed, else 0.
fn finish(args: &Args, matrix: &Matrix, run_dir: &RunDir, mut run: Run) -> Result<ExitCode> {
    run.complete = !process::interrupted();
    run.finished = Some(now());
    run_dir.scrub_logs();
    if run.complete {
        // Every interval includes how much whole runs of these servers shift on this machine.
        run.noise = crate::published::noise_table(&args.out, &run);
        crate::analysis::publish(&mut run);
        run_dir.write_json(&args.out.join("latest.json"), &run)?;
        // The history keeps a summary; the cell files were the run's crash-safe record.
        run_dir.write_json(&run_dir.summary_file(), &crate::results::summary(&run))?;
        run_dir.remove_records();
        crate::results::store::compact_history(&args.out, &run_dir.privacy)?;
        // The page shows what was published, not what this process knows.
        let published = results::read_run(&args.out.join("latest.json"))?;
        for path in crate::report::render_all(&args.templates, &published, &args.out)? {
            eprintln!("wrote {}", path.display());
        }
        crate::report::readme::quote_if_repository_results(&args.out, &published)?;
    } else {
        let measured = run.cells.iter().filter(|c| !c.rounds.is_empty()).count();
        eprintln!(
            "run interrupted after measuring {measured} of {} cells; what was measured is in {} — render it with `matrix render --run {}`",
            matrix.cells.len(),
            run_dir.dir.display(),
            run_dir.dir.display()
        );
    }
    print_flag_notes(&run);
    let count = |status| run.cells.iter().filter(|c| c.status == status).count();
    let (failed, skipped) = (count(Status::Failed), count(Status::Skipped));
    let t = &run.timing;
    eprintln!(
        "{} cells: {} ok, {skipped} skipped, {failed} failed · {} round(s) · wall {:.0} s: build {:.0} s, measuring {:.0} s (of it {:.0} s measuring disturbed windows again), of which inside measured windows {:.0} s = {:.0}% of the wall time",
        run.cells.len(),
        run.cells.len() - failed - skipped,
        matrix.settings.repeats,
        t.wall_s,
        t.build_s,
        t.load_s,
        t.remeasure_s,
        t.window_s,
        t.window_s / t.wall_s.max(1e-9) * 100.0,
    );
    Ok(if process::interrupted() {
        ExitCode::from(130)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Each flag that occurred, once, with its cause and remedy and the cells it concerns.
fn print_flag_notes(run: &Run) {
    let mut seen: BTreeMap<&str, Vec<(&CellResult, &results::Flag)>> = BTreeMap::new();
    for cell in &run.cells {
        for flag in &cell.flags {
            seen.entry(flag.code()).or_default().push((cell, flag));
        }
    }
    for (code, cells) in seen {
        eprintln!("\nwarning [{code}]: {}", cells[0].1.cause_and_remedy());
        for (cell, flag) in cells {
            eprintln!("  {}: {}", cell.id, flag.evidence());
        }
    }
}

fn summary_line(index: usize, total: usize, r: &CellResult) -> String {
    let head = format!("[{}/{total}] {}", index + 1, r.id);
    match r.status {
        Status::Ok => {
            let m = &r.metrics;
            let flags: Vec<&str> = r.flags.iter().map(|f| f.code()).collect();
            format!(
                "{head}: {} req/s, p99 {}, receiving {}, RSS {}{}",
                m.rps.map(thousands).unwrap_or_default(),
                m.p99_ms.map(millis).unwrap_or_default(),
                m.receiving_avg_ms.map(millis).unwrap_or_default(),
                m.rss_peak_kb
                    .map(|kb| format!("{:.1} MB", kb as f64 / 1024.0))
                    .unwrap_or_default(),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", flags.join(", "))
                }
            )
        }
        Status::Skipped => format!("{head}: skipped — {}", r.reason.as_deref().unwrap_or("")),
        Status::Failed => format!("{head}: FAILED — {}", r.reason.as_deref().unwrap_or("")),
    }
}

fn display_relative(path: &Path, root: &Path) -> String {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    absolute
        .strip_prefix(&root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| absolute.display().to_string())
}
