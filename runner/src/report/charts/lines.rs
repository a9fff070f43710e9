//! Line charts: latency against offered load, req/s and p99 against open connections, and a
//! figure across stored runs. A series is coloured by its runtime and drawn in its server
//! language's dash and marker; a point the generator limited is hollow.

use anyhow::Result;
use plotters::prelude::*;

use super::style::{draw_legend, draw_line, draw_markers, draw_series_legend, SeriesStyle, LEGEND_WIDTH, WIDTH};
use super::{slug, Chart};
use crate::report::format::axis_number;
use crate::report::view::{Curve, ScalePoint, Scaling};

/// The span of `values` (positive ones), padded for a log axis.
fn log_span(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi <= 0.0 {
        return 0.1..10.0;
    }
    (lo * 0.7)..(hi * 1.5).max(lo * 2.0)
}

/// The latency-against-load chart of `curve`, as the page holds it.
pub fn curve(curve: &Curve, servers: &[String]) -> Result<Chart> {
    let title = format!(
        "{} · latency against offered load (shares of each server's {} req/s)",
        curve.workload, curve.of
    );
    Ok(Chart {
        file: format!("charts/{}-{}-curve.svg", slug(&curve.workload), slug(&curve.name)),
        svg: curve_chart(curve, servers, &title)?,
        title,
        section: format!("curve/{}/{}", curve.workload, curve.name),
        axes: vec!["offered requests per second".into(), "p99 latency, ms".into()],
        legend: curve.series.iter().map(|s| s.label.clone()).collect(),
    })
}

/// The connection sweep chart of `scaling`, as the page holds it.
pub fn scaling(scaling: &Scaling, servers: &[String]) -> Result<Chart> {
    let title = format!("{} · {}: req/s and p99 against open connections", scaling.workload, scaling.name);
    Ok(Chart {
        file: format!("charts/{}-{}-scaling.svg", slug(&scaling.workload), slug(&scaling.name)),
        svg: scaling_chart(scaling, servers, &title)?,
        title,
        section: format!("scaling/{}/{}", scaling.workload, scaling.name),
        axes: vec!["open connections".into(), "requests per second".into(), "p99 latency, ms".into()],
        legend: scaling.series.iter().map(|s| s.label.clone()).collect(),
    })
}

/// Latency against offered load: each series' p99 at each offered rate, log-log axes, the legend
/// in its own column beside the plot.
fn curve_chart(curve: &Curve, servers: &[String], title: &str) -> Result<String> {
    let points = |s: &crate::report::view::Series| -> Vec<(f64, f64, bool)> {
        s.points
            .iter()
            .filter_map(|p| Some((p.offered.value?, p.p99.value?, p.limited)))
            .filter(|(x, y, _)| *x > 0.0 && *y > 0.0)
            .collect()
    };
    let all: Vec<(f64, f64, bool)> = curve.series.iter().flat_map(points).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH + 100, 460)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 16))?;
        let (plot, legend) = root.split_horizontally(WIDTH + 100 - LEGEND_WIDTH - 40);
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(
                log_span(all.iter().map(|p| p.0)).log_scale(),
                log_span(all.iter().map(|p| p.1)).log_scale(),
            )?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 12))
            .x_labels(6)
            .y_labels(6)
            .x_desc("offered requests per second")
            .y_desc("p99 latency, ms")
            .x_label_formatter(&|v| axis_count(*v))
            .y_label_formatter(&|v| axis_number(*v))
            .draw()?;
        let styles = SeriesStyle::of_series(curve.series.iter().map(|s| (s.runtime.as_str(), s.server.as_str())), servers);
        let mut entries = Vec::new();
        for (s, &style) in curve.series.iter().zip(&styles) {
            draw_points(&mut chart, &points(s), style)?;
            entries.push((s.label.clone(), style));
        }
        draw_series_legend(&legend, &entries, all.iter().any(|p| p.2))?;
        root.present()?;
    }
    Ok(svg)
}

