//! The diagnosis pass: after a server's measured windows (never inside one: tracing slows a
//! server), a fresh launch of it is loaded with a fixed number of requests while the kernel counts
//! its system calls by name (`perf record` of the `raw_syscalls:sys_enter` tracepoint), then
//! under the cell's load while `perf record` samples
//! every thread; separately, a launch under `valgrind --tool=callgrind` counts the instructions of
//! fixed request counts. Counts are taken over N and 2N requests, so what start-up and the edges
//! of a pass add cancels in the difference; system calls also with the requests paced, three
//! times (a rate; twice the requests at it; half the rate), so the calls a request makes are told
//! apart from those the server makes while it waits, and counted exactly. Each pass that
//! cannot run (no perf, no valgrind, a container, no privilege) says why, and the others still run.

mod cache;
pub mod callgrind;
pub mod perf;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::launch::{Diagnostic, LaunchRecord, Started};
use super::{CellError, Plan};
use crate::http::Workload;
use crate::results::diagnosis::{
    Counted, Diagnosis, InstructionPasses, LongerPaced, PacedPass, ProfileRecord, SyscallPass,
    SyscallPasses,
};

/// Requests in flight during the counting passes: one at a time, so that how many requests one
/// wake-up serves (which depends on timing) does not move the count.
pub const COUNT_CONNECTIONS: u32 = 1;
/// The profile pass: this long under the cell's load, sampled this often.
pub const PROFILE_SECONDS: f64 = 2.0;
pub const PROFILE_HZ: u32 = 999;

/// What the passes run with.
pub struct Tools {
    /// The fixed-count generator (oha: `-n` requests, `-c` connections).
    pub oha: PathBuf,
    pub perf: Option<PathBuf>,
    pub valgrind: Option<PathBuf>,
    pub callgrind_control: Option<PathBuf>,
}

impl Tools {
    /// oha as the run resolved it; perf and valgrind from PATH.
    pub fn find(oha: PathBuf) -> Tools {
        let on_path = crate::sys::process::find_on_path;
        Tools {
            oha,
            perf: on_path("perf"),
            valgrind: on_path("valgrind"),
            callgrind_control: on_path("callgrind_control"),
        }
    }
}

/// Where a diagnosis writes and what it may reuse.
pub struct Context<'a> {
    pub tools: &'a Tools,
    /// The output dir (flame graphs go to `flames/` there) and the run's logs.
    pub out: &'a Path,
    pub logs: &'a Path,
    /// Instruction counts of earlier runs, by what they depend on.
    pub cache_dir: &'a Path,
    pub run_id: &'a str,
    /// CPUs the generator and the tools run on.
    pub generator_cpus: &'a str,
}

/// The cell a group's server is diagnosed under: one that was measured and did not fail, of a
/// closed or peak load without pipelining (a pipelined batch is not a request), with the most
/// connections up to 50, in the matrix's first workload; else any such cell.
pub fn pick(
    plans: &[Option<Plan>],
    group: &crate::schedule::Group,
    ok: &dyn Fn(usize) -> bool,
) -> Option<usize> {
    use crate::config::LoadModel;
    let candidates: Vec<usize> = group
        .cells
        .iter()
        .copied()
        .filter(|&i| plans[i].is_some() && ok(i))
        .collect();
    let load = |i: usize| &plans[i].as_ref().expect("filtered").cell.load;
    let plain = |i: &usize| {
        let l = load(*i);
        matches!(l.model, LoadModel::Peak | LoadModel::Closed)
            && l.depth() == 1
            && l.share.is_none()
            && l.link.is_none()
    };
    let first_workload = candidates
        .first()
        .map(|&i| plans[i].as_ref().expect("filtered").cell.workload.clone());
    let score = |i: &usize| {
        let c = load(*i).concurrency();
        let same = plans[*i]
            .as_ref()
            .map(|p| Some(&p.cell.workload) == first_workload.as_ref());
        (same, if c <= 50 { c } else { 0 })
    };
    candidates
        .iter()
        .copied()
        .filter(plain)
        .max_by_key(score)
        .or(candidates.first().copied())
}

