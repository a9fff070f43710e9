//! Where a run's files go and how they are written: atomically (temporary file + rename), so an
//! interrupted or crashed run leaves only whole files behind, and read back, partial runs too.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::schema::{CellResult, Run, RUN_SCHEMA};

/// Writes `value` as pretty JSON to `path` through a temporary file and a rename.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_atomic(path, text.as_bytes())
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
}

/// A finished run as the history keeps it (`runs/<id>.json`): every figure, but not the raw
/// windows and launches, the commands and tool paths, or the profile's samples.
pub fn summary(run: &Run) -> Run {
    let mut s = run.clone();
    s.command = String::new();
    s.launches.clear();
    s.environment.hostname.clear();
    for tool in s.tools.values_mut() {
        tool.path = None;
    }
    for cell in &mut s.cells {
        cell.measured = Default::default();
        cell.command.clear();
    }
    if let Some(p) = &mut s.preflight {
        p.handoff.clear();
    }
    for d in &mut s.diagnoses {
        if let super::diagnosis::Counted::Measured(p) = &mut d.profile {
            p.samples.clear();
        }
    }
    s
}

/// Turns every finished run directory under `out/runs/` (how runs were kept before summaries)
/// into its summary, through the privacy rules, and removes its cell files.
pub fn compact_history(out: &Path, privacy: &super::privacy::Privacy) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(out.join("runs")) else {
        return Ok(());
    };
    for dir in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let Ok(run) = read_run(&dir.join("run.json")) else {
            continue;
        };
        if !run.complete {
            continue;
        }
        write_json_atomic(&dir.with_extension("json"), &privacy.json(&summary(&run))?)?;
        let _ = std::fs::remove_dir_all(dir.join("cells"));
        let _ = std::fs::remove_file(dir.join("run.json"));
        let _ = std::fs::remove_file(dir.join("header.json"));
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(())
}

/// Every run stored under `out/runs/` (summaries, and full run directories of older versions),
/// oldest first.
pub fn stored_runs(out: &Path) -> Vec<Run> {
    let Ok(entries) = std::fs::read_dir(out.join("runs")) else {
        return Vec::new();
    };
    let mut runs: Vec<Run> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let file = if path.is_dir() { path.join("run.json") } else { path };
            (file.extension().is_some_and(|x| x == "json")).then(|| read_run(&file).ok())?
        })
        .collect();
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    runs.dedup_by(|a, b| a.run_id == b.run_id);
    runs
}

/// Layout of one run's directory.
pub struct RunDir {
    pub dir: PathBuf,
    /// What the files written through it may say about this machine.
    pub privacy: super::privacy::Privacy,
}

impl RunDir {
    pub fn new(out: &Path, run_id: &str, privacy: super::privacy::Privacy) -> RunDir {
        RunDir {
            dir: out.join("runs").join(run_id),
            privacy,
        }
    }

    /// Writes `value` as published JSON: atomically, with what `privacy` keeps of paths.
    pub fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<()> {
        write_json_atomic(path, &self.privacy.json(value)?)
    }
    /// The run's id: its directory's name.
    pub fn run_id(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    }
    pub fn cells_dir(&self) -> PathBuf {
        self.dir.join("cells")
    }
    /// Rewrites every log of the run through the privacy rules: tools print absolute paths
    /// (cargo's "Compiling ... (/home/...)"), and logs are published with the run.
    pub fn scrub_logs(&self) {
        let Ok(dir) = std::fs::read_dir(self.logs_dir()) else {
            return;
        };
        for entry in dir.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let clean = self.privacy.text(&text);
                    if clean != text {
                        let _ = std::fs::write(&path, clean);
                    }
                }
            }
        }
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }
    pub fn cell_file(&self, cell: &CellResult) -> PathBuf {
        self.cells_dir().join(format!(
            "{:03}-{}.json",
            cell.index,
            cell.id.replace('/', "_")
        ))
    }
    pub fn run_file(&self) -> PathBuf {
        self.dir.join("run.json")
    }
    /// `runs/<id>.json`: the finished run as the history keeps it (`summary`).
    pub fn summary_file(&self) -> PathBuf {
        self.dir.with_extension("json")
    }
    /// Removes the cell files and header of a finished run (its summary holds its figures; its
    /// logs stay, unpublished).
    pub fn remove_records(&self) {
        let _ = std::fs::remove_dir_all(self.cells_dir());
        let _ = std::fs::remove_file(self.header_file());
        let _ = std::fs::remove_file(self.run_file());
        let _ = std::fs::remove_dir(&self.dir);
    }
    /// The run header (settings, environment) written before the first cell, so a partial run can
    /// be rendered.
    pub fn header_file(&self) -> PathBuf {
        self.dir.join("header.json")
    }
}

/// Reads a run: its `run.json` when complete, otherwise its header plus every finished cell file.
pub fn load_run_dir(dir: &Path) -> Result<Run> {
    let run_file = dir.join("run.json");
    if run_file.exists() {
        return read_run(&run_file);
    }
    let header = dir.join("header.json");
    let mut run = read_run(&header).with_context(|| {
        format!(
            "{} has neither run.json nor a readable header.json",
            dir.display()
        )
    })?;
    let mut cells = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("cells")) {
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path)?;
            cells.push(
                serde_json::from_str::<CellResult>(&text)
                    .with_context(|| format!("{} is not a cell result", path.display()))?,
            );
        }
    }
    run.cells = cells;
    run.complete = false;
    Ok(run)
}

pub fn read_run(path: &Path) -> Result<Run> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let run: Run = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a run of schema {RUN_SCHEMA}", path.display()))?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.json");
        write_json_atomic(&path, &serde_json::json!({"x": 1})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            "{\n  \"x\": 1\n}"
        );
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn published_logs_lose_private_paths() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("wasm-bench");
        let out = repo.join("results");
        let privacy = super::super::privacy::Privacy::new(&repo, &repo.join(".tools"), &out, false);
        let run_dir = RunDir::new(&out, "1", privacy);
        std::fs::create_dir_all(run_dir.logs_dir()).unwrap();
        let log = run_dir.logs_dir().join("build-rust-wasix.log");
        let line = format!(
            "   Compiling wasm-bench-server v0.1.0 ({}/server)\n",
            repo.display()
        );
        std::fs::write(&log, &line).unwrap();
        run_dir.scrub_logs();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(!text.contains(&repo.display().to_string()), "{text}");
        assert!(text.contains("Compiling wasm-bench-server"), "{text}");
    }
}
