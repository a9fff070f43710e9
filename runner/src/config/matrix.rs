//! `matrix.toml`: what to cross (servers x runtimes x modes x write strategies x workloads x loads)
//! and how to measure. Parsing is strict: unknown keys and unknown names are errors that say what
//! would have been valid, before anything runs or is written.

use super::hosts::{HostSpec, LinkSpec};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::names::{check_name, nearest, with_suggestion};
use super::runtimes::RuntimeDefs;
use super::servers::{ServerDef, ServerDefs};

/// Everything in a matrix file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    /// The published page's title, and the one line under it that says what it answers.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub about: Option<String>,
    /// Where `make matrix` (and `matrix run` without --out) publishes this matrix's page,
    /// relative to the repository, e.g. "results/examples"; default results/.
    #[serde(default)]
    pub publish: Option<String>,
    /// Servers to measure: the name of a built-in definition (server/**/server.toml: "rust",
    /// "go"), or the path of a `server.toml` (relative to this file).
    #[serde(default = "default_servers")]
    pub servers: Vec<String>,
    /// Workload names: requests the servers' workloads files define (server/workloads.toml for
    /// the project's servers).
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
    /// Places beyond this machine's own network (`local`), for `server_host`/`generator_hosts`.
    #[serde(default, rename = "host")]
    pub hosts: Vec<HostSpec>,
    /// Links between the server's namespace and the generators: every load runs once per link,
    /// named "<load>@rtt-10ms".
    #[serde(default)]
    pub links: Vec<LinkSpec>,
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
    /// Measured window of each cell in each round, e.g. "8s".
    #[serde(with = "super::duration")]
    pub duration: Duration,
    /// Load before the first window after a server starts, excluded from the numbers.
    #[serde(with = "super::duration")]
    pub warmup: Duration,
    /// Load before each later window of the same server (it is warm already), excluded too.
    #[serde(with = "super::duration")]
    pub rewarm: Duration,
    /// Rounds: each visits every cell once, in an order shuffled per round.
    pub repeats: u32,
    /// Seed of the per-round shuffles (a fresh one, recorded, when absent).
    pub seed: Option<u64>,
    /// CPUs the server is pinned to (taskset list syntax: "0", "0-1", "0,2").
    pub server_cpus: String,
    /// CPUs the load generator is pinned to; must not overlap `server_cpus`.
    pub generator_cpus: String,
    /// How long a server may take to answer its first request correctly.
    #[serde(with = "super::duration")]
    pub ready_timeout: Duration,
    /// The host the server runs on: "local" or a `[[host]]` of kind netns.
    pub server_host: String,
    /// The hosts the generator runs on; with several, k6 splits each load among them with its
    /// execution segments.
    pub generator_hosts: Vec<String>,
    /// An open-model window in which the hypervisor stole more than this share (%) of the
    /// machine's CPU time is disturbed: its tail is the host's pauses. Such windows are measured
    /// again after the rounds while `remeasure` lasts.
    pub steal_limit_pct: f64,
    /// Time after the rounds for measuring disturbed open-model windows again ("0s": never).
    #[serde(with = "super::duration")]
    pub remeasure: Duration,
    /// Keep the server's and generator's CPUs from halting while cells are measured (a
    /// lowest-priority yielding thread on each), so no request waits for the hypervisor to wake a
    /// halted virtual CPU (`sys::awake`): `"auto"` (the pre-flight measures whether it helps on
    /// this machine), `true` or `false`.
    pub keep_cpus_awake: KeepAwakeSetting,
    /// After the rounds, diagnose each server (system calls and instructions per request, a CPU
    /// profile and flame graph): where its cost goes (`measure::diagnose`).
    pub diagnose: bool,
}

/// `settings.keep_cpus_awake`: decided by the pre-flight on this machine, or forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeepAwakeSetting {
    #[default]
    Auto,
    On,
    Off,
}

impl KeepAwakeSetting {
    /// As the matrix file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeepAwakeSetting::Auto => "auto",
            KeepAwakeSetting::On => "true",
            KeepAwakeSetting::Off => "false",
        }
    }
}

impl Serialize for KeepAwakeSetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            KeepAwakeSetting::Auto => s.serialize_str("auto"),
            KeepAwakeSetting::On => s.serialize_bool(true),
            KeepAwakeSetting::Off => s.serialize_bool(false),
        }
    }
}

