//! Failure paths with real processes: runtimes that crash, hang or die under load, servers that
//! answer wrongly, interrupts. Each must end as a clear cell status, keep what was measured, and
//! leave no process behind.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

/// A test runtime running the native build, with the given modes.
fn test_runtime<'a>(name: &'a str, modes: &str) -> (&'a str, String) {
    (name, format!("name = \"{name}\"\nabout = \"test runtime\"\nartifact = \"native\"\ninstall_hint = \"test only\"\n{modes}"))
}

fn matrix(dir: &Path, runtimes: &[&str], duration: &str, extra_settings: &str) -> PathBuf {
    let mut text = format!("workloads = [\"plaintext\"]\n[settings]\nduration = \"{duration}\"\nwarmup = \"0s\"\n{extra_settings}\n");
    for r in runtimes {
        let (name, mode) = r.split_once('/').unwrap();
        text.push_str(&format!(
            "[[runtime]]\nname = \"{name}\"\nmodes = [\"{mode}\"]\n"
        ));
    }
    text.push_str("[[load]]\nname = \"c10\"\nmodel = \"closed\"\nvus = 10\n");
    let path = dir.join("m.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn cells(out: &Path) -> Vec<CellResult> {
    read_run(&out.join("latest.json")).cells
}

#[test]
fn crashing_hanging_dying_and_wrong_servers_fail_their_cells_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let runtimes = runtimes_with(
        dir.path(),
        &[
            test_runtime("crasher", "[modes.start]\nabout = \"exits at once\"\nlaunch = [\"sh\", \"-c\", \"echo 'boom: no such engine' >&2; exit 3\"]\n"),
            test_runtime("hanger", "[modes.start]\nabout = \"never listens\"\nlaunch = [\"sleep\", \"60\"]\n"),
            test_runtime("dier", "[modes.start]\nabout = \"killed after 1.5 s\"\nlaunch = [\"timeout\", \"-s\", \"KILL\", \"1.5\", \"{artifact}\", \"--addr\", \"{addr}\"]\n"),
            test_runtime("liar", "[modes.start]\nabout = \"another HTTP server\"\nlaunch = [\"python3\", \"-m\", \"http.server\", \"--bind\", \"127.0.0.1\", \"{port}\"]\n"),
            test_runtime("ghost", "binary = \"no-such-runtime-binary-xyz\"\nenv = \"NO_SUCH_RUNTIME_XYZ\"\n[modes.start]\nabout = \"not installed\"\nlaunch = [\"{bin}\", \"{artifact}\"]\n"),
        ],
    );
    let m = matrix(
        dir.path(),
        &[
            "crasher/start",
            "hanger/start",
            "dier/start",
            "liar/start",
            "ghost/start",
            "native/current-thread",
        ],
        "4s",
        "ready_timeout = \"3s\"",
    );
    let out = dir.path().join("out");
    let output = run_matrix_file(&m, &out, &["--runtimes", runtimes.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "failed cells must make the run exit 1"
    );
    let cells = cells(&out);
    let by = |name: &str| cells.iter().find(|c| c.runtime == name).unwrap().clone();
    let expect = |name: &str, status: Status, needles: &[&str]| {
        let cell = by(name);
        let reason = cell.reason.as_deref().unwrap_or_default();
        assert_eq!(cell.status, status, "{name}: {reason}");
        for needle in needles {
            assert!(
                reason.contains(needle),
                "{name}: {needle:?} not in {reason:?}"
            );
        }
    };
    expect(
        "crasher",
        Status::Failed,
        &["exited", "boom: no such engine"],
    );
    expect("hanger", Status::Failed, &["did not answer within 3s"]);
    expect("dier", Status::Failed, &["died during load"]);
    expect("liar", Status::Failed, &["wrong answer", "status 404"]);
    expect(
        "ghost",
        Status::Skipped,
        &["no-such-runtime-binary-xyz not found"],
    );
    // The cell after all of them was still measured.
    assert_eq!(by("native").status, Status::Ok);
    // Each cell got its own port.
    let ports: std::collections::HashSet<String> = cells
        .iter()
        .flat_map(|c| {
            c.command
                .iter()
                .filter_map(|a| a.strip_prefix("127.0.0.1:").map(String::from))
        })
        .collect();
    assert!(ports.len() >= 2, "{ports:?}");
    assert!(processes_of(
        &out.join("runs")
            .join(read_run(&out.join("latest.json")).run_id)
    )
    .is_empty());
    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        page.contains("boom: no such engine"),
        "the page must say why a cell failed"
    );
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_dir_of(out: &Path) -> PathBuf {
    let runs = out.join("runs");
    std::fs::read_dir(&runs)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .unwrap()
}

#[test]
fn ctrl_c_keeps_finished_cells_stops_every_child_and_renders_partially() {
    let dir = tempfile::tempdir().unwrap();
    let m = matrix(
        dir.path(),
        &["native/current-thread", "native/multi-thread"],
        "3s",
        "",
    );
    let m_text = std::fs::read_to_string(&m).unwrap().replace(
        "workloads = [\"plaintext\"]",
        "workloads = [\"plaintext\", \"json\"]",
    );
    std::fs::write(&m, m_text).unwrap();
    let out = dir.path().join("out");
    let mut child = spawn_matrix_file(&m, &out);
    // Interrupt while the second cell is under load: the first is finished by then.
    wait_for("the first cell file", Duration::from_secs(120), || {
        std::fs::read_dir(out.join("runs"))
            .ok()
            .and_then(|mut r| r.next())
            .is_some_and(|d| {
                std::fs::read_dir(d.unwrap().path().join("cells")).is_ok_and(|c| c.count() == 1)
            })
    });
    std::thread::sleep(Duration::from_millis(1500));
    let run_dir = run_dir_of(&out);
    assert!(
        !processes_of(&run_dir).is_empty(),
        "the second cell should be running"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        processes_of(&run_dir),
        Vec::<String>::new(),
        "orphans after Ctrl-C"
    );
    assert!(
        !out.join("latest.json").exists(),
        "an interrupted run must not replace latest.json"
    );
    let kept = std::fs::read_dir(run_dir.join("cells")).unwrap().count();
    assert_eq!(
        kept, 1,
        "the finished cell is kept, the interrupted one is not"
    );

    let page_dir = dir.path().join("page");
    let output = run_matrix(&[
        "render",
        "--run",
        run_dir.to_str().unwrap(),
        "--out",
        page_dir.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let page = std::fs::read_to_string(page_dir.join("README.md")).unwrap();
    assert!(
        page.contains("Partial run") && page.contains("| native"),
        "{page}"
    );
}

#[test]
fn a_second_ctrl_c_exits_at_once_without_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let m = matrix(dir.path(), &["native/current-thread"], "20s", "");
    let out = dir.path().join("out");
    let mut child = spawn_matrix_file(&m, &out);
    wait_for("the load generator", Duration::from_secs(120), || {
        out.join("runs").exists() && processes_of(&run_dir_of(&out)).len() >= 2
    });
    let run_dir = run_dir_of(&out);
    let start = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert_ne!(status.code(), Some(0));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        processes_of(&run_dir),
        Vec::<String>::new(),
        "orphans after a second signal"
    );
}
