//! `matrix check`: starts every runtime x mode found on this machine and runs the conformance
//! checks against it, so every target is shown to answer the same way before it is measured.

use std::process::ExitCode;

use anyhow::Result;

use crate::conformance::{Target, CHECKS};
use crate::matrix::{Cell, LoadModel, LoadSpec, Settings};
use crate::measure::Progress;
use crate::results::Status;
use crate::runtime::RuntimeDefs;
use crate::workload::Workload;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only pairs whose "server/runtime/mode" contains this text (e.g. "wasmtime" or "go/").
    #[arg(long)]
    pub only: Option<String>,
    #[command(flatten)]
    pub common: super::Common,
}

struct Quiet;
impl Progress for Quiet {
    fn phase(&self, _: &str) {}
}

pub fn run(args: Args) -> Result<ExitCode> {
    let root = crate::paths::repo_root();
    let defs = RuntimeDefs::load(&args.common.runtimes)?;
    crate::process::install_signal_handlers()?;
    let target_dir = crate::paths::target_dir();
    let logs = target_dir.join("matrix-check");
    std::fs::create_dir_all(&logs)?;
    // JIT modes compile the whole module before listening (WasmEdge JIT takes over 30 s for Go's
    // 10 MB module here): wait longer than a matrix cell would.
    let settings = Settings {
        ready_timeout: std::time::Duration::from_secs(120),
        ..Settings::default()
    };
    let load = LoadSpec {
        name: "check".into(),
        model: LoadModel::Closed,
        vus: Some(1),
        rate: None,
        connections: None,
        workloads: None,
    };
    let cells: Vec<Cell> = crate::artifacts::SERVERS
        .iter()
        .flat_map(|server| {
            defs.runtimes().flat_map(move |def| {
                def.modes
                    .keys()
                    .map(move |mode| (server.to_string(), def.name.clone(), mode.clone()))
            })
        })
        .filter(|(server, runtime, mode)| {
            args.only
                .as_ref()
                .is_none_or(|o| format!("{server}/{runtime}/{mode}").contains(o.as_str()))
        })
        .map(|(server, runtime, mode)| Cell {
            id: format!("{server}/{runtime}/{mode}"),
            server,
            runtime,
            mode,
            write: "single".into(),
            workload: "plaintext".into(),
            load: load.clone(),
        })
        .collect();
    anyhow::ensure!(
        !cells.is_empty(),
        "--only {:?} matches no runtime/mode",
        args.only.unwrap_or_default()
    );
    let resolved = crate::setup::resolve_runtimes(
        &defs,
        cells.iter().map(|c| c.runtime.as_str()),
        &args.common.tools_dir,
        &root,
    );
    let needed = crate::setup::needed_builds(&defs, &cells, &resolved)?;
    let go = crate::setup::go_toolchain(&defs, &args.common.tools_dir);
    let builds = crate::setup::build_artifacts(&needed, go.as_deref(), &root, &target_dir, &logs);

    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (index, cell) in cells.iter().enumerate() {
        let def = defs.get(&cell.runtime).expect("listed");
        let kind = crate::setup::artifact_kind(def, &cell.mode, &cell.server)?;
        let r = &resolved[&cell.runtime];
        let plan = crate::setup::plan(
            index,
            cell,
            def,
            r,
            &kind,
            &builds,
            &settings,
            &target_dir,
            logs.clone(),
        );
        let skip_reason = match (
            &r.problem,
            &kind,
            def.mode_support(&cell.mode, r.bin.as_deref()),
        ) {
            (Some(problem), _, _) => Some(problem.clone()),
            (None, Err(reason), _) => Some(reason.clone()),
            (None, Ok(_), Err(reason)) => Some(reason),
            _ => None,
        };
        if let Some(reason) = skip_reason {
            println!("SKIPPED {}: {reason}", cell.id);
            skipped += 1;
            continue;
        }
        if let Some(Err(e)) = kind
            .as_ref()
            .ok()
            .and_then(|k| builds.results.get(&k.key()))
        {
            println!("FAILED  {}: {e}", cell.id);
            failed += 1;
            continue;
        }
        let mut result = plan.blank(Status::Failed, None);
        let started = match plan.start(
            Workload::get("plaintext").expect("built in"),
            &mut result,
            &Quiet,
        ) {
            Ok(started) => started,
            Err(e) => {
                println!("FAILED  {}: could not start: {e}", cell.id);
                failed += 1;
                continue;
            }
        };
        let target = Target {
            base: started.base.clone(),
            addr: started.addr.clone(),
        };
        let host_http = plan.mode.artifact.as_deref() == Some("wasi-http");
        for check in CHECKS {
            if check.http_layer && host_http {
                println!(
                    "SKIPPED {}: {} (the host's HTTP layer, not this server's)",
                    cell.id, check.name
                );
                skipped += 1;
                continue;
            }
            match (check.run)(&target) {
                Ok(()) => {
                    println!("ok      {}: {}", cell.id, check.name);
                    passed += 1;
                }
                Err(e) => {
                    println!("FAILED  {}: {}: {e}", cell.id, check.name);
                    failed += 1;
                }
            }
        }
        drop(started);
    }
    // The plain closing line CI and people read.
    println!("check: {passed} passed, {failed} failed, {skipped} skipped");
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
