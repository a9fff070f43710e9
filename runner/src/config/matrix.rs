//! `matrix.toml`: what to cross (servers x runtimes x modes x write strategies x workloads x loads)
//! and how to measure. Parsing is strict: unknown keys and unknown names are errors that say what
//! would have been valid, before anything runs or is written.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::names::{check_name, nearest, with_suggestion};
use super::runtimes::RuntimeDefs;
use crate::build::SERVERS;
use crate::http::workload::Workload;

/// Everything in a matrix file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    /// Server implementations (languages) to include.
    #[serde(default = "default_servers")]
    pub servers: Vec<String>,
    /// Workload names (see `workload.rs`).
    pub workloads: Vec<String>,
    /// Write strategies for every runtime that does not list its own.
    #[serde(default = "default_writes")]
    pub writes: Vec<String>,
    #[serde(default)]
    pub settings: Settings,
    #[serde(rename = "runtime")]
    pub runtimes: Vec<RuntimeEntry>,
    #[serde(rename = "load")]
    pub loads: Vec<LoadSpec>,
}

fn default_servers() -> Vec<String> {
    vec!["rust".into()]
}
fn default_writes() -> Vec<String> {
    vec!["single".into()]
}

/// `[settings]`: how every cell is measured.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Measured window per repeat, e.g. "8s".
    #[serde(with = "super::duration")]
    pub duration: Duration,
    /// Load before the measured window, excluded from the numbers.
    #[serde(with = "super::duration")]
    pub warmup: Duration,
    pub repeats: u32,
    /// CPUs the server is pinned to (taskset list syntax: "0", "0-1", "0,2").
    pub server_cpus: String,
    /// CPUs the load generator is pinned to; must not overlap `server_cpus`.
    pub generator_cpus: String,
    /// How long a server may take to answer its first request correctly.
    #[serde(with = "super::duration")]
    pub ready_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            duration: Duration::from_secs(8),
            warmup: Duration::from_secs(2),
            repeats: 1,
            server_cpus: "0".into(),
            generator_cpus: "1".into(),
            ready_timeout: Duration::from_secs(30),
        }
    }
}

/// `[[runtime]]`: one runtime definition from `runtimes/` and the modes of it to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeEntry {
    pub name: String,
    pub modes: Vec<String>,
    /// Overrides the top-level `writes` for this runtime.
    pub writes: Option<Vec<String>>,
}

/// `[[load]]`: how the generator drives a cell.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    pub name: String,
    pub model: LoadModel,
    /// Virtual users (closed model).
    pub vus: Option<u32>,
    /// Requests per second offered (open model).
    pub rate: Option<u32>,
    /// Connections kept open (peak model, wrk).
    pub connections: Option<u32>,
    /// Only these workloads under this load (default: all of the top-level `workloads`).
    pub workloads: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LoadModel {
    /// k6 constant-vus: each VU sends its next request when the previous one answered.
    Closed,
    /// k6 constant-arrival-rate: requests start at a fixed rate whatever the latency, so latency is
    /// compared at equal load without coordinated omission; requests k6 could not start are counted.
    Open,
    /// wrk with `connections` connections: peak throughput from a generator ~10x faster than k6.
    Peak,
}

impl LoadModel {
    /// The name used in matrix files and results: "closed", "open", "peak".
    pub fn as_str(self) -> &'static str {
        match self {
            LoadModel::Closed => "closed",
            LoadModel::Open => "open",
            LoadModel::Peak => "peak",
        }
    }

    pub fn generator(self) -> &'static str {
        match self {
            LoadModel::Closed | LoadModel::Open => "k6",
            LoadModel::Peak => "wrk",
        }
    }
}

