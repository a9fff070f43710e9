//! Building one server: its definition's command, run in its source directory with its
//! environment, and the Go overlay a patched build uses.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::Build;
use crate::config::go_patch::GoPatch;
use crate::config::Placeholders;

/// The target triple rustc builds for by default here, e.g. "x86_64-unknown-linux-gnu".
pub fn host_triple() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        Command::new("rustc")
            .arg("-vV")
            .current_dir(crate::paths::repo_root())
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
            })
            .unwrap_or_else(|| format!("{}-unknown-linux-gnu", std::env::consts::ARCH))
    })
}

/// What a build command may name: {target_dir}, {host_triple}, {host_triple_env} (as cargo's
/// `CARGO_TARGET_<TRIPLE>_*` variables spell it), {source}, and {go} where Go is installed.
pub fn build_vars(build: &Build, target_dir: &Path, go: Option<&Path>) -> Placeholders {
    let mut vars = Placeholders::default();
    vars.set("target_dir", target_dir.display().to_string())
        .set("host_triple", host_triple())
        .set(
            "host_triple_env",
            host_triple().to_uppercase().replace(['-', '.'], "_"),
        )
        .set("source", build.server.source_dir().display().to_string());
    if let Some(go) = go {
        vars.set("go", go.display().to_string());
    }
    if build.def.go_patch.is_some() {
        vars.set(
            "go_overlay",
            build.overlay_path(target_dir).display().to_string(),
        );
    }
    vars
}

impl Build<'_> {
    /// The build command, expanded.
    pub fn command(&self, target_dir: &Path, go: Option<&Path>) -> Result<Vec<String>> {
        let vars = build_vars(self, target_dir, go);
        if go.is_none() && self.def.command.iter().any(|a| a.contains("{go}")) {
            bail!("the Go toolchain is not installed: `make init` or set GO=/path/to/go");
        }
        vars.expand_all(&self.def.command).with_context(|| {
            format!(
                "{}: [[build]] {}",
                self.server.file.display(),
                self.def.kind
            )
        })
    }

    /// Builds (or finds the prebuilt artifact) and returns the artifact's path.
    pub fn build(&self, target_dir: &Path, go: Option<&Path>, log: &Path) -> Result<PathBuf> {
        let path = self.path(target_dir)?;
        if self.def.prebuilt.is_some() {
            if !path.is_file() {
                bail!(
                    "{}: the prebuilt {} artifact {} does not exist",
                    self.server.file.display(),
                    self.def.kind,
                    path.display()
                );
            }
            return Ok(path);
        }
        let argv = self.command(target_dir, go)?;
        let vars = build_vars(self, target_dir, go);
        if let (Some(name), Some(go)) = (&self.def.go_patch, go) {
            let patch = crate::config::go_patch::named(name).context("a known Go patch")?;
            self.write_overlay(patch, go, target_dir)?;
        }
        let out = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(self.server.source_dir());
        for (key, value) in &self.def.env {
            command.env(vars.expand(key)?, vars.expand(value)?);
        }
        for key in &self.def.env_remove {
            command.env_remove(key);
        }
        let status = command
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()
            .with_context(|| format!("cannot run {}", argv[0]))?;
        if !status.success() {
            bail!(
                "building the {} server failed ({}):\n{}",
                self.key(),
                argv.join(" "),
                crate::sys::log_tail(log, 15)
            );
        }
        if !path.is_file() {
            bail!(
                "the {} build succeeded but {} is missing ({}: `artifact`)",
                self.key(),
                path.display(),
                self.server.file.display()
            );
        }
        Ok(path)
    }

    /// `go build -overlay` file of a patched Go build (one per build, under target/go/).
    fn overlay_path(&self, target_dir: &Path) -> PathBuf {
        target_dir
            .join("go")
            .join("overlay")
            .join(format!("{}-{}.json", self.server.name, self.def.kind))
    }

    /// Copies the toolchain's file, applies the patch, and writes the overlay that points at it.
    fn write_overlay(&self, patch: &GoPatch, go: &Path, target_dir: &Path) -> Result<()> {
        let output = Command::new(go)
            .args(["env", "GOROOT"])
            .env("GOTOOLCHAIN", "local")
            .output()
            .with_context(|| format!("cannot run {} env GOROOT", go.display()))?;
        let goroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        let original_path = goroot.join("src").join(patch.file);
        let original = std::fs::read_to_string(&original_path)
            .with_context(|| format!("cannot read {}", original_path.display()))?;
        let patched = patch.apply(&original)?;
        let dir = target_dir
            .join("go")
            .join("overlay")
            .join(format!("{}-{}", self.server.name, self.def.kind));
        let patched_path = dir.join(patch.file);
        std::fs::create_dir_all(patched_path.parent().expect("a file under a dir"))?;
        std::fs::write(&patched_path, patched)?;
        let overlay = serde_json::json!({
            "Replace": { original_path.display().to_string(): patched_path.display().to_string() }
        });
        std::fs::write(self.overlay_path(target_dir), overlay.to_string())?;
        Ok(())
    }
}
