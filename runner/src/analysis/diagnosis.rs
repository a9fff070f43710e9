//! Where the cost goes, from each server's diagnosis: system calls and instructions per request
//! (the difference between a pass of N requests and one of 2N, over N, so start-up and the edges
//! of a pass cancel), the CPU split into where it ran (from the profile's samples), each against
//! native's, and a sentence that says what differs.

use std::collections::BTreeMap;

use super::baseline::NATIVE;
use super::cell::CellFigures;
use crate::results::diagnosis::{
    Diagnosis, InstructionPasses, LeafSamples, ProfileRecord, SyscallPasses,
};
use crate::results::CellResult;

/// A change in instructions per request this large is real whatever the machine: the count of
/// the same build, release, mode and load repeats within a fraction of that.
pub const INSTRUCTIONS_CHANGE: f64 = 0.01;

/// Where a sample's CPU time went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bucket {
    /// The server's own code: the wasm guest's compiled functions, or a native server's binary.
    Guest,
    /// The runtime's own code (its binary and libraries): host calls, the event loop, the JIT.
    Runtime,
    /// libc, the loader and the vDSO.
    System,
    /// The kernel, on the serving thread (system calls, network stack, page faults).
    Kernel,
    /// Code perf could not name (JIT code without a perf map).
    Unnamed,
    /// Every other thread of the server (a runtime's I/O threads, its compiler, GC).
    OtherThreads,
}

impl Bucket {
    pub const ALL: [Bucket; 6] = [
        Bucket::Guest,
        Bucket::Runtime,
        Bucket::System,
        Bucket::Kernel,
        Bucket::Unnamed,
        Bucket::OtherThreads,
    ];

    /// Its figure's name in the exports.
    pub fn metric(self) -> &'static str {
        match self {
            Bucket::Guest => "cpu_us_guest",
            Bucket::Runtime => "cpu_us_runtime",
            Bucket::System => "cpu_us_libc",
            Bucket::Kernel => "cpu_us_kernel",
            Bucket::Unnamed => "cpu_us_unnamed",
            Bucket::OtherThreads => "cpu_us_other_threads",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Bucket::Guest => "guest code",
            Bucket::Runtime => "runtime",
            Bucket::System => "libc",
            Bucket::Kernel => "kernel",
            Bucket::Unnamed => "unnamed",
            Bucket::OtherThreads => "other threads",
        }
    }
}

/// Which bucket an innermost frame's object belongs to, on the serving thread.
pub fn bucket(object: &str, profile: &ProfileRecord) -> Bucket {
    let file = object.rsplit('/').next().unwrap_or(object);
    if object.starts_with("[kernel") {
        Bucket::Kernel
    } else if file.starts_with("perf-") && file.ends_with(".map") {
        // JIT code named through the runtime's perf map (its path may be published anonymized).
        Bucket::Guest
    } else if profile
        .guest_objects
        .iter()
        .any(|g| g == object || same_file(g, object))
    {
        Bucket::Guest
    } else if file.starts_with("libc.so")
        || file.starts_with("ld-linux")
        || file == "[vdso]"
        || file.starts_with("libm.so")
    {
        Bucket::System
    } else if object == "[unknown]" {
        Bucket::Unnamed
    } else {
        Bucket::Runtime
    }
}

fn same_file(a: &str, b: &str) -> bool {
    let canon = |p: &str| std::fs::canonicalize(p).ok();
    canon(a).is_some_and(|x| Some(x) == canon(b))
}

/// The CPU split of a profile: each bucket's share of all samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub samples: u64,
    pub shares: BTreeMap<Bucket, f64>,
}

pub fn breakdown(profile: &ProfileRecord) -> Option<Breakdown> {
    let total: u64 = profile.samples.iter().map(|s| s.count).sum();
    if total == 0 {
        return None;
    }
    let serving = serving_thread(&profile.samples);
    let mut counts: BTreeMap<Bucket, u64> = BTreeMap::new();
    for s in &profile.samples {
        let b = if s.tid == serving {
            bucket(&s.object, profile)
        } else {
            Bucket::OtherThreads
        };
        *counts.entry(b).or_default() += s.count;
    }
    Some(Breakdown {
        samples: total,
        shares: Bucket::ALL
            .iter()
            .map(|b| {
                (
                    *b,
                    counts.get(b).copied().unwrap_or(0) as f64 / total as f64,
                )
            })
            .collect(),
    })
}

