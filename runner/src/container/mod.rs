//! Servers run as containers, the way the origin README deployed them: this run's own containerd
//! (own config, root, state dir and socket, never a system daemon), the build's image imported
//! into it, and one task per launch with host networking through a shim (runc for native images,
//! a wasm shim for wasm images), stopped and removed afterwards, also on Ctrl-C.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::build::image::Image;
use crate::sys::{self, Managed};

/// The containerd namespace every task of this runner lives in.
pub const NAMESPACE: &str = "wasm-bench";

/// A containerd this run started, stopped (with everything it started) when dropped.
pub struct Containerd {
    dir: PathBuf,
    daemon: Option<Managed>,
    pub ctr: Ctr,
    pub version: String,
}

/// How to talk to this run's containerd: `ctr --address <socket> -n wasm-bench ...`. Cheap to
/// clone, so a launched task can stop itself.
#[derive(Debug, Clone)]
pub struct Ctr {
    bin: PathBuf,
    socket: PathBuf,
    imported: Arc<Mutex<BTreeSet<String>>>,
}

impl Containerd {
    /// Starts `containerd` pinned to `cpus` (shims and containers it starts inherit that), with its
    /// root, state and socket in a fresh directory and `shims` (binary name, path) first on its
    /// PATH. `logs` gets its log.
    pub fn start(
        containerd: &Path,
        shims: &[(String, PathBuf)],
        cpus: &str,
        logs: &Path,
    ) -> Result<Containerd> {
        // unix socket paths are limited to 108 bytes: keep the directory short.
        let dir =
            std::env::temp_dir().join(format!("wasm-bench-containerd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let bin_dir = dir.join("bin");
        std::fs::create_dir_all(&bin_dir)?;
        for (name, path) in shims {
            std::os::unix::fs::symlink(path, bin_dir.join(name))
                .with_context(|| format!("cannot link {name} into {}", bin_dir.display()))?;
        }
        let socket = dir.join("containerd.sock");
        let config = dir.join("config.toml");
        std::fs::write(&config, config_toml(&dir, &socket))?;
        let ctr_bin = containerd
            .parent()
            .map(|d| d.join("ctr"))
            .filter(|p| sys::process::is_executable(p))
            .or_else(|| sys::process::find_on_path("ctr"))
            .context("containerd's client `ctr` is not installed beside containerd")?;
        let path = std::env::join_paths(
            [bin_dir.clone()]
                .into_iter()
                .chain(containerd.parent().map(Path::to_path_buf))
                .chain(std::env::split_paths(
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                )),
        )?;
        register_cleanup(&dir, &socket);
        let argv = vec![
            containerd.display().to_string(),
            "--config".into(),
            config.display().to_string(),
        ];
        let env = [("PATH".to_string(), path.to_string_lossy().to_string())];
        let log = logs.join("containerd.log");
        let daemon = sys::spawn_pinned(cpus, &argv, &env, &log)?;
        let ctr = Ctr {
            bin: ctr_bin,
            socket,
            imported: Arc::default(),
        };
        let mut started = Containerd {
            dir,
            daemon: Some(daemon),
            ctr,
            version: String::new(),
        };
        started.version = started.wait_serving(&log)?;
        Ok(started)
    }

    /// Waits until the daemon answers (`ctr version`), returning its version.
    fn wait_serving(&mut self, log: &Path) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(daemon) = self.daemon.as_mut() {
                if let Some(status) = daemon.exited() {
                    bail!(
                        "containerd exited ({status}) before serving: {}",
                        sys::log_tail(log, 5)
                    );
                }
            }
            if let Ok(out) = self.ctr.command(&["version"]).output() {
                if out.status.success() {
                    let text = String::from_utf8_lossy(&out.stdout).to_string();
                    return Ok(server_version(&text).unwrap_or_else(|| "unknown".into()));
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "containerd did not serve within 20 s: {}",
                    sys::log_tail(log, 5)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks first (politely, then the rest by force), then the daemon, then what a killed
        // shim may have left mounted.
        for id in self.ctr.task_ids() {
            self.ctr.remove(&id);
        }
        if let Some(mut daemon) = self.daemon.take() {
            daemon.stop();
        }
        clean_up(&self.dir, &self.ctr.socket);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Ctr {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .arg("--address")
            .arg(&self.socket)
            .args(["-n", NAMESPACE])
            .args(args)
            .stdin(std::process::Stdio::null());
        command
    }

    /// Imports an image once per run.
    pub fn import(&self, image: &Image) -> Result<()> {
        let mut imported = self.imported.lock().expect("import registry");
        if imported.contains(&image.reference) {
            return Ok(());
        }
        let out = self
            .command(&[
                "images",
                "import",
                "--all-platforms",
                "--snapshotter",
                "native",
            ])
            .arg(&image.tarball)
            .output()
            .context("cannot run ctr images import")?;
        if !out.status.success() {
            bail!(
                "ctr images import {} failed: {}",
                image.tarball.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        imported.insert(image.reference.clone());
        Ok(())
    }

    /// The argv that runs `image` as container `id` in the foreground (its output is the
    /// container's), with host networking, through `runtime`, as `command` (entrypoint first).
    pub fn run_argv(
        &self,
        image: &Image,
        id: &str,
        runtime: &str,
        env: &[(String, String)],
        command: &[String],
    ) -> Vec<String> {
        let mut argv: Vec<String> = vec![
            self.bin.display().to_string(),
            "--address".into(),
            self.socket.display().to_string(),
            "-n".into(),
            NAMESPACE.into(),
            "run".into(),
            "--rm".into(),
            "--net-host".into(),
            "--snapshotter".into(),
            "native".into(),
            "--runtime".into(),
            runtime.into(),
            "--platform".into(),
            image.platform.clone(),
        ];
        for (key, value) in env {
            argv.extend(["--env".into(), format!("{key}={value}")]);
        }
        argv.extend([image.reference.clone(), id.into()]);
        argv.extend(command.iter().cloned());
        argv
    }

    /// Host pid of a task's init process.
    pub fn task_pid(&self, id: &str) -> Option<i32> {
        let out = self.command(&["tasks", "ls"]).output().ok()?;
        parse_task_pid(&String::from_utf8_lossy(&out.stdout), id)
    }

    fn task_ids(&self) -> Vec<String> {
        let out = self.command(&["containers", "ls", "-q"]).output();
        out.map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
    }

    /// Kills a task (SIGKILL: the server is PID 1 of its namespace and may ignore SIGTERM) and
    /// removes it and its container, whatever state they are in.
    pub fn remove(&self, id: &str) {
        let _ = self
            .command(&["tasks", "kill", "-s", "SIGKILL", id])
            .output();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.task_pid(id).is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.command(&["tasks", "delete", "-f", id]).output();
        let _ = self.command(&["containers", "delete", id]).output();
    }
}

/// A running task: killed and removed when dropped.
pub struct Task {
    pub ctr: Ctr,
    pub id: String,
    /// The shim serving it (the parent of its init process); the task's processes are its
    /// descendants, so measuring this tree measures the shim and the container.
    pub shim_pid: Option<i32>,
}

impl Drop for Task {
    fn drop(&mut self) {
        self.ctr.remove(&self.id);
    }
}

/// The parent of a process, from /proc/<pid>/stat.
pub fn parent_pid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn config_toml(dir: &Path, socket: &Path) -> String {
    format!(
        r#"# Written by the benchmark runner for one run; removed with it.
version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
"#,
        root = dir.join("root").display(),
        state = dir.join("state").display(),
        socket = socket.display(),
    )
}

/// The server's version in `ctr version` output.
fn server_version(text: &str) -> Option<String> {
    let server = text.split("Server:").nth(1)?;
    let line = server
        .lines()
        .find(|l| l.trim_start().starts_with("Version:"))?;
    let version = line.split_whitespace().nth(1)?;
    crate::config::versions::reported(version).map(|v| v.to_string())
}

fn parse_task_pid(listing: &str, id: &str) -> Option<i32> {
    listing.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        (fields.next() == Some(id))
            .then(|| fields.next()?.parse().ok())
            .flatten()
    })
}

/// Registers this containerd's leftovers with the interrupt handler: shims (found by the socket
/// on their command line, with the containers under them) and mounts under `dir`.
fn register_cleanup(dir: &Path, socket: &Path) {
    let (dir, socket) = (dir.to_path_buf(), socket.to_path_buf());
    sys::process::on_interrupt(Box::new(move || clean_up(&dir, &socket)));
}

/// Kills every process whose command line names `socket` (the shims), children first, and
/// unmounts what is left mounted under `dir`.
fn clean_up(dir: &Path, socket: &Path) {
    let needle = socket.display().to_string();
    for pid in sys::procfs::pids_with_cmdline(&needle) {
        for child in sys::procfs::process_tree(pid).into_iter().rev() {
            // SAFETY: kill(2) on processes this run's containerd started.
            unsafe { libc::kill(child, libc::SIGKILL) };
        }
    }
    for mount in sys::procfs::mounts_under(dir).into_iter().rev() {
        if let Ok(path) = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes()) {
            // SAFETY: a lazy unmount of a path this run's containerd mounted.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctr_output_is_read() {
        let version = "Client:\n  Version:  1.6.20~ds1\n  Revision: x\n\nServer:\n  Version:  1.6.20~ds1\n  Revision: 1.6.20~ds1-1+deb12u3\n";
        assert_eq!(server_version(version).as_deref(), Some("1.6.20"));
        let tasks =
            "TASK    PID      STATUS    \nL01-r1    30476    RUNNING\nL02-r1  511 STOPPED\n";
        assert_eq!(parse_task_pid(tasks, "L01-r1"), Some(30476));
        assert_eq!(parse_task_pid(tasks, "L03-r1"), None);
        assert_eq!(
            parent_pid(std::process::id() as i32),
            Some(std::os::unix::process::parent_id() as i32)
        );
    }

    #[test]
    fn the_config_keeps_everything_in_the_run_directory() {
        let dir = Path::new("/tmp/wasm-bench-containerd-1");
        let text = config_toml(dir, &dir.join("containerd.sock"));
        let value: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(
            value["root"].as_str(),
            Some("/tmp/wasm-bench-containerd-1/root")
        );
        assert_eq!(
            value["state"].as_str(),
            Some("/tmp/wasm-bench-containerd-1/state")
        );
        assert_eq!(
            value["grpc"]["address"].as_str(),
            Some("/tmp/wasm-bench-containerd-1/containerd.sock")
        );
        assert!(value["disabled_plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str() == Some("io.containerd.grpc.v1.cri")));
    }
}
