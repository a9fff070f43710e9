//! What can go wrong with one cell. Each variant's text is what the cell's `reason` says on the
//! page and in the JSON.

use std::process::ExitStatus;

use crate::results::measured::{Failure, FailureKind};
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum CellError {
    /// Ctrl-C or SIGTERM arrived while the cell was being measured.
    #[error("interrupted before this cell finished")]
    Interrupted,
    /// The runtime's definition or the environment could not produce a command (placeholders,
    /// cache directories, spawning).
    #[error("{0}")]
    Setup(String),
    #[error("prepare step failed ({argv}): {log}")]
    PrepareFailed { argv: String, log: String },
    /// The build this cell runs failed (the build's own error).
    #[error("{0}")]
    BuildFailed(String),
    #[error("the server was not built")]
    NotBuilt,
    #[error("the server exited ({status}) before answering: {log}")]
    ServerExited { status: ExitStatus, log: String },
    #[error(
        "the server did not answer within {timeout:?} (last error: {last_error}); its log: {log}"
    )]
    NotReady {
        timeout: Duration,
        last_error: String,
        log: String,
    },
    #[error("wrong answer: {0}")]
    WrongAnswer(crate::http::workload::WrongAnswer),
    #[error("warm request: {0}")]
    WarmRequest(String),
    #[error("the server died during load{}: {log}", cause_text(cause))]
    ServerDied { log: String, cause: Option<String> },
    #[error("the server stopped answering fresh connections after this window (a request waited {waited:?}){}: {log}", cause_text(cause))]
    StoppedAnswering {
        waited: Duration,
        log: String,
        cause: Option<String>,
    },
    #[error("wrk warm-up did not finish within {limit:?}")]
    WarmupHung { limit: Duration },
    #[error("{generator} did not finish within {limit:?}: {log}")]
    GeneratorHung {
        generator: &'static str,
        limit: Duration,
        log: String,
    },
    /// The generator's report is missing or unreadable.
    #[error("{0}")]
    GeneratorReport(String),
    #[error("{generator} completed no request in the {window_s:.1} s window: the server accepted connections but answered none (log: {log})")]
    NoRequests {
        generator: &'static str,
        window_s: f64,
        log: String,
    },
    #[error("no measurement was made")]
    NoMeasurement,
    #[error("no {peak} measurement on this server in this round to offer a share of")]
    NoPeak { peak: String },
    /// The generator's own clock said the window lasted longer than it did: the wall clock
    /// stepped (wrk times with gettimeofday), so its req/s and timeouts are wrong.
    #[error("{generator} reported a {reported_s:.1} s window that lasted {measured_s:.2} s: the wall clock stepped during it (twice in a row)")]
    ClockStepped {
        generator: &'static str,
        reported_s: f64,
        measured_s: f64,
    },
}

fn cause_text(cause: &Option<String>) -> String {
    cause
        .as_ref()
        .map(|c| format!(" — {c}"))
        .unwrap_or_default()
}

impl CellError {
    /// The failure as the results record it for the analysis.
    pub fn record(&self) -> Failure {
        use FailureKind as K;
        let (kind, cause) = match self {
            CellError::Interrupted => (K::Interrupted, None),
            CellError::Setup(_) => (K::Setup, None),
            CellError::PrepareFailed { .. } => (K::PrepareFailed, None),
            CellError::BuildFailed(_) => (K::BuildFailed, None),
            CellError::NotBuilt => (K::BuildFailed, None),
            CellError::ServerExited { .. } => (K::ServerExited, None),
            CellError::NotReady { .. } => (K::NotReady, None),
            CellError::WrongAnswer(_) => (K::WrongAnswer, None),
            CellError::WarmRequest(_) => (K::WarmRequest, None),
            CellError::ServerDied { cause, .. } => (K::ServerDied, cause.clone()),
            CellError::StoppedAnswering { cause, .. } => (K::StoppedAnswering, cause.clone()),
            CellError::WarmupHung { .. } | CellError::GeneratorHung { .. } => {
                (K::GeneratorHung, None)
            }
            CellError::GeneratorReport(_) => (K::GeneratorReport, None),
            CellError::NoRequests { .. } => (K::NoRequests, None),
            CellError::NoMeasurement => (K::NoMeasurement, None),
            CellError::NoPeak { .. } => (K::NoPeak, None),
            CellError::ClockStepped { .. } => (K::ClockStepped, None),
        };
        Failure { kind, cause }
    }

    /// Errors of the machinery (spawning, files) as setup errors, with their whole chain.
    pub fn setup(e: impl std::fmt::Display) -> CellError {
        CellError::Setup(format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_happened() {
        assert_eq!(
            CellError::Interrupted.to_string(),
            "interrupted before this cell finished"
        );
        let e = CellError::NotReady {
            timeout: Duration::from_secs(3),
            last_error: "connection refused".into(),
            log: "booting".into(),
        };
        assert_eq!(
            e.to_string(),
            "the server did not answer within 3s (last error: connection refused); its log: booting"
        );
        let e = CellError::NoRequests {
            generator: "wrk",
            window_s: 5.04,
            log: "logs/003-wrk-0.log".into(),
        };
        assert!(e
            .to_string()
            .starts_with("wrk completed no request in the 5.0 s window"));
    }
}
