//! Near its connection cap the server sheds connections that make no progress, and never one it
//! has begun answering: under a stream of slowloris clients, every response a real client gets is
//! whole and correct, and fresh clients keep being served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(max_connections: u32) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", &addr, "--max-connections", &max_connections.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "the server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, addr)
}

/// What one answer was.
enum Answer {
    /// Status 200, the plaintext body, and whether the server closes after it.
    Whole { close: bool },
    /// The connection closed before any byte of an answer: a request not begun, which a client
    /// retries on a new connection.
    NotBegun,
    /// Anything else: a cut or wrong answer.
    Broken(String),
}

fn request(c: &mut TcpStream) -> Answer {
    if c.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
        return Answer::NotBegun;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let head_end = loop {
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match c.read(&mut buf) {
            Ok(0) | Err(_) if got.is_empty() => return Answer::NotBegun,
            Ok(0) | Err(_) => return Answer::Broken(format!("cut in the head: {:?}", String::from_utf8_lossy(&got))),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(usize::MAX);
    while got.len() < head_end + length.min(1 << 20) {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => return Answer::Broken(format!("cut in the body: {:?}", String::from_utf8_lossy(&got))),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let body = &got[head_end..];
    if !head.starts_with("http/1.1 200") || body != b"Hello, World!" {
        return Answer::Broken(format!("wrong answer: {:?}", String::from_utf8_lossy(&got)));
    }
    Answer::Whole { close: head.contains("connection: close") }
}

#[test]
fn shedding_never_cuts_an_answer_and_fresh_clients_get_through() {
    let (_server, addr) = start(100);
    let stop = Arc::new(AtomicBool::new(false));
    let slowloris_closed = Arc::new(AtomicU64::new(0));
    // Slowloris clients, 300 open at a time against 100 slots, replaced as the server closes them.
    let attacker = {
        let (addr, stop, closed) = (addr.clone(), stop.clone(), slowloris_closed.clone());
        std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                held.retain_mut(|c| {
                    let mut b = [0u8; 64];
                    match c.read(&mut b) {
                        Ok(0) => {
                            closed.fetch_add(1, Ordering::Relaxed);
                            false
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
                        _ => {
                            closed.fetch_add(1, Ordering::Relaxed);
                            false
                        }
                    }
                });
                while held.len() < 300 {
                    let Ok(mut c) = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(200)) else { break };
                    let _ = c.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Slow: ");
                    c.set_nonblocking(true).unwrap();
                    held.push(c);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    // Real clients: keep-alive requests, a new connection whenever the server closes one.
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let (mut whole, mut retried, mut broken) = (0u32, 0u32, Vec::new());
                let mut c: Option<TcpStream> = None;
                let started = Instant::now();
                while whole < 150 && started.elapsed() < Duration::from_secs(60) {
                    let conn = match c.as_mut() {
                        Some(conn) => conn,
                        None => match TcpStream::connect(&addr) {
                            Ok(conn) => {
                                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                                c.insert(conn)
                            }
                            Err(_) => continue,
                        },
                    };
                    match request(conn) {
                        Answer::Whole { close } => {
                            whole += 1;
                            if close {
                                c = None;
                            }
                        }
                        Answer::NotBegun => {
                            retried += 1;
                            c = None;
                        }
                        Answer::Broken(why) => {
                            broken.push(why);
                            c = None;
                        }
                    }
                }
                (whole, retried, broken)
            })
        })
        .collect();
    let results: Vec<(u32, u32, Vec<String>)> = clients.into_iter().map(|t| t.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    attacker.join().unwrap();
    let broken: Vec<&String> = results.iter().flat_map(|r| &r.2).collect();
    assert!(broken.is_empty(), "answers cut or wrong while shedding: {broken:?}");
    let whole: u32 = results.iter().map(|r| r.0).sum();
    assert_eq!(whole, 16 * 150, "clients were not served in time: {results:?}");
    assert!(
        slowloris_closed.load(Ordering::Relaxed) >= 100,
        "the server shed only {} slowloris connections: shedding was not exercised",
        slowloris_closed.load(Ordering::Relaxed)
    );
    eprintln!(
        "{whole} whole answers, {} requests retried on a new connection (not begun), {} slowloris connections shed",
        results.iter().map(|r| r.1).sum::<u32>(),
        slowloris_closed.load(Ordering::Relaxed)
    );
}
