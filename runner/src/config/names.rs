//! Names in input files: a wrong one is an error that lists the valid ones and the nearest.

use anyhow::{bail, Result};

/// Fails with "`field`: unknown `value` (valid: ...); did you mean ...?" unless `value` is valid.
pub fn check_name<'a>(
    field: &str,
    value: &str,
    valid: impl Iterator<Item = &'a str> + Clone,
    here: &impl Fn(&str) -> String,
) -> Result<()> {
    if valid.clone().any(|v| v == value) {
        return Ok(());
    }
    let list: Vec<&str> = valid.clone().collect();
    let hint = nearest(value, valid)
        .map(|n| format!("; did you mean {n:?}?"))
        .unwrap_or_default();
    bail!(
        "{}",
        here(&format!(
            "{field}: unknown {value:?} (valid: {}){hint}",
            list.join(", ")
        ))
    )
}

/// The closest valid name, when it is close enough to be a likely typo.
pub fn nearest<'a>(value: &str, valid: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    valid
        .map(|v| (strsim::levenshtein(value, v), v))
        .filter(|(d, v)| *d <= 2.max(v.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

/// Adds "did you mean" to serde's unknown-field errors, which list the expected keys.
pub fn with_suggestion(message: &str) -> String {
    let re = regex::Regex::new(r"unknown field `([^`]+)`, expected (?:one of )?(.+)")
        .expect("static regex");
    let Some(caps) = re.captures(message) else {
        return message.to_string();
    };
    let expected: Vec<&str> = caps[2]
        .split(", ")
        .map(|s| {
            s.trim_matches(|c| c == '`' || c == ' ' || c == '\n')
                .trim_start_matches("or ")
                .trim_matches('`')
        })
        .collect();
    match nearest(&caps[1], expected.iter().copied()) {
        Some(n) => format!("{}\n  hint: did you mean `{n}`?", message.trim_end()),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_name_and_strangers_none() {
        let valid = ["default", "pooling", "precompiled"];
        assert_eq!(nearest("defualt", valid.iter().copied()), Some("default"));
        assert_eq!(nearest("jit", valid.iter().copied()), None);
        let message = "unknown field `durration`, expected one of `duration`, `warmup`";
        assert!(with_suggestion(message).ends_with("did you mean `duration`?"));
    }
}
