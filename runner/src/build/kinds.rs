//! The server builds: one source per language (`server/` for Rust, `server/go/` for Go), one build
//! per listener bootstrap. A runtime definition names the build it runs with `artifact = "..."`;
//! each server language provides the builds it can.

use std::path::{Path, PathBuf};

use super::go_patch::{GoPatch, WASMER_ZERO_TIMEOUT};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtifactKind {
    /// Server language: "rust" or "go".
    pub server: &'static str,
    /// Build name runtime definitions refer to: native, wasip2, wasip1, wasmedge, wasix, wasi-http.
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
        name: "wasip1",
        builder: Builder::Cargo {
            target: Some("wasm32-wasip1"),
            bin: "server-preopened",
            features: &[],
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
        name: "wasip1",
        builder: Builder::Go {
            wasm: true,
            tags: "",
            output: "server-wasip1.wasm",
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
        ("go", "wasip2") => "Go has no wasip2 target: under wasmtime it runs as wasip1 on a listener the host opened \
                             (mode preopened, wasmtime before 47, which dropped -S tcplisten)"
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
            Builder::Cargo { target, .. } => target.unwrap_or("host (static)"),
            Builder::Go {
                wasm: true,
                patch: Some(_),
                ..
            } => "wasip1/wasm (go, patched netpoll)",
            Builder::Go { wasm: true, .. } => "wasip1/wasm (go)",
            Builder::Go { wasm: false, .. } => "host (go, static)",
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
            } => target_dir
                .join(super::compile::host_triple())
                .join("release")
                .join(bin),
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

    /// Its OCI image: the build alone, FROM scratch, as /server (native) or /server.wasm.
    pub fn image_spec<'a>(&self, path: &'a Path) -> super::image::ImageSpec<'a> {
        let (path_in_image, platform) = if self.is_native() {
            ("server", super::image::Platform::Native)
        } else {
            ("server.wasm", super::image::Platform::Wasm)
        };
        super::image::ImageSpec {
            name: self.key().replace('/', "-"),
            file: path,
            path_in_image,
            platform,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_names_a_known_artifact() {
        let defs =
            crate::config::RuntimeDefs::load(&crate::paths::repo_root().join("runtimes")).unwrap();
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
    fn go_builds_do_not_stamp_the_commit() {
        // Otherwise each commit changes the module's bytes: new image digests and a WasmEdge AOT
        // recompile of Go's module (minutes) on the first run after every commit.
        for kind in KINDS.iter().filter(|k| k.server == "go") {
            let args = kind.build_args(Path::new("t"));
            assert!(
                args.contains(&"-buildvcs=false".to_string()),
                "{}: {args:?}",
                kind.key()
            );
            assert!(args.contains(&"-trimpath".to_string()), "{}", kind.key());
        }
    }
}
