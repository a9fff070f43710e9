//! Hosts and links on real parts: the server in a network namespace the runner makes, generators
//! in others (one reached over ssh, through an sshd the runner starts there), joined by veth
//! pairs, with round trips from NFQUEUE rules and the runner's delayer. Each test checks the
//! figures move as the link says, and that nothing is left after the run and after Ctrl-C: no
//! namespace, process or state directory. Where this machine refuses namespaces (not root, no
//! iptables, no sshd), the runner skips the cells with the reason and these tests say so.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;

/// Runs with hosts share the server address's route on this machine: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn matrix(
    dir: &Path,
    generators: &str,
    extra_hosts: &str,
    links: &str,
    loads: &str,
    duration: &str,
) -> PathBuf {
    let text = format!(
        r#"workloads = ["plaintext"]
links = {links}
[settings]
duration = "{duration}"
warmup = "0s"
repeats = 1
server_host = "server"
generator_hosts = {generators}
[[host]]
name = "server"
kind = "netns"
{extra_hosts}
[[runtime]]
name = "native"
modes = ["current-thread"]
{loads}
"#
    );
    let path = dir.join("hosts.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const CLOSED: &str = "[[load]]\nname = \"closed-10\"\nmodel = \"closed\"\nvus = 10\n";
const PEAK: &str = "[[load]]\nname = \"peak-10\"\nmodel = \"peak\"\nconnections = 10\n";

/// Namespaces and state directories of runners that are no longer alive.
fn leftovers() -> Vec<String> {
    let alive = |pid: &str| Path::new("/proc").join(pid).exists();
    let mut left = Vec::new();
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output();
    for line in String::from_utf8_lossy(&out.map(|o| o.stdout).unwrap_or_default()).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        if let Some(pid) = name.strip_prefix("wb").and_then(|r| r.split('-').next()) {
            if !alive(pid) {
                left.push(format!("namespace {name}"));
            }
        }
    }
    // Veth ends in this machine's own network: wb<pid mod 100000><role><index>.
    let links = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output();
    for line in String::from_utf8_lossy(&links.map(|o| o.stdout).unwrap_or_default()).lines() {
        let name = line.split(": ").nth(1).unwrap_or_default();
        let name = name.split('@').next().unwrap_or(name);
        if let Some(rest) = name.strip_prefix("wb") {
            let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !pid.is_empty() && !alive(&pid) {
                left.push(format!("link {name}"));
            }
        }
    }
    for entry in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(pid) = name.strip_prefix("wasm-bench-hosts-") {
            if !alive(pid) {
                left.push(format!("directory {name}"));
            }
        }
    }
    left
}

fn assert_nothing_left(out: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(processes_of(out).is_empty() && leftovers().is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(processes_of(out), Vec::<String>::new(), "left running");
    assert_eq!(leftovers(), Vec::<String>::new(), "left behind");
}

/// The runner's reason when it could not make the hosts, which a machine without them shows.
fn skipped_for_hosts(run: &Run) -> Option<String> {
    let reason = run
        .cells
        .iter()
        .find(|c| c.status == Status::Skipped)?
        .reason
        .clone()?;
    assert!(
        reason.starts_with("hosts:"),
        "unexpected skip reason: {reason}"
    );
    // Only a missing part or privilege is a reason to skip; anything else is this test failing.
    let absent = ["is not installed", "need root", "root needed"];
    assert!(
        absent.iter().any(|a| reason.contains(a)),
        "the hosts could not be made although their parts are here: {reason}"
    );
    Some(reason)
}

#[test]
fn a_server_in_one_namespace_and_wrk_and_k6_in_another_see_the_links_round_trip() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let hosts = "[[host]]\nname = \"gen\"\nkind = \"netns\"\n";
    let links = r#"[{ rtt = "0ms" }, { rtt = "20ms" }]"#;
    let m = matrix(
        dir.path(),
        r#"["gen"]"#,
        hosts,
        links,
        &format!("{CLOSED}{PEAK}"),
        "1s",
    );
    let output = run_matrix_file(&m, &out, &[]);
    assert!(output.status.success(), "matrix run failed");
    let run = read_run(&out.join("latest.json"));
    if let Some(reason) = skipped_for_hosts(&run) {
        skip_for_reason("netns hosts", "sshd", &reason);
        return;
    }
    assert_eq!(run.cells.len(), 4);
    let cell = |load: &str| {
        run.cells
            .iter()
            .find(|c| c.load == load)
            .unwrap_or_else(|| panic!("no {load}"))
    };
    for c in &run.cells {
        assert_eq!(c.status, Status::Ok, "{}: {:?}", c.id, c.reason);
        assert!(
            c.command.iter().any(|a| a.contains("10.213.0.1:")),
            "{:?}",
            c.command
        );
    }
    // A 20 ms round trip: the delayer holds every packet half of it each way, so no request
    // can be answered sooner (a bound the mechanism sets, whatever the host's speed). How much
    // quicker the 0 ms link is depends on the host: printed, not asserted.
    for load in ["closed-10", "peak-10"] {
        let far = cell(&format!("{load}@rtt-20ms"));
        let near = cell(&format!("{load}@rtt-0ms"));
        assert_eq!(far.link.as_ref().unwrap().rtt_ms, 20.0);
        assert_eq!(near.link.as_ref().unwrap().rtt_ms, 0.0);
        let (p50_far, p50_near) = (far.metrics.p50_ms.unwrap(), near.metrics.p50_ms.unwrap());
        assert!(
            p50_far >= 19.0,
            "{load}: p50 {p50_far} ms over a 20 ms link"
        );
        eprintln!("{load}: p50 {p50_near:.3} ms over the 0 ms link, {p50_far:.3} ms over 20 ms");
        // Ten connections at >= 20 ms each cannot exceed 500 req/s.
        assert!(
            far.metrics.rps.unwrap() <= 520.0,
            "{load}: {:?}",
            far.metrics.rps
        );
    }
    let topology = run.topology.as_ref().expect("topology recorded");
    assert_eq!(topology.server_host, "server");
    assert_eq!(topology.links, ["rtt-0ms", "rtt-20ms"]);
    // This kernel has no netem: the runner's delayer made the round trip, and its CPU is recorded.
    if topology.delay_mechanism.as_deref() != Some("tc netem") {
        assert!(
            topology.delayer_cpu_s.is_some_and(|s| s > 0.0),
            "{topology:?}"
        );
    }
    assert!(topology
        .hosts
        .iter()
        .any(|h| h.name == "gen" && h.kind == "netns"));
    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        page.contains("## Links") && page.contains("| rtt-20ms |"),
        "{page}"
    );
    assert_nothing_left(&out);
}

