//! Every runtime x mode found on this machine answers every route the same way (`matrix check`):
//! exact bodies and headers, error statuses, and the hardening checks. Absent runtimes are listed
//! as SKIPPED with the reason.

mod common;

use common::*;

#[test]
fn every_present_target_passes_the_same_checks() {
    let output = run_matrix(&["check"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "a server failed a check:\n{stdout}"
    );
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("check: "))
        .expect("summary line");
    assert!(summary.contains(" 0 failed"), "{summary}");
    // Native has no runtime to miss: its checks must have run.
    assert!(
        stdout
            .lines()
            .any(|l| l
                .starts_with("ok      rust/native/current-thread: every workload answers as its definition says")),
        "{stdout}"
    );
    // The Go twin must pass the very same checks (`make init` installs Go).
    assert!(
        stdout
            .lines()
            .any(|l| l
                .starts_with("ok      go/native/current-thread: every workload answers as its definition says")),
        "{stdout}"
    );
    for runtime in ["wasmtime", "wasmer", "wasmedge"] {
        if runtime_present(runtime) {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with(&format!("ok      rust/{runtime}/"))),
                "{runtime} present but never checked:\n{stdout}"
            );
            if runtime != "wasmtime" {
                assert!(
                    stdout
                        .lines()
                        .any(|l| l.starts_with(&format!("ok      go/{runtime}/"))),
                    "go on {runtime} never checked:\n{stdout}"
                );
            }
        } else {
            skip(
                &format!("conformance on {runtime}"),
                "not installed (see `matrix doctor`)",
            );
        }
    }
}
