//! Reading what Linux's `perf` reports: `perf script` lines of the `raw_syscalls:sys_enter`
//! tracepoint (one per system call), and
//! `perf script` samples with their call chains (folded into flame-graph lines and counted by the
//! object their innermost frame ran in).

use std::collections::BTreeMap;

use crate::results::diagnosis::LeafSamples;

/// Calls by name from `perf script -F tid,trace` output of the `raw_syscalls:sys_enter`
/// tracepoint: one line per call, `<tid> NR <number> (<arguments>)`. Numbers are named from the
/// running architecture's table; one it does not know is kept as `syscall_<number>`.
pub fn syscall_counts(script: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in script.lines() {
        let number = line
            .split_once(" NR ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(number) = number {
            let name = syscalls::Sysno::new(number)
                .map_or_else(|| format!("syscall_{number}"), |s| s.name().to_string());
            *counts.entry(name).or_default() += 1;
        }
    }
    counts
}

/// One sample of `perf script -F tid,ip,sym,dso` with call chains: its thread, and its frames
/// innermost first as (symbol, object).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub tid: i32,
    pub frames: Vec<(String, String)>,
}

/// The samples of `perf script -F tid,ip,sym,dso` output (a header line with the thread id, then
/// one tab-indented line per frame: `address symbol (object)`, then a blank line).
pub fn samples(script: &str) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    for line in script.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('\t') {
            if let Some(sample) = out.last_mut() {
                sample.frames.push(frame(line.trim()));
            }
        } else if let Some(tid) = line.split_whitespace().next().and_then(|t| t.parse().ok()) {
            out.push(Sample {
                tid,
                frames: Vec::new(),
            });
        }
    }
    out
}

/// `7f8db813deda bench_server::serve_connection (/tmp/perf-3882.map)` -> (symbol, object).
fn frame(line: &str) -> (String, String) {
    let rest = line.split_once(' ').map_or("", |(_, r)| r);
    match rest.rsplit_once(" (") {
        Some((symbol, object)) => (
            symbol.trim().to_string(),
            object.trim_end_matches(')').to_string(),
        ),
        None => (rest.trim().to_string(), "[unknown]".to_string()),
    }
}

/// Samples counted by thread and by the object of their innermost frame.
pub fn leaf_counts(samples: &[Sample]) -> Vec<LeafSamples> {
    let mut counts: BTreeMap<(i32, String), u64> = BTreeMap::new();
    for s in samples {
        let object = s.frames.first().map_or("[unknown]", |(_, o)| o.as_str());
        *counts.entry((s.tid, object.to_string())).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((tid, object), count)| LeafSamples { tid, object, count })
        .collect()
}

