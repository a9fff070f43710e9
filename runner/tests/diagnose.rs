//! The diagnosis pass on real servers: counts that repeat (two passes of the same server give
//! the same instructions per request, and the same system calls per request that do not depend
//! on timing, within 1%), a known difference found in
//! the counts (the `compute` chain with 10% more rounds reads at least 8% more instructions), and
//! the page's "Where the time goes" from a run with the pass.

mod common;

use common::*;

fn matrix(dir: &std::path::Path, workload: &str, runtimes: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{workload}.toml"));
    std::fs::write(
        &path,
        format!(
            "workloads = [\"{workload}\"]\n[settings]\nduration = \"1s\"\nwarmup = \"0s\"\nrepeats = 1\n\
             keep_cpus_awake = false\ndiagnose = true\n{runtimes}\n[[load]]\nname = \"peak-10\"\nmodel = \"peak\"\nconnections = 10\n"
        ),
    )
    .unwrap();
    path
}

const NATIVE: &str = "[[runtime]]\nname = \"native\"\nmodes = [\"current-thread\"]\n";
const WASMTIME: &str = "[[runtime]]\nname = \"wasmtime\"\nmodes = [\"default\"]\n";

/// `matrix diagnose --fresh` of `matrix` into `out`: the diagnoses it wrote.
fn diagnose(
    matrix: &std::path::Path,
    out: &std::path::Path,
) -> Vec<runner::results::diagnosis::Diagnosis> {
    let output = run_matrix(&[
        "diagnose",
        "--fresh",
        "--matrix",
        matrix.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "matrix diagnose failed");
    serde_json::from_str(&std::fs::read_to_string(out.join("diagnoses.json")).unwrap()).unwrap()
}

fn tools_present(test: &str) -> bool {
    for tool in ["perf", "valgrind"] {
        if runner::sys::process::find_on_path(tool).is_none() {
            skip_for_missing(
                test,
                tool,
                &format!("{tool} is not installed (`make init`)"),
            );
            return false;
        }
    }
    true
}

#[test]
fn counts_per_request_repeat_within_one_percent() {
    if !tools_present("counts_per_request_repeat") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runtimes = if runtime_present("wasmtime") {
        format!("{NATIVE}{WASMTIME}")
    } else {
        skip_for_missing(
            "counts_per_request_repeat (wasmtime)",
            "wasmtime",
            "wasmtime is not installed",
        );
        NATIVE.to_string()
    };
    let m = matrix(dir.path(), "plaintext", &runtimes);
    let first = diagnose(&m, &dir.path().join("a"));
    let second = diagnose(&m, &dir.path().join("b"));
    assert_eq!(first.len(), second.len());
    use runner::analysis::diagnosis::{instructions, syscalls};
    for (a, b) in first.iter().zip(&second) {
        let (ia, ib) = (
            a.instructions
                .measured()
                .and_then(instructions)
                .unwrap_or_else(|| panic!("{}: {:?}", a.key, a.instructions)),
            b.instructions.measured().and_then(instructions).unwrap(),
        );
        let (sa, sb) = (
            a.syscalls
                .measured()
                .and_then(syscalls)
                .unwrap_or_else(|| panic!("{}: {:?}", a.key, a.syscalls)),
            b.syscalls.measured().and_then(syscalls).unwrap(),
        );
        eprintln!(
            "{}: instructions {ia:.0} / {ib:.0}, syscalls {:.3} / {:.3} (every call {:?} / {:?})",
            a.key,
            sa.repeatable(),
            sb.repeatable(),
            sa.all_calls(),
            sb.all_calls()
        );
        // The three paced passes ran, so the figure compared is the whole calls of a request
        // served on its own.
        assert!(
            sa.alone && sb.alone && sa.steady.is_some() && sb.steady.is_some(),
            "{}: no paced passes: {:?}",
            a.key,
            a.syscalls
        );
        assert!(
            (ia / ib - 1.0).abs() < 0.01,
            "{}: instructions per request {ia} then {ib}",
            a.key
        );
        assert!(
            (sa.repeatable() / sb.repeatable() - 1.0).abs() < 0.01,
            "{}: system calls per request {sa:?} then {sb:?}",
            a.key
        );
        assert!(
            a.profile.measured().is_some_and(|p| !p.samples.is_empty()),
            "{}: {:?}",
            a.key,
            a.profile.reason()
        );
        let flame = a
            .profile
            .measured()
            .and_then(|p| p.flamegraph.clone())
            .unwrap();
        assert!(std::fs::read_to_string(dir.path().join("a").join(flame))
            .unwrap()
            .contains("<svg"));
    }
}

#[test]
fn ten_percent_more_rounds_read_at_least_eight_percent_more_instructions() {
    if !tools_present("compute_slow_instructions") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let count = |workload: &str| {
        let d = diagnose(
            &matrix(dir.path(), workload, NATIVE),
            &dir.path().join(workload),
        );
        d[0].instructions
            .measured()
            .and_then(runner::analysis::diagnosis::instructions)
            .unwrap_or_else(|| panic!("{workload}: {:?}", d[0].instructions))
    };
    let (fast, slow) = (count("compute"), count("compute-slow"));
    eprintln!(
        "compute {fast:.0}, compute-slow {slow:.0} instructions per request: x{:.3}",
        slow / fast
    );
    assert!(
        slow / fast >= 1.08,
        "compute-slow read {:.1}% more instructions than compute",
        (slow / fast - 1.0) * 100.0
    );
}

#[test]
fn a_run_with_the_diagnosis_shows_where_the_time_goes() {
    if !tools_present("where_the_time_goes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = matrix(dir.path(), "plaintext", NATIVE);
    let out = dir.path().join("out");
    let output = run_matrix_file(&m, &out, &[]);
    assert!(output.status.success());
    let run = read_run(&out.join("latest.json"));
    assert_eq!(run.diagnoses.len(), 1);
    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(page.contains("## Where the time goes"), "{page}");
    assert!(
        page.contains("| rust · native current-thread (peak-10) |"),
        "{page}"
    );
    assert!(out.join("charts/where-time-rust.svg").is_file());
    // The paced passes ran and the page says what they separate.
    assert!(page.contains("ms apart"), "{page}");
    assert!(page.contains("in whole calls"), "{page}");
    assert!(page.contains("every call (back to back →"), "{page}");
    // The exports carry the same counts.
    let csv = run_matrix(&["export", "--format", "csv", "--out", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(
        text.contains("instructions_per_request")
            && text.contains("syscalls_per_request")
            && text.contains("syscalls_all_per_request_paced"),
        "{text}"
    );
}