impl<'de> Deserialize<'de> for KeepAwakeSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(KeepAwakeSetting::On),
            Raw::Bool(false) => Ok(KeepAwakeSetting::Off),
            Raw::Text(t) if t == "auto" => Ok(KeepAwakeSetting::Auto),
            Raw::Text(t) => Err(serde::de::Error::custom(format!(
                "keep_cpus_awake = {t:?}: expected \"auto\" (measure whether it helps here), true or false"
            ))),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            duration: Duration::from_secs(8),
            warmup: Duration::from_secs(2),
            rewarm: Duration::ZERO,
            repeats: 1,
            seed: None,
            server_cpus: "0".into(),
            generator_cpus: "1".into(),
            ready_timeout: Duration::from_secs(30),
            server_host: "local".into(),
            generator_hosts: vec!["local".into()],
            steal_limit_pct: 0.3,
            remeasure: Duration::ZERO,
            keep_cpus_awake: KeepAwakeSetting::Auto,
            diagnose: false,
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
    /// Only these loads for this entry (default: every `[[load]]`).
    pub loads: Option<Vec<String>>,
    /// Only these server languages for this entry (default: the top-level `servers`).
    pub servers: Option<Vec<String>>,
    /// Runtime releases to run side by side, e.g. ["49.0.4", "46.0.1"] (default: the pinned one,
    /// or what the runtime's env override names). Each is its own cell, "<runtime>@<version>".
    pub versions: Option<Vec<String>>,
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
    /// Connections kept open (peak model, wrk), or a list of counts: a sweep, one load per count
    /// named "<name>@<count>".
    pub connections: Option<Counts>,
    /// Peak model: requests sent back to back on each connection before reading the answers
    /// (HTTP/1.1 pipelining), so the generator spends less per request than the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<u32>,
    /// The load generator (default: k6 for closed and open, wrk for peak; oha for open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<Generator>,
    /// Open model: instead of a fixed `rate`, offer these shares of the same server's req/s under
    /// the `peak` load (measured just before, in the same round), e.g. [0.1, 0.5, 0.9]: latency
    /// against load. One load per share, named "<name>@<percent>%".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of_peak: Option<Vec<f64>>,
    /// The peak-model load whose req/s `of_peak` takes shares of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak: Option<String>,
    /// Set on each load an `of_peak` list expands into: its share, and the list's load name.
    #[serde(skip)]
    pub share: Option<(f64, String)>,
    /// Set on each load a `connections` list expands into: the list's load name.
    #[serde(skip)]
    pub sweep: Option<String>,
    /// Only these workloads under this load (default: all of the top-level `workloads`).
    pub workloads: Option<Vec<String>>,
    /// Hostile loads: whether idle keep-alive clients join the slowloris ones (as many of each;
    /// default true). `idle = false` holds slowloris clients only.
    pub idle: Option<bool>,
    /// Set on each load the matrix's `links` cross into: the link, and the load's own name.
    #[serde(skip)]
    pub link: Option<(LinkSpec, String)>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum LoadModel {
    /// k6 constant-vus: each VU sends its next request when the previous one answered.
    Closed,
    /// k6 constant-arrival-rate: requests start at a fixed rate whatever the latency, so latency is
    /// compared at equal load without coordinated omission; requests k6 could not start are counted.
    Open,
    /// wrk with `connections` connections: peak throughput from a generator ~10x faster than k6.
    Peak,
    /// Hostile clients: `connections` held open, half idle and half with a request half sent
    /// (slowloris), while a fresh request every 100 ms must still be answered.
    Hostile,
}

impl LoadModel {
    /// The name used in matrix files and results: "closed", "open", "peak".
    pub fn as_str(self) -> &'static str {
        match self {
            LoadModel::Closed => "closed",
            LoadModel::Open => "open",
            LoadModel::Peak => "peak",
            LoadModel::Hostile => "hostile",
        }
    }

    /// The generator a load of this model uses unless it names one.
    pub fn default_generator(self) -> Generator {
        match self {
            LoadModel::Closed | LoadModel::Open => Generator::K6,
            LoadModel::Peak => Generator::Wrk,
            LoadModel::Hostile => Generator::Hostile,
        }
    }
}

/// One count, or a list of them (a sweep).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Counts {
    One(u32),
    Many(Vec<u32>),
}

