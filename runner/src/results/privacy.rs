//! What published results may say about the machine they came from. By default: no hostname, and
//! no absolute path outside the repository: paths under the repository become relative, under the
//! tools dir `$TOOLS_DIR/...`, under the output dir `$OUT/...`, under the home dir `~/...`;
//! system programs (/usr, /bin, ...) stay as they are; any other absolute path keeps only its
//! file name (`.../wasmedge`). `matrix run --record-host` keeps everything.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

/// Directories whose programs are the distribution's, not the user's.
const SYSTEM_PREFIXES: &[&str] = &[
    "/usr/", "/bin/", "/sbin/", "/lib", "/etc/", "/proc/", "/dev/",
];

#[derive(Debug, Clone)]
pub struct Privacy {
    /// (prefix, replacement), longest prefix first.
    prefixes: Vec<(String, String)>,
    /// `--record-host`: publish paths and the hostname as they are.
    record_host: bool,
}

impl Privacy {
    pub fn new(root: &Path, tools: &Path, out: &Path, record_host: bool) -> Privacy {
        let canonical = |p: &Path| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        let mut prefixes = vec![
            (format!("{}/", canonical(tools)), "$TOOLS_DIR/".to_string()),
            (format!("{}/", tools.display()), "$TOOLS_DIR/".to_string()),
            (format!("{}/", canonical(out)), "$OUT/".to_string()),
            (format!("{}/", out.display()), "$OUT/".to_string()),
            (format!("{}/", canonical(root)), String::new()),
            (format!("{}/", root.display()), String::new()),
        ];
        if let Some(home) = std::env::var_os("HOME").filter(|h| h.len() > 1) {
            prefixes.push((format!("{}/", home.to_string_lossy()), "~/".to_string()));
        }
        // The output dir is usually inside the repository: a longer prefix is a closer match.
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        prefixes.dedup();
        Privacy {
            prefixes,
            record_host,
        }
    }

    /// Publishes everything as it is.
    pub fn keep_all() -> Privacy {
        Privacy {
            prefixes: Vec::new(),
            record_host: true,
        }
    }

    pub fn records_host(&self) -> bool {
        self.record_host
    }

    /// A text with every absolute path in it made publishable.
    pub fn text(&self, text: &str) -> String {
        if self.record_host || !text.contains('/') {
            return text.to_string();
        }
        // A path starts with one slash (two would be a URL's authority) after a separator.
        let re = regex::Regex::new(r#"(^|[\s(="'`:,\[])(/[^/\s"'`),\]][^\s"'`),\]]*)"#)
            .expect("static regex");
        re.replace_all(text, |caps: &regex::Captures| {
            // A request line's path ("GET /users/2") is a URL's, not a file's.
            let before = &text[..caps.get(2).expect("a path").start()];
            let method = ["GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "PATCH ", "OPTIONS "];
            if method.iter().any(|m| before.ends_with(m)) {
                return caps[0].to_string();
            }
            format!("{}{}", &caps[1], self.path(&caps[2]))
        })
        .into_owned()
    }

    /// One absolute path made publishable.
    pub fn path(&self, path: &str) -> String {
        if self.record_host || !path.starts_with('/') {
            return path.to_string();
        }
        for (prefix, replacement) in &self.prefixes {
            if let Some(rest) = path.strip_prefix(prefix.as_str()) {
                return format!("{replacement}{rest}");
            }
            if path == prefix.trim_end_matches('/') {
                return match replacement.trim_end_matches('/') {
                    "" => ".".to_string(),
                    r => r.to_string(),
                };
            }
        }
        if SYSTEM_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return path.to_string();
        }
        match path.rsplit('/').find(|s| !s.is_empty()) {
            Some(name) => format!(".../{name}"),
            None => path.to_string(),
        }
    }

    /// The JSON of `value` with every string made publishable.
    pub fn json<T: Serialize>(&self, value: &T) -> serde_json::Result<Value> {
        let mut v = serde_json::to_value(value)?;
        if !self.record_host {
            self.walk(&mut v);
        }
        Ok(v)
    }

    fn walk(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|i| self.walk(i)),
            Value::Object(map) => map.values_mut().for_each(|i| self.walk(i)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_relative_or_anonymous() {
        let p = Privacy::new(
            Path::new("/home/ada/wasm-bench"),
            Path::new("/home/ada/.cache/tools"),
            Path::new("/home/ada/wasm-bench/results"),
            false,
        );
        assert_eq!(
            p.path("/home/ada/wasm-bench/target/release/server"),
            "target/release/server"
        );
        assert_eq!(
            p.path("/home/ada/.cache/tools/bin/wasmtime"),
            "$TOOLS_DIR/bin/wasmtime"
        );
        assert_eq!(
            p.path("/home/ada/wasm-bench/results/runs/1/logs/a.log"),
            "$OUT/runs/1/logs/a.log"
        );
        assert_eq!(p.path("/usr/bin/wrk"), "/usr/bin/wrk");
        assert_eq!(p.path("/opt/secret/wasmedge/bin/wasmedge"), ".../wasmedge");
        assert_eq!(p.text("wrong answer: GET /users/2: status 500"), "wrong answer: GET /users/2: status 500");
        assert_eq!(
            p.text("the server exited (log: /home/ada/wasm-bench/results/runs/1/logs/a.log)"),
            "the server exited (log: $OUT/runs/1/logs/a.log)"
        );
        assert_eq!(
            p.text("WASMEDGE=/opt/x/wasmedge is not an executable file"),
            "WASMEDGE=.../wasmedge is not an executable file"
        );
        assert_eq!(
            p.text("ADDR=127.0.0.1:80 req/s 3/4"),
            "ADDR=127.0.0.1:80 req/s 3/4"
        );
        assert_eq!(
            p.text("GET http://127.0.0.1:9/plaintext"),
            "GET http://127.0.0.1:9/plaintext"
        );
        assert_eq!(p.path("/home/ada/.cache/tools"), "$TOOLS_DIR");
        let v = p
            .json(&serde_json::json!({"command": ["/home/ada/.cache/tools/bin/k6", "run"]}))
            .unwrap();
        assert_eq!(v["command"][0], "$TOOLS_DIR/bin/k6");
        // --record-host keeps everything.
        let all = Privacy::keep_all();
        assert_eq!(all.path("/opt/secret/x"), "/opt/secret/x");
    }
}
