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

/// Sends one request (`method path`, `headers`, `body`) and returns what came back.
pub fn request(
    agent: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<Observed, String> {
    let url = format!("{base}{path}");
    let mut builder = ureq::http::Request::builder().method(method).uri(&url);
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    let request = builder
        .body(body.unwrap_or_default().to_vec())
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let mut response = agent.run(request).map_err(|e| format!("{method} {url}: {e}"))?;
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
    let all_headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_string()))
        .collect();
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
        headers: all_headers,
        body,
    })
}

pub fn probe(agent: &ureq::Agent, base: &str, workload: &Workload) -> Result<Observed, String> {
    let body = (!workload.body.is_empty()).then_some(workload.body.as_slice());
    request(agent, base, &workload.method, &workload.path, &workload.headers, body)
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
    super::workload::check(workload, &observed).map_err(|e| e.to_string())?;
    Ok(took)
}
