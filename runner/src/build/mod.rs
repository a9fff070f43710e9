//! Server builds, as each server's definition (`server.toml`) describes them: made once per run
//! (`compile`, with the Go workaround overlay), what they weigh (`sizes`), and their OCI images
//! (`image`).

mod compile;
pub mod image;
pub mod sizes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use compile::host_triple;

use crate::config::{BuildDef, ServerDef};

/// One build of one server.
#[derive(Debug, Clone, Copy)]
pub struct Build<'a> {
    pub server: &'a ServerDef,
    pub def: &'a BuildDef,
}

impl<'a> Build<'a> {
    /// The build of `kind` of `server`, or why it has none.
    pub fn of(server: &'a ServerDef, kind: &str) -> Result<Build<'a>, String> {
        server
            .build(kind)
            .map(|def| Build { server, def })
            .ok_or_else(|| server.missing_reason(kind))
    }

    /// Unique key for build bookkeeping, e.g. `go/wasix`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.server.name, self.def.kind)
    }

    /// The target label recorded per cell.
    pub fn target_label(&self) -> &'a str {
        &self.def.target
    }

    /// What the build changed beyond the shared source, if anything (shown with its cells).
    pub fn build_note(&self) -> Option<&'a str> {
        self.def.note.as_deref()
    }

    pub fn is_native(&self) -> bool {
        self.def.is_native()
    }

    /// Where the artifact is (or will be once built).
    pub fn path(&self, target_dir: &Path) -> anyhow::Result<PathBuf> {
        match (&self.def.prebuilt, &self.def.artifact) {
            (Some(prebuilt), _) => Ok(self.server.relative(prebuilt)),
            (None, Some(artifact)) => {
                let vars = compile::build_vars(self, target_dir, None);
                let path = PathBuf::from(vars.expand(artifact).map_err(|e| {
                    anyhow::anyhow!(
                        "{}: [[build]] {}: artifact: {e}",
                        self.server.file.display(),
                        self.def.kind
                    )
                })?);
                Ok(if path.is_absolute() {
                    path
                } else {
                    self.server.source_dir().join(path)
                })
            }
            (None, None) => anyhow::bail!(
                "{}: [[build]] {} names no artifact",
                self.server.file.display(),
                self.def.kind
            ),
        }
    }

    /// Its OCI image: the build alone, FROM scratch, as /server (native) or /server.wasm.
    pub fn image_spec<'p>(&self, path: &'p Path) -> image::ImageSpec<'p> {
        let (path_in_image, platform) = if self.is_native() {
            ("server", image::Platform::Native)
        } else {
            ("server.wasm", image::Platform::Wasm)
        };
        image::ImageSpec {
            name: self.key().replace('/', "-"),
            file: path,
            path_in_image,
            platform,
        }
    }
}

/// What a run built.
#[derive(Debug, Default)]
pub struct Builds {
    /// Artifact path, or why it could not be built (cells that need it fail with that reason).
    pub results: BTreeMap<String, Result<PathBuf, String>>,
    /// Stripped size of native builds.
    pub stripped: BTreeMap<String, u64>,
    /// The OCI image of each build, or why it could not be written.
    pub images: BTreeMap<String, Result<image::Image, String>>,
}