/// The diagnosis of `plan`'s server under `plan`'s workload and connection count.
pub fn diagnose(plan: &Plan, ctx: &Context, phase: &dyn Fn(&str)) -> Diagnosis {
    let key = plan.cell.launch_key();
    let tag = format!("diagnose-{:03}", plan.labels.index);
    let (syscalls, profile) = match live_passes(plan, ctx, &tag, phase) {
        Ok(passes) => passes,
        Err(e) => {
            let reason = format!("the server did not start for the diagnosis: {e}");
            (unavailable(&reason), unavailable(&reason))
        }
    };
    phase("counting instructions (callgrind)");
    let instructions = instruction_passes(plan, ctx, &tag);
    Diagnosis {
        key,
        cell: plan.cell.id.clone(),
        syscalls,
        instructions,
        profile,
    }
}

fn unavailable<T>(reason: &str) -> Counted<T> {
    Counted::Unavailable {
        reason: reason.to_string(),
    }
}

/// The system-call and profile passes, on one fresh launch with the runtime's profiling options.
fn live_passes(
    plan: &Plan,
    ctx: &Context,
    tag: &str,
    phase: &dyn Fn(&str),
) -> Result<(Counted<SyscallPasses>, Counted<ProfileRecord>), CellError> {
    let workload = plan.workload()?;
    let diagnostic = Diagnostic {
        profile: true,
        ..Default::default()
    };
    let mut record = LaunchRecord::default();
    let mut started = plan
        .launch
        .start_for(tag, workload, &mut record, phase, &diagnostic)?;
    let load = Load::new(ctx, &started, workload);
    let result = (|| {
        let n = load
            .requests_for_a_second(COUNT_CONNECTIONS)
            .map_err(CellError::Setup)?;
        phase("counting system calls (perf record)");
        let syscalls = match &ctx.tools.perf {
            None => unavailable(PERF_MISSING),
            Some(perf) => syscall_passes(perf, &started, &load, n, ctx, tag),
        };
        phase("sampling the CPU (perf record)");
        let profile = match &ctx.tools.perf {
            None => unavailable(PERF_MISSING),
            Some(perf) => profile_pass(perf, plan, &started, &load, ctx, tag),
        };
        Ok((syscalls, profile))
    })();
    started.stop();
    result
}

const PERF_MISSING: &str =
    "perf is not installed (Debian: linux-perf; `make init` installs it): no system-call counts or profile";

