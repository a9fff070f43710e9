//! Load generators: k6 (closed and open models), wrk (peak) and oha (open, low noise). Each file
//! builds its generator's command line and parses what it reports into one generator-neutral
//! `LoadSummary`.

pub mod hostile;
pub mod k6;
pub mod oha;
pub mod wrk;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Generator, LoadSpec};
pub use crate::results::records::Trend;

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
    /// Hostile windows: what the hostile clients held and saw.
    pub hostile: Option<hostile::HostileReading>,
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
    /// The generator's binary (k6, wrk or oha, as the load says) and its script (k6, wrk).
    pub generator: &'a Path,
    pub script: &'a Path,
    pub url: &'a str,
    pub method: &'a str,
    /// Request headers beyond what the generator sends itself.
    pub headers: &'a [(String, String)],
    /// A file holding the request body, when the workload has one.
    pub body_file: Option<&'a Path>,
    /// Open model: the rate to offer (the load's, or a share of a measured peak).
    pub rate: u32,
    pub load: &'a LoadSpec,
    pub duration: Duration,
    pub warmup: Duration,
    /// CPUs the generator is pinned to (wrk runs one thread per CPU).
    pub threads: usize,
    /// Log and summary paths of this window, without extension (e.g. `logs/003-wrk-0`).
    pub tag: PathBuf,
}

/// How to run the generator for one window and where it reports. Warm-up load runs as a process
/// of its own before it, so the measured process is the window and nothing else: its requests are
/// exactly those the server's CPU readings around it cover.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// A separate, discarded run before the window (wrk has no warm-up phase of its own).
    pub warmup: Option<Vec<String>>,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The generator's stdout and stderr.
    pub log: PathBuf,
    report: Report,
}

#[derive(Debug, Clone, PartialEq)]
enum Report {
    /// `scripts/k6.js` writes its summary to this file.
    K6Summary(PathBuf),
    /// `scripts/wrk-report.lua` prints one line into the log. wrk times a pipelined batch, not
    /// each request in it, so pipelined windows report no latency.
    WrkLine { pipelined: bool },
    /// oha prints its JSON report into the log.
    OhaJson,
    /// `matrix hostile` prints one report line into the log.
    HostileLine,
    /// One k6 segment of several: its summary and its raw samples (CSV), merged with the others'.
    K6Segment { summary: PathBuf, raw: PathBuf },
}

impl Invocation {
    pub fn for_window(r: &WindowRequest) -> Invocation {
        let log = with_suffix(&r.tag, ".log");
        match r.load.generator() {
            Generator::Oha => Invocation::oha(r, log),
            Generator::K6 => Invocation::k6(r, log),
            Generator::Wrk => Invocation::wrk(r, log),
            Generator::Hostile => Invocation::hostile(r, log),
        }
    }

    fn hostile(r: &WindowRequest, log: PathBuf) -> Invocation {
        let addr = r
            .url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let path = format!(
            "/{}",
            r.url
                .trim_start_matches("http://")
                .split_once('/')
                .map_or("", |p| p.1)
        );
        let mut argv = vec![r.generator.display().to_string()];
        argv.extend(hostile::args(
            &addr,
            &path,
            r.load.connections().unwrap_or(1),
            r.load.idle.unwrap_or(true),
            r.duration,
        ));
        Invocation {
            warmup: None,
            argv,
            env: Vec::new(),
            log,
            report: Report::HostileLine,
        }
    }

    fn oha(r: &WindowRequest, log: PathBuf) -> Invocation {
        let oha_argv = |duration: Duration| {
            let mut argv = vec![r.generator.display().to_string()];
            argv.extend(oha::args(&oha::Request {
                url: r.url,
                method: r.method,
                headers: r.headers,
                body_file: r.body_file,
                rate: r.rate,
                connections: r.load.concurrency(),
                duration_ms: duration.as_millis(),
            }));
            argv
        };
        Invocation {
            warmup: (!r.warmup.is_zero()).then(|| oha_argv(r.warmup)),
            argv: oha_argv(r.duration),
            env: Vec::new(),
            log,
            report: Report::OhaJson,
        }
    }

    fn k6(r: &WindowRequest, log: PathBuf) -> Invocation {
        let summary = with_suffix(&r.tag, ".json");
        let k6_argv = |duration: Duration, summary: &Path| {
            let mut argv = vec![r.generator.display().to_string()];
            argv.extend(k6::args(&k6::Request {
                script: r.script,
                url: r.url,
                method: r.method,
                headers: r.headers,
                body_file: r.body_file,
                load: r.load,
                rate: r.rate,
                duration_ms: duration.as_millis(),
                warmup_ms: 0,
                summary,
            }));
            argv
        };
        let warmup_summary = with_suffix(&r.tag, "-warmup.json");
        Invocation {
            warmup: (!r.warmup.is_zero()).then(|| k6_argv(r.warmup, &warmup_summary)),
            argv: k6_argv(r.duration, &summary),
            // k6 must not phone home.
            env: vec![("K6_NO_USAGE_REPORT".into(), "true".into())],
            log,
            report: Report::K6Summary(summary),
        }
    }

