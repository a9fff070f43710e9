//! Network namespaces and veth pairs the runner makes with `ip`, NFQUEUE rules with `iptables`,
//! rate limits with `tc`: all inside namespaces this run created, so removing them removes every
//! rule, qdisc and veth with them. Names carry the runner's pid so runs never share them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::SERVER_IP;
use crate::config::LinkSpec;
use crate::sys::{self, Managed};

/// The prefix of every namespace this runner makes (`wb<pid>-...`), for cleanup and tests.
pub fn prefix() -> String {
    format!("wb{}-", std::process::id())
}

/// A veth end of this run: `wb<pid mod 100000><role><index>` (interface names are at most 15
/// characters); role s (server side), g (far side), m and n (an ssh host's management pair).
fn veth_name(role: char, index: usize) -> String {
    format!("wb{}{role}{index}", std::process::id() % 100_000)
}

/// Is `name` one of this run's veth ends (exactly, so pid 214's run never matches 21408's)?
fn is_our_veth(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(&format!("wb{}", std::process::id() % 100_000)) else {
        return false;
    };
    let mut chars = rest.chars();
    matches!(chars.next(), Some('s' | 'g' | 'm' | 'n'))
        && !chars.as_str().is_empty()
        && chars.as_str().chars().all(|c| c.is_ascii_digit())
}

/// `ip netns exec <ns> argv...`: `ip` enters the namespace and execs argv (same pid).
pub fn exec_argv(ns: &str, argv: &[String]) -> Vec<String> {
    let mut out = vec!["ip".into(), "netns".into(), "exec".into(), ns.into()];
    out.extend(argv.iter().cloned());
    out
}

/// One veth pair from the server's namespace to a place it is reached from.
#[derive(Debug, Clone)]
struct Veth {
    /// The end inside the server's namespace.
    server_end: String,
    /// The other end, and the namespace it is in (`None`: this machine's own network).
    far_end: String,
    far_ns: Option<String>,
    /// Links (delay, rate) apply to it: it carries a generator's load.
    loaded: bool,
}

/// The namespaces and veths of one run.
pub struct Network {
    server_ns: String,
    /// Generator host name -> its namespace.
    generator_ns: Vec<(String, String)>,
    veths: Vec<Veth>,
    /// Management veths from this machine's network to ssh hosts' namespaces (not loaded).
    ssh_addrs: Vec<(String, String)>,
    control: PathBuf,
    /// The kernel has sch_netem: links are netem qdiscs, no NFQUEUE rules or delayer.
    netem: bool,
    removed: bool,
}

/// The qdisc a link puts on one end of a veth (tc's arguments after `tc`), or `None` for none.
/// With netem: half the round trip as its delay (and the rate); without: tbf for a rate only (the
/// delay comes from the delayer).
pub fn link_qdisc(dev: &str, link: Option<&LinkSpec>, netem: bool) -> Option<Vec<String>> {
    let link = link?;
    let mut args: Vec<String> = ["qdisc", "add", "dev", dev, "root"]
        .map(String::from)
        .to_vec();
    if netem {
        args.extend([
            "netem".into(),
            "delay".into(),
            format!("{}us", link.rtt.as_micros() / 2),
        ]);
        if let Some(rate) = &link.rate {
            args.extend(["rate".into(), rate.clone()]);
        }
        return Some(args);
    }
    let rate = link.rate.as_ref()?;
    args.extend(["tbf", "rate", rate, "burst", "64kb", "latency", "100ms"].map(String::from));
    Some(args)
}

fn ip(args: &[&str]) -> Result<()> {
    run("ip", args)
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    let argv: Vec<String> = std::iter::once(program)
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    sys::process::checked_output(&argv).map(drop)
}

fn in_ns(ns: &str, program: &str, args: &[&str]) -> Result<()> {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    ip(&all)
}

/// Why namespaces cannot be made here, or `None` when they can.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("network namespaces need root (ip netns add)".into());
    }
    for tool in ["ip", "iptables", "tc"] {
        if sys::process::find_on_path(tool).is_none() {
            return Some(format!(
                "{tool} is not installed (Debian: iproute2, iptables)"
            ));
        }
    }
    let probe = format!("{}probe", prefix());
    let made = ip(&["netns", "add", &probe]);
    let _ = ip(&["netns", "del", &probe]);
    made.err()
        .map(|e| format!("this machine refuses network namespaces: {e:#}"))
}

