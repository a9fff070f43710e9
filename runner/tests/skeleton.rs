//! End to end on a tiny matrix: real servers, real wasmtime, real k6. Asserts that the JSON and the
//! page hold real, non-zero figures, that the seed's stall is reproduced and flagged, and that a
//! custom OUT leaves the repository's results/ alone.

mod common;

use common::*;

const TINY: &str = r#"
workloads = ["plaintext"]
[settings]
duration = "2s"
warmup = "1s"
[[runtime]]
name = "native"
modes = ["current-thread"]
[[runtime]]
name = "wasmtime"
modes = ["default"]
writes = ["single", "vectored"]
[[load]]
name = "closed-50"
model = "closed"
vus = 50
"#;

fn listing(dir: &std::path::Path) -> Vec<(String, std::time::SystemTime)> {
    let mut all = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            all.push((
                e.file_name().to_string_lossy().to_string(),
                e.metadata().unwrap().modified().unwrap(),
            ));
        }
    }
    all.sort();
    all
}

#[test]
fn tiny_matrix_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("tiny.toml");
    std::fs::write(&matrix, TINY).unwrap();
    let out = dir.path().join("out");
    let repo_results_before = listing(&repo_root().join("results"));

    let output = run_matrix_file(&matrix, &out, &[]);
    assert!(output.status.success(), "matrix run failed");
    assert_eq!(
        listing(&repo_root().join("results")),
        repo_results_before,
        "a custom --out must leave results/ untouched"
    );

    // The published field names are the contract: every cell carries them, measured or not.
    for cell in read_json(&out.join("latest.json"))["cells"]
        .as_array()
        .unwrap()
    {
        for key in [
            "server", "target", "runtime", "mode", "workload", "load", "status", "reason",
            "metrics",
        ] {
            assert!(cell.get(key).is_some(), "cell lacks {key}: {cell}");
        }
    }
    no_private_paths_or_hostname(&read_json(&out.join("latest.json")));
    let run = read_run(&out.join("latest.json"));
    assert_eq!(run.cells.len(), 3);
    let wasmtime_present = runtime_present("wasmtime");
    for cell in &run.cells {
        let id = &cell.id;
        if cell.runtime == "wasmtime" && !wasmtime_present {
            assert_eq!(cell.status, Status::Skipped, "{id}");
            skip_for_missing(
                "tiny_matrix_end_to_end (wasmtime cells)",
                "wasmtime",
                "wasmtime is not installed: run `make init`",
            );
            continue;
        }
        assert_eq!(cell.status, Status::Ok, "{id}: {:?}", cell.reason);
        let m = &cell.metrics;
        for (key, value) in [
            ("rps", m.rps),
            ("p50_ms", m.p50_ms),
            ("p95_ms", m.p95_ms),
            ("p99_ms", m.p99_ms),
            ("receiving_avg_ms", m.receiving_avg_ms),
            ("rss_peak_kb", m.rss_peak_kb.map(|kb| kb as f64)),
            ("startup_ms", m.startup_ms),
            ("artifact_bytes", m.artifact_bytes.map(|b| b as f64)),
        ] {
            let value = value.unwrap_or_else(|| panic!("{id}: metrics.{key} is not measured"));
            assert!(value > 0.0, "{id}: metrics.{key} = {value}");
        }
        assert!(m.p99_ms >= m.p50_ms, "{id}: p99 below p50");
    }
    if wasmtime_present {
        let cell = |write: &str| {
            run.cells
                .iter()
                .find(|c| c.runtime == "wasmtime" && c.write == write)
                .unwrap()
        };
        let (single, vectored) = (cell("single"), cell("vectored"));
        // The origin README's phenomenon: vectored writes over a WASI socket stall ~40 ms per response.
        assert!(
            flag_codes(vectored).contains(&"stall"),
            "vectored cell not flagged: {vectored:?}"
        );
        assert!(vectored.metrics.receiving_avg_ms.unwrap() > 20.0);
        assert!(
            !flag_codes(single).contains(&"stall"),
            "single-write cell flagged as stall: {single:?}"
        );
    }

    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    let native = run.cells.iter().find(|c| c.runtime == "native").unwrap();
    let shown = thousands(native.metrics.rps.unwrap());
    assert!(
        page.contains(&shown),
        "page lacks native req/s {shown}:\n{page}"
    );
    assert!(page.contains("| native"), "{page}");
    assert!(page.contains("| wasmtime"), "{page}");
    // The history keeps the run's summary, which names no machine and no path either.
    let summary = out.join("runs").join(format!("{}.json", run.run_id));
    no_private(&read_json(&summary));
    assert!(read_json(&summary)["cells"][0]["measured"]["windows"].as_array().is_none_or(|w| w.is_empty()));
}

/// Published results name no hostname and no absolute path but the system's programs: paths are
/// relative to the repository, `$TOOLS_DIR/...` or `$OUT/...` (the output dir is a temp dir here).
fn no_private_paths_or_hostname(json: &serde_json::Value) {
    no_private(json);
    let mut strings = Vec::new();
    collect_strings(json, &mut strings);
    assert!(strings
        .iter()
        .any(|s| s.starts_with("$TOOLS_DIR/") || s.contains("$OUT/")));
}

fn no_private(json: &serde_json::Value) {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        json["environment"]["hostname"], "",
        "the hostname is published"
    );
    let root = repo_root().display().to_string();
    let mut strings = Vec::new();
    collect_strings(json, &mut strings);
    let re = regex::Regex::new(r#"(^|[\s(="'`:,\[])(/[^/\s"'`),\]][^\s"'`),\]]*)"#).unwrap();
    for s in &strings {
        assert!(
            !s.contains(&root),
            "a path in the repository is absolute: {s}"
        );
        assert!(
            !s.contains(hostname.trim()) || hostname.trim().len() < 4,
            "hostname in {s}"
        );
        for caps in re.captures_iter(s) {
            let path = &caps[2];
            assert!(
                ["/usr/", "/bin/", "/sbin/", "/lib", "/etc/", "/proc/", "/dev/"]
                    .iter()
                    .any(|p| path.starts_with(p)),
                "absolute path {path} published in {s:?}"
            );
        }
    }
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

#[test]
fn bad_matrix_fails_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("bad.toml");
    std::fs::write(&matrix, TINY.replace("\"default\"", "\"defualt\"")).unwrap();
    let out = dir.path().join("out");
    let output = run_matrix_file(&matrix, &out, &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("did you mean \"default\""),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing may be written for a bad matrix");
}