#[test]
fn two_generator_hosts_one_over_ssh_split_one_k6_load_with_execution_segments() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let hosts =
        "[[host]]\nname = \"gen\"\nkind = \"netns\"\n[[host]]\nname = \"far\"\nkind = \"ssh\"\n";
    let m = matrix(dir.path(), r#"["gen", "far"]"#, hosts, "[]", CLOSED, "2s");
    let output = run_matrix_file(&m, &out, &[]);
    assert!(output.status.success(), "matrix run failed");
    let run = read_run(&out.join("latest.json"));
    if let Some(reason) = skipped_for_hosts(&run) {
        skip_for_reason("ssh and segments", "sshd", &reason);
        return;
    }
    let cell = &run.cells[0];
    assert_eq!(cell.status, Status::Ok, "{:?}", cell.reason);
    let topology = run.topology.as_ref().unwrap();
    let far = topology
        .hosts
        .iter()
        .find(|h| h.name == "far")
        .expect("far recorded");
    assert_eq!(far.kind, "ssh");
    assert!(
        far.tools.get("k6").is_some_and(|v| v.contains("v1.")),
        "{far:?}"
    );
    assert!(
        far.cpu_model.as_deref().is_some_and(|m| !m.is_empty()),
        "{far:?}"
    );
    // The generator's CPU counts both hosts' k6, the ssh one as its remote shell reported it.
    assert!(
        cell.metrics.generator_cpu_pct.is_some_and(|p| p > 1.0),
        "{:?}",
        cell.metrics.generator_cpu_pct
    );
    // Each host ran its own segment: two summaries and two sets of raw samples, merged.
    let logs = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .unwrap()
        .join("logs");
    let names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    for part in ["-seg0.json", "-seg1.json", "-seg0.csv", "-seg1.csv"] {
        assert!(
            names.iter().any(|n| n.ends_with(part)),
            "no {part} in {names:?}"
        );
    }
    let requests = cell.metrics.requests.unwrap();
    assert!(requests > 100, "{requests}");
    let p99 = cell.metrics.p99_ms.unwrap();
    assert!(p99 >= cell.metrics.p50_ms.unwrap() && p99 > 0.0);
    assert_nothing_left(&out);
}

#[test]
fn ctrl_c_during_a_linked_window_leaves_no_namespace_delayer_or_process() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let hosts = "[[host]]\nname = \"gen\"\nkind = \"netns\"\n";
    let m = matrix(
        dir.path(),
        r#"["gen"]"#,
        hosts,
        r#"[{ rtt = "5ms" }]"#,
        PEAK,
        "30s",
    );
    let mut child = spawn_matrix_file(&m, &out);
    let start = Instant::now();
    loop {
        let live = processes_of(&out);
        if live.iter().any(|p| p.contains(" delay ")) && live.iter().any(|p| p.contains("wrk")) {
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            let run = read_run(&out.join("latest.json"));
            let reason = skipped_for_hosts(&run).expect("the cell neither ran nor was skipped");
            skip_for_reason("ctrl-c during a linked window", "sshd", &reason);
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no load over the link: {:?}",
            processes_of(&out)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ns = format!("wb{}-server", child.id());
    assert!(String::from_utf8_lossy(
        &std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout
    )
    .contains(&ns));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the runner did not exit after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_nothing_left(&out);
}
