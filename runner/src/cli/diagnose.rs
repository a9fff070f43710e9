//! `matrix diagnose`: only the diagnosis pass of a matrix's servers (no rounds): where each one's
//! cost goes, in system calls and instructions per request and a CPU profile, printed and written
//! to `<out>/diagnoses.json` with the flame graphs beside it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::analysis::diagnosis::{breakdown, instructions, syscalls, Bucket};
use crate::config::{Matrix, RuntimeDefs, ServerDefs};
use crate::setup::{Planned, Setup};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Matrix file.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("matrix.toml"))]
    pub matrix: PathBuf,
    /// Where `diagnoses.json` and the flame graphs go.
    #[arg(long, default_value_os_t = crate::paths::target_dir().join("matrix-diagnose"))]
    pub out: PathBuf,
    /// Only servers whose "server/runtime/mode/write" contains this text.
    #[arg(long)]
    pub only: Option<String>,
    /// Count instructions again even where an earlier count of the same build, release, mode and
    /// load is cached.
    #[arg(long)]
    pub fresh: bool,
    #[command(flatten)]
    pub common: super::Common,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let defs = RuntimeDefs::load(&args.common.runtimes)?;
    let builtin = ServerDefs::builtin(&crate::paths::servers_dir())?;
    let matrix = Matrix::load(&args.matrix, &defs, &builtin)?;
    crate::sys::process::install_signal_handlers()?;
    let logs = args.out.join("logs");
    std::fs::create_dir_all(&logs)?;
    let setup = Setup::new(
        &defs,
        &matrix.servers,
        &matrix.cells,
        &args.common.tools_dir,
        logs.clone(),
        true,
    )?;
    let mut plans = Vec::new();
    for (index, cell) in matrix.cells.iter().enumerate() {
        plans.push(match setup.plan(index, cell, &matrix.settings)? {
            Planned::Ready(plan) => Some(*plan),
            Planned::NotRun(_) => None,
        });
    }
    let oha = super::run::oha(&defs, &args.common.tools_dir)
        .ok_or_else(|| anyhow::anyhow!("oha is not installed: `make init`"))?;
    let tools = crate::measure::diagnose::Tools::find(oha);
    let cache = match args.fresh {
        true => args.out.join("no-cache"),
        false => crate::paths::target_dir().join("matrix-diagnose-cache"),
    };
    let _ = std::fs::remove_dir_all(args.out.join("no-cache"));
    let ctx = crate::measure::diagnose::Context {
        tools: &tools,
        out: &args.out,
        logs: &logs,
        cache_dir: &cache,
        run_id: &chrono::Local::now().format("%Y%m%d-%H%M%S").to_string(),
        generator_cpus: &matrix.settings.generator_cpus,
    };
    let mut diagnoses = Vec::new();
    for group in crate::schedule::groups(&matrix.cells) {
        if args.only.as_deref().is_some_and(|o| !group.key.contains(o)) || crate::sys::interrupted()
        {
            continue;
        }
        let Some(i) = crate::measure::diagnose::pick(&plans, &group, &|_| true) else {
            continue;
        };
        let plan = plans[i].as_ref().expect("picked from plans");
        eprintln!("diagnosing {} under {}", group.key, plan.cell.load.name);
        let d = crate::measure::diagnose::diagnose(plan, &ctx, &|_| {});
        print_line(&d);
        diagnoses.push(d);
    }
    crate::results::write_json_atomic(&args.out.join("diagnoses.json"), &diagnoses)?;
    eprintln!("wrote {}", args.out.join("diagnoses.json").display());
    Ok(ExitCode::SUCCESS)
}

fn print_line(d: &crate::results::diagnosis::Diagnosis) {
    let calls = d.syscalls.measured().and_then(syscalls);
    let instr = d.instructions.measured().and_then(instructions);
    let split = d.profile.measured().and_then(breakdown);
    let names = |calls: &[(String, f64)]| {
        calls
            .iter()
            .map(|(n, v)| format!("{n} {v:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "{}: {} syscalls/req that do not depend on timing ({}); every call: {}; depend on timing: {}; {} instructions/req, CPU: {}",
        d.key,
        calls
            .as_ref()
            .map_or("–".into(), |c| format!("{:.3}", c.repeatable())),
        calls.as_ref().map_or_else(
            || d.syscalls.reason().unwrap_or_default().to_string(),
            |c| names(&c.steady_by_name)
        ),
        calls
            .as_ref()
            .and_then(|c| c.all_calls())
            .map_or("–".into(), |(b, p)| format!("{b:.1} back to back, {p:.1} paced")),
        calls.as_ref().map_or(String::new(), |c| c
            .timing
            .iter()
            .map(|t| format!(
                "{} {:.2} → {:.2} ({} steady{})",
                t.name,
                t.back_to_back,
                t.paced,
                t.steady,
                if t.waits { ", made while waiting" } else { "" }
            ))
            .collect::<Vec<_>>()
            .join(", ")),
        instr.map_or_else(
            || d.instructions.reason().unwrap_or("–").to_string(),
            |v| format!("{v:.0}")
        ),
        split
            .map(|b| Bucket::ALL
                .iter()
                .map(|k| format!("{} {:.0}%", k.label(), b.shares[k] * 100.0))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_else(|| d.profile.reason().unwrap_or_default().to_string()),
    );
}
