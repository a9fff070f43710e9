//! Helpers shared by the integration tests: run the real `matrix` binary on a matrix file, read
//! what it wrote through the library's own types.

#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use runner::paths::repo_root;
pub use runner::report::format::thousands;
pub use runner::results::{CellResult, Run, Status};

pub fn matrix_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_matrix"))
}

pub fn run_matrix(args: &[&str]) -> Output {
    let output = Command::new(matrix_bin())
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run matrix");
    eprintln!(
        "--- matrix {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `matrix run --matrix <matrix> --out <out> [extra...]`, waited for.
pub fn run_matrix_file(matrix: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--matrix",
        matrix.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_matrix(&args)
}

/// The same, started in the background with its output discarded (for interrupt tests).
pub fn spawn_matrix_file(matrix: &Path, out: &Path) -> std::process::Child {
    Command::new(matrix_bin())
        .args([
            "run",
            "--matrix",
            matrix.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(repo_root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start matrix run")
}

/// Is a runtime's binary available (the same lookup the runner does, via `matrix doctor`)?
pub fn runtime_present(name: &str) -> bool {
    let out = Command::new(matrix_bin())
        .arg("doctor")
        .current_dir(repo_root())
        .output()
        .expect("doctor");
    String::from_utf8_lossy(&out.stdout).lines().any(|l| {
        let mut words = l.split_whitespace();
        words.next() == Some(name) && words.next() == Some("yes")
    })
}

/// Prints a visible skip line (cargo test has no skip status; the reason must be seen).
pub fn skip(test: &str, why: &str) {
    eprintln!("SKIPPED {test}: {why}");
}

/// What `make test` installs (`.ci/run` calls it): a test that lacks one of these in CI has found a
/// broken install, not a machine without the tool.
pub const INSTALLED_BY_MAKE_TEST: &[&str] = &[
    "k6",
    "wasmtime",
    "wasmtime@46.0.1",
    "wasmer",
    "go",
    "oha",
    "wrk",
    "containerd",
    "runc",
    "shim-wasmtime",
    "chromium",
    "sshd",
    "iptables",
    "perf",
    "valgrind",
];

/// Running under CI (`CI=true`, as `.ci/run` is run).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips for want of `tool`, visibly; in CI a tool that `make test` installs must be there, so
/// its absence fails the test instead.
pub fn skip_for_missing(test: &str, tool: &str, why: &str) {
    if in_ci() && INSTALLED_BY_MAKE_TEST.contains(&tool) {
        panic!("{test}: {tool} is missing although `make test` installs it: {why}");
    }
    skip(test, why);
}

/// A runner's skip reason for cells that need parts `make test` installs: without root it is a
/// plain skip, otherwise in CI the part is missing and the test fails.
pub fn skip_for_reason(test: &str, tool: &str, reason: &str) {
    let no_root = ["need root", "root needed", "run the matrix as root"];
    if no_root.iter().any(|r| reason.contains(r)) {
        skip(test, reason);
    } else {
        skip_for_missing(test, tool, reason);
    }
}

/// Finds a runtime release the way the runner does: `TOOLS_DIR` (or `.tools/`) first, then the
/// runtime's environment override.
pub fn runtime_version_present(runtime: &str, version: &str) -> bool {
    let defs = runner::config::RuntimeDefs::load(&repo_root().join("runtimes")).unwrap();
    defs.get(runtime).is_some_and(|def| {
        def.locate_version(&runner::paths::tools_dir(), version)
            .is_ok()
    })
}

/// The JSON as written, for checks of the published field names themselves.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// A run file (`latest.json`, `run.json`) as the runner's own type.
pub fn read_run(path: &Path) -> Run {
    runner::results::read_run(path).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The flag codes of a cell.
pub fn flag_codes(cell: &CellResult) -> Vec<&'static str> {
    cell.flags.iter().map(|f| f.code()).collect()
}

/// A runtimes dir under `dir` holding the repository's definitions plus `extra` (file stem -> TOML).
pub fn runtimes_with(dir: &Path, extra: &[(&str, String)]) -> PathBuf {
    let runtimes = dir.join("runtimes");
    std::fs::create_dir_all(runtimes.join("tools")).unwrap();
    for sub in ["", "tools"] {
        for entry in std::fs::read_dir(repo_root().join("runtimes").join(sub))
            .unwrap()
            .flatten()
        {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), runtimes.join(sub).join(entry.file_name())).unwrap();
            }
        }
    }
    for (name, body) in extra {
        std::fs::write(runtimes.join(format!("{name}.toml")), body).unwrap();
    }
    runtimes
}

/// Live processes whose environment carries the marker of a run at or under `out` (see
/// `process::RUN_MARKER_VAR`): children, containerd and its shims, native containers.
pub fn processes_of(out: &Path) -> Vec<String> {
    let needle = format!("WASM_BENCH_RUN={}", out.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if String::from_utf8_lossy(&environ)
            .split('\0')
            .any(|v| v.starts_with(&needle))
            && !stat.contains(") Z ")
        {
            found.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(
                    &std::fs::read(entry.path().join("cmdline")).unwrap_or_default()
                )
                .replace('\0', " ")
            ));
        }
    }
    found
}
