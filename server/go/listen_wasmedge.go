//go:build wasip1 && wasmedge

package main

// WasmEdge: its socket extension (in the wasi_snapshot_preview1 module) opens, binds and listens;
// listen_wasi.go accepts on the descriptor with the wasip1 poller.

import (
	"fmt"
	"net"
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

func setNoDelay(net.Conn) {}