impl LoadSpec {
    /// Checks that the fields the model needs are there, and only those.
    fn validate(&self) -> std::result::Result<(), String> {
        type Field<'a> = (&'a str, Option<u32>);
        let (needed, value, others): (&str, Option<u32>, [Field; 2]) = match self.model {
            LoadModel::Closed => (
                "vus",
                self.vus,
                [("rate", self.rate), ("connections", self.connections)],
            ),
            LoadModel::Open => (
                "rate",
                self.rate,
                [("vus", self.vus), ("connections", self.connections)],
            ),
            LoadModel::Peak => (
                "connections",
                self.connections,
                [("vus", self.vus), ("rate", self.rate)],
            ),
        };
        let model = self.model.as_str();
        match value {
            None => {
                return Err(format!(
                    "load {:?} (model {model}) needs `{needed}`",
                    self.name
                ))
            }
            Some(0) => {
                return Err(format!(
                    "load {:?} has {needed} = 0: use 1 or more",
                    self.name
                ))
            }
            Some(_) => {}
        }
        if let Some((key, _)) = others.iter().find(|(_, v)| v.is_some()) {
            return Err(format!(
                "load {:?}: `{key}` does not apply to model {model} (it uses `{needed}`)",
                self.name
            ));
        }
        Ok(())
    }

    /// Concurrency the generator uses: VUs, connections, or (open model) the VU pool.
    pub fn concurrency(&self) -> u32 {
        self.vus
            .or(self.connections)
            .unwrap_or_else(|| open_model_vus(self.rate.unwrap_or(1)))
    }
}

/// VUs pre-allocated for an open-model rate: enough for 100 ms latency at that rate, at least 10.
pub fn open_model_vus(rate: u32) -> u32 {
    (rate / 10).clamp(10, 1000)
}

/// One measurement: a point of the crossed dimensions.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cell {
    pub id: String,
    pub server: String,
    pub runtime: String,
    pub mode: String,
    pub write: String,
    pub workload: String,
    pub load: LoadSpec,
}

/// A parsed, validated matrix ready to run.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub settings: Settings,
    pub cells: Vec<Cell>,
}

const WRITES: &[&str] = &["single", "vectored"];

impl Matrix {
    pub fn load(path: &Path, runtimes: &RuntimeDefs) -> Result<Matrix> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read matrix file {}", path.display()))?;
        Matrix::parse(&text, path, runtimes)
    }

    /// Parses and validates a matrix file; every error names the file and what would be valid.
    pub fn parse(text: &str, path: &Path, runtimes: &RuntimeDefs) -> Result<Matrix> {
        let file: MatrixFile = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!("{}: {}", path.display(), with_suggestion(&e.to_string()))
        })?;
        let here = |what: &str| format!("{}: {what}", path.display());
        validate_settings(&file.settings).map_err(|e| anyhow::anyhow!("{}", here(&e)))?;
        validate_names(&file, &here)?;
        validate_loads(&file, &here)?;
        let mut cells = Vec::new();
        for entry in &file.runtimes {
            validate_runtime(entry, &file, runtimes, &here)?;
            cells.extend(expand(entry, &file));
        }
        check_cells(&cells, &here)?;
        Ok(Matrix {
            settings: file.settings,
            cells,
        })
    }
}

fn validate_settings(settings: &Settings) -> std::result::Result<(), String> {
    super::cpus::validate_pair(&settings.server_cpus, &settings.generator_cpus)?;
    if settings.duration.is_zero() {
        return Err("settings.duration is 0s: give the measured window, e.g. \"8s\"".into());
    }
    if settings.repeats == 0 {
        return Err("settings.repeats is 0: use 1 or more".into());
    }
    Ok(())
}

fn validate_names(file: &MatrixFile, here: &impl Fn(&str) -> String) -> Result<()> {
    for server in &file.servers {
        check_name("servers", server, SERVERS.iter().copied(), here)?;
    }
    for workload in &file.workloads {
        check_name("workloads", workload, Workload::names(), here)?;
    }
    Ok(())
}