/// Axis ticks of counts: "500", "2k", "80k", "1.5M".
fn axis_count(v: f64) -> String {
    let trim = |x: f64| {
        let text = format!("{x:.1}");
        text.trim_end_matches(".0").to_string()
    };
    match v {
        v if v >= 1e6 => format!("{}M", trim(v / 1e6)),
        v if v >= 1e3 => format!("{}k", trim(v / 1e3)),
        v => trim(v),
    }
}

/// A connection sweep: req/s (left) and p99 (right) against open connections, log x axes, a line
/// per series through its served points; a point that failed is a cross at the bottom of the
/// req/s panel. The axes fit the medians (intervals are in the table).
fn scaling_chart(scaling: &Scaling, servers: &[String], title: &str) -> Result<String> {
    let served = |p: &&ScalePoint| p.status == "ok";
    let every = || scaling.series.iter().flat_map(|s| s.points.iter());
    let x = log_span(every().map(|p| f64::from(p.connections)));
    let rps_max = every().filter(served).filter_map(|p| p.rps.value).fold(1.0, f64::max) * 1.12;
    let p99 = log_span(every().filter(served).filter_map(|p| p.p99.value));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH + 200, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 17))?;
        let (plots, legend) = root.split_horizontally(WIDTH + 200 - LEGEND_WIDTH - 40);
        let (left, right) = plots.split_horizontally((WIDTH + 160 - LEGEND_WIDTH) / 2);
        let mut rps = ChartBuilder::on(&left)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x.clone().log_scale(), 0.0..rps_max)?;
        rps.configure_mesh()
            .label_style(("sans-serif", 12))
            .x_desc("open connections")
            .y_desc("requests per second")
            .x_label_formatter(&|v| axis_count(*v))
            .y_label_formatter(&|v| axis_count(*v))
            .draw()?;
        let mut lat = ChartBuilder::on(&right)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x.log_scale(), p99.log_scale())?;
        lat.configure_mesh()
            .label_style(("sans-serif", 12))
            .x_desc("open connections")
            .y_desc("p99 latency, ms")
            .x_label_formatter(&|v| axis_count(*v))
            .y_label_formatter(&|v| axis_number(*v))
            .draw()?;
        let styles = SeriesStyle::of_series(scaling.series.iter().map(|s| (s.runtime.as_str(), s.server.as_str())), servers);
        let mut entries = Vec::new();
        for (s, &style) in scaling.series.iter().zip(&styles) {
            let ok: Vec<&ScalePoint> = s.points.iter().filter(served).collect();
            let at = |value: fn(&ScalePoint) -> Option<f64>| -> Vec<(f64, f64, bool)> {
                ok.iter()
                    .filter_map(|p| Some((f64::from(p.connections), value(p).filter(|v| *v > 0.0)?, p.limited)))
                    .collect()
            };
            draw_points(&mut rps, &at(|p| p.rps.value), style)?;
            draw_points(&mut lat, &at(|p| p.p99.value), style)?;
            rps.draw_series(s.points.iter().filter(|p| !served(p)).map(|p| {
                Cross::new((f64::from(p.connections), rps_max * 0.03), 6, style.color.stroke_width(3))
            }))?;
            entries.push((s.label.clone(), style));
        }
        draw_series_legend(&legend, &entries, every().any(|p| served(&p) && p.limited))?;
        root.present()?;
    }
    Ok(svg)
}

/// A series' line and its markers.
fn draw_points<X, Y>(chart: &mut super::style::XyChart<'_, '_, X, Y>, pts: &[(f64, f64, bool)], style: SeriesStyle) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    draw_line(chart, &pts.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(), style)?;
    draw_markers(chart, pts, style)
}

