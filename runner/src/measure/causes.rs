//! Why a server broke, where its log or exit says so: the causes seen on this project's runtimes.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// Signatures in a server's last log lines, and what they mean.
const SIGNATURES: &[(&[&str], &str)] = &[
    (
        &["Argument list too long", "I/O driver"],
        "wasmer's poll_oneoff refused that many subscriptions (E2BIG): tokio's I/O driver panicked",
    ),
    (
        &["poll_oneoff failed"],
        "wasmer's poll_oneoff refused that many subscriptions: Go's runtime gave up",
    ),
    (&["Too many open files"], "out of file descriptors"),
    (&["EMFILE"], "out of file descriptors"),
    (&["out of memory"], "out of memory"),
];

/// The cause of a server's death or silence, from its exit status and log tail.
pub fn known_cause(status: Option<ExitStatus>, log: &str) -> Option<String> {
    if let Some((_, cause)) = SIGNATURES
        .iter()
        .find(|(needles, _)| needles.iter().all(|n| log.contains(n)))
    {
        return Some(cause.to_string());
    }
    match status.and_then(|s| s.signal()) {
        Some(13) => Some("killed by SIGPIPE: it wrote to a socket whose client had gone, without ignoring the signal".into()),
        Some(9) => Some("killed (SIGKILL)".into()),
        Some(11) => Some("crashed (SIGSEGV)".into()),
        Some(6) => Some("aborted (SIGABRT)".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_causes_seen_here_are_named() {
        let tokio = "thread 'main' panicked at tokio-1.54.1/src/runtime/io/driver.rs:207:23:\nunexpected error when polling the I/O driver: Os { code: 1, kind: ArgumentListTooLong, message: \"Argument list too long\" }";
        assert!(known_cause(None, tokio).unwrap().contains("poll_oneoff refused"));
        assert!(known_cause(None, "fatal error: poll_oneoff failed").unwrap().contains("Go's runtime"));
        let sigpipe = ExitStatus::from_raw(13);
        assert!(known_cause(Some(sigpipe), "listening").unwrap().contains("SIGPIPE"));
        assert_eq!(known_cause(None, "listening on http://127.0.0.1:1"), None);
    }
}
