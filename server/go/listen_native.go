//go:build !wasip1

package main

import "net"

// Native: the standard listener. Go sets TCP_NODELAY on accepted connections by default.
func listen(addr *net.TCPAddr) (net.Listener, error) { return net.ListenTCP("tcp", addr) }

func setNoDelay(net.Conn) {}

// No limit: the host polls with epoll.
const (
	maxConnections    = 0
	maxConnectionsWhy = ""
)
