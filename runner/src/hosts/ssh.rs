//! ssh hosts: a namespace the runner made, with an sshd the runner starts inside it (its own host
//! key, client key, config and port), reached through OpenSSH exactly as a remote host would be.
//! Remote commands are argument lists quoted word by word for the remote shell (ssh always hands
//! the remote side one string), never a string built from matrix values unquoted.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::netns::{exec_argv, Network};
use crate::sys::{self, Managed};

const PORT: u16 = 22;

/// What runs a remote command and then reports its CPU: the shell waits for the command, so its
/// own /proc stat holds the command's CPU (cutime, cstime) afterwards. A constant script: the
/// command's words reach it as positional arguments.
const REPORT_CPU: &str =
    "\"$@\"; s=$?; read -r stat < /proc/$$/stat; echo \"wasm-bench-remote-cpu: $stat\" >&2; exit $s";

/// The marker of the line `REPORT_CPU` writes.
pub const CPU_LINE: &str = "wasm-bench-remote-cpu: ";

/// The CPU seconds (user + system) of a remote command, from the line `REPORT_CPU` wrote into
/// `log` (the last one: a log holds one command's output).
pub fn remote_cpu_seconds(log: &str) -> Option<f64> {
    let line = log.lines().rev().find_map(|l| l.strip_prefix(CPU_LINE))?;
    let rest = &line[line.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = crate::sys::procfs::clock_ticks_per_second();
    let cutime: f64 = fields.get(13)?.parse().ok()?;
    let cstime: f64 = fields.get(14)?.parse().ok()?;
    Some((cutime + cstime) / ticks)
}

/// How to reach one ssh host.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub destination: String,
    pub port: u16,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
}

impl Target {
    /// `ssh ... destination -- <quoted words>`: `argv` with `env` and, where `cpus` is given,
    /// pinned by the remote host's own taskset.
    pub fn remote_argv(
        &self,
        argv: &[String],
        env: &[(String, String)],
        cpus: &str,
    ) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        let env: Vec<String> = env
            .iter()
            .cloned()
            .chain(sys::process::run_marker_env())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !env.is_empty() {
            words.push("env".into());
            words.extend(env);
        }
        words.extend(["sh".into(), "-c".into(), REPORT_CPU.into(), "sh".into()]);
        if !cpus.is_empty() {
            words.extend(["taskset".into(), "-c".into(), cpus.to_string()]);
        }
        words.extend(argv.iter().cloned());
        let mut out = self.ssh_argv();
        out.push("--".into());
        out.push(shell_words::join(&words));
        out
    }

    fn ssh_argv(&self) -> Vec<String> {
        vec![
            "ssh".into(),
            "-p".into(),
            self.port.to_string(),
            "-i".into(),
            self.key.display().to_string(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
            self.destination.clone(),
        ]
    }
}

