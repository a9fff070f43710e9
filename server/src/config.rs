//! Server settings, from `--flag value` arguments or environment variables (WASI guests get only
//! what the runner passes with `--env`, so both ways must work).

use std::net::SocketAddr;

/// How a response leaves the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStrategy {
    /// Headers and body flattened into one buffer, one write per response (hyper `writev(false)`).
    Single,
    /// hyper's queued buffers written with vectored I/O. Over WASI sockets that cannot set
    /// TCP_NODELAY this sends a response as two segments and hits the Nagle + delayed-ACK stall.
    Vectored,
}

/// Which tokio scheduler runs the server (native only; WASI is single-threaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    CurrentThread,
    MultiThread,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub write: WriteStrategy,
    pub threads: Threads,
    /// A cap on open connections of the user's own (`--max-connections`, `MAX_CONNECTIONS`):
    /// near it, stale connections are shed as under a runtime's cap.
    pub max_connections: Option<usize>,
}

impl Config {
    /// Reads `--addr`, `--write`, `--threads`, `--max-connections` (or `ADDR`, `WRITE_STRATEGY`,
    /// `THREADS`, `MAX_CONNECTIONS`).
    pub fn from_env_and_args() -> Result<Config, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let get = |flag: &str, var: &str| -> Option<String> {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1).cloned())
                .or_else(|| std::env::var(var).ok())
        };
        let addr_text = get("--addr", "ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let addr: SocketAddr = addr_text
            .parse()
            .map_err(|e| format!("--addr/ADDR {addr_text:?} is not ip:port ({e})"))?;
        let write = match get("--write", "WRITE_STRATEGY").as_deref() {
            None | Some("single") => WriteStrategy::Single,
            Some("vectored") => WriteStrategy::Vectored,
            Some(other) => {
                return Err(format!(
                    "--write/WRITE_STRATEGY {other:?}: use single or vectored"
                ))
            }
        };
        let threads = match get("--threads", "THREADS").as_deref() {
            None | Some("current") | Some("current-thread") => Threads::CurrentThread,
            Some("multi") | Some("multi-thread") => Threads::MultiThread,
            Some(other) => {
                return Err(format!(
                    "--threads/THREADS {other:?}: use current-thread or multi-thread"
                ))
            }
        };
        let max_connections = match get("--max-connections", "MAX_CONNECTIONS") {
            None => None,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n >= 10 => Some(n),
                _ => return Err(format!("--max-connections/MAX_CONNECTIONS {text:?}: a whole number of at least 10")),
            },
        };
        Ok(Config {
            addr,
            write,
            threads,
            max_connections,
        })
    }
}
