//! Servers as containers, end to end on real parts: this run's own containerd, the builds' OCI
//! images, runc for the native image and the wasmtime shim for the wasip2 component. Each cell
//! must answer, be paired with its direct counterpart on the page, and leave nothing behind - no
//! containerd, shim, container or mount - after the run and after Ctrl-C. Where containers
//! cannot run here (not root, containerd or a shim missing: `make init-containers`), the cells
//! are skipped by the runner with the reason, and these tests say so and check that reason.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

fn matrix(dir: &Path, duration: &str, repeats: u32, direct_too: bool) -> PathBuf {
    let direct = if direct_too {
        "[[runtime]]\nname = \"native\"\nmodes = [\"current-thread\"]\n[[runtime]]\nname = \"wasmtime\"\nmodes = [\"default\"]\n"
    } else {
        ""
    };
    let text = format!(
        r#"workloads = ["plaintext"]
[settings]
duration = "{duration}"
warmup = "0s"
repeats = {repeats}
{direct}[[runtime]]
name = "containerd"
modes = ["runc", "wasmtime"]
[[load]]
name = "peak-10"
model = "peak"
connections = 10
"#
    );
    let path = dir.join("containers.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Mounts under a run's containerd directory.
fn mounts_under(dir: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| Path::new(m).starts_with(dir))
        .map(String::from)
        .collect()
}

fn containerd_dir(runner_pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("wasm-bench-containerd-{runner_pid}"))
}

fn assert_nothing_left(out: &Path, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_of(out).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(processes_of(out), Vec::<String>::new(), "left running");
    assert_eq!(mounts_under(dir), Vec::<String>::new(), "left mounted");
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// The runner's skip reasons for container cells: what a machine without them shows.
fn skipped_for_a_known_reason(cells: &[&CellResult]) -> Option<String> {
    let reason = cells
        .iter()
        .find(|c| c.status == Status::Skipped)?
        .reason
        .clone()?;
    let known = [
        "containers need root",
        "containerd is missing",
        "is missing:",
        "not installed",
        "not found",
    ];
    assert!(
        known.iter().any(|k| reason.contains(k)),
        "unexpected skip reason: {reason}"
    );
    Some(reason)
}

#[test]
fn native_and_wasm_containers_serve_beside_their_direct_cells_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Spawned, so its pid names its containerd directory (published logs carry no paths).
    let mut child = spawn_matrix_file(&matrix(dir.path(), "1s", 2, true), &out);
    let runner_pid = child.id();
    assert!(child.wait().unwrap().success(), "matrix run failed");
    let run = read_run(&out.join("latest.json"));

    // Images are written for every build, container cells or not.
    for (build, platform) in [("rust/native", "linux/amd64"), ("rust/wasip2", "wasi/wasm")] {
        let image = run
            .images
            .get(build)
            .unwrap_or_else(|| panic!("no image of {build}: {:?}", run.images.keys()));
        assert_eq!(image.platform, platform);
        assert!(image.digest.starts_with("sha256:") && image.compressed_bytes > 0);
        assert!(image.uncompressed_bytes >= image.build_bytes && image.build_bytes > 0);
    }
    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        page.contains("## Images") && page.contains("rust/wasip2 | wasi/wasm"),
        "{page}"
    );

    let containers: Vec<&CellResult> = run
        .cells
        .iter()
        .filter(|c| c.runtime == "containerd")
        .collect();
    assert_eq!(containers.len(), 2);
    if let Some(reason) = skipped_for_a_known_reason(&containers) {
        skip_for_reason("container cells", "containerd", &reason);
        return;
    }
    for cell in &containers {
        assert_eq!(cell.status, Status::Ok, "{}: {:?}", cell.id, cell.reason);
        assert_eq!(cell.rounds.len(), 2);
        let version = cell.runtime_version.as_deref().unwrap_or_default();
        assert!(version.starts_with("containerd 1."), "{version}");
        assert!(cell
            .metrics
            .server_cpu_us_per_request
            .is_some_and(|c| c > 0.0));
        assert!(
            cell.metrics.rss_peak_kb.is_some_and(|kb| kb > 1000),
            "the shim's tree is measured"
        );
    }
    let direct: Vec<&str> = containers
        .iter()
        .filter_map(|c| c.direct.as_deref())
        .collect();
    assert_eq!(direct, ["native/current-thread", "wasmtime/default"]);
    for tool in ["containerd", "runc", "shim-wasmtime"] {
        assert!(
            run.tools.get(tool).is_some_and(|t| t.version.is_some()),
            "{tool}: {:?}",
            run.tools.get(tool)
        );
    }
    assert!(page.contains("## Direct vs container"), "{page}");
    for pair in [
        "native current-thread against containerd runc",
        "wasmtime default against containerd wasmtime",
    ] {
        assert!(page.contains(pair), "{pair} not in the page");
    }
    assert_nothing_left(&out, &containerd_dir(runner_pid));
}

#[test]
fn ctrl_c_during_a_container_cell_leaves_no_containerd_shim_or_container() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = spawn_matrix_file(&matrix(dir.path(), "20s", 1, false), &out);
    let containerd = containerd_dir(child.id());
    let start = Instant::now();
    // Wait for a container under load: a shim and a load generator of this run.
    loop {
        let live = processes_of(&out);
        if live.iter().any(|p| p.contains("containerd-shim"))
            && live.iter().any(|p| p.contains("wrk"))
        {
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            // The run ended without a container under load: it must have skipped them, and said why.
            let run = read_run(&out.join("latest.json"));
            let cells: Vec<&CellResult> = run.cells.iter().collect();
            let reason = skipped_for_a_known_reason(&cells)
                .expect("container cells neither ran nor were skipped");
            skip_for_reason("ctrl-c during a container cell", "containerd", &reason);
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "no container came under load: {:?}",
            processes_of(&out)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the runner did not exit after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_nothing_left(&out, &containerd);
}
