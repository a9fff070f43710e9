//! Server definitions (`server.toml` beside a server's source): what the server is, how each of
//! its builds is made and where the artifact lands, how it is told its address, and the requests
//! it answers. The project's own Rust and Go servers are two such files (server/server.toml,
//! server/go/server.toml); a matrix names them, or any other definition by path. Bringing a
//! server means writing one of these files, not runner code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::placeholders::Placeholders;

/// One `server.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerDef {
    /// How matrices and cell ids name it ("rust", "go", "my-axum").
    pub name: String,
    pub about: String,
    pub language: String,
    /// As TechEmpower classifies frameworks: the framework, "realistic" or "stripped", and
    /// "fullstack", "micro" or "platform".
    #[serde(default)]
    pub framework: Option<String>,
    #[serde(default)]
    pub approach: Option<String>,
    #[serde(default)]
    pub classification: Option<String>,
    /// The directory builds run in, relative to this file (default: its own directory).
    #[serde(default = "here")]
    pub source: PathBuf,
    /// Arguments that tell the server its address and write strategy, where a runtime's launch
    /// says `{server_args}` ({addr}, {host}, {port}, {write}).
    #[serde(default)]
    pub args: Vec<String>,
    /// The same as environment variables: the process environment of a native server, and the
    /// runtime's `env_flag` for a guest (`{server_env}` in its launch).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// More arguments for a mode of a runtime, by mode name (e.g. tokio's scheduler for native
    /// current-thread and multi-thread).
    #[serde(default)]
    pub mode_args: BTreeMap<String, Vec<String>>,
    /// The write strategies it can be asked for ({write}); others are skipped.
    #[serde(default = "single")]
    pub writes: Vec<String>,
    #[serde(rename = "build", default)]
    pub builds: Vec<BuildDef>,
    /// Why it has no build of a kind a runtime asks for, by kind (shown with the skipped cells).
    #[serde(default)]
    pub missing: BTreeMap<String, String>,
    /// Its requests and their correct answers (a workloads file, relative to this file; default:
    /// the project's `server/workloads.toml`).
    #[serde(default)]
    pub workloads: Option<String>,
    /// Whether `matrix check` also checks the project's error routes (404, 405 with Allow, 413,
    /// 400 on a bad argument): true for the project's own servers.
    #[serde(default)]
    pub route_checks: bool,
    /// The workloads as read.
    #[serde(skip)]
    pub requests: Vec<crate::http::Workload>,
    /// Where the definition was read from (set when loaded).
    #[serde(skip)]
    pub file: PathBuf,
}

fn here() -> PathBuf {
    PathBuf::from(".")
}

fn single() -> Vec<String> {
    vec!["single".into()]
}

/// One build of a server: the kind of artifact it makes (what runtime definitions ask for), the
/// command that makes it, or an artifact built elsewhere.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildDef {
    /// native, wasip2, wasip1, wasix, wasmedge, wasi-http, or a name a runtime definition uses.
    pub kind: String,
    /// argv run in `source`, no shell ({target_dir}, {host_triple}, {host_triple_env}, {source},
    /// {go}, {go_overlay}); absent with `prebuilt`.
    #[serde(default)]
    pub command: Vec<String>,
    /// Environment of the command (values and names may use the same placeholders).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables removed from the command's environment.
    #[serde(default)]
    pub env_remove: Vec<String>,
    /// Where the command leaves the artifact.
    #[serde(default)]
    pub artifact: Option<String>,
    /// Instead of a command: the artifact, built elsewhere (relative to this file).
    #[serde(default)]
    pub prebuilt: Option<String>,
    /// The target it is for, as results record it ("wasm32-wasip2", "host (static)").
    pub target: String,
    /// What this build changes beyond the shared source (shown with its cells).
    #[serde(default)]
    pub note: Option<String>,
    /// A runtime-bug workaround applied to a copy of a Go toolchain file (runner/src/build/go_patch.rs),
    /// handed to `go build` as {go_overlay}.
    #[serde(default)]
    pub go_patch: Option<String>,
}

impl BuildDef {
    /// A build for the host, run without a WebAssembly runtime.
    pub fn is_native(&self) -> bool {
        self.kind == "native"
    }
}

