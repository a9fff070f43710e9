//! JSON: an array of metric rows (`MetricRow`'s fields).

use super::MetricRow;

pub fn write(rows: &[MetricRow]) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(rows)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_of_rows() {
        let run = super::super::fixture();
        let rows = super::super::rows(&run, &crate::analysis::analyze(&run));
        let v: serde_json::Value = serde_json::from_str(&write(&rows).unwrap()).unwrap();
        let array = v.as_array().unwrap();
        assert_eq!(array.len(), rows.len());
        assert!(array[0]["value"].is_f64() && array[0]["metric"].is_string());
    }
}
