//! Listener bootstrap for native hosts and wasm32-wasip2 (wasmtime `-S inherit-network`):
//! std's own `TcpListener::bind` works on both.

fn main() -> std::process::ExitCode {
    bench_server::main_with(
        |config| std::net::TcpListener::bind(config.addr),
        bench_server::Bootstrap::new(bench_server::nodelay_via_tokio),
    )
}
