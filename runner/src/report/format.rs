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

    /// An estimate written in `unit`: the median sets the scale and the digits, and its interval
    /// is written in the same scale and digits ("315 ms (53–727)", "2,997 (2,994–3,001)").
    pub fn of(e: Option<&crate::analysis::stats::Estimate>, unit: Unit) -> Figure {
        match e {
            Some(e) if e.n >= 2 => {
                let scale = unit.scale(e.median);
                Figure {
                    value: Some(e.median),
                    interval: Some((e.lo, e.hi)),
                    text: format!(
                        "{}{} ({}–{})",
                        scale.number(e.median),
                        scale.suffix,
                        scale.number(e.lo),
                        scale.number(e.hi)
                    ),
                }
            }
            Some(e) => Figure::value(Some(e.median), unit),
            None => Figure::value(None, unit),
        }
    }

    /// A single number written in `unit`.
    pub fn value(v: Option<f64>, unit: Unit) -> Figure {
        Figure::new(v, |v| unit.write(v))
    }
}

/// What a figure measures, which decides how it is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// Requests, req/s: whole numbers with separators.
    Count,
    /// A duration given in milliseconds: µs, ms or s by size.
    Millis,
    /// A duration given in microseconds: µs, ms or s by size.
    Micros,
    /// A multiple: "0.38×", "2.9×", "18×".
    Multiple,
}

/// A unit at one size: how many of the given unit make one shown, the decimals, the suffix.
struct Scale {
    divisor: f64,
    decimals: usize,
    suffix: &'static str,
    separators: bool,
}

impl Scale {
    fn number(&self, v: f64) -> String {
        let v = v / self.divisor;
        if self.separators {
            thousands(v)
        } else {
            format!("{v:.*}", self.decimals)
        }
    }
}

/// Decimals that show a duration in its scale with about three significant digits.
fn duration_decimals(shown: f64) -> usize {
    match shown {
        s if s >= 100.0 => 0,
        s if s >= 10.0 => 1,
        _ => 2,
    }
}

impl Unit {
    fn scale(self, median: f64) -> Scale {
        let duration = |in_us: f64| {
            let (divisor, suffix) = match median * in_us {
                us if us >= 1e6 => (1e6 / in_us, " s"),
                us if us >= 1e3 => (1e3 / in_us, " ms"),
                _ => (1.0 / in_us, " µs"),
            };
            Scale { divisor, decimals: duration_decimals(median / divisor), suffix, separators: false }
        };
        match self {
            Unit::Count => Scale { divisor: 1.0, decimals: 0, suffix: "", separators: true },
            Unit::Millis => duration(1e3),
            Unit::Micros => duration(1.0),
            Unit::Multiple => Scale {
                divisor: 1.0,
                decimals: match median {
                    m if m >= 10.0 => 0,
                    m if m >= 1.0 => 1,
                    _ => 2,
                },
                suffix: "×",
                separators: false,
            },
        }
    }

    /// One number in this unit, alone.
    pub fn write(self, v: f64) -> String {
        if self == Unit::Multiple && v > 0.0 && v < 0.005 {
            return "<0.01×".into();
        }
        let scale = self.scale(v);
        format!("{}{}", scale.number(v), scale.suffix)
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

/// A duration given in milliseconds, in the scale its size deserves: "239 µs", "43.98 ms", "2.07 s".
pub fn millis(ms: f64) -> String {
    Unit::Millis.write(ms)
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

/// A duration given in microseconds: "7.8 µs", "1.50 ms", "2.07 s".
pub fn micros(us: f64) -> String {
    Unit::Micros.write(us)
}

/// A multiple with the digits its size deserves: "0.38×", "2.9×", "18×" ("<0.01×" below what
/// two decimals show).
pub fn ratio(x: f64) -> String {
    Unit::Multiple.write(x)
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
        assert_eq!(millis(43.98), "44.0 ms");
        assert_eq!(millis(0.0351), "35.1 µs");
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
        assert_eq!(Figure::of(Some(&e), Unit::Multiple).text, "0.38× (0.35–0.41)");
        let one = crate::analysis::stats::Estimate { n: 1, ..e };
        let ms = crate::analysis::stats::Estimate { median: 315.2, lo: 53.442, hi: 726.818, cv: 0.5, n: 5 };
        assert_eq!(Figure::of(Some(&ms), Unit::Millis).text, "315 ms (53–727)");
        let rate = crate::analysis::stats::Estimate { median: 2997.0, lo: 2994.2, hi: 3001.0, cv: 0.0, n: 5 };
        assert_eq!(Figure::of(Some(&rate), Unit::Count).text, "2,997 (2,994–3,001)");
        assert_eq!(Unit::Micros.write(2_070_000.0), "2.07 s");
        assert_eq!(Unit::Micros.write(58.04), "58.0 µs");
        assert_eq!(Unit::Micros.write(1500.0), "1.50 ms");
        assert_eq!(Unit::Millis.write(0.239), "239 µs");
        assert_eq!(Unit::Multiple.write(0.001), "<0.01×");
        assert_eq!(Unit::Multiple.write(18.4), "18×");
        let x = crate::analysis::stats::Estimate { median: 2.93, lo: 2.71, hi: 3.18, cv: 0.05, n: 5 };
        assert_eq!(Figure::of(Some(&x), Unit::Multiple).text, "2.9× (2.7–3.2)");
        assert_eq!(Figure::of(Some(&one), Unit::Multiple).text, "0.38×");
        assert_eq!(
            serde_json::to_string(&Figure::new(Some(1234.0), thousands)).unwrap(),
            "\"1,234\""
        );
    }
}
