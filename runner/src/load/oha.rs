//! oha as the low-noise open-model generator: a fixed request rate (`-q`) with coordinated-omission
//! correction (`--latency-correction`: each latency counts from when its request was due), run
//! without its TUI, reporting JSON (`--output-format json`) parsed into a `LoadSummary`.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::{LoadSummary, Trend};

/// What `oha --output-format json` prints (the parts used here; times in seconds).
#[derive(Debug, Deserialize)]
struct Report {
    summary: Summary,
    #[serde(rename = "latencyPercentiles")]
    latency: Percentiles,
    #[serde(rename = "statusCodeDistribution", default)]
    statuses: BTreeMap<String, u64>,
    #[serde(rename = "errorDistribution", default)]
    errors: BTreeMap<String, u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    total: f64,
    slowest: Option<f64>,
    fastest: Option<f64>,
    average: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Percentiles {
    p50: Option<f64>,
    p90: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    #[serde(rename = "p99.9")]
    p999: Option<f64>,
}

/// Settings of one oha invocation.
pub struct Request<'a> {
    pub url: &'a str,
    pub method: &'a str,
    pub headers: &'a [(String, String)],
    /// A file holding the request body, when the workload has one.
    pub body_file: Option<&'a std::path::Path>,
    pub rate: u32,
    pub connections: u32,
    pub duration_ms: u128,
}

/// Arguments after `oha` for one window at a fixed rate.
pub fn args(r: &Request) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--no-tui".into(),
        "--output-format".into(),
        "json".into(),
        "--latency-correction".into(),
        "--disable-color".into(),
        "-z".into(),
        format!("{}ms", r.duration_ms.max(1)),
        "-q".into(),
        r.rate.to_string(),
        "-c".into(),
        r.connections.max(1).to_string(),
        "-t".into(),
        "5s".into(),
        "-m".into(),
        r.method.to_string(),
    ];
    for (k, v) in r.headers {
        args.extend(["-H".into(), format!("{k}: {v}")]);
    }
    if let Some(file) = r.body_file {
        args.extend(["-D".into(), file.display().to_string()]);
    }
    args.push(r.url.to_string());
    args
}

/// Parses oha's JSON report (the first JSON object in its output).
pub fn parse(output: &str) -> Result<LoadSummary> {
    let start = output
        .find('{')
        .with_context(|| format!("oha printed no JSON report: {}", output.trim()))?;
    let report: Report = serde_json::Deserializer::from_str(&output[start..])
        .into_iter()
        .next()
        .context("oha printed no JSON report")?
        .context("cannot parse oha's JSON report")?;
    let ok: u64 = report
        .statuses
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    let answered: u64 = report.statuses.values().sum();
    // Requests still in flight when the window closed are cut off by oha, not failed by the server.
    let errors: u64 = report
        .errors
        .iter()
        .filter(|(message, _)| !message.contains("deadline"))
        .map(|(_, n)| n)
        .sum();
    let requests = answered + errors;
    if report.summary.total <= 0.0 {
        bail!("oha reported a window of {} s", report.summary.total);
    }
    let ms = |s: Option<f64>| s.map(|s| s * 1000.0);
    let l = &report.latency;
    let duration_ms = match (l.p50, l.p90, l.p95, l.p99) {
        (Some(p50), Some(p90), Some(p95), Some(p99)) => Some(Trend {
            avg: ms(report.summary.average).unwrap_or(p50 * 1000.0),
            min: ms(report.summary.fastest).unwrap_or(0.0),
            med: p50 * 1000.0,
            max: ms(report.summary.slowest).unwrap_or(p99 * 1000.0),
            p90: p90 * 1000.0,
            p95: p95 * 1000.0,
            p99: p99 * 1000.0,
            p999: ms(l.p999),
        }),
        _ => None,
    };
    Ok(LoadSummary {
        requests,
        elapsed_s: report.summary.total,
        failed_rate: if requests > 0 {
            (requests - ok) as f64 / requests as f64
        } else {
            1.0
        },
        dropped: None,
        duration_ms,
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

    const OUTPUT: &str = include_str!("../../tests/fixtures/oha-output.json");

    #[test]
    fn parses_the_report_into_milliseconds() {
        let s = parse(OUTPUT).unwrap();
        assert!(s.requests > 0);
        let d = s.duration_ms.unwrap();
        assert!(
            d.med <= d.p90 && d.p90 <= d.p95 && d.p95 <= d.p99 && d.p99 <= d.max,
            "{d:?}"
        );
        assert!(d.p999.unwrap() >= d.p99);
        assert!(s.elapsed_s > 0.5 && s.elapsed_s < 10.0, "{}", s.elapsed_s);
        assert_eq!(s.failed_rate, 0.0);
    }

    #[test]
    fn missing_or_broken_reports_are_errors() {
        assert!(parse("error: connection refused").is_err());
        assert!(parse("{\"summary\": 1}").is_err());
    }

    #[test]
    fn args_fix_the_rate_and_correct_for_coordinated_omission() {
        let a = args(&Request {
            url: "http://127.0.0.1:1/plaintext",
            method: "GET",
            headers: &[],
            body_file: None,
            rate: 3000,
            connections: 300,
            duration_ms: 2000,
        });
        for w in [
            ["-q", "3000"],
            ["-z", "2000ms"],
            ["-c", "300"],
            ["--output-format", "json"],
        ] {
            assert!(a.windows(2).any(|p| p == w), "{w:?} missing from {a:?}");
        }
        assert!(a.contains(&"--latency-correction".to_string()));
        assert_eq!(a.last().unwrap(), "http://127.0.0.1:1/plaintext");
    }
}
