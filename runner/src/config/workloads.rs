//! Requests as data: each workload a server answers (method, path, headers, body) and what a
//! correct answer is (status, Content-Type, the body exactly, by pattern or by length, headers
//! that must be there). A server definition names its file (`workloads = "workloads.toml"`); the
//! project's servers share `server/workloads.toml`. k6, wrk and oha send exactly this request, and
//! `matrix check` and every launch check the answer before any load.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::http::workload::{Expect, ExpectedBody, Workload};

/// A workloads file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadsFile {
    #[serde(rename = "workload", default)]
    workloads: Vec<WorkloadEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadEntry {
    name: String,
    #[serde(default)]
    about: String,
    #[serde(default = "get")]
    method: String,
    /// Path and query, starting with '/'.
    path: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    /// The request body: literal text, a file (relative to this file), or one byte repeated.
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_file: Option<String>,
    #[serde(default)]
    body_repeat: Option<(String, usize)>,
    expect: ExpectEntry,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectEntry {
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    content_type: Option<String>,
    /// The body exactly, or a regular expression it must match, or only its length, or the
    /// request's own body echoed.
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_pattern: Option<String>,
    #[serde(default)]
    body_length: Option<usize>,
    #[serde(default)]
    body_echoes_request: bool,
    /// Headers every answer must carry (names; e.g. Server and Date as TechEmpower requires).
    #[serde(default)]
    headers: Vec<String>,
}

fn get() -> String {
    "GET".into()
}

fn ok() -> u16 {
    200
}

/// What is wrong with a workloads file, located.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadsError {
    #[error("cannot read {file}: {error}")]
    Read { file: PathBuf, error: std::io::Error },
    #[error("{file}: {message}")]
    Invalid { file: PathBuf, message: String },
}

/// The project's servers' workloads (`server/workloads.toml`), read once.
pub fn project() -> &'static [Workload] {
    static PROJECT: std::sync::OnceLock<Vec<Workload>> = std::sync::OnceLock::new();
    PROJECT.get_or_init(|| load(&project_file()).unwrap_or_else(|e| panic!("the project's workloads: {e}")))
}

pub fn project_file() -> PathBuf {
    crate::paths::repo_root().join("server").join("workloads.toml")
}

/// Reads the workloads of `file`.
pub fn load(file: &Path) -> Result<Vec<Workload>, WorkloadsError> {
    let text = std::fs::read_to_string(file).map_err(|error| WorkloadsError::Read { file: file.to_path_buf(), error })?;
    let invalid = |message: String| WorkloadsError::Invalid { file: file.to_path_buf(), message };
    let parsed: WorkloadsFile = toml::from_str(&text).map_err(|e| invalid(super::names::with_suggestion(&e.to_string())))?;
    if parsed.workloads.is_empty() {
        return Err(invalid("no [[workload]]: a server needs at least one request to be measured with".into()));
    }
    let mut out: Vec<Workload> = Vec::new();
    for (i, entry) in parsed.workloads.into_iter().enumerate() {
        let here = format!("[[workload]] {} ({:?})", i + 1, entry.name);
        if out.iter().any(|w| w.name == entry.name) {
            return Err(invalid(format!("{here}: the name is used twice")));
        }
        out.push(workload(entry, file).map_err(|m| invalid(format!("{here}: {m}")))?);
    }
    Ok(out)
}

