//go:build wasip1 && !wasix && !wasmedge

package main

// Plain wasip1 cannot open a socket, but a host can open one and hand it over: wasmtime before 47
// does with `-S tcplisten=ADDR`, as the first descriptor after stdio. listen_wasi.go accepts on it
// with the wasip1 poller (sock_accept is in wasip1 itself).

import (
	"fmt"
	"net"
)

const preopenedListener = 3

func listen(addr *net.TCPAddr) (net.Listener, error) {
	l, err := newWasiListener(preopenedListener, addr)
	if err != nil {
		return nil, fmt.Errorf("no preopened listener on descriptor %d (run under wasmtime before 47 with -S tcplisten=%s): %w", preopenedListener, addr, err)
	}
	return l, nil
}

// wasip1 has no socket options; wasmtime's host sockets are what they are.
func setNoDelay(net.Conn) {}

// fd_write on a host socket: wasmtime (Rust) ignores SIGPIPE, so a client that left is an error
// return, not a dead server.
func connWrite(c *wasiConn, b []byte) (int, error) { return c.File.Write(b) }

const (
	maxConnections    = 0
	maxConnectionsWhy = ""
)
