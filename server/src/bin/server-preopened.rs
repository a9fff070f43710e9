//! Listener bootstrap for wasm32-wasip1 under wasmtime before 47 (`-S tcplisten=ADDR
//! -S preview2=n`): the host opened the listener and hands it over as descriptor 3, the first after
//! stdio. The same wasip1 path the Go server takes on wasmtime.

/// Descriptor 3 as the listener. wasip1 cannot ask a socket for its address, so a run without
/// `-S tcplisten` shows as "Bad file descriptor" at the first accept.
#[cfg(target_os = "wasi")]
fn preopened(_: &bench_server::Config) -> std::io::Result<std::net::TcpListener> {
    use std::os::wasi::io::FromRawFd;
    const PREOPENED_LISTENER: i32 = 3;
    // SAFETY: descriptor 3 is the listener the host preopened; nothing else owns it.
    Ok(unsafe { std::net::TcpListener::from_raw_fd(PREOPENED_LISTENER) })
}

#[cfg(target_os = "wasi")]
fn main() -> std::process::ExitCode {
    // wasip1 has no socket options: no TCP_NODELAY to set.
    bench_server::main_with(preopened, bench_server::Bootstrap::new(|_| {}))
}

#[cfg(not(target_os = "wasi"))]
fn main() -> std::process::ExitCode {
    eprintln!("server-preopened is built for wasm32-wasip1 and runs under wasmtime before 47 (`-S tcplisten`)");
    std::process::ExitCode::FAILURE
}
