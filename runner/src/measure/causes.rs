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
        &["I/O driver", "code: 29"],
        "wasmtime's legacy wasip1 poll_oneoff (-S preview2=n) answered EIO when clients closed: tokio's I/O driver panicked",
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

/// The lines of a log tail that say what went wrong: a panic and its message, else the first
/// `Error:` line with what follows it (not the stack trace after), else the last five lines.
pub fn salient(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if let Some(i) = lines.iter().position(|l| l.contains("panicked at")) {
        return lines[i..(i + 2).min(lines.len())].join("\n");
    }
    if let Some(i) = lines.iter().position(|l| {
        l.starts_with("Error:") || l.starts_with("error:") || l.starts_with("fatal error:")
    }) {
        let end = lines[i + 1..]
            .iter()
            .position(|l| l.contains("backtrace") || l.trim_start().starts_with("0:"))
            .map_or(lines.len(), |j| i + 1 + j)
            .min(i + 4);
        return lines[i..end].join("\n");
    }
    lines[lines.len().saturating_sub(5)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_causes_seen_here_are_named() {
        let tokio = "thread 'main' panicked at tokio-1.54.1/src/runtime/io/driver.rs:207:23:\nunexpected error when polling the I/O driver: Os { code: 1, kind: ArgumentListTooLong, message: \"Argument list too long\" }";
        assert!(known_cause(None, tokio)
            .unwrap()
            .contains("poll_oneoff refused"));
        assert!(known_cause(None, "fatal error: poll_oneoff failed")
            .unwrap()
            .contains("Go's runtime"));
        let sigpipe = ExitStatus::from_raw(13);
        assert!(known_cause(Some(sigpipe), "listening")
            .unwrap()
            .contains("SIGPIPE"));
        assert_eq!(known_cause(None, "listening on http://127.0.0.1:1"), None);
        let eio = "thread 'main' (1) panicked at tokio-1.54.1/src/runtime/io/driver.rs:207:23:\nunexpected error when polling the I/O driver: Os { code: 29, kind: Uncategorized, message: \"I/O error\" }";
        assert!(known_cause(None, eio)
            .unwrap()
            .contains("legacy wasip1 poll_oneoff"));
    }

    #[test]
    fn the_salient_lines_are_the_panic_not_the_backtrace() {
        let log = "listening\nthread 'main' (1) panicked at driver.rs:207:23:\nunexpected error when polling\nnote: run with RUST_BACKTRACE=1\nError: failed to run main module\nCaused by:\n  19: wasmtime::main\n  20: main";
        assert_eq!(
            salient(log),
            "thread 'main' (1) panicked at driver.rs:207:23:\nunexpected error when polling"
        );
        let go = "listening\nfatal error: poll_oneoff failed\n\ngoroutine 1 [running]:\nstack backtrace:\n 0: x";
        assert!(salient(go).starts_with("fatal error: poll_oneoff failed"));
        assert_eq!(salient("a\nb"), "a\nb");
    }
}