/// The process tree whose calls and samples are the server's.
fn server_pids(started: &Started) -> String {
    crate::sys::procfs::process_tree(started.measured_pid)
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `N` and `2N` requests one at a time back to back, then paced: a pass at a fixed rate, one with
/// twice its requests at that rate and one with its requests at half the rate; each pass
/// recorded by perf only while it runs.
fn syscall_passes(
    perf: &Path,
    started: &Started,
    load: &Load,
    n: u64,
    ctx: &Context,
    tag: &str,
) -> Counted<SyscallPasses> {
    // perf now and then exits (status 255, nothing on stderr) before it acknowledges the
    // enable, seen with wasmer's threads; the pass is counted again once on a fresh perf.
    let count = |name: &str, during: &dyn Fn() -> Result<(), String>| {
        let data = ctx.logs.join(format!("{tag}-syscalls-{name}.data"));
        let mut counted = perf_syscalls(perf, &server_pids(started), &data, ctx, during);
        if counted.is_err() {
            counted = perf_syscalls(perf, &server_pids(started), &data, ctx, during);
        }
        let _ = std::fs::remove_file(&data);
        counted
    };
    let mut passes = Vec::new();
    for (i, requests) in [n, 2 * n].into_iter().enumerate() {
        match count(&i.to_string(), &|| {
            load.requests(requests, COUNT_CONNECTIONS)
        }) {
            Ok(counts) => passes.push(SyscallPass { requests, counts }),
            Err(e) => return unavailable(&format!("counting system calls with perf failed: {e}")),
        }
    }
    let (requests, per_second) = paced_load(n);
    let paced_pass = |name: &str, requests: u64, per_second: u32| {
        count(name, &|| {
            load.paced(requests, per_second, COUNT_CONNECTIONS)
        })
        .map(|counts| PacedPass {
            per_second,
            pass: SyscallPass { requests, counts },
        })
    };
    let paced = match paced_pass("paced", requests, per_second) {
        Ok(pass) => Counted::Measured(pass),
        Err(e) => unavailable(&format!("counting the paced pass with perf failed: {e}")),
    };
    // As long as each other: twice the requests, and twice the wait between them.
    let longer = paced_pass("paced-more", 2 * requests, per_second).and_then(|more_requests| {
        paced_pass("paced-longer", requests, (per_second / 2).max(1)).map(|longer_gaps| {
            LongerPaced {
                more_requests,
                longer_gaps,
            }
        })
    });
    let paced_longer = match longer {
        Ok(passes) => Counted::Measured(passes),
        Err(e) => unavailable(&format!("counting the longer paced passes with perf failed: {e}")),
    };
    Counted::Measured(SyscallPasses {
        connections: COUNT_CONNECTIONS,
        passes,
        paced: Some(paced),
        paced_longer: Some(paced_longer),
    })
}

/// The paced pass for a server that answers about `n` requests a second back to back: at a
/// quarter of that rate (at most 500 a second, so requests are at least 2 ms apart) for about
/// half a second - long enough that waiting shows in the counts, short enough that a runtime
/// that polls ~10^6 times a second while it waits does not overflow perf's buffer - and at least
/// 50 requests, so that a call or two more at a pass's edge moves a count per request by < 0.05.
pub fn paced_load(n: u64) -> (u64, u32) {
    let per_second = (n / 4).clamp(25, 500);
    ((per_second / 2).max(50), per_second as u32)
}

/// Every system call `pids` make while `during` runs, by name: one `raw_syscalls:sys_enter`
/// record per call, enabled through perf's control fifo only around it. One tracepoint rather
/// than `syscalls:sys_enter_*`, whose ~360 tracepoints take perf some 13 s to set up here.
fn perf_syscalls(
    perf: &Path,
    pids: &str,
    data: &Path,
    ctx: &Context,
    during: &dyn Fn() -> Result<(), String>,
) -> Result<std::collections::BTreeMap<String, u64>, String> {
    // A large ring buffer: a pass records every call, and a lost record is a call not counted.
    let events = ["-e", "raw_syscalls:sys_enter", "-m", "2048"];
    let stderr = perf_record(perf, &events, pids, data, ctx, during)?;
    let (script, warnings) = perf_script(perf, data, "trace:tid,trace")?;
    if let Some(lost) = warnings.lines().find(|l| l.contains("lost")) {
        return Err(format!(
            "perf lost records, so calls would go uncounted: {}",
            lost.trim()
        ));
    }
    let counts = perf::syscall_counts(&script);
    if counts.is_empty() {
        return Err(format!(
            "it recorded no calls (a kernel without syscall tracepoints, or no privilege): {stderr}"
        ));
    }
    Ok(counts)
}

/// Runs perf with `args`, writing `out`, its events enabled (through the control fifos beside
/// `fifo_base`) only while `during` runs; returns what perf said on stderr.
fn perf_while(
    perf: &Path,
    args: &[&str],
    out: &Path,
    fifo_base: &Path,
    ctx: &Context,
    during: impl FnOnce() -> Result<(), String>,
) -> Result<String, String> {
    let fifo = Fifos::new(fifo_base).map_err(|e| format!("cannot make its control fifos: {e}"))?;
    let child = Command::new("taskset")
        .args(["-c", ctx.generator_cpus])
        .arg(perf)
        .args(args)
        .arg("--control")
        .arg(format!(
            "fifo:{},{}",
            fifo.ctl.display(),
            fifo.ack.display()
        ))
        .arg("-o")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", perf.display()))?;
    let result = fifo
        .command("enable")
        .and_then(|()| during())
        .and_then(|()| fifo.command("disable"));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    // perf's own words say why it stopped answering (a process that exited, no privilege).
    result.map_err(|e| {
        format!(
            "{e} (perf {}: {})",
            output.status,
            stderr.chars().take(300).collect::<String>()
        )
    })?;
    Ok(stderr)
}

/// perf's control and acknowledgement fifos, removed with it.
struct Fifos {
    ctl: PathBuf,
    ack: PathBuf,
}

impl Fifos {
    fn new(beside: &Path) -> std::io::Result<Fifos> {
        let make = |suffix: &str| -> std::io::Result<PathBuf> {
            let path = beside.with_extension(suffix);
            let _ = std::fs::remove_file(&path);
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(std::io::Error::other)?;
            // SAFETY: a valid path and mode.
            if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(path)
        };
        Ok(Fifos {
            ctl: make("ctl")?,
            ack: make("ack")?,
        })
    }

    /// Sends a command and waits (up to 30 s) for perf to acknowledge it.
    fn command(&self, command: &str) -> Result<(), String> {
        use std::io::{Read, Write};
        let (ctl, ack) = (self.ctl.clone(), self.ack.clone());
        let command = format!("{command}\n");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let sent = std::fs::OpenOptions::new()
                .write(true)
                .open(&ctl)
                .and_then(|mut f| f.write_all(command.as_bytes()));
            // perf answers "ack\n" (with a NUL after it, which the next reply starts with).
            let acked = sent.and_then(|()| {
                let mut reply = Vec::new();
                let mut ack = std::fs::File::open(&ack)?;
                let mut byte = [0u8; 1];
                while reply.last() != Some(&b'\n') {
                    ack.read_exact(&mut byte)?;
                    if byte[0] != 0 {
                        reply.push(byte[0]);
                    }
                }
                Ok(reply)
            });
            let _ = tx.send(acked);
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(reply)) if reply == b"ack\n" => Ok(()),
            Ok(Ok(reply)) => Err(format!(
                "perf answered {:?}",
                String::from_utf8_lossy(&reply)
            )),
            Ok(Err(e)) => Err(format!("perf's control fifo: {e}")),
            Err(_) => Err("perf did not acknowledge within 30 s".into()),
        }
    }
}

