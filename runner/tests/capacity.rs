//! Capacity: servers that survive thousands of connections, and breaking points that are named
//! while the sweep goes on.

mod common;

use common::*;

#[test]
fn a_server_killed_mid_window_fails_its_point_and_the_sweep_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("killed-once");
    // The first launch is killed 1.2 s into its window; every later launch lives.
    let launch = format!(
        "[\"sh\", \"-c\", \"if [ -e {m} ]; then exec \\\"$0\\\" --addr \\\"$1\\\"; fi; touch {m}; (sleep 1.2; kill -9 $$) & exec \\\"$0\\\" --addr \\\"$1\\\"\", \"{{artifact}}\", \"{{addr}}\"]",
        m = marker.display()
    );
    let def = format!("name = \"killed\"\nabout = \"killed once, mid-window\"\nartifact = \"native\"\ninstall_hint = \"test only\"\n[modes.once]\nabout = \"x\"\nlaunch = {launch}\n");
    let runtimes = runtimes_with(dir.path(), &[("killed", def)]);
    let matrix = dir.path().join("m.toml");
    std::fs::write(
        &matrix,
        "workloads = [\"plaintext\"]\n[settings]\nduration = \"2s\"\nwarmup = \"0s\"\n[[runtime]]\nname = \"killed\"\nmodes = [\"once\"]\n[[load]]\nname = \"sweep\"\nmodel = \"peak\"\nconnections = [1, 10, 50]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = run_matrix_file(&matrix, &out, &["--runtimes", runtimes.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed cell makes the run exit 1"
    );
    let run = read_run(&out.join("latest.json"));
    let failed: Vec<&CellResult> = run
        .cells
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "exactly the killed point fails");
    let reason = failed[0].reason.as_deref().unwrap();
    assert!(
        reason.contains("died during load") && reason.contains("SIGKILL"),
        "{reason}"
    );
    assert!(flag_codes(failed[0]).contains(&"broke"));
    // The sweep went on with a fresh server.
    assert_eq!(
        run.cells.iter().filter(|c| c.status == Status::Ok).count(),
        2
    );
    assert!(run.launches.len() >= 2, "{:?}", run.launches);
    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        page.contains("capacity: sweep against open connections"),
        "{page}"
    );
    assert!(page.contains("died during load"), "{page}");
}

#[test]
fn the_wasmer_build_survives_5000_connections() {
    if !runtime_present("wasmer") {
        skip(
            "the_wasmer_build_survives_5000_connections",
            "wasmer is not installed (`make init-wasmer`)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("m.toml");
    std::fs::write(
        &matrix,
        "servers = [\"rust\", \"go\"]\nworkloads = [\"plaintext\"]\n[settings]\nduration = \"2s\"\nwarmup = \"1s\"\n[[runtime]]\nname = \"wasmer\"\nmodes = [\"cranelift\"]\n[[load]]\nname = \"c5000\"\nmodel = \"peak\"\nconnections = 5000\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = run_matrix_file(&matrix, &out, &[]);
    assert!(
        output.status.success(),
        "a server died or stopped answering"
    );
    for cell in read_run(&out.join("latest.json")).cells {
        assert_eq!(cell.status, Status::Ok, "{}: {:?}", cell.id, cell.reason);
        assert!(
            cell.metrics.rps.unwrap() > 100.0,
            "{}: {:?}",
            cell.id,
            cell.metrics.rps
        );
        assert!(!flag_codes(&cell).contains(&"broke"), "{}", cell.id);
    }
}

/// Issue 29's promise, with real clients: with 5,000 slowloris clients held (a request head begun
/// and never finished; each reconnects when the server closes it), the Rust and Go servers answer
/// a fresh request within 1 s, natively and on wasmer, where the WASIX bootstrap caps connections
/// at 500 and sheds the stalest near the cap; and after the clients leave.
#[test]
fn our_servers_answer_fresh_requests_under_5000_slowloris_clients() {
    let wasmer = runtime_present("wasmer");
    if !wasmer {
        skip_for_missing(
            "our_servers_answer_fresh_requests_under_5000_slowloris_clients (wasmer part)",
            "wasmer",
            "wasmer is not installed (`make init-wasmer`): only native is checked",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("m.toml");
    let runtimes = if wasmer {
        "[[runtime]]\nname = \"native\"\nmodes = [\"current-thread\"]\n[[runtime]]\nname = \"wasmer\"\nmodes = [\"cranelift\"]\n"
    } else {
        "[[runtime]]\nname = \"native\"\nmodes = [\"current-thread\"]\n"
    };
    std::fs::write(
        &matrix,
        format!(
            "servers = [\"rust\", \"go\"]\nworkloads = [\"plaintext\"]\n[settings]\nduration = \"3s\"\nwarmup = \"500ms\"\nrewarm = \"0s\"\nrepeats = 1\ndiagnose = false\n{runtimes}[[load]]\nname = \"slowloris\"\nmodel = \"hostile\"\nconnections = 5000\nidle = false\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = run_matrix_file(&matrix, &out, &[]);
    assert!(output.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&output.stderr));
    let run = read_run(&out.join("latest.json"));
    assert_eq!(run.cells.len(), if wasmer { 4 } else { 2 });
    for cell in &run.cells {
        assert_eq!(cell.status, Status::Ok, "{}: {:?}", cell.id, cell.reason);
        let window = &cell.measured.windows[0];
        let hostile = window.hostile.expect("a hostile reading");
        // Held at the window's end: natively most of the 5,000; on wasmer the cap is 500 and the
        // server sheds the stalest near it, so the count moves between its high-water mark (450)
        // and the cap as clients reconnect (498 seen on a fresh machine).
        let least = if cell.runtime == "wasmer" { 400 } else { 4000 };
        assert!(
            hostile.slow_held >= least,
            "{}: only {} slowloris clients held (at least {least} expected)",
            cell.id,
            hostile.slow_held
        );
        assert!(window.requests >= 3, "{}: {} fresh requests", cell.id, window.requests);
        assert_eq!(window.failed_rate, 0.0, "{}: fresh requests unanswered within 1 s: {window:?}", cell.id);
        assert!(window.latency_ms.unwrap().max <= 1000.0, "{}", cell.id);
        assert!(hostile.after_ms.is_some(), "{}: no answer after the clients left", cell.id);
        assert!(!flag_codes(cell).contains(&"shut-out"), "{}", cell.id);
    }
}
