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

    let run = read_json(&out.join("latest.json"));
    let cells = run["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3);
    let wasmtime_present = runtime_present("wasmtime");
    for cell in cells {
        for key in [
            "server", "target", "runtime", "mode", "workload", "load", "status", "reason",
            "metrics",
        ] {
            assert!(cell.get(key).is_some(), "cell lacks {key}: {cell}");
        }
        let id = cell["id"].as_str().unwrap();
        if cell["runtime"] == "wasmtime" && !wasmtime_present {
            assert_eq!(cell["status"], "skipped", "{id}");
            skip(
                "tiny_matrix_end_to_end (wasmtime cells)",
                "wasmtime is not installed: run `make init`",
            );
            continue;
        }
        assert_eq!(cell["status"], "ok", "{id}: {}", cell["reason"]);
        let m = &cell["metrics"];
        for key in [
            "rps",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "receiving_avg_ms",
            "rss_peak_kb",
            "startup_ms",
            "artifact_bytes",
        ] {
            let value = m[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{id}: metrics.{key} is {}", m[key]));
            assert!(value > 0.0, "{id}: metrics.{key} = {value}");
        }
        assert!(
            m["p99_ms"].as_f64() >= m["p50_ms"].as_f64(),
            "{id}: p99 below p50"
        );
    }
    if wasmtime_present {
        let cell = |write: &str| {
            cells
                .iter()
                .find(|c| c["runtime"] == "wasmtime" && c["write"] == write)
                .unwrap()
        };
        let (single, vectored) = (cell("single"), cell("vectored"));
        let flags = |c: &serde_json::Value| {
            c["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["kind"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        // The origin README's phenomenon: vectored writes over a WASI socket stall ~40 ms per response.
        assert!(
            flags(vectored).contains(&"stall".to_string()),
            "vectored cell not flagged: {vectored}"
        );
        assert!(vectored["metrics"]["receiving_avg_ms"].as_f64().unwrap() > 20.0);
        assert!(
            !flags(single).contains(&"stall".to_string()),
            "single-write cell flagged as stall: {single}"
        );
        assert!(
            single["metrics"]["rps"].as_f64().unwrap()
                > 3.0 * vectored["metrics"]["rps"].as_f64().unwrap()
        );
    }

    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    let native = cells.iter().find(|c| c["runtime"] == "native").unwrap();
    let shown = thousands(native["metrics"]["rps"].as_f64().unwrap());
    assert!(
        page.contains(&shown),
        "page lacks native req/s {shown}:\n{page}"
    );
    assert!(page.contains("| native"), "{page}");
    assert!(page.contains("| wasmtime"), "{page}");
    let run_id = run["run_id"].as_str().unwrap();
    assert!(out.join("runs").join(run_id).join("run.json").is_file());
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
