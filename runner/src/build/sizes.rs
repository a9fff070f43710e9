//! Sizes and hashes of built artifacts.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// First 16 hex digits of the file's SHA-256: the cache key for prepared (AOT) artifacts.
pub fn content_hash(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let digest = Sha256::digest(&bytes);
    Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// Size of a native binary once stripped of symbols (what one would ship), via `strip -o`.
pub fn stripped_size(binary: &Path, scratch: &Path) -> Option<u64> {
    let out = scratch.join(format!(
        "{}.stripped",
        binary.file_name()?.to_string_lossy()
    ));
    let ok = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(binary)
        .status()
        .ok()?
        .success();
    let size = if ok {
        std::fs::metadata(&out).ok().map(|m| m.len())
    } else {
        None
    };
    let _ = std::fs::remove_file(&out);
    size
}
