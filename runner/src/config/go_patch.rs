//! Runtime-bug workarounds applied to a copy of one Go toolchain file at build time, by name: a
//! server definition's build names one (`go_patch = "wasmer-zero-timeout"`).

use anyhow::{bail, Result};

/// A one-line change to a file of the Go toolchain's own sources, made on a copy at build time and
/// handed to `go build -overlay` (nothing from GOROOT is committed), so that one build can work
/// around one runtime's bug. The build fails, saying so, when the line is not found exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoPatch {
    /// Path under `$GOROOT/src`.
    pub file: &'static str,
    pub find: &'static str,
    pub replace: &'static str,
    /// What it works around, shown with the cells that run this build.
    pub why: &'static str,
}

/// wasmer-wasix 0.704/0.705 `poll_oneoff` reads a clock subscription with timeout 0 ("check and
/// return") as "no timeout", and Go's scheduler polls with timeout 0 whenever it looks for work:
/// without this, Go under wasmer sleeps until an unrelated socket event (a few hundred req/s, or
/// none). 1 ns means the same to a correct runtime.
pub const WASMER_ZERO_TIMEOUT: GoPatch = GoPatch {
    file: "runtime/netpoll_wasip1.go",
    find: "clock.timeout = uint64(delay)",
    replace: "clock.timeout = uint64(max(delay, 1))",
    why: "built with Go's wasip1 netpoll asking poll_oneoff for 1 ns instead of 0: wasmer 7.4/7.5 reads a zero \
          timeout as \"no timeout\", which leaves Go's scheduler asleep until an unrelated socket event",
};

/// Every workaround a definition can name.
pub const PATCHES: &[(&str, &GoPatch)] = &[("wasmer-zero-timeout", &WASMER_ZERO_TIMEOUT)];

/// The workaround of that name.
pub fn named(name: &str) -> Option<&'static GoPatch> {
    PATCHES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

/// Their names.
pub fn names() -> Vec<&'static str> {
    PATCHES.iter().map(|(n, _)| *n).collect()
}

impl GoPatch {
    /// The patched text of `original`, or why the patch no longer fits this Go version.
    pub fn apply(&self, original: &str) -> Result<String> {
        match original.matches(self.find).count() {
            1 => Ok(original.replacen(self.find, self.replace, 1)),
            n => bail!(
                "the Go workaround for {} expects `{}` once in $GOROOT/src/{}, found it {n} times: this Go \
                 version changed that file; update or drop the patch in runner/src/config/go_patch.rs",
                self.why.split(':').next().unwrap_or(self.file),
                self.find,
                self.file
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_go_patch_applies_once_or_says_it_no_longer_fits() {
        let patch = &WASMER_ZERO_TIMEOUT;
        let original =
            "\t\tclock := timeout.u.subscriptionClock()\n\t\tclock.timeout = uint64(delay)\n";
        let patched = patch.apply(original).unwrap();
        assert_eq!(
            patched,
            "\t\tclock := timeout.u.subscriptionClock()\n\t\tclock.timeout = uint64(max(delay, 1))\n"
        );
        for changed in [
            "",
            "clock.timeout = uint64(delay)\nclock.timeout = uint64(delay)\n",
        ] {
            let err = patch.apply(changed).unwrap_err().to_string();
            assert!(
                err.contains("$GOROOT/src/runtime/netpoll_wasip1.go"),
                "{err}"
            );
            assert!(err.contains("update or drop the patch"), "{err}");
        }
    }
}
