//! The response checks every server must pass, on every target: each workload's exact answer,
//! the error statuses, TechEmpower's header rules, and the hardening a benchmark server needs
//! (malformed requests, oversized headers and bodies, slow and idle clients). Real requests over
//! real sockets to a running server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::probe;
use super::workload::{self, WrongAnswer};

/// Why a check failed, for one server.
#[derive(Debug, thiserror::Error)]
pub enum CheckFailure {
    #[error(transparent)]
    Wrong(#[from] WrongAnswer),
    /// The request could not be made or answered (connection, timeout).
    #[error("{0}")]
    Request(String),
    #[error("{request}: answered {got} (expected {want})")]
    Unexpected { request: String, got: String, want: String },
    #[error("a request {when} took {took:?}")]
    TooSlow { when: String, took: Duration },
}

impl From<String> for CheckFailure {
    fn from(message: String) -> CheckFailure {
        CheckFailure::Request(message)
    }
}

type Outcome = Result<(), CheckFailure>;

/// Which servers a check applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every server: its workloads' answers and behaviour under slow, idle and busy clients.
    AnyServer,
    /// The server's own HTTP layer; `wasmtime serve` replaces it with the host's.
    HttpLayer,
    /// The project's own error routes (server definitions with `route_checks = true`).
    ProjectRoutes,
}

pub struct Check {
    pub name: &'static str,
    pub run: fn(&Target) -> Outcome,
    pub scope: Scope,
}

/// The server under test, and the requests it answers.
pub struct Target {
    pub base: String,
    pub addr: String,
    pub workloads: Vec<workload::Workload>,
}

impl Target {
    /// The request the behaviour checks send: the server's first workload.
    fn request(&self) -> &workload::Workload {
        &self.workloads[0]
    }
}

pub const CHECKS: &[Check] = &[
    Check { name: "every workload answers as its definition says", run: workloads, scope: Scope::AnyServer },
    Check { name: "unknown path is 404", run: not_found, scope: Scope::ProjectRoutes },
    Check { name: "wrong method is 405 with Allow", run: wrong_method, scope: Scope::ProjectRoutes },
    Check { name: "echo body over the limit is 413", run: echo_too_large, scope: Scope::ProjectRoutes },
    Check { name: "bad query argument is 400", run: bad_argument, scope: Scope::ProjectRoutes },
    Check { name: "Date changes each second", run: date_changes, scope: Scope::ProjectRoutes },
    Check { name: "keep-alive serves several requests on one connection", run: keep_alive, scope: Scope::HttpLayer },
    Check { name: "malformed request line is 400", run: malformed, scope: Scope::HttpLayer },
    Check { name: "oversized headers are 431", run: oversized_headers, scope: Scope::HttpLayer },
    Check { name: "a slow client does not block others", run: slow_client, scope: Scope::HttpLayer },
    Check { name: "busy connections in parallel are all served", run: parallel_connections, scope: Scope::AnyServer },
    Check { name: "256 idle connections do not block others", run: idle_connections, scope: Scope::HttpLayer },
    Check { name: "256 half-sent requests do not block others", run: half_sent_requests, scope: Scope::HttpLayer },
];

fn agent() -> ureq::Agent {
    probe::agent(Duration::from_secs(5))
}

fn workloads(t: &Target) -> Outcome {
    for w in &t.workloads {
        let observed = probe::probe(&agent(), &t.base, w)?;
        workload::check(w, &observed)?;
    }
    Ok(())
}

fn expect_status(
    t: &Target,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    status: u16,
) -> Result<workload::Observed, CheckFailure> {
    let observed = probe::request(&agent(), &t.base, method, path, &[], body)?;
    if observed.status != status {
        return Err(WrongAnswer::Status { request: format!("{method} {path}"), got: observed.status, want: status }.into());
    }
    Ok(observed)
}

fn not_found(t: &Target) -> Outcome {
    expect_status(t, "GET", "/no-such-path", None, 404).map(drop)
}

fn wrong_method(t: &Target) -> Outcome {
    expect_status(t, "POST", "/plaintext", Some(b"x"), 405)?;
    let head = raw(&t.addr, b"DELETE /json HTTP/1.1\r\nHost: x\r\n\r\n")?;
    if !head.to_ascii_lowercase().contains("\r\nallow: get") {
        return Err(CheckFailure::Unexpected { request: "DELETE /json".into(), got: first_lines(&head), want: "405 with `Allow: GET`".into() });
    }
    Ok(())
}

fn echo_too_large(t: &Target) -> Outcome {
    let body = vec![b'x'; bench_server::routes::ECHO_LIMIT_BYTES + 1];
    expect_status(t, "POST", "/echo", Some(&body), 413).map(drop)
}

fn bad_argument(t: &Target) -> Outcome {
    expect_status(t, "GET", "/compute?n=lots", None, 400).map(drop)
}

fn date_changes(t: &Target) -> Outcome {
    let first = probe::probe(&agent(), &t.base, t.request())?.date;
    std::thread::sleep(Duration::from_millis(1100));
    let second = probe::probe(&agent(), &t.base, t.request())?.date;
    if first.is_none() || first == second {
        return Err(CheckFailure::Unexpected {
            request: t.request().request_line(),
            got: format!("Date {first:?} then {second:?} over 1.1 s"),
            want: "a Date that changes each second".into(),
        });
    }
    Ok(())
}

