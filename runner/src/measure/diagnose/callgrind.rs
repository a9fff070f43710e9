//! Reading callgrind's dumps: the instruction count of everything since the counters were last
//! zeroed.

/// The `summary:` (or `totals:`) instruction count of a callgrind dump.
pub fn total_instructions(dump: &str) -> Option<u64> {
    let line = dump
        .lines()
        .find(|l| l.starts_with("summary:"))
        .or_else(|| dump.lines().find(|l| l.starts_with("totals:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_the_summary_line() {
        let dump = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npid: 1159\ncmd:  server\n\
                    part: 1\n\npositions: line\nevents: Ir\nsummary: 11990607\n\nfl=(1) ???\nfn=(1) 0x0\n0 5\n\ntotals: 11990607\n";
        assert_eq!(total_instructions(dump), Some(11_990_607));
        assert_eq!(total_instructions("totals: 42\n"), Some(42));
        assert_eq!(total_instructions("nothing"), None);
    }
}