fn validate_loads(file: &MatrixFile, here: &impl Fn(&str) -> String) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for load in &file.loads {
        load.validate()
            .map_err(|e| anyhow::anyhow!("{}", here(&e)))?;
        for workload in load.workloads.iter().flatten() {
            check_name(
                &format!("load {:?} workloads", load.name),
                workload,
                file.workloads.iter().map(String::as_str),
                here,
            )?;
        }
        if !seen.insert(load.name.as_str()) {
            bail!(
                "{}",
                here(&format!(
                    "load name {:?} is used twice: give each [[load]] its own name",
                    load.name
                ))
            );
        }
    }
    Ok(())
}

fn validate_runtime(
    entry: &RuntimeEntry,
    file: &MatrixFile,
    runtimes: &RuntimeDefs,
    here: &impl Fn(&str) -> String,
) -> Result<()> {
    let def = runtimes.get(&entry.name).ok_or_else(|| {
        anyhow::anyhow!(
            "{}",
            here(&format!(
                "runtime {:?} has no definition in runtimes/ (valid: {}){}",
                entry.name,
                runtimes.names().join(", "),
                nearest(&entry.name, runtimes.names().iter().map(String::as_str))
                    .map(|n| format!("; did you mean {n:?}?"))
                    .unwrap_or_default()
            ))
        )
    })?;
    for mode in &entry.modes {
        check_name(
            &format!("runtime {:?} modes", entry.name),
            mode,
            def.modes.keys().map(String::as_str),
            here,
        )?;
    }
    for write in entry.writes.as_ref().unwrap_or(&file.writes) {
        check_name("writes", write, WRITES.iter().copied(), here)?;
    }
    Ok(())
}

/// The cells of one `[[runtime]]` entry: servers x modes x writes x workloads x loads, leaving out
/// workloads a load does not take.
fn expand<'a>(entry: &'a RuntimeEntry, file: &'a MatrixFile) -> impl Iterator<Item = Cell> + 'a {
    let writes = entry.writes.as_ref().unwrap_or(&file.writes);
    file.servers.iter().flat_map(move |server| {
        entry.modes.iter().flat_map(move |mode| {
            writes.iter().flat_map(move |write| {
                file.workloads.iter().flat_map(move |workload| {
                    file.loads
                        .iter()
                        .filter(move |load| {
                            load.workloads
                                .as_ref()
                                .is_none_or(|only| only.contains(workload))
                        })
                        .map(move |load| Cell {
                            id: [server, &entry.name, mode, write, workload, &load.name]
                                .map(|s| s.as_str())
                                .join("/"),
                            server: server.clone(),
                            runtime: entry.name.clone(),
                            mode: mode.clone(),
                            write: write.clone(),
                            workload: workload.clone(),
                            load: load.clone(),
                        })
                })
            })
        })
    })
}

