//! How figures are written on the page, and the `Figure` that carries a number with its text.

use serde::{Serialize, Serializer};

/// What the page shows where nothing was measured.
pub const DASH: &str = "–";

/// A measured number, its 95% interval when it has one, and how the page writes them. Templates
/// see the text; charts and comparisons use the numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub value: Option<f64>,
    pub interval: Option<(f64, f64)>,
    pub text: String,
}

impl Figure {
    /// `value` written with `format`, or a dash when it was not measured.
    pub fn new(value: Option<f64>, format: impl Fn(f64) -> String) -> Figure {
        Figure {
            value,
            interval: None,
            text: value.map(format).unwrap_or_else(|| DASH.to_string()),
        }
    }

    /// An estimate over rounds: "median (lo–hi)" with the interval written by `bound`, or the
    /// median alone when it comes from one round.
    pub fn estimate(
        e: Option<&crate::analysis::stats::Estimate>,
        format: impl Fn(f64) -> String,
        bound: impl Fn(f64) -> String,
    ) -> Figure {
        match e {
            Some(e) if e.n >= 2 => Figure {
                value: Some(e.median),
                interval: Some((e.lo, e.hi)),
                text: format!("{} ({}–{})", format(e.median), bound(e.lo), bound(e.hi)),
            },
            Some(e) => Figure::new(Some(e.median), format),
            None => Figure::new(None, format),
        }
    }
}

impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// "wasmtime 49.0.3", or the version alone where it names the runtime already ("containerd
/// 1.6.20 · runc 1.1.5"); the runtime alone without a version.
pub fn with_version(runtime: &str, version: &str) -> String {
    if version.is_empty() {
        runtime.to_string()
    } else if version.starts_with(runtime) {
        version.to_string()
    } else {
        format!("{runtime} {version}")
    }
}

/// Rounded, with thousands separators: 19,680.
pub fn thousands(value: f64) -> String {
    let whole = value.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with the precision their size deserves.
pub fn millis(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

/// File sizes: KB below a megabyte, MB with two decimals above.
pub fn bytes(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.2} MB", n as f64 / 1024.0 / 1024.0)
    } else {
        format!("{:.0} KB", n as f64 / 1024.0)
    }
}

/// Memory given in MB: "3.3 MB".
pub fn megabytes(mb: f64) -> String {
    format!("{mb:.1} MB")
}

/// Microseconds: "7.8 µs".
pub fn micros(us: f64) -> String {
    format!("{us:.1} µs")
}

/// A ratio: "0.38×".
pub fn times(ratio: f64) -> String {
    format!("{ratio:.2}×")
}

/// Compact thousands for interval bounds: "45.1k", "1.13M", "950".
pub fn compact(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.1}k", value / 1e3)
    } else if value >= 1e3 {
        format!("{:.2}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// A ratio's bound: two decimals, without the sign.
pub fn plain2(value: f64) -> String {
    format!("{value:.2}")
}

/// A bound in one decimal.
pub fn plain1(value: f64) -> String {
    format!("{value:.1}")
}

/// Chart axis ticks: separators for thousands, one decimal below ten.
pub fn axis_number(v: f64) -> String {
    if v >= 1000.0 {
        thousands(v)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_that_names_its_runtime_is_not_prefixed_again() {
        assert_eq!(with_version("wasmtime", "49.0.3"), "wasmtime 49.0.3");
        assert_eq!(
            with_version("containerd", "containerd 1.6.20 · runc 1.1.5"),
            "containerd 1.6.20 · runc 1.1.5"
        );
        assert_eq!(with_version("wasmer", ""), "wasmer");
    }

    #[test]
    fn formats() {
        assert_eq!(thousands(19680.47), "19,680");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(millis(43.98), "43.98 ms");
        assert_eq!(millis(0.0351), "0.035 ms");
        assert_eq!(bytes(2_894_069), "2.76 MB");
        assert_eq!(axis_number(2.5), "2.5");
        assert_eq!(Figure::new(None, thousands).text, DASH);
        assert_eq!(compact(45_123.0), "45.1k");
        assert_eq!(compact(1_130_000.0), "1.13M");
        let e = crate::analysis::stats::Estimate {
            median: 0.38,
            lo: 0.351,
            hi: 0.412,
            cv: 0.04,
            n: 3,
        };
        assert_eq!(
            Figure::estimate(Some(&e), times, plain2).text,
            "0.38× (0.35–0.41)"
        );
        let one = crate::analysis::stats::Estimate { n: 1, ..e };
        assert_eq!(Figure::estimate(Some(&one), times, plain2).text, "0.38×");
        assert_eq!(
            serde_json::to_string(&Figure::new(Some(1234.0), thousands)).unwrap(),
            "\"1,234\""
        );
    }
}