/// Builds each distinct build once (cargo and go skip unchanged work). `go` is the Go toolchain,
/// for builds whose command names it.
pub fn build_all(builds: &[Build], go: Option<&Path>, target_dir: &Path, logs: &Path) -> Builds {
    let mut done = Builds::default();
    for build in builds {
        let key = build.key();
        if done.results.contains_key(&key) {
            continue;
        }
        let described = build
            .command(target_dir, go)
            .map(|argv| argv.join(" "))
            .unwrap_or_else(|_| "prebuilt".into());
        eprintln!("building the {key} server ({described})");
        let log = logs.join(format!("build-{}.log", key.replace('/', "-")));
        let started = std::time::Instant::now();
        let built = build
            .build(target_dir, go, &log)
            .map_err(|e| format!("{e:#}"));
        eprintln!(
            "  {key}: {} in {:.0} s",
            if built.is_ok() { "built" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
        if let (Ok(path), true) = (&built, build.is_native()) {
            if let Some(size) = sizes::stripped_size(path, logs) {
                done.stripped.insert(key.clone(), size);
            }
        }
        if let Ok(path) = &built {
            let image = image::build_image(&build.image_spec(path), &target_dir.join("images"))
                .map_err(|e| format!("writing the {key} image failed: {e:#}"));
            done.images.insert(key.clone(), image);
        }
        done.results.insert(key, built);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerDefs;

    fn defs() -> ServerDefs {
        ServerDefs::builtin(&crate::paths::repo_root().join("server")).unwrap()
    }

    #[test]
    fn builds_use_their_own_target_tags_and_features() {
        let defs = defs();
        let t = Path::new("/t");
        let rust = defs.get("rust").unwrap();
        let wasix = Build::of(rust, "wasix").unwrap();
        let args = wasix.command(t, None).unwrap();
        assert!(args.windows(2).any(|w| w == ["--target", "wasm32-wasip1"]));
        assert!(args.windows(2).any(|w| w == ["--features", "wasix"]));
        assert!(wasix
            .path(t)
            .unwrap()
            .ends_with("wasm32-wasip1/release/server-wasix.wasm"));
        let native = Build::of(rust, "native").unwrap();
        assert!(native.path(t).unwrap().ends_with("release/server"));
        assert!(native.is_native() && !wasix.is_native());
        let go = defs.get("go").unwrap();
        let go_bin = Path::new("/usr/bin/go");
        let wasmedge = Build::of(go, "wasmedge").unwrap();
        assert!(wasmedge
            .command(t, Some(go_bin))
            .unwrap()
            .windows(2)
            .any(|w| w == ["-tags", "wasmedge"]));
        assert!(wasmedge
            .path(t)
            .unwrap()
            .ends_with("go/server-wasmedge.wasm"));
        assert!(Build::of(go, "wasip2")
            .unwrap_err()
            .contains("no wasip2 target"));
        // Without Go, a Go build says what to install.
        let err = wasmedge.command(t, None).unwrap_err().to_string();
        assert!(err.contains("Go toolchain is not installed"), "{err}");
        // Only the build that runs under wasmer carries the netpoll workaround, and says so.
        assert!(!wasmedge
            .command(t, Some(go_bin))
            .unwrap()
            .contains(&"-overlay".to_string()));
        assert_eq!(wasmedge.build_note(), None);
        let go_wasix = Build::of(go, "wasix").unwrap();
        assert!(go_wasix
            .command(t, Some(go_bin))
            .unwrap()
            .windows(2)
            .any(|w| w == ["-overlay", "/t/go/overlay/go-wasix.json"]));
        assert!(go_wasix.build_note().unwrap().contains("wasmer"));
        assert_eq!(go_wasix.target_label(), "wasip1/wasm (go, patched netpoll)");
    }

    #[test]
    fn go_builds_do_not_stamp_the_commit() {
        // Otherwise each commit changes the module's bytes: new image digests and a WasmEdge AOT
        // recompile of Go's module (minutes) on the first run after every commit.
        let defs = defs();
        let go = defs.get("go").unwrap();
        for def in &go.builds {
            let build = Build { server: go, def };
            let args = build
                .command(Path::new("t"), Some(Path::new("go")))
                .unwrap();
            assert!(
                args.contains(&"-buildvcs=false".to_string()),
                "{}: {args:?}",
                build.key()
            );
            assert!(args.contains(&"-trimpath".to_string()), "{}", build.key());
        }
    }

    #[test]
    fn every_runtime_names_a_build_the_rust_server_has() {
        let defs = defs();
        let rust = defs.get("rust").unwrap();
        let runtimes =
            crate::config::RuntimeDefs::load(&crate::paths::repo_root().join("runtimes")).unwrap();
        for def in runtimes.runtimes() {
            for (mode_name, mode) in &def.modes {
                let name = mode
                    .artifact
                    .as_deref()
                    .or(def.artifact.as_deref())
                    .unwrap_or("(none)");
                assert!(
                    rust.build(name).is_some(),
                    "runtimes/{}.toml mode {mode_name}: artifact {name:?} is not a Rust build",
                    def.name
                );
            }
        }
    }
}
