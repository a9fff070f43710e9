//! SVG charts of a page (plotters): req/s with the ratio to native, latency percentiles, peak
//! memory and startup (bars.rs), latency against load, capacity and history (lines.rs), in
//! colours and line styles every chart shares (style.rs). Written next to the page and inlined
//! into the HTML.

mod bars;
mod lines;
mod style;

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::format::{thousands, Figure};
use super::view::{Page, Row, Section};
use bars::{bar_chart, cost_split_chart, headline_chart, latency_chart, Bar};
pub use lines::history_chart;
pub use style::family_color;
use style::families;

/// A chart as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    /// Path relative to the output dir, e.g. `charts/plaintext-peak-50-rps.svg`.
    pub file: String,
    pub title: String,
    /// "workload/load" of the table it belongs under; "headline/<server>" for the headline;
    /// empty for run-wide charts (memory, startup).
    pub section: String,
    /// The SVG document itself, for inlining.
    pub svg: String,
    /// The axis titles drawn (the page test checks they are there).
    pub axes: Vec<String>,
    /// The legend's entries, drawn beside the plot, never on it.
    pub legend: Vec<String>,
}

/// Draws every chart for the page and writes them under `out/charts/`.
pub fn write_all(page: &Page, out: &Path) -> Result<Vec<Chart>> {
    let mut charts = Vec::new();
    if let Some(wt) = &page.where_time {
        for server in &page.servers {
            charts.extend(cost_split_chart(server, wt)?);
        }
    }
    if let Some(section) = page.headline.and_then(|i| page.sections.get(i)) {
        for server in &page.servers {
            charts.extend(headline_chart(server, section)?);
        }
    }
    for section in &page.sections {
        charts.extend(section_charts(section)?);
    }
    for scaling in &page.scaling {
        charts.push(lines::scaling(scaling, &page.servers)?);
    }
    for curve in &page.curves {
        charts.push(lines::curve(curve, &page.servers)?);
    }
    for group in &page.across_versions {
        charts.extend(versions_chart(group)?);
    }
    charts.extend(run_wide_charts(page)?);
    write_files(&charts, out)?;
    Ok(charts)
}

/// req/s (with the ratio to native) and latency percentiles of one section's measured rows.
fn section_charts(section: &Section) -> Result<Vec<Chart>> {
    let measured: Vec<&Row> = section
        .rows
        .iter()
        .filter(|r| r.rps.value.is_some())
        .collect();
    if measured.is_empty() {
        return Ok(Vec::new());
    }
    let bars: Vec<Bar> = measured
        .iter()
        .filter_map(|r| {
            let note = match r.ratio.value {
                Some(_) => format!("{} · {}", thousands_of(&r.rps), r.ratio.text),
                None => thousands_of(&r.rps),
            };
            Bar::of(r, &r.rps, note)
        })
        .collect();
    let file = |kind: &str| {
        format!(
            "charts/{}-{}-{kind}.svg",
            slug(&section.workload),
            slug(&section.load)
        )
    };
    let title = format!(
        "{} · {}: requests per second (× native)",
        section.workload, section.load
    );
    let legend = families(bars.iter().map(|b| b.family.clone()))
        .into_iter()
        .map(|f| f.0)
        .collect();
    // An open load's req/s is its rate: only its latency compares the servers.
    let open = section.load_model == crate::config::LoadModel::Open;
    let mut charts = vec![Chart {
        file: file("rps"),
        svg: bar_chart(&title, "requests per second", &bars)?,
        title,
        section: section.key(),
        axes: vec!["requests per second".into()],
        legend,
    }];
    if open {
        charts.clear();
    }
    let latency: Vec<(String, [f64; 3])> = measured
        .iter()
        .filter_map(|r| Some((label(r), [r.p50.value?, r.p95.value?, r.p99.value?])))
        .collect();
    if !latency.is_empty() {
        let title = format!(
            "{} · {}: latency percentiles",
            section.workload, section.load
        );
        charts.push(Chart {
            file: file("latency"),
            svg: latency_chart(&title, &latency)?,
            title,
            section: section.key(),
            axes: vec!["milliseconds".into()],
            legend: vec![
                "p50 (top bar)".into(),
                "p95".into(),
                "p99 (bottom bar)".into(),
            ],
        });
    }
    Ok(charts)
}