/// A load generator: its definition is `runtimes/tools/<name>.toml`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Generator {
    /// Grafana k6: the origin README's generator; closed and open models.
    K6,
    /// wrk: peak throughput, pipelining.
    Wrk,
    /// oha: a fixed request rate with coordinated-omission correction, low scheduling noise.
    Oha,
    /// `matrix hostile`: this runner's own client holding idle and half-sent connections.
    Hostile,
}

impl Generator {
    pub fn name(self) -> &'static str {
        match self {
            Generator::K6 => "k6",
            Generator::Wrk => "wrk",
            Generator::Oha => "oha",
            Generator::Hostile => "hostile",
        }
    }

    /// The models it can drive.
    fn drives(self, model: LoadModel) -> bool {
        matches!(
            (self, model),
            (Generator::K6, LoadModel::Closed | LoadModel::Open)
                | (Generator::Wrk, LoadModel::Peak)
                | (Generator::Oha, LoadModel::Open)
                | (Generator::Hostile, LoadModel::Hostile)
        )
    }
}

impl LoadSpec {
    /// A load with only its name and model set (the fields its model needs are still to be set).
    pub fn new(name: &str, model: LoadModel) -> LoadSpec {
        LoadSpec {
            name: name.into(),
            model,
            vus: None,
            rate: None,
            connections: None,
            pipeline: None,
            generator: None,
            of_peak: None,
            peak: None,
            share: None,
            sweep: None,
            workloads: None,
            idle: None,
            link: None,
        }
    }

    /// Connections of a load (after a sweep's expansion, every load has one count).
    pub fn connections(&self) -> Option<u32> {
        match &self.connections {
            Some(Counts::One(n)) => Some(*n),
            Some(Counts::Many(list)) => list.first().copied(),
            None => None,
        }
    }

