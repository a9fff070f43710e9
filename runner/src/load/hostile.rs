//! Hostile clients, as a generator of this runner's own (`matrix hostile`, run as a child process
//! pinned like any generator): `connections` slowloris clients (a request head begun, never
//! finished) and as many idle keep-alive clients (one request answered, then silence), each
//! reconnecting when the server closes it, so the server is held at that level for the whole
//! window. Meanwhile a fresh request goes out every 100 ms on a new connection and must be
//! answered within `FRESH_REQUEST_BOUND`; after the hostile clients leave, one more fresh request
//! says whether the server recovered. Its report is one JSON line, parsed into a `LoadSummary` of
//! the fresh requests and the hostile readings.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{LoadSummary, Trend};
pub use crate::results::measured::HostileReading;

pub const SCHEMA: &str = "wasm-bench/hostile-report/2";
const MARKER: &str = "HOSTILE_REPORT ";
/// A fresh request slower than this, or unanswered, means the server let hostile clients shut
/// everyone else out (the analysis' rule).
pub use crate::analysis::flags::FRESH_REQUEST_BOUND;
/// How long the hostile clients get to connect before the fresh requests start.
const SETTLE: Duration = Duration::from_secs(3);
/// A hostile client closed by the server reconnects after this, as slowloris does between its
/// rounds: the level stays held without turning into a connection flood.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// What `matrix hostile` reports.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: String,
    pub hostile: HostileReading,
    pub fresh_sent: u64,
    pub fresh_answered: u64,
    /// Latency of each answered fresh request, milliseconds.
    pub latencies_ms: Vec<f64>,
    pub elapsed_s: f64,
}

/// The arguments after the runner's binary for one window.
pub fn args(addr: &str, path: &str, connections: u32, idle: bool, duration: Duration) -> Vec<String> {
    let mut argv = vec![
        "hostile".into(),
        "--addr".into(),
        addr.into(),
        "--path".into(),
        path.into(),
        "--connections".into(),
        connections.to_string(),
        "--duration-ms".into(),
        duration.as_millis().to_string(),
    ];
    if !idle {
        argv.extend(["--idle".into(), "0".into()]);
    }
    argv
}

/// What the hostile clients count between them.
#[derive(Default)]
struct Counters {
    slow_open: AtomicU32,
    idle_open: AtomicU32,
    closed_by_server: AtomicU64,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A request head begun and never finished.
    Slow,
    /// One request answered, then the connection held idle.
    Idle,
}

/// Runs the hostile clients against `addr` for `duration` and returns the report.
pub fn run(addr: &str, path: &str, slow: u32, idle: u32, duration: Duration) -> Report {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(run_async(addr.to_string(), path.to_string(), slow, idle, duration))
}

async fn run_async(addr: String, path: String, slow: u32, idle: u32, duration: Duration) -> Report {
    let counters = Arc::new(Counters::default());
    let mut clients = tokio::task::JoinSet::new();
    // Interleaved, so that both kinds arrive from the start.
    let kinds = (0..slow.max(idle)).flat_map(|i| [(i < slow).then_some(Kind::Slow), (i < idle).then_some(Kind::Idle)]);
    for kind in kinds.flatten() {
        clients.spawn(hold(addr.clone(), path.clone(), kind, counters.clone()));
    }
    let connections = slow + idle;
    // Let them connect (a capped server accepts only so many; the rest wait in its backlog).
    let settle = Instant::now();
    while settle.elapsed() < SETTLE
        && counters.slow_open.load(Ordering::Relaxed) + counters.idle_open.load(Ordering::Relaxed) < connections
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut hostile = HostileReading {
        slow_held: counters.slow_open.load(Ordering::Relaxed),
        idle_held: counters.idle_open.load(Ordering::Relaxed),
        ..Default::default()
    };
    let closed_before = counters.closed_by_server.load(Ordering::Relaxed);
    // The fresh requests on a thread of their own, so that the hostile clients' own work never
    // delays them on the client's side.
    let window = Instant::now();
    let (probe_addr, probe_path) = (addr.clone(), path.clone());
    let prober = std::thread::spawn(move || fresh_requests(&probe_addr, &probe_path, duration));
    while !prober.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (sent, latencies) = prober.join().expect("the prober does not panic");
    let elapsed_s = window.elapsed().as_secs_f64();
    hostile.closed_by_server = counters.closed_by_server.load(Ordering::Relaxed) - closed_before;
    clients.shutdown().await;
    // The server after the hostile clients left (their sockets are closed now).
    tokio::time::sleep(Duration::from_millis(50)).await;
    hostile.after_ms = fresh_request_blocking(&addr, &path);
    Report {
        schema: SCHEMA.into(),
        hostile,
        fresh_sent: sent,
        fresh_answered: latencies.len() as u64,
        latencies_ms: latencies,
        elapsed_s,
    }
}

