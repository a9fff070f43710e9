//! Listener bootstrap for wasmer (wasm32-wasip1 + WASIX, `wasmer run --net`): open, bind and listen
//! with WASIX socket calls, then hand the descriptor to std/tokio.

#[cfg(target_os = "wasi")]
mod wasix_socket {
    use std::net::{IpAddr, SocketAddr};
    use std::os::wasi::io::{AsRawFd, FromRawFd};

    fn errno(call: &str, e: wasix::Errno) -> std::io::Error {
        std::io::Error::other(format!("WASIX {call} failed: {e}"))
    }

    pub fn bind(config: &bench_server::Config) -> std::io::Result<std::net::TcpListener> {
        let SocketAddr::V4(v4) = config.addr else {
            return Err(std::io::Error::other(
                "the WASIX bootstrap binds IPv4 addresses only",
            ));
        };
        let [n0, n1, h0, h1] = match config.addr.ip() {
            IpAddr::V4(ip) => ip.octets(),
            IpAddr::V6(_) => unreachable!("checked above"),
        };
        let addr = wasix::AddrPort {
            tag: wasix::ADDRESS_FAMILY_INET4.raw(),
            u: wasix::AddrPortU {
                // WASIX takes the port in host byte order.
                inet4: wasix::AddrIp4Port {
                    port: v4.port(),
                    addr: wasix::AddrIp4 { n0, n1, h0, h1 },
                },
            },
        };
        // SAFETY: plain WASIX calls on a descriptor this function owns until it returns it.
        unsafe {
            let fd = wasix::sock_open(
                wasix::ADDRESS_FAMILY_INET4,
                wasix::SOCK_TYPE_SOCKET_STREAM,
                wasix::SOCK_PROTO_TCP,
            )
            .map_err(|e| errno("sock_open", e))?;
            wasix::sock_set_opt_flag(fd, wasix::SOCK_OPTION_REUSE_ADDR, wasix::BOOL_TRUE)
                .map_err(|e| errno("reuse_addr", e))?;
            wasix::sock_bind(fd, &addr).map_err(|e| errno("sock_bind", e))?;
            wasix::sock_listen(fd, 4096).map_err(|e| errno("sock_listen", e))?;
            // std cannot set O_NONBLOCK on wasip1 sockets; tokio needs it, so set it here.
            wasix::wasi::fd_fdstat_set_flags(fd, wasix::wasi::FDFLAGS_NONBLOCK).map_err(|e| {
                std::io::Error::other(format!("WASI fd_fdstat_set_flags(NONBLOCK) failed: {e}"))
            })?;
            Ok(std::net::TcpListener::from_raw_fd(fd as i32))
        }
    }

    /// WASIX has a no-delay socket option, unlike plain WASI: set it on every accepted socket.
    pub fn nodelay(stream: &tokio::net::TcpStream) {
        // SAFETY: the descriptor belongs to a live stream for the duration of the call.
        let _ = unsafe {
            wasix::sock_set_opt_flag(
                stream.as_raw_fd() as u32,
                wasix::SOCK_OPTION_NO_DELAY,
                wasix::BOOL_TRUE,
            )
        };
    }
}

/// wasmer's `poll_oneoff` refuses more than 1,024 subscriptions at once (E2BIG), and tokio (mio)
/// subscribes every socket for reading and writing: past ~511 open connections tokio's I/O driver
/// panics and the server is gone (measured: 510 held, 515 killed it). 500 leaves room for the
/// listener and the timer.
#[cfg(target_os = "wasi")]
const WASMER_MAX_CONNECTIONS: usize = 500;

#[cfg(target_os = "wasi")]
fn main() -> std::process::ExitCode {
    bench_server::main_with(
        wasix_socket::bind,
        bench_server::Bootstrap {
            on_accept: wasix_socket::nodelay,
            max_connections: Some((
                WASMER_MAX_CONNECTIONS,
                "wasmer's poll_oneoff takes at most 1,024 subscriptions, two per connection",
            )),
        },
    )
}

#[cfg(not(target_os = "wasi"))]
fn main() -> std::process::ExitCode {
    eprintln!("server-wasix is built for wasm32-wasip1 and runs under wasmer (`wasmer run --net`)");
    std::process::ExitCode::FAILURE
}
