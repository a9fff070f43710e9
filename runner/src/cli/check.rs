//! `matrix check`: starts every runtime x mode found on this machine and runs the conformance
//! checks against it, so every target is shown to answer the same way before it is measured.

use std::process::ExitCode;

use anyhow::Result;

use crate::config::{Cell, LoadModel, LoadSpec, RuntimeDefs, Settings};
use crate::http::conformance::{Scope, Target, CHECKS};
use crate::measure::LaunchRecord;
use crate::setup::{Planned, Setup};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only pairs whose "server/runtime/mode" contains this text (e.g. "wasmtime" or "go/").
    #[arg(long)]
    pub only: Option<String>,
    /// A server to check, by name or by the path of its definition (e.g.
    /// examples/axum-service/server.toml); repeat for several. Default: the project's servers.
    #[arg(long = "server")]
    pub servers: Vec<String>,
    #[command(flatten)]
    pub common: super::Common,
}

/// Passed, failed and skipped checks.
#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let defs = RuntimeDefs::load(&args.common.runtimes)?;
    crate::sys::process::install_signal_handlers()?;
    let _ = crate::sys::limits::raise_open_files();
    let logs = crate::paths::target_dir().join("matrix-check");
    std::fs::create_dir_all(&logs)?;
    let servers = chosen_servers(&args.servers)?;
    let cells = every_pair(&defs, &servers, args.only.as_deref());
    anyhow::ensure!(
        !cells.is_empty(),
        "--only {:?} matches no runtime/mode",
        args.only.unwrap_or_default()
    );
    let mut setup = Setup::new(&defs, &servers, &cells, &args.common.tools_dir, logs, false)?;
    // JIT modes compile the whole module before listening (WasmEdge JIT takes over 30 s for Go's
    // 10 MB module here): wait longer than a matrix cell would.
    let settings = Settings {
        ready_timeout: std::time::Duration::from_secs(120),
        ..Settings::default()
    };
    setup.start_containers(&cells, &settings.server_cpus);
    let mut tally = Tally::default();
    for (index, cell) in cells.iter().enumerate() {
        check_pair(&setup, index, cell, &settings, &mut tally)?;
    }
    // The plain closing line CI and people read.
    println!(
        "check: {} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.skipped
    );
    Ok(if tally.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The servers named (by name among the project's, or by the path of a definition), or the
/// project's own.
fn chosen_servers(named: &[String]) -> Result<crate::config::ServerDefs> {
    let builtin = crate::config::ServerDefs::builtin(&crate::paths::servers_dir())?;
    if named.is_empty() {
        return Ok(builtin);
    }
    let mut chosen = crate::config::ServerDefs::default();
    for entry in named {
        let def = match builtin.get(entry) {
            Some(def) => def.clone(),
            None if entry.ends_with(".toml") || entry.contains('/') => crate::config::ServerDef::load(std::path::Path::new(entry))?,
            None => anyhow::bail!(
                "--server {entry:?}: not a server here ({}) nor a server.toml path",
                builtin.names().collect::<Vec<_>>().join(", ")
            ),
        };
        chosen.add(def)?;
    }
    Ok(chosen)
}

/// Every server language x runtime x mode (whose "server/runtime/mode" contains `only`), as cells
/// that serve plaintext with single writes. A mode that only some versions have is also checked on
/// the newest installable version that has it (e.g. wasmtime@46.0.1 for `preopened`).
fn every_pair(
    defs: &RuntimeDefs,
    servers: &crate::config::ServerDefs,
    only: Option<&str>,
) -> Vec<Cell> {
    let load = LoadSpec {
        vus: Some(1),
        ..LoadSpec::new("check", LoadModel::Closed)
    };
    let mut cells = Vec::new();
    for server_def in servers.iter() {
        let server = server_def.name.as_str();
        for def in defs.runtimes() {
            for (mode, mode_def) in &def.modes {
                let in_range = mode_def.versions.as_deref().and_then(|range| {
                    def.installable()
                        .into_iter()
                        .find(|v| crate::config::versions::in_range(range, v))
                });
                for version in std::iter::once(None).chain(in_range.map(Some)) {
                    let runtime = crate::config::matrix::runtime_key(&def.name, version.as_deref());
                    let id = format!("{server}/{runtime}/{mode}");
                    if only.is_none_or(|o| id.contains(o)) {
                        cells.push(Cell {
                            id,
                            server: server.to_string(),
                            runtime: def.name.clone(),
                            version,
                            mode: mode.clone(),
                            write: "single".into(),
                            workload: server_def.requests[0].name.clone(),
                            load: load.clone(),
                        });
                    }
                }
            }
        }
    }
    cells
}

/// Starts one pair's server (unless it is skipped or its build failed) and runs every check.
fn check_pair(
    setup: &Setup,
    index: usize,
    cell: &Cell,
    settings: &Settings,
    tally: &mut Tally,
) -> Result<()> {
    let plan = match setup.plan(index, cell, settings)? {
        Planned::Ready(plan) => plan,
        Planned::NotRun(result) => {
            let reason = result.reason.clone().unwrap_or_default();
            if result.status == crate::results::Status::Skipped {
                println!("SKIPPED {}: {reason}", cell.id);
                tally.skipped += 1;
            } else {
                println!("FAILED  {}: {reason}", cell.id);
                tally.failed += 1;
            }
            return Ok(());
        }
    };
    let server = plan.launch.server;
    let started = match plan.launch.start(
        &format!("{index:03}"),
        &server.requests[0],
        &mut LaunchRecord::default(),
        &|_| {},
    ) {
        Ok(started) => started,
        Err(e) => {
            println!("FAILED  {}: could not start: {e}", cell.id);
            tally.failed += 1;
            return Ok(());
        }
    };
    let target = Target {
        base: started.base.clone(),
        addr: started.addr.clone(),
        workloads: server.requests.clone(),
    };
    let host_http = plan.launch.mode.artifact.as_deref() == Some("wasi-http");
    for check in CHECKS {
        if check.scope == Scope::ProjectRoutes && !server.route_checks {
            continue;
        }
        if check.scope == Scope::HttpLayer && host_http {
            println!(
                "SKIPPED {}: {} (the host's HTTP layer, not this server's)",
                cell.id, check.name
            );
            tally.skipped += 1;
            continue;
        }
        match (check.run)(&target) {
            Ok(()) => {
                println!("ok      {}: {}", cell.id, check.name);
                tally.passed += 1;
            }
            Err(e) => {
                println!("FAILED  {}: {}: {e}", cell.id, check.name);
                tally.failed += 1;
            }
        }
    }
    Ok(())
}