    /// Checks that the fields the model needs are there, and only those.
    fn validate(&self) -> std::result::Result<(), String> {
        type Field<'a> = (&'a str, Option<u32>);
        let (needed, value, others): (&str, Option<u32>, [Field; 2]) = match self.model {
            LoadModel::Closed => (
                "vus",
                self.vus,
                [("rate", self.rate), ("connections", self.connections())],
            ),
            LoadModel::Open if self.of_peak.is_some() => {
                return self.validate_shares();
            }
            LoadModel::Open => (
                "rate",
                self.rate,
                [("vus", self.vus), ("connections", self.connections())],
            ),
            LoadModel::Peak | LoadModel::Hostile => (
                "connections",
                self.connections(),
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
        if let Some(Counts::Many(counts)) = &self.connections {
            if counts.is_empty() || counts.contains(&0) {
                return Err(format!(
                    "load {:?}: connections {counts:?} needs counts of 1 or more, e.g. [1, 10, 50, 200, 1000, 5000]",
                    self.name
                ));
            }
        }
        if !self.generator().drives(self.model) {
            return Err(format!(
                "load {:?}: generator {} does not drive model {model} (k6: closed, open; wrk: peak; oha: open)",
                self.name,
                self.generator().name()
            ));
        }
        if self.idle.is_some() && self.model != LoadModel::Hostile {
            return Err(format!("load {:?}: `idle` applies to model hostile only", self.name));
        }
        match (self.model, self.pipeline) {
            (_, None) => Ok(()),
            (LoadModel::Peak, Some(0)) => Err(format!(
                "load {:?} has pipeline = 0: use 1 (no pipelining) or more, e.g. 16",
                self.name
            )),
            (LoadModel::Peak, Some(_)) => Ok(()),
            (_, Some(_)) => Err(format!(
                "load {:?}: `pipeline` applies to model peak only (wrk pipelines; k6 cannot)",
                self.name
            )),
        }
    }

    /// An open load offering shares of a peak: shares in (0, 2], a `peak`, no fixed rate.
    fn validate_shares(&self) -> std::result::Result<(), String> {
        let shares = self.of_peak.as_deref().unwrap_or_default();
        if shares.is_empty() || shares.iter().any(|s| s.is_nan() || *s <= 0.0 || *s > 2.0) {
            return Err(format!(
                "load {:?}: of_peak {shares:?} needs shares above 0 and at most 2, e.g. [0.1, 0.5, 0.9]",
                self.name
            ));
        }
        if self.peak.is_none() {
            return Err(format!(
                "load {:?}: of_peak needs `peak`, the peak-model load to take shares of",
                self.name
            ));
        }
        if let Some((key, _)) = [
            ("rate", self.rate),
            ("vus", self.vus),
            ("connections", self.connections()),
        ]
        .iter()
        .find(|(_, v)| v.is_some())
        {
            return Err(format!(
                "load {:?}: `{key}` does not apply with of_peak (the rate comes from the peak)",
                self.name
            ));
        }
        Ok(())
    }

    /// The loads this one stands for: itself, or one per share of `of_peak`.
    fn expand(&self) -> Vec<LoadSpec> {
        if let Some(Counts::Many(counts)) = &self.connections {
            return counts
                .iter()
                .map(|n| LoadSpec {
                    name: format!("{}@{n}", self.name),
                    connections: Some(Counts::One(*n)),
                    sweep: Some(self.name.clone()),
                    ..self.clone()
                })
                .collect();
        }
        match &self.of_peak {
            None => vec![self.clone()],
            Some(shares) => shares
                .iter()
                .map(|share| LoadSpec {
                    name: format!("{}@{:.0}%", self.name, share * 100.0),
                    of_peak: None,
                    share: Some((*share, self.name.clone())),
                    ..self.clone()
                })
                .collect(),
        }
    }

    /// Does a runtime entry's `loads` list name this load (or the list it expanded from)?
    fn named_in(&self, names: &[String]) -> bool {
        if let Some((_, own)) = &self.link {
            let unlinked = LoadSpec {
                name: own.clone(),
                link: None,
                ..self.clone()
            };
            return unlinked.named_in(names);
        }
        names.contains(&self.name)
            || self
                .sweep
                .as_ref()
                .is_some_and(|family| names.contains(family))
            || self
                .share
                .as_ref()
                .is_some_and(|(_, family)| names.contains(family))
    }

    /// This load once per link ("<name>@rtt-10ms"); a share of a peak follows the same link's peak.
    fn cross_links(&self, links: &[LinkSpec]) -> Vec<LoadSpec> {
        if links.is_empty() {
            return vec![self.clone()];
        }
        links
            .iter()
            .map(|link| LoadSpec {
                name: format!("{}@{}", self.name, link.label()),
                peak: self.peak.as_ref().map(|p| format!("{p}@{}", link.label())),
                link: Some((link.clone(), self.name.clone())),
                ..self.clone()
            })
            .collect()
    }

    /// The generator that drives this load.
    pub fn generator(&self) -> Generator {
        self.generator.unwrap_or(self.model.default_generator())
    }

    /// Requests in flight on each connection: the pipelining depth, 1 without it.
    pub fn depth(&self) -> u32 {
        self.pipeline.unwrap_or(1).max(1)
    }

    /// Concurrency the generator uses: VUs, connections, or (open model) the VU pool or oha's
    /// connections.
    pub fn concurrency(&self) -> u32 {
        let rate = self.rate.unwrap_or(1);
        self.vus
            .or(self.connections())
            .unwrap_or(match self.generator() {
                Generator::Oha => open_model_connections(rate),
                _ => open_model_vus(rate),
            })
    }
}

/// VUs pre-allocated for an open-model rate: enough for 100 ms latency at that rate, at least 10.
pub fn open_model_vus(rate: u32) -> u32 {
    (rate / 10).clamp(10, 1000)
}

/// oha's connections for an open-model rate: enough for 10 ms of latency per request at that rate
/// (Little's law; 20-50x what these rates see here), at least 10. oha opens them all as its window
/// starts, and every connection set up there is a request waiting: 300 at 3,000 req/s (the VU
/// pool's size) held the first requests up to 24 ms on native and doubled a 2 s window's p99; 30
/// kept it under 6 ms. A server slower than that still shows it: a request waiting for a free
/// connection counts from when it was due.
pub fn open_model_connections(rate: u32) -> u32 {
    (rate / 100).clamp(10, 1000)
}

/// One measurement: a point of the crossed dimensions.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cell {
    pub id: String,
    pub server: String,
    pub runtime: String,
    /// The release asked for by the entry's `versions`; `None`: the pinned one (or the override).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub mode: String,
    pub write: String,
    pub workload: String,
    pub load: LoadSpec,
}

