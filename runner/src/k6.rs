//! k6 as the load generator: the command line for a cell, and its summary (written by the script's
//! `handleSummary`) parsed into the metrics of `results.rs`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Percentiles of one k6 trend, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Trend {
    pub avg: f64,
    pub min: f64,
    pub med: f64,
    pub max: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
}

/// What `scripts/k6-closed.js` writes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Summary {
    pub schema: String,
    pub vus: u32,
    pub requests: u64,
    pub failed_rate: f64,
    pub checks_passed_rate: f64,
    pub duration_ms: Option<Trend>,
    pub blocked_ms: Option<Trend>,
    pub connecting_ms: Option<Trend>,
    pub sending_ms: Option<Trend>,
    pub waiting_ms: Option<Trend>,
    pub receiving_ms: Option<Trend>,
}

pub const SCHEMA: &str = "wasm-bench/k6-summary/1";

pub fn parse_summary(text: &str, source: &Path) -> Result<Summary> {
    let summary: Summary = serde_json::from_str(text).with_context(|| format!("{} is not a k6 summary of this project's scripts", source.display()))?;
    if summary.schema != SCHEMA {
        bail!("{}: summary schema {:?}, expected {SCHEMA:?}: scripts/ and the runner disagree", source.display(), summary.schema);
    }
    Ok(summary)
}

/// Arguments after `k6` for one closed-model measurement.
pub fn closed_args(script: &Path, url: &str, method: &str, body_bytes: usize, vus: u32, duration_ms: u128, warmup_ms: u128, summary: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--quiet", "--no-color", "--no-usage-report"].map(String::from).to_vec();
    for (key, value) in [
        ("URL", url.to_string()),
        ("METHOD", method.to_string()),
        ("BODY_BYTES", body_bytes.to_string()),
        ("VUS", vus.to_string()),
        ("DURATION", format!("{duration_ms}ms")),
        ("WARMUP", if warmup_ms == 0 { "0s".into() } else { format!("{warmup_ms}ms") }),
        ("SUMMARY", summary.display().to_string()),
    ] {
        args.push("-e".into());
        args.push(format!("{key}={value}"));
    }
    args.push(script.display().to_string());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../tests/fixtures/k6-summary.json");

    #[test]
    fn parses_the_script_summary() {
        let s = parse_summary(FIXTURE, Path::new("fixture")).unwrap();
        assert_eq!(s.requests, 68150);
        let receiving = s.receiving_ms.unwrap();
        assert!((receiving.avg - 41.0).abs() < 1e-9);
        assert!(s.duration_ms.unwrap().p99 > s.duration_ms.unwrap().p95);
    }

    #[test]
    fn rejects_other_json() {
        let err = parse_summary("{\"metrics\":{}}", Path::new("x.json")).unwrap_err();
        assert!(format!("{err:#}").contains("x.json"));
        let err = parse_summary(&FIXTURE.replace(SCHEMA, "other/1"), Path::new("x.json")).unwrap_err();
        assert!(err.to_string().contains("disagree"));
    }

    #[test]
    fn args_carry_every_setting() {
        let args = closed_args(Path::new("s.js"), "http://127.0.0.1:1/plaintext", "GET", 0, 50, 8000, 0, Path::new("/tmp/o.json"));
        assert!(args.contains(&"VUS=50".to_string()) && args.contains(&"DURATION=8000ms".to_string()) && args.contains(&"WARMUP=0s".to_string()));
        assert!(args.contains(&"--no-usage-report".to_string()));
        assert_eq!(args.last().unwrap(), "s.js");
    }
}
