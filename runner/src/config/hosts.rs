//! `[[host]]`, `links` and the placement settings: where the server and the generators run and
//! what lies between them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[[host]]`: a place to run a server or a generator. `local` (this machine's own network) is
/// always there and need not be listed.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: String,
    pub kind: HostKind,
    /// CPUs on that host for what runs there (taskset list; default: the role's `*_cpus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum HostKind {
    /// This machine, its own network (loopback).
    Local,
    /// A network namespace the runner creates on this machine, joined to the server's by a veth
    /// pair, and removes after the run.
    Netns,
    /// A namespace the runner creates, with an sshd the runner starts inside it (its own config
    /// and keys): every command reaches it through OpenSSH, as on a remote host.
    Ssh,
}

impl HostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::Local => "local",
            HostKind::Netns => "netns",
            HostKind::Ssh => "ssh",
        }
    }
}

/// One entry of `links`: what the link between server and generators adds.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Round-trip time added (half each way), e.g. "10ms".
    #[serde(with = "super::duration")]
    pub rtt: Duration,
    /// A rate limit each way, tc's syntax (e.g. "100mbit"); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
}

impl LinkSpec {
    /// "rtt-10ms" or "rtt-10ms-100mbit": the suffix of the load names under this link.
    pub fn label(&self) -> String {
        let rtt = humantime::format_duration(self.rtt)
            .to_string()
            .replace(' ', "");
        let rtt = if self.rtt.is_zero() {
            "0ms".into()
        } else {
            rtt
        };
        match &self.rate {
            Some(rate) => format!("rtt-{rtt}-{rate}"),
            None => format!("rtt-{rtt}"),
        }
    }

    /// The rate as tc reads it, checked: digits and a unit among tc's.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(rate) = &self.rate {
            let digits = rate.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let unit = &rate[digits.len()..];
            let units = ["bit", "kbit", "mbit", "gbit", "bps", "kbps", "mbps", "gbps"];
            if digits.parse::<u64>().map_or(true, |n| n == 0) || !units.contains(&unit) {
                return Err(format!(
                    "links: rate {rate:?} is not a rate: write e.g. \"100mbit\" (units: {})",
                    units.join(", ")
                ));
            }
        }
        if self.rtt > Duration::from_secs(1) {
            return Err(format!(
                "links: rtt {:?} is over 1s: give a round-trip time such as \"10ms\"",
                self.rtt
            ));
        }
        Ok(())
    }
}

/// Where the server and generators go, checked against the hosts listed.
pub fn validate_placement(
    hosts: &[HostSpec],
    server_host: &str,
    generator_hosts: &[String],
    links: &[LinkSpec],
) -> Result<(), String> {
    let names = host_names(hosts)?;
    let kind = |name: &str| -> Result<HostKind, String> {
        if name == "local" {
            return Ok(HostKind::Local);
        }
        hosts
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.kind)
            .ok_or_else(|| {
                format!(
                    "settings names host {name:?}, which no [[host]] defines (hosts: {})",
                    names.join(", ")
                )
            })
    };
    let server = kind(server_host)?;
    if server == HostKind::Ssh {
        return Err(format!(
            "settings.server_host = {server_host:?} is an ssh host: the server's CPU, threads and memory are read \
             from this machine's /proc, so put the server on \"local\" or a netns host (ssh hosts carry generators)"
        ));
    }
    if generator_hosts.is_empty() {
        return Err(
            "settings.generator_hosts is empty: name at least one host, e.g. [\"local\"]".into(),
        );
    }
    let mut seen = Vec::new();
    for name in generator_hosts {
        kind(name)?;
        if seen.contains(&name) || (name == server_host && name != "local") {
            return Err(format!(
                "settings.generator_hosts: {name:?} is listed twice or is the server's host: each generator host is \
                 its own place, apart from the server's"
            ));
        }
        seen.push(name);
    }
    let elsewhere = generator_hosts.iter().any(|g| g != "local");
    // Generators elsewhere and links need the server in a namespace of the runner's.
    if server != HostKind::Netns && (elsewhere || !links.is_empty()) {
        return Err(format!(
            "settings.server_host = {server_host:?}: generators on other hosts and `links` need the server in a \
             network namespace the runner makes (servers listen on loopback or inside those): add \
             [[host]] name = \"server\", kind = \"netns\" and set server_host = \"server\""
        ));
    }
    for link in links {
        link.validate()?;
    }
    Ok(())
}

/// The hosts' names ("local" first), each checked: unique, letters, digits and '-', CPUs valid.
fn host_names(hosts: &[HostSpec]) -> Result<Vec<&str>, String> {
    let mut names = vec!["local"];
    for host in hosts {
        if names.contains(&host.name.as_str()) {
            return Err(format!(
                "[[host]] name {:?} is used twice (\"local\" is built in): give each host its own name",
                host.name
            ));
        }
        if !host
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(format!(
                "[[host]] name {:?}: use letters, digits and '-' only",
                host.name
            ));
        }
        if let Some(cpus) = &host.cpus {
            super::cpus::parse_cpu_list(cpus)
                .map_err(|e| format!("[[host]] {:?} cpus: {e}", host.name))?;
        }
        names.push(&host.name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, kind: HostKind) -> HostSpec {
        HostSpec {
            name: name.into(),
            kind,
            cpus: None,
        }
    }

    #[test]
    fn links_are_labelled_and_checked() {
        let link = |rtt: u64, rate: Option<&str>| LinkSpec {
            rtt: Duration::from_millis(rtt),
            rate: rate.map(String::from),
        };
        assert_eq!(link(0, None).label(), "rtt-0ms");
        assert_eq!(link(10, Some("100mbit")).label(), "rtt-10ms-100mbit");
        assert!(link(1, Some("fast"))
            .validate()
            .unwrap_err()
            .contains("100mbit"));
        assert!(link(2000, None).validate().unwrap_err().contains("over 1s"));
    }

    #[test]
    fn placements_name_the_fix() {
        let hosts = [
            host("server", HostKind::Netns),
            host("gen", HostKind::Netns),
            host("far", HostKind::Ssh),
        ];
        let gens = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(validate_placement(&hosts, "server", &gens(&["gen", "far"]), &[]).is_ok());
        assert!(validate_placement(&[], "local", &gens(&["local"]), &[]).is_ok());
        let e = validate_placement(&hosts, "local", &gens(&["gen"]), &[]).unwrap_err();
        assert!(e.contains("kind = \"netns\""), "{e}");
        let e = validate_placement(&hosts, "far", &gens(&["gen"]), &[]).unwrap_err();
        assert!(e.contains("/proc"), "{e}");
        let e = validate_placement(&hosts, "server", &gens(&["nowhere"]), &[]).unwrap_err();
        assert!(e.contains("no [[host]] defines"), "{e}");
        let e = validate_placement(&hosts, "server", &gens(&["server"]), &[]).unwrap_err();
        assert!(e.contains("server's host"), "{e}");
        let twice = [host("gen", HostKind::Netns), host("gen", HostKind::Ssh)];
        assert!(validate_placement(&twice, "local", &gens(&["local"]), &[])
            .unwrap_err()
            .contains("twice"));
    }
}
