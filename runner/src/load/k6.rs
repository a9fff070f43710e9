//! k6 as the load generator (closed and open models): the command line for a cell, and its summary
//! (written by `scripts/k6.js`'s `handleSummary`) parsed into a `LoadSummary`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{LoadSummary, Trend};
use crate::config::{LoadModel, LoadSpec};

/// What `scripts/k6.js` writes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Summary {
    pub schema: String,
    pub vus: u32,
    /// Iterations the open model could not start (no free VU): offered load that was not sent.
    #[serde(default)]
    pub dropped: u64,
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
    let summary: Summary = serde_json::from_str(text).with_context(|| {
        format!(
            "{} is not a k6 summary of this project's scripts",
            source.display()
        )
    })?;
    if summary.schema != SCHEMA {
        bail!(
            "{}: summary schema {:?}, expected {SCHEMA:?}: scripts/ and the runner disagree",
            source.display(),
            summary.schema
        );
    }
    Ok(summary)
}

/// Settings of one k6 invocation.
pub struct Request<'a> {
    pub script: &'a Path,
    pub url: &'a str,
    pub method: &'a str,
    pub body_bytes: usize,
    pub load: &'a LoadSpec,
    /// Open model: requests per second to start.
    pub rate: u32,
    pub duration_ms: u128,
    pub warmup_ms: u128,
    pub summary: &'a Path,
}

/// Arguments after `k6` for one measurement (closed or open model).
pub fn args(r: &Request) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--quiet", "--no-color", "--no-usage-report"]
        .map(String::from)
        .to_vec();
    let model = match r.load.model {
        LoadModel::Open => "open",
        _ => "closed",
    };
    for (key, value) in [
        ("MODEL", model.to_string()),
        ("URL", r.url.to_string()),
        ("METHOD", r.method.to_string()),
        ("BODY_BYTES", r.body_bytes.to_string()),
        ("VUS", r.load.concurrency().to_string()),
        ("RATE", r.rate.to_string()),
        ("DURATION", format!("{}ms", r.duration_ms)),
        (
            "WARMUP",
            if r.warmup_ms == 0 {
                "0s".into()
            } else {
                format!("{}ms", r.warmup_ms)
            },
        ),
        ("SUMMARY", r.summary.display().to_string()),
    ] {
        args.push("-e".into());
        args.push(format!("{key}={value}"));
    }
    args.push(r.script.display().to_string());
    args
}

impl Summary {
    pub fn into_load_summary(self, duration_s: f64) -> LoadSummary {
        LoadSummary {
            requests: self.requests,
            elapsed_s: duration_s,
            failed_rate: self.failed_rate,
            dropped: Some(self.dropped),
            duration_ms: self.duration_ms,
            blocked_ms: self.blocked_ms,
            connecting_ms: self.connecting_ms,
            sending_ms: self.sending_ms,
            waiting_ms: self.waiting_ms,
            receiving_ms: self.receiving_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/k6-summary.json");

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
        let err =
            parse_summary(&FIXTURE.replace(SCHEMA, "other/1"), Path::new("x.json")).unwrap_err();
        assert!(err.to_string().contains("disagree"));
    }

    #[test]
    fn args_carry_every_setting() {
        let load = LoadSpec {
            vus: Some(50),
            ..LoadSpec::new("c", LoadModel::Closed)
        };
        let request = Request {
            script: Path::new("s.js"),
            url: "http://127.0.0.1:1/plaintext",
            method: "GET",
            body_bytes: 0,
            load: &load,
            rate: 0,
            duration_ms: 8000,
            warmup_ms: 0,
            summary: Path::new("/tmp/o.json"),
        };
        let a = args(&request);
        for expected in [
            "MODEL=closed",
            "VUS=50",
            "DURATION=8000ms",
            "WARMUP=0s",
            "--no-usage-report",
        ] {
            assert!(
                a.contains(&expected.to_string()),
                "{expected} missing from {a:?}"
            );
        }
        assert_eq!(a.last().unwrap(), "s.js");
        let open = LoadSpec {
            model: LoadModel::Open,
            vus: None,
            rate: Some(3000),
            ..load.clone()
        };
        let a = args(&Request {
            load: &open,
            rate: 3000,
            ..request
        });
        assert!(
            a.contains(&"MODEL=open".to_string())
                && a.contains(&"RATE=3000".to_string())
                && a.contains(&"VUS=300".to_string()),
            "{a:?}"
        );
    }

    #[test]
    fn rps_comes_from_requests_over_the_window() {
        let s = parse_summary(FIXTURE, Path::new("fixture"))
            .unwrap()
            .into_load_summary(60.0);
        // The origin README's WASM run: 68,150 requests in 60 s = 1,135.8 req/s.
        assert!((s.rps() - 1135.83).abs() < 0.01, "{}", s.rps());
    }
}