/// The thread with the most samples: the one serving requests.
fn serving_thread(samples: &[LeafSamples]) -> i32 {
    let mut per: BTreeMap<i32, u64> = BTreeMap::new();
    for s in samples {
        *per.entry(s.tid).or_default() += s.count;
    }
    per.into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or(0, |(tid, _)| tid)
}

/// Per request: the difference between the larger and the smaller pass, over their difference
/// in requests.
fn slope(a: (u64, u64), b: (u64, u64)) -> Option<f64> {
    let (small, large) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    let requests = large.0.checked_sub(small.0).filter(|n| *n > 0)?;
    Some((large.1 as f64 - small.1 as f64).max(0.0) / requests as f64)
}

/// System calls per request: every call back to back, in all and by name (largest first), and
/// split by the paced pass into the calls that do not depend on timing and those that do.
#[derive(Debug, Clone, PartialEq)]
pub struct SyscallFigures {
    /// Every call, requests back to back (the slope between N and 2N).
    pub per_request: f64,
    pub by_name: Vec<(String, f64)>,
    /// The calls whose count per request is the same back to back and paced: the figure that
    /// repeats from run to run. None without a paced pass (runs before it existed).
    pub steady: Option<f64>,
    /// The calls whose count per request moves with the time between requests, largest first.
    pub timing: Vec<TimingCall>,
    /// Milliseconds between the paced pass's requests.
    pub paced_gap_ms: Option<f64>,
}

/// A call whose count depends on timing: per request back to back, and with requests paced.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingCall {
    pub name: String,
    pub back_to_back: f64,
    pub paced: f64,
}

impl SyscallFigures {
    /// The per-request figure to compare and publish: the steady calls where the paced pass
    /// told them apart, else every call.
    pub fn repeatable(&self) -> f64 {
        self.steady.unwrap_or(self.per_request)
    }

    /// The calls that depend on timing, per request: (back to back, paced).
    pub fn timing_totals(&self) -> Option<(f64, f64)> {
        (!self.timing.is_empty()).then(|| {
            self.timing
                .iter()
                .fold((0.0, 0.0), |(a, p), c| (a + c.back_to_back, p + c.paced))
        })
    }

    /// Whether the call `name` depends on timing.
    pub fn is_timing(&self, name: &str) -> bool {
        self.timing.iter().any(|c| c.name == name)
    }
}

/// Whether a call's count depends on timing rather than on the requests: its count per request
/// back to back and paced differ by at least 0.05 and by more than 10% (a call made while
/// waiting grows with the wait; a scheduler that spins under load makes fewer of some calls), or
/// the back-to-back passes are not proportional to their requests (the N pass's count is more
/// than 10% + 5 calls away from the N/2N slope's prediction, when a call per request plus the
/// pass's edges - an accept, a registration - would be within a few calls of it).
pub fn depends_on_timing(back_to_back: f64, paced: f64, count_n: u64, edges: f64) -> bool {
    let diff = (paced - back_to_back).abs();
    let paced_differs = diff >= 0.05 && diff > 0.1 * back_to_back.max(paced);
    let not_proportional = edges.abs() > 0.1 * count_n as f64 + 5.0;
    paced_differs || not_proportional
}

