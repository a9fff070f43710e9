//! Server builds: one source per language (`server/` for Rust, `server/go/` for Go), one build per
//! listener bootstrap. A runtime definition names the build it runs with `artifact = "..."`; each
//! server language provides the builds it can.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    /// `cargo build --release -p wasm-bench-server --bin <bin> [--target] [--features]`.
    Cargo {
        target: Option<&'static str>,
        bin: &'static str,
        features: &'static [&'static str],
    },
    /// `go build` in server/go with `GOOS=wasip1 GOARCH=wasm` when `wasm`, and build tags.
    Go {
        wasm: bool,
        tags: &'static str,
        output: &'static str,
        /// A workaround applied to a copy of a Go runtime file for this build only.
        patch: Option<&'static GoPatch>,
    },
}

/// A one-line change to a file of the Go toolchain's own sources, made on a copy at build time and
/// handed to `go build -overlay` (nothing from GOROOT is committed), so that one build can work
/// around one runtime's bug. The build fails, saying so, when the line is not found exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoPatch {
    /// Path under `$GOROOT/src`.
    pub file: &'static str,
    pub find: &'static str,
    pub replace: &'static str,
    /// What it works around, shown with the cells that run this build.
    pub why: &'static str,
}

/// wasmer-wasix 0.704/0.705 `poll_oneoff` reads a clock subscription with timeout 0 ("check and
/// return") as "no timeout", and Go's scheduler polls with timeout 0 whenever it looks for work:
/// without this, Go under wasmer sleeps until an unrelated socket event (a few hundred req/s, or
/// none). 1 ns means the same to a correct runtime.
pub const WASMER_ZERO_TIMEOUT: GoPatch = GoPatch {
    file: "runtime/netpoll_wasip1.go",
    find: "clock.timeout = uint64(delay)",
    replace: "clock.timeout = uint64(max(delay, 1))",
    why: "built with Go's wasip1 netpoll asking poll_oneoff for 1 ns instead of 0: wasmer 7.4/7.5 reads a zero \
          timeout as \"no timeout\", which leaves Go's scheduler asleep until an unrelated socket event",
};

impl GoPatch {
    /// The patched text of `original`, or why the patch no longer fits this Go version.
    pub fn apply(&self, original: &str) -> Result<String> {
        match original.matches(self.find).count() {
            1 => Ok(original.replacen(self.find, self.replace, 1)),
            n => bail!(
                "the Go workaround for {} expects `{}` once in $GOROOT/src/{}, found it {n} times: this Go \
                 version changed that file; update or drop the patch in runner/src/artifacts.rs",
                self.why.split(':').next().unwrap_or(self.file),
                self.find,
                self.file
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtifactKind {
    /// Server language: "rust" or "go".
    pub server: &'static str,
    /// Build name runtime definitions refer to: native, wasip2, wasmedge, wasix, wasi-http.
    pub name: &'static str,
    pub builder: Builder,
}

pub const KINDS: &[ArtifactKind] = &[
    ArtifactKind {
        server: "rust",
        name: "native",
        builder: Builder::Cargo {
            target: None,
            bin: "server",
            features: &[],
        },
    },
    ArtifactKind {
        server: "rust",
        name: "wasip2",
        builder: Builder::Cargo {
            target: Some("wasm32-wasip2"),
            bin: "server",
            features: &[],
        },
    },
    ArtifactKind {
        server: "rust",
        name: "wasmedge",
        builder: Builder::Cargo {
            target: Some("wasm32-wasip1"),
            bin: "server-wasmedge",
            features: &["wasmedge"],
        },
    },
    ArtifactKind {
        server: "rust",
        name: "wasix",
        builder: Builder::Cargo {
            target: Some("wasm32-wasip1"),
            bin: "server-wasix",
            features: &["wasix"],
        },
    },
    ArtifactKind {
        server: "rust",
        name: "wasi-http",
        builder: Builder::Cargo {
            target: Some("wasm32-wasip2"),
            bin: "server-http",
            features: &["wasi-http"],
        },
    },
    ArtifactKind {
        server: "go",
        name: "native",
        builder: Builder::Go {
            wasm: false,
            tags: "",
            output: "server",
            patch: None,
        },
    },
    ArtifactKind {
        server: "go",
        name: "wasix",
        builder: Builder::Go {
            wasm: true,
            tags: "wasix",
            output: "server-wasix.wasm",
            patch: Some(&WASMER_ZERO_TIMEOUT),
        },
    },
    ArtifactKind {
        server: "go",
        name: "wasmedge",
        builder: Builder::Go {
            wasm: true,
            tags: "wasmedge",
            output: "server-wasmedge.wasm",
            patch: None,
        },
    },
];

/// Server languages of the matrix.
pub const SERVERS: &[&str] = &["rust", "go"];

/// Why a server has no build of a kind (the cell is skipped with this).
pub fn missing_reason(server: &str, name: &str) -> String {
    match (server, name) {
        ("go", "wasip2") => "Go has no wasip2 target, and wasmtime 47+ dropped preopened sockets for wasip1, so a Go server \
                             cannot listen under `wasmtime run`"
            .into(),
        ("go", "wasi-http") => "no Go wasi:http handler: Go has no wasip2 target".into(),
        _ => format!("the {server} server has no {name} build"),
    }
}

impl ArtifactKind {
    /// The build named `name` of the `server` language, if it has one.
    pub fn find(server: &str, name: &str) -> Option<&'static ArtifactKind> {
        KINDS.iter().find(|k| k.server == server && k.name == name)
    }

    /// Unique key for build bookkeeping, e.g. `go/wasix`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    /// The target label recorded per cell.
    pub fn target_label(&self) -> &'static str {
        match self.builder {
            Builder::Cargo { target, .. } => target.unwrap_or("host"),
            Builder::Go {
                wasm: true,
                patch: Some(_),
                ..
            } => "wasip1/wasm (go, patched netpoll)",
            Builder::Go { wasm: true, .. } => "wasip1/wasm (go)",
            Builder::Go { wasm: false, .. } => "host (go)",
        }
    }

    pub fn is_native(&self) -> bool {
        matches!(
            self.builder,
            Builder::Cargo { target: None, .. } | Builder::Go { wasm: false, .. }
        )
    }

    pub fn path(&self, target_dir: &Path) -> PathBuf {
        match self.builder {
            Builder::Cargo {
                target: None, bin, ..
            } => target_dir.join("release").join(bin),
            Builder::Cargo {
                target: Some(t),
                bin,
                ..
            } => target_dir
                .join(t)
                .join("release")
                .join(format!("{bin}.wasm")),
            Builder::Go { output, .. } => target_dir.join("go").join(output),
        }
    }

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
                if let Some(t) = target {
                    args.extend(["--target".into(), t.into()]);
                }
                if !features.is_empty() {
                    args.extend(["--features".into(), features.join(",")]);
                }
                args
            }
            Builder::Go { tags, patch, .. } => {
                let mut args: Vec<String> = ["build", "-trimpath"].map(String::from).to_vec();
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
            Builder::Cargo { .. } => {
                let mut c = Command::new("cargo");
                c.current_dir(root).env("CARGO_TARGET_DIR", target_dir);
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
                crate::process::log_tail(log, 15)
            );
        }
        let path = self.path(target_dir);
        if !path.is_file() {
            bail!("the build succeeded but {} is missing", path.display());
        }
        Ok(path)
    }
}

