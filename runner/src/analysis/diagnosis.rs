//! Where the cost goes, from each server's diagnosis: system calls and instructions per request
//! (the difference between a pass of N requests and one of 2N, over N, so start-up and the edges
//! of a pass cancel), the CPU split into where it ran (from the profile's samples), each against
//! native's, and a sentence that says what differs.

use std::collections::BTreeMap;

use super::baseline::NATIVE;
use super::cell::CellFigures;
use crate::results::diagnosis::{
    Diagnosis, InstructionPasses, LeafSamples, PacedPass, ProfileRecord, SyscallPasses,
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
/// split by the paced passes into the calls a request makes and those that depend on timing.
#[derive(Debug, Clone, PartialEq)]
pub struct SyscallFigures {
    /// Every call, requests back to back (the slope between N and 2N).
    pub per_request: f64,
    pub by_name: Vec<(String, f64)>,
    /// Every call with the requests paced, per request (None without a paced pass).
    pub paced_per_request: Option<f64>,
    /// The calls that do not depend on timing, per request: the figure that repeats from run to
    /// run. Where the three paced passes ran (`alone`): the whole calls a request served on its
    /// own makes, not counting the calls made while the server waits; with one paced pass: the
    /// calls whose count per request was the same back to back and paced. None without a paced
    /// pass (runs before it existed).
    pub steady: Option<f64>,
    /// The calls in `steady` by name, largest first (every call, back to back, without a paced
    /// pass).
    pub steady_by_name: Vec<(String, f64)>,
    /// Whether `steady` counts requests served on their own (three paced passes).
    pub alone: bool,
    /// The calls whose count depends on timing, largest first.
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
    /// Its whole calls per request counted in `SyscallFigures::steady` (0 for a call made while
    /// the server waits).
    pub steady: f64,
    /// Whether it is made while the server waits: its count grows with the wait.
    pub waits: bool,
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

    /// Every call per request: (back to back, paced), where a paced pass ran.
    pub fn all_calls(&self) -> Option<(f64, f64)> {
        Some((self.per_request, self.paced_per_request?))
    }

    /// The calls made while the server waits, largest first.
    pub fn waiting_calls(&self) -> impl Iterator<Item = &TimingCall> {
        self.timing.iter().filter(|c| c.waits)
    }
}

/// Whether a call's count depends on timing rather than on the requests: its count per request
/// back to back and paced differ by at least 0.05 and by more than 10% (a call made while
/// waiting grows with the wait; a scheduler that spins under load makes fewer of some calls), or
/// the back-to-back passes are not proportional to their requests (the N pass's count is more
/// than 10% + 5 calls away from the N/2N slope's prediction, when a call per request plus the
/// pass's edges - an accept, a registration - would be within a few calls of it). For runs with
/// one paced pass; `grows_with_the_wait` and `whole_calls` decide where three ran.
pub fn depends_on_timing(back_to_back: f64, paced: f64, count_n: u64, edges: f64) -> bool {
    let diff = (paced - back_to_back).abs();
    let paced_differs = diff >= 0.05 && diff > 0.1 * back_to_back.max(paced);
    let not_proportional = edges.abs() > 0.1 * count_n as f64 + 5.0;
    paced_differs || not_proportional
}

/// A call's counts over three paced passes, each (requests, seconds, calls), as `per_request ·
/// requests + per_second · seconds + edges`: what each request makes, what the server makes each
/// second it waits, and what a pass's edges add. Three passes, three unknowns, solved exactly;
/// None when the passes cannot tell them apart (two of them alike).
pub fn by_request_and_by_wait(passes: [(f64, f64, f64); 3]) -> Option<(f64, f64)> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let rows = |column: usize| {
        passes.map(|(r, t, c)| {
            let mut row = [r, t, 1.0];
            if column < 3 {
                row[column] = c;
            }
            row
        })
    };
    let d = det(rows(3));
    // Against the size of its terms: zero but for rounding when the passes are alike.
    let scale = passes.iter().map(|p| p.0 * p.1).fold(0.0, f64::max);
    (d.abs() > 1e-9 * scale).then(|| (det(rows(0)) / d, det(rows(1)) / d))
}

