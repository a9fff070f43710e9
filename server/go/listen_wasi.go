//go:build wasip1

package main

// A net.Listener over a listening WASI socket descriptor. Go's net.FileListener would do, but it
// insists that fd_fdstat_get report a stream socket, and wasmer reports its WASIX sockets as
// "unknown". The descriptors are non-blocking os.Files, so reads, writes and accepts wait in Go's
// wasip1 poller (poll_oneoff) instead of blocking the single thread.

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

//go:wasmimport wasi_snapshot_preview1 sock_accept
func wasiSockAccept(fd int32, flags int32, newfd unsafe.Pointer) int32

const (
	fdflagsNonblock = 4
	errnoAgain      = 6
)

type wasiListener struct {
	file *os.File
	raw  syscall.RawConn
	addr net.Addr
}

func newWasiListener(fd int32, addr *net.TCPAddr) (net.Listener, error) {
	if err := syscall.SetNonblock(int(fd), true); err != nil {
		return nil, err
	}
	file := os.NewFile(uintptr(fd), "wasi-listener")
	raw, err := file.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &wasiListener{file: file, raw: raw, addr: addr}, nil
}

func (l *wasiListener) Accept() (net.Conn, error) {
	var newfd int32
	var errno int32
	err := l.raw.Read(func(fd uintptr) bool {
		errno = wasiSockAccept(int32(fd), fdflagsNonblock, unsafe.Pointer(&newfd))
		return errno != errnoAgain // false: wait until readable, then try again
	})
	if err != nil {
		return nil, err
	}
	if errno != 0 {
		return nil, syscall.Errno(errno)
	}
	// Some hosts (WasmEdge) ignore the accept flags: make sure the socket cannot block the thread.
	if err := syscall.SetNonblock(int(newfd), true); err != nil {
		syscall.Close(int(newfd))
		return nil, err
	}
	conn := &wasiConn{File: os.NewFile(uintptr(newfd), "wasi-conn"), local: l.addr}
	return conn, nil
}

func (l *wasiListener) Close() error   { return l.file.Close() }
func (l *wasiListener) Addr() net.Addr { return l.addr }

// wasiConn is an accepted socket as a net.Conn; deadlines come from os.File's poller support.
type wasiConn struct {
	*os.File
	local net.Addr
}

var unknownPeer = &net.TCPAddr{IP: net.IPv4zero}

func (c *wasiConn) LocalAddr() net.Addr { return c.local }

// Write goes through the bootstrap's send (connWrite): WasmEdge must not write with fd_write.
func (c *wasiConn) Write(b []byte) (int, error) { return connWrite(c, b) }
func (c *wasiConn) RemoteAddr() net.Addr        { return unknownPeer }

func (c *wasiConn) Read(b []byte) (int, error) {
	n, err := c.File.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, timeoutError{}
	}
	return n, err
}

func (c *wasiConn) SetDeadline(t time.Time) error      { return c.File.SetDeadline(t) }
func (c *wasiConn) SetReadDeadline(t time.Time) error  { return c.File.SetReadDeadline(t) }
func (c *wasiConn) SetWriteDeadline(t time.Time) error { return c.File.SetWriteDeadline(t) }

// net/http treats a read error that is a net.Error with Timeout() as a timeout.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