impl Drop for Fifos {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ctl);
        let _ = std::fs::remove_file(&self.ack);
    }
}

/// Every thread of the server sampled for `PROFILE_SECONDS` under the cell's load; the samples
/// counted by thread and innermost object, and folded into a flame graph beside the page.
fn profile_pass(
    perf: &Path,
    plan: &Plan,
    started: &Started,
    load: &Load,
    ctx: &Context,
    tag: &str,
) -> Counted<ProfileRecord> {
    let data = ctx.logs.join(format!("{tag}-perf.data"));
    let connections = plan.cell.load.concurrency().max(1);
    let hz = PROFILE_HZ.to_string();
    let events = ["-e", "cpu-clock", "-F", &hz, "-g"];
    let recorded = perf_record(perf, &events, &server_pids(started), &data, ctx, || {
        load.for_seconds(PROFILE_SECONDS, connections)
    });
    let script = match recorded.and_then(|_| perf_script(perf, &data, "tid,ip,sym,dso")) {
        Ok((script, _)) => script,
        Err(e) => return unavailable(&format!("perf record failed: {e}")),
    };
    let _ = std::fs::remove_file(&data);
    let samples = perf::samples(&script);
    if samples.is_empty() {
        return unavailable("perf recorded no samples of the server");
    }
    let flamegraph = write_flamegraph(&perf::folded(&samples), plan, ctx);
    let mut runtime_objects: Vec<String> = plan
        .launch
        .bin
        .iter()
        .map(|b| b.display().to_string())
        .collect();
    if let Some(bin) = &plan.launch.bin {
        if let Ok(real) = std::fs::canonicalize(bin) {
            runtime_objects.push(real.display().to_string());
        }
    }
    Counted::Measured(ProfileRecord {
        connections,
        seconds: PROFILE_SECONDS,
        frequency_hz: PROFILE_HZ,
        samples: perf::leaf_counts(&samples),
        runtime_objects,
        guest_objects: vec![plan.launch.artifact.display().to_string()],
        flamegraph,
    })
}

