//go:build wasip1 && !wasix && !wasmedge

package main

import (
	"fmt"
	"net"
)

// Plain wasip1 has no way to open a listening socket: build with -tags wasix or -tags wasmedge.
func listen(*net.TCPAddr) (net.Listener, error) {
	return nil, fmt.Errorf("plain wasip1 cannot open sockets: build with -tags wasix (wasmer) or -tags wasmedge")
}

func setNoDelay(net.Conn) {}

const (
	maxConnections    = 0
	maxConnectionsWhy = ""
)
