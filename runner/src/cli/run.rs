//! `matrix run`: validate the matrix, resolve runtimes and tools, build the servers, measure every
//! cell (writing each as it finishes), then write the run summary and render the page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::matrix::Matrix;
use crate::measure::{Plan, Progress};
use crate::results::{self, CellResult, Run, RunDir, Status, Timing, ToolInfo};
use crate::runtime::RuntimeDefs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Matrix file.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("matrix.toml"))]
    pub matrix: PathBuf,
    /// Output directory (latest.json, runs/, the page).
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("results"))]
    pub out: PathBuf,
    /// Seconds-long smoke run: 1 s windows, no warm-up, one repeat.
    #[arg(long)]
    pub quick: bool,
    /// Only cells whose id contains this text (e.g. "wasmtime" or "/json/").
    #[arg(long)]
    pub only: Option<String>,
    /// Templates directory.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("templates"))]
    pub templates: PathBuf,
    #[command(flatten)]
    pub common: super::Common,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let started_at = Instant::now();
    let root = crate::paths::repo_root();
    let defs = RuntimeDefs::load(&args.common.runtimes)?;
    let mut matrix = Matrix::load(&args.matrix, &defs)?;
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
    // Everything that can be wrong with the input is checked above: nothing is written before here.
    crate::process::install_signal_handlers()?;

    // Load generators (k6, wrk) the matrix's load models use; a missing one skips its cells.
    let mut tools: BTreeMap<String, ToolInfo> = BTreeMap::new();
    let mut generators: BTreeMap<&'static str, Result<PathBuf, String>> = BTreeMap::new();
    for cell in &matrix.cells {
        let name = cell.load.model.generator();
        if generators.contains_key(name) {
            continue;
        }
        let def = defs
            .tool(name)
            .with_context(|| format!("runtimes/tools/{name}.toml is missing"))?;
        let found = match def.locate(&args.common.tools_dir) {
            Ok(Some(found)) => Ok(found.path),
            Ok(None) => Err(format!("runtimes/tools/{name}.toml names no binary")),
            Err(problem) => Err(problem),
        };
        let info = match &found {
            Ok(path) => ToolInfo {
                version: def.version(path).ok(),
                path: Some(path.display().to_string()),
                problem: None,
            },
            Err(problem) => ToolInfo {
                version: None,
                path: None,
                problem: Some(problem.clone()),
            },
        };
        tools.insert(name.to_string(), info);
        generators.insert(name, found);
    }

    let resolved = crate::setup::resolve_runtimes(
        &defs,
        matrix.cells.iter().map(|c| c.runtime.as_str()),
        &args.common.tools_dir,
        &root,
    );
    for (name, r) in &resolved {
        tools.insert(name.clone(), r.tool_info());
    }

    let run_id = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    let run_dir = RunDir::new(&args.out, &run_id);
    crate::process::set_run_marker(&run_dir.dir.display().to_string());
    std::fs::create_dir_all(run_dir.cells_dir())?;
    std::fs::create_dir_all(run_dir.logs_dir())?;
    let mut run = Run {
        schema: results::RUN_SCHEMA.into(),
        run_id: run_id.clone(),
        started: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished: None,
        complete: false,
        matrix_file: display_relative(&args.matrix, &root),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        settings: matrix.settings.clone(),
        environment: crate::environment::capture(&root),
        tools,
        cells: Vec::new(),
        timing: Timing::default(),
    };
    results::write_json_atomic(&run_dir.header_file(), &run)?;

    // Build each server flavour the available runtimes need, once.
    let build_start = Instant::now();
    let target_dir = crate::paths::target_dir();
    let needed = crate::setup::needed_builds(&defs, &matrix.cells, &resolved)?;
    let go = crate::setup::go_toolchain(&defs, &args.common.tools_dir);
    if let Some(go_path) = &go {
        if needed.iter().any(|k| k.server == "go") {
            let version = defs.tool("go").and_then(|d| d.version(go_path).ok());
            run.tools.insert(
                "go".into(),
                ToolInfo {
                    version,
                    path: Some(go_path.display().to_string()),
                    problem: None,
                },
            );
        }
    }
    let builds = crate::setup::build_artifacts(
        &needed,
        go.as_deref(),
        &root,
        &target_dir,
        &run_dir.logs_dir(),
    );
    run.timing.build_s = build_start.elapsed().as_secs_f64();

    let bar = ProgressBar::new(matrix.cells.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} cells · {msg} · ETA {eta}")
            .expect("static template"),
    );
    let mut load_s = 0.0;
    for (index, cell) in matrix.cells.iter().enumerate() {
        if crate::process::interrupted() {
            break;
        }
        let def = defs.get(&cell.runtime).expect("validated");
        let kind = crate::setup::artifact_kind(def, &cell.mode, &cell.server)?;
        let r = &resolved[&cell.runtime];
        let generator = &generators[cell.load.model.generator()];
        let script = root
            .join("scripts")
            .join(match cell.load.model.generator() {
                "wrk" => "wrk-report.lua",
                _ => "k6.js",
            });
        let plan = Plan {
            // Native Go is "run" by the Go toolchain that built it.
            runtime_version: match (def.binary.is_none(), cell.server.as_str()) {
                (true, "go") => run
                    .tools
                    .get("go")
                    .and_then(|t| t.version.clone())
                    .map(|v| format!("go {v}")),
                _ => r.version.clone(),
            },
            generator: generator.clone().unwrap_or_default(),
            script,
            ..crate::setup::plan(
                index,
                cell,
                def,
                r,
                &kind,
                &builds,
                &matrix.settings,
                &target_dir,
                run_dir.logs_dir(),
            )
        };
        let cell_start = Instant::now();
        let result = if let Some(problem) = &r.problem {
            plan.blank(Status::Skipped, Some(problem.clone()))
        } else if let Err(reason) = &kind {
            plan.blank(Status::Skipped, Some(reason.clone()))
        } else if let Err(problem) = generator {
            plan.blank(
                Status::Skipped,
                Some(format!("load generator missing: {problem}")),
            )
        } else if let Err(reason) = def.mode_support(&cell.mode, r.bin.as_deref()) {
            plan.blank(Status::Skipped, Some(reason))
        } else {
            match kind
                .as_ref()
                .ok()
                .and_then(|k| builds.results.get(&k.key()))
            {
                Some(Ok(_)) => plan.measure(&Phase {
                    bar: &bar,
                    id: &cell.id,
                }),
                Some(Err(e)) => plan.blank(Status::Failed, Some(e.clone())),
                None => plan.blank(Status::Failed, Some("the server was not built".into())),
            }
        };
        if result.status == Status::Ok || result.partial {
            load_s += cell_start.elapsed().as_secs_f64();
        }
        if crate::process::interrupted() && result.status != Status::Ok {
            // A cell cut short by Ctrl-C is not a measurement; the ones before it are kept.
            break;
        }
        let line = summary_line(index, matrix.cells.len(), &result);
        // indicatif drops println when it draws nothing (not a terminal, e.g. CI): print plainly.
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
        results::write_json_atomic(&run_dir.cell_file(&result), &result)?;
        run.cells.push(result);
        bar.inc(1);
    }
    bar.finish_and_clear();

    run.complete = !crate::process::interrupted() && run.cells.len() == matrix.cells.len();
    run.finished = Some(chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    run.timing.wall_s = started_at.elapsed().as_secs_f64();
    run.timing.load_s = load_s;
    if run.complete {
        results::write_json_atomic(&run_dir.run_file(), &run)?;
        results::write_json_atomic(&args.out.join("latest.json"), &run)?;
        let written = crate::render::render_all(&args.templates, &run, &args.out)?;
        for path in written {
            eprintln!("wrote {}", path.display());
        }
    } else {
        eprintln!(
            "run interrupted after {} of {} cells; they are in {} — render them with `matrix render --run {}`",
            run.cells.len(),
            matrix.cells.len(),
            run_dir.dir.display(),
            run_dir.dir.display()
        );
    }
    print_flag_notes(&run);
    let failed = run
        .cells
        .iter()
        .filter(|c| c.status == Status::Failed)
        .count();
    let skipped = run
        .cells
        .iter()
        .filter(|c| c.status == Status::Skipped)
        .count();
    eprintln!(
        "{} cells: {} ok, {skipped} skipped, {failed} failed · wall {:.0} s: build {:.0} s, measuring cells {:.0} s ({:.0}%), other {:.0} s",
        run.cells.len(),
        run.cells.len() - failed - skipped,
        run.timing.wall_s,
        run.timing.build_s,
        load_s,
        load_s / run.timing.wall_s.max(1e-9) * 100.0,
        run.timing.wall_s - run.timing.build_s - load_s
    );
    Ok(if crate::process::interrupted() {
        ExitCode::from(130)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

struct Phase<'a> {
    bar: &'a ProgressBar,
    id: &'a str,
}

impl Progress for Phase<'_> {
    fn phase(&self, text: &str) {
        self.bar.set_message(format!("{} · {text}", self.id));
    }
}

/// Each flag that occurred, once, with its cause and remedy and the cells it concerns.
fn print_flag_notes(run: &Run) {
    let mut seen: BTreeMap<&str, Vec<&CellResult>> = BTreeMap::new();
    for cell in &run.cells {
        for flag in &cell.flags {
            seen.entry(flag.code()).or_default().push(cell);
        }
    }
    for (code, cells) in seen {
        let flag = cells[0]
            .flags
            .iter()
            .find(|f| f.code() == code)
            .expect("grouped by code");
        eprintln!("\nwarning [{code}]: {}", flag.cause_and_remedy());
        for cell in cells {
            if let Some(f) = cell.flags.iter().find(|f| f.code() == code) {
                eprintln!("  {}: {}", cell.id, f.evidence());
            }
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
                m.rps.map(crate::render::thousands).unwrap_or_default(),
                m.p99_ms.map(crate::render::millis).unwrap_or_default(),
                m.receiving_avg_ms
                    .map(crate::render::millis)
                    .unwrap_or_default(),
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
