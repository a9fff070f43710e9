//! wrk as the peak-throughput generator: on one core it outruns k6 roughly tenfold, so it can rank
//! servers that k6 cannot tell apart. `scripts/wrk-report.lua` prints one parseable report line.

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::{LoadSummary, Trend};

pub const SCHEMA: &str = "wasm-bench/wrk-report/1";
const MARKER: &str = "WRK_REPORT ";

#[derive(Debug, Deserialize)]
struct Report {
    schema: String,
    requests: u64,
    duration_us: u64,
    errors: Errors,
    latency_us: Latency,
}

#[derive(Debug, Deserialize)]
struct Errors {
    connect: u64,
    read: u64,
    write: u64,
    status: u64,
    timeout: u64,
}

#[derive(Debug, Deserialize)]
struct Latency {
    min: f64,
    max: f64,
    mean: f64,
    p50: f64,
    p90: f64,
    p95: f64,
    p99: f64,
    #[serde(default)]
    p999: Option<f64>,
}

/// Arguments after `wrk`: one thread per generator CPU, `connections` connections.
pub fn args(
    script: &std::path::Path,
    url: &str,
    threads: usize,
    connections: u32,
    duration_ms: u128,
) -> Vec<String> {
    // wrk needs at least as many connections as threads.
    let threads = threads.clamp(1, connections.max(1) as usize);
    vec![
        format!("-t{threads}"),
        format!("-c{connections}"),
        format!(
            "-d{}s",
            (duration_ms as f64 / 1000.0).ceil().max(1.0) as u64
        ),
        "--timeout".into(),
        "5s".into(),
        "-s".into(),
        script.display().to_string(),
        url.to_string(),
    ]
}

/// Parses the report line out of wrk's output.
pub fn parse(output: &str) -> Result<LoadSummary> {
    let line = output
        .lines()
        .find_map(|l| l.trim().strip_prefix(MARKER))
        .with_context(|| {
            format!(
                "wrk printed no {MARKER}line (was scripts/wrk-report.lua used?): {}",
                output.trim()
            )
        })?;
    let report: Report =
        serde_json::from_str(line).with_context(|| format!("cannot parse wrk report {line:?}"))?;
    if report.schema != SCHEMA {
        bail!(
            "wrk report schema {:?}, expected {SCHEMA:?}: scripts/ and the runner disagree",
            report.schema
        );
    }
    let e = &report.errors;
    let failures = e.connect + e.read + e.write + e.status + e.timeout;
    let ms = |us: f64| us / 1000.0;
    let l = &report.latency_us;
    Ok(LoadSummary {
        requests: report.requests,
        elapsed_s: report.duration_us as f64 / 1e6,
        failed_rate: if report.requests > 0 {
            (failures as f64 / report.requests as f64).min(1.0)
        } else {
            1.0
        },
        dropped: None,
        duration_ms: Some(Trend {
            avg: ms(l.mean),
            min: ms(l.min),
            med: ms(l.p50),
            max: ms(l.max),
            p90: ms(l.p90),
            p95: ms(l.p95),
            p99: ms(l.p99),
            p999: l.p999.map(ms),
        }),
        blocked_ms: None,
        connecting_ms: None,
        sending_ms: None,
        waiting_ms: None,
        receiving_ms: None,
        hostile: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = include_str!("../../tests/fixtures/wrk-output.txt");

    #[test]
    fn parses_the_report_line() {
        let s = parse(OUTPUT).unwrap();
        assert!(s.requests > 0);
        assert!((s.rps() - s.requests as f64 / s.elapsed_s).abs() < 1e-9);
        let d = s.duration_ms.unwrap();
        assert!(d.med <= d.p95 && d.p95 <= d.p99 && d.p99 <= d.max);
        assert_eq!(s.receiving_ms, None);
    }

    #[test]
    fn missing_or_foreign_reports_are_errors() {
        assert!(parse("Requests/sec: 100")
            .unwrap_err()
            .to_string()
            .contains("no WRK_REPORT"));
        let foreign = OUTPUT.replace(SCHEMA, "x/1");
        assert!(parse(&foreign)
            .unwrap_err()
            .to_string()
            .contains("disagree"));
    }

    #[test]
    fn threads_never_exceed_connections() {
        let a = args(
            std::path::Path::new("r.lua"),
            "http://127.0.0.1:1/",
            4,
            2,
            1500,
        );
        assert_eq!(&a[..3], ["-t2", "-c2", "-d2s"]);
    }
}