pub fn syscalls(p: &SyscallPasses) -> Option<SyscallFigures> {
    use crate::results::diagnosis::SyscallPass;
    let [a, b] = [p.passes.first()?, p.passes.get(1)?];
    let paced = p.paced.as_ref().and_then(|c| c.measured());
    let names: std::collections::BTreeSet<&String> = a
        .counts
        .keys()
        .chain(b.counts.keys())
        .chain(paced.iter().flat_map(|x| x.pass.counts.keys()))
        .collect();
    let count = |pass: &SyscallPass, name: &str| pass.counts.get(name).copied().unwrap_or(0);
    let mut by_name = Vec::new();
    let mut timing = Vec::new();
    let mut steady = 0.0;
    for name in names {
        let Some(per) = slope((a.requests, count(a, name)), (b.requests, count(b, name))) else {
            continue;
        };
        if per >= 0.005 {
            by_name.push((name.clone(), per));
        }
        let Some(paced) = paced else { continue };
        // What the N pass made beyond its requests' share: the pass's own edges (an accept, a
        // registration, a shutdown). Up to 5 of them are taken off the paced pass, whose fewer
        // requests they would otherwise weigh on; a larger excess is the slope's noise or
        // calls that are not per request, and is left to the test below.
        let edges = count(a, name) as f64 - per * a.requests as f64;
        let at_pace = (count(&paced.pass, name) as f64 - edges.clamp(0.0, 5.0)).max(0.0)
            / paced.pass.requests.max(1) as f64;
        if depends_on_timing(per, at_pace, count(a, name), edges) {
            if per.max(at_pace) < 0.005 {
                // A few calls at a pass's edge either way: nothing per request.
                continue;
            }
            timing.push(TimingCall {
                name: name.clone(),
                back_to_back: per,
                paced: at_pace,
            });
        } else {
            steady += per;
        }
    }
    by_name.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    timing.sort_by(|x, y| {
        (y.back_to_back + y.paced)
            .total_cmp(&(x.back_to_back + x.paced))
            .then(x.name.cmp(&y.name))
    });
    let total = |pass: &SyscallPass| pass.counts.values().sum::<u64>();
    Some(SyscallFigures {
        per_request: slope((a.requests, total(a)), (b.requests, total(b)))?,
        by_name,
        steady: paced.map(|_| steady),
        timing,
        paced_gap_ms: paced.map(|x| 1000.0 / f64::from(x.per_second.max(1))),
    })
}

pub fn instructions(p: &InstructionPasses) -> Option<f64> {
    slope(*p.passes.first()?, *p.passes.get(1)?)
}

/// One server's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnosisFigures {
    pub key: String,
    /// The diagnosed cell's index in the run.
    pub cell: usize,
    pub syscalls: Result<SyscallFigures, String>,
    pub instructions: Result<f64, String>,
    /// The run the instruction count was made in, when reused from an earlier one.
    pub instructions_reused_from: Option<String>,
    /// What the runtime was given only under valgrind for the instruction count.
    pub instructions_runtime_args: Vec<String>,
    pub breakdown: Result<Breakdown, String>,
    pub flamegraph: Option<String>,
    /// The cell's CPU per request (µs, median over rounds), which the breakdown splits.
    pub cpu_us: Option<f64>,
    /// Against the native diagnosis of the same server and workload.
    pub native: Option<usize>,
}

impl DiagnosisFigures {
    /// CPU per request spent in `bucket` (µs).
    pub fn cpu_in(&self, bucket: Bucket) -> Option<f64> {
        Some(self.cpu_us? * self.breakdown.as_ref().ok()?.shares.get(&bucket)?)
    }
}

/// Every diagnosed server's figures, in the run's order, each paired with its native baseline's.
pub fn figures(
    cells: &[CellResult],
    cell_figures: &[CellFigures],
    diagnoses: &[Diagnosis],
) -> Vec<DiagnosisFigures> {
    let mut out: Vec<DiagnosisFigures> = diagnoses
        .iter()
        .filter_map(|d| {
            let cell = cells.iter().position(|c| c.id == d.cell)?;
            let reason = |r: Option<&str>| r.unwrap_or("not measured").to_string();
            Some(DiagnosisFigures {
                key: d.key.clone(),
                cell,
                syscalls: d
                    .syscalls
                    .measured()
                    .and_then(syscalls)
                    .ok_or_else(|| reason(d.syscalls.reason())),
                instructions: d
                    .instructions
                    .measured()
                    .and_then(instructions)
                    .ok_or_else(|| reason(d.instructions.reason())),
                instructions_reused_from: d
                    .instructions
                    .measured()
                    .and_then(|p| p.reused_from.clone()),
                instructions_runtime_args: d
                    .instructions
                    .measured()
                    .map(|p| p.runtime_args.clone())
                    .unwrap_or_default(),
                breakdown: d
                    .profile
                    .measured()
                    .and_then(breakdown)
                    .ok_or_else(|| reason(d.profile.reason())),
                flamegraph: d.profile.measured().and_then(|p| p.flamegraph.clone()),
                cpu_us: cell_figures[cell].metrics.server_cpu_us_per_request,
                native: None,
            })
        })
        .collect();
    let natives: Vec<Option<usize>> = out
        .iter()
        .map(|f| {
            let cell = &cells[f.cell];
            out.iter().position(|n| {
                let c = &cells[n.cell];
                NATIVE.is_baseline(c) && c.server == cell.server && c.workload == cell.workload
            })
        })
        .collect();
    for (f, native) in out.iter_mut().zip(natives) {
        f.native = native;
    }
    out
}

