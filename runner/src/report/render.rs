//! The page itself: the view model and the charts handed to every `templates/*.tera`, each
//! rendered into the output dir under its name minus `.tera`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::charts::{self, Chart};
use super::view::{page, Page};
use crate::results::Run;

/// What templates see: the page's fields, plus `charts`, the self-test's verdict when
/// `out/selftest/selftest.json` sits beside the page, and the other pages published beside it.
#[derive(Serialize)]
struct Context<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    charts: Vec<Chart>,
    selftest: Option<serde_json::Value>,
    pages: Vec<OtherPage>,
}

/// A page published in a subfolder of the output dir (`make capacity`, `make modes`, ...).
#[derive(Serialize)]
struct OtherPage {
    path: String,
    /// Its HTML page where it has one, else its Markdown.
    html: String,
    about: &'static str,
}

/// The pages of the other matrix files, where they have been published beside this one.
const OTHER_PAGES: &[(&str, &str)] = &[
    (
        "capacity",
        "capacity: req/s and p99 against open connections, breaking points, hostile clients",
    ),
    ("versions", "runtime versions side by side"),
    (
        "containers",
        "direct against containerd and its shims, image sizes",
    ),
    (
        "links",
        "server and generator on separate hosts, across links with delay",
    ),
    (
        "modes",
        "every mode of every runtime (interpreters, other compilers)",
    ),
    (
        "selftest",
        "what this machine resolves: the A/A and A/B self-test",
    ),
];

/// Draws the charts and renders every `templates/*.tera` into `out` (file name minus `.tera`).
pub fn render_all(templates: &Path, run: &Run, out: &Path) -> Result<Vec<PathBuf>> {
    let glob = format!("{}/*.tera", templates.display());
    let tera = tera::Tera::new(&glob)
        .with_context(|| format!("templates in {} do not parse", templates.display()))?;
    let (analysis, previous) = crate::published::analysis_of(out, run);
    let page = page(run, &analysis, previous);
    let charts = charts::write_all(&page, out).context("drawing the charts")?;
    let mut written: Vec<PathBuf> = charts.iter().map(|c| out.join(&c.file)).collect();
    let selftest = std::fs::read_to_string(out.join("selftest").join("selftest.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let pages = OTHER_PAGES
        .iter()
        .filter(|(dir, _)| out.join(dir).join("README.md").is_file())
        .map(|(dir, about)| OtherPage {
            path: format!("{dir}/README.md"),
            html: if out.join(dir).join("index.html").is_file() {
                format!("{dir}/index.html")
            } else {
                format!("{dir}/README.md")
            },
            about,
        })
        .collect();
    let context = tera::Context::from_serialize(&Context {
        page,
        charts,
        selftest,
        pages,
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

    fn fixture() -> Run {
        let path = crate::paths::repo_root().join("runner/tests/fixtures/run.json");
        crate::results::read_run(&path).unwrap()
    }

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
