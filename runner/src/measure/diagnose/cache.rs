//! Instruction counts are the same while the build, the runtime release, the mode and the load
//! are: callgrind is slow, so each count is kept under a key of those and reused (the page says
//! when).

use std::path::Path;

use sha2::{Digest, Sha256};

use super::super::Plan;
use crate::results::diagnosis::InstructionPasses;

/// The key of a count: the artifact's bytes, the runtime binary's bytes, the launch argv
/// template, the workload and the connections.
pub fn key(plan: &Plan, connections: u32) -> String {
    let mut h = Sha256::new();
    let file = |path: &Path| std::fs::read(path).unwrap_or_default();
    h.update(file(&plan.launch.artifact));
    if let Some(bin) = &plan.launch.bin {
        h.update(file(bin));
    }
    h.update(plan.launch.mode.launch.join("\u{0}").as_bytes());
    if !plan.launch.mode.valgrind_args.is_empty() {
        h.update(plan.launch.mode.valgrind_args.join("\u{0}").as_bytes());
    }
    h.update(plan.cell.workload.as_bytes());
    h.update(plan.cell.write.as_bytes());
    h.update(connections.to_le_bytes());
    h.update(super::CALLGRIND_OPTIONS.join(" ").as_bytes());
    format!("{:x}", h.finalize())
}

pub fn read(dir: &Path, key: &str) -> Option<InstructionPasses> {
    let text = std::fs::read_to_string(dir.join(format!("{key}.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn write(dir: &Path, key: &str, passes: &InstructionPasses) {
    let _ = std::fs::create_dir_all(dir);
    let _ = crate::results::write_json_atomic(&dir.join(format!("{key}.json")), passes);
}
