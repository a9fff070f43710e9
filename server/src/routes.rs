//! The request logic every target shares. Pure functions of (method, path, query, body): no I/O, no
//! runtime, so the hyper server and the wasi:http handler answer byte for byte the same.

/// TechEmpower's plaintext body.
pub const PLAINTEXT_BODY: &[u8] = b"Hello, World!";
/// TechEmpower's JSON body (serialised form of `{"message":"Hello, World!"}`).
pub const JSON_BODY: &[u8] = br#"{"message":"Hello, World!"}"#;
/// Largest `/echo` request body; beyond it the answer is 413.
pub const ECHO_LIMIT_BYTES: usize = 64 * 1024;
/// Largest `/bytes?n=` response.
pub const BYTES_LIMIT: usize = 16 * 1024 * 1024;
/// Largest `/compute?n=` round count, so one request cannot pin the server for seconds.
pub const COMPUTE_LIMIT: u64 = 10_000_000;
/// Value of the `Server` header on every response.
pub const SERVER_NAME: &str = "wasm-bench";

/// What a route answered, before any transport turns it into bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body,
    /// `Allow` header value for 405 answers.
    pub allow: Option<&'static str>,
}

/// Response bodies: static ones are never copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl Body {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Static(b) => b,
            Body::Owned(v) => v,
        }
    }
}

/// How the route wants its request body: only `/echo` reads one.
pub fn wants_body(method: &str, path: &str) -> bool {
    method == "POST" && path == "/echo"
}

/// Answers one request. `body` is what the transport read (empty when `wants_body` was false).
pub fn route(method: &str, path: &str, query: Option<&str>, body: &[u8]) -> Reply {
    let allowed = match path {
        "/plaintext" | "/json" | "/compute" | "/bytes" => "GET",
        "/echo" => "POST",
        _ => return text(404, b"Not Found"),
    };
    if method != allowed && !(allowed == "GET" && method == "HEAD") {
        return Reply {
            allow: Some(allowed),
            ..text(405, b"Method Not Allowed")
        };
    }
    match path {
        "/plaintext" => Reply {
            status: 200,
            content_type: "text/plain",
            body: Body::Static(PLAINTEXT_BODY),
            allow: None,
        },
        "/json" => Reply {
            status: 200,
            content_type: "application/json",
            body: Body::Static(JSON_BODY),
            allow: None,
        },
        "/echo" if body.len() > ECHO_LIMIT_BYTES => payload_too_large(),
        "/echo" => Reply {
            status: 200,
            content_type: "application/octet-stream",
            body: Body::Owned(body.to_vec()),
            allow: None,
        },
        "/compute" => match query_u64(query, "n") {
            Some(n) if n <= COMPUTE_LIMIT => Reply {
                status: 200,
                content_type: "text/plain",
                body: Body::Owned(format!("{:016x}", hash_chain(n)).into_bytes()),
                allow: None,
            },
            _ => text(400, b"compute needs ?n=<rounds> with rounds <= 10000000"),
        },
        "/bytes" => match query_u64(query, "n") {
            Some(n) if n as usize <= BYTES_LIMIT => Reply {
                status: 200,
                content_type: "application/octet-stream",
                body: Body::Owned(vec![b'x'; n as usize]),
                allow: None,
            },
            _ => text(400, b"bytes needs ?n=<count> with count <= 16777216"),
        },
        _ => unreachable!("every allowed path is matched above"),
    }
}

/// The 413 answer, also used by transports that refuse a body before reading it.
pub fn payload_too_large() -> Reply {
    text(413, b"Payload Too Large")
}

fn text(status: u16, body: &'static [u8]) -> Reply {
    Reply {
        status,
        content_type: "text/plain",
        body: Body::Static(body),
        allow: None,
    }
}

fn query_u64(query: Option<&str>, key: &str) -> Option<u64> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.parse().ok()).flatten()
    })
}

/// CPU-bound work whose result a client can check: `n` rounds of FNV-1a over the previous value's
/// bytes, starting from the FNV offset basis. Deterministic on every target (no floats, no SIMD).
pub fn hash_chain(n: u64) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut value = FNV_OFFSET;
    for _ in 0..n {
        let mut h = FNV_OFFSET;
        for byte in value.to_le_bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(FNV_PRIME);
        }
        value = h;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_and_json_follow_techempower() {
        let r = route("GET", "/plaintext", None, b"");
        assert_eq!(
            (r.status, r.content_type, r.body.as_bytes()),
            (200, "text/plain", &b"Hello, World!"[..])
        );
        let r = route("GET", "/json", None, b"");
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.body.as_bytes(), br#"{"message":"Hello, World!"}"#);
    }

    #[test]
    fn unknown_paths_and_wrong_methods() {
        assert_eq!(route("GET", "/nope", None, b"").status, 404);
        let r = route("POST", "/plaintext", None, b"");
        assert_eq!((r.status, r.allow), (405, Some("GET")));
        assert_eq!(route("GET", "/echo", None, b"").status, 405);
    }

    #[test]
    fn echo_returns_body_and_refuses_oversize() {
        assert_eq!(route("POST", "/echo", None, b"abc").body.as_bytes(), b"abc");
        assert_eq!(
            route("POST", "/echo", None, &vec![0; ECHO_LIMIT_BYTES + 1]).status,
            413
        );
    }

    #[test]
    fn compute_and_bytes_check_their_argument() {
        assert_eq!(hash_chain(0), 0xcbf2_9ce4_8422_2325);
        assert_ne!(hash_chain(1), hash_chain(2));
        let r = route("GET", "/compute", Some("n=1000"), b"");
        assert_eq!(
            r.body.as_bytes(),
            format!("{:016x}", hash_chain(1000)).as_bytes()
        );
        assert_eq!(route("GET", "/compute", Some("n=x"), b"").status, 400);
        assert_eq!(
            route("GET", "/bytes", Some("a=1&n=5"), b"").body.as_bytes(),
            b"xxxxx"
        );
        assert_eq!(route("GET", "/bytes", None, b"").status, 400);
    }
}
