//go:build wasip1 && wasix

package main

// wasmer: open, bind and listen through WASIX socket calls; listen_wasi.go accepts on the
// descriptor with the wasip1 poller.

import (
	"fmt"
	"net"
	"syscall"
	"unsafe"
)

//go:wasmimport wasix_32v1 sock_open
func wasixSockOpen(af, socktype, proto int32, fd unsafe.Pointer) int32

//go:wasmimport wasix_32v1 sock_bind
func wasixSockBind(fd int32, addr unsafe.Pointer) int32

//go:wasmimport wasix_32v1 sock_listen
func wasixSockListen(fd int32, backlog int32) int32

//go:wasmimport wasix_32v1 sock_set_opt_flag
func wasixSockSetOptFlag(fd int32, opt int32, flag int32) int32

const (
	addressFamilyInet4 = 1
	sockTypeStream     = 1
	sockProtoTCP       = 6
	sockOptReuseAddr   = 2
	sockOptNoDelay     = 3
)

// addrPort is WASIX's AddrPort for IPv4: a tag byte, then (2-aligned) the port in host byte order
// and the four address bytes; padded to the size of the largest union member.
type addrPort struct {
	tag  uint8
	_    uint8
	port uint16
	ip   [4]byte
	_    [120]byte
}

func listen(addr *net.TCPAddr) (net.Listener, error) {
	ip4 := addr.IP.To4()
	if ip4 == nil {
		return nil, fmt.Errorf("the WASIX bootstrap binds IPv4 addresses only")
	}
	var fd int32
	if e := wasixSockOpen(addressFamilyInet4, sockTypeStream, sockProtoTCP, unsafe.Pointer(&fd)); e != 0 {
		return nil, fmt.Errorf("WASIX sock_open failed: errno %d", e)
	}
	wasixSockSetOptFlag(fd, sockOptReuseAddr, 1)
	a := addrPort{tag: addressFamilyInet4, port: uint16(addr.Port)}
	copy(a.ip[:], ip4)
	if e := wasixSockBind(fd, unsafe.Pointer(&a)); e != 0 {
		return nil, fmt.Errorf("WASIX sock_bind failed: errno %d", e)
	}
	if e := wasixSockListen(fd, 4096); e != 0 {
		return nil, fmt.Errorf("WASIX sock_listen failed: errno %d", e)
	}
	return newWasiListener(fd, addr)
}

// wasmer's poll_oneoff refuses more than 1,024 subscriptions ("poll_oneoff failed", fatal to
// Go's runtime): measured, 1,000 idle connections held and 1,500 killed the server. 500, as the
// Rust server's cap: each poll then covers fewer sockets, and under hostile clients the server
// accepted and shed connections faster (measured here, 5,000 + 5,000 hostile clients: 7,983
// of them closed in a window with 500 slots, 6,294 with 1,000).
const (
	maxConnections    = 500
	maxConnectionsWhy = "wasmer's poll_oneoff takes at most 1,024 subscriptions"
)

// WASIX has a no-delay option, unlike plain WASI.
func setNoDelay(c net.Conn) {
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) { wasixSockSetOptFlag(int32(fd), sockOptNoDelay, 1) })
		}
	}
}

// connWrite is the file write: wasmer ignores SIGPIPE (a Rust host), so fd_write is safe here.
func connWrite(c *wasiConn, b []byte) (int, error) { return c.File.Write(b) }
