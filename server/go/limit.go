package main

// Connection slots, for runtimes that cannot poll more sockets than so many (wasmer) or a user's
// cap (--max-connections): the same rules as the Rust server's (server/src/slots.rs). A cap alone
// lets a few hundred idle clients shut everyone else out, so near it the server sheds the
// connections that are not making progress:
//
//   - From nine tenths of the cap, each accepted connection closes one stale connection: no
//     request in its handler, and nothing served for longer than a bound that shrinks as the cap
//     fills (the 10 s header timeout times the free share of the slots, at least 20 ms). The
//     stalest goes first: one that never finished a request head, or a keep-alive connection idle
//     since its last answer; one the server has not read from yet only after a second (it may
//     just be waiting its turn). A connection whose handler is running is never closed.
//   - From nine tenths on, answers carry "Connection: close", so that slots held by busy clients
//     rotate through everyone waiting.
//   - At the cap itself Accept waits (new connections queue in the listen backlog) and sheds the
//     stalest connection once it has made no progress for 20 ms.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

const (
	headerReadTimeout = 10 * time.Second
	minStale          = 20 * time.Millisecond
)

// staleAfter mirrors slots::stale_after: the header timeout times the free share, at least 20 ms.
func staleAfter(open, max int) time.Duration {
	free := max - open
	if free < 0 {
		free = 0
	}
	d := headerReadTimeout * time.Duration(free) / time.Duration(max)
	if d < minStale {
		return minStale
	}
	return d
}

// highWater mirrors slots::high_water.
func highWater(max int) int { return max - max/10 }

type slots struct {
	max  int
	free chan struct{}
	mu   sync.Mutex
	open map[*trackedConn]struct{}
	shed int
}

// The slots of this server, when it has a cap.
var connectionSlots *slots

type trackedConn struct {
	net.Conn
	s        *slots
	mu       sync.Mutex
	progress time.Time
	read     bool
	begun    int
	answered int
	shedding bool
	release  func()
}

// neverReadGrace: a connection the server has not read from yet may just be waiting for its turn
// (an overloaded server reads late); it is shed only after this long.
const neverReadGrace = time.Second

// Read marks progress: bytes arrived.
func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		c.read = true
		c.progress = time.Now()
		c.mu.Unlock()
	}
	return n, err
}

// staleFor: whether the connection made no progress for longer than bound (or, never read from,
// than neverReadGrace) and has no request in its handler. Called with c.mu held.
func (c *trackedConn) staleFor(bound time.Duration, now time.Time) bool {
	if !c.read && bound < neverReadGrace {
		bound = neverReadGrace
	}
	return !c.shedding && c.begun == c.answered && now.Sub(c.progress) >= bound
}

type limitListener struct {
	net.Listener
	s *slots
}

// limit wraps l when the bootstrap (see listen_*.go) or the user sets a cap.
func limit(l net.Listener, max int, why string) net.Listener {
	if max <= 0 {
		return l
	}
	s := &slots{max: max, free: make(chan struct{}, max), open: map[*trackedConn]struct{}{}}
	connectionSlots = s
	fmt.Fprintf(os.Stderr, "at most %d connections at a time (%s); from %d on, each new connection closes the stalest one with no request in service (idle or an unfinished request head, for longer than 10 s times the free share of the slots) and answers one request only; at %d new connections wait to be accepted\n", max, why, highWater(max), max)
	return &limitListener{Listener: l, s: s}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.s.room()
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.s.free
		return nil, err
	}
	t := &trackedConn{Conn: c, s: l.s, progress: time.Now()}
	t.release = sync.OnceFunc(func() {
		l.s.mu.Lock()
		delete(l.s.open, t)
		l.s.mu.Unlock()
		<-l.s.free
	})
	l.s.admit(t)
	return t, nil
}

// room takes a slot, waiting at the cap (new connections queue in the listen backlog) while the
// stalest connection is shed as soon as it has made no progress for minStale.
func (s *slots) room() {
	for {
		select {
		case s.free <- struct{}{}:
			return
		default:
		}
		s.shedStalest(false)
		select {
		case s.free <- struct{}{}:
			return
		case <-time.After(minStale):
		}
	}
}

// admit registers t and, from the high-water mark on, closes the stalest connection.
func (s *slots) admit(t *trackedConn) {
	s.mu.Lock()
	s.open[t] = struct{}{}
	s.mu.Unlock()
	s.shedStalest(true)
}

// shedStalest closes the stalest connection with no request in its handler, if it has made no
// progress for longer than the bound at this many open connections (only from the high-water
// mark on when onlyPastHighWater).
func (s *slots) shedStalest(onlyPastHighWater bool) {
	s.mu.Lock()
	var victim *trackedConn
	if !onlyPastHighWater || len(s.open) >= highWater(s.max) {
		bound := staleAfter(len(s.open), s.max)
		now := time.Now()
		for c := range s.open {
			c.mu.Lock()
			if c.staleFor(bound, now) && (victim == nil || c.progress.Before(victim.progress)) {
				victim = c
			}
			c.mu.Unlock()
		}
	}
	if victim != nil {
		s.shed++
	}
	s.mu.Unlock()
	if victim != nil {
		victim.shedNow()
	}
}

// shedNow closes the connection unless a request entered its handler since it was chosen.
func (c *trackedConn) shedNow() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.begun != c.answered {
		return
	}
	c.shedding = true
	c.Conn.Close()
	c.release()
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// SyscallConn keeps the descriptor reachable for setNoDelay.
func (c *trackedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, fmt.Errorf("not a syscall.Conn")
}

type connKey struct{}

// withConn puts the accepted connection into each request's context (http.Server.ConnContext).
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// tracked wraps a handler: a request in its handler keeps its connection from being shed, and
// its answer counts as progress.
func tracked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := r.Context().Value(connKey{}).(*trackedConn)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		c.mu.Lock()
		if c.shedding {
			c.mu.Unlock()
			return // closed before this request began: nothing was answered
		}
		c.begun++
		c.mu.Unlock()
		next.ServeHTTP(w, r)
		c.mu.Lock()
		c.answered++
		c.progress = time.Now()
		c.mu.Unlock()
	})
}

// nearLimit: nine tenths of the slots are taken.
func nearLimit() bool {
	s := connectionSlots
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open) >= highWater(s.max)
}
