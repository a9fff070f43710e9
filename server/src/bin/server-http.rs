//! The same routes as a wasi:http handler for `wasmtime serve` (wasm32-wasip2, feature
//! `wasi-http`). Here the host owns the socket and HTTP parsing; the guest only maps a request to a
//! response, through the same `routes::route` and `http_response` as the hyper server.

#[cfg(target_os = "wasi")]
use wstd::http::{body::Body, Error, Request, Response};

#[cfg(target_os = "wasi")]
#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let (parts, body) = request.into_parts();
    let reply = bench_server::answer(&parts, body.into_boxed_body()).await;
    Ok(bench_server::http_response(
        reply,
        parts.method == "HEAD",
        Body::from,
    ))
}

#[cfg(not(target_os = "wasi"))]
fn main() {
    eprintln!("server-http is a wasi:http component: build it for wasm32-wasip2 and run it with `wasmtime serve`");
    std::process::exit(1);
}
