//! CSV: one row per cell and metric, a header naming the columns.

use super::MetricRow;

pub fn write(rows: &[MetricRow]) -> anyhow::Result<String> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.serialize(row)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_and_a_row_per_figure() {
        let run = super::super::fixture();
        let rows = super::super::rows(&run, &crate::analysis::analyze(&run));
        let text = write(&rows).unwrap();
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(
            header,
            [
                "run_id", "cell", "server", "runtime", "mode", "write", "workload", "load",
                "metric", "unit", "value", "lower", "upper", "rounds"
            ]
        );
        let records: Vec<_> = r.records().map(|r| r.unwrap()).collect();
        assert_eq!(records.len(), rows.len());
        let value: f64 = records[0][10].parse().unwrap();
        assert_eq!(value, rows[0].value);
    }
}
