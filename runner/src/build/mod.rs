//! Server builds: which exist (`kinds`), how each is compiled (`compile`, with the Go workaround
//! in `go_patch`), what they weigh (`sizes`), and their OCI images (`image`). Each distinct build is made once per run.

mod compile;
pub mod go_patch;
pub mod image;
pub mod kinds;
pub mod sizes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use kinds::{missing_reason, ArtifactKind, KINDS, SERVERS};

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

/// Builds each distinct flavour once (cargo and go skip unchanged work). `go` is the Go toolchain,
/// needed by Go builds only.
pub fn build_all(
    kinds: &[&'static ArtifactKind],
    go: Option<&Path>,
    root: &Path,
    target_dir: &Path,
    logs: &Path,
) -> Builds {
    let mut builds = Builds::default();
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
        let started = std::time::Instant::now();
        let built = kind
            .build(root, target_dir, go, &log)
            .map_err(|e| format!("{e:#}"));
        eprintln!(
            "  {key}: {} in {:.0} s",
            if built.is_ok() { "built" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
        if let (Ok(path), true) = (&built, kind.is_native()) {
            if let Some(size) = sizes::stripped_size(path, logs) {
                builds.stripped.insert(key.clone(), size);
            }
        }
        if let Ok(path) = &built {
            let image = image::build_image(&kind.image_spec(path), &target_dir.join("images"))
                .map_err(|e| format!("writing the {key} image failed: {e:#}"));
            builds.images.insert(key.clone(), image);
        }
        builds.results.insert(key, built);
    }
    builds
}
