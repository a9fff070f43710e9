//! Workloads: which request a cell sends and what a correct answer is. The expected answers come
//! from the server crate's own route code, so a check can never drift from what the server means.

use bench_server::routes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    pub name: &'static str,
    pub method: &'static str,
    /// Path and query.
    pub path: &'static str,
    pub body: Option<&'static [u8]>,
    pub about: &'static str,
}

const ECHO_PAYLOAD: &[u8] = &[b'e'; 1024];

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "plaintext",
        method: "GET",
        path: "/plaintext",
        body: None,
        about: "TechEmpower plaintext: 13-byte text/plain body",
    },
    Workload {
        name: "json",
        method: "GET",
        path: "/json",
        body: None,
        about: "TechEmpower JSON: {\"message\":\"Hello, World!\"}",
    },
    Workload {
        name: "echo",
        method: "POST",
        path: "/echo",
        body: Some(ECHO_PAYLOAD),
        about: "POST 1 KiB, echoed back (request body copy in and out)",
    },
    Workload {
        name: "compute",
        method: "GET",
        path: "/compute?n=20000",
        body: None,
        about: "20,000 rounds of an FNV-1a hash chain (CPU-bound guest code)",
    },
    Workload {
        name: "compute-slow",
        method: "GET",
        path: "/compute?n=22000",
        body: None,
        about: "the compute chain with 10% more rounds: a known slowdown for the A/B self-test",
    },
    Workload {
        name: "compute-double",
        method: "GET",
        path: "/compute?n=40000",
        body: None,
        about: "the compute chain with twice the rounds: the strong slowdown of the live A/B test",
    },
    Workload {
        name: "bytes",
        method: "GET",
        path: "/bytes?n=65536",
        body: None,
        about: "64 KiB response body (copy cost across the sandbox)",
    },
];

impl Workload {
    pub fn get(name: &str) -> Option<&'static Workload> {
        WORKLOADS.iter().find(|w| w.name == name)
    }

    pub fn names() -> impl Iterator<Item = &'static str> + Clone {
        WORKLOADS.iter().map(|w| w.name)
    }

    /// The answer the server must give, computed by the server's own route function.
    pub fn expected(&self) -> routes::Reply {
        let (path, query) = match self.path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.path, None),
        };
        routes::route(self.method, path, query, self.body.unwrap_or_default())
    }
}

/// A response as seen on the wire.
#[derive(Debug, Clone)]
pub struct Observed {
    pub status: u16,
    pub content_type: Option<String>,
    pub content_length: Option<String>,
    pub server: Option<String>,
    pub date: Option<String>,
    pub body: Vec<u8>,
}

/// Checks a response against the workload's expected answer and TechEmpower's header rules.
pub fn check(workload: &Workload, observed: &Observed) -> Result<(), String> {
    let expected = workload.expected();
    if observed.status != expected.status {
        return Err(format!(
            "{} {}: status {} (expected {})",
            workload.method, workload.path, observed.status, expected.status
        ));
    }
    if observed.body != expected.body.as_bytes() {
        let shown =
            String::from_utf8_lossy(&observed.body[..observed.body.len().min(80)]).to_string();
        return Err(format!(
            "{} {}: body {shown:?} ({} bytes) is not the expected {} bytes",
            workload.method,
            workload.path,
            observed.body.len(),
            expected.body.as_bytes().len()
        ));
    }
    if observed.content_type.as_deref() != Some(expected.content_type) {
        return Err(format!(
            "{}: Content-Type {:?} (expected {:?})",
            workload.path, observed.content_type, expected.content_type
        ));
    }
    if observed.content_length.as_deref()
        != Some(expected.body.as_bytes().len().to_string().as_str())
    {
        return Err(format!(
            "{}: Content-Length {:?} does not match the body",
            workload.path, observed.content_length
        ));
    }
    if observed.server.as_deref().is_none_or(str::is_empty) {
        return Err(format!("{}: no Server header", workload.path));
    }
    match observed.date.as_deref().map(httpdate_ok) {
        Some(true) => Ok(()),
        _ => Err(format!(
            "{}: Date header {:?} is missing or not an HTTP date",
            workload.path, observed.date
        )),
    }
}

fn httpdate_ok(value: &str) -> bool {
    chrono::DateTime::parse_from_rfc2822(&value.replace("GMT", "+0000")).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good(body: &[u8], content_type: &str) -> Observed {
        Observed {
            status: 200,
            content_type: Some(content_type.into()),
            content_length: Some(body.len().to_string()),
            server: Some("wasm-bench".into()),
            date: Some("Tue, 24 Nov 2026 17:47:37 GMT".into()),
            body: body.to_vec(),
        }
    }

    #[test]
    fn accepts_correct_answers() {
        let w = Workload::get("plaintext").unwrap();
        assert_eq!(check(w, &good(b"Hello, World!", "text/plain")), Ok(()));
        let w = Workload::get("echo").unwrap();
        assert_eq!(
            check(w, &good(&[b'e'; 1024], "application/octet-stream")),
            Ok(())
        );
    }

    #[test]
    fn rejects_each_kind_of_wrong_answer() {
        let w = Workload::get("plaintext").unwrap();
        let mut o = good(b"Hello, World", "text/plain");
        assert!(check(w, &o).unwrap_err().contains("body"));
        o = good(b"Hello, World!", "text/html");
        assert!(check(w, &o).unwrap_err().contains("Content-Type"));
        o = good(b"Hello, World!", "text/plain");
        o.date = None;
        assert!(check(w, &o).unwrap_err().contains("Date"));
        o = good(b"Hello, World!", "text/plain");
        o.content_length = Some("12".into());
        assert!(check(w, &o).unwrap_err().contains("Content-Length"));
        o = good(b"Hello, World!", "text/plain");
        o.status = 500;
        assert!(check(w, &o).unwrap_err().contains("status 500"));
    }
}