fn check_cells(cells: &[Cell], here: &impl Fn(&str) -> String) -> Result<()> {
    if cells.is_empty() {
        bail!(
            "{}",
            here("the matrix expands to no cells: list at least one [[runtime]] with modes, one workload and one [[load]]")
        );
    }
    let mut ids = std::collections::HashSet::new();
    if let Some(dup) = cells.iter().find(|c| !ids.insert(c.id.as_str())) {
        bail!(
            "{}",
            here(&format!(
                "cell {} appears twice: a runtime, mode or write is listed more than once",
                dup.id
            ))
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::runtimes::RuntimeDefs;

    fn defs() -> RuntimeDefs {
        RuntimeDefs::load(&crate::paths::repo_root().join("runtimes")).unwrap()
    }

    const GOOD: &str = r#"
workloads = ["plaintext", "json"]
[settings]
duration = "2s"
warmup = "0s"
[[runtime]]
name = "native"
modes = ["current-thread"]
[[runtime]]
name = "wasmtime"
modes = ["default"]
writes = ["single", "vectored"]
[[load]]
name = "closed-50"
model = "closed"
vus = 50
"#;

    fn parse(text: &str) -> Result<Matrix> {
        Matrix::parse(text, Path::new("m.toml"), &defs())
    }

    #[test]
    fn expands_the_cross_product() {
        let m = parse(GOOD).unwrap();
        // native: 1 mode x 1 write x 2 workloads; wasmtime: 1 mode x 2 writes x 2 workloads.
        assert_eq!(m.cells.len(), 6);
        assert_eq!(
            m.cells[0].id,
            "rust/native/current-thread/single/plaintext/closed-50"
        );
        assert!(m
            .cells
            .iter()
            .any(|c| c.id == "rust/wasmtime/default/vectored/json/closed-50"));
        assert_eq!(m.settings.duration, Duration::from_secs(2));
    }

    #[test]
    fn the_repository_matrix_parses() {
        let root = crate::paths::repo_root();
        let m = Matrix::load(&root.join("matrix.toml"), &defs()).unwrap();
        assert!(m.cells.iter().any(|c| c.runtime == "native"));
        assert!(m.cells.iter().any(|c| c.runtime == "wasmtime"));
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = parse("workloads = [\"plaintext\"\n[settings]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        let err = parse(&GOOD.replace("duration = ", "durration = "))
            .unwrap_err()
            .to_string();
        assert!(err.contains("durration"), "{err}");
        assert!(err.contains("did you mean `duration`"), "{err}");
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = parse(&GOOD.replace("\"default\"", "\"defualt\""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("defualt")
                && err.contains("pooling")
                && err.contains("did you mean \"default\""),
            "{err}"
        );
        let err = parse(&GOOD.replace("\"json\"", "\"jsno\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("valid: plaintext"), "{err}");
        let err = parse(&GOOD.replace("name = \"wasmtime\"", "name = \"wasmtim\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean \"wasmtime\""), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse(&GOOD.replace("\"2s\"", "\"2 parsecs\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 parsecs"), "{err}");
        let err = parse(&GOOD.replace("[settings]", "[settings]\nserver_cpus = \"1\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("share CPU 1"), "{err}");
        let err = parse(&GOOD.replace("[settings]", "[settings]\nserver_cpus = \"a-b\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"a-b\" is not a CPU list"), "{err}");
    }

    #[test]
    fn load_models_need_their_own_fields() {
        let open = GOOD.replace(
            "model = \"closed\"\nvus = 50",
            "model = \"open\"\nrate = 2000",
        );
        let m = parse(&open).unwrap();
        assert_eq!(m.cells[0].load.model, LoadModel::Open);
        let err = parse(&GOOD.replace("model = \"closed\"", "model = \"open\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs `rate`"), "{err}");
        let err = parse(&GOOD.replace("vus = 50", "vus = 50\nconnections = 5"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`connections` does not apply to model closed"),
            "{err}"
        );
        let err = parse(&GOOD.replace("model = \"closed\"", "model = \"closd\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("closd") && err.contains("closed"), "{err}");
        let only_json = GOOD.replace("vus = 50", "vus = 50\nworkloads = [\"json\"]");
        assert!(parse(&only_json)
            .unwrap()
            .cells
            .iter()
            .all(|c| c.workload == "json"));
        let err = parse(&GOOD.replace("vus = 50", "vus = 50\nworkloads = [\"echo\"]"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("load \"closed-50\" workloads: unknown \"echo\" (valid: plaintext, json)"),
            "{err}"
        );
        let peak = GOOD
            .replace("vus = 50", "connections = 50")
            .replace("\"closed\"", "\"peak\"");
        assert_eq!(parse(&peak).unwrap().cells[0].load.model.generator(), "wrk");
    }

    #[test]
    fn empty_expansion_is_an_error() {
        let err = parse(
            &GOOD
                .replace("modes = [\"current-thread\"]", "modes = []")
                .replace("modes = [\"default\"]", "modes = []"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("expands to no cells"), "{err}");
    }
}
