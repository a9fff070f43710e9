//! CPU lists in taskset's syntax ("0", "0-2", "0,3"): where the server and the generator run.

/// Parses taskset's list syntax ("0", "0-2", "0,3") into CPU numbers.
pub fn parse_cpu_list(text: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in text.split(',').map(str::trim) {
        let bad = || format!("{text:?} is not a CPU list (write \"0\", \"0-1\" or \"0,2\")");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(cpus)
}

/// How many CPUs a list names (1 when it does not parse: lists are validated at load time).
pub fn cpu_count(text: &str) -> usize {
    parse_cpu_list(text).map(|c| c.len()).unwrap_or(1)
}

/// Checks that both lists parse, exist on this machine and do not overlap.
pub fn validate_pair(server: &str, generator: &str) -> Result<(), String> {
    let server_cpus = parse_cpu_list(server).map_err(|e| format!("settings.server_cpus: {e}"))?;
    let generator_cpus =
        parse_cpu_list(generator).map_err(|e| format!("settings.generator_cpus: {e}"))?;
    let online = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    for (name, cpus) in [
        ("server_cpus", &server_cpus),
        ("generator_cpus", &generator_cpus),
    ] {
        if let Some(cpu) = cpus.iter().find(|&&c| c >= online) {
            return Err(format!(
                "settings.{name}: CPU {cpu} does not exist here (CPUs 0-{})",
                online - 1
            ));
        }
    }
    if let Some(shared) = server_cpus.iter().find(|c| generator_cpus.contains(c)) {
        return Err(format!("settings.server_cpus and generator_cpus share CPU {shared}: give them disjoint sets so the generator does not steal the server's CPU"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
        assert_eq!(parse_cpu_list("0-2,5").unwrap(), vec![0, 1, 2, 5]);
        assert!(parse_cpu_list("2-1").is_err());
        assert_eq!(cpu_count("0-1"), 2);
        assert!(validate_pair("0", "0").unwrap_err().contains("share CPU 0"));
    }
}
