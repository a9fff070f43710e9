//! Hostile clients, as a generator of this runner's own (`matrix hostile`, run as a child process
//! pinned like any generator): `connections` connections held open, half idle and half with a
//! request half sent (slowloris), while a fresh request goes out every 100 ms on a new connection
//! and must be answered. Its report is one JSON line, parsed into a `LoadSummary` of the fresh
//! requests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{LoadSummary, Trend};

pub const SCHEMA: &str = "wasm-bench/hostile-report/1";
const MARKER: &str = "HOSTILE_REPORT ";
/// A fresh request slower than this, or unanswered, means the server let hostile clients shut
/// everyone else out.
pub const FRESH_REQUEST_BOUND: Duration = Duration::from_secs(2);

/// What `matrix hostile` reports.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: String,
    /// Hostile connections it managed to open.
    pub held: u32,
    pub fresh_sent: u64,
    pub fresh_answered: u64,
    /// Latency of each answered fresh request, milliseconds.
    pub latencies_ms: Vec<f64>,
    pub elapsed_s: f64,
}

/// The arguments after the runner's binary for one window.
pub fn args(addr: &str, path: &str, connections: u32, duration: Duration) -> Vec<String> {
    vec![
        "hostile".into(),
        "--addr".into(),
        addr.into(),
        "--path".into(),
        path.into(),
        "--connections".into(),
        connections.to_string(),
        "--duration-ms".into(),
        duration.as_millis().to_string(),
    ]
}

/// Runs the hostile clients against `addr` for `duration` and returns the report.
pub fn run(addr: &str, path: &str, connections: u32, duration: Duration) -> Report {
    let started = Instant::now();
    let mut held = Vec::new();
    for i in 0..connections {
        let Ok(mut c) =
            TcpStream::connect_timeout(&addr.parse().expect("ip:port"), Duration::from_secs(2))
        else {
            break;
        };
        if i % 2 == 1 {
            // Half a request, then silence.
            let _ = c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-Slow: ").as_bytes());
        }
        held.push(c);
    }
    let mut report = Report {
        schema: SCHEMA.into(),
        held: held.len() as u32,
        fresh_sent: 0,
        fresh_answered: 0,
        latencies_ms: Vec::new(),
        elapsed_s: 0.0,
    };
    let window = Instant::now();
    while window.elapsed() < duration {
        let sent = Instant::now();
        report.fresh_sent += 1;
        if fresh_request(addr, path) {
            report.fresh_answered += 1;
            report
                .latencies_ms
                .push(sent.elapsed().as_secs_f64() * 1000.0);
        }
        std::thread::sleep(Duration::from_millis(100).saturating_sub(sent.elapsed()));
    }
    report.elapsed_s = window.elapsed().as_secs_f64();
    drop(held);
    let _ = started;
    report
}

/// One request on a new connection, answered with a 200 within the bound.
fn fresh_request(addr: &str, path: &str) -> bool {
    let Ok(mut c) =
        TcpStream::connect_timeout(&addr.parse().expect("ip:port"), FRESH_REQUEST_BOUND)
    else {
        return false;
    };
    let _ = c.set_read_timeout(Some(FRESH_REQUEST_BOUND));
    if c.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    c.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// The report line as printed.
pub fn line(report: &Report) -> String {
    format!(
        "{MARKER}{}",
        serde_json::to_string(report).expect("serializable")
    )
}

/// Parses the report out of the client's output.
pub fn parse(output: &str) -> Result<LoadSummary> {
    let line = output
        .lines()
        .find_map(|l| l.trim().strip_prefix(MARKER))
        .with_context(|| format!("matrix hostile printed no report: {}", output.trim()))?;
    let report: Report = serde_json::from_str(line).context("cannot parse the hostile report")?;
    anyhow::ensure!(
        report.schema == SCHEMA,
        "hostile report schema {:?}",
        report.schema
    );
    let mut l = report.latencies_ms.clone();
    l.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        l.get(((l.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let failed = report.fresh_sent - report.fresh_answered;
    Ok(LoadSummary {
        requests: report.fresh_sent,
        elapsed_s: report.elapsed_s,
        failed_rate: if report.fresh_sent > 0 {
            failed as f64 / report.fresh_sent as f64
        } else {
            1.0
        },
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_round_trips_into_a_summary() {
        let report = Report {
            schema: SCHEMA.into(),
            held: 1000,
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
        assert!(parse("nothing").is_err());
    }

    #[test]
    fn a_live_server_answers_fresh_requests_while_hostile_clients_wait() {
        // A std-only server that answers every connection: the client's mechanics, not a runtime.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for mut c in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 512];
                    if let Ok(n) = c.read(&mut buf) {
                        if buf[..n].ends_with(b"\r\n\r\n") {
                            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                        }
                    }
                });
            }
        });
        let r = run(&addr, "/plaintext", 20, Duration::from_millis(350));
        assert_eq!(r.held, 20);
        assert!(
            r.fresh_sent >= 3 && r.fresh_answered == r.fresh_sent,
            "{r:?}"
        );
    }
}
