//! The machine and toolchain a run measured on, recorded with every run.

use std::process::Command;

use super::schema::Environment;

/// The machine and toolchain; the hostname only when `record_host`.
pub fn capture(root: &std::path::Path, record_host: bool) -> Environment {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = crate::sys::procfs::cpu_model_of(&cpuinfo);
    Environment {
        machine: machine_pseudonym(),
        cpu_model,
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        rustc: output(root, "rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
        git_commit: git_commit(root),
        hostname: if record_host {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        } else {
            String::new()
        },
    }
}

/// The first 12 hex digits of sha256("wasm-bench:" + /etc/machine-id): the same on every run of
/// this machine, and no way back to the id.
fn machine_pseudonym() -> String {
    use sha2::{Digest, Sha256};
    let id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    if id.trim().is_empty() {
        return String::new();
    }
    let digest = Sha256::digest(format!("wasm-bench:{}", id.trim()).as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn git_commit(root: &std::path::Path) -> String {
    let Some(commit) = output(root, "git", &["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".into();
    };
    let dirty = output(
        root,
        "git",
        &["status", "--porcelain", "--untracked-files=no"],
    )
    .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    }
}

fn output(dir: &std::path::Path, program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