impl Cell {
    /// "server/runtime[@version]/mode/write": cells with the same key run on one launched server.
    pub fn launch_key(&self) -> String {
        [&self.server, &self.runtime_key(), &self.mode, &self.write]
            .map(|s| s.as_str())
            .join("/")
    }

    /// "wasmtime" or, for a version an entry lists, "wasmtime@46.0.1": one binary.
    pub fn runtime_key(&self) -> String {
        runtime_key(&self.runtime, self.version.as_deref())
    }
}

pub fn runtime_key(runtime: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{runtime}@{v}"),
        None => runtime.to_string(),
    }
}

/// A parsed, validated matrix ready to run.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub settings: Settings,
    pub cells: Vec<Cell>,
    pub hosts: Vec<HostSpec>,
    pub links: Vec<LinkSpec>,
    /// The server definitions its cells name (built-in ones and those named by path).
    pub servers: ServerDefs,
    /// The page's title and what it answers, when the matrix file names them.
    pub title: Option<String>,
    pub about: Option<String>,
    /// Where this matrix's page is published, relative to the repository (`results/examples`).
    pub publish: Option<String>,
}

const WRITES: &[&str] = &["single", "vectored"];

impl Matrix {
    /// Reads a matrix file; `servers` are the built-in server definitions it may name.
    pub fn load(path: &Path, runtimes: &RuntimeDefs, servers: &ServerDefs) -> Result<Matrix> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read matrix file {}", path.display()))?;
        Matrix::parse(&text, path, runtimes, servers)
    }

    /// Parses and validates a matrix file; every error names the file and what would be valid.
    pub fn parse(
        text: &str,
        path: &Path,
        runtimes: &RuntimeDefs,
        builtin: &ServerDefs,
    ) -> Result<Matrix> {
        let mut file: MatrixFile = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!("{}: {}", path.display(), with_suggestion(&e.to_string()))
        })?;
        let here = |what: &str| format!("{}: {what}", path.display());
        let servers = resolve_servers(&mut file, path, builtin, &here)?;
        validate_settings(&file.settings).map_err(|e| anyhow::anyhow!("{}", here(&e)))?;
        super::hosts::validate_placement(
            &file.hosts,
            &file.settings.server_host,
            &file.settings.generator_hosts,
            &file.links,
        )
        .map_err(|e| anyhow::anyhow!("{}", here(&e)))?;
        if file.settings.generator_hosts.len() > 1 {
            if let Some(load) = file.loads.iter().find(|l| l.generator() != Generator::K6) {
                bail!(
                    "{}",
                    here(&format!(
                        "load {:?} uses {}, but settings.generator_hosts names {} hosts: only k6 splits one load \
                         among hosts (execution segments); give this matrix k6 loads only, or one generator host",
                        load.name,
                        load.generator().name(),
                        file.settings.generator_hosts.len()
                    ))
                );
            }
        }
        validate_names(&file, &servers, &here)?;
        validate_loads(&file, &here)?;
        file.loads = file
            .loads
            .iter()
            .flat_map(LoadSpec::expand)
            .flat_map(|l| l.cross_links(&file.links))
            .collect();
        // A share of a peak offers its requests over as many connections as the peak used.
        let peaks: Vec<(String, Option<u32>)> = file
            .loads
            .iter()
            .map(|l| (l.name.clone(), l.connections()))
            .collect();
        for load in file.loads.iter_mut().filter(|l| l.share.is_some()) {
            load.connections = peaks
                .iter()
                .find(|(name, _)| Some(name) == load.peak.as_ref())
                .and_then(|(_, c)| c.map(Counts::One));
        }
        let mut cells = Vec::new();
        for entry in &file.runtimes {
            validate_runtime(entry, &file, runtimes, &servers, &here)?;
            cells.extend(expand(entry, &file));
        }
        check_cells(&cells, &here)?;
        Ok(Matrix {
            settings: file.settings,
            cells,
            hosts: file.hosts,
            links: file.links,
            servers,
            title: file.title,
            about: file.about,
            publish: file.publish,
        })
    }
}

