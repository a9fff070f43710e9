//! The same routes as a wasi:http handler for `wasmtime serve` (wasm32-wasip2, feature
//! `wasi-http`). Here the host owns the socket and HTTP parsing; the guest only maps a request to a
//! response, through the same `routes::route` as the hyper server, with the same headers.
//!
//! Written on the `wasip2` bindings directly, with blocking body I/O: `wasmtime serve` makes an
//! instance per request, and an async runtime in the guest (wstd, the previous version of this
//! handler) cost about 110k instructions per request of instantiating and running it, a third of
//! what a request cost (measured with callgrind, one request at a time: 330k against 220k for a
//! handler without it).

#[cfg(target_os = "wasi")]
mod handler {
    use bench_server::routes;
    use wasip2::http::types::{
        Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
    };

    struct Server;
    wasip2::http::proxy::export!(Server);

    impl wasip2::exports::http::incoming_handler::Guest for Server {
        fn handle(request: IncomingRequest, out: ResponseOutparam) {
            let reply = answer(&request);
            let head = matches!(request.method(), Method::Head);
            respond(reply, head, out);
        }
    }

    fn method_name(method: &Method) -> &str {
        match method {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other(other) => other,
        }
    }

    /// Reads the body when the route wants one (refusing more than the echo limit, declared or
    /// sent) and routes the request, as the hyper server's `answer` does.
    fn answer(request: &IncomingRequest) -> routes::Reply {
        let method = request.method();
        let target = request.path_with_query().unwrap_or_else(|| "/".into());
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target.as_str(), None),
        };
        let method = method_name(&method);
        if !routes::wants_body(method, path) {
            return routes::route(method, path, query, &[]);
        }
        let declared = request
            .headers()
            .get("content-length")
            .first()
            .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<usize>().ok());
        if declared.is_some_and(|n| n > routes::ECHO_LIMIT_BYTES) {
            return routes::payload_too_large();
        }
        match read_body(request, routes::ECHO_LIMIT_BYTES) {
            Some(body) => routes::route(method, path, query, &body),
            None => routes::payload_too_large(),
        }
    }

    /// The whole request body, or `None` past `limit` bytes.
    fn read_body(request: &IncomingRequest, limit: usize) -> Option<Vec<u8>> {
        let body = request.consume().ok()?;
        let stream = body.stream().ok()?;
        let mut out = Vec::new();
        while let Ok(chunk) = stream.blocking_read(64 * 1024) {
            out.extend_from_slice(&chunk);
            if out.len() > limit {
                return None;
            }
        }
        Some(out)
    }

    /// Status, the same headers as the hyper server (plus `Date`, which no host adds here), and
    /// the body unless the request was HEAD.
    fn respond(reply: routes::Reply, head: bool, out: ResponseOutparam) {
        let body = reply.body.as_bytes();
        let mut headers: Vec<(String, Vec<u8>)> = vec![
            ("server".into(), routes::SERVER_NAME.into()),
            ("content-type".into(), reply.content_type.into()),
            ("content-length".into(), body.len().to_string().into_bytes()),
            ("date".into(), bench_server::date::now().as_bytes().to_vec()),
        ];
        if let Some(allow) = reply.allow {
            headers.push(("allow".into(), allow.into()));
        }
        let Ok(fields) = Fields::from_list(&headers) else {
            return;
        };
        let response = OutgoingResponse::new(fields);
        let _ = response.set_status_code(reply.status);
        let Ok(outgoing) = response.body() else {
            return;
        };
        ResponseOutparam::set(out, Ok(response));
        if !head && !body.is_empty() {
            if let Ok(stream) = outgoing.write() {
                // At most 4096 bytes per write (wasi:io's blocking_write_and_flush limit).
                for chunk in body.chunks(4096) {
                    if stream.blocking_write_and_flush(chunk).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = OutgoingBody::finish(outgoing, None);
    }
}

#[cfg(target_os = "wasi")]
fn main() {}

#[cfg(not(target_os = "wasi"))]
fn main() {
    eprintln!("server-http is a wasi:http component: build it for wasm32-wasip2 and run it with `wasmtime serve`");
    std::process::exit(1);
}