/// One hostile client: connects, misbehaves, and reconnects whenever the server closes it.
async fn hold(addr: String, path: String, kind: Kind, counters: Arc<Counters>) {
    let open = match kind {
        Kind::Slow => &counters.slow_open,
        Kind::Idle => &counters.idle_open,
    };
    loop {
        let Ok(Ok(mut c)) = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&addr)).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let begun = match kind {
            Kind::Slow => c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-Slow: ").as_bytes()).await.is_ok(),
            Kind::Idle => {
                let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
                let mut head = [0u8; 512];
                c.write_all(request.as_bytes()).await.is_ok() && c.read(&mut head).await.is_ok_and(|n| n > 0)
            }
        };
        if begun {
            open.fetch_add(1, Ordering::Relaxed);
            // Silence until the server closes the connection.
            let mut rest = [0u8; 512];
            while c.read(&mut rest).await.is_ok_and(|n| n > 0) {}
            open.fetch_sub(1, Ordering::Relaxed);
        }
        counters.closed_by_server.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

/// A fresh request every 100 ms for `duration`: how many went out, and the latency (ms) of each
/// answered within the bound.
fn fresh_requests(addr: &str, path: &str, duration: Duration) -> (u64, Vec<f64>) {
    let (mut sent, mut latencies) = (0, Vec::new());
    let window = Instant::now();
    while window.elapsed() < duration {
        let at = Instant::now();
        sent += 1;
        latencies.extend(fresh_request_blocking(addr, path));
        std::thread::sleep(Duration::from_millis(100).saturating_sub(at.elapsed()));
    }
    (sent, latencies)
}

/// One request on a new connection: its latency (ms) when answered with a 200 within the bound
/// (connecting included: a connection left in the server's backlog counts against it).
fn fresh_request_blocking(addr: &str, path: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let at = Instant::now();
    let mut c = std::net::TcpStream::connect_timeout(&addr.parse().ok()?, FRESH_REQUEST_BOUND).ok()?;
    let left = |at: Instant| FRESH_REQUEST_BOUND.checked_sub(at.elapsed()).filter(|d| !d.is_zero());
    c.set_read_timeout(Some(left(at)?)).ok()?;
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).ok()?;
    let mut head = [0u8; 12];
    c.read_exact(&mut head).ok()?;
    (head.starts_with(b"HTTP/1.1 200") && at.elapsed() <= FRESH_REQUEST_BOUND).then(|| at.elapsed().as_secs_f64() * 1000.0)
}

/// The report line as printed.
pub fn line(report: &Report) -> String {
    format!("{MARKER}{}", serde_json::to_string(report).expect("serializable"))
}

/// Parses the report out of the client's output.
pub fn parse(output: &str) -> Result<LoadSummary> {
    let line = output
        .lines()
        .find_map(|l| l.trim().strip_prefix(MARKER))
        .with_context(|| format!("matrix hostile printed no report: {}", output.trim()))?;
    let report: Report = serde_json::from_str(line).context("cannot parse the hostile report")?;
    anyhow::ensure!(report.schema == SCHEMA, "hostile report schema {:?}", report.schema);
    let mut l = report.latencies_ms.clone();
    l.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| l.get(((l.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    let failed = report.fresh_sent - report.fresh_answered;
    Ok(LoadSummary {
        requests: report.fresh_sent,
        elapsed_s: report.elapsed_s,
        failed_rate: if report.fresh_sent > 0 { failed as f64 / report.fresh_sent as f64 } else { 1.0 },
        dropped: None,
        duration_ms: (!l.is_empty()).then(|| Trend {
            avg: l.iter().sum::<f64>() / l.len() as f64,
            min: l[0],
            med: q(0.5),
            max: *l.last().expect("not empty"),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: None,
        }),
        blocked_ms: None,
        connecting_ms: None,
        sending_ms: None,
        waiting_ms: None,
        receiving_ms: None,
        hostile: Some(report.hostile),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn the_report_round_trips_into_a_summary() {
        let report = Report {
            schema: SCHEMA.into(),
            hostile: HostileReading { slow_held: 500, idle_held: 500, closed_by_server: 7, after_ms: Some(1.5) },
            fresh_sent: 20,
            fresh_answered: 19,
            latencies_ms: (1..=19).map(f64::from).collect(),
            elapsed_s: 2.0,
        };
        let s = parse(&format!("noise\n{}\n", line(&report))).unwrap();
        assert_eq!(s.requests, 20);
        assert!((s.failed_rate - 0.05).abs() < 1e-12);
        let d = s.duration_ms.unwrap();
        assert_eq!((d.min, d.med, d.max), (1.0, 10.0, 19.0));
        assert_eq!(s.hostile.unwrap().closed_by_server, 7);
        assert!(parse("nothing").is_err());
    }

    /// A std-only server that answers every request and keeps connections open: the client's
    /// mechanics, not a runtime's.
    #[test]
    fn the_clients_hold_both_kinds_and_fresh_requests_get_through() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for mut c in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 512];
                    let mut seen = Vec::new();
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        if seen.ends_with(b"\r\n\r\n") {
                            seen.clear();
                            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                        }
                    }
                });
            }
        });
        let r = run(&addr, "/plaintext", 20, 20, Duration::from_millis(350));
        assert_eq!((r.hostile.slow_held, r.hostile.idle_held), (20, 20), "{r:?}");
        assert!(r.fresh_sent >= 3 && r.fresh_answered == r.fresh_sent, "{r:?}");
        assert!(r.hostile.after_ms.is_some(), "{r:?}");
    }
}