fn keep_alive(t: &Target) -> Outcome {
    let mut stream = connect(&t.addr)?;
    for i in 0..3 {
        stream
            .write_all(&t.request().raw())
            .map_err(|e| format!("write {i}: {e}"))?;
        let head = read_response(&mut stream)?;
        if !answered_as_expected(&head, t.request()) {
            return Err(CheckFailure::Unexpected {
                request: format!("{} (request {i} on one connection)", t.request().request_line()),
                got: first_lines(&head),
                want: format!("status {}", t.request().expect.status),
            });
        }
    }
    Ok(())
}

/// Whether a response head has the status the workload expects.
fn answered_as_expected(head: &str, w: &workload::Workload) -> bool {
    head.starts_with(&format!("HTTP/1.1 {}", w.expect.status))
}

fn malformed(t: &Target) -> Outcome {
    let head = raw(&t.addr, b"THIS IS NOT HTTP\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 400") && !head.starts_with("HTTP/1.0 400") {
        return Err(CheckFailure::Unexpected { request: "THIS IS NOT HTTP".into(), got: first_lines(&head), want: "400".into() });
    }
    Ok(())
}

fn oversized_headers(t: &Target) -> Outcome {
    let w = t.request();
    let mut request = format!("{} {} HTTP/1.1\r\nHost: x\r\n", w.method, w.path).into_bytes();
    request.extend(format!("X-Big: {}\r\n\r\n", "a".repeat(64 * 1024)).as_bytes());
    let head = raw(&t.addr, &request)?;
    if !head.starts_with("HTTP/1.1 431") {
        return Err(CheckFailure::Unexpected { request: format!("{} with a 64 KiB header", w.request_line()), got: first_lines(&head), want: "431".into() });
    }
    Ok(())
}

/// Connections that each send their next request as soon as the last is answered, as a load
/// generator does, for a while: every request must be answered. A runtime whose event loop waits
/// for an unrelated socket event before running ready work stalls here within a second (Go under
/// wasmer without the netpoll workaround served ~1,500 requests, then none), while a few requests
/// one at a time still work.
fn parallel_connections(t: &Target) -> Outcome {
    const CONNECTIONS: usize = 8;
    const FOR: Duration = Duration::from_millis(1500);
    let start = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let addr = t.addr.clone();
            let w = t.request().clone();
            std::thread::spawn(move || -> Result<usize, String> {
                let mut stream = connect(&addr)?;
                let mut answered = 0;
                while start.elapsed() < FOR {
                    let sent = Instant::now();
                    stream
                        .write_all(&w.raw())
                        .map_err(|e| format!("connection {c}, request {answered}: {e}"))?;
                    let head = read_response(&mut stream).map_err(|e| {
                        format!(
                            "connection {c}, request {answered}: {e} after {:?} ({answered} answered before)",
                            sent.elapsed()
                        )
                    })?;
                    if !answered_as_expected(&head, &w) {
                        return Err(format!(
                            "connection {c}, request {answered}: {}",
                            first_lines(&head)
                        ));
                    }
                    answered += 1;
                }
                Ok(answered)
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .map_err(|_| "a client thread panicked".to_string())??;
    }
    Ok(())
}

/// Half a request head of the server's first workload, then silence.
fn half_head(t: &Target) -> Vec<u8> {
    let w = t.request();
    format!("{} {} HTTP/1.1\r\nHost: x\r\nX-Slow: ", w.method, w.path).into_bytes()
}

fn slow_client(t: &Target) -> Outcome {
    // Half a request, then silence: the server must keep serving everyone else.
    let mut slow = connect(&t.addr)?;
    slow.write_all(&half_head(t)).map_err(|e| e.to_string())?;
    answered_quickly(t, "while a client trickles its headers")
}

fn idle_connections(t: &Target) -> Outcome {
    let idle: Vec<TcpStream> = (0..256)
        .map(|_| connect(&t.addr))
        .collect::<Result<_, _>>()?;
    let result = answered_quickly(t, "with 256 idle connections open");
    drop(idle);
    result
}

fn half_sent_requests(t: &Target) -> Outcome {
    let mut slow = Vec::new();
    for _ in 0..256 {
        let mut c = connect(&t.addr)?;
        c.write_all(&half_head(t)).map_err(|e| e.to_string())?;
        slow.push(c);
    }
    let result = answered_quickly(t, "while 256 clients trickle their headers");
    drop(slow);
    result
}

fn answered_quickly(t: &Target, when: &str) -> Outcome {
    let start = Instant::now();
    let took = probe::timed_check(&agent(), &t.base, t.request())?;
    if start.elapsed() > Duration::from_secs(2) {
        return Err(CheckFailure::TooSlow { when: when.into(), took });
    }
    Ok(())
}

fn connect(addr: &str) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// Sends raw bytes on a new connection and returns the response head (status line + headers).
fn raw(addr: &str, request: &[u8]) -> Result<String, String> {
    let mut stream = connect(addr)?;
    // A server may answer (and close) before reading everything: a failed write is not the verdict.
    let _ = stream.write_all(request);
    read_response(&mut stream)
}

/// Reads one response: its head, and its body when Content-Length says how long it is.
fn read_response(stream: &mut TcpStream) -> Result<String, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            return Ok(head);
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(format!(
                    "connection closed before a response head ({} bytes read)",
                    buf.len()
                ))
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("no response: {e}")),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn first_lines(head: &str) -> String {
    head.lines().take(3).collect::<Vec<_>>().join(" | ")
}
