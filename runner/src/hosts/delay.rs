//! The link delayer: this kernel has no `sch_netem`, so a link's round-trip time comes from
//! iptables `-j NFQUEUE` rules inside the server's namespace and this loop, which holds each
//! queued packet for half the round trip before letting it go (once in, once out: the full RTT).
//! Its delay is read from a control file, so one delayer serves every link of a run.

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Packets queued before the kernel drops new ones (a 10 ms hold at 100k packets/s is 1,000).
const QUEUE_MAX_LEN: u32 = 65_536;
/// How often the control file is read.
const CONTROL_EVERY: Duration = Duration::from_millis(20);

/// The hold a control file asks for: microseconds as text ("5000"); empty or absent: none.
pub fn parse_hold(text: &str) -> Option<Duration> {
    text.trim().parse::<u64>().ok().map(Duration::from_micros)
}

/// When a packet that arrived at `arrived` may leave. Packets leave in arrival order, so a
/// shorter hold set while packets wait never reorders them.
pub fn release_at(arrived: Instant, hold: Duration, last_release: Option<Instant>) -> Instant {
    let due = arrived + hold;
    last_release.map_or(due, |last| due.max(last))
}

/// Runs until killed: binds `queue` and holds each packet for the control file's delay.
pub fn run(queue: u16, control: &Path) -> Result<()> {
    // nfq does not expose its socket: it is the descriptor `open` added.
    let before = open_fds();
    let mut q = nfq::Queue::open().context("cannot open a netfilter queue socket (root needed)")?;
    let fd = open_fds()
        .into_iter()
        .find(|fd| !before.contains(fd))
        .context("cannot find the netfilter queue's socket")?;
    q.bind(queue)
        .with_context(|| format!("cannot bind netfilter queue {queue}"))?;
    q.set_queue_max_len(queue, QUEUE_MAX_LEN)?;
    // Headers are enough to give a verdict; the payload stays in the kernel.
    q.set_copy_range(queue, 64)?;
    q.set_nonblocking(true);
    let mut hold = read_hold(control);
    let mut read_control_at = Instant::now() + CONTROL_EVERY;
    let mut waiting: VecDeque<(Instant, nfq::Message)> = VecDeque::new();
    let mut last_release = None;
    loop {
        let now = Instant::now();
        if now >= read_control_at {
            hold = read_hold(control);
            read_control_at = now + CONTROL_EVERY;
        }
        while waiting.front().is_some_and(|(at, _)| *at <= now) {
            let (_, mut msg) = waiting.pop_front().expect("front");
            msg.set_verdict(nfq::Verdict::Accept);
            q.verdict(msg)?;
        }
        loop {
            match q.recv() {
                Ok(msg) => {
                    let at = release_at(Instant::now(), hold, last_release);
                    last_release = Some(at);
                    waiting.push_back((at, msg));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e).context("netfilter queue receive"),
            }
        }
        let next = waiting
            .front()
            .map(|(at, _)| at.saturating_duration_since(Instant::now()))
            .unwrap_or(CONTROL_EVERY)
            .min(CONTROL_EVERY);
        wait_readable(fd, next);
    }
}

fn open_fds() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn read_hold(control: &Path) -> Duration {
    std::fs::read_to_string(control)
        .ok()
        .and_then(|t| parse_hold(&t))
        .unwrap_or_default()
}

/// Sleeps until the queue socket has a packet or `timeout` passed (microsecond resolution).
fn wait_readable(fd: i32, timeout: Duration) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: one valid pollfd, a valid timespec, no signal mask.
    unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_come_from_the_control_file_and_never_reorder() {
        assert_eq!(parse_hold("5000\n"), Some(Duration::from_millis(5)));
        assert_eq!(parse_hold(""), None);
        assert_eq!(parse_hold("5ms"), None);
        let t0 = Instant::now();
        let first = release_at(t0, Duration::from_millis(5), None);
        assert_eq!(first, t0 + Duration::from_millis(5));
        // The hold dropped to 0 while the first packet waits: the second still leaves after it.
        let second = release_at(t0 + Duration::from_millis(1), Duration::ZERO, Some(first));
        assert_eq!(second, first);
        let later = release_at(t0 + Duration::from_millis(9), Duration::ZERO, Some(first));
        assert_eq!(later, t0 + Duration::from_millis(9));
    }
}