/// The built-in definitions plus every `server.toml` the matrix names by path (relative to the
/// matrix file); path entries are replaced by the server's name.
fn resolve_servers(
    file: &mut MatrixFile,
    path: &Path,
    builtin: &ServerDefs,
    here: &impl Fn(&str) -> String,
) -> Result<ServerDefs> {
    let mut servers = builtin.clone();
    let dir = path.parent().unwrap_or(Path::new("."));
    let named = |entry: &str| entry.contains('/') || entry.ends_with(".toml");
    let entries = file.servers.iter_mut().chain(
        file.runtimes
            .iter_mut()
            .flat_map(|r| r.servers.iter_mut().flatten()),
    );
    for entry in entries.filter(|e| named(e)) {
        let def = ServerDef::load(&dir.join(&*entry))
            .map_err(|e| anyhow::anyhow!("{}", here(&format!("servers: {e}"))))?;
        let name = def.name.clone();
        if servers
            .get(&name)
            .is_none_or(|known| known.file != def.file)
        {
            servers
                .add(def)
                .map_err(|e| anyhow::anyhow!("{}", here(&format!("servers: {e}"))))?;
        }
        *entry = name;
    }
    Ok(servers)
}

fn validate_settings(settings: &Settings) -> std::result::Result<(), String> {
    super::cpus::validate_pair(&settings.server_cpus, &settings.generator_cpus)?;
    if settings.duration.is_zero() {
        return Err("settings.duration is 0s: give the measured window, e.g. \"8s\"".into());
    }
    if settings.repeats == 0 {
        return Err("settings.repeats is 0: use 1 or more".into());
    }
    if !(settings.steal_limit_pct > 0.0 && settings.steal_limit_pct <= 100.0) {
        return Err(format!(
            "settings.steal_limit_pct is {}: give a share of CPU time above 0 and at most 100, e.g. 0.3",
            settings.steal_limit_pct
        ));
    }
    Ok(())
}

fn validate_names(
    file: &MatrixFile,
    servers: &ServerDefs,
    here: &impl Fn(&str) -> String,
) -> Result<()> {
    for server in &file.servers {
        check_name("servers", server, servers.names(), here)?;
    }
    // A workload must be one that some server of the matrix answers.
    let mut answered: Vec<&str> = Vec::new();
    for w in file.servers.iter().filter_map(|s| servers.get(s)).flat_map(|s| &s.requests) {
        if !answered.contains(&w.name.as_str()) {
            answered.push(&w.name);
        }
    }
    for workload in &file.workloads {
        check_name("workloads", workload, answered.iter().copied(), here)?;
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
        if let Some(peak) = &load.peak {
            let peaks = file.loads.iter().filter(|l| l.model == LoadModel::Peak);
            check_name(
                &format!("load {:?} peak", load.name),
                peak,
                peaks.map(|l| l.name.as_str()),
                here,
            )?;
        }
    }
    Ok(())
}

