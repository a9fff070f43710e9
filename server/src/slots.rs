//! Connection slots, for bootstraps whose runtime cannot poll more than so many sockets (wasmer:
//! 500 here) or a user's cap (`--max-connections`). A cap alone lets a few hundred idle clients
//! shut everyone else out: each holds a slot until its header timeout, while legitimate clients
//! wait in the listen backlog. So near the cap the server sheds the connections that are not
//! making progress, as nginx's `client_header_timeout` and Go's `ReadHeaderTimeout` would:
//!
//! - From nine tenths of the cap, each accepted connection closes one stale connection: no
//!   request in service, and nothing served for longer than a bound that shrinks as the cap fills
//!   (the 10 s header timeout times the free share of the slots, at least 20 ms).
//! - The stalest goes first: a connection that never finished a request head, or a keep-alive
//!   connection idle since its last answer; one the server has not read from yet only after a
//!   second (an overloaded server may just not have come to it).
//! - Nothing started is lost: a connection that has begun a request is shut down gracefully
//!   (hyper finishes the answer in progress, then closes); only one that never began a request is
//!   dropped at once.
//! - From nine tenths on, new connections also answer one request and close, so that slots held
//!   by busy clients rotate through everyone waiting.
//! - At the cap itself the server stops accepting until a slot frees, and sheds the stalest
//!   connection once it has made no progress for 20 ms.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The slowest a client may be while the server has room to spare: hyper's header timeout.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest bound: a connection is never shed sooner after it last made progress.
pub const MIN_STALE: Duration = Duration::from_millis(20);
/// A connection the server has not read from yet may just be waiting for its turn (an overloaded
/// server reads late): it is shed only after this long.
pub const NEVER_READ_GRACE: Duration = Duration::from_secs(1);

/// How long a connection may go without progress before it may be shed, with `open` of `max`
/// slots taken: the header timeout times the free share, at least `MIN_STALE`.
pub fn stale_after(open: usize, max: usize) -> Duration {
    let free = max.saturating_sub(open) as u32;
    (HEADER_READ_TIMEOUT * free / max.max(1) as u32).max(MIN_STALE)
}

/// From this many open connections on, each new one sheds a stale one.
pub fn high_water(max: usize) -> usize {
    max - max / 10
}

/// One connection as the slots see it.
#[derive(Debug)]
pub struct Connection {
    /// When it last made progress (accepted, or answered a request), ms since the slots began.
    progress_ms: AtomicU64,
    /// Whether any byte has been read from it.
    read: AtomicBool,
    /// Requests begun, and requests whose answer has been handed to hyper.
    begun: AtomicU32,
    answered: AtomicU32,
    shed: AtomicBool,
    /// Told when this connection is to go.
    pub notice: Notify,
}

impl Connection {
    /// Bytes arrived: the connection made progress.
    pub fn bytes_read(&self, slots: &Slots) {
        self.read.store(true, Ordering::Release);
        self.progress_ms.store(slots.now_ms(), Ordering::Release);
    }

    /// Whether it made no progress for `bound` (or `NEVER_READ_GRACE`, never read from) by `now`,
    /// with no request in service.
    fn stale(&self, bound_ms: u64, now: u64) -> bool {
        let bound = match self.read.load(Ordering::Acquire) {
            true => bound_ms,
            false => bound_ms.max(NEVER_READ_GRACE.as_millis() as u64),
        };
        !self.shed.load(Ordering::Acquire) && !self.in_service() && now.saturating_sub(self.progress_ms.load(Ordering::Acquire)) >= bound
    }

    /// A request has begun (its head was read).
    pub fn begin(&self) {
        self.begun.fetch_add(1, Ordering::AcqRel);
    }

    /// Its answer is with hyper: the connection made progress.
    pub fn answered(&self, slots: &Slots) {
        self.answered.fetch_add(1, Ordering::AcqRel);
        self.progress_ms.store(slots.now_ms(), Ordering::Release);
    }

    /// Whether any request has begun on it (then it must finish gracefully).
    pub fn has_begun(&self) -> bool {
        self.begun.load(Ordering::Acquire) > 0
    }

    fn in_service(&self) -> bool {
        self.begun.load(Ordering::Acquire) > self.answered.load(Ordering::Acquire)
    }
}

#[derive(Debug)]
pub struct Slots {
    max: usize,
    open: Mutex<Vec<Arc<Connection>>>,
    freed: Notify,
    started: Instant,
    shed_total: AtomicU64,
}

