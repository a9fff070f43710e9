//! The repository README quotes the published run: a block between two markers, written from
//! `results/latest.json` whenever the page there is rendered, so the README's figures are never
//! copied by hand and never older than the page.

use std::path::Path;

use anyhow::{Context, Result};

use super::front::Verdict;
use crate::results::Run;

pub const BEGIN: &str = "<!-- figures: written by `matrix render` from results/latest.json; do not edit -->";
pub const END: &str = "<!-- /figures -->";

/// The block: the run, each server language's verdict in a sentence, and what the diagnosis
/// found.
pub fn figures(run: &Run, verdicts: &[Verdict], why: &[String]) -> String {
    let mut text = format!(
        "{BEGIN}\nFrom the published run `{}` ({}, commit `{}`, {} CPUs, {} rounds):\n\n",
        run.run_id,
        run.started.chars().take(10).collect::<String>(),
        run.environment.git_commit,
        run.environment.cpus,
        run.settings.repeats
    );
    for v in verdicts {
        let native = v.rows.iter().find(|r| r.kind == "native").map(|r| r.rps.as_str()).unwrap_or("–");
        text.push_str(&format!(
            "- **{}** ({}, {}): native serves {native} req/s. {}\n",
            v.server, v.workload, v.load, v.advice
        ));
    }
    for sentence in why {
        text.push_str(&format!("- {sentence}.\n"));
    }
    text.push_str(END);
    text
}

/// Replaces the block in `readme` (between the markers); a README without them is left alone.
pub fn update(readme: &Path, block: &str) -> Result<bool> {
    let text = std::fs::read_to_string(readme).with_context(|| format!("cannot read {}", readme.display()))?;
    let Some(updated) = replace_block(&text, block) else {
        return Ok(false);
    };
    if updated != text {
        crate::results::write_atomic(readme, updated.as_bytes())?;
    }
    Ok(true)
}

/// `text` with its block replaced by `block`, or None when it has no block.
pub fn replace_block(text: &str, block: &str) -> Option<String> {
    let start = text.find(BEGIN)?;
    let end = text[start..].find(END)? + start + END.len();
    Some(format!("{}{block}{}", &text[..start], &text[end..]))
}

/// The block for the run published in `out`.
pub fn block_for(out: &Path, run: &Run) -> String {
    let (analysis, _) = crate::published::analysis_of(out, run);
    let verdicts = super::front::verdicts(run, &analysis);
    let why = super::where_time::where_time(run, &analysis).map(|w| w.sentences).unwrap_or_default();
    figures(run, &verdicts, &why)
}

/// After the repository's own results page is rendered: the README quotes it.
pub fn quote_if_repository_results(out: &Path, run: &Run) -> Result<()> {
    let root = crate::paths::repo_root();
    let same = |a: &Path, b: &Path| a.canonicalize().ok().is_some_and(|a| b.canonicalize().ok() == Some(a));
    if !same(out, &root.join("results")) {
        return Ok(());
    }
    if update(&root.join("README.md"), &block_for(out, run))? {
        eprintln!("README.md quotes run {}", run.run_id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_block_is_replaced() {
        let text = format!("intro\n{BEGIN}\nold\n{END}\nrest\n");
        let block = format!("{BEGIN}\nnew\n{END}");
        assert_eq!(replace_block(&text, &block).unwrap(), format!("intro\n{block}\nrest\n"));
        assert_eq!(replace_block("no block here", &block), None);
    }
}
