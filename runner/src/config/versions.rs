//! Runtime versions: how they are written (matrix `versions = ["46.0.1"]`, runtimes/*.toml `pinned`),
//! compared with what a binary reports, named in environment overrides, and matched against the
//! version range a mode states (`versions = "<47"`).

use semver::{Version, VersionReq};

/// A version as a matrix or definition writes it: three numbers, e.g. "46.0.1" or "0.17.1".
pub fn parse(text: &str) -> Result<Version, String> {
    let trimmed = text.trim();
    if let Some(bare) = trimmed
        .strip_prefix('v')
        .filter(|b| Version::parse(b).is_ok())
    {
        return Err(format!(
            "version {text:?}: write it without the v: {bare:?}"
        ));
    }
    Version::parse(trimmed)
        .map_err(|e| format!("version {text:?} is not a release number like \"46.0.1\" ({e})"))
}

/// The release a binary reports, read leniently: "49.0.3", "debian/4.1.0", "1.27" (as 1.27.0),
/// "0.17.1-rc.2". `None` when there are no numbers to read.
pub fn reported(text: &str) -> Option<Version> {
    let re = regex::Regex::new(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?").ok()?;
    let caps = re.captures(text)?;
    let part = |i: usize| caps.get(i).map_or(Ok(0), |m| m.as_str().parse::<u64>());
    let mut version = Version::new(part(1).ok()?, part(2).ok()?, part(3).ok()?);
    if let Some(pre) = caps.get(4) {
        version.pre = semver::Prerelease::new(&pre.as_str()[1..]).ok()?;
    }
    Some(version)
}

/// Whether a binary that reports `found` is the release `wanted` (build suffixes such as
/// "49.0.3.post1" on a wheel or a commit hash after the number do not matter).
pub fn is_release(found: &str, wanted: &str) -> bool {
    match (reported(found), parse(wanted)) {
        (Some(f), Ok(w)) => f == w,
        _ => found.trim() == wanted.trim(),
    }
}

/// The environment variable that names one version's binary: WASMTIME + 46.0.1 -> WASMTIME_46_0_1.
pub fn env_var(base: &str, version: &str) -> String {
    let suffix: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{base}_{suffix}")
}

/// A mode's version range, e.g. "<47" or ">=36, <47", checked when the definitions load.
pub fn parse_range(text: &str) -> Result<VersionReq, String> {
    VersionReq::parse(text)
        .map_err(|e| format!("version range {text:?} is not like \"<47\" or \">=36, <47\" ({e})"))
}

/// Whether a release (as a binary reports it) lies in a range. Unreadable versions are let through:
/// the cell then runs and its recorded version says what it was.
pub fn in_range(range: &str, found: &str) -> bool {
    match (parse_range(range), reported(found)) {
        (Ok(req), Some(version)) => req.matches(&version),
        _ => true,
    }
}

/// Sorts release numbers newest first (unparsable ones last, as written).
pub fn newest_first(versions: &mut [String]) {
    versions.sort_by(|a, b| match (parse(a), parse(b)) {
        (Ok(a), Ok(b)) => b.cmp(&a),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_versions_are_three_numbers() {
        assert_eq!(parse("46.0.1").unwrap(), Version::new(46, 0, 1));
        assert_eq!(parse(" 0.17.1 ").unwrap(), Version::new(0, 17, 1));
        let err = parse("v46.0.1").unwrap_err();
        assert!(
            err.contains("without the v") && err.contains("\"46.0.1\""),
            "{err}"
        );
        assert!(parse("v1").unwrap_err().contains("like \"46.0.1\""));
        let err = parse("46.0").unwrap_err();
        assert!(err.contains("like \"46.0.1\""), "{err}");
        assert!(parse("latest").is_err());
    }

    #[test]
    fn reported_versions_are_read_leniently() {
        assert_eq!(reported("49.0.3"), Some(Version::new(49, 0, 3)));
        assert_eq!(reported("debian/4.1.0"), Some(Version::new(4, 1, 0)));
        assert_eq!(reported("1.27"), Some(Version::new(1, 27, 0)));
        assert_eq!(reported("0.17.1-rc.2").unwrap().pre.as_str(), "rc.2");
        assert_eq!(reported("unknown"), None);
        assert!(is_release("49.0.3.post1", "49.0.3"));
        assert!(is_release("36.0.9", "36.0.9"));
        assert!(!is_release("49.0.3", "49.0.4"));
        assert!(!is_release("46.0.1", "46.0.10"));
    }

    #[test]
    fn environment_overrides_name_the_version() {
        assert_eq!(env_var("WASMTIME", "46.0.1"), "WASMTIME_46_0_1");
        assert_eq!(env_var("WASMEDGE", "0.17.1-rc.2"), "WASMEDGE_0_17_1_RC_2");
    }

    #[test]
    fn mode_ranges_select_versions() {
        assert!(in_range("<47", "46.0.1"));
        assert!(in_range("<47", "36.0.9"));
        assert!(!in_range("<47", "47.0.0"));
        assert!(!in_range("<47", "49.0.4"));
        assert!(in_range(">=36, <47", "36.0.9"));
        assert!(!in_range(">=37, <47", "36.0.9"));
        // A version the binary did not tell is not a reason to skip.
        assert!(in_range("<47", "unknown"));
        assert!(parse_range("before 47").is_err());
    }

    #[test]
    fn versions_sort_newest_first() {
        let mut v: Vec<String> = ["36.0.9", "49.0.4", "46.0.1", "x"]
            .map(String::from)
            .to_vec();
        newest_first(&mut v);
        assert_eq!(v, ["49.0.4", "46.0.1", "36.0.9", "x"]);
    }
}