/// Flame-graph lines ("outer;...;inner count"), each frame named `symbol [object]` with the
/// object's file name only; a thread's samples start with "thread N" so threads stay apart.
pub fn folded(samples: &[Sample]) -> Vec<String> {
    let mut stacks: BTreeMap<String, u64> = BTreeMap::new();
    for s in samples {
        let mut names = vec![format!("thread {}", s.tid)];
        names.extend(s.frames.iter().rev().map(|(symbol, object)| {
            let file = object.rsplit('/').next().unwrap_or(object);
            let symbol = if symbol.is_empty() || symbol == "[unknown]" {
                "?"
            } else {
                symbol
            };
            format!("{} [{file}]", symbol.replace(';', ":"))
        }));
        *stacks.entry(names.join(";")).or_default() += 1;
    }
    stacks
        .into_iter()
        .map(|(stack, n)| format!("{stack} {n}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `perf record -e raw_syscalls:sys_enter -p <native server>` over 3 requests on one
    /// connection, then `perf script -F trace:tid,trace`, recorded on this machine kind (x86_64).
    const RAW: &str = "\
 4357 NR 288 (3, 7fff260ac678, 7fff260acfa0, 80800, 0, 0)
 4357 NR 233 (6, 1, 7, 7fff260ac678, 7, 5597c8eff590)
 4357 NR 54 (7, 6, 1, 7fff260ac544, 4, c8eff398)
 4357 NR 288 (3, 7fff260ac678, 7fff260acfa0, 80800, 0, 5597c8eff680)
 4357 NR 45 (7, 5597c8f02090, 2000, 0, 0, 0)
 4357 NR 1 (5, 7fff260acc20, 8, 1, d35435f, 0)
 4357 NR 232 (4, 5597c8ef9e90, 400, 1af9, 6, 0)
 4357 NR 232 (4, 5597c8ef9e90, 400, 1af9, 6, 0)
 4357 NR 45 (7, 5597c8f02090, 2000, 0, 0, 0)
 4357 NR 44 (7, 5597c8f02090, 89, 4000, 0, 0)
 4357 NR 232 (4, 5597c8ef9e90, 400, 1af9, 6, 0)
 4357 NR 45 (7, 5597c8f04350, 2000, 0, 0, 0)
 4357 NR 44 (7, 5597c8f02090, 89, 4000, 0, 0)
 4357 NR 232 (4, 5597c8ef9e90, 400, 1af9, 6, 0)
 4357 NR 45 (7, 5597c8f06610, 2000, 0, 0, 0)
 4357 NR 44 (7, 5597c8f02090, 89, 4000, 0, 0)
 4357 NR 232 (4, 5597c8ef9e90, 400, 1af8, 6, 0)
 4357 NR 45 (7, 5597c8f04350, 2000, 0, 0, 0)
 4357 NR 48 (7, 1, 0, c0622994ec7c92a1, 8, 5597c8ef9d60)
 4357 NR 233 (6, 2, 7, 0, 8, 5597c8ef9d60)
 4357 NR 3 (7, 2, 5597c8efef3c, 0, 8, 5597c8ef9d60)
 4357 NR 232 (4, 5597c8ef9e90, 400, ffffffff, 7, 5597c8efcea0)
 4357 NR 4242 (0, 0, 0, 0, 0, 0)
";

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn syscall_counts_are_read_by_name() {
        let c = syscall_counts(RAW);
        assert_eq!(c["recvfrom"], 5, "{c:?}");
        assert_eq!(c["sendto"], 3);
        assert_eq!(c["epoll_wait"], 6);
        assert_eq!((c["accept4"], c["epoll_ctl"], c["setsockopt"]), (2, 2, 1));
        assert_eq!((c["write"], c["shutdown"], c["close"]), (1, 1, 1));
        assert_eq!(
            c["syscall_4242"], 1,
            "an unknown number is kept, not dropped"
        );
        assert_eq!(c.values().sum::<u64>(), 23);
    }

    /// `perf script -F tid,ip,sym,dso` of `wasmtime run --profile=perfmap`, recorded here.
    const SCRIPT: &str = "   3882 \n\
        \t         1c316c0 tokio::time::timeout::poll_delay (/opt/wasmtime/wasmtime)\n\
        \t    55b8e9d075e0 [unknown] ([unknown])\n\
        \n\
        \x20  3882 \n\
        \tffffffff8206f1ab tcp_sendmsg ([kernel.kallsyms])\n\
        \tffffffff81e80b99 __sys_sendto ([kernel.kallsyms])\n\
        \t          10aba4 __send (/usr/lib/x86_64-linux-gnu/libc.so.6)\n\
        \n\
        \x20  3882 \n\
        \t    7f8db813deda bench_server::serve_connection::{closure#0} (/tmp/perf-3882.map)\n\
        \t    7f8db811899b bench_server::run (/tmp/perf-3882.map)\n\
        \n\
        \x20  3884 \n\
        \tffffffff8225bc41 do_syscall_64 ([kernel.kallsyms])\n\n";

    #[test]
    fn samples_are_read_and_counted_by_thread_and_innermost_object() {
        let s = samples(SCRIPT);
        assert_eq!(s.len(), 4);
        assert_eq!(
            s[0].frames[0],
            (
                "tokio::time::timeout::poll_delay".into(),
                "/opt/wasmtime/wasmtime".into()
            )
        );
        assert_eq!(s[2].frames[0].1, "/tmp/perf-3882.map");
        let leaves = leaf_counts(&s);
        let get = |tid, object: &str| {
            leaves
                .iter()
                .find(|l| l.tid == tid && l.object == object)
                .map(|l| l.count)
        };
        assert_eq!(get(3882, "[kernel.kallsyms]"), Some(1));
        assert_eq!(get(3882, "/tmp/perf-3882.map"), Some(1));
        assert_eq!(get(3884, "[kernel.kallsyms]"), Some(1));
        let lines = folded(&s);
        assert!(
            lines.contains(&"thread 3882;__send [libc.so.6];__sys_sendto [[kernel.kallsyms]];tcp_sendmsg [[kernel.kallsyms]] 1".to_string()),
            "{lines:?}"
        );
    }
}
