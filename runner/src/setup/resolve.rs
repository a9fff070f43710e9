//! Finding a runtime or tool on this machine and reading its version.

use std::path::{Path, PathBuf};

use crate::config::RuntimeDef;
use crate::results::ToolInfo;

/// A runtime or tool as found on this machine.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub bin: Option<PathBuf>,
    pub version: Option<String>,
    /// Why it cannot be used (its cells are skipped with this reason).
    pub problem: Option<String>,
}

impl Resolved {
    pub fn tool_info(&self) -> ToolInfo {
        ToolInfo {
            version: self.version.clone(),
            path: self.bin.as_ref().map(|p| p.display().to_string()),
            problem: self.problem.clone(),
        }
    }
}

/// Finds a tool; one whose version cannot be read is still used (the version is only recorded).
pub fn locate_tool(def: &RuntimeDef, tools_dir: &Path) -> Resolved {
    match def.locate(tools_dir) {
        Ok(Some(found)) => Resolved {
            version: def.version(&found.path).ok(),
            bin: Some(found.path),
            problem: None,
        },
        Ok(None) => Resolved {
            bin: None,
            version: None,
            problem: Some(format!("runtimes/tools/{}.toml names no binary", def.name)),
        },
        Err(problem) => Resolved {
            bin: None,
            version: None,
            problem: Some(problem),
        },
    }
}

/// Finds and versions one definition's binary. Definitions without one (native) are "versioned"
/// by the compiler.
pub fn locate(def: &RuntimeDef, tools_dir: &Path, root: &Path) -> Resolved {
    match def.locate(tools_dir) {
        Ok(Some(found)) => match def.version(&found.path) {
            Ok(v) => Resolved {
                bin: Some(found.path),
                version: Some(v),
                problem: None,
            },
            Err(e) => Resolved {
                bin: None,
                version: None,
                problem: Some(format!("{e:#}")),
            },
        },
        Ok(None) => Resolved {
            bin: None,
            version: Some(rustc_version(root)),
            problem: None,
        },
        Err(problem) => Resolved {
            bin: None,
            version: None,
            problem: Some(problem),
        },
    }
}

/// Finds one listed version of a runtime and checks that the binary reports it.
pub fn locate_version(def: &RuntimeDef, version: &str, tools_dir: &Path) -> Resolved {
    let unusable = |problem: String| Resolved {
        bin: None,
        version: None,
        problem: Some(problem),
    };
    let found = match def.locate_version(tools_dir, version) {
        Ok(found) => found,
        Err(problem) => return unusable(problem),
    };
    match def.version(&found.path) {
        Ok(v) if crate::config::versions::is_release(&v, version) => Resolved {
            bin: Some(found.path),
            version: Some(v),
            problem: None,
        },
        Ok(v) => unusable(format!(
            "{} [{}] reports {} {v}, not the {version} the matrix lists: point {} at a {version} build or run `matrix install {}@{version}`",
            found.path.display(),
            found.via,
            def.name,
            crate::config::versions::env_var(def.env.as_deref().unwrap_or(&def.name), version),
            def.name
        )),
        Err(e) => unusable(format!("{e:#}")),
    }
}

fn rustc_version(root: &Path) -> String {
    std::process::Command::new("rustc")
        .arg("--version")
        .current_dir(root)
        .output()
        .ok()
        .and_then(|o| {
            crate::config::runtimes::parse_version(None, &String::from_utf8_lossy(&o.stdout))
        })
        .map(|v| format!("rustc {v}"))
        .unwrap_or_else(|| "unknown".into())
}