/// "makes 7 system calls per request against native's 3: +2 poll, +1 read, +1 clock_gettime",
/// counting the calls that do not depend on timing where the paced pass told them apart, then
/// the ones that do.
pub fn syscall_sentence(label: &str, mine: &SyscallFigures, native: &SyscallFigures) -> String {
    let names: std::collections::BTreeSet<&String> = mine
        .by_name
        .iter()
        .chain(&native.by_name)
        .map(|(n, _)| n)
        .collect();
    // A call's steady count: none where it depends on timing (those are told apart below).
    let get = |f: &SyscallFigures, n: &str| {
        f.by_name
            .iter()
            .find(|(m, _)| m == n && !f.is_timing(n))
            .map_or(0.0, |(_, v)| *v)
    };
    let mut diffs: Vec<(&String, f64)> = names
        .into_iter()
        .map(|n| (n, get(mine, n) - get(native, n)))
        .filter(|(_, d)| d.abs() >= 0.05)
        .collect();
    diffs.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(b.0)));
    let count = |v: f64| {
        if (v - v.round()).abs() < 0.05 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    let listed: Vec<String> = diffs
        .iter()
        .take(5)
        .map(|(n, d)| format!("{}{} {n}", if *d > 0.0 { "+" } else { "−" }, count(d.abs())))
        .collect();
    let differences = if listed.is_empty() {
        String::from(": the same calls")
    } else {
        format!(": {}", listed.join(", "))
    };
    let split = mine.steady.is_some() && native.steady.is_some();
    let mine_count = count(if split {
        mine.repeatable()
    } else {
        mine.per_request
    });
    let what = match (split, mine_count == "1") {
        (true, true) => "system call per request that does not depend on timing",
        (true, false) => "system calls per request that do not depend on timing",
        (false, true) => "system call per request",
        (false, false) => "system calls per request",
    };
    let theirs = count(if split {
        native.repeatable()
    } else {
        native.per_request
    });
    let timing = match (mine.timing_totals(), mine.paced_gap_ms) {
        (Some((back, paced)), Some(gap)) if split => {
            let names: Vec<&str> = mine
                .timing
                .iter()
                .take(5)
                .map(|c| c.name.as_str())
                .collect();
            format!(
                "; and {} per request back to back, {} with requests {} ms apart, that do ({}): calls made \
                 while it waits or its scheduler runs, not by the request",
                count(back),
                count(paced),
                count(gap),
                names.join(", ")
            )
        }
        _ => String::new(),
    };
    format!("{label} makes {mine_count} {what} against native's {theirs}{differences}{timing}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::diagnosis::{Counted, PacedPass, SyscallPass};

    fn pass(requests: u64, counts: &[(&str, u64)]) -> SyscallPass {
        SyscallPass {
            requests,
            counts: counts.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
        }
    }

    /// Native, one request at a time over 2,000 and 4,000 requests (recorded on this machine kind):
    /// exactly epoll_wait, recvfrom and sendto per request; the pass's own edges cancel.
    #[test]
    fn calls_per_request_are_the_slope_between_the_passes() {
        let native = SyscallPasses {
            connections: 1,
            passes: vec![
                pass(
                    2000,
                    &[
                        ("epoll_wait", 2003),
                        ("recvfrom", 2002),
                        ("sendto", 2000),
                        ("accept4", 2),
                        ("write", 1),
                    ],
                ),
                pass(
                    4000,
                    &[
                        ("epoll_wait", 4003),
                        ("recvfrom", 4002),
                        ("sendto", 4000),
                        ("accept4", 2),
                        ("write", 1),
                    ],
                ),
            ],
            paced: None,
        };
        let f = syscalls(&native).unwrap();
        assert!((f.per_request - 3.0).abs() < 1e-9, "{f:?}");
        assert_eq!(
            f.by_name
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["epoll_wait", "recvfrom", "sendto"]
        );
        let wasm = SyscallPasses {
            connections: 1,
            passes: vec![
                pass(
                    1000,
                    &[
                        ("epoll_wait", 1001),
                        ("recvfrom", 2002),
                        ("sendto", 1000),
                        ("futex", 2010),
                        ("clock_gettime", 3),
                    ],
                ),
                pass(
                    2000,
                    &[
                        ("epoll_wait", 2001),
                        ("recvfrom", 4002),
                        ("sendto", 2000),
                        ("futex", 4010),
                        ("clock_gettime", 3),
                    ],
                ),
            ],
            paced: None,
        };
        let w = syscalls(&wasm).unwrap();
        assert!((w.per_request - 6.0).abs() < 1e-9);
        let sentence = syscall_sentence("`wasmtime run`", &w, &f);
        assert_eq!(sentence, "`wasmtime run` makes 6 system calls per request against native's 3: +2 futex, +1 recvfrom");
    }

    fn paced(requests: u64, per_second: u32, counts: &[(&str, u64)]) -> Option<Counted<PacedPass>> {
        Some(Counted::Measured(PacedPass {
            per_second,
            pass: pass(requests, counts),
        }))
    }

    /// Recorded on this machine kind, one request at a time (calls under 20 in a pass left out).
    /// Native Rust: the same 3 calls per request back to back and 2 ms apart.
    fn native_rust() -> SyscallPasses {
        SyscallPasses {
            connections: 1,
            passes: vec![
                pass(
                    1000,
                    &[("epoll_wait", 1002), ("recvfrom", 1001), ("sendto", 1000)],
                ),
                pass(
                    2000,
                    &[("epoll_wait", 2002), ("recvfrom", 2001), ("sendto", 2000)],
                ),
            ],
            paced: paced(
                500,
                500,
                &[("epoll_wait", 502), ("recvfrom", 502), ("sendto", 500)],
            ),
        }
    }

    #[test]
    fn calls_made_while_waiting_are_told_apart_from_calls_per_request() {
        let native = syscalls(&native_rust()).unwrap();
        assert!((native.repeatable() - 3.0).abs() < 1e-9, "{native:?}");
        assert!(native.timing.is_empty());
        assert_eq!(native.paced_gap_ms, Some(2.0));
        // WasmEdge AOT (Rust), from `matrix diagnose`: readv twice and writev once per request;
        // its poll loop (epoll_ctl, timerfd_settime, ioctl, getsockopt, epoll_wait) runs ~20x more
        // often per request once requests are 2 ms apart, and is not proportional to requests
        // even back to back.
        let wasmedge = SyscallPasses {
            connections: 1,
            passes: vec![
                pass(
                    2000,
                    &[
                        ("accept", 2),
                        ("close", 1),
                        ("epoll_ctl", 28701),
                        ("epoll_wait", 4784),
                        ("fcntl", 2),
                        ("getsockopt", 4783),
                        ("ioctl", 6784),
                        ("newfstatat", 1),
                        ("readv", 4001),
                        ("shutdown", 1),
                        ("timerfd_settime", 9566),
                        ("writev", 2000),
                    ],
                ),
                pass(
                    4000,
                    &[
                        ("accept", 2),
                        ("close", 1),
                        ("epoll_ctl", 73887),
                        ("epoll_wait", 12315),
                        ("fcntl", 2),
                        ("getsockopt", 12314),
                        ("ioctl", 16315),
                        ("newfstatat", 1),
                        ("readv", 8001),
                        ("shutdown", 1),
                        ("timerfd_settime", 24628),
                        ("writev", 4000),
                    ],
                ),
            ],
            paced: paced(
                250,
                500,
                &[
                    ("accept", 2),
                    ("close", 1),
                    ("epoll_ctl", 131949),
                    ("epoll_wait", 21992),
                    ("fcntl", 2),
                    ("getsockopt", 21991),
                    ("ioctl", 22242),
                    ("newfstatat", 1),
                    ("readv", 501),
                    ("shutdown", 1),
                    ("timerfd_settime", 43982),
                    ("writev", 250),
                ],
            ),
        };
        let w = syscalls(&wasmedge).unwrap();
        assert!((w.repeatable() - 3.0).abs() < 1e-9, "{w:?}");
        let names: Vec<&str> = w.timing.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "epoll_ctl",
                "timerfd_settime",
                "ioctl",
                "epoll_wait",
                "getsockopt"
            ]
        );
        let (back, at_pace) = w.timing_totals().unwrap();
        assert!(back > 40.0 && at_pace > 900.0, "{back} {at_pace}");
        // wasmer (Rust): one sendto per request; accept4, poll and recvfrom return EAGAIN while it
        // waits, and write's count is not proportional to requests even back to back.
        let wasmer = SyscallPasses {
            connections: 1,
            passes: vec![
                pass(
                    1000,
                    &[
                        ("write", 3555),
                        ("epoll_wait", 4523),
                        ("recvfrom", 3684),
                        ("sendto", 1000),
                        ("poll", 2682),
                        ("futex", 31),
                        ("accept4", 5368),
                    ],
                ),
                pass(
                    2000,
                    &[
                        ("write", 6484),
                        ("epoll_wait", 8137),
                        ("recvfrom", 6570),
                        ("sendto", 2000),
                        ("poll", 4568),
                        ("futex", 61),
                        ("accept4", 9140),
                    ],
                ),
            ],
            paced: paced(
                500,
                500,
                &[
                    ("write", 2225),
                    ("epoll_wait", 2759),
                    ("recvfrom", 20968),
                    ("sendto", 500),
                    ("poll", 20466),
                    ("futex", 74),
                    ("accept4", 40936),
                ],
            ),
        };
        let m = syscalls(&wasmer).unwrap();
        assert!((m.repeatable() - 1.0).abs() < 1e-9, "{m:?}");
        assert_eq!(m.timing.len(), 6);
        assert!(m.is_timing("write") && m.is_timing("accept4"));
        let sentence = syscall_sentence("`wasmer`", &m, &native);
        assert!(
            sentence.starts_with(
                "`wasmer` makes 1 system call per request that does not depend on timing against native's 3: \
                 −1 epoll_wait, −1 recvfrom; and "
            ),
            "{sentence}"
        );
        assert!(
            sentence.contains("with requests 2 ms apart, that do (accept4, "),
            "{sentence}"
        );
        // Go (native): back to back its scheduler finds work without sleeping (fewer futex and
        // nanosleep, some sched_yield); paced, 8 calls per request. read and write are per request.
        let go = SyscallPasses {
            connections: 1,
            passes: vec![
                pass(
                    1000,
                    &[
                        ("epoll_pwait", 1996),
                        ("nanosleep", 514),
                        ("write", 1000),
                        ("read", 1998),
                        ("sched_yield", 491),
                        ("futex", 1018),
                    ],
                ),
                pass(
                    2000,
                    &[
                        ("epoll_pwait", 3940),
                        ("nanosleep", 1075),
                        ("write", 2000),
                        ("read", 3961),
                        ("sched_yield", 877),
                        ("futex", 1942),
                    ],
                ),
            ],
            paced: paced(
                500,
                500,
                &[
                    ("epoll_pwait", 1002),
                    ("nanosleep", 501),
                    ("write", 500),
                    ("read", 1001),
                    ("futex", 1000),
                ],
            ),
        };
        let g = syscalls(&go).unwrap();
        let names: Vec<&str> = g.timing.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["futex", "nanosleep", "sched_yield"], "{g:?}");
        assert!(
            (g.repeatable() - (1.944 + 1.0 + 1.963)).abs() < 1e-9,
            "{g:?}"
        );
        // A slow server paced at 25 requests: the pass's accept, registration and shutdown are
        // edges, not calls that depend on timing.
        let slow = SyscallPasses {
            connections: 1,
            passes: vec![
                pass(
                    100,
                    &[
                        ("accept4", 2),
                        ("epoll_ctl", 2),
                        ("shutdown", 1),
                        ("sendto", 200),
                    ],
                ),
                pass(
                    200,
                    &[
                        ("accept4", 2),
                        ("epoll_ctl", 2),
                        ("shutdown", 1),
                        ("sendto", 400),
                    ],
                ),
            ],
            paced: paced(
                25,
                25,
                &[
                    ("accept4", 2),
                    ("epoll_ctl", 2),
                    ("shutdown", 1),
                    ("sendto", 50),
                ],
            ),
        };
        let s = syscalls(&slow).unwrap();
        assert!(s.timing.is_empty() && s.repeatable() == 2.0, "{s:?}");
        // Runs before the paced pass existed keep their one figure.
        let old = SyscallPasses {
            paced: None,
            ..wasmer
        };
        let o = syscalls(&old).unwrap();
        assert_eq!((o.steady, o.repeatable()), (None, o.per_request));
        assert!(!syscall_sentence("x", &o, &native).contains("timing"));
    }

    #[test]
    fn a_call_depends_on_timing_when_its_rate_moves_with_the_spacing_or_the_passes_disagree() {
        // Per request at both spacings, a few calls at the edges: not timing.
        assert!(!depends_on_timing(3.0, 3.004, 3002, 2.0));
        assert!(!depends_on_timing(1.963, 2.0, 1998, 35.0));
        // A tenth of a call more per request: timing; a hundredth: not.
        assert!(depends_on_timing(1.0, 1.2, 1000, 0.0));
        assert!(!depends_on_timing(0.01, 0.03, 10, 0.0));
        // Back to back not proportional to requests.
        assert!(depends_on_timing(2.929, 3.198, 3555, 626.0));
        assert!(depends_on_timing(0.0, 0.0, 40, 40.0));
        assert!(!depends_on_timing(0.0, 0.0, 2, 2.0));
    }

    #[test]
    fn instructions_per_request_cancel_what_the_passes_share() {
        let p = InstructionPasses {
            connections: 1,
            passes: vec![(500, 6_000_999), (1000, 11_990_607)],
            options: vec![],
            runtime_args: Vec::new(),
            reused_from: None,
        };
        assert!((instructions(&p).unwrap() - 11_979.216).abs() < 1e-6);
    }

    /// `wasmtime run --profile=perfmap` under peak-50 (recorded): the serving thread's samples by
    /// the object they ran in; the I/O thread's are other threads'.
    #[test]
    fn samples_are_split_by_thread_and_by_the_object_they_ran_in() {
        let s = |tid, object: &str, count| LeafSamples {
            tid,
            object: object.into(),
            count,
        };
        let profile = ProfileRecord {
            connections: 50,
            seconds: 2.0,
            frequency_hz: 999,
            samples: vec![
                s(3882, "/tmp/perf-3882.map", 400),
                s(3882, "/opt/wasmtime/wasmtime", 300),
                s(3882, "[kernel.kallsyms]", 500),
                s(3882, "/usr/lib/x86_64-linux-gnu/libc.so.6", 100),
                s(3882, "[unknown]", 75),
                s(3884, "[kernel.kallsyms]", 100),
                s(3884, "/opt/wasmtime/wasmtime", 25),
            ],
            runtime_objects: vec!["/opt/wasmtime/wasmtime".into()],
            guest_objects: vec!["/x/server.wasm".into()],
            flamegraph: None,
        };
        let b = breakdown(&profile).unwrap();
        assert_eq!(b.samples, 1500);
        let share = |bucket| b.shares[&bucket];
        assert!((share(Bucket::Guest) - 400.0 / 1500.0).abs() < 1e-12);
        assert!((share(Bucket::Runtime) - 0.2).abs() < 1e-12);
        assert!((share(Bucket::Kernel) - 500.0 / 1500.0).abs() < 1e-12);
        assert!((share(Bucket::System) - 100.0 / 1500.0).abs() < 1e-12);
        assert!((share(Bucket::Unnamed) - 0.05).abs() < 1e-12);
        assert!((share(Bucket::OtherThreads) - 125.0 / 1500.0).abs() < 1e-12);
        // A native server's own binary is its guest code.
        let native = ProfileRecord {
            samples: vec![s(1, "/t/release/server", 60), s(1, "[kernel.kallsyms]", 40)],
            guest_objects: vec!["/t/release/server".into()],
            runtime_objects: vec![],
            ..profile
        };
        let b = breakdown(&native).unwrap();
        assert_eq!(
            (b.shares[&Bucket::Guest], b.shares[&Bucket::Kernel]),
            (0.6, 0.4)
        );
    }
}
