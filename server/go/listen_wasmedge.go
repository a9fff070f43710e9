//go:build wasip1 && wasmedge

package main

// WasmEdge: its socket extension (in the wasi_snapshot_preview1 module) opens, binds and listens;
// listen_wasi.go accepts on the descriptor with the wasip1 poller.

import (
	"fmt"
	"net"
	"runtime"
	"syscall"
	"unsafe"
)

//go:wasmimport wasi_snapshot_preview1 sock_open
func wasmedgeSockOpen(af int32, socktype int32, fd unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 sock_bind
func wasmedgeSockBind(fd int32, addr unsafe.Pointer, port int32) int32

//go:wasmimport wasi_snapshot_preview1 sock_listen
func wasmedgeSockListen(fd int32, backlog int32) int32

const (
	wasmedgeInet4  = 1
	wasmedgeStream = 2
)

// wasiAddress is WasmEdge's { buf: *const u8, size: usize } on wasm32.
type wasiAddress struct {
	buf  uint32
	size uint32
}

func listen(addr *net.TCPAddr) (net.Listener, error) {
	ip4 := addr.IP.To4()
	if ip4 == nil {
		return nil, fmt.Errorf("the WasmEdge bootstrap binds IPv4 addresses only")
	}
	var fd int32
	if e := wasmedgeSockOpen(wasmedgeInet4, wasmedgeStream, unsafe.Pointer(&fd)); e != 0 {
		return nil, fmt.Errorf("WasmEdge sock_open failed: errno %d", e)
	}
	ip := [4]byte{ip4[0], ip4[1], ip4[2], ip4[3]}
	a := wasiAddress{buf: uint32(uintptr(unsafe.Pointer(&ip))), size: 4}
	if e := wasmedgeSockBind(fd, unsafe.Pointer(&a), int32(addr.Port)); e != 0 {
		return nil, fmt.Errorf("WasmEdge sock_bind failed: errno %d", e)
	}
	if e := wasmedgeSockListen(fd, 1024); e != 0 {
		return nil, fmt.Errorf("WasmEdge sock_listen failed: errno %d", e)
	}
	return newWasiListener(fd, addr)
}

// WasmEdge's socket extension has no TCP_NODELAY (its sock_setsockopt takes SOL_SOCKET options
// only), so Nagle stays on: pipelined requests, which net/http answers one write each, stall.
func setNoDelay(net.Conn) {}

//go:wasmimport wasi_snapshot_preview1 sock_send
func wasmedgeSockSend(fd int32, iovs unsafe.Pointer, iovsLen int32, flags int32, sent unsafe.Pointer) int32

// ciovec is WASI's { buf: *const u8, buf_len: usize } on wasm32.
type ciovec struct {
	buf uint32
	len uint32
}

// connWrite sends with sock_send, which WasmEdge implements with MSG_NOSIGNAL. fd_write on a
// socket whose client has gone raises SIGPIPE in the WasmEdge process, and WasmEdge (C++) does not
// ignore it: the whole server dies (seen under pipelined load, when wrk closes its connections).
func connWrite(c *wasiConn, b []byte) (int, error) {
	raw, err := c.File.SyscallConn()
	if err != nil {
		return 0, err
	}
	written := 0
	for written < len(b) {
		chunk := b[written:]
		iov := ciovec{buf: uint32(uintptr(unsafe.Pointer(&chunk[0]))), len: uint32(len(chunk))}
		var sent uint32
		var errno int32
		err := raw.Write(func(fd uintptr) bool {
			errno = wasmedgeSockSend(int32(fd), unsafe.Pointer(&iov), 1, 0, unsafe.Pointer(&sent))
			return errno != errnoAgain // false: wait until writable, then try again
		})
		runtime.KeepAlive(chunk)
		if err != nil {
			return written, err
		}
		if errno != 0 {
			return written, syscall.Errno(errno)
		}
		written += int(sent)
	}
	return written, nil
}

// No limit found: WasmEdge held 5,000 connections (measured).
const (
	maxConnections    = 0
	maxConnectionsWhy = ""
)
