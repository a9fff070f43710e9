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
    pub headers: &'a [(String, String)],
    pub body_file: Option<&'a Path>,
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
        ("BODY_FILE", r.body_file.map(|p| p.display().to_string()).unwrap_or_default()),
        (
            "HEADERS",
            serde_json::to_string(&r.headers.iter().cloned().collect::<std::collections::BTreeMap<String, String>>())
                .expect("serializable"),
        ),
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

/// `--execution-segment` and its sequence for part `index` of `parts` (k6's own way of splitting
/// one test among several instances), and the raw samples it writes for merging.
pub fn segment_args(index: usize, parts: usize, raw: &Path) -> Vec<String> {
    let frac = |i: usize| -> String {
        match i {
            0 => "0".into(),
            i if i == parts => "1".into(),
            i => format!("{i}/{parts}"),
        }
    };
    let sequence: Vec<String> = (0..=parts).map(frac).collect();
    vec![
        "--execution-segment".into(),
        format!("{}:{}", frac(index), frac(index + 1)),
        "--execution-segment-sequence".into(),
        sequence.join(","),
        "--out".into(),
        format!("csv={}", raw.display()),
    ]
}

/// The measured scenario's samples of each phase metric, from k6's CSV output.
pub fn raw_samples(csv_text: &str) -> Result<std::collections::BTreeMap<String, Vec<f64>>> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (metric, value, scenario) = match (col("metric_name"), col("metric_value"), col("scenario"))
    {
        (Some(m), Some(v), Some(s)) => (m, v, s),
        _ => bail!("k6 CSV output without metric_name, metric_value and scenario columns"),
    };
    let mut samples: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for record in reader.records() {
        let record = record?;
        let name = &record[metric];
        if record.get(scenario) != Some("measure") || !name.starts_with("http_req_") {
            continue;
        }
        if let Ok(v) = record[value].parse::<f64>() {
            samples.entry(name.to_string()).or_default().push(v);
        }
    }
    Ok(samples)
}

/// A trend from raw samples: percentiles by nearest rank, as k6 itself reports them.
pub fn trend_of(samples: &mut [f64]) -> Option<Trend> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let at = |q: f64| samples[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    Some(Trend {
        avg: samples.iter().sum::<f64>() / n as f64,
        min: samples[0],
        med: at(0.5),
        max: samples[n - 1],
        p90: at(0.9),
        p95: at(0.95),
        p99: at(0.99),
        p999: crate::analysis::stats::tail_supported(n as u64, 0.999).then(|| at(0.999)),
    })
}

/// One window from several k6 segments: counts summed, failure rates weighed by requests, and
/// every latency percentile taken over all segments' raw samples (not averaged).
pub fn merge_segments(
    parts: &[Summary],
    mut samples: std::collections::BTreeMap<String, Vec<f64>>,
    duration_s: f64,
) -> LoadSummary {
    let requests: u64 = parts.iter().map(|p| p.requests).sum();
    let failed = parts
        .iter()
        .map(|p| p.failed_rate * p.requests as f64)
        .sum::<f64>();
    let mut trend = |name: &str| samples.get_mut(name).and_then(|s| trend_of(s));
    LoadSummary {
        requests,
        elapsed_s: duration_s,
        failed_rate: if requests > 0 {
            failed / requests as f64
        } else {
            0.0
        },
        dropped: Some(parts.iter().map(|p| p.dropped).sum()),
        duration_ms: trend("http_req_duration"),
        blocked_ms: trend("http_req_blocked"),
        connecting_ms: trend("http_req_connecting"),
        sending_ms: trend("http_req_sending"),
        waiting_ms: trend("http_req_waiting"),
        receiving_ms: trend("http_req_receiving"),
        hostile: None,
    }
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
            hostile: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/k6-summary.json");

    #[test]
    fn segments_split_one_test_and_merge_from_raw_samples() {
        let raw = Path::new("r.csv");
        assert_eq!(
            segment_args(1, 3, raw)[..4],
            [
                "--execution-segment",
                "1/3:2/3",
                "--execution-segment-sequence",
                "0,1/3,2/3,1"
            ]
        );
        assert_eq!(segment_args(0, 2, raw)[1], "0:1/2");
        assert_eq!(segment_args(1, 2, raw)[1], "1/2:1");
        let csv = "metric_name,timestamp,metric_value,check,scenario\n\
                   http_req_duration,1,1.0,,measure\nhttp_req_duration,1,3.0,,measure\n\
                   http_req_duration,1,100.0,,warmup\nhttp_reqs,1,1,,measure\n\
                   http_req_duration,1,2.0,,measure\nhttp_req_duration,1,10.0,,measure\n";
        let samples = raw_samples(csv).unwrap();
        assert_eq!(
            samples["http_req_duration"].len(),
            4,
            "warm-up and counters left out"
        );
        let part = |requests, failed_rate| Summary {
            schema: SCHEMA.into(),
            vus: 25,
            dropped: 1,
            requests,
            failed_rate,
            checks_passed_rate: 1.0,
            duration_ms: None,
            blocked_ms: None,
            connecting_ms: None,
            sending_ms: None,
            waiting_ms: None,
            receiving_ms: None,
        };
        let merged = merge_segments(&[part(1, 0.0), part(3, 0.5)], samples, 2.0);
        assert_eq!(merged.requests, 4);
        assert!((merged.failed_rate - 0.375).abs() < 1e-12);
        assert_eq!(merged.dropped, Some(2));
        let d = merged.duration_ms.unwrap();
        // Percentiles of the pooled samples [1, 2, 3, 10]: not the mean of two segments' p99s.
        assert_eq!((d.min, d.med, d.p99, d.max), (1.0, 2.0, 10.0, 10.0));
        assert!((d.avg - 4.0).abs() < 1e-12);
        assert!(raw_samples("a,b\n1,2\n").is_err());
    }

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
            headers: &[],
            body_file: None,
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
