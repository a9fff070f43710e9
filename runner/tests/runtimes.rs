//! Runtime definitions at work: install methods tried in order (with a local "official installer"),
//! doctor reporting, and AOT/prepare steps cached by artifact hash.

mod common;

use common::*;

#[test]
fn install_tries_methods_in_order_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let installer = dir.path().join("install.sh");
    std::fs::write(&installer, "mkdir -p \"$1/bin\"\nprintf '#!/bin/sh\\necho fakeinst 1.2.3\\n' > \"$1/bin/fakeinst\"\nchmod +x \"$1/bin/fakeinst\"\n").unwrap();
    let def = format!(
        r#"name = "fakeinst"
about = "a runtime installed by a local installer script"
binary = "fakeinst"
env = "FAKEINST_BIN_FOR_TEST"
version_args = ["--version"]
version_pattern = 'fakeinst (\S+)'
install_hint = "test only"

[[install]]
method = "official-installer"
url = "file:///nonexistent/install.sh"
args = []
binary_path = "never"

[[install]]
method = "official-installer"
url = "file://{}"
args = ["{{dir}}"]
binary_path = "bin/fakeinst"

[modes.default]
about = "x"
launch = ["{{bin}}", "{{artifact}}"]
"#,
        installer.display()
    );
    let runtimes = runtimes_with(dir.path(), &[("fakeinst", def)]);
    let tools = dir.path().join("tools");
    let common = [
        "--runtimes",
        runtimes.to_str().unwrap(),
        "--tools-dir",
        tools.to_str().unwrap(),
    ];

    let output = run_matrix(&[&["install", "fakeinst"][..], &common].concat());
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr
        .find("trying official installer file:///nonexistent")
        .expect("first method tried");
    let second = stderr
        .find(&format!(
            "trying official installer file://{}",
            installer.display()
        ))
        .expect("second method tried");
    assert!(first < second && stderr.contains("failed"), "{stderr}");
    assert!(tools.join("bin/fakeinst").exists());

    let doctor = run_matrix(&[&["doctor"][..], &common].concat());
    let line = String::from_utf8_lossy(&doctor.stdout)
        .lines()
        .find(|l| l.starts_with("fakeinst"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("yes") && line.contains("1.2.3") && line.contains("tools dir"),
        "{line}"
    );

    let again = run_matrix(&[&["install", "fakeinst"][..], &common].concat());
    assert!(again.status.success());
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("trying"),
        "a present runtime must not be reinstalled"
    );
}

#[test]
fn an_env_override_that_points_nowhere_is_reported_not_ignored() {
    let output = std::process::Command::new(matrix_bin())
        .arg("doctor")
        .env("WASMTIME", "/nonexistent/wasmtime")
        .current_dir(repo_root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|l| l.starts_with("wasmtime")).unwrap();
    assert!(
        line.contains("NO")
            && line.contains("WASMTIME=/nonexistent/wasmtime is not an executable file"),
        "{line}"
    );
}

#[test]
fn prepare_steps_run_once_per_artifact_and_are_cached() {
    let dir = tempfile::tempdir().unwrap();
    let def = r#"name = "aotfake"
about = "copies the native server as its 'compiled' artifact"
artifact = "native"
install_hint = "test only"

[modes.precompiled]
about = "prepare = copy"
prepare = ["cp", "{artifact}", "{prepared}"]
launch = ["{prepared}", "--addr", "{addr}"]
"#;
    let runtimes = runtimes_with(dir.path(), &[("aotfake", def.to_string())]);
    for entry in std::fs::read_dir(repo_root().join("target/matrix-prepared"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("aotfake-") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let matrix = dir.path().join("m.toml");
    std::fs::write(
        &matrix,
        "workloads = [\"plaintext\", \"json\"]\n[settings]\nduration = \"1s\"\nwarmup = \"0s\"\nrepeats = 2\n[[runtime]]\nname = \"aotfake\"\nmodes = [\"precompiled\"]\n[[load]]\nname = \"c5\"\nmodel = \"closed\"\nvus = 5\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = run_matrix_file(&matrix, &out, &["--runtimes", runtimes.to_str().unwrap()]);
    assert!(output.status.success());
    let run = read_run(&out.join("latest.json"));
    // One launch per round serves both cells: the first compiles, the second reuses the file.
    let prepare: Vec<f64> = run.launches.iter().map(|l| l.prepare_ms.unwrap()).collect();
    assert_eq!(prepare.len(), 2, "{:?}", run.launches);
    assert!(prepare[0] > 0.0, "the first launch compiles: {prepare:?}");
    assert_eq!(
        prepare[1], 0.0,
        "the second launch reuses the cached artifact: {prepare:?}"
    );
    // A cell reports what its first launch paid.
    assert!(run
        .cells
        .iter()
        .all(|c| c.metrics.prepare_ms.unwrap() > 0.0));
    assert!(run
        .cells
        .iter()
        .all(|c| c.metrics.prepared_bytes.unwrap() > 0));
}