/// Starts an sshd inside `host`'s namespace (listening on its management address) and returns
/// how to reach it, once it answers.
pub fn start_in(net: &Network, host: &str, cpus: &str, work: &Path) -> Result<(Target, Managed)> {
    let sshd = sys::process::find_on_path("sshd")
        .or_else(|| Some(PathBuf::from("/usr/sbin/sshd")).filter(|p| p.exists()))
        .context("sshd is not installed (Debian: openssh-server), needed for ssh hosts")?;
    let address = net
        .ssh_address(host)
        .with_context(|| format!("host {host:?} has no management address"))?
        .to_string();
    let dir = work.join(format!("ssh-{host}"));
    std::fs::create_dir_all(&dir)?;
    let host_key = dir.join("host_ed25519");
    let client_key = dir.join("client_ed25519");
    for key in [&host_key, &client_key] {
        if !key.exists() {
            keygen(key)?;
        }
    }
    let authorized = dir.join("authorized_keys");
    std::fs::copy(client_key.with_extension("pub"), &authorized)?;
    let host_pub = std::fs::read_to_string(host_key.with_extension("pub"))?;
    let known_hosts = dir.join("known_hosts");
    // OpenSSH looks a host on the default port up by its bare name, on others as [name]:port.
    std::fs::write(
        &known_hosts,
        format!("{address},[{address}]:{PORT} {host_pub}"),
    )?;
    let config = dir.join("sshd_config");
    std::fs::write(&config, sshd_config(&address, &host_key, &authorized))?;
    // Privilege separation wants its empty directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let argv = exec_argv(
        net.namespace_of(host),
        &[
            sshd.display().to_string(),
            "-D".into(),
            "-e".into(),
            "-f".into(),
            config.display().to_string(),
        ],
    );
    let mut daemon = sys::spawn_pinned(cpus, &argv, &[], &dir.join("sshd.log"))?;
    let target = Target {
        destination: format!("root@{address}"),
        port: PORT,
        key: client_key,
        known_hosts,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if daemon.exited_keep_zombie() {
            bail!("sshd in host {host:?} exited: {}", daemon.log_tail(5));
        }
        let probe = target.remote_argv(&["true".into()], &[], "");
        let tried = sys::process::checked_output(&probe);
        let Err(refused) = tried else {
            return Ok((target, daemon));
        };
        if Instant::now() > deadline {
            daemon.stop();
            bail!(
                "sshd in host {host:?} did not accept the runner's key within 10 s: ssh said {refused:#}; sshd said {}",
                daemon.log_tail(5)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn keygen(path: &Path) -> Result<()> {
    let mut argv: Vec<String> = [
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        "wasm-bench",
        "-f",
    ]
    .map(String::from)
    .to_vec();
    argv.push(path.display().to_string());
    sys::process::checked_output(&argv)
        .map(drop)
        .context("ssh-keygen (Debian: openssh-client)")
}

/// An sshd that takes this run's key only, for root, on one address.
pub fn sshd_config(address: &str, host_key: &Path, authorized: &Path) -> String {
    format!(
        "Port {PORT}\nListenAddress {address}\nHostKey {}\nAuthorizedKeysFile {}\nPermitRootLogin prohibit-password\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n\
         PrintMotd no\nAcceptEnv none\nX11Forwarding no\nAllowTcpForwarding no\n",
        host_key.display(),
        authorized.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn remote_commands_are_quoted_word_by_word() {
        let t = Target {
            destination: "root@10.214.1.2".into(),
            port: 22,
            key: "/k".into(),
            known_hosts: "/kh".into(),
        };
        let argv = t.remote_argv(
            &[
                "k6".into(),
                "run".into(),
                "-e".into(),
                "URL=http://x/a b;rm -rf /".into(),
            ],
            &[("K6_NO_USAGE_REPORT".into(), "true".into())],
            "1",
        );
        assert_eq!(argv[0], "ssh");
        let sep = argv.iter().position(|a| a == "--").unwrap();
        assert_eq!(argv[sep - 1], "root@10.214.1.2");
        let remote = &argv[sep + 1];
        assert_eq!(argv.len(), sep + 2, "one remote string");
        // The remote shell splits it back into exactly these words.
        let words = shell_words::split(remote).unwrap();
        assert_eq!(words[0], "env");
        assert!(words.contains(&"K6_NO_USAGE_REPORT=true".to_string()));
        let at = words.iter().position(|w| w == "taskset").unwrap();
        assert_eq!(&words[at..at + 3], ["taskset", "-c", "1"]);
        assert_eq!(words.last().unwrap(), "URL=http://x/a b;rm -rf /");
        assert!(argv.contains(&"StrictHostKeyChecking=yes".to_string()));
        // The command runs under the constant CPU-reporting script, its words as arguments.
        let sh = words.iter().position(|w| w == "sh").unwrap();
        assert_eq!(words[sh + 1], "-c");
        assert_eq!(words[sh + 2], REPORT_CPU);
    }

    #[test]
    fn the_remote_commands_cpu_comes_from_its_shells_stat() {
        let hz = crate::sys::procfs::clock_ticks_per_second();
        // pid (comm) state ppid ... utime stime cutime cstime: the shell's own 1+1, its child's 250+50.
        let stat =
            "4242 (sh) S 1 4242 4242 0 -1 4194304 100 200 0 0 1 1 250 50 20 0 1 0 100 1000 10";
        let log = format!("k6 output\n{CPU_LINE}{stat}\n");
        let cpu = remote_cpu_seconds(&log).unwrap();
        assert!((cpu - 300.0 / hz).abs() < 1e-9, "{cpu}");
        assert_eq!(remote_cpu_seconds("no line"), None);
    }

    #[test]
    fn the_cpu_script_runs_the_command_and_reports_it() {
        // The real shell: the command's exit status survives, and the line parses.
        let out = Command::new("sh")
            .args([
                "-c",
                REPORT_CPU,
                "sh",
                "sh",
                "-c",
                "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(remote_cpu_seconds(&stderr).is_some(), "{stderr}");
    }

    #[test]
    fn sshd_takes_this_runs_key_only() {
        let c = sshd_config("10.214.1.2", Path::new("/h"), Path::new("/a"));
        assert!(c.contains("ListenAddress 10.214.1.2\n"));
        assert!(c.contains("PasswordAuthentication no"));
        assert!(c.contains("AuthorizedKeysFile /a"));
    }
}
