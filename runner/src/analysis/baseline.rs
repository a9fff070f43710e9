//! Which cell a cell is compared with, and why: defined once, as data. Every multiple on the page
//! ("× native", "× direct", "× newest") is a ratio to the baseline one of these rules picks, paired
//! by round.

use crate::results::{CellResult, Status};

/// A cell's dimensions, as a rule names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Same {
    Server,
    Workload,
    Load,
    Write,
    Mode,
    Runtime,
}

impl Same {
    fn holds(self, a: &CellResult, b: &CellResult) -> bool {
        match self {
            Same::Server => a.server == b.server,
            Same::Workload => a.workload == b.workload,
            Same::Load => a.load == b.load,
            Same::Write => a.write == b.write,
            Same::Mode => a.mode == b.mode,
            Same::Runtime => a.runtime == b.runtime,
        }
    }
}

/// The rule for "× native": the server compiled for the host, one thread like every WASI build.
#[derive(Debug, Clone, Copy)]
pub struct NativeRule {
    pub runtime: &'static str,
    pub mode: &'static str,
    /// Dimensions the baseline must share with the cell.
    pub same: &'static [Same],
    /// Shared where the run has such a baseline, else any write strategy will do (native has no
    /// vectored cells in most matrices).
    pub preferred: &'static [Same],
    pub why: &'static str,
}

pub const NATIVE: NativeRule = NativeRule {
    runtime: "native",
    mode: "current-thread",
    same: &[Same::Server, Same::Workload, Same::Load],
    preferred: &[Same::Write],
    why: "the same server built for the host, on tokio's current_thread scheduler (one thread, as \
          every WASI build runs), under the same workload and load in the same round",
};

impl NativeRule {
    /// The cell is a baseline of this kind (whether or not anything is compared with it).
    pub fn is_baseline(&self, cell: &CellResult) -> bool {
        cell.runtime == self.runtime && cell.mode == self.mode && cell.version.is_none()
    }

    /// Index of `cell`'s baseline among `cells`, if the run measured one.
    pub fn baseline_of(&self, cells: &[CellResult], cell: &CellResult) -> Option<usize> {
        let candidates = || {
            cells.iter().enumerate().filter(|(_, c)| {
                self.is_baseline(c)
                    && c.status == Status::Ok
                    && self.same.iter().all(|d| d.holds(c, cell))
            })
        };
        candidates()
            .find(|(_, c)| self.preferred.iter().all(|d| d.holds(c, cell)))
            .or_else(|| candidates().next())
            .map(|(i, _)| i)
    }
}

/// "× direct": a container cell against the same build run directly (its `direct` names the
/// runtime and mode), same server, write, workload and load, in the same rounds.
pub fn direct_of(cells: &[CellResult], container: &CellResult) -> Option<usize> {
    let direct = container.direct.as_deref()?;
    let same = [Same::Server, Same::Write, Same::Workload, Same::Load];
    cells.iter().position(|d| {
        format!("{}/{}", d.runtime, d.mode) == direct
            && d.version.is_none()
            && d.share.is_none()
            && same.iter().all(|s| s.holds(d, container))
    })
}

/// "× newest": cells that differ only in the runtime's release are one group, compared with its
/// newest release.
pub const ACROSS_VERSIONS: &[Same] = &[
    Same::Runtime,
    Same::Server,
    Same::Mode,
    Same::Write,
    Same::Workload,
    Same::Load,
];

/// Whether two cells belong to one across-versions group.
pub fn same_but_version(a: &CellResult, b: &CellResult) -> bool {
    ACROSS_VERSIONS.iter().all(|s| s.holds(a, b))
}