impl ServerDef {
    /// Its workload `name`, if it answers one.
    pub fn workload(&self, name: &str) -> Option<&crate::http::Workload> {
        self.requests.iter().find(|w| w.name == name)
    }

    /// Why it cannot be measured with workload `name` (the skip reason).
    pub fn missing_workload(&self, name: &str) -> String {
        format!(
            "the {} server has no workload {name:?} (its workloads: {}; {})",
            self.name,
            self.requests.iter().map(|w| w.name.as_str()).collect::<Vec<_>>().join(", "),
            self.file.display()
        )
    }

    /// The build of `kind`, if the server has one.
    pub fn build(&self, kind: &str) -> Option<&BuildDef> {
        self.builds.iter().find(|b| b.kind == kind)
    }

    /// Why the server has no build of `kind` (the skip reason).
    pub fn missing_reason(&self, kind: &str) -> String {
        self.missing.get(kind).cloned().unwrap_or_else(|| {
            format!(
                "the {} server has no {kind} build ({})",
                self.name,
                self.file.display()
            )
        })
    }

    /// The directory its builds run in.
    pub fn source_dir(&self) -> PathBuf {
        self.file
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.source)
    }

    /// A path the definition names, relative to its own file.
    pub fn relative(&self, path: &str) -> PathBuf {
        self.file.parent().unwrap_or(Path::new(".")).join(path)
    }

    /// Its arguments for `mode` (after `args`), expanded.
    pub fn launch_args(&self, mode: &str, vars: &Placeholders) -> Result<Vec<String>, String> {
        let mut args = self.args.clone();
        args.extend(self.mode_args.get(mode).cloned().unwrap_or_default());
        vars.expand_all(&args)
            .map_err(|e| format!("{}: args: {e}", self.file.display()))
    }

    /// Its environment, expanded.
    pub fn launch_env(&self, vars: &Placeholders) -> Result<Vec<(String, String)>, String> {
        self.env
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    vars.expand(v)
                        .map_err(|e| format!("{}: env: {e}", self.file.display()))?,
                ))
            })
            .collect()
    }
}

/// The servers a run can name: the built-in ones found under `server/`, and any definition a
/// matrix names by path.
#[derive(Debug, Clone, Default)]
pub struct ServerDefs {
    defs: Vec<ServerDef>,
}

/// What is wrong with a server definition.
#[derive(Debug, thiserror::Error)]
pub enum ServerDefError {
    #[error("cannot read {file}: {error}")]
    Read {
        file: PathBuf,
        error: std::io::Error,
    },
    #[error("{file}: {message}")]
    Invalid { file: PathBuf, message: String },
}