fn validate_runtime(
    entry: &RuntimeEntry,
    file: &MatrixFile,
    runtimes: &RuntimeDefs,
    servers: &ServerDefs,
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
    for server in entry.servers.iter().flatten() {
        check_name(
            &format!("runtime {:?} servers", entry.name),
            server,
            servers.names(),
            here,
        )?;
    }
    validate_versions(entry, def, here)?;
    let names: Vec<&str> = file
        .loads
        .iter()
        .map(|l| {
            let own = l
                .link
                .as_ref()
                .map_or(l.name.as_str(), |(_, own)| own.as_str());
            l.share.as_ref().map_or(own, |(_, family)| family.as_str())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for load in entry.loads.iter().flatten() {
        check_name(
            &format!("runtime {:?} loads", entry.name),
            load,
            names.iter().copied(),
            here,
        )?;
    }
    // A share of a peak needs that peak measured on the same server.
    let runs = |l: &LoadSpec| entry.loads.as_ref().is_none_or(|only| l.named_in(only));
    for load in file.loads.iter().filter(|l| l.share.is_some() && runs(l)) {
        let peak = load.peak.as_deref().unwrap_or_default();
        if !file.loads.iter().any(|l| l.name == peak && runs(l)) {
            bail!(
                "{}",
                here(&format!(
                    "runtime {:?}: load {:?} offers shares of {peak:?}, which this entry does not run: add it to its `loads`",
                    entry.name, load.name
                ))
            );
        }
    }
    Ok(())
}

fn validate_versions(
    entry: &RuntimeEntry,
    def: &super::RuntimeDef,
    here: &impl Fn(&str) -> String,
) -> Result<()> {
    let Some(versions) = &entry.versions else {
        return Ok(());
    };
    let place = format!("runtime {:?} versions", entry.name);
    if def.binary.is_none() {
        bail!(
            "{}",
            here(&format!(
                "{place}: {} is built from server/, it has no versions: remove `versions`",
                entry.name
            ))
        );
    }
    if versions.is_empty() {
        bail!(
            "{}",
            here(&format!(
                "{place} is empty: list releases, e.g. [\"{}\"], or remove it for the pinned one",
                def.pinned.as_deref().unwrap_or("1.0.0")
            ))
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for version in versions {
        super::versions::parse(version).map_err(|e| {
            let offered = def.installable();
            anyhow::anyhow!(
                "{}",
                here(&format!(
                    "{place}: {e}; installable: {}",
                    offered.join(", ")
                ))
            )
        })?;
        if !seen.insert(version) {
            bail!("{}", here(&format!("{place}: {version:?} is listed twice")));
        }
    }
    Ok(())
}

/// The cells of one `[[runtime]]` entry: servers x modes x writes x workloads x loads, leaving out
/// workloads a load does not take.
fn expand(entry: &RuntimeEntry, file: &MatrixFile) -> Vec<Cell> {
    let writes = entry.writes.as_ref().unwrap_or(&file.writes);
    let servers = entry.servers.as_ref().unwrap_or(&file.servers);
    let versions: Vec<Option<&String>> = match &entry.versions {
        Some(list) => list.iter().map(Some).collect(),
        None => vec![None],
    };
    let runs = |load: &LoadSpec, workload: &String| {
        load.workloads
            .as_ref()
            .is_none_or(|only| only.contains(workload))
            && entry.loads.as_ref().is_none_or(|only| load.named_in(only))
    };
    let mut cells = Vec::new();
    for version in versions {
        let runtime = runtime_key(&entry.name, version.map(String::as_str));
        for server in servers {
            for mode in &entry.modes {
                for write in writes {
                    for workload in &file.workloads {
                        for load in file.loads.iter().filter(|l| runs(l, workload)) {
                            cells.push(Cell {
                                id: [server, &runtime, mode, write, workload, &load.name]
                                    .map(|s| s.as_str())
                                    .join("/"),
                                server: server.clone(),
                                runtime: entry.name.clone(),
                                version: version.cloned(),
                                mode: mode.clone(),
                                write: write.clone(),
                                workload: workload.clone(),
                                load: load.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    cells
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

    fn server_defs() -> ServerDefs {
        ServerDefs::builtin(&crate::paths::repo_root().join("server")).unwrap()
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
        Matrix::parse(text, Path::new("m.toml"), &defs(), &server_defs())
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

    /// oha opens only the connections its rate needs; k6 keeps its larger VU pool; a count the
    /// load names wins.
    #[test]
    fn open_loads_size_their_connections_by_generator() {
        let m = parse(&GOOD.replace(
            "vus = 50",
            "vus = 50\n[[load]]\nname = \"open-oha\"\nmodel = \"open\"\ngenerator = \"oha\"\n\
             rate = 3000\n[[load]]\nname = \"open-k6\"\nmodel = \"open\"\nrate = 3000",
        ))
        .unwrap();
        let concurrency = |load: &str| {
            m.cells
                .iter()
                .find(|c| c.load.name == load)
                .map(|c| c.load.concurrency())
                .unwrap()
        };
        assert_eq!(concurrency("open-oha"), 30);
        assert_eq!(concurrency("open-k6"), 300);
        assert_eq!(concurrency("closed-50"), 50);
        assert_eq!(open_model_connections(100), 10);
        assert_eq!(open_model_connections(1_000_000), 1000);
    }

    #[test]
    fn the_repository_matrix_parses() {
        let root = crate::paths::repo_root();
        let m = Matrix::load(&root.join("matrix.toml"), &defs(), &server_defs()).unwrap();
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
        let err = parse(&GOOD.replace("[settings]", "[settings]\nsteal_limit_pct = 0.0"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("steal_limit_pct is 0") && err.contains("above 0"),
            "{err}"
        );
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
        assert_eq!(
            parse(&peak).unwrap().cells[0].load.generator().name(),
            "wrk"
        );
    }

    #[test]
    fn listed_versions_are_cells_of_their_own() {
        let text = GOOD.replace(
            "writes = [\"single\", \"vectored\"]",
            "versions = [\"49.0.3\", \"46.0.1\"]",
        );
        let m = parse(&text).unwrap();
        let ids: Vec<&str> = m
            .cells
            .iter()
            .filter(|c| c.runtime == "wasmtime")
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "rust/wasmtime@49.0.3/default/single/plaintext/closed-50",
                "rust/wasmtime@49.0.3/default/single/json/closed-50",
                "rust/wasmtime@46.0.1/default/single/plaintext/closed-50",
                "rust/wasmtime@46.0.1/default/single/json/closed-50",
            ]
        );
        let old = m.cells.iter().find(|c| c.id.contains("@46.0.1")).unwrap();
        assert_eq!(old.version.as_deref(), Some("46.0.1"));
        assert_eq!(old.runtime, "wasmtime");
        // Each release is its own server launch.
        assert_eq!(old.launch_key(), "rust/wasmtime@46.0.1/default/single");
        // Entries without `versions` keep their ids (comparisons with earlier runs still pair).
        assert!(m.cells.iter().any(|c| c.id
            == "rust/native/current-thread/single/plaintext/closed-50"
            && c.version.is_none()));
    }

    #[test]
    fn bad_versions_are_named_with_the_fix() {
        let with = |list: &str| {
            GOOD.replace(
                "writes = [\"single\", \"vectored\"]",
                &format!("versions = {list}"),
            )
        };
        let err = parse(&with("[\"46.0\"]")).unwrap_err().to_string();
        assert!(
            err.contains("m.toml")
                && err.contains("runtime \"wasmtime\" versions")
                && err.contains("like \"46.0.1\"")
                && err.contains("installable: ")
                && err.contains("46.0.1"),
            "{err}"
        );
        let err = parse(&with("[\"v46.0.1\"]")).unwrap_err().to_string();
        assert!(err.contains("without the v: \"46.0.1\""), "{err}");
        let err = parse(&with("[\"46.0.1\", \"46.0.1\"]"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"46.0.1\" is listed twice"), "{err}");
        let err = parse(&with("[]")).unwrap_err().to_string();
        assert!(err.contains("versions is empty"), "{err}");
        let native = GOOD.replace(
            "modes = [\"current-thread\"]",
            "modes = [\"current-thread\"]\nversions = [\"1.0.0\"]",
        );
        let err = parse(&native).unwrap_err().to_string();
        assert!(
            err.contains("native is built from server/, it has no versions"),
            "{err}"
        );
    }

    #[test]
    fn links_cross_every_load_and_placements_are_checked() {
        let hosts = "[[host]]\nname = \"server\"\nkind = \"netns\"\n[[host]]\nname = \"gen\"\nkind = \"netns\"\n";
        let linked =
            GOOD.replace(
                "[settings]",
                "links = [{ rtt = \"0ms\" }, { rtt = \"10ms\" }]\n[settings]",
            )
            .replace(
                "warmup = \"0s\"",
                "warmup = \"0s\"\nserver_host = \"server\"\ngenerator_hosts = [\"gen\"]",
            )
            .replace(
                "writes = [\"single\", \"vectored\"]",
                "writes = [\"single\", \"vectored\"]\nloads = [\"closed-50\"]",
            ) + hosts;
        let m = parse(&linked).unwrap();
        assert_eq!(m.cells.len(), 12, "each of 6 cells once per link");
        let ids: Vec<&str> = m.cells.iter().map(|c| c.id.as_str()).collect();
        assert!(
            ids.contains(&"rust/native/current-thread/single/plaintext/closed-50@rtt-10ms"),
            "{ids:?}"
        );
        let (link, own) = m.cells[1].load.link.as_ref().unwrap();
        assert_eq!(
            (link.label().as_str(), own.as_str()),
            ("rtt-10ms", "closed-50")
        );
        // Links without a namespace for the server: the error names the fix.
        let err = parse(&GOOD.replace("[settings]", "links = [{ rtt = \"1ms\" }]\n[settings]"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.toml") && err.contains("kind = \"netns\""),
            "{err}"
        );
        // Several generator hosts split k6 loads only.
        let two = linked.replace(
            "generator_hosts = [\"gen\"]",
            "generator_hosts = [\"gen\", \"local\"]",
        ) + "[[load]]\nname = \"peak-50\"\nmodel = \"peak\"\nconnections = 50\n";
        let err = parse(&two).unwrap_err().to_string();
        assert!(err.contains("only k6 splits"), "{err}");
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
