//! `matrix doctor`: what this machine has for the matrix, and the command that fixes what it lacks.

use std::process::ExitCode;

use anyhow::Result;

use crate::config::{RuntimeDef, RuntimeDefs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: super::Common,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let defs = RuntimeDefs::load(&args.common.runtimes)?;
    println!(
        "{:<10} {:<7} {:<12} {:<48} modes / fix",
        "name", "found", "version", "path"
    );
    let mut missing = 0;
    for def in defs.runtimes().chain(defs.tools()) {
        let (found, version, path, detail) = describe(def, &args.common.tools_dir);
        if !found {
            missing += 1;
        }
        println!(
            "{:<10} {:<7} {:<12} {:<48} {detail}",
            def.name,
            if found { "yes" } else { "NO" },
            version,
            path
        );
        println!("{:<10} {}", "", def.about);
        if !def.install.is_empty() {
            let sources: Vec<String> = def.install.iter().map(|m| m.describe()).collect();
            println!("{:<10} installs from: {}", "", sources.join("; else "));
        }
    }
    for target in ["wasm32-wasip1", "wasm32-wasip2"] {
        let installed = std::process::Command::new("rustup")
            .args(["target", "list", "--installed"])
            .current_dir(crate::paths::repo_root())
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.trim() == target)
            })
            .unwrap_or(false);
        if !installed {
            missing += 1;
        }
        println!(
            "{:<10} {:<7} {:<12} {:<48} {}",
            "rust",
            if installed { "yes" } else { "NO" },
            target,
            "",
            if installed {
                String::new()
            } else {
                format!("fix: rustup target add {target} (or make init)")
            }
        );
    }
    if missing > 0 {
        println!("\n{missing} missing: cells that need them are reported as skipped. `make init` installs the pinned versions.");
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(def: &RuntimeDef, tools_dir: &std::path::Path) -> (bool, String, String, String) {
    match def.locate(tools_dir) {
        Ok(None) => (
            true,
            "-".into(),
            "(built from server/)".into(),
            modes(def, None),
        ),
        Ok(Some(found)) => {
            let version = def
                .version(&found.path)
                .unwrap_or_else(|e| format!("? ({e})"));
            let path = format!("{} [{}]", found.path.display(), found.via);
            (true, version, path, modes(def, Some(&found.path)))
        }
        Err(problem) => {
            let fix = if def.install.is_empty() {
                def.install_hint.clone()
            } else {
                format!(
                    "fix: matrix install {} — tries {}; {problem}",
                    def.name,
                    def.install
                        .iter()
                        .map(|m| m.describe())
                        .collect::<Vec<_>>()
                        .join(", then ")
                )
            };
            (false, "-".into(), "-".into(), fix)
        }
    }
}

fn modes(def: &RuntimeDef, bin: Option<&std::path::Path>) -> String {
    def.modes
        .keys()
        .map(|mode| match def.mode_support(mode, bin) {
            Ok(()) => mode.clone(),
            Err(why) => format!("{mode} (unavailable: {why})"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
