//! Listener bootstrap for WasmEdge (wasm32-wasip1): WasmEdge's socket extension binds, and the raw
//! descriptor becomes a std listener that tokio drives like any other.

#[cfg(target_os = "wasi")]
fn bind(config: &bench_server::Config) -> std::io::Result<std::net::TcpListener> {
    use std::os::wasi::io::{FromRawFd, IntoRawFd};
    let listener = wasmedge_wasi_socket::TcpListener::bind(config.addr, true)?;
    // SAFETY: the descriptor was just created by bind and ownership moves to the std listener.
    Ok(unsafe { std::net::TcpListener::from_raw_fd(listener.into_raw_fd()) })
}

#[cfg(not(target_os = "wasi"))]
fn bind(_: &bench_server::Config) -> std::io::Result<std::net::TcpListener> {
    Err(std::io::Error::other(
        "server-wasmedge is built for wasm32-wasip1 and runs under WasmEdge",
    ))
}

fn main() -> std::process::ExitCode {
    bench_server::main_with(
        bind,
        bench_server::Bootstrap::new(bench_server::nodelay_via_tokio),
    )
}
