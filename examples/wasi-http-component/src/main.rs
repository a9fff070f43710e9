//! A wasi:http component: the host (`wasmtime serve`) owns the socket and HTTP, and calls this
//! handler once per request. A greeting, a user looked up by id, and a JSON echo.

use serde::Serialize;
use wstd::http::body::{BodyForthcoming, IncomingBody};
use wstd::http::server::{Finished, Responder};
use wstd::http::{IntoBody, Request, Response, StatusCode};
use wstd::io::AsyncWrite;

#[derive(Serialize)]
struct User {
    id: u32,
    name: &'static str,
    email: String,
}

fn user(id: u32) -> Option<User> {
    let name = *["ada", "grace", "edsger", "barbara", "donald"].get(id.checked_sub(1)? as usize)?;
    Some(User { id, name, email: format!("{name}@example.org") })
}

#[wstd::http_server]
async fn main(request: Request<IncomingBody>, responder: Responder) -> Finished {
    let path = request.uri().path().to_string();
    match (request.method().as_str(), path.as_str()) {
        ("GET", "/") => text(responder, StatusCode::OK, "Hello from a wasi:http component!").await,
        ("GET", p) if p.starts_with("/users/") => match p["/users/".len()..].parse().ok().and_then(user) {
            Some(u) => json(responder, &serde_json::to_vec(&u).expect("serializable")).await,
            None => text(responder, StatusCode::NOT_FOUND, "no such user").await,
        },
        ("POST", "/echo") => {
            let mut body = request.into_body();
            let mut bytes = Vec::new();
            if wstd::io::AsyncRead::read_to_end(&mut body, &mut bytes).await.is_err() {
                return text(responder, StatusCode::BAD_REQUEST, "unreadable body").await;
            }
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(value) => json(responder, &serde_json::to_vec(&value).expect("serializable")).await,
                Err(_) => text(responder, StatusCode::BAD_REQUEST, "not JSON").await,
            }
        }
        _ => text(responder, StatusCode::NOT_FOUND, "not found").await,
    }
}

async fn text(responder: Responder, status: StatusCode, body: &str) -> Finished {
    let response = Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(body.to_string().into_body())
        .expect("a valid response");
    responder.respond(response).await
}

async fn json(responder: Responder, body: &[u8]) -> Finished {
    let response = Response::builder()
        .header("content-type", "application/json")
        .body(BodyForthcoming)
        .expect("a valid response");
    let mut out = responder.start_response(response);
    let result = out.write_all(body).await;
    Finished::finish(out, result, None)
}
