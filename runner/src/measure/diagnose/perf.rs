//! Reading what Linux's `perf` reports: `perf stat -x,` counts of the syscall tracepoints, and
//! `perf script` samples with their call chains (folded into flame-graph lines and counted by the
//! object their innermost frame ran in).

use std::collections::BTreeMap;

use crate::results::diagnosis::LeafSamples;

/// Calls by name from `perf stat -x, -e 'syscalls:sys_enter_*'` output (CSV: count, unit, event,
/// ...); events not counted and zero counts are left out.
pub fn syscall_counts(csv: &str) -> BTreeMap<String, u64> {
    csv.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.split(',');
            let count: u64 = fields.next()?.trim().parse().ok()?;
            let event = fields.nth(1)?.trim();
            let name = event.strip_prefix("syscalls:sys_enter_")?;
            (count > 0).then(|| (name.to_string(), count))
        })
        .collect()
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

    /// `perf stat -x, -e 'syscalls:sys_enter_*' -p <native server>` over 2,000 requests (one at a
    /// time), recorded on this machine kind.
    const STAT: &str = "# started on Thu Dec  3 19:10:01 2026\n\n\
        <not counted>,,syscalls:sys_enter_read,0,100.00,,\n\
        1,,syscalls:sys_enter_write,1000000,100.00,,\n\
        2002,,syscalls:sys_enter_epoll_wait,1000000,100.00,,\n\
        0,,syscalls:sys_enter_writev,1000000,100.00,,\n\
        2001,,syscalls:sys_enter_recvfrom,1000000,100.00,,\n\
        2000,,syscalls:sys_enter_sendto,1000000,100.00,,\n";

    #[test]
    fn syscall_counts_are_read_by_name() {
        let c = syscall_counts(STAT);
        assert_eq!(c.len(), 4, "{c:?}");
        assert_eq!(c["epoll_wait"], 2002);
        assert_eq!(c["sendto"], 2000);
        assert!(!c.contains_key("read") && !c.contains_key("writev"));
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
