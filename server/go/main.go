// The Go twin of the Rust server (server/src): the same routes, bodies, headers and limits, using
// only the standard library. Per-target code is the listener bootstrap only (listen_*.go).
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
)

const (
	plaintextBody = "Hello, World!"
	jsonBody      = `{"message":"Hello, World!"}`
	echoLimit     = 64 * 1024
	bytesLimit    = 16 * 1024 * 1024
	computeLimit  = 10_000_000
	serverName    = "wasm-bench"
)

// hashChain is routes::hash_chain: n rounds of FNV-1a over the previous value's little-endian bytes.
func hashChain(n uint64) uint64 {
	const offset, prime = 0xcbf29ce484222325, 0x100000001b3
	value := uint64(offset)
	var buf [8]byte
	for i := uint64(0); i < n; i++ {
		binary.LittleEndian.PutUint64(buf[:], value)
		h := uint64(offset)
		for _, b := range buf {
			h ^= uint64(b)
			h *= prime
		}
		value = h
	}
	return value
}

type reply struct {
	status      int
	contentType string
	body        []byte
	allow       string
}

func text(status int, body string) reply { return reply{status, "text/plain", []byte(body), ""} }

func queryUint(r *http.Request, key string) (uint64, bool) {
	v, err := strconv.ParseUint(r.URL.Query().Get(key), 10, 64)
	return v, err == nil
}

// route mirrors routes::route.
func route(r *http.Request) reply {
	allowed := map[string]string{"/plaintext": "GET", "/json": "GET", "/compute": "GET", "/bytes": "GET", "/echo": "POST"}[r.URL.Path]
	if allowed == "" {
		return text(404, "Not Found")
	}
	if r.Method != allowed && !(allowed == "GET" && r.Method == "HEAD") {
		rep := text(405, "Method Not Allowed")
		rep.allow = allowed
		return rep
	}
	switch r.URL.Path {
	case "/plaintext":
		return reply{200, "text/plain", []byte(plaintextBody), ""}
	case "/json":
		return reply{200, "application/json", []byte(jsonBody), ""}
	case "/echo":
		if r.ContentLength > echoLimit {
			return text(413, "Payload Too Large")
		}
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, echoLimit))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return text(413, "Payload Too Large")
		} else if err != nil {
			return text(400, "Bad Request")
		}
		return reply{200, "application/octet-stream", body, ""}
	case "/compute":
		n, ok := queryUint(r, "n")
		if !ok || n > computeLimit {
			return text(400, "compute needs ?n=<rounds> with rounds <= 10000000")
		}
		return reply{200, "text/plain", []byte(fmt.Sprintf("%016x", hashChain(n))), ""}
	default: // "/bytes"
		n, ok := queryUint(r, "n")
		if !ok || n > bytesLimit {
			return text(400, "bytes needs ?n=<count> with count <= 16777216")
		}
		body := make([]byte, n)
		for i := range body {
			body[i] = 'x'
		}
		return reply{200, "application/octet-stream", body, ""}
	}
}

func handler(vectored bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep := route(r)
		h := w.Header()
		h.Set("Server", serverName) // net/http adds Date itself, formatted each second.
		h.Set("Content-Type", rep.contentType)
		h.Set("Content-Length", strconv.Itoa(len(rep.body)))
		if rep.allow != "" {
			h.Set("Allow", rep.allow)
		}
		if nearLimit() {
			h.Set("Connection", "close") // let a waiting connection have this slot
		}
		w.WriteHeader(rep.status)
		if vectored {
			// Headers and body in two writes, like hyper's vectored writes over WASI: the stall case.
			w.(http.Flusher).Flush()
		}
		if r.Method != "HEAD" {
			w.Write(rep.body)
		}
	}
}

func setting(flagValue *string, env string, fallback string) string {
	if *flagValue != "" {
		return *flagValue
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return fallback
}

func main() {
	addrFlag := flag.String("addr", "", "listen address (or ADDR)")
	writeFlag := flag.String("write", "", "single or vectored (or WRITE_STRATEGY)")
	threadsFlag := flag.String("threads", "", "current-thread or multi-thread (or THREADS)")
	maxFlag := flag.String("max-connections", "", "a cap on open connections, at least 10 (or MAX_CONNECTIONS)")
	flag.Parse()
	addr := setting(addrFlag, "ADDR", "127.0.0.1:8080")
	write := setting(writeFlag, "WRITE_STRATEGY", "single")
	threads := setting(threadsFlag, "THREADS", "current-thread")
	tcpAddr, err := net.ResolveTCPAddr("tcp", addr)
	// Loopback, or the one address the benchmark runner gives a server inside a network namespace
	// it made (reachable only through the veths it made there).
	if err != nil || !(tcpAddr.IP.IsLoopback() || tcpAddr.IP.Equal(net.IPv4(10, 213, 0, 1))) {
		log.Fatalf("error: refusing to listen on %q: this benchmark server binds loopback (or 10.213.0.1 in the runner's namespace) only", addr)
	}
	if write != "single" && write != "vectored" {
		log.Fatalf("error: --write/WRITE_STRATEGY %q: use single or vectored", write)
	}
	switch threads {
	case "current-thread", "current":
		runtime.GOMAXPROCS(1) // one thread, like the WASI builds and Rust's current_thread
	case "multi-thread", "multi":
	default:
		log.Fatalf("error: --threads/THREADS %q: use current-thread or multi-thread", threads)
	}
	listener, err := listen(tcpAddr)
	if err != nil {
		log.Fatalf("error: serving on %s: %v", addr, err)
	}
	max, why := maxConnections, maxConnectionsWhy
	if text := setting(maxFlag, "MAX_CONNECTIONS", ""); text != "" {
		user, err := strconv.Atoi(text)
		if err != nil || user < 10 {
			log.Fatalf("error: --max-connections/MAX_CONNECTIONS %q: a whole number of at least 10", text)
		}
		if max == 0 || user < max {
			max, why = user, "--max-connections"
		}
	}
	listener = limit(listener, max, why)
	server := &http.Server{
		Handler:           tracked(handler(write == "vectored")),
		ConnContext:       withConn,
		ReadHeaderTimeout: headerReadTimeout, // slow-loris guard, as in the Rust server
		MaxHeaderBytes:    16 * 1024,         // 431 beyond it
		ConnState:         onConnState,
	}
	fmt.Fprintf(os.Stderr, "listening on http://%s (write strategy %s)\n", addr, write)
	log.Fatal(server.Serve(listener))
}

func onConnState(c net.Conn, state http.ConnState) {
	if state == http.StateNew {
		setNoDelay(c)
	}
}