impl Slots {
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max: max.max(1),
            open: Mutex::new(Vec::new()),
            freed: Notify::new(),
            started: Instant::now(),
            shed_total: AtomicU64::new(0),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Connection>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a slot is free: at the cap, new connections wait in the listen backlog while
    /// the stalest connection is shed as soon as it has made no progress for `MIN_STALE`.
    pub async fn room(&self) {
        loop {
            let freed = self.freed.notified();
            {
                let open = self.open();
                if open.len() < self.max {
                    return;
                }
                self.shed_stalest(&open, self.now_ms());
            }
            tokio::select! {
                () = freed => {}
                () = tokio::time::sleep(MIN_STALE) => {}
            }
        }
    }

    /// Takes a slot for a new connection; from the high-water mark on, sheds the stalest one.
    pub fn admit(&self) -> Arc<Connection> {
        let now = self.now_ms();
        let connection = Arc::new(Connection {
            progress_ms: AtomicU64::new(now),
            read: AtomicBool::new(false),
            begun: AtomicU32::new(0),
            answered: AtomicU32::new(0),
            shed: AtomicBool::new(false),
            notice: Notify::new(),
        });
        let mut open = self.open();
        open.push(connection.clone());
        if open.len() >= high_water(self.max) {
            self.shed_stalest(&open, now);
        }
        connection
    }

    /// Tells the stalest connection with no request in service to go, if one has made no
    /// progress for longer than the bound at this many open connections.
    fn shed_stalest(&self, open: &[Arc<Connection>], now: u64) {
        let bound = stale_after(open.len(), self.max).as_millis() as u64;
        let stalest = open
            .iter()
            .filter(|c| c.stale(bound, now))
            .min_by_key(|c| c.progress_ms.load(Ordering::Acquire));
        if let Some(victim) = stalest {
            victim.shed.store(true, Ordering::Release);
            victim.notice.notify_one();
            self.shed_total.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// At or past the high-water mark: new connections answer one request and close, so that
    /// busy slots rotate through everyone waiting instead of staying with whoever came first.
    pub fn crowded(&self) -> bool {
        self.open().len() >= high_water(self.max)
    }

    /// The connection has closed: its slot is free.
    pub fn release(&self, connection: &Arc<Connection>) {
        let mut open = self.open();
        if let Some(at) = open.iter().position(|c| Arc::ptr_eq(c, connection)) {
            open.swap_remove(at);
        }
        drop(open);
        self.freed.notify_one();
    }

    /// Connections shed so far.
    pub fn shed_total(&self) -> u64 {
        self.shed_total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_shrinks_as_the_slots_fill() {
        assert_eq!(stale_after(0, 500), HEADER_READ_TIMEOUT);
        assert_eq!(stale_after(450, 500), Duration::from_secs(1));
        assert_eq!(stale_after(499, 500), MIN_STALE);
        assert_eq!(stale_after(500, 500), MIN_STALE);
        assert_eq!(high_water(500), 450);
        assert_eq!(high_water(10), 9);
    }

    #[test]
    fn at_the_high_water_mark_the_stalest_idle_connection_is_shed() {
        let slots = Slots::new(10);
        let first: Vec<Arc<Connection>> = (0..8).map(|_| slots.admit()).collect();
        // One of them is answering a request: never shed mid-request.
        first[0].begin();
        std::thread::sleep(Duration::from_millis(1100));
        // The ninth reaches nine tenths: the bound is 1 s, all but the busy one are older.
        let _ninth = slots.admit();
        assert_eq!(slots.shed_total(), 1);
        let shed: Vec<usize> = (0..8).filter(|&i| first[i].shed.load(Ordering::Acquire)).collect();
        assert_eq!(shed.len(), 1);
        assert_ne!(shed[0], 0, "the connection in service was shed");
        // A fresh connection is not stale: below the bound nothing more goes.
        slots.release(&first[shed[0]]);
        let _tenth = slots.admit();
        assert_eq!(slots.shed_total(), 2, "the next stalest goes too (still over 1 s)");
    }

    #[test]
    fn connections_that_made_progress_recently_stay() {
        let slots = Slots::new(10);
        let all: Vec<Arc<Connection>> = (0..8).map(|_| slots.admit()).collect();
        std::thread::sleep(Duration::from_millis(1100));
        for c in &all {
            c.begin();
            c.answered(&slots);
        }
        let _ninth = slots.admit();
        assert_eq!(slots.shed_total(), 0);
    }
}

/// A stream that tells its connection's slot whenever bytes arrive.
pub struct Watched<S> {
    inner: S,
    slot: Option<(Arc<Slots>, Arc<Connection>)>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, slot: Option<(Arc<Slots>, Arc<Connection>)>) -> Watched<S> {
        Watched { inner, slot }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Watched<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            if let Some((slots, connection)) = &self.slot {
                connection.bytes_read(slots);
            }
        }
        polled
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
