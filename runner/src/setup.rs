//! What `run` and `check` both need before starting servers: each runtime located and versioned,
//! and each server flavour built once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::artifacts::ArtifactKind;
use crate::results::ToolInfo;
use crate::runtime::{RuntimeDef, RuntimeDefs};

/// A runtime as found on this machine.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub bin: Option<PathBuf>,
    pub version: Option<String>,
    /// Why the runtime cannot be used (its cells are skipped with this reason).
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

/// Locates and versions each named runtime once. Native's "version" is the compiler's.
pub fn resolve_runtimes<'a>(
    defs: &RuntimeDefs,
    names: impl Iterator<Item = &'a str>,
    tools_dir: &Path,
    root: &Path,
) -> BTreeMap<String, Resolved> {
    let mut resolved = BTreeMap::new();
    for name in names {
        if resolved.contains_key(name) {
            continue;
        }
        let def = defs.get(name).expect("names come from a validated matrix");
        let r = match def.locate(tools_dir) {
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
        };
        resolved.insert(name.to_string(), r);
    }
    resolved
}

/// The build named by a mode (its `artifact`, else its runtime's), for a server language.
/// `Ok(Err(reason))` when that server has no such build: the cell is skipped with the reason.
pub fn artifact_kind(
    def: &RuntimeDef,
    mode: &str,
    server: &str,
) -> Result<std::result::Result<&'static ArtifactKind, String>> {
    let name = def
        .modes
        .get(mode)
        .and_then(|m| m.artifact.as_deref())
        .or(def.artifact.as_deref())
        .unwrap_or("");
    if !crate::artifacts::KINDS.iter().any(|k| k.name == name) {
        let mut known: Vec<&str> = crate::artifacts::KINDS.iter().map(|k| k.name).collect();
        known.dedup();
        anyhow::bail!(
            "runtimes/{}.toml: artifact {name:?} is not a known server build (known: {})",
            def.name,
            known.join(", ")
        );
    }
    Ok(ArtifactKind::find(server, name)
        .ok_or_else(|| crate::artifacts::missing_reason(server, name)))
}

/// The distinct builds the cells need, leaving out cells whose runtime is unusable and cells whose
/// server language has no such build (those are skipped with a reason).
pub fn needed_builds(
    defs: &RuntimeDefs,
    cells: &[crate::matrix::Cell],
    resolved: &BTreeMap<String, Resolved>,
) -> Result<Vec<&'static ArtifactKind>> {
    let mut needed = Vec::new();
    for cell in cells {
        if resolved[&cell.runtime].problem.is_none() {
            let def = defs
                .get(&cell.runtime)
                .expect("cells name defined runtimes");
            if let Ok(kind) = artifact_kind(def, &cell.mode, &cell.server)? {
                needed.push(kind);
            }
        }
    }
    Ok(needed)
}

pub struct Builds {
    /// Artifact path, or why it could not be built (cells that need it fail with that reason).
    pub results: BTreeMap<String, Result<PathBuf, String>>,
    /// Stripped size of native builds.
    pub stripped: BTreeMap<String, u64>,
}

/// Builds each distinct flavour once (cargo and go skip unchanged work).
pub fn build_artifacts(
    kinds: &[&'static ArtifactKind],
    go: Option<&Path>,
    root: &Path,
    target_dir: &Path,
    logs: &Path,
) -> Builds {
    let mut builds = Builds {
        results: BTreeMap::new(),
        stripped: BTreeMap::new(),
    };
    for kind in kinds {
        let key = kind.key();
        if builds.results.contains_key(&key) {
            continue;
        }
        eprintln!(
            "building the {key} server ({})",
            kind.build_args(target_dir).join(" ")
        );
        let log = logs.join(format!("build-{}.log", key.replace('/', "-")));
        let built = kind
            .build(root, target_dir, go, &log)
            .map_err(|e| format!("{e:#}"));
        if let (Ok(path), true) = (&built, kind.is_native()) {
            if let Some(size) = crate::artifacts::stripped_size(path, logs) {
                builds.stripped.insert(key.clone(), size);
            }
        }
        builds.results.insert(key, built);
    }
    builds
}

/// The Go toolchain, when a Go build is needed and it is installed.
pub fn go_toolchain(defs: &RuntimeDefs, tools_dir: &Path) -> Option<PathBuf> {
    defs.tool("go")?
        .locate(tools_dir)
        .ok()
        .flatten()
        .map(|found| found.path)
}

/// The plan for one cell with everything `run` and `check` resolve alike; the caller adds the load
/// generator (run) or leaves it empty (check).
#[allow(clippy::too_many_arguments)]
pub fn plan<'a>(
    index: usize,
    cell: &'a crate::matrix::Cell,
    def: &'a RuntimeDef,
    resolved: &Resolved,
    kind: &std::result::Result<&'static ArtifactKind, String>,
    builds: &Builds,
    settings: &'a crate::matrix::Settings,
    target_dir: &Path,
    logs: PathBuf,
) -> crate::measure::Plan<'a> {
    let kind = kind.as_ref().ok().copied();
    crate::measure::Plan {
        index,
        cell,
        def,
        mode: &def.modes[&cell.mode],
        bin: resolved.bin.clone(),
        runtime_version: resolved.version.clone(),
        kind,
        artifact: kind.map(|k| k.path(target_dir)).unwrap_or_default(),
        artifact_stripped_bytes: kind.and_then(|k| builds.stripped.get(&k.key()).copied()),
        settings,
        generator: PathBuf::new(),
        script: PathBuf::new(),
        logs,
        prepared_cache: target_dir.join("matrix-prepared"),
    }
}

fn rustc_version(root: &Path) -> String {
    std::process::Command::new("rustc")
        .arg("--version")
        .current_dir(root)
        .output()
        .ok()
        .and_then(|o| crate::runtime::parse_version(None, &String::from_utf8_lossy(&o.stdout)))
        .map(|v| format!("rustc {v}"))
        .unwrap_or_else(|| "unknown".into())
}