    fn wrk(r: &WindowRequest, log: PathBuf) -> Invocation {
        let connections = r.load.connections().unwrap_or(50);
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
                ("WRK_BODY_FILE".into(), r.body_file.map(|p| p.display().to_string()).unwrap_or_default()),
                ("WRK_HEADERS".into(), r.headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()),
                ("WRK_PIPELINE".into(), r.load.depth().to_string()),
            ],
            log,
            report: Report::WrkLine {
                pipelined: r.load.depth() > 1,
            },
        }
    }

    /// Removes what an earlier run with the same tag left, so a stale summary is never read.
    pub fn clear(&self) {
        match &self.report {
            Report::K6Summary(path) => {
                let _ = std::fs::remove_file(path);
            }
            Report::K6Segment { summary, raw } => {
                let _ = std::fs::remove_file(summary);
                let _ = std::fs::remove_file(raw);
            }
            _ => {}
        }
    }

    /// Part `index` of `parts` of this k6 window (k6 execution segments), for one generator host
    /// of several; the first part runs the warm-up. `None` for other generators.
    pub fn segment(&self, index: usize, parts: usize) -> Option<Invocation> {
        let Report::K6Summary(summary) = &self.report else {
            return None;
        };
        let part = |p: &Path, suffix: &str| {
            with_suffix(&p.with_extension(""), &format!("-seg{index}{suffix}"))
        };
        let (own_summary, raw) = (part(summary, ".json"), part(summary, ".csv"));
        let mut argv = self.argv.clone();
        for arg in argv.iter_mut() {
            if arg.starts_with("SUMMARY=") {
                *arg = format!("SUMMARY={}", own_summary.display());
            }
        }
        let script = argv.pop()?;
        argv.extend(k6::segment_args(index, parts, &raw));
        argv.push(script);
        Some(Invocation {
            warmup: self.warmup.clone().filter(|_| index == 0),
            argv,
            env: self.env.clone(),
            log: part(&self.log, ".log"),
            report: Report::K6Segment {
                summary: own_summary,
                raw,
            },
        })
    }

    /// One window from the segments several hosts ran.
    pub fn read_segments(parts: &[Invocation], duration: Duration) -> Result<LoadSummary, String> {
        let mut summaries = Vec::new();
        let mut samples: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        for inv in parts {
            let Report::K6Segment { summary, raw } = &inv.report else {
                return Err("only k6 windows split into segments".into());
            };
            let text = std::fs::read_to_string(summary).map_err(|_| {
                format!(
                    "k6 segment wrote no summary: {}",
                    crate::sys::log_tail(&inv.log, 8)
                )
            })?;
            summaries.push(k6::parse_summary(&text, summary).map_err(|e| format!("{e:#}"))?);
            let raw_text = std::fs::read_to_string(raw)
                .map_err(|e| format!("k6 segment wrote no raw samples {}: {e}", raw.display()))?;
            for (metric, values) in k6::raw_samples(&raw_text).map_err(|e| format!("{e:#}"))? {
                samples.entry(metric).or_default().extend(values);
            }
        }
        Ok(k6::merge_segments(
            &summaries,
            samples,
            duration.as_secs_f64(),
        ))
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
            Report::K6Segment { .. } => {
                Invocation::read_segments(std::slice::from_ref(self), duration)
            }
            Report::HostileLine => {
                let text = std::fs::read_to_string(&self.log).unwrap_or_default();
                hostile::parse(&text).map_err(|e| format!("{e:#}"))
            }
            Report::OhaJson => {
                let text = std::fs::read_to_string(&self.log).unwrap_or_default();
                oha::parse(&text).map_err(|e| format!("{e:#}"))
            }
            Report::WrkLine { pipelined } => {
                let text = std::fs::read_to_string(&self.log).unwrap_or_default();
                let mut summary = wrk::parse(&text).map_err(|e| format!("{e:#}"))?;
                if *pipelined {
                    summary.duration_ms = None;
                }
                Ok(summary)
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
            headers: &[],
            body_file: None,
            load,
            rate: 0,
            duration: Duration::from_secs(5),
            warmup,
            threads: 1,
            tag: PathBuf::from("logs/003-wrk-0"),
        }
    }

    #[test]
    fn warm_up_load_runs_as_its_own_process_before_the_window() {
        let peak = LoadSpec {
            connections: Some(crate::config::Counts::One(50)),
            ..LoadSpec::new("p", crate::config::LoadModel::Peak)
        };
        let wrk = Invocation::for_window(&request(&peak, Duration::from_secs(2)));
        assert!(wrk.warmup.as_ref().unwrap().contains(&"-d2s".to_string()));
        assert!(wrk.argv.contains(&"-d5s".to_string()));
        assert_eq!(wrk.log, PathBuf::from("logs/003-wrk-0.log"));
        assert_eq!(wrk.warmup_log(), PathBuf::from("logs/003-wrk-0-warmup.log"));
        let no_warmup = Invocation::for_window(&request(&peak, Duration::ZERO));
        assert_eq!(no_warmup.warmup, None);
        let closed = LoadSpec {
            model: crate::config::LoadModel::Closed,
            vus: Some(50),
            connections: None,
            ..peak
        };
        let k6 = Invocation::for_window(&request(&closed, Duration::from_secs(2)));
        assert!(k6
            .warmup
            .as_ref()
            .unwrap()
            .contains(&"DURATION=2000ms".to_string()));
        assert!(k6.argv.contains(&"DURATION=5000ms".to_string()));
        assert!(k6.argv.iter().any(|a| a == "SUMMARY=logs/003-wrk-0.json"));
        assert!(k6.argv.contains(&"WARMUP=0s".to_string()));
    }
}
