//! Real HTTP requests to a running server: readiness, response checks, cold vs warm latency.

use std::time::{Duration, Instant};

use super::workload::{Observed, Workload};

pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .proxy(None)
        .max_idle_connections(0)
        .build()
        .into()
}

/// Sends one request of `workload` (or `method path` with `body`) and returns what came back.
pub fn request(
    agent: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<Observed, String> {
    let url = format!("{base}{path}");
    let response = match (method, body) {
        ("GET", _) => agent.get(&url).call(),
        ("POST", body) => agent.post(&url).send(body.unwrap_or_default()),
        (m, _) => return Err(format!("probe does not send {m}")),
    };
    let mut response = response.map_err(|e| format!("{method} {url}: {e}"))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let (content_type, content_length, server, date) = (
        header("content-type"),
        header("content-length"),
        header("server"),
        header("date"),
    );
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(32 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| format!("{method} {url}: reading body: {e}"))?;
    Ok(Observed {
        status,
        content_type,
        content_length,
        server,
        date,
        body,
    })
}

pub fn probe(agent: &ureq::Agent, base: &str, workload: &Workload) -> Result<Observed, String> {
    request(agent, base, workload.method, workload.path, workload.body)
}

/// One request, checked, and how long it took.
pub fn timed_check(
    agent: &ureq::Agent,
    base: &str,
    workload: &Workload,
) -> Result<Duration, String> {
    let start = Instant::now();
    let observed = probe(agent, base, workload)?;
    let took = start.elapsed();
    super::workload::check(workload, &observed)?;
    Ok(took)
}