impl Network {
    /// The server's namespace and one per generator host (`(name, is_ssh)`), each joined to the
    /// server's by a veth; one more veth from this machine's own network for probes and local
    /// generators.
    pub fn create(
        generators: &[(String, bool)],
        local_generates: bool,
        work: &Path,
    ) -> Result<Network> {
        if let Some(why) = unavailable() {
            bail!("{why}");
        }
        std::fs::create_dir_all(work)?;
        let p = prefix();
        let mut net = Network {
            server_ns: format!("{p}server"),
            generator_ns: Vec::new(),
            veths: Vec::new(),
            ssh_addrs: Vec::new(),
            control: work.join("delay-us"),
            netem: false,
            removed: false,
        };
        // Everything made so far is removed if a later step fails (drop).
        ip(&["netns", "add", &net.server_ns])?;
        in_ns(&net.server_ns, "ip", &["link", "set", "lo", "up"])?;
        in_ns(
            &net.server_ns,
            "ip",
            &["addr", "add", &format!("{SERVER_IP}/32"), "dev", "lo"],
        )?;
        net.add_veth(0, None, local_generates)?;
        for (i, (name, is_ssh)) in generators.iter().enumerate() {
            let ns = format!("{p}{name}");
            ip(&["netns", "add", &ns])?;
            in_ns(&ns, "ip", &["link", "set", "lo", "up"])?;
            net.generator_ns.push((name.clone(), ns.clone()));
            net.add_veth(i + 1, Some(ns.clone()), true)?;
            if *is_ssh {
                net.add_management(i + 1, &ns, name)?;
            }
        }
        Ok(net)
    }

    /// Veth `index`: 10.213.<index+1>.1 in the server's namespace, .2 at the far end, which
    /// routes the server address through it.
    fn add_veth(&mut self, index: usize, far_ns: Option<String>, loaded: bool) -> Result<()> {
        let (a, b) = (veth_name('s', index), veth_name('g', index));
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b])?;
        ip(&["link", "set", &a, "netns", &self.server_ns])?;
        let veth = Veth {
            server_end: a.clone(),
            far_end: b.clone(),
            far_ns: far_ns.clone(),
            loaded,
        };
        self.veths.push(veth);
        let subnet = index + 1;
        in_ns(
            &self.server_ns,
            "ip",
            &["addr", "add", &format!("10.213.{subnet}.1/24"), "dev", &a],
        )?;
        in_ns(&self.server_ns, "ip", &["link", "set", &a, "up"])?;
        let far = |args: &[&str]| match &far_ns {
            Some(ns) => in_ns(ns, "ip", args),
            None => ip(args),
        };
        if let Some(ns) = &far_ns {
            ip(&["link", "set", &b, "netns", ns])?;
        }
        far(&["addr", "add", &format!("10.213.{subnet}.2/24"), "dev", &b])?;
        far(&["link", "set", &b, "up"])?;
        far(&[
            "route",
            "add",
            &format!("{SERVER_IP}/32"),
            "via",
            &format!("10.213.{subnet}.1"),
        ])?;
        Ok(())
    }

    /// A veth from this machine's network to an ssh host's namespace, for the ssh session only:
    /// 10.214.<index>.1 here, .2 there (where its sshd listens).
    fn add_management(&mut self, index: usize, ns: &str, name: &str) -> Result<()> {
        let (a, b) = (veth_name('m', index), veth_name('n', index));
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b])?;
        ip(&["link", "set", &b, "netns", ns])?;
        ip(&["addr", "add", &format!("10.214.{index}.1/24"), "dev", &a])?;
        ip(&["link", "set", &a, "up"])?;
        in_ns(
            ns,
            "ip",
            &["addr", "add", &format!("10.214.{index}.2/24"), "dev", &b],
        )?;
        in_ns(ns, "ip", &["link", "set", &b, "up"])?;
        self.ssh_addrs
            .push((name.to_string(), format!("10.214.{index}.2")));
        Ok(())
    }

    pub fn server_ns(&self) -> &str {
        &self.server_ns
    }

    pub fn namespace_of(&self, host: &str) -> &str {
        self.generator_ns
            .iter()
            .find(|(name, _)| name == host)
            .map(|(_, ns)| ns.as_str())
            .unwrap_or(&self.server_ns)
    }

    /// The address an ssh host's sshd listens on (its management veth).
    pub fn ssh_address(&self, host: &str) -> Option<&str> {
        self.ssh_addrs
            .iter()
            .find(|(name, _)| name == host)
            .map(|(_, a)| a.as_str())
    }

    /// Does this kernel have netem? Tried on a loaded veth; where it does, links use it.
    pub fn probe_netem(&mut self) -> bool {
        let Some(v) = self.veths.iter().find(|v| v.loaded) else {
            return false;
        };
        let dev = v.server_end.clone();
        let tried = in_ns(
            &self.server_ns,
            "tc",
            &["qdisc", "add", "dev", &dev, "root", "netem", "delay", "0ms"],
        );
        let _ = in_ns(
            &self.server_ns,
            "tc",
            &["qdisc", "del", "dev", &dev, "root"],
        );
        self.netem = tried.is_ok();
        self.netem
    }

    /// NFQUEUE rules on the loaded veths (both ways) and the delayer that serves them, pinned to
    /// `cpus`, holding packets as the control file says (nothing until a link is set).
    pub fn start_delayer(&mut self, cpus: &str) -> Result<Managed> {
        std::fs::write(&self.control, "0")?;
        for v in self.veths.iter().filter(|v| v.loaded) {
            for (chain, dir) in [("INPUT", "-i"), ("OUTPUT", "-o")] {
                in_ns(
                    &self.server_ns,
                    "iptables",
                    &[
                        "-A",
                        chain,
                        dir,
                        &v.server_end,
                        "-j",
                        "NFQUEUE",
                        "--queue-num",
                        "0",
                    ],
                )?;
            }
        }
        let exe = std::env::current_exe().context("cannot find the runner's own binary")?;
        let argv = exec_argv(
            &self.server_ns,
            &[
                exe.display().to_string(),
                "delay".into(),
                "--queue".into(),
                "0".into(),
                "--control".into(),
                self.control.display().to_string(),
            ],
        );
        let log = self.control.with_file_name("delayer.log");
        let delayer = sys::spawn_pinned(cpus, &argv, &[], &log)?;
        std::thread::sleep(std::time::Duration::from_millis(200));
        if delayer.exited_keep_zombie() {
            bail!("the link delayer exited at once: {}", delayer.log_tail(5));
        }
        Ok(delayer)
    }

    /// Holds each packet for half of `link`'s RTT (each way) and sets its rate on both ends of
    /// every loaded veth; `None` takes both away.
    pub fn set_link(&self, link: Option<&LinkSpec>) -> Result<()> {
        if !self.netem {
            let half_us = link.map_or(0, |l| l.rtt.as_micros() / 2);
            std::fs::write(&self.control, half_us.to_string())?;
        }
        for v in self.veths.iter().filter(|v| v.loaded) {
            let ends = [
                (Some(self.server_ns.as_str()), v.server_end.as_str()),
                (v.far_ns.as_deref(), v.far_end.as_str()),
            ];
            for (ns, dev) in ends {
                let tc = |args: &[&str]| match ns {
                    Some(ns) => in_ns(ns, "tc", args),
                    None => run("tc", args),
                };
                let _ = tc(&["qdisc", "del", "dev", dev, "root"]);
                if let Some(args) = link_qdisc(dev, link, self.netem) {
                    tc(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
                }
            }
        }
        // The delayer re-reads its control file every 20 ms.
        std::thread::sleep(std::time::Duration::from_millis(60));
        Ok(())
    }

    /// Registers the removal of this run's namespaces for Ctrl-C.
    pub fn keep_on_interrupt(&self) {
        sys::process::on_interrupt(Box::new(remove_namespaces_of_this_run));
    }

    /// Kills what runs inside the namespaces, then removes them (and with them every veth, rule
    /// and qdisc); the local ends of veths go with their peers.
    pub fn remove(mut self) {
        self.removed = true;
        remove_namespaces_of_this_run();
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if !self.removed {
            remove_namespaces_of_this_run();
        }
    }
}