/// req/s of each release, newest on top, with its interval and its ratio to the newest.
fn versions_chart(group: &crate::report::versions::AcrossVersions) -> Result<Option<Chart>> {
    let bars: Vec<Bar> = group
        .rows
        .iter()
        .filter_map(|r| {
            Some(Bar {
                label: format!("{} {}", group.runtime, r.version),
                value: r.rps.value?,
                interval: r.rps.interval,
                note: format!(
                    "{} · {}",
                    r.rps.value.map(thousands).unwrap_or_default(),
                    r.vs_newest.text
                ),
                family: group.runtime.clone(),
                color: family_color(&group.runtime),
            })
        })
        .collect();
    if bars.len() < 2 {
        return Ok(None);
    }
    let title = format!("{}: requests per second by release (× newest)", group.title);
    Ok(Some(Chart {
        file: format!(
            "charts/versions-{}.svg",
            slug(
                &group
                    .key()
                    .trim_start_matches("versions/")
                    .replace('/', "-")
            )
        ),
        svg: bar_chart(&title, "requests per second", &bars)?,
        title,
        section: group.key(),
        axes: vec!["requests per second".into()],
        legend: vec![group.runtime.clone()],
    }))
}

/// Memory and startup do not depend on the workload: one bar per runtime x mode x write, from
/// its first measured cell.
fn run_wide_charts(page: &Page) -> Result<Vec<Chart>> {
    let mut seen = std::collections::BTreeSet::new();
    let firsts: Vec<&Row> = page
        .sections
        .iter()
        .flat_map(|s| &s.rows)
        .filter(|r| r.rps.value.is_some() && seen.insert(label(r)))
        .collect();
    let mut charts = Vec::new();
    for (file, title, unit, figure) in [
        (
            "charts/memory.svg",
            "Peak resident memory of the server (MB)",
            "MB",
            (|r: &Row| r.rss.clone()) as fn(&Row) -> Figure,
        ),
        (
            "charts/startup.svg",
            "Startup: launch to first correct response (ms)",
            "milliseconds",
            |r: &Row| r.startup.clone(),
        ),
    ] {
        let bars: Vec<Bar> = firsts
            .iter()
            .filter_map(|r| {
                let f = figure(r);
                Bar::of(r, &f, f.text.clone())
            })
            .collect();
        if !bars.is_empty() {
            charts.push(Chart {
                file: file.into(),
                title: title.into(),
                section: String::new(),
                svg: bar_chart(title, unit, &bars)?,
                axes: vec![unit.into()],
                legend: families(bars.iter().map(|b| b.family.clone()))
                    .into_iter()
                    .map(|f| f.0)
                    .collect(),
            });
        }
    }
    Ok(charts)
}

/// Writes the charts, removing those of an earlier render that this run no longer has (stale).
fn write_files(charts: &[Chart], out: &Path) -> Result<()> {
    let dir = out.join("charts");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = format!("charts/{}", entry.file_name().to_string_lossy());
            if name.ends_with(".svg") && !charts.iter().any(|c| c.file == name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    for chart in charts {
        crate::results::write_atomic(&out.join(&chart.file), chart.svg.as_bytes())?;
    }
    Ok(())
}

/// The median alone (the error bar shows the interval).
fn thousands_of(f: &Figure) -> String {
    f.value.map(thousands).unwrap_or_default()
}

fn label(r: &Row) -> String {
    let mut text = match &r.shown_version {
        Some(v) => format!("{} {v} {}", r.runtime, r.mode),
        None => format!("{} {}", r.runtime, r.mode),
    };
    if r.write != "single" {
        text.push_str(&format!(" ({} writes)", r.write));
    }
    if r.server != "rust" {
        text = format!("{} · {text}", r.server);
    }
    text
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}
