//! Hosts: where the server and the generators run (this machine's own network, network namespaces
//! the runner makes, ssh to an sshd the runner starts in one), the links between them, and what a
//! link adds (an RTT through `delay`, a rate through tc's tbf).
//!
//! The server's namespace holds the server address (10.213.0.1 on its loopback) and one veth per
//! place it is reached from: this machine's own network (the runner's probes, and the generator
//! when it is `local`) and each generator namespace. Links apply to the generators' veths only.

pub mod delay;
mod netns;
mod ssh;

pub use crate::results::records::{HostRecord, TopologyRecord};
pub use ssh::remote_cpu_seconds;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};

use crate::config::{HostKind, HostSpec, LinkSpec, Settings};
use crate::sys::{self, Managed};

/// The server's address inside its namespace.
pub const SERVER_IP: &str = "10.213.0.1";

/// Where one process runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Local,
    Netns { ns: String },
    Ssh(ssh::Target),
}

impl Place {
    /// The argv that runs `argv` (pinned to `cpus` where it runs) with `env` at this place.
    /// Local processes get their environment and pinning from `spawn_pinned` directly.
    pub fn wrap(&self, argv: &[String], env: &[(String, String)], cpus: &str) -> Vec<String> {
        match self {
            Place::Local => argv.to_vec(),
            Place::Netns { ns } => netns::exec_argv(ns, argv),
            Place::Ssh(target) => target.remote_argv(argv, env, cpus),
        }
    }

    pub fn kind(&self) -> HostKind {
        match self {
            Place::Local => HostKind::Local,
            Place::Netns { .. } => HostKind::Netns,
            Place::Ssh(_) => HostKind::Ssh,
        }
    }
}

/// A generator's place and the CPUs it is pinned to there.
#[derive(Debug, Clone)]
pub struct GeneratorPlace {
    pub host: String,
    pub place: Place,
    pub cpus: String,
}

/// The places of one run, made by `Topology::build` and removed on drop (and on Ctrl-C).
pub struct Topology {
    pub server: Place,
    pub generators: Vec<GeneratorPlace>,
    /// The address generators and probes reach the server at.
    pub server_ip: String,
    net: Option<netns::Network>,
    delayer: Option<Managed>,
    sshds: Vec<Managed>,
    applied: Mutex<Option<LinkSpec>>,
    record: TopologyRecord,
}

impl Topology {
    /// Everything on this machine's own network: no namespaces, nothing to set up.
    pub fn local(settings: &Settings) -> Topology {
        Topology {
            server: Place::Local,
            generators: vec![GeneratorPlace {
                host: "local".into(),
                place: Place::Local,
                cpus: settings.generator_cpus.clone(),
            }],
            server_ip: "127.0.0.1".into(),
            net: None,
            delayer: None,
            sshds: Vec::new(),
            applied: Mutex::new(None),
            record: TopologyRecord {
                server_host: "local".into(),
                generator_hosts: vec!["local".into()],
                ..Default::default()
            },
        }
    }

    pub fn is_local(&self) -> bool {
        self.net.is_none()
    }

    /// Makes the namespaces, veths, sshds and the delayer the settings' placement needs (nothing
    /// when everything is local).
    pub fn build(
        settings: &Settings,
        hosts: &[HostSpec],
        links: &[LinkSpec],
        work: &Path,
    ) -> Result<Topology> {
        if settings.server_host == "local" && settings.generator_hosts == ["local"] {
            return Ok(Topology::local(settings));
        }
        let spec = |name: &str| hosts.iter().find(|h| h.name == name);
        let generator_ns: Vec<(String, bool)> = settings
            .generator_hosts
            .iter()
            .filter(|g| *g != "local")
            .map(|g| (g.clone(), spec(g).is_some_and(|h| h.kind == HostKind::Ssh)))
            .collect();
        let local_generates = settings.generator_hosts.iter().any(|g| g == "local");
        let mut net = netns::Network::create(&generator_ns, local_generates, work)?;
        let mut sshds = Vec::new();
        let mut generators = Vec::new();
        for name in &settings.generator_hosts {
            let cpus = spec(name)
                .and_then(|h| h.cpus.clone())
                .unwrap_or_else(|| settings.generator_cpus.clone());
            let place = match spec(name).map(|h| h.kind) {
                None | Some(HostKind::Local) => Place::Local,
                Some(HostKind::Netns) => Place::Netns {
                    ns: net.namespace_of(name).to_string(),
                },
                Some(HostKind::Ssh) => {
                    let (target, sshd) = ssh::start_in(&net, name, &cpus, work)?;
                    sshds.push(sshd);
                    Place::Ssh(target)
                }
            };
            generators.push(GeneratorPlace {
                host: name.clone(),
                place,
                cpus,
            });
        }
        // netem where the kernel has it; otherwise NFQUEUE and the runner's delayer.
        let netem = !links.is_empty() && net.probe_netem();
        let delayer = if links.is_empty() || netem {
            None
        } else {
            let delayer_cpus = settings.generator_cpus.clone();
            Some(net.start_delayer(&delayer_cpus)?)
        };
        let record = TopologyRecord {
            server_host: settings.server_host.clone(),
            generator_hosts: settings.generator_hosts.clone(),
            hosts: Vec::new(),
            links: links.iter().map(LinkSpec::label).collect(),
            delay_mechanism: if netem {
                Some("tc netem".into())
            } else {
                delayer
                    .as_ref()
                    .map(|_| "iptables NFQUEUE + userspace delayer (matrix delay)".into())
            },
            delayer_cpu_s: None,
            delayer_cpus: delayer.as_ref().map(|_| settings.generator_cpus.clone()),
        };
        net.keep_on_interrupt();
        Ok(Topology {
            server: Place::Netns {
                ns: net.server_ns().to_string(),
            },
            generators,
            server_ip: SERVER_IP.into(),
            net: Some(net),
            delayer,
            sshds,
            applied: Mutex::new(None),
            record,
        })
    }

