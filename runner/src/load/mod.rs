//! Load generators: k6 (closed and open models) and wrk (peak). Each file builds its generator's
//! command line and parses what it reports into one generator-neutral `LoadSummary`.

pub mod k6;
pub mod wrk;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{LoadModel, LoadSpec};

/// Latency percentiles of one window (or one k6 trend), in milliseconds.
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

/// What any generator measured in one window, in one shape.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSummary {
    pub requests: u64,
    /// Length of the measured window, seconds.
    pub elapsed_s: f64,
    pub failed_rate: f64,
    pub dropped: Option<u64>,
    pub duration_ms: Option<Trend>,
    pub blocked_ms: Option<Trend>,
    pub connecting_ms: Option<Trend>,
    pub sending_ms: Option<Trend>,
    pub waiting_ms: Option<Trend>,
    pub receiving_ms: Option<Trend>,
}

impl LoadSummary {
    pub fn rps(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            self.requests as f64 / self.elapsed_s
        } else {
            0.0
        }
    }
}


/// One measured window, as the generator is asked to run it.
pub struct WindowRequest<'a> {
    /// The generator's binary (k6 or wrk, after the load model) and its script.
    pub generator: &'a Path,
    pub script: &'a Path,
    pub url: &'a str,
    pub method: &'a str,
    pub body_bytes: usize,
    pub load: &'a LoadSpec,
    pub duration: Duration,
    pub warmup: Duration,
    /// CPUs the generator is pinned to (wrk runs one thread per CPU).
    pub threads: usize,
    /// Log and summary paths of this window, without extension (e.g. `logs/003-wrk-0`).
    pub tag: PathBuf,
}

/// How to run the generator for one window and where it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// A separate, discarded run before the window (wrk has no warm-up phase of its own).
    pub warmup: Option<Vec<String>>,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// How long after its start the measured window begins (k6 runs its warm-up scenario first).
    pub window_delay: Duration,
    /// The generator's stdout and stderr.
    pub log: PathBuf,
    report: Report,
}

#[derive(Debug, Clone, PartialEq)]
enum Report {
    /// `scripts/k6.js` writes its summary to this file.
    K6Summary(PathBuf),
    /// `scripts/wrk-report.lua` prints one line into the log.
    WrkLine,
}

impl Invocation {
    pub fn for_window(r: &WindowRequest) -> Invocation {
        let log = with_suffix(&r.tag, ".log");
        match r.load.model {
            LoadModel::Closed | LoadModel::Open => {
                let summary = with_suffix(&r.tag, ".json");
                let mut argv = vec![r.generator.display().to_string()];
                argv.extend(k6::args(&k6::Request {
                    script: r.script,
                    url: r.url,
                    method: r.method,
                    body_bytes: r.body_bytes,
                    load: r.load,
                    duration_ms: r.duration.as_millis(),
                    warmup_ms: r.warmup.as_millis(),
                    summary: &summary,
                }));
                Invocation {
                    warmup: None,
                    argv,
                    // k6 must not phone home.
                    env: vec![("K6_NO_USAGE_REPORT".into(), "true".into())],
                    window_delay: r.warmup,
                    log,
                    report: Report::K6Summary(summary),
                }
            }
            LoadModel::Peak => {
                let connections = r.load.connections.unwrap_or(50);
                let wrk_argv = |duration: Duration| {
                    let mut argv = vec![r.generator.display().to_string()];
                    argv.extend(wrk::args(
                        r.script,
                        r.url,
                        r.threads,
                        connections,
                        duration.as_millis(),
                    ));
                    argv
                };
                Invocation {
                    warmup: (!r.warmup.is_zero()).then(|| wrk_argv(r.warmup)),
                    argv: wrk_argv(r.duration),
                    env: vec![
                        ("WRK_METHOD".into(), r.method.to_string()),
                        ("WRK_BODY_BYTES".into(), r.body_bytes.to_string()),
                    ],
                    window_delay: Duration::ZERO,
                    log,
                    report: Report::WrkLine,
                }
            }
        }
    }

    /// Removes what an earlier run with the same tag left, so a stale summary is never read.
    pub fn clear(&self) {
        if let Report::K6Summary(path) = &self.report {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The log of the discarded warm-up run.
    pub fn warmup_log(&self) -> PathBuf {
        with_suffix(&self.log.with_extension(""), "-warmup.log")
    }

    /// What the generator reported for a window of `duration`, once it has exited with `exit`.
    pub fn read(
        &self,
        duration: Duration,
        exit: Option<std::process::ExitStatus>,
    ) -> Result<LoadSummary, String> {
        match &self.report {
            Report::K6Summary(path) => {
                let text = std::fs::read_to_string(path).map_err(|_| {
                    format!(
                        "k6 wrote no summary (exit {exit:?}): {}",
                        crate::sys::log_tail(&self.log, 8)
                    )
                })?;
                Ok(k6::parse_summary(&text, path)
                    .map_err(|e| format!("{e:#}"))?
                    .into_load_summary(duration.as_secs_f64()))
            }
            Report::WrkLine => {
                let text = std::fs::read_to_string(&self.log).unwrap_or_default();
                wrk::parse(&text).map_err(|e| format!("{e:#}"))
            }
        }
    }
}

fn with_suffix(tag: &Path, suffix: &str) -> PathBuf {
    let mut name = tag.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(load: &'a LoadSpec, warmup: Duration) -> WindowRequest<'a> {
        WindowRequest {
            generator: Path::new("/bin/gen"),
            script: Path::new("s"),
            url: "http://127.0.0.1:1/plaintext",
            method: "GET",
            body_bytes: 0,
            load,
            duration: Duration::from_secs(5),
            warmup,
            threads: 1,
            tag: PathBuf::from("logs/003-wrk-0"),
        }
    }

    #[test]
    fn wrk_warms_up_in_a_separate_run_and_k6_inside_its_own() {
        let peak = LoadSpec {
            name: "p".into(),
            model: LoadModel::Peak,
            vus: None,
            rate: None,
            connections: Some(50),
            workloads: None,
        };
        let wrk = Invocation::for_window(&request(&peak, Duration::from_secs(2)));
        assert_eq!(wrk.window_delay, Duration::ZERO);
        assert!(wrk.warmup.as_ref().unwrap().contains(&"-d2s".to_string()));
        assert!(wrk.argv.contains(&"-d5s".to_string()));
        assert_eq!(wrk.log, PathBuf::from("logs/003-wrk-0.log"));
        assert_eq!(wrk.warmup_log(), PathBuf::from("logs/003-wrk-0-warmup.log"));
        let no_warmup = Invocation::for_window(&request(&peak, Duration::ZERO));
        assert_eq!(no_warmup.warmup, None);
        let closed = LoadSpec {
            model: LoadModel::Closed,
            vus: Some(50),
            connections: None,
            ..peak
        };
        let k6 = Invocation::for_window(&request(&closed, Duration::from_secs(2)));
        assert_eq!(k6.warmup, None);
        assert_eq!(k6.window_delay, Duration::from_secs(2));
        assert!(k6.argv.iter().any(|a| a == "SUMMARY=logs/003-wrk-0.json"));
    }
}
