//! One HTTP server for every target. Each binary in `src/bin/` only obtains a listening socket the
//! way its runtime allows (the listener bootstrap); `run` does everything after that.

pub mod coalesce;
pub mod config;
pub mod date;
pub mod routes;
pub mod slots;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, SERVER};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

pub use config::{Config, Threads, WriteStrategy};

/// A client that has not sent its request headers by then is dropped (slow-loris guard); near a
/// connection cap the slots shed such clients much sooner (`slots`).
const HEADER_READ_TIMEOUT: Duration = slots::HEADER_READ_TIMEOUT;
/// Request head buffer limit; hyper answers 431 beyond it.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Called on every accepted connection: the bootstrap sets what its platform allows (TCP_NODELAY).
pub type AcceptHook = fn(&tokio::net::TcpStream);

/// What a listener bootstrap knows about its runtime.
#[derive(Clone, Copy)]
pub struct Bootstrap {
    pub on_accept: AcceptHook,
    /// At most this many connections at a time, and why: a runtime that cannot poll more sockets
    /// would kill the server. The others wait in the listen backlog until one closes.
    pub max_connections: Option<(usize, &'static str)>,
}

impl Bootstrap {
    /// Nothing to limit: `on_accept` on each connection.
    pub const fn new(on_accept: AcceptHook) -> Bootstrap {
        Bootstrap {
            on_accept,
            max_connections: None,
        }
    }
}

/// Sets TCP_NODELAY through tokio where the platform implements it; WASI hosts that lack it refuse,
/// which is exactly why the `single` write strategy matters there.
pub fn nodelay_via_tokio(stream: &tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
}

/// Serves forever on `listener` (already bound and listening) with the given settings.
/// On wasm32-wasip1 std cannot change O_NONBLOCK, so those bootstraps hand over a listener that is
/// already non-blocking.
pub fn run(
    listener: std::net::TcpListener,
    config: &Config,
    bootstrap: Bootstrap,
) -> std::io::Result<()> {
    #[cfg(not(all(target_os = "wasi", target_env = "p1")))]
    listener.set_nonblocking(true)?;
    let runtime = match config.threads {
        Threads::CurrentThread => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        #[cfg(not(target_family = "wasm"))]
        Threads::MultiThread => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
        #[cfg(target_family = "wasm")]
        Threads::MultiThread => {
            return Err(std::io::Error::other(
                "multi-thread is not available on WASI: use current-thread",
            ))
        }
    };
    let (write, addr) = (config.write, config.addr);
    // The tighter of the runtime's cap and the user's.
    let cap = match (bootstrap.max_connections, config.max_connections) {
        (Some((runtime, why)), Some(user)) => Some(if user < runtime { (user, "--max-connections") } else { (runtime, why) }),
        (Some(runtime), None) => Some(runtime),
        (None, Some(user)) => Some((user, "--max-connections")),
        (None, None) => None,
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        // Not listener.local_addr(): std on wasip1 cannot answer it.
        eprintln!("listening on http://{addr} (write strategy {write:?})");
        let slots = cap.map(|(max, why)| {
            eprintln!(
                "at most {max} connections at a time ({why}); from {} on, each new connection closes the stalest \
                 one with no request in service (idle or an unfinished request head, for longer than 10 s times \
                 the free share of the slots) and answers one request only; at {max} new connections wait to be accepted",
                slots::high_water(max)
            );
            slots::Slots::new(max)
        });
        loop {
            if let Some(slots) = &slots {
                slots.room().await;
            }
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                // Out of descriptors or a connection reset before accept: keep serving the others.
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            (bootstrap.on_accept)(&stream);
            let keep_alive = !slots.as_ref().is_some_and(|s| s.crowded());
            let slot = slots.as_ref().map(|s| (s.clone(), s.admit()));
            tokio::task::spawn(async move {
                serve_connection(stream, write, keep_alive, slot.clone()).await;
                if let Some((slots, connection)) = &slot {
                    slots.release(connection);
                }
            });
        }
    })
}

