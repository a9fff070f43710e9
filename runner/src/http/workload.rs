//! Workloads: which request a cell sends and what a correct answer is, as a server definition's
//! workloads file states them (`config::workloads`). The project's own file is checked against
//! the server crate's route code by a unit test there, so it cannot drift from what the server
//! means.

/// One request a server answers, and what a correct answer is.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub name: String,
    pub about: String,
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub expect: Expect,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: ExpectedBody,
    /// Headers every answer must carry.
    pub headers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExpectedBody {
    Exact(Vec<u8>),
    /// A regular expression the whole body must match.
    Pattern(String),
    Length(usize),
    Any,
}

impl ExpectedBody {
    /// Whether `got` is a correct body (`request`: what was sent).
    pub fn matches(&self, got: &[u8], _request: &[u8]) -> bool {
        match self {
            ExpectedBody::Exact(want) => got == want.as_slice(),
            ExpectedBody::Pattern(p) => regex::bytes::Regex::new(&format!("^(?:{p})$")).is_ok_and(|r| r.is_match(got)),
            ExpectedBody::Length(n) => got.len() == *n,
            ExpectedBody::Any => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            ExpectedBody::Exact(want) => format!("{} bytes {:?}", want.len(), shown(want)),
            ExpectedBody::Pattern(p) => format!("a body matching /{p}/"),
            ExpectedBody::Length(n) => format!("{n} bytes"),
            ExpectedBody::Any => "any body".into(),
        }
    }
}

fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).to_string();
    if bytes.len() > 60 {
        format!("{text}…")
    } else {
        text
    }
}

impl Workload {
    /// "GET /plaintext".
    pub fn request_line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The request as raw HTTP/1.1 bytes, keep-alive.
    pub fn raw(&self) -> Vec<u8> {
        let mut text = format!("{} {} HTTP/1.1\r\nHost: x\r\n", self.method, self.path);
        for (k, v) in &self.headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        if !self.body.is_empty() {
            text.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        text.push_str("\r\n");
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
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
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Observed {
    fn has_header(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.headers.iter().any(|(k, v)| *k == name && !v.is_empty())
    }
}

/// How an answer was wrong: expected against got, for one request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WrongAnswer {
    #[error("{request}: status {got} (expected {want})")]
    Status { request: String, got: u16, want: u16 },
    #[error("{request}: body {got:?} ({len} bytes) (expected {want})")]
    Body { request: String, got: String, len: usize, want: String },
    #[error("{request}: Content-Type {got:?} (expected {want:?})")]
    ContentType { request: String, got: Option<String>, want: String },
    #[error("{request}: Content-Length {got:?} does not match the body's {len} bytes")]
    ContentLength { request: String, got: Option<String>, len: usize },
    #[error("{request}: no {header} header")]
    MissingHeader { request: String, header: String },
    #[error("{request}: Date header {got:?} is not an HTTP date")]
    Date { request: String, got: Option<String> },
}

/// Checks a response against the workload's expected answer.
pub fn check(workload: &Workload, observed: &Observed) -> Result<(), WrongAnswer> {
    let request = workload.request_line();
    let x = &workload.expect;
    if observed.status != x.status {
        return Err(WrongAnswer::Status { request, got: observed.status, want: x.status });
    }
    if !x.body.matches(&observed.body, &workload.body) {
        return Err(WrongAnswer::Body { request, got: shown(&observed.body), len: observed.body.len(), want: x.body.describe() });
    }
    if let Some(want) = &x.content_type {
        if observed.content_type.as_deref() != Some(want.as_str()) {
            return Err(WrongAnswer::ContentType { request, got: observed.content_type.clone(), want: want.clone() });
        }
    }
    if let Some(length) = &observed.content_length {
        if *length != observed.body.len().to_string() {
            return Err(WrongAnswer::ContentLength { request, got: Some(length.clone()), len: observed.body.len() });
        }
    }
    for header in &x.headers {
        if !observed.has_header(header) {
            return Err(WrongAnswer::MissingHeader { request, header: header.clone() });
        }
        if header.eq_ignore_ascii_case("date") && !observed.date.as_deref().is_some_and(httpdate_ok) {
            return Err(WrongAnswer::Date { request, got: observed.date.clone() });
        }
    }
    Ok(())
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
            headers: vec![
                ("server".into(), "wasm-bench".into()),
                ("date".into(), "Tue, 24 Nov 2026 17:47:37 GMT".into()),
                ("content-type".into(), content_type.into()),
            ],
            body: body.to_vec(),
        }
    }

    fn named(name: &str) -> &'static Workload {
        crate::config::workloads::project().iter().find(|w| w.name == name).unwrap()
    }

    #[test]
    fn accepts_correct_answers() {
        assert_eq!(check(named("plaintext"), &good(b"Hello, World!", "text/plain")), Ok(()));
        assert_eq!(check(named("echo"), &good(&[b'e'; 1024], "application/octet-stream")), Ok(()));
    }

    #[test]
    fn rejects_each_kind_of_wrong_answer() {
        let w = named("plaintext");
        let kind = |o: &Observed| match check(w, o) {
            Err(WrongAnswer::Status { .. }) => "status",
            Err(WrongAnswer::Body { .. }) => "body",
            Err(WrongAnswer::ContentType { .. }) => "content-type",
            Err(WrongAnswer::ContentLength { .. }) => "content-length",
            Err(WrongAnswer::MissingHeader { .. }) => "missing header",
            Err(WrongAnswer::Date { .. }) => "date",
            Ok(()) => "ok",
        };
        assert_eq!(kind(&good(b"Hello, World", "text/plain")), "body");
        assert_eq!(kind(&good(b"Hello, World!", "text/html")), "content-type");
        let mut o = good(b"Hello, World!", "text/plain");
        o.headers.retain(|(k, _)| k != "date");
        assert_eq!(kind(&o), "missing header");
        let mut o = good(b"Hello, World!", "text/plain");
        o.content_length = Some("12".into());
        assert_eq!(kind(&o), "content-length");
        let mut o = good(b"Hello, World!", "text/plain");
        o.status = 500;
        assert_eq!(kind(&o), "status");
        assert_eq!(
            check(w, &o).unwrap_err().to_string(),
            "GET /plaintext: status 500 (expected 200)"
        );
    }
}
