//! Measuring a server of one's own: a server.toml and a workloads.toml, named by path in a
//! matrix. What goes wrong is said where it is: a wrong field names its file and the fix before
//! anything runs; a build that fails, a route answered wrongly and a server that never listens
//! each fail their own cells with the cause, and every other cell is still measured.

mod common;

use std::path::Path;

use common::*;

/// The project's Rust server, native, as a user's definition would describe it (its own name and
/// workloads file).
fn own_rust_server(dir: &Path, name: &str, workloads: &str) {
    let repo = repo_root();
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!(
            r#"name = "{name}"
about = "the project's Rust server under another name"
language = "rust"
source = "{server}"
workloads = "{workloads}"
args = ["--addr", "{{addr}}"]

[[build]]
kind = "native"
target = "host"
command = ["cargo", "build", "--release", "--locked", "-p", "wasm-bench-server", "--bin", "server"]
env = {{ CARGO_TARGET_DIR = "{{target_dir}}" }}
artifact = "{{target_dir}}/release/server"
"#,
            server = repo.join("server").display()
        ),
    )
    .unwrap();
}

const WORKLOADS: &str = r#"
[[workload]]
name = "plain"
path = "/plaintext"
expect = { body = "Hello, World!" }

[[workload]]
name = "wrong-body"
path = "/json"
expect = { body = "not what it answers" }
"#;

#[test]
fn each_failure_stays_in_its_own_cells_and_the_rest_is_measured() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("workloads.toml"), WORKLOADS).unwrap();
    own_rust_server(dir.path(), "mine", "workloads.toml");
    // A build that fails, and a server that starts but never listens.
    std::fs::write(
        dir.path().join("broken.toml"),
        r#"name = "broken"
about = "its build fails"
language = "rust"
workloads = "workloads.toml"
[[build]]
kind = "native"
target = "host"
command = ["sh", "-c", "echo 'error[E0425]: cannot find value `x`' >&2; exit 101"]
artifact = "nowhere"
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("deaf.sh"), "#!/bin/sh\nexec sleep 30\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path().join("deaf.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.path().join("deaf.toml"),
        r#"name = "deaf"
about = "never listens"
language = "sh"
workloads = "workloads.toml"
[[build]]
kind = "native"
target = "host"
prebuilt = "deaf.sh"
"#,
    )
    .unwrap();
    let matrix = dir.path().join("m.toml");
    std::fs::write(
        &matrix,
        r#"servers = ["mine.toml", "broken.toml", "deaf.toml"]
workloads = ["plain", "wrong-body"]
[settings]
duration = "1s"
warmup = "0s"
rewarm = "0s"
repeats = 1
ready_timeout = "3s"
diagnose = false
[[runtime]]
name = "native"
modes = ["current-thread"]
[[load]]
name = "closed-4"
model = "closed"
vus = 4
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = run_matrix_file(&matrix, &out, &[]);
    assert_eq!(output.status.code(), Some(1), "some cells failed: exit 1; {}", String::from_utf8_lossy(&output.stderr));
    let run = read_run(&out.join("latest.json"));
    let cell = |id: &str| run.cells.iter().find(|c| c.id.starts_with(id)).unwrap_or_else(|| panic!("no cell {id}"));
    let reason = |id: &str| cell(id).reason.clone().unwrap_or_default();
    // Measured.
    assert_eq!(cell("mine/native/current-thread/single/plain/").status, Status::Ok);
    assert!(cell("mine/native/current-thread/single/plain/").metrics.rps.unwrap() > 100.0);
    // The route answered wrongly: expected against got, for that route only.
    let wrong = reason("mine/native/current-thread/single/wrong-body/");
    assert_eq!(cell("mine/native/current-thread/single/wrong-body/").status, Status::Failed);
    assert!(wrong.contains("GET /json") && wrong.contains("not what it answers"), "{wrong}");
    // The failed build: its command and the last lines of its log.
    for id in ["broken/native/current-thread/single/plain/", "broken/native/current-thread/single/wrong-body/"] {
        assert_eq!(cell(id).status, Status::Failed, "{id}");
        let r = reason(id);
        assert!(r.contains("exit") && r.contains("cannot find value"), "{id}: {r}");
    }
    // The server that never listens.
    let deaf = reason("deaf/native/current-thread/single/plain/");
    assert_eq!(cell("deaf/native/current-thread/single/plain/").status, Status::Failed);
    assert!(deaf.contains("did not answer within 3s"), "{deaf}");
    // And the page lists every failure with its reason.
    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(page.contains("not what it answers") && page.contains("did not answer within 3s"));
}

#[test]
fn a_wrong_field_names_its_file_and_the_fix_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("workloads.toml"), WORKLOADS.replace("expect = { body = \"Hello, World!\" }", "expect = { bdoy = \"Hello, World!\" }")).unwrap();
    own_rust_server(dir.path(), "mine", "workloads.toml");
    let matrix = dir.path().join("m.toml");
    std::fs::write(&matrix, "servers = [\"mine.toml\"]\nworkloads = [\"plain\"]\n[[runtime]]\nname = \"native\"\nmodes = [\"current-thread\"]\n[[load]]\nname = \"c\"\nmodel = \"closed\"\nvus = 1\n").unwrap();
    let out = dir.path().join("out");
    let output = run_matrix_file(&matrix, &out, &["--list"]);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("m.toml") && err.contains("workloads.toml") && err.contains("bdoy"), "{err}");
    assert!(err.contains("did you mean `body`"), "{err}");
    assert!(!out.exists(), "nothing is written");
    // A workload no server of the matrix answers: the valid names and the nearest.
    std::fs::write(dir.path().join("workloads.toml"), WORKLOADS).unwrap();
    std::fs::write(&matrix, std::fs::read_to_string(&matrix).unwrap().replace("[\"plain\"]", "[\"plane\"]")).unwrap();
    let output = run_matrix_file(&matrix, &out, &["--list"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("unknown \"plane\" (valid: plain, wrong-body)") && err.contains("did you mean \"plain\""), "{err}");
}