fn workload(e: WorkloadEntry, file: &Path) -> Result<Workload, String> {
    if e.name.is_empty() || e.name.contains(['/', ' ', '@']) {
        return Err("name: a name is used in cell ids, so it needs letters, digits, '-' or '_'".into());
    }
    if !e.path.starts_with('/') {
        return Err(format!("path {:?} must start with '/', e.g. \"/hello\"", e.path));
    }
    if !e.method.chars().all(|c| c.is_ascii_uppercase()) || e.method.is_empty() {
        return Err(format!("method {:?}: an HTTP method in capitals, e.g. \"GET\" or \"POST\"", e.method));
    }
    let body = match (e.body, e.body_file, e.body_repeat) {
        (None, None, None) => Vec::new(),
        (Some(text), None, None) => text.into_bytes(),
        (None, Some(path), None) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(path);
            std::fs::read(&path).map_err(|err| format!("body_file {}: {err}", path.display()))?
        }
        (None, None, Some((byte, count))) if byte.len() == 1 => byte.repeat(count).into_bytes(),
        (None, None, Some((byte, _))) => return Err(format!("body_repeat [{byte:?}, n]: repeat one character, e.g. [\"e\", 1024]")),
        _ => return Err("give one of body, body_file and body_repeat".into()),
    };
    let x = e.expect;
    let expected_body = match (x.body, x.body_pattern, x.body_length, x.body_echoes_request) {
        (Some(text), None, None, false) => ExpectedBody::Exact(text.into_bytes()),
        (None, Some(pattern), None, false) => {
            regex::bytes::Regex::new(&pattern).map_err(|err| format!("expect.body_pattern: {err}"))?;
            ExpectedBody::Pattern(pattern)
        }
        (None, None, Some(n), false) => ExpectedBody::Length(n),
        (None, None, None, true) => ExpectedBody::Exact(body.clone()),
        (None, None, None, false) => ExpectedBody::Any,
        _ => return Err("expect: give at most one of body, body_pattern, body_length and body_echoes_request".into()),
    };
    Ok(Workload {
        name: e.name,
        about: e.about,
        method: e.method,
        path: e.path,
        headers: e.headers.into_iter().collect(),
        body,
        expect: Expect {
            status: x.status,
            content_type: x.content_type,
            body: expected_body,
            headers: x.headers,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Workload>, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("workloads.toml");
        std::fs::write(&file, text).unwrap();
        load(&file).map_err(|e| e.to_string())
    }

    #[test]
    fn the_project_workloads_are_the_routes_answers() {
        let file = crate::paths::repo_root().join("server/workloads.toml");
        let workloads = load(&file).unwrap();
        for w in &workloads {
            let (path, query) = match w.path.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (w.path.as_str(), None),
            };
            let reply = bench_server::routes::route(&w.method, path, query, &w.body);
            assert_eq!(reply.status, w.expect.status, "{}", w.name);
            assert_eq!(w.expect.content_type.as_deref(), Some(reply.content_type), "{}", w.name);
            assert!(w.expect.body.matches(reply.body.as_bytes(), &w.body), "{}: the file's expected body drifted from the route code", w.name);
        }
        let names: Vec<&str> = workloads.iter().map(|w| w.name.as_str()).collect();
        assert!(names.contains(&"plaintext") && names.contains(&"echo"), "{names:?}");
    }

    #[test]
    fn wrong_fields_are_named_with_their_place() {
        let e = parse("[[workload]]\nname = \"a\"\npath = \"/a\"\nexpect = { statsu = 200 }\n").unwrap_err();
        assert!(e.contains("statsu") && e.contains("workloads.toml"), "{e}");
        let e = parse("[[workload]]\nname = \"a\"\npath = \"a\"\nexpect = {}\n").unwrap_err();
        assert!(e.contains("[[workload]] 1 (\"a\")") && e.contains("must start with '/'"), "{e}");
        let e = parse("[[workload]]\nname = \"a\"\npath = \"/a\"\nbody = \"x\"\nbody_repeat = [\"e\", 3]\nexpect = {}\n").unwrap_err();
        assert!(e.contains("one of body"), "{e}");
        let e = parse("[[workload]]\nname = \"a\"\npath = \"/a\"\nexpect = { body_pattern = \"(\" }\n").unwrap_err();
        assert!(e.contains("body_pattern"), "{e}");
    }

    #[test]
    fn bodies_and_expectations_take_each_form() {
        let w = parse(
            "[[workload]]\nname = \"echo\"\nmethod = \"POST\"\npath = \"/echo\"\nheaders = { X-Key = \"1\" }\nbody_repeat = [\"e\", 4]\nexpect = { body_echoes_request = true, headers = [\"Server\"] }\n",
        )
        .unwrap();
        assert_eq!(w[0].body, b"eeee");
        assert_eq!(w[0].headers, [("X-Key".to_string(), "1".to_string())]);
        assert!(w[0].expect.body.matches(b"eeee", &w[0].body));
        assert!(!w[0].expect.body.matches(b"eee", &w[0].body));
    }
}