impl ServerDefs {
    /// The definitions under `dir` (its `server.toml` and those one folder down), by name.
    pub fn builtin(dir: &Path) -> Result<ServerDefs, ServerDefError> {
        let mut files = vec![dir.join("server.toml")];
        let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|error| ServerDefError::Read {
                file: dir.to_path_buf(),
                error,
            })?
            .flatten()
            .map(|e| e.path().join("server.toml"))
            .collect();
        subdirs.sort();
        files.extend(subdirs);
        let mut defs = ServerDefs::default();
        for file in files.into_iter().filter(|f| f.is_file()) {
            defs.add(ServerDef::load(&file)?)?;
        }
        Ok(defs)
    }

    /// Adds a definition; its name must be new.
    pub fn add(&mut self, def: ServerDef) -> Result<(), ServerDefError> {
        if let Some(other) = self.get(&def.name) {
            return Err(ServerDefError::Invalid {
                file: def.file.clone(),
                message: format!(
                    "name {:?} is taken by {}: give this server another name",
                    def.name,
                    other.file.display()
                ),
            });
        }
        self.defs.push(def);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&ServerDef> {
        self.defs.iter().find(|d| d.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.defs.iter().map(|d| d.name.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &ServerDef> {
        self.defs.iter()
    }
}

impl ServerDef {
    /// Reads and checks one definition.
    pub fn load(file: &Path) -> Result<ServerDef, ServerDefError> {
        let text = std::fs::read_to_string(file).map_err(|error| ServerDefError::Read {
            file: file.to_path_buf(),
            error,
        })?;
        let invalid = |message: String| ServerDefError::Invalid {
            file: file.to_path_buf(),
            message,
        };
        let mut def: ServerDef = toml::from_str(&text)
            .map_err(|e| invalid(super::names::with_suggestion(&e.to_string())))?;
        def.file = file.to_path_buf();
        def.check().map_err(invalid)?;
        def.requests = match &def.workloads {
            Some(path) => super::workloads::load(&def.relative(path)),
            None => super::workloads::load(&super::workloads::project_file()),
        }
        .map_err(|e| invalid(format!("workloads: {e}")))?;
        Ok(def)
    }

    fn check(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.contains(['/', ' ', '@']) {
            return Err(format!(
                "name {:?}: a name is used in cell ids, so it needs letters, digits, '-' or '_'",
                self.name
            ));
        }
        for (i, b) in self.builds.iter().enumerate() {
            let here = format!("[[build]] {} (kind {:?})", i + 1, b.kind);
            match (b.command.is_empty(), &b.prebuilt, &b.artifact) {
                (true, None, _) => {
                    return Err(format!(
                        "{here}: give a `command` (with `artifact`) or a `prebuilt` artifact"
                    ))
                }
                (false, Some(_), _) => {
                    return Err(format!("{here}: `command` or `prebuilt`, not both"))
                }
                (false, None, None) => {
                    return Err(format!(
                        "{here}: `artifact`: where does the command leave it?"
                    ))
                }
                _ => {}
            }
            if let Some(patch) = &b.go_patch {
                if super::go_patch::named(patch).is_none() {
                    return Err(format!(
                        "{here}: go_patch {patch:?} is not a known workaround (known: {})",
                        super::go_patch::names().join(", ")
                    ));
                }
            }
            if self.builds[..i].iter().any(|o| o.kind == b.kind) {
                return Err(format!("{here}: a second build of kind {:?}", b.kind));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_servers_are_definitions_like_any_other() {
        let defs = ServerDefs::builtin(&crate::paths::repo_root().join("server")).unwrap();
        let names: Vec<&str> = defs.names().collect();
        assert_eq!(names, ["rust", "go"]);
        let rust = defs.get("rust").unwrap();
        for kind in [
            "native",
            "wasip2",
            "wasip1",
            "wasix",
            "wasmedge",
            "wasi-http",
        ] {
            assert!(rust.build(kind).is_some(), "rust has no {kind} build");
        }
        let go = defs.get("go").unwrap();
        assert!(go.build("wasip2").is_none());
        assert!(go.missing_reason("wasip2").contains("no wasip2 target"));
        assert!(go
            .build("wasix")
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .contains("wasmer"));
        let mut vars = Placeholders::default();
        vars.set("addr", "127.0.0.1:9").set("write", "single");
        assert_eq!(
            rust.launch_args("current-thread", &vars).unwrap(),
            [
                "--addr",
                "127.0.0.1:9",
                "--write",
                "single",
                "--threads",
                "current-thread"
            ]
        );
        assert!(rust
            .launch_env(&vars)
            .unwrap()
            .contains(&("ADDR".into(), "127.0.0.1:9".into())));
    }

    #[test]
    fn a_definition_with_a_wrong_field_says_where_and_what() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        let write = |text: &str| std::fs::write(&file, text).unwrap();
        write("name = \"x\"\nabout = \"\"\nlanguage = \"rust\"\n[[build]]\nknd = \"native\"\ntarget = \"t\"\n");
        let err = ServerDef::load(&file).unwrap_err().to_string();
        assert!(
            err.contains("server.toml") && err.contains("did you mean `kind`"),
            "{err}"
        );
        write("name = \"x\"\nabout = \"\"\nlanguage = \"rust\"\n[[build]]\nkind = \"native\"\ntarget = \"t\"\n");
        let err = ServerDef::load(&file).unwrap_err().to_string();
        assert!(err.contains("give a `command`"), "{err}");
        write("name = \"a b\"\nabout = \"\"\nlanguage = \"rust\"\n");
        assert!(ServerDef::load(&file)
            .unwrap_err()
            .to_string()
            .contains("cell ids"));
    }
}