/// Every namespace whose name has this runner's prefix: processes killed, namespace removed.
pub fn remove_namespaces_of_this_run() {
    // The veth ends left in this machine's own network go first, each taking its peer with it: a
    // removed namespace can linger unnamed in the kernel, and its veths' routes with it (seen here:
    // the next run's `ip route add` then failed with "File exists").
    for link in root_links().into_iter().filter(|l| is_our_veth(l)) {
        let _ = ip(&["link", "del", &link]);
    }
    let p = prefix();
    for ns in list_namespaces().into_iter().filter(|n| n.starts_with(&p)) {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    // SAFETY: kill(2) on a process inside a namespace this run made.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = ip(&["netns", "del", &ns]);
    }
    let _ = std::fs::remove_dir_all(super::work_dir());
}

/// Interface names in this machine's own network namespace.
pub fn root_links() -> Vec<String> {
    Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split(": ").nth(1))
                .map(|name| name.split('@').next().unwrap_or(name).to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `ip netns list`, names only.
pub fn list_namespaces() -> Vec<String> {
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_become_netem_where_the_kernel_has_it_and_tbf_for_rates_otherwise() {
        let link = |rate: Option<&str>| LinkSpec {
            rtt: std::time::Duration::from_millis(10),
            rate: rate.map(String::from),
        };
        assert_eq!(
            link_qdisc("v", Some(&link(Some("100mbit"))), true)
                .unwrap()
                .join(" "),
            "qdisc add dev v root netem delay 5000us rate 100mbit"
        );
        assert_eq!(
            link_qdisc("v", Some(&link(Some("100mbit"))), false)
                .unwrap()
                .join(" "),
            "qdisc add dev v root tbf rate 100mbit burst 64kb latency 100ms"
        );
        // Without netem the delay is the delayer's: no qdisc without a rate.
        assert_eq!(link_qdisc("v", Some(&link(None)), false), None);
        assert_eq!(link_qdisc("v", None, true), None);
        assert!(prefix().starts_with("wb"));
        let mine = veth_name('g', 0);
        assert!(is_our_veth(&mine) && is_our_veth(&veth_name('m', 12)));
        assert!(
            !is_our_veth(&format!("{mine}x"))
                && !is_our_veth(&format!("{mine}7").replacen("wb", "wb9", 1))
        );
        assert!(!is_our_veth("eth0") && !is_our_veth(&mine[..mine.len() - 1]));
    }
}
