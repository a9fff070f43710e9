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
        for (version, line) in side_by_side(def, &args.common.tools_dir) {
            println!("{:<10} {:<7} {:<12} {line}", "", "@", version);
        }
        if !def.install.is_empty() {
            let sources: Vec<String> = def.install.iter().map(|m| m.describe_all()).collect();
            println!(
                "{:<10} pinned {}; installs from: {}",
                "",
                def.pinned.as_deref().unwrap_or("-"),
                sources.join("; else ")
            );
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
            modes(def, None, None),
        ),
        Ok(Some(found)) => {
            let reported = def.version(&found.path);
            let modes = modes(def, Some(&found.path), reported.as_deref().ok());
            let version = reported.unwrap_or_else(|e| format!("? ({e})"));
            let path = format!("{} [{}]", found.path.display(), found.via);
            (true, version, path, modes)
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
                        .map(|m| m.describe_all())
                        .collect::<Vec<_>>()
                        .join(", then ")
                )
            };
            (false, "-".into(), "-".into(), fix)
        }
    }
}

fn modes(def: &RuntimeDef, bin: Option<&std::path::Path>, version: Option<&str>) -> String {
    def.modes
        .keys()
        .map(|mode| match def.mode_support(mode, bin, version) {
            Ok(()) => mode.clone(),
            Err(why) => format!("{mode} (unavailable: {why})"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The versions installed side by side under `<tools>/<name>/<version>/` (and any the
/// definition offers that are not), each with its path or the command that installs it.
fn side_by_side(def: &RuntimeDef, tools_dir: &std::path::Path) -> Vec<(String, String)> {
    if def.binary.is_none() {
        return Vec::new();
    }
    let mut versions = def.installable();
    if let Ok(entries) = std::fs::read_dir(tools_dir.join(&def.name)) {
        versions.extend(entries.filter_map(|e| e.ok()?.file_name().into_string().ok()));
    }
    crate::config::versions::newest_first(&mut versions);
    versions.dedup();
    versions
        .into_iter()
        .filter(|v| def.pinned.as_deref() != Some(v.as_str()))
        .map(|version| {
            let line = match def.locate_version(tools_dir, &version) {
                Ok(found) => match def.version(&found.path) {
                    Ok(reported) => format!(
                        "{} [{}] reports {reported}; modes: {}",
                        found.path.display(),
                        found.via,
                        modes(def, Some(&found.path), Some(&reported))
                    ),
                    Err(e) => format!("{} does not run: {e:#}", found.path.display()),
                },
                Err(_) => format!("not installed: matrix install {}@{version}", def.name),
            };
            (version, line)
        })
        .collect()
}
