package main

// A cap on open connections, for runtimes that cannot poll more sockets than that: past it the
// server would die. At the cap, Accept waits (new connections queue in the listen backlog); near
// it, answers carry "Connection: close", so the slots rotate through everyone waiting.

import (
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

var (
	openConnections atomic.Int64
	connectionLimit int64
)

type limitListener struct {
	net.Listener
	slots chan struct{}
}

type limitConn struct {
	net.Conn
	release func()
}

// limit wraps l when the bootstrap has a limit (maxConnections > 0, see listen_*.go).
func limit(l net.Listener, max int, why string) net.Listener {
	if max <= 0 {
		return l
	}
	connectionLimit = int64(max)
	fmt.Fprintf(os.Stderr, "at most %d connections at a time (%s); the others wait to be accepted\n", max, why)
	return &limitListener{Listener: l, slots: make(chan struct{}, max)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	openConnections.Add(1)
	release := sync.OnceFunc(func() {
		openConnections.Add(-1)
		<-l.slots
	})
	return &limitConn{Conn: c, release: release}, nil
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// SyscallConn keeps the descriptor reachable for setNoDelay.
func (c *limitConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, fmt.Errorf("not a syscall.Conn")
}

// nearLimit: nine tenths of the slots are taken.
func nearLimit() bool {
	return connectionLimit > 0 && openConnections.Load()*10 >= connectionLimit*9
}