impl ArtifactKind {
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

    /// What the build changed beyond the shared source, if anything (shown with its cells).
    pub fn build_note(&self) -> Option<&'static str> {
        match self.builder {
            Builder::Go {
                patch: Some(patch), ..
            } => Some(patch.why),
            _ => None,
        }
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
    let out = scratch.join(format!(
        "{}.stripped",
        binary.file_name()?.to_string_lossy()
    ));
    let ok = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(binary)
        .status()
        .ok()?
        .success();
    let size = if ok {
        std::fs::metadata(&out).ok().map(|m| m.len())
    } else {
        None
    };
    let _ = std::fs::remove_file(&out);
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_names_a_known_artifact() {
        let defs =
            crate::runtime::RuntimeDefs::load(&crate::paths::repo_root().join("runtimes")).unwrap();
        for def in defs.runtimes() {
            for (mode_name, mode) in &def.modes {
                let name = mode
                    .artifact
                    .as_deref()
                    .or(def.artifact.as_deref())
                    .unwrap_or("(none)");
                assert!(
                    ArtifactKind::find("rust", name).is_some(),
                    "runtimes/{}.toml mode {mode_name}: artifact {name:?} is not a Rust build ({:?})",
                    def.name,
                    KINDS.iter().map(|k| k.key()).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn builds_use_their_own_target_tags_and_features() {
        let t = Path::new("t");
        let wasix = ArtifactKind::find("rust", "wasix").unwrap();
        let args = wasix.build_args(t);
        assert!(args.windows(2).any(|w| w == ["--target", "wasm32-wasip1"]));
        assert!(args.windows(2).any(|w| w == ["--features", "wasix"]));
        assert!(wasix
            .path(t)
            .ends_with("wasm32-wasip1/release/server-wasix.wasm"));
        assert!(ArtifactKind::find("rust", "native")
            .unwrap()
            .path(t)
            .ends_with("release/server"));
        let go = ArtifactKind::find("go", "wasmedge").unwrap();
        assert!(go
            .build_args(t)
            .windows(2)
            .any(|w| w == ["-tags", "wasmedge"]));
        assert!(go.path(t).ends_with("go/server-wasmedge.wasm"));
        assert!(ArtifactKind::find("go", "wasip2").is_none());
        assert!(missing_reason("go", "wasip2").contains("no wasip2 target"));
        // Only the build that runs under wasmer carries the netpoll workaround, and says so.
        assert!(!go.build_args(t).contains(&"-overlay".to_string()));
        assert_eq!(go.build_note(), None);
        let go_wasix = ArtifactKind::find("go", "wasix").unwrap();
        assert!(go_wasix
            .build_args(t)
            .windows(2)
            .any(|w| w == ["-overlay", "t/go/overlay/wasix.json"]));
        assert!(go_wasix.build_note().unwrap().contains("wasmer"));
        assert_eq!(go_wasix.target_label(), "wasip1/wasm (go, patched netpoll)");
    }

    #[test]
    fn a_go_patch_applies_once_or_says_it_no_longer_fits() {
        let patch = &WASMER_ZERO_TIMEOUT;
        let original =
            "\t\tclock := timeout.u.subscriptionClock()\n\t\tclock.timeout = uint64(delay)\n";
        let patched = patch.apply(original).unwrap();
        assert_eq!(
            patched,
            "\t\tclock := timeout.u.subscriptionClock()\n\t\tclock.timeout = uint64(max(delay, 1))\n"
        );
        for changed in [
            "",
            "clock.timeout = uint64(delay)\nclock.timeout = uint64(delay)\n",
        ] {
            let err = patch.apply(changed).unwrap_err().to_string();
            assert!(
                err.contains("$GOROOT/src/runtime/netpoll_wasip1.go"),
                "{err}"
            );
            assert!(err.contains("update or drop the patch"), "{err}");
        }
    }
}
