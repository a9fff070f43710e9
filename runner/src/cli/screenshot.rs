//! `matrix screenshot`: the first screen of a published page as a reader sees it (1280 x 800 by
//! default), written as a PNG with a sidecar JSON naming the run it shows, so a test can tell a
//! stale screenshot from a current one.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Results directory whose index.html is shot.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("results"))]
    pub out: PathBuf,
    /// Where the PNG goes; its sidecar is the same path with `.json`.
    #[arg(long, default_value_os_t = crate::paths::repo_root().join("docs").join("results-page.png"))]
    pub to: PathBuf,
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    #[arg(long, default_value_t = 800)]
    pub height: u32,
}

/// What the sidecar says about the screenshot.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Shot {
    pub run_id: String,
    pub commit: String,
    pub width: u32,
    pub height: u32,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let run = crate::results::read_run(&args.out.join("latest.json"))?;
    let page = args.out.join("index.html").canonicalize().with_context(|| format!("no page in {}", args.out.display()))?;
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
        .context("no Chromium found: apt-get install chromium (`make test-deps` does)")?;
    if let Some(dir) = args.to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A profile of its own, removed after.
    let profile = std::env::temp_dir().join(format!("wasm-bench-chromium-{}", std::process::id()));
    let output = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={},{}", args.width, args.height))
        .arg(format!("--screenshot={}", args.to.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .context("cannot start Chromium");
    let _ = std::fs::remove_dir_all(&profile);
    let output = output?;
    anyhow::ensure!(
        output.status.success() && args.to.is_file(),
        "Chromium took no screenshot: {}",
        String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or_default()
    );
    let shot = Shot {
        run_id: run.run_id.clone(),
        commit: run.environment.git_commit.clone(),
        width: args.width,
        height: args.height,
    };
    crate::results::write_json_atomic(&args.to.with_extension("json"), &shot)?;
    eprintln!("wrote {} (run {})", args.to.display(), run.run_id);
    Ok(ExitCode::SUCCESS)
}
