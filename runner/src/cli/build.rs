//! `matrix build`: every build of every server definition (what `make build` runs), or those whose
//! key ("rust/wasip2", "go/wasix", ...) contains `--only`. `run` and `check` build what they need
//! the same way.

use std::process::ExitCode;

use anyhow::Result;

use crate::build::Build;
use crate::config::{RuntimeDefs, ServerDefs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only builds whose key contains this text (e.g. "go/" or "wasip2").
    #[arg(long)]
    pub only: Option<String>,
    /// A server definition to build besides the built-in ones (a `server.toml`).
    #[arg(long)]
    pub server: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub common: super::Common,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let defs = RuntimeDefs::load(&args.common.runtimes)?;
    let target_dir = crate::paths::target_dir();
    let logs = target_dir.join("matrix-build");
    std::fs::create_dir_all(&logs)?;
    let mut servers = ServerDefs::builtin(&crate::paths::servers_dir())?;
    for file in &args.server {
        servers.add(crate::config::ServerDef::load(file)?)?;
    }
    let builds: Vec<Build> = servers
        .iter()
        .flat_map(|server| server.builds.iter().map(move |def| Build { server, def }))
        .filter(|b| {
            args.only
                .as_deref()
                .is_none_or(|only| b.key().contains(only))
        })
        .collect();
    let go = defs
        .tool("go")
        .and_then(|def| def.locate(&args.common.tools_dir).ok().flatten())
        .map(|found| found.path);
    let builds = crate::build::build_all(&builds, go.as_deref(), &target_dir, &logs);
    let mut failed = 0;
    for (key, built) in &builds.results {
        match built {
            Ok(path) => println!("{key}: {}", path.display()),
            Err(e) => {
                failed += 1;
                eprintln!("error: {key}: {e}");
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