/// `perf record <events>` of `pids` into `data`, enabled only while `during` runs; returns what
/// perf said on stderr (the error, when it wrote no data).
fn perf_record(
    perf: &Path,
    events: &[&str],
    pids: &str,
    data: &Path,
    ctx: &Context,
    during: impl FnOnce() -> Result<(), String>,
) -> Result<String, String> {
    let mut args = vec!["record"];
    args.extend_from_slice(events);
    // Without BPF events perf exits at once when stopped, not ~0.9 s later (it then synthesizes
    // the BPF programs' records, of no use here): six perf runs per diagnosed server.
    args.extend_from_slice(&["--no-bpf-event", "-D", "-1", "-p", pids]);
    let stderr = perf_while(perf, &args, data, &data.with_extension("ctl"), ctx, during)?;
    if !data.is_file() {
        return Err(stderr);
    }
    Ok(stderr)
}

/// `perf script -F <fields>` of `data`: what it printed, and its warnings.
fn perf_script(perf: &Path, data: &Path, fields: &str) -> Result<(String, String), String> {
    let output = Command::new(perf)
        .args(["script", "-F", fields, "-i"])
        .arg(data)
        .output()
        .map_err(|e| e.to_string())?;
    Ok((
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    ))
}

/// `flames/<server-runtime-mode-write>.svg` in the output dir, relative to it.
fn write_flamegraph(lines: &[String], plan: &Plan, ctx: &Context) -> Option<String> {
    let name = format!(
        "flames/{}.svg",
        plan.cell.launch_key().replace(['/', '@'], "-")
    );
    let path = ctx.out.join(&name);
    std::fs::create_dir_all(path.parent()?).ok()?;
    let mut options = inferno::flamegraph::Options::default();
    options.title = format!(
        "{}: where the CPU goes under {}",
        plan.cell.launch_key(),
        plan.cell.load.name
    );
    options.count_name = "samples".into();
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut svg)
        .ok()?;
    crate::results::write_atomic(&path, &svg).ok()?;
    Some(name)
}

/// Instructions of N and 2N requests, one at a time, under callgrind (or from the cache).
fn instruction_passes(plan: &Plan, ctx: &Context, tag: &str) -> Counted<InstructionPasses> {
    let (Some(valgrind), Some(control)) = (&ctx.tools.valgrind, &ctx.tools.callgrind_control)
    else {
        return unavailable("valgrind is not installed (Debian: valgrind; `make init` installs it): no instruction counts");
    };
    if plan.launch.container.is_some() {
        return unavailable("a container's server runs under containerd's shim, which valgrind cannot start: no instruction counts");
    }
    let key = cache::key(plan, COUNT_CONNECTIONS);
    if let Some(mut cached) = cache::read(ctx.cache_dir, &key) {
        cached
            .reused_from
            .get_or_insert_with(|| "an earlier run".into());
        return Counted::Measured(cached);
    }
    let log = ctx.logs.join(format!("{tag}-callgrind-server.log"));
    match callgrind(valgrind, control, plan, ctx, tag) {
        Ok(mut passes) => {
            passes.reused_from = Some(ctx.run_id.to_string());
            cache::write(ctx.cache_dir, &key, &passes);
            passes.reused_from = None;
            Counted::Measured(passes)
        }
        Err(e) => unavailable(&callgrind_failure(
            &e,
            &std::fs::read_to_string(&log).unwrap_or_default(),
        )),
    }
}