/// CPU per request × native of one server language's cells across stored runs: a line per cell
/// with its interval as a band (as github-action-benchmark and Bencher draw history), the runs
/// labelled by date and commit, a release change marked where the runtime reported another.
pub fn history_chart(server: &str, series: &[crate::analysis::history::HistorySeries]) -> Result<Option<Chart>> {
    let mine: Vec<&crate::analysis::history::HistorySeries> =
        series.iter().filter(|s| s.cell.starts_with(&format!("{server}/"))).collect();
    if mine.is_empty() {
        return Ok(None);
    }
    let mut runs: Vec<(String, String)> = mine
        .iter()
        .flat_map(|s| s.points.iter().map(|p| (p.run_id.clone(), p.commit.clone())))
        .collect();
    runs.sort();
    runs.dedup_by(|a, b| a.0 == b.0);
    let x_of = |run: &str| runs.iter().position(|(r, _)| r == run).unwrap_or(0);
    let max = mine
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.hi))
        .fold(1.0, f64::max)
        * 1.1;
    let title = format!("{server}: CPU per request × native across runs (each run's 95% interval as a band)");
    let labels: Vec<String> = mine.iter().map(|s| history_label(&s.cell)).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH + 200, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(&title, ("sans-serif", 18))?;
        let (plot, legend) = root.split_horizontally(WIDTH + 200 - LEGEND_WIDTH - 60);
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .x_label_area_size(60)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5..(runs.len() as f64 - 0.5), 0.0..max)?;
        let run_label = |x: &f64| {
            let i = x.round() as usize;
            if (x - i as f64).abs() > 1e-6 {
                return String::new();
            }
            runs.get(i).map(|(r, c)| format!("{} {}", &r[4..8], &c.chars().take(7).collect::<String>())).unwrap_or_default()
        };
        chart
            .configure_mesh()
            .x_labels(runs.len().min(12))
            .x_label_formatter(&run_label)
            .y_desc("CPU per request × native")
            .x_desc("run (month-day, commit)")
            .label_style(("sans-serif", 12))
            .draw()?;
        let mut entries = Vec::new();
        for (k, s) in mine.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            draw_history_series(&mut chart, s, &x_of, color)?;
            entries.push((labels[k].clone(), RGBColor(color.0, color.1, color.2)));
        }
        draw_legend(&legend, &entries)?;
        root.present()?;
    }
    Ok(Some(Chart {
        file: format!("charts/history-{}.svg", slug(server)),
        title,
        section: format!("history/{server}"),
        svg,
        axes: vec!["CPU per request × native".into(), "run (month-day, commit)".into()],
        legend: labels,
    }))
}

/// One cell's history: its interval as a band, its median as a line with dots, and where the
/// runtime reported another release.
fn draw_history_series<X, Y>(
    chart: &mut super::style::XyChart<'_, '_, X, Y>,
    s: &crate::analysis::history::HistorySeries,
    x_of: &dyn Fn(&str) -> usize,
    color: RGBAColor,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let x = |run: &str| x_of(run) as f64;
    let band: Vec<(f64, f64)> = s.points.iter().map(|p| (x(&p.run_id), p.hi))
        .chain(s.points.iter().rev().map(|p| (x(&p.run_id), p.lo)))
        .collect();
    chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.15).filled())))?;
    chart.draw_series(LineSeries::new(s.points.iter().map(|p| (x(&p.run_id), p.median)), color.stroke_width(2)))?;
    chart.draw_series(s.points.iter().map(|p| Circle::new((x(&p.run_id), p.median), 3, color.filled())))?;
    for w in s.points.windows(2).filter(|w| w[0].version != w[1].version) {
        chart.draw_series(std::iter::once(Text::new(
            format!("→ {}", w[1].version.clone().unwrap_or_default()),
            (x(&w[1].run_id), w[1].median),
            ("sans-serif", 11).into_font().color(&color),
        )))?;
    }
    Ok(())
}

/// "wasmtime default" from a cell id "rust/wasmtime/default/single/plaintext/peak-50".
fn history_label(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    match parts.as_slice() {
        [_, runtime, mode, write, ..] if *write != "single" => format!("{runtime} {mode} ({write})"),
        [_, runtime, mode, ..] => format!("{runtime} {mode}"),
        _ => id.to_string(),
    }
}
