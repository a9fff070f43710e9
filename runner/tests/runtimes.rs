//! Runtime definitions at work: install methods tried in order (with a local "official installer"),
//! doctor reporting, and AOT/prepare steps cached by artifact hash.

mod common;

use common::*;

/// A definition installed by a local installer script that writes a binary reporting the version
/// it was asked for; the first method always fails.
fn fake_installed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let installer = dir.join("install.sh");
    std::fs::write(&installer, "mkdir -p \"$1/bin\"\nprintf '#!/bin/sh\\necho fakeinst %s\\n' \"$2\" > \"$1/bin/fakeinst\"\nchmod +x \"$1/bin/fakeinst\"\n").unwrap();
    let def = format!(
        r#"name = "fakeinst"
about = "a runtime installed by a local installer script"
binary = "fakeinst"
env = "FAKEINST_BIN_FOR_TEST"
version_args = ["--version"]
version_pattern = 'fakeinst (\S+)'
install_hint = "test only"
artifact = "native"
pinned = "2.0.0"

[[install]]
method = "official-installer"
url = "file:///nonexistent/{{version}}/install.sh"
args = []
binary_path = "never"
versions = ["2.0.0"]

[[install]]
method = "official-installer"
url = "file://{}"
args = ["{{dir}}", "{{version}}"]
binary_path = "bin/fakeinst"
versions = ["1.2.3", "2.0.0"]

[modes.default]
about = "x"
launch = ["{{bin}}", "{{artifact}}"]

[modes.old-only]
about = "a mode releases from 2 on dropped"
versions = "<2"
versions_why = "removed in 2.0"
launch = ["{{bin}}", "{{artifact}}"]
"#,
        installer.display()
    );
    let runtimes = runtimes_with(dir, &[("fakeinst", def)]);
    (runtimes, dir.join("tools"))
}

#[test]
fn install_tries_methods_in_order_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (runtimes, tools) = fake_installed(dir.path());
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
        .find("trying official installer file:///nonexistent/2.0.0/install.sh")
        .expect("first method tried, with the version filled in");
    let second = stderr
        .find("trying official installer file://")
        .map(|_| stderr.rfind("trying official installer file://").unwrap());
    assert!(
        second.is_some_and(|s| first < s) && stderr.contains("failed"),
        "{stderr}"
    );
    // The pinned version lives in its own directory and is linked from bin/.
    assert!(tools.join("fakeinst/2.0.0/bin/fakeinst").exists());
    assert!(tools.join("bin/fakeinst").exists());

    let doctor = run_matrix(&[&["doctor"][..], &common].concat());
    let line = String::from_utf8_lossy(&doctor.stdout)
        .lines()
        .find(|l| l.starts_with("fakeinst"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("yes") && line.contains("2.0.0") && line.contains("tools dir"),
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
fn versions_install_side_by_side_and_doctor_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let (runtimes, tools) = fake_installed(dir.path());
    let common = [
        "--runtimes",
        runtimes.to_str().unwrap(),
        "--tools-dir",
        tools.to_str().unwrap(),
    ];
    let output = run_matrix(&[&["install", "fakeinst@1.2.3", "fakeinst"][..], &common].concat());
    assert!(output.status.success());
    for version in ["1.2.3", "2.0.0"] {
        let bin = tools.join(format!("fakeinst/{version}/bin/fakeinst"));
        let out = std::process::Command::new(&bin).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("fakeinst {version}")
        );
    }
    // bin/ holds the pinned release, not the last one installed.
    let linked = std::process::Command::new(tools.join("bin/fakeinst"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&linked.stdout).trim(),
        "fakeinst 2.0.0"
    );

    let doctor = String::from_utf8_lossy(&run_matrix(&[&["doctor"][..], &common].concat()).stdout)
        .to_string();
    let listed = doctor
        .lines()
        .find(|l| l.contains("1.2.3") && l.contains("fakeinst/1.2.3/bin/fakeinst"))
        .unwrap_or_else(|| panic!("{doctor}"));
    assert!(
        listed.contains("reports 1.2.3") && listed.contains("old-only"),
        "{listed}"
    );
    assert!(doctor.contains("old-only (unavailable: fakeinst 2.0.0 lacks mode old-only: it needs fakeinst <2 (removed in 2.0)"), "{doctor}");

    // A release no method offers is refused with the fix, and nothing is written for it.
    let refused = run_matrix(&[&["install", "fakeinst@3.0.0"][..], &common].concat());
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("no [[install]] for fakeinst 3.0.0")
            && err.contains("FAKEINST_BIN_FOR_TEST_3_0_0"),
        "{err}"
    );
    assert!(!tools.join("fakeinst/3.0.0").exists());
    let bad = run_matrix(&[&["install", "fakeinst@1.2"][..], &common].concat());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a release number"));
}

#[test]
fn a_mode_a_version_lacks_is_skipped_with_the_reason_and_the_version_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let (runtimes, tools) = fake_installed(dir.path());
    let common = [
        "--runtimes",
        runtimes.to_str().unwrap(),
        "--tools-dir",
        tools.to_str().unwrap(),
    ];
    assert!(
        run_matrix(&[&["install", "fakeinst@1.2.3", "fakeinst"][..], &common].concat())
            .status
            .success()
    );
    let matrix = dir.path().join("m.toml");
    std::fs::write(
        &matrix,
        "workloads = [\"plaintext\"]\n[settings]\nduration = \"1s\"\n[[runtime]]\nname = \"fakeinst\"\nmodes = [\"old-only\"]\n[[runtime]]\nname = \"fakeinst\"\nmodes = [\"old-only\"]\nversions = [\"1.2.3\", \"9.9.9\"]\n[[load]]\nname = \"c1\"\nmodel = \"closed\"\nvus = 1\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = run_matrix_file(&matrix, &out, &common);
    let run = read_run(&out.join("latest.json"));
    let cell = |id: &str| {
        run.cells
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id}: {output:?}"))
    };
    let pinned = cell("rust/fakeinst/old-only/single/plaintext/c1");
    assert_eq!(pinned.status, Status::Skipped);
    let reason = pinned.reason.as_deref().unwrap();
    assert!(
        reason.contains("fakeinst 2.0.0 lacks mode old-only")
            && reason.contains("needs fakeinst <2 (removed in 2.0)")
            && reason.contains("versions = [\"1.2.3\"]"),
        "{reason}"
    );
    // The listed release has the mode: it gets past the version check (what stops the fake
    // binary later, a missing generator in this tools dir or a server that does not serve, is
    // not about versions).
    let old = cell("rust/fakeinst@1.2.3/old-only/single/plaintext/c1");
    assert_eq!(old.version.as_deref(), Some("1.2.3"));
    assert_eq!(old.runtime_version.as_deref(), Some("1.2.3"));
    assert!(
        !old.reason
            .as_deref()
            .unwrap_or_default()
            .contains("lacks mode"),
        "{:?}",
        old.reason
    );
    // A release that is not installed is skipped with the command that installs it, or the fix.
    let missing = cell("rust/fakeinst@9.9.9/old-only/single/plaintext/c1");
    assert_eq!(missing.status, Status::Skipped);
    let why = missing.reason.as_deref().unwrap();
    assert!(
        why.contains("fakeinst 9.9.9 is not installed")
            && why.contains("FAKEINST_BIN_FOR_TEST_9_9_9"),
        "{why}"
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