/// Why a server could not be counted under callgrind, in words a reader can act on.
pub fn callgrind_failure(error: &str, log: &str) -> String {
    if log.contains("unhandled instruction bytes") {
        return "valgrind 3.19 cannot run the code this runtime generated for this CPU (instructions it does not \
                decode, e.g. AVX-512): no instruction count"
            .into();
    }
    if let Some(setting) = log.lines().find_map(|l| {
        l.split_once("compilation setting \"")
            .filter(|_| l.contains("not available on the host"))
            .and_then(|(_, rest)| rest.split('"').next())
    }) {
        return format!(
            "its ahead-compiled code was built for a feature of this CPU ({setting}) that valgrind's virtual \
             CPU lacks, so the runtime refuses to load it under valgrind: no instruction count"
        );
    }
    if let Some(line) = log.lines().find(|l| l.contains("failed to reserve")) {
        return format!(
            "the runtime could not reserve its address space under valgrind ({}); the mode's `valgrind_args` in \
             runtimes/ can shrink it without changing the code",
            line.trim().trim_start_matches(|c: char| c.is_ascii_digit() || c == ':').trim()
        );
    }
    let guest_failed = log
        .lines()
        .find(|l| l.contains("panicked") || l.contains("unexpected error") || l.contains("[error]"))
        .map(str::trim);
    match guest_failed {
        Some(line) => format!(
            "the server does not run correctly under valgrind ({}), so its instructions cannot be counted there",
            line.chars().take(160).collect::<String>()
        ),
        None => format!("under callgrind: {}", error.chars().take(300).collect::<String>()),
    }
}

/// Valgrind's options beyond the tool: code a JIT writes is checked for changes.
const CALLGRIND_OPTIONS: &[&str] = &["--smc-check=all-non-file", "--dump-instr=no"];

fn callgrind(
    valgrind: &Path,
    control: &Path,
    plan: &Plan,
    ctx: &Context,
    tag: &str,
) -> Result<InstructionPasses, String> {
    let workload = plan.workload().map_err(|e| e.to_string())?;
    let out = ctx.logs.join(format!("{tag}-callgrind.out"));
    let mut wrapper = vec![valgrind.display().to_string(), "--tool=callgrind".into()];
    wrapper.extend(CALLGRIND_OPTIONS.iter().map(|s| s.to_string()));
    wrapper.push(format!("--callgrind-out-file={}", out.display()));
    let diagnostic = Diagnostic {
        profile: false,
        wrapper,
        ready_timeout: Duration::from_secs(600),
    };
    let mut record = LaunchRecord::default();
    let mut started = plan
        .launch
        .start_for(
            &format!("{tag}-callgrind"),
            workload,
            &mut record,
            &|_| {},
            &diagnostic,
        )
        .map_err(|e| e.to_string())?;
    let load = Load::new(ctx, &started, workload);
    let result = (|| {
        let n = load
            .requests_for_a_second(COUNT_CONNECTIONS)?
            .clamp(50, 400);
        let mut passes = Vec::new();
        for (i, requests) in [n, 2 * n].into_iter().enumerate() {
            callgrind_control(control, started.measured_pid, "-z")?;
            load.requests(requests, COUNT_CONNECTIONS)?;
            callgrind_control(control, started.measured_pid, "-d")?;
            let dump = newest_dump(&out, i + 1)?;
            let total = callgrind::total_instructions(&dump).ok_or("a dump without a total")?;
            passes.push((requests, total));
        }
        Ok(InstructionPasses {
            connections: COUNT_CONNECTIONS,
            passes,
            options: CALLGRIND_OPTIONS.iter().map(|s| s.to_string()).collect(),
            runtime_args: plan.launch.mode.valgrind_args.clone(),
            reused_from: None,
        })
    })();
    started.stop();
    result
}