/// One connection; under a cap, tracked by its slot and shed when told (gracefully once a request
/// has begun on it, so an answer in progress is finished, never cut).
async fn serve_connection(
    stream: tokio::net::TcpStream,
    write: WriteStrategy,
    keep_alive: bool,
    slot: Option<(Arc<slots::Slots>, Arc<slots::Connection>)>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.writev(write == WriteStrategy::Vectored)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(keep_alive);
    let connection = slot.as_ref().map(|(_, c)| c.clone());
    // Under a cap the slot hears of every read: bytes arriving are progress.
    let stream = slots::Watched::new(stream, slot.clone());
    let service = service_fn(move |request: Request<Incoming>| {
        let tracked = slot.clone();
        async move {
            let Some((slots, connection)) = tracked else {
                return handle(request).await;
            };
            connection.begin();
            let response = handle(request).await;
            connection.answered(&slots);
            response
        }
    });
    // Connection errors (resets, timeouts, malformed requests already answered) end that
    // connection only.
    let _ = match write {
        // One write per response, and the answers to a pipelined batch in one write together.
        WriteStrategy::Single => {
            let io = TokioIo::new(coalesce::Coalescing::new(stream));
            until_shed(http.serve_connection(io, service), connection.as_ref()).await
        }
        // hyper's own writes, as they are: the stall reproduction.
        WriteStrategy::Vectored => {
            until_shed(http.serve_connection(TokioIo::new(stream), service), connection.as_ref()).await
        }
    };
}

/// Serves `conn` until it ends, or until its slot is shed: then a connection on which no request
/// has begun is dropped at once, and one that has begun a request shuts down gracefully (hyper
/// closes it at once when idle between requests, else after the answer in progress).
async fn until_shed<I, S, B>(
    conn: hyper::server::conn::http1::Connection<I, S>,
    slot: Option<&Arc<slots::Connection>>,
) -> hyper::Result<()>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(slot) = slot else {
        return conn.await;
    };
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => result,
        () = slot.notice.notified() => {
            if !slot.has_begun() {
                return Ok(());
            }
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let reply = answer(&parts, body).await;
    Ok(to_response(reply, parts.method == hyper::Method::HEAD))
}

/// Reads the body when the route wants one (refusing more than the echo limit, declared or sent)
/// and routes the request.
pub async fn answer<B>(parts: &hyper::http::request::Parts, body: B) -> routes::Reply
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (method, path, query) = (parts.method.as_str(), parts.uri.path(), parts.uri.query());
    if !routes::wants_body(method, path) {
        return routes::route(method, path, query, &[]);
    }
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > routes::ECHO_LIMIT_BYTES) {
        return routes::payload_too_large();
    }
    match Limited::new(body, routes::ECHO_LIMIT_BYTES).collect().await {
        Ok(collected) => routes::route(method, path, query, &collected.to_bytes()),
        Err(_) => routes::payload_too_large(),
    }
}

/// hyper adds `Date` itself from its own per-second cache (it reads the clock on every
/// connection poll anyway), so the hyper server does not add a second one: each clock read is a
/// host call under WASI.
fn to_response(reply: routes::Reply, head: bool) -> Response<Full<Bytes>> {
    response_without_date(reply, head, Full::new)
}

/// Status, body and every header but `Date` (hyper adds it).
fn response_without_date<B>(
    reply: routes::Reply,
    head: bool,
    make_body: impl FnOnce(Bytes) -> B,
) -> Response<B> {
    let len = reply.body.as_bytes().len();
    let body = match (head, reply.body) {
        (true, _) => Bytes::new(),
        (false, routes::Body::Static(b)) => Bytes::from_static(b),
        (false, routes::Body::Owned(v)) => Bytes::from(v),
    };
    let mut response = Response::new(make_body(body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(SERVER, HeaderValue::from_static(routes::SERVER_NAME));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if let Some(allow) = reply.allow {
        headers.insert(ALLOW, HeaderValue::from_static(allow));
    }
    response
}

/// Shared `main` body for the bootstraps: parse settings, bind with `bind`, serve.
/// Loopback, or the one address the benchmark runner assigns a server inside a network namespace
/// it made (reachable only through the veths it made there).
pub fn allowed_listen_ip(ip: std::net::IpAddr) -> bool {
    ip.is_loopback() || ip == std::net::IpAddr::from([10, 213, 0, 1])
}

pub fn main_with(
    bind: impl FnOnce(&Config) -> std::io::Result<std::net::TcpListener>,
    bootstrap: Bootstrap,
) -> std::process::ExitCode {
    let config = match Config::from_env_and_args() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    if !allowed_listen_ip(config.addr.ip()) {
        eprintln!(
            "error: refusing to listen on {}: this benchmark server binds loopback (or 10.213.0.1, the address \
             the benchmark runner gives it inside a network namespace it made) only",
            config.addr
        );
        return std::process::ExitCode::from(2);
    }
    let result = bind(&config).and_then(|listener| run(listener, &config, bootstrap));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: serving on {}: {e}", config.addr);
            std::process::ExitCode::FAILURE
        }
    }
}
