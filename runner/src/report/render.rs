//! The page itself: the view model and the charts handed to every `templates/*.tera`, each
//! rendered into the output dir under its name minus `.tera`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::charts::{self, Chart};
use super::view::{page, Page};
use crate::results::Run;

/// What templates see: the page's fields, plus `charts`, the self-test's verdict when
/// `out/selftest/selftest.json` sits beside the page, the pages published beside it (and the one
/// it belongs under), and its title.
#[derive(Serialize)]
struct Context<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    charts: Vec<Chart>,
    selftest: Option<serde_json::Value>,
    pages: Vec<OtherPage>,
    parent: Option<OtherPage>,
    title: String,
    about: String,
}

/// A page published in a subfolder of the output dir (`make capacity`, ...), or the one above.
#[derive(Serialize)]
struct OtherPage {
    /// Its Markdown page and its HTML page (relative to this page).
    path: String,
    html: String,
    title: String,
    about: String,
    /// When it was measured, at which commit, and whether that differs from this page's.
    started: String,
    commit: String,
    other_commit: bool,
}

/// The default title of a page (the main matrix's), and what it answers.
pub const TITLE: &str = "What it costs to run an HTTP server as WebAssembly";
pub const ABOUT: &str = "One server source built natively and for WASI, measured under each runtime on one machine: \
                         what WebAssembly costs here, on which runtime, and why.";

/// The page published in `dir` (its latest.json), as another page links it.
fn other_page(dir: &Path, rel: &str, run: &Run) -> Option<OtherPage> {
    let other = crate::results::read_run(&dir.join("latest.json")).ok()?;
    let html = if dir.join("index.html").is_file() { "index.html" } else { "README.md" };
    Some(OtherPage {
        path: format!("{rel}README.md"),
        html: format!("{rel}{html}"),
        title: other.title.clone().unwrap_or_else(|| TITLE.into()),
        about: other.about.clone().unwrap_or_default(),
        started: other.started.chars().take(10).collect(),
        other_commit: other.environment.git_commit != run.environment.git_commit,
        commit: other.environment.git_commit,
    })
}

/// The pages published in subfolders of `out` (each a run of another matrix file).
fn sub_pages(out: &Path, run: &Run) -> Vec<OtherPage> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    let mut dirs: Vec<std::path::PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    let mut pages: Vec<OtherPage> = dirs
        .iter()
        .filter_map(|d| {
            let name = d.file_name()?.to_string_lossy().to_string();
            other_page(d, &format!("{name}/"), run)
        })
        .collect();
    if let Some(selftest) = selftest_page(out, run) {
        pages.push(selftest);
    }
    pages
}

/// The self-test's page, which has no latest.json of its own.
fn selftest_page(out: &Path, run: &Run) -> Option<OtherPage> {
    let dir = out.join("selftest");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("selftest.json")).ok()?).ok()?;
    let commit = v["machine"]["git_commit"].as_str().unwrap_or_default().to_string();
    Some(OtherPage {
        path: "selftest/README.md".into(),
        html: if dir.join("index.html").is_file() { "selftest/index.html".into() } else { "selftest/README.md".into() },
        title: "Self-test: what this machine resolves".into(),
        about: "A/A and A/B: how small a difference the statistics tell apart here".into(),
        started: v["started"].as_str().unwrap_or_default().chars().take(10).collect(),
        other_commit: !commit.is_empty() && commit != run.environment.git_commit,
        commit,
    })
}

/// Draws the charts and renders every `templates/*.tera` into `out` (file name minus `.tera`).
pub fn render_all(templates: &Path, run: &Run, out: &Path) -> Result<Vec<PathBuf>> {
    let glob = format!("{}/*.tera", templates.display());
    let tera = tera::Tera::new(&glob)
        .with_context(|| format!("templates in {} do not parse", templates.display()))?;
    let (analysis, previous) = crate::published::analysis_of(out, run);
    let page = page(run, &analysis, previous);
    let mut charts = charts::write_all(&page, out).context("drawing the charts")?;
    charts.extend(history_charts(&page, run, out)?);
    let mut written: Vec<PathBuf> = charts.iter().map(|c| out.join(&c.file)).collect();
    let selftest = std::fs::read_to_string(out.join("selftest").join("selftest.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let parent = out.parent().and_then(|up| other_page(up, "../", run));
    let context = tera::Context::from_serialize(&Context {
        page,
        charts,
        selftest,
        pages: sub_pages(out, run),
        parent,
        title: run.title.clone().unwrap_or_else(|| TITLE.into()),
        about: run.about.clone().unwrap_or_else(|| ABOUT.into()),
    })
    .context("cannot build the page context")?;
    // Templates in subfolders belong to other pages (selftest/).
    let mut names: Vec<&str> = tera
        .get_template_names()
        .filter(|n| !n.contains('/'))
        .collect();
    names.sort();
    for name in names {
        let text = tera
            .render(name, &context)
            .map_err(|e| anyhow::anyhow!("{}", tera_error_chain(&e)))
            .with_context(|| format!("rendering templates/{name}"))?;
        let target = out.join(name.trim_end_matches(".tera"));
        crate::results::write_atomic(&target, text.as_bytes())?;
        written.push(target);
    }
    Ok(written)
}

/// The headline's CPU multiple across the runs stored beside this one (and this one), per server
/// language, when there are at least two.
fn history_charts(page: &Page, run: &Run, out: &Path) -> Result<Vec<Chart>> {
    let Some((workload, load)) = page.verdicts.first().map(|v| (v.workload.clone(), v.load.clone())) else {
        return Ok(Vec::new());
    };
    let mut stored = crate::results::stored_runs(out);
    stored.retain(|r| r.complete && r.run_id != run.run_id && r.run_id < run.run_id);
    stored.push(run.clone());
    let refs: Vec<&Run> = stored.iter().collect();
    let series = crate::analysis::history::cpu_history(&refs, &workload, &load);
    let mut charts = Vec::new();
    for server in &page.servers {
        if let Some(chart) = charts::history_chart(server, &series)? {
            crate::results::write_atomic(&out.join(&chart.file), chart.svg.as_bytes())?;
            charts.push(chart);
        }
    }
    Ok(charts)
}

fn tera_error_chain(e: &tera::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::format::thousands;

    use crate::analysis::fixtures::recorded as fixture;

    #[test]
    fn the_page_shows_figures_flags_and_skips() {
        let run = fixture();
        let dir = tempfile::tempdir().unwrap();
        let written = render_all(
            &crate::paths::repo_root().join("templates"),
            &run,
            dir.path(),
        )
        .unwrap();
        assert!(written.iter().any(|p| p.ends_with("README.md")));
        let md = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
        let native = run.cells.iter().find(|c| c.runtime == "native").unwrap();
        assert!(
            md.contains(&thousands(native.metrics.rps.unwrap())),
            "native req/s missing:\n{md}"
        );
        assert!(md.contains("| wasmtime"), "{md}");
        assert!(
            md.contains("Network stall, not runtime cost"),
            "stall explanation missing:\n{md}"
        );
        assert!(md.contains("skipped"), "skipped cells missing:\n{md}");
        assert!(md.contains(&run.environment.cpu_model));
        assert!(md.contains("make matrix"));
    }
}