fn callgrind_control(control: &Path, pid: i32, flag: &str) -> Result<(), String> {
    let status = Command::new(control)
        .args([flag, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    status
        .success()
        .then_some(())
        .ok_or(format!("callgrind_control {flag} failed"))
}

/// The `n`th dump callgrind wrote to `<out>.<n>` (it may take a moment to appear).
fn newest_dump(out: &Path, n: usize) -> Result<String, String> {
    let path = PathBuf::from(format!("{}.{n}", out.display()));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if callgrind::total_instructions(&text).is_some() {
                return Ok(text);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("no dump at {}", path.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fixed-count load on the started server (oha, pinned to the generator's CPUs).
struct Load<'a> {
    ctx: &'a Context<'a>,
    url: String,
    workload: &'a Workload,
}

impl<'a> Load<'a> {
    fn new(ctx: &'a Context<'a>, started: &Started, workload: &'a Workload) -> Load<'a> {
        Load {
            ctx,
            url: format!("{}{}", started.base, workload.path),
            workload,
        }
    }

    fn oha(&self, limit: &[String], connections: u32) -> Result<f64, String> {
        let mut argv = vec![self.ctx.tools.oha.display().to_string()];
        argv.extend(limit.iter().cloned());
        argv.extend([
            "-c".into(),
            connections.to_string(),
            "--no-tui".into(),
            "--output-format".into(),
            "json".into(),
        ]);
        argv.extend(["-m".into(), self.workload.method.clone()]);
        for (k, v) in &self.workload.headers {
            argv.extend(["-H".into(), format!("{k}: {v}")]);
        }
        if !self.workload.body.is_empty() {
            argv.extend([
                "-d".into(),
                String::from_utf8_lossy(&self.workload.body).to_string(),
            ]);
        }
        argv.push(self.url.clone());
        let started = Instant::now();
        let output = Command::new("taskset")
            .args(["-c", self.ctx.generator_cpus])
            .args(&argv)
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot start oha: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "oha failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).map_err(|e| format!("oha's report: {e}"))?;
        let ok = report["summary"]["successRate"].as_f64().unwrap_or(0.0);
        if ok < 1.0 {
            return Err(format!(
                "{:.2}% of the diagnosis' requests failed",
                (1.0 - ok) * 100.0
            ));
        }
        Ok(started.elapsed().as_secs_f64())
    }

    /// Exactly `n` requests over `connections` connections.
    fn requests(&self, n: u64, connections: u32) -> Result<(), String> {
        self.oha(&["-n".into(), n.to_string()], connections)
            .map(|_| ())
    }

    /// Exactly `n` requests at `per_second`, so the server waits between them.
    fn paced(&self, n: u64, per_second: u32, connections: u32) -> Result<(), String> {
        self.oha(
            &[
                "-n".into(),
                n.to_string(),
                "-q".into(),
                per_second.to_string(),
            ],
            connections,
        )
        .map(|_| ())
    }

    /// As many requests as fit in `seconds`.
    fn for_seconds(&self, seconds: f64, connections: u32) -> Result<(), String> {
        self.oha(
            &["-z".into(), format!("{}ms", (seconds * 1000.0) as u64)],
            connections,
        )
        .map(|_| ())
    }

    /// About as many requests as the server answers in a second at `connections` (100 to 2,000),
    /// from a first pass of 50.
    fn requests_for_a_second(&self, connections: u32) -> Result<u64, String> {
        let probe = 50;
        let took = self.oha(&["-n".into(), probe.to_string()], connections)?;
        Ok(((probe as f64 / took.max(1e-3)) as u64).clamp(100, 2000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_under_callgrind_says_what_stopped_it() {
        let avx = "==19935== Using Valgrind-3.19.0\nvex amd64->IR: unhandled instruction bytes: 0x62 0xF1 0xFF\n";
        assert!(callgrind_failure("exited", avx).contains("AVX-512"));
        let guest = "listening\nunexpected error when polling the I/O driver: Os { code: 20 }\n";
        assert!(callgrind_failure("failed", guest)
            .contains("does not run correctly under valgrind (unexpected error"));
        assert!(callgrind_failure("timed out", "").starts_with("under callgrind: timed out"));
        // wasmtime 49's own words, from this machine's logs.
        let cwasm = "Error: failed to load code for: x.bin\n\nCaused by:\n    0: compilation settings of module \
                     incompatible with native host\n    1: compilation setting \"has_avx512bitalg\" is enabled, but \
                     not available on the host\n";
        assert!(callgrind_failure("exited", cwasm)
            .contains("(has_avx512bitalg) that valgrind's virtual CPU lacks"));
        let pool = "Error: failed to create memory pool mapping\n\nCaused by:\n    0: mmap failed to reserve \
                    0x3efd2000000 bytes\n    1: Invalid argument (os error 22)\n";
        assert!(callgrind_failure("exited", pool)
            .contains("address space under valgrind (mmap failed to reserve 0x3efd2000000 bytes)"));
    }
}
