//! A small axum service: a greeting, a user looked up by id, a search over a list, and a JSON echo.
//! Nothing here knows about the benchmark; it reads its address from the environment as
//! container platforms pass it (`ADDR`, default 127.0.0.1:3000).

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone)]
struct User {
    id: u32,
    name: String,
    email: String,
}

fn users() -> Vec<User> {
    ["ada", "grace", "edsger", "barbara", "donald"]
        .iter()
        .enumerate()
        .map(|(i, name)| User { id: i as u32 + 1, name: name.to_string(), email: format!("{name}@example.org") })
        .collect()
}

async fn hello() -> &'static str {
    "Hello from axum!"
}

async fn user(Path(id): Path<u32>) -> Result<Json<User>, StatusCode> {
    users().into_iter().find(|u| u.id == id).map(Json).ok_or(StatusCode::NOT_FOUND)
}

#[derive(Deserialize)]
struct Search {
    q: String,
}

async fn search(Query(search): Query<Search>) -> Json<Vec<User>> {
    Json(users().into_iter().filter(|u| u.name.contains(&search.q)).collect())
}

async fn echo(Json(value): Json<serde_json::Value>) -> Json<serde_json::Value> {
    Json(value)
}

fn app() -> Router {
    Router::new()
        .route("/", get(hello))
        .route("/users/{id}", get(user))
        .route("/search", get(search))
        .route("/echo", post(echo))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("axum-service listening on http://{addr}");
    axum::serve(listener, app()).await
}
