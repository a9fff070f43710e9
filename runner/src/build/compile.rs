//! Building one server: the cargo or go command line, its environment, and the Go overlay a
//! patched build uses.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::go_patch::GoPatch;
use super::kinds::{ArtifactKind, Builder};

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

/// `CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS` for the host triple.
fn static_rustflags_var() -> String {
    format!(
        "CARGO_TARGET_{}_RUSTFLAGS",
        host_triple().to_uppercase().replace(['-', '.'], "_")
    )
}

impl ArtifactKind {
    /// The build command's arguments (after `cargo` or `go`).
    pub fn build_args(&self, target_dir: &Path) -> Vec<String> {
        match self.builder {
            Builder::Cargo {
                target,
                bin,
                features,
            } => {
                let mut args: Vec<String> = [
                    "build",
                    "--release",
                    "--locked",
                    "-p",
                    "wasm-bench-server",
                    "--bin",
                    bin,
                ]
                .map(String::from)
                .to_vec();
                // Native builds name the host target explicitly, so the static-linking flags
                // (see `build`) reach the server and not build scripts or proc macros.
                args.extend(["--target".into(), target.unwrap_or(host_triple()).into()]);
                if !features.is_empty() {
                    args.extend(["--features".into(), features.join(",")]);
                }
                args
            }
            Builder::Go { tags, patch, .. } => {
                // -buildvcs=false: in a git checkout Go stamps the commit into the binary, so every
                // commit would change the module's bytes, its image digest and WasmEdge's AOT
                // cache key (minutes of recompiling Go's 10 MB module).
                let mut args: Vec<String> = ["build", "-trimpath", "-buildvcs=false"]
                    .map(String::from)
                    .to_vec();
                if !tags.is_empty() {
                    args.extend(["-tags".into(), tags.into()]);
                }
                if patch.is_some() {
                    args.extend([
                        "-overlay".into(),
                        self.overlay_path(target_dir).display().to_string(),
                    ]);
                }
                args.extend([
                    "-o".into(),
                    self.path(target_dir).display().to_string(),
                    ".".into(),
                ]);
                args
            }
        }
    }

    /// Builds (cargo and go skip unchanged work) and returns the artifact path. `go` is the Go
    /// toolchain, needed for Go builds only.
    pub fn build(
        &self,
        root: &Path,
        target_dir: &Path,
        go: Option<&Path>,
        log: &Path,
    ) -> Result<PathBuf> {
        let out = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = match self.builder {
            Builder::Cargo { target, .. } => {
                let mut c = Command::new("cargo");
                c.current_dir(root).env("CARGO_TARGET_DIR", target_dir);
                if target.is_none() {
                    // Static, so the same file runs directly and in an image FROM scratch.
                    c.env(static_rustflags_var(), "-C target-feature=+crt-static");
                }
                c
            }
            Builder::Go { wasm, patch, .. } => {
                let go = go.context(
                    "the Go toolchain is not installed: `make init` or set GO=/path/to/go",
                )?;
                let mut c = Command::new(go);
                c.current_dir(root.join("server/go"))
                    // Everything Go writes stays under target/; no module downloads (stdlib only).
                    .env("GOCACHE", target_dir.join("go-cache"))
                    .env("GOPATH", target_dir.join("go-path"))
                    .env("GOTOOLCHAIN", "local")
                    .env("GOPROXY", "off")
                    .env("GOFLAGS", "")
                    .env("CGO_ENABLED", "0");
                if wasm {
                    c.env("GOOS", "wasip1").env("GOARCH", "wasm");
                } else {
                    c.env_remove("GOOS").env_remove("GOARCH");
                }
                if let Some(patch) = patch {
                    self.write_overlay(patch, go, target_dir)?;
                }
                c
            }
        };
        let program = command.get_program().to_string_lossy().to_string();
        let status = command
            .args(self.build_args(target_dir))
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()
            .with_context(|| format!("cannot run {program}"))?;
        if !status.success() {
            bail!(
                "building the {} server failed ({program} {}):\n{}",
                self.key(),
                self.build_args(target_dir).join(" "),
                crate::sys::log_tail(log, 15)
            );
        }
        let path = self.path(target_dir);
        if !path.is_file() {
            bail!("the build succeeded but {} is missing", path.display());
        }
        Ok(path)
    }

    /// `go build -overlay` file of a patched Go build (one per build, under target/go/).
    fn overlay_path(&self, target_dir: &Path) -> PathBuf {
        target_dir
            .join("go")
            .join("overlay")
            .join(format!("{}.json", self.name))
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
        let dir = target_dir.join("go").join("overlay").join(self.name);
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
