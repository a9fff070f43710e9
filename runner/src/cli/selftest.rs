//! `matrix selftest`: how small a difference this machine resolves. Runs a small matrix twice per
//! try with the same code (A/A: how many cells the second run calls "changed") and judges, in each
//! run, a known 10% slowdown (A/B: `compute-slow` against `compute`). Writes `selftest.json` and a
//! page into `--out`, which `matrix run` links from the main page when they sit beside it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::results::Run;
use crate::selftest::{a_a, a_b, Try, Verdicts};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The matrix each try runs twice (it must list the `compute` and `compute-slow` workloads).
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("matrix.selftest.toml"))]
    pub matrix: PathBuf,
    /// Tries (each is two runs of the matrix).
    #[arg(long, default_value_t = 5)]
    pub tries: usize,
    /// Where the verdict goes (`selftest.json`, `README.md`).
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("results").join("selftest"))]
    pub out: PathBuf,
    /// Where the runs themselves go (not published).
    #[arg(long, default_value_os_t = crate::paths::target_dir().join("selftest"))]
    pub runs: PathBuf,
    /// Templates directory (the page is `selftest/README.md.tera` in it).
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("templates"))]
    pub templates: PathBuf,
    #[command(flatten)]
    pub common: super::Common,
}

/// What `selftest.json` holds.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub matrix_file: String,
    /// When the first try's first run started.
    pub started: String,
    pub machine: crate::results::Environment,
    pub settings: crate::config::Settings,
    pub verdicts: Verdicts,
    pub pass: bool,
    pub tries: Vec<Try>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    crate::sys::process::install_signal_handlers()?;
    let mut tries = Vec::new();
    let mut last: Option<Run> = None;
    let mut started = None;
    for n in 0..args.tries {
        let first = run_once(&args, n, "a")?;
        started.get_or_insert_with(|| first.started.clone());
        let second = run_once(&args, n, "b")?;
        let mut t = Try::default();
        a_a(&first, &second, &mut t);
        a_b(&first, &mut t);
        a_b(&second, &mut t);
        eprintln!(
            "try {}/{}: A/A {} cells compared; A/B {} of {} slowdowns detected",
            n + 1,
            args.tries,
            t.pairs_a_a.len(),
            t.detected,
            t.pairs
        );
        tries.push(t);
        last = Some(second);
        if crate::sys::interrupted() {
            anyhow::bail!("interrupted after {} tries: nothing written", n + 1);
        }
    }
    let last = last.context("--tries 0: nothing to judge")?;
    let verdicts = Verdicts::of(&mut tries);
    let report = Report {
        schema: "wasm-bench/selftest/1",
        matrix_file: last.matrix_file.clone(),
        started: started.unwrap_or_default(),
        machine: last.environment.clone(),
        settings: last.settings.clone(),
        pass: verdicts.pass(),
        verdicts,
        tries,
    };
    write(&args, &report)?;
    eprintln!(
        "A/A: {} of {} comparisons called changed ({:.1}%; at a {:.0}% false-change rate, {} or more come up {:.0}% of the time: {}); A/B: {} of {} detected ({:.0}%, aim 90%)",
        report.verdicts.changed,
        report.verdicts.compared,
        report.verdicts.false_change_rate * 100.0,
        (1.0 - crate::analysis::stats::CONFIDENCE) * 100.0,
        report.verdicts.changed,
        report.verdicts.false_changes_p_value() * 100.0,
        if report.verdicts.false_changes_plausible() { "plausible" } else { "too many" },
        report.verdicts.detected,
        report.verdicts.pairs,
        report.verdicts.detection_rate * 100.0
    );
    Ok(if report.pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One run of the matrix by this same binary, into `runs/try-<n>-<side>`.
fn run_once(args: &Args, n: usize, side: &str) -> Result<Run> {
    let out = args.runs.join(format!("try-{n}-{side}"));
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new(std::env::current_exe()?)
        .arg("run")
        .arg("--matrix")
        .arg(&args.matrix)
        .arg("--out")
        .arg(&out)
        .arg("--runtimes")
        .arg(&args.common.runtimes)
        .arg("--tools-dir")
        .arg(&args.common.tools_dir)
        .status()
        .context("cannot start `matrix run`")?;
    anyhow::ensure!(
        status.code() == Some(0),
        "`matrix run --matrix {}` exited with {status}: every cell of the self-test must measure",
        args.matrix.display()
    );
    crate::results::read_run(&out.join("latest.json"))
}

fn write(args: &Args, report: &Report) -> Result<()> {
    crate::results::write_json_atomic(&args.out.join("selftest.json"), report)?;
    render_pages(&args.templates, report, &args.out)
}

/// The self-test's pages: each `templates/selftest/<page>.tera` rendered into `out/<page>`
/// (README.md, index.html; HTML escaped).
pub fn render_pages(templates: &Path, report: &impl Serialize, out: &Path) -> Result<()> {
    let context = tera::Context::from_serialize(report)?;
    for page in ["README.md", "index.html"] {
        let template = templates.join("selftest").join(format!("{page}.tera"));
        let text = std::fs::read_to_string(&template)
            .with_context(|| format!("cannot read {}", template.display()))?;
        let rendered = tera::Tera::one_off(&text, &context, page.ends_with(".html"))
            .with_context(|| format!("rendering {}", template.display()))?;
        crate::results::write_atomic(&out.join(page), rendered.as_bytes())?;
        eprintln!("wrote {}", display(&out.join(page)));
    }
    Ok(())
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both pages render from a recorded verdict: each with its title, the way back, the date
    /// and the commit, the HTML one escaped.
    #[test]
    fn the_self_test_publishes_a_markdown_and_an_html_page() {
        let fixture = crate::paths::repo_root().join("runner/tests/fixtures/selftest.json");
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
        let out = tempfile::tempdir().unwrap();
        render_pages(&crate::paths::repo_root().join("templates"), &report, out.path()).unwrap();
        let commit = report["machine"]["git_commit"].as_str().unwrap();
        for page in ["README.md", "index.html"] {
            let text = std::fs::read_to_string(out.path().join(page)).unwrap();
            assert!(text.contains("Self-test: what this machine resolves"), "{page}");
            assert!(text.contains(commit) && text.contains("2026-12-01"), "{page}");
            assert!(text.contains("../README.md") || text.contains("../index.html"), "{page}");
        }
    }
}
