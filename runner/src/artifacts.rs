//! Server builds: one source (`server/`), one build per listener bootstrap. A runtime definition
//! names the build it runs with `artifact = "..."`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtifactKind {
    pub name: &'static str,
    /// Rust target triple; `None` builds for the host.
    pub target: Option<&'static str>,
    pub bin: &'static str,
    pub features: &'static [&'static str],
}

pub const KINDS: &[ArtifactKind] = &[
    ArtifactKind { name: "native", target: None, bin: "server", features: &[] },
    ArtifactKind { name: "wasip2", target: Some("wasm32-wasip2"), bin: "server", features: &[] },
    ArtifactKind { name: "wasmedge", target: Some("wasm32-wasip1"), bin: "server-wasmedge", features: &["wasmedge"] },
    ArtifactKind { name: "wasix", target: Some("wasm32-wasip1"), bin: "server-wasix", features: &["wasix"] },
    ArtifactKind { name: "wasi-http", target: Some("wasm32-wasip2"), bin: "server-http", features: &["wasi-http"] },
];

impl ArtifactKind {
    pub fn get(name: &str) -> Option<&'static ArtifactKind> {
        KINDS.iter().find(|k| k.name == name)
    }

    /// The target label recorded per cell.
    pub fn target_label(&self) -> &'static str {
        self.target.unwrap_or("host")
    }

    pub fn path(&self, target_dir: &Path) -> PathBuf {
        match self.target {
            None => target_dir.join("release").join(self.bin),
            Some(t) => target_dir.join(t).join("release").join(format!("{}.wasm", self.bin)),
        }
    }

    /// The cargo invocation (argv after `cargo`).
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["build", "--release", "--locked", "-p", "wasm-bench-server", "--bin", self.bin].map(String::from).to_vec();
        if let Some(t) = self.target {
            args.extend(["--target".into(), t.into()]);
        }
        if !self.features.is_empty() {
            args.extend(["--features".into(), self.features.join(",")]);
        }
        args
    }

    /// Builds (cargo skips the work when nothing changed) and returns the artifact path.
    pub fn build(&self, root: &Path, target_dir: &Path, log: &Path) -> Result<PathBuf> {
        let out = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let status = Command::new("cargo")
            .args(self.cargo_args())
            .current_dir(root)
            .env("CARGO_TARGET_DIR", target_dir)
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()
            .context("cannot run cargo")?;
        if !status.success() {
            bail!("building the {} server failed (cargo {}):\n{}", self.name, self.cargo_args().join(" "), crate::process::log_tail(log, 15));
        }
        let path = self.path(target_dir);
        if !path.is_file() {
            bail!("cargo succeeded but {} is missing", path.display());
        }
        Ok(path)
    }
}

/// First 16 hex digits of the file's SHA-256: the cache key for prepared (AOT) artifacts.
pub fn content_hash(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let digest = Sha256::digest(&bytes);
    Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// Size of a native binary once stripped of symbols (what one would ship), via `strip -o`.
pub fn stripped_size(binary: &Path, scratch: &Path) -> Option<u64> {
    let out = scratch.join(format!("{}.stripped", binary.file_name()?.to_string_lossy()));
    let ok = Command::new("strip").arg("-o").arg(&out).arg(binary).status().ok()?.success();
    let size = if ok { std::fs::metadata(&out).ok().map(|m| m.len()) } else { None };
    let _ = std::fs::remove_file(&out);
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_names_a_known_artifact() {
        let defs = crate::runtime::RuntimeDefs::load(&crate::paths::repo_root().join("runtimes")).unwrap();
        for def in defs.runtimes() {
            for (mode_name, mode) in &def.modes {
                let name = mode.artifact.as_deref().or(def.artifact.as_deref()).unwrap_or("(none)");
                assert!(
                    ArtifactKind::get(name).is_some(),
                    "runtimes/{}.toml mode {mode_name}: artifact {name:?} is not one of {:?}",
                    def.name,
                    KINDS.iter().map(|k| k.name).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn wasm_builds_use_their_own_target_and_features() {
        let wasix = ArtifactKind::get("wasix").unwrap();
        let args = wasix.cargo_args();
        assert!(args.windows(2).any(|w| w == ["--target", "wasm32-wasip1"]));
        assert!(args.windows(2).any(|w| w == ["--features", "wasix"]));
        assert!(wasix.path(Path::new("t")).ends_with("wasm32-wasip1/release/server-wasix.wasm"));
        assert!(ArtifactKind::get("native").unwrap().path(Path::new("t")).ends_with("release/server"));
    }
}
