//! The Bencher Metric Format: `{ "<benchmark>": { "<measure>": { "value": n, "lower_value": n,
//! "upper_value": n } } }`, one benchmark per cell, one measure per metric; the bounds are the
//! 95% interval where there is one (https://bencher.dev/docs/reference/bencher-metric-format/).

use std::collections::BTreeMap;

use serde::Serialize;

use super::MetricRow;

#[derive(Debug, Serialize)]
struct Measure {
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lower_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upper_value: Option<f64>,
}

pub fn write(rows: &[MetricRow]) -> anyhow::Result<String> {
    let mut benchmarks: BTreeMap<&str, BTreeMap<String, Measure>> = BTreeMap::new();
    for row in rows {
        benchmarks.entry(&row.cell).or_default().insert(
            // Measure slugs: lower case, dashes.
            row.metric.replace('_', "-"),
            Measure {
                value: row.value,
                lower_value: row.lower,
                upper_value: row.upper,
            },
        );
    }
    Ok(serde_json::to_string_pretty(&benchmarks)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape Bencher documents: benchmark names map to measures, each with a numeric
    /// `value` and optional numeric `lower_value` / `upper_value`, and nothing else.
    #[test]
    fn the_documented_shape() {
        let run = super::super::fixture();
        let rows = super::super::rows(&run, &crate::analysis::analyze(&run));
        let v: serde_json::Value = serde_json::from_str(&write(&rows).unwrap()).unwrap();
        let benchmarks = v.as_object().unwrap();
        assert!(!benchmarks.is_empty());
        for (name, measures) in benchmarks {
            assert!(!name.is_empty());
            for (slug, m) in measures.as_object().unwrap() {
                assert!(
                    slug.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{slug}"
                );
                let m = m.as_object().unwrap();
                assert!(m["value"].is_number(), "{name}/{slug}");
                for key in m.keys() {
                    assert!(
                        ["value", "lower_value", "upper_value"].contains(&key.as_str()),
                        "{key}"
                    );
                }
                if let (Some(lo), Some(hi)) = (m.get("lower_value"), m.get("upper_value")) {
                    let (lo, hi, v) = (
                        lo.as_f64().unwrap(),
                        hi.as_f64().unwrap(),
                        m["value"].as_f64().unwrap(),
                    );
                    assert!(lo <= v && v <= hi, "{name}/{slug}: {lo} {v} {hi}");
                }
            }
        }
        let first = benchmarks.values().next().unwrap();
        assert!(first.get("rps").is_some() && first.get("cpu-us-per-request").is_some());
    }
}