/// Whether a call is made while the server waits rather than by the request: what the wait adds
/// per request at the paced spacing is at least 0.05 calls and over a quarter of the call's count
/// per request there. A call the request makes does not change when the wait doubles (what moves
/// it is noise of a few calls); a runtime that polls while it waits makes about twice as many.
pub fn grows_with_the_wait(per_request: f64, waiting_per_request: f64) -> bool {
    let wait = waiting_per_request.abs();
    let at_gap = (per_request + waiting_per_request).abs();
    wait >= 0.05 && wait > 0.25 * at_gap.max(per_request.abs())
}

/// The whole calls in a count per request of requests served one at a time: a request whose path
/// is always the same makes each call a whole number of times; what some requests make and
/// others do not (a thread woken or not, a timer) only adds calls, so the fraction above the
/// whole number depends on timing (wasmer's wake-ups: 4.3-4.6 writes per request from run to
/// run, always 4 whole). 0.05 below a whole number still counts it: what the passes' edges leave.
pub fn whole_calls(per_request: f64) -> f64 {
    (per_request.max(0.0) + 0.05).floor()
}

pub fn syscalls(p: &SyscallPasses) -> Option<SyscallFigures> {
    use crate::results::diagnosis::SyscallPass;
    let [a, b] = [p.passes.first()?, p.passes.get(1)?];
    let paced = p.paced.as_ref().and_then(|c| c.measured());
    let longer = p.paced_longer.as_ref().and_then(|c| c.measured());
    let names: std::collections::BTreeSet<&String> = a
        .counts
        .keys()
        .chain(b.counts.keys())
        .chain(paced.iter().flat_map(|x| x.pass.counts.keys()))
        .chain(longer.iter().flat_map(|x| {
            x.more_requests
                .pass
                .counts
                .keys()
                .chain(x.longer_gaps.pass.counts.keys())
        }))
        .collect();
    let count = |pass: &SyscallPass, name: &str| pass.counts.get(name).copied().unwrap_or(0);
    let mut by_name = Vec::new();
    let mut steady_by_name = Vec::new();
    let mut timing = Vec::new();
    let (mut steady, mut paced_total) = (0.0, 0.0);
    for name in names {
        let Some(per) = slope((a.requests, count(a, name)), (b.requests, count(b, name))) else {
            continue;
        };
        if per >= 0.005 {
            by_name.push((name.clone(), per));
        }
        let Some(paced) = paced else { continue };
        // This call per request paced, the part of it that is steady, whether it is made while
        // the server waits, and whether its count depends on timing.
        let (at_pace, whole, waits, is_timing) = match longer {
            Some(longer) => {
                let point = |p: &PacedPass| {
                    let requests = p.pass.requests as f64;
                    let seconds = requests / f64::from(p.per_second.max(1));
                    (requests, seconds, count(&p.pass, name) as f64)
                };
                let Some((per_request, per_second)) = by_request_and_by_wait([
                    point(paced),
                    point(&longer.more_requests),
                    point(&longer.longer_gaps),
                ]) else {
                    continue;
                };
                let waiting = per_second / f64::from(paced.per_second.max(1));
                let at_pace = (per_request + waiting).max(0.0);
                let waits = grows_with_the_wait(per_request, waiting);
                let whole = if waits { 0.0 } else { whole_calls(per_request) };
                let differs = |v: f64| (v - whole).abs() >= 0.05;
                (
                    at_pace,
                    whole,
                    waits,
                    waits || differs(at_pace) || differs(per),
                )
            }
            None => {
                // What the N pass made beyond its requests' share: the pass's own edges (an
                // accept, a registration, a shutdown). Up to 5 of them are taken off the paced
                // pass, whose fewer requests they would otherwise weigh on; a larger excess is
                // the slope's noise or calls that are not per request, and is left to the test.
                let edges = count(a, name) as f64 - per * a.requests as f64;
                let at_pace = (count(&paced.pass, name) as f64 - edges.clamp(0.0, 5.0)).max(0.0)
                    / paced.pass.requests.max(1) as f64;
                let timing = depends_on_timing(per, at_pace, count(a, name), edges);
                (at_pace, if timing { 0.0 } else { per }, timing, timing)
            }
        };
        paced_total += at_pace;
        steady += whole;
        if whole >= 0.005 {
            steady_by_name.push((name.clone(), whole));
        }
        // A few calls at a pass's edge either way: nothing per request.
        if is_timing && per.max(at_pace) >= 0.005 {
            timing.push(TimingCall {
                name: name.clone(),
                back_to_back: per,
                paced: at_pace,
                steady: whole,
                waits,
            });
        }
    }
    let largest_first = |v: &mut Vec<(String, f64)>| {
        v.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    };
    largest_first(&mut by_name);
    largest_first(&mut steady_by_name);
    timing.sort_by(|x, y| {
        (y.back_to_back + y.paced)
            .total_cmp(&(x.back_to_back + x.paced))
            .then(x.name.cmp(&y.name))
    });
    let total = |pass: &SyscallPass| pass.counts.values().sum::<u64>();
    Some(SyscallFigures {
        per_request: slope((a.requests, total(a)), (b.requests, total(b)))?,
        steady_by_name: if paced.is_some() {
            steady_by_name
        } else {
            by_name.clone()
        },
        by_name,
        paced_per_request: paced.map(|_| paced_total),
        steady: paced.map(|_| steady),
        alone: paced.is_some() && longer.is_some(),
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
        .steady_by_name
        .iter()
        .chain(&native.steady_by_name)
        .map(|(n, _)| n)
        .collect();
    // A call's steady count: none where it depends on timing (those are told apart below).
    let get = |f: &SyscallFigures, n: &str| {
        f.steady_by_name
            .iter()
            .find(|(m, _)| m == n)
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
    let alone = split && mine.alone && native.alone;
    let mine_count = count(if split {
        mine.repeatable()
    } else {
        mine.per_request
    });
    let one = mine_count == "1";
    let what = match (alone, split, one) {
        (true, _, true) => "whole system call per request served on its own",
        (true, _, false) => "whole system calls per request served on its own",
        (false, true, true) => "system call per request that does not depend on timing",
        (false, true, false) => "system calls per request that do not depend on timing",
        (false, false, true) => "system call per request",
        (false, false, false) => "system calls per request",
    };
    let theirs = count(if split {
        native.repeatable()
    } else {
        native.per_request
    });
    let names = |calls: &mut dyn Iterator<Item = &TimingCall>| {
        calls
            .take(5)
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let timing = match (mine.all_calls(), mine.paced_gap_ms) {
        (Some((back, paced)), Some(gap)) if alone => {
            let waiting = names(&mut mine.waiting_calls());
            format!(
                "; in all {} per request back to back and {} with requests {} ms apart{}",
                count(back),
                count(paced),
                count(gap),
                if waiting.is_empty() {
                    String::new()
                } else {
                    format!(", with the calls it makes while it waits ({waiting})")
                }
            )
        }
        _ => match (mine.timing_totals(), mine.paced_gap_ms) {
            (Some((back, paced)), Some(gap)) if split => format!(
                "; and {} per request back to back, {} with requests {} ms apart, that do ({}): calls made \
                 while it waits or its scheduler runs, not by the request",
                count(back),
                count(paced),
                count(gap),
                names(&mut mine.timing.iter())
            ),
            _ => String::new(),
        },
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
            paced_longer: None,
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
            paced_longer: None,
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
            paced_longer: None,
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

    /// System calls of a real server recorded on this machine kind by `matrix diagnose`: back to
    /// back N and 2N, then paced at a rate, twice the requests at it, the first pass's requests at
    /// half the rate.
    fn served_alone(server: &str) -> SyscallPasses {
        let recorded: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/syscalls-served-alone.json"
        ))
        .unwrap();
        serde_json::from_value(recorded[server].clone()).unwrap()
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
            paced_longer: None,
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
            paced_longer: None,
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
        let is_timing = |name: &str| m.timing.iter().any(|c| c.name == name);
        assert!(is_timing("write") && is_timing("accept4"));
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
            paced_longer: None,
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
            paced_longer: None,
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

    #[test]
    fn requests_served_alone_count_the_same_whole_calls_run_after_run() {
        let native = syscalls(&served_alone("rust-native")).unwrap();
        assert!(native.alone && native.steady == Some(3.0), "{native:?}");
        assert!(native.timing.is_empty(), "{native:?}");
        // Go: read, epoll_pwait and futex twice, write and nanosleep once per request served
        // alone, 8 whole calls, though back to back it makes ~6: its scheduler finds work
        // without sleeping (fewer futex and nanosleep) and some reads find the next request.
        let go = syscalls(&served_alone("go-native")).unwrap();
        assert_eq!(go.steady, Some(8.0), "{go:?}");
        let named = |f: &SyscallFigures| {
            f.steady_by_name
                .iter()
                .map(|(n, v)| format!("{n} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        assert_eq!(
            named(&go),
            "epoll_pwait 2, futex 2, read 2, nanosleep 1, write 1"
        );
        let (back, paced) = go.all_calls().unwrap();
        assert!(
            (back - 6.2).abs() < 0.1 && (paced - 7.95).abs() < 0.1,
            "{back} {paced}"
        );
        assert!(go.waiting_calls().next().is_none(), "{go:?}");
        // wasmer, two runs ~30 min apart: accept4, poll and recvfrom return EAGAIN while it
        // waits (they grow with the wait) and are left out; its threads wake each other 4.3-4.6
        // (write) and 5.4-5.7 (epoll_wait) times per request, counted whole: the same figure in
        // both runs though every count moved.
        for (first, second, steady, calls) in [
            (
                served_alone("rust-wasmer-first"),
                served_alone("rust-wasmer-second"),
                10.0,
                "epoll_wait 5, write 4, sendto 1",
            ),
            (
                served_alone("go-wasmer-first"),
                served_alone("go-wasmer-second"),
                22.0,
                "epoll_wait 7, write 5, recvfrom 4, accept4 3, futex 2, sendto 1",
            ),
        ] {
            let (a, b) = (syscalls(&first).unwrap(), syscalls(&second).unwrap());
            assert_eq!(
                (a.steady, b.steady),
                (Some(steady), Some(steady)),
                "{a:?} {b:?}"
            );
            assert_eq!(
                (named(&a), named(&b)),
                (calls.to_string(), calls.to_string())
            );
        }
        let m = syscalls(&served_alone("rust-wasmer-first")).unwrap();
        let waiting: Vec<&str> = m.waiting_calls().map(|c| c.name.as_str()).collect();
        assert_eq!(
            waiting,
            ["accept4", "recvfrom", "poll", "mprotect"],
            "{m:?}"
        );
        let write = m.timing.iter().find(|c| c.name == "write").unwrap();
        assert!(
            !write.waits && write.steady == 4.0 && write.paced > 4.5,
            "{write:?}"
        );
        // WasmEdge AOT: readv twice, writev once; its poll loop, hundreds of calls per request
        // paced and twice as many when the wait doubles, apart.
        let w = syscalls(&served_alone("rust-wasmedge")).unwrap();
        assert_eq!(w.steady, Some(3.0), "{w:?}");
        assert_eq!(w.waiting_calls().count(), 5);
        assert!(w.all_calls().unwrap().1 > 1000.0);
        let sentence = syscall_sentence("`wasmer`", &m, &native);
        assert_eq!(
            sentence,
            "`wasmer` makes 10 whole system calls per request served on its own against native's 3: \
             +4 epoll_wait, +4 write, −1 recvfrom; in all 13.8 per request back to back and 131.6 with \
             requests 2 ms apart, with the calls it makes while it waits (accept4, recvfrom, poll, mprotect)"
        );
    }

    #[test]
    fn three_paced_passes_split_calls_by_request_and_by_wait() {
        // 3 calls per request, 100 a second while waiting, 7 at the edges.
        let count = |requests: f64, seconds: f64| 3.0 * requests + 100.0 * seconds + 7.0;
        let (per_request, per_second) = by_request_and_by_wait([
            (250.0, 0.5, count(250.0, 0.5)),
            (500.0, 1.0, count(500.0, 1.0)),
            (250.0, 1.0, count(250.0, 1.0)),
        ])
        .unwrap();
        assert!((per_request - 3.0).abs() < 1e-9 && (per_second - 100.0).abs() < 1e-9);
        // Passes that cannot tell requests from seconds apart.
        assert_eq!(
            by_request_and_by_wait([(250.0, 0.5, 1.0), (500.0, 1.0, 2.0), (1000.0, 2.0, 4.0)]),
            None
        );
        // A polling runtime: twice the calls when the wait doubles; a request's own calls, and a
        // few extra when the wait doubles: not.
        assert!(grows_with_the_wait(0.3, 120.0));
        assert!(!grows_with_the_wait(2.0, 0.044));
        assert!(!grows_with_the_wait(7.48, 0.48));
        assert!(grows_with_the_wait(0.0, 0.22));
        // Whole calls: the fraction some requests add is left out, what the edges take is not.
        assert_eq!(whole_calls(5.6), 5.0);
        assert_eq!(whole_calls(2.104), 2.0);
        assert_eq!(whole_calls(1.992), 2.0);
        assert_eq!(whole_calls(0.19), 0.0);
        assert_eq!(whole_calls(-0.2), 0.0);
    }
}
