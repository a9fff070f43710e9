//! Records that several stages share and the results publish: a latency trend, an OCI image, the
//! hosts a run placed things on. Defined here, with the schema, so that the stages that make
//! them and the stages that read them both depend on the results, not on each other.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Latency percentiles of one window (or one k6 trend), in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Trend {
    pub avg: f64,
    pub min: f64,
    pub med: f64,
    pub max: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    /// Only where the generator reports it (oha).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p999: Option<f64>,
}

/// A written image and its sizes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Image {
    /// Name and tag it imports as, e.g. "docker.io/wasm-bench/rust-wasip2:3f2a9c1e0b7d".
    pub reference: String,
    #[serde(skip)]
    pub tarball: PathBuf,
    /// sha256 of the manifest: the image's identity.
    pub digest: String,
    pub platform: String,
    /// The image's entrypoint, e.g. "/server.wasm".
    pub entrypoint: String,
    /// The build itself (the one file in the image).
    #[serde(default)]
    pub build_bytes: u64,
    /// What a registry transfers: manifest, config and the gzipped layer.
    pub compressed_bytes: u64,
    /// What it unpacks to: the layer's tar, unzipped (about the build's own size).
    pub uncompressed_bytes: u64,
}

/// What the results say about the topology.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TopologyRecord {
    pub server_host: String,
    pub generator_hosts: Vec<String>,
    /// Each host: its kind and what it reported (kernel, the generator's version there).
    pub hosts: Vec<HostRecord>,
    /// The links measured, in matrix order ("rtt-10ms").
    pub links: Vec<String>,
    /// How the round trip is made: "nfqueue delayer" (this kernel has no netem).
    pub delay_mechanism: Option<String>,
    /// CPU seconds the delayer used over the run, and the CPUs it was pinned to.
    pub delayer_cpu_s: Option<f64>,
    pub delayer_cpus: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HostRecord {
    pub name: String,
    pub kind: String,
    pub kernel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    /// The generators found there, with the versions they reported.
    pub tools: std::collections::BTreeMap<String, String>,
}

/// A figure measured over rounds: its median, its 95% interval and its spread (made by
/// `analysis::stats`, `Estimate::of`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub median: f64,
    /// 95% interval (t interval of the geometric mean); equal to the median with one round.
    pub lo: f64,
    pub hi: f64,
    /// Coefficient of variation over rounds (fraction); 0 with one round.
    pub cv: f64,
    /// Rounds it comes from.
    pub n: usize,
}

/// How much a whole run shifts against another beyond what its rounds show: the standard
/// deviation, on logarithms, of a run's own offset (a random effect), and the degrees of freedom
/// of its estimate (made by `analysis::stats`). Rounds within one run share the machine's state of those minutes, so two runs
/// differ by more than their rounds' spread predicts; only repeated runs (the A/A self-test) can
/// measure by how much.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunNoise {
    pub sd: f64,
    pub df: f64,
}


/// How much whole runs shift against each other on this machine, per figure and load model,
/// and where that was measured. Every interval of a run that has one is widened by it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseTable {
    pub entries: Vec<NoiseEntry>,
    /// The runs (or self-test tries) it was measured over.
    pub runs: Vec<String>,
    /// In words: "measured over 5 stored runs of unchanged servers on this machine".
    pub source: String,
    /// Figures (cells x figures x run pairs) whose interval was checked against the next run's
    /// median, each with the noise estimated without that pair, and how many held it.
    #[serde(default)]
    pub coverage_checked: usize,
    #[serde(default)]
    pub coverage_inside: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseFigure {
    /// Raw req/s.
    Rps,
    /// req/s of a cell over its pair's (× native, × direct, × newest).
    Ratio,
    /// Raw CPU per request.
    Cpu,
    /// CPU per request over its pair's.
    CpuRatio,
    /// Percentiles of latency.
    Latency,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseEntry {
    pub figure: NoiseFigure,
    /// The load model it was measured for (`None`: pooled over every model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<crate::config::LoadModel>,
    pub noise: RunNoise,
    /// Cells x run pairs it comes from.
    pub pairs: usize,
}

impl NoiseTable {
    /// The noise of `figure` under `model`: its own entry, else the figure's pooled one.
    pub fn get(&self, figure: NoiseFigure, model: crate::config::LoadModel) -> Option<RunNoise> {
        let find = |m: Option<crate::config::LoadModel>| {
            self.entries
                .iter()
                .find(|e| e.figure == figure && e.model == m)
                .map(|e| e.noise)
        };
        find(Some(model)).or_else(|| find(None))
    }
}