    /// Sets the link the next window runs over (nothing when it is already set).
    pub fn apply(&self, link: Option<&LinkSpec>) -> Result<()> {
        let mut applied = self.applied.lock().expect("link");
        if applied.as_ref() == link {
            return Ok(());
        }
        let Some(net) = &self.net else {
            anyhow::ensure!(link.is_none(), "links need the server in a netns host");
            return Ok(());
        };
        net.set_link(link)?;
        *applied = link.cloned();
        Ok(())
    }

    /// Asks each generator host for its kernel and the generator's version there: a host whose
    /// generator differs from this machine's is an error naming both.
    pub fn check_generators(
        &mut self,
        generator: &Path,
        local_version: Option<&str>,
    ) -> Result<()> {
        let name = generator
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        for g in &self.generators {
            let kernel = run_at(&g.place, &["uname".into(), "-r".into()])
                .ok()
                .map(|s| s.trim().to_string());
            let cpu_model = run_at(
                &g.place,
                &[
                    "grep".into(),
                    "-m1".into(),
                    "model name".into(),
                    "/proc/cpuinfo".into(),
                ],
            )
            .ok()
            .and_then(|l| l.split_once(':').map(|(_, m)| m.trim().to_string()));
            // Each generator's own way of printing its version (wrk -v exits 1 after it).
            let printed: Vec<String> = ["version", "--version", "-v"]
                .iter()
                .filter_map(|arg| {
                    printed_at(&g.place, &[generator.display().to_string(), (*arg).into()]).ok()
                })
                .collect();
            let line = |text: &String| {
                text.lines()
                    .find(|l| local_version.is_none_or(|v| l.contains(v)))
                    .map(|l| l.trim().to_string())
            };
            let version = printed
                .iter()
                .find_map(line)
                .or_else(|| {
                    printed
                        .iter()
                        .find_map(|t| t.lines().next().map(|l| l.trim().to_string()))
                })
                .filter(|v| !v.is_empty())
                .with_context(|| {
                    format!("host {:?}: cannot run {}", g.host, generator.display())
                })?;
            if let Some(local) = local_version {
                anyhow::ensure!(
                    version.contains(local),
                    "host {:?}: {name} reports {version:?}, this machine's is {local}: install the same version there",
                    g.host
                );
            }
            let mut tools = std::collections::BTreeMap::new();
            tools.insert(name.clone(), version);
            self.record.hosts.push(HostRecord {
                name: g.host.clone(),
                kind: g.place.kind().as_str().into(),
                kernel,
                cpu_model,
                tools,
            });
        }
        Ok(())
    }

    /// What the results record about this topology (the delayer's CPU so far included).
    pub fn record(&self) -> TopologyRecord {
        let mut record = self.record.clone();
        if let Some(d) = &self.delayer {
            record.delayer_cpu_s = Some(sys::procfs::tree_cpu_seconds(d.pid));
        }
        record
    }

    /// Removes everything `build` made. Also runs on drop.
    pub fn teardown(&mut self) {
        if let Some(mut d) = self.delayer.take() {
            d.stop();
        }
        for mut sshd in self.sshds.drain(..) {
            sshd.stop();
        }
        if let Some(net) = self.net.take() {
            net.remove();
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Runs a short command at `place` and returns its stdout.
fn run_at(place: &Place, argv: &[String]) -> Result<String> {
    sys::process::checked_output(&place.wrap(argv, &[], ""))
}

/// What `argv` printed at `place` (stdout, then stderr), whatever its exit status.
fn printed_at(place: &Place, argv: &[String]) -> Result<String> {
    sys::process::printed_output(&place.wrap(argv, &[], ""))
}

/// This run's directory for host state (ssh keys, sshd configs, the delayer's control file):
/// outside results/, so no key is ever published; removed with the namespaces.
pub fn work_dir() -> PathBuf {
    std::env::temp_dir().join(format!("wasm-bench-hosts-{}", std::process::id()))
}
