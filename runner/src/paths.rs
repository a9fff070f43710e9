//! Where things are: the repository (runtimes/, scripts/, templates/) and the tools dir.

use std::path::PathBuf;

/// The repository root: `MATRIX_ROOT`, or the directory this runner was built from.
pub fn repo_root() -> PathBuf {
    std::env::var_os("MATRIX_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("runner/ has a parent")
                .to_path_buf()
        })
}

/// Project-local tools (k6, wasmtime, wasmer...): `TOOLS_DIR`, or `<repo>/.tools`.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools"))
}

/// Where the built-in server definitions are (`server/**/server.toml`).
pub fn servers_dir() -> PathBuf {
    repo_root().join("server")
}

/// Cargo's target dir for the server builds.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}
