//! SVG charts of a page (plotters): req/s with the ratio to native, latency percentiles, peak
//! memory and startup. Written next to the page and inlined into the HTML.

use std::path::Path;

use anyhow::{Context, Result};
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::prelude::*;
use serde::Serialize;

use super::format::{axis_number, thousands, Figure};
use super::view::{Curve, Page, Row, ScalePoint, Scaling, Section, Series};

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

const ROW_HEIGHT: u32 = 26;
const WIDTH: u32 = 900;
/// The column beside a plot that holds its legend.
const LEGEND_WIDTH: u32 = 170;

/// A legend in its own drawing area: a swatch and a name per entry, top-down.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    entries: &[(String, RGBColor)],
) -> Result<()> {
    for (i, (name, color)) in entries.iter().enumerate() {
        let y = 48 + i as i32 * 22;
        area.draw(&Rectangle::new([(8, y - 6), (22, y + 6)], color.filled()))?;
        area.draw(&Text::new(
            name.clone(),
            (28, y - 7),
            ("sans-serif", 13).into_font(),
        ))?;
    }
    Ok(())
}

/// The runtime families drawn in a chart, in the page's order, with their colours.
fn families(runtimes: impl Iterator<Item = String>) -> Vec<(String, RGBColor)> {
    let mut seen: Vec<(String, RGBColor)> = Vec::new();
    for runtime in runtimes {
        if !seen.iter().any(|(r, _)| *r == runtime) {
            let color = family_color(&runtime);
            seen.push((runtime, color));
        }
    }
    seen
}

/// The coordinate system both chart kinds share: values along x, one labelled band per row on y
/// (rows given bottom-up, as plotters counts them).
type RowChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordusize>>>;

fn row_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
    unit: &str,
    labels: &[String],
    max: f64,
) -> Result<RowChart<'a, 'b>> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(290)
        .build_cartesian_2d(0.0..max, (0..labels.len()).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 13))
        .x_labels(6)
        .x_label_formatter(&|v| axis_number(*v))
        .x_desc(unit)
        .y_labels(labels.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    Ok(chart)
}

/// One bar of a bar chart.
#[derive(Debug, Clone)]
struct Bar {
    label: String,
    value: f64,
    /// 95% interval, drawn as an error bar.
    interval: Option<(f64, f64)>,
    /// Written after the bar.
    note: String,
    /// The runtime family and its colour.
    family: String,
    color: RGBColor,
}

impl Bar {
    fn of(row: &Row, figure: &Figure, note: String) -> Option<Bar> {
        Some(Bar {
            label: label(row),
            value: figure.value?,
            interval: figure.interval,
            note,
            family: row.runtime.clone(),
            color: family_color(&row.runtime),
        })
    }

    /// Where the bar, or its error bar, ends.
    fn reach(&self) -> f64 {
        self.interval
            .map_or(self.value, |(_, hi)| hi.max(self.value))
    }
}

/// One horizontal bar per row, with its interval as an error bar and its annotation.
fn bar_chart(title: &str, unit: &str, bars: &[Bar]) -> Result<String> {
    // plotters counts categories from the bottom; reverse so the page's first row is on top.
    let bars: Vec<Bar> = bars.iter().rev().cloned().collect();
    let mut svg = String::new();
    {
        let height = 90 + ROW_HEIGHT * bars.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let max = bars.iter().map(Bar::reach).fold(0.0, f64::max).max(1e-9) * 1.45;
        let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        let mut chart = row_axes(&plot, title, unit, &labels, max)?;
        chart.draw_series(bars.iter().enumerate().map(|(i, bar)| {
            let color = bar.color.mix(0.85);
            let mut rect = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (bar.value, SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            );
            rect.set_margin(3, 3, 0, 0);
            rect
        }))?;
        for (i, bar) in bars.iter().enumerate() {
            if let Some((lo, hi)) = bar.interval {
                let y = SegmentValue::CenterOf(i);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(lo, y.clone()), (hi, y.clone())],
                    BLACK.stroke_width(2),
                )))?;
                for end in [lo, hi] {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((end, y.clone()))
                            + PathElement::new(vec![(0, -6), (0, 6)], BLACK.stroke_width(2)),
                    ))?;
                }
            }
        }
        chart.draw_series(bars.iter().enumerate().map(|(i, bar)| {
            Text::new(
                format!("  {}", bar.note),
                (bar.reach(), SegmentValue::CenterOf(i)),
                ("sans-serif", 13).into_font(),
            )
        }))?;
        let mut seen: Vec<(String, RGBColor)> = Vec::new();
        for bar in bars.iter().rev() {
            if !seen.iter().any(|(_, c)| *c == bar.color) {
                seen.push((bar.family.clone(), bar.color));
            }
        }
        draw_legend(&legend, &seen)?;
        root.present()?;
    }
    Ok(svg)
}

/// Grouped p50/p95/p99 bars per row.
fn latency_chart(title: &str, rows: &[(String, [f64; 3])]) -> Result<String> {
    let rows: Vec<(String, [f64; 3])> = rows.iter().rev().cloned().collect();
    let mut svg = String::new();
    {
        let height = 110 + ROW_HEIGHT * 2 * rows.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let max = rows.iter().flat_map(|r| r.1).fold(0.0, f64::max).max(1e-9) * 1.15;
        let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        let mut chart = row_axes(&plot, title, "milliseconds", &labels, max)?;
        let colors = [
            RGBColor(76, 145, 201),
            RGBColor(242, 166, 56),
            RGBColor(214, 69, 65),
        ];
        for p in 0..3 {
            let color = colors[p];
            chart.draw_series(rows.iter().enumerate().map(move |(i, (_, values))| {
                // Three thin bars inside each row's band.
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (values[p], SegmentValue::Exact(i + 1)),
                    ],
                    color.filled(),
                );
                let band = (ROW_HEIGHT * 2) as i32;
                let top = 4 + p as i32 * (band - 8) / 3;
                let bottom = band - 4 - top - (band - 8) / 3;
                bar.set_margin(top as u32, bottom.max(0) as u32, 0, 0);
                bar
            }))?;
        }
        let entries: Vec<(String, RGBColor)> = ["p50 (top bar)", "p95", "p99 (bottom bar)"]
            .iter()
            .zip(colors)
            .map(|(name, color)| (name.to_string(), color))
            .collect();
        draw_legend(&legend, &entries)?;
        root.present()?;
    }
    Ok(svg)
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

/// The colour of a runtime family, the same on every chart (native, wasmtime, wasmer, WasmEdge,
/// containers); `Palette99`'s order otherwise.
pub fn family_color(runtime: &str) -> RGBColor {
    match runtime {
        "native" => RGBColor(90, 90, 90),
        "wasmtime" => RGBColor(31, 119, 180),
        "wasmer" => RGBColor(148, 103, 189),
        "wasmedge" => RGBColor(255, 127, 14),
        r if r.starts_with("container") => RGBColor(44, 160, 44),
        _ => RGBColor(140, 86, 75),
    }
}

/// Latency against offered load: p99 (solid, dots) and p50 (dashed) per series, log-log axes,
/// the legend in its own column beside the plot.
fn curve_chart(curve: &Curve, title: &str) -> Result<String> {
    let points = |s: &Series| -> Vec<(f64, f64, f64)> {
        s.points
            .iter()
            .filter_map(|p| Some((p.offered.value?, p.p50.value?, p.p99.value?)))
            .filter(|(x, a, b)| *x > 0.0 && *a > 0.0 && *b > 0.0)
            .collect()
    };
    let all: Vec<(f64, f64, f64)> = curve.series.iter().flat_map(points).collect();
    let (xmin, xmax) = all
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (ymin, ymax) = all
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.2)));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 460)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH - 60);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(
                ((xmin * 0.8).max(1.0)..xmax * 1.25).log_scale(),
                ((ymin * 0.8).max(1e-3)..ymax * 1.5).log_scale(),
            )?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 12))
            .x_desc("offered requests per second")
            .y_desc("latency, ms (p99 solid, p50 dashed)")
            .x_label_formatter(&|v| axis_number(*v))
            .y_label_formatter(&|v| format!("{v}"))
            .draw()?;
        for s in &curve.series {
            let color = family_color(&s.runtime);
            let pts = points(s);
            chart.draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.2)),
                color.stroke_width(2),
            ))?;
            chart.draw_series(
                pts.iter()
                    .map(|p| Circle::new((p.0, p.2), 4, color.filled())),
            )?;
            chart.draw_series(DashedLineSeries::new(
                pts.iter().map(|p| (p.0, p.1)),
                6,
                4,
                color.stroke_width(1),
            ))?;
        }
        for (i, s) in curve.series.iter().enumerate() {
            let y = 50 + i as i32 * 22;
            let color = family_color(&s.runtime);
            legend.draw(&PathElement::new(
                vec![(10, y), (40, y)],
                color.stroke_width(2),
            ))?;
            legend.draw(&Text::new(
                s.label.clone(),
                (48, y - 7),
                ("sans-serif", 13).into_font(),
            ))?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// The headline: one server language's cost of each runtime x mode as a multiple of native, CPU
/// per request (left) and req/s (right), with 95% intervals and native's 1x marked. Rows are
/// labelled, so it reads without colour too.
fn headline_chart(server: &str, section: &Section) -> Result<Option<Chart>> {
    let rows: Vec<&Row> = section
        .rows
        .iter()
        .filter(|r| r.server == server && r.cpu_cost.value.is_some() && r.ratio.value.is_some())
        .filter(|r| r.ratio.text != "baseline")
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let title = format!(
        "{server}: what WebAssembly costs here ({}, {}), as multiples of native",
        section.workload, section.load
    );
    let cpu: fn(&Row) -> Figure = |r| r.cpu_cost.clone();
    let rps: fn(&Row) -> Figure = |r| r.ratio.clone();
    let panels = [
        ("CPU per request (x native; 1 = native)", cpu),
        ("requests per second (x native; 1 = native)", rps),
    ];
    let rows: Vec<&Row> = rows.into_iter().rev().collect();
    let mut svg = String::new();
    {
        let height = 110 + ROW_HEIGHT * rows.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH + 200, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(&title, ("sans-serif", 18))?;
        let (plots, legend) = root.split_horizontally(WIDTH + 200 - LEGEND_WIDTH);
        let (left, right) = plots.split_horizontally(560);
        for (p, (area, (unit, figure))) in [left, right].iter().zip(panels).enumerate() {
            let figures: Vec<Figure> = rows.iter().map(|r| figure(r)).collect();
            cost_panel(area, &rows, &figures, unit, p == 0)?;
        }
        draw_legend(
            &legend,
            &families(rows.iter().rev().map(|r| r.runtime.clone())),
        )?;
        root.present()?;
    }
    Ok(Some(Chart {
        file: format!("charts/headline-{}.svg", slug(server)),
        title,
        section: format!("headline/{server}"),
        svg,
        axes: panels.iter().map(|(unit, _)| unit.to_string()).collect(),
        legend: families(rows.iter().rev().map(|r| r.runtime.clone()))
            .into_iter()
            .map(|f| f.0)
            .collect(),
    }))
}

/// The colour of each "where the time goes" bucket, in `WhereTime::buckets` order.
const BUCKET_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(188, 189, 34),
    RGBColor(214, 39, 40),
    RGBColor(150, 150, 150),
    RGBColor(148, 103, 189),
];

/// CPU per request of each diagnosed server of `server`, as stacked bars: where it ran.
fn cost_split_chart(server: &str, wt: &super::where_time::WhereTime) -> Result<Option<Chart>> {
    let rows: Vec<&super::where_time::WhereRow> = wt
        .rows
        .iter()
        .filter(|r| r.server == server && r.split.iter().any(|f| f.value.is_some()))
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let title = format!(
        "{server}: CPU per request and where it ran (µs, under each server's diagnosed load)"
    );
    let total =
        |r: &super::where_time::WhereRow| r.split.iter().filter_map(|f| f.value).sum::<f64>();
    let max = rows.iter().map(|r| total(r)).fold(1.0, f64::max) * 1.15;
    let mut svg = String::new();
    {
        let height = 110 + ROW_HEIGHT * rows.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH + 200, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(&title, ("sans-serif", 18))?;
        let (plot, legend) = root.split_horizontally(WIDTH + 200 - LEGEND_WIDTH);
        let labels: Vec<String> = rows.iter().rev().map(|r| r.label.clone()).collect();
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(250)
            .build_cartesian_2d(0.0..max, (0..rows.len()).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .label_style(("sans-serif", 13))
            .x_desc("CPU per request, µs")
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()?;
        for (i, r) in rows.iter().rev().enumerate() {
            let mut left = 0.0;
            for (b, f) in r.split.iter().enumerate() {
                let Some(v) = f.value.filter(|v| *v > 0.0) else {
                    continue;
                };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [
                        (left, SegmentValue::Exact(i)),
                        (left + v, SegmentValue::Exact(i + 1)),
                    ],
                    BUCKET_COLORS[b % BUCKET_COLORS.len()].filled(),
                )))?;
                left += v;
            }
            chart.draw_series(std::iter::once(Text::new(
                format!("{:.1}", total(r)),
                (left + max * 0.01, SegmentValue::CenterOf(i)),
                ("sans-serif", 12),
            )))?;
        }
        let entries: Vec<(String, RGBColor)> = wt
            .buckets
            .iter()
            .enumerate()
            .map(|(b, name)| (name.to_string(), BUCKET_COLORS[b % BUCKET_COLORS.len()]))
            .collect();
        draw_legend(&legend, &entries)?;
        root.present()?;
    }
    Ok(Some(Chart {
        file: format!("charts/where-time-{}.svg", slug(server)),
        title,
        section: format!("where-time/{server}"),
        svg,
        axes: vec!["CPU per request, µs".into()],
        legend: wt.buckets.iter().map(|b| b.to_string()).collect(),
    }))
}

/// One panel of the headline: a bar per row with its interval, its value written after it, and
/// a dashed line at native's 1x. Only the left panel labels the rows.
fn cost_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    rows: &[&Row],
    figures: &[Figure],
    unit: &str,
    labelled: bool,
) -> Result<()> {
    let labels: Vec<String> = if labelled {
        rows.iter().map(|r| label(r)).collect()
    } else {
        vec![String::new(); rows.len()]
    };
    let max = figures
        .iter()
        .filter_map(|f| f.interval.map(|i| i.1).or(f.value))
        .fold(1.0, f64::max)
        * 1.35;
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(if labelled { 250 } else { 8 })
        .build_cartesian_2d(0.0..max, (0..rows.len()).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 13))
        .x_labels(5)
        .x_label_formatter(&|v| axis_number(*v))
        .x_desc(unit)
        .y_labels(rows.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    for (i, (row, f)) in rows.iter().zip(figures).enumerate() {
        let Some(value) = f.value else { continue };
        let color = family_color(&row.runtime);
        let mut rect = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(i)),
                (value, SegmentValue::Exact(i + 1)),
            ],
            color.mix(0.85).filled(),
        );
        rect.set_margin(4, 4, 0, 0);
        chart.draw_series(std::iter::once(rect))?;
        let reach = f.interval.map_or(value, |(_, hi)| hi.max(value));
        if let Some((lo, hi)) = f.interval {
            let y = SegmentValue::CenterOf(i);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(lo, y.clone()), (hi, y.clone())],
                BLACK.stroke_width(2),
            )))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            format!(" {:.2}x", value),
            (reach, SegmentValue::CenterOf(i)),
            ("sans-serif", 12).into_font(),
        )))?;
    }
    // Native's own cost.
    chart.draw_series(DashedLineSeries::new(
        vec![
            (1.0, SegmentValue::Exact(0)),
            (1.0, SegmentValue::Exact(rows.len())),
        ],
        4,
        4,
        RGBColor(90, 90, 90).stroke_width(1),
    ))?;
    Ok(())
}

/// A connection sweep: req/s (left) and p99 (right) against open connections, log x axes, a
/// line per series; a point that failed is a cross at the bottom of the req/s panel.
fn scaling_chart(scaling: &Scaling, title: &str) -> Result<String> {
    let xs: Vec<f64> = scaling
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| f64::from(p.connections)))
        .collect();
    let (xmin, xmax) = xs
        .iter()
        .fold((f64::MAX, 1.0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    let max_rps = scaling
        .series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .filter_map(|p| p.rps.interval.map(|i| i.1).or(p.rps.value))
        })
        .fold(1.0, f64::max);
    let p99s: Vec<f64> = scaling
        .series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.p99.value))
        .filter(|v| *v > 0.0)
        .collect();
    let (pmin, pmax) = p99s
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH + 200, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 17))?;
        let (plots, legend) = root.split_horizontally(WIDTH + 200 - LEGEND_WIDTH - 40);
        let (left, right) = plots.split_horizontally((WIDTH + 160 - LEGEND_WIDTH) / 2);
        let x_range = || ((xmin * 0.7).max(0.5)..xmax * 1.4).log_scale();
        let mut rps = ChartBuilder::on(&left)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range(), 0.0..max_rps * 1.15)?;
        rps.configure_mesh()
            .label_style(("sans-serif", 12))
            .x_desc("open connections")
            .y_desc("requests per second")
            .x_label_formatter(&|v| axis_number(*v))
            .y_label_formatter(&|v| axis_number(*v))
            .draw()?;
        let mut lat = ChartBuilder::on(&right)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(
                x_range(),
                ((pmin * 0.7).max(1e-3)..(pmax * 1.6).max(pmin * 2.0)).log_scale(),
            )?;
        lat.configure_mesh()
            .label_style(("sans-serif", 12))
            .x_desc("open connections")
            .y_desc("p99 latency, ms")
            .x_label_formatter(&|v| axis_number(*v))
            .y_label_formatter(&|v| format!("{v}"))
            .draw()?;
        for s in &scaling.series {
            let color = family_color(&s.runtime);
            let ok: Vec<&ScalePoint> = s.points.iter().filter(|p| p.status == "ok").collect();
            let line = |p: &&ScalePoint| Some((f64::from(p.connections), p.rps.value?));
            rps.draw_series(LineSeries::new(
                ok.iter().filter_map(line),
                color.stroke_width(2),
            ))?;
            rps.draw_series(
                ok.iter()
                    .filter_map(line)
                    .map(|p| Circle::new(p, 4, color.filled())),
            )?;
            rps.draw_series(s.points.iter().filter(|p| p.status != "ok").map(|p| {
                Cross::new(
                    (f64::from(p.connections), max_rps * 0.02),
                    6,
                    color.stroke_width(3),
                )
            }))?;
            let lat_line = |p: &&ScalePoint| {
                Some((f64::from(p.connections), p.p99.value.filter(|v| *v > 0.0)?))
            };
            lat.draw_series(LineSeries::new(
                ok.iter().filter_map(lat_line),
                color.stroke_width(2),
            ))?;
            lat.draw_series(
                ok.iter()
                    .filter_map(lat_line)
                    .map(|p| Circle::new(p, 4, color.filled())),
            )?;
        }
        let entries: Vec<(String, RGBColor)> = scaling
            .series
            .iter()
            .map(|s| (s.label.clone(), family_color(&s.runtime)))
            .collect();
        draw_legend(&legend, &entries)?;
        root.present()?;
    }
    Ok(svg)
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
        let title = format!(
            "{} · {}: req/s and p99 against open connections",
            scaling.workload, scaling.name
        );
        charts.push(Chart {
            file: format!(
                "charts/{}-{}-scaling.svg",
                slug(&scaling.workload),
                slug(&scaling.name)
            ),
            svg: scaling_chart(scaling, &title)?,
            title,
            section: format!("scaling/{}/{}", scaling.workload, scaling.name),
            axes: vec![
                "open connections".into(),
                "requests per second".into(),
                "p99 latency, ms".into(),
            ],
            legend: scaling.series.iter().map(|s| s.label.clone()).collect(),
        });
    }
    for curve in &page.curves {
        let title = format!(
            "{} · latency against offered load (shares of each server's {} req/s)",
            curve.workload, curve.of
        );
        charts.push(Chart {
            file: format!(
                "charts/{}-{}-curve.svg",
                slug(&curve.workload),
                slug(&curve.name)
            ),
            svg: curve_chart(curve, &title)?,
            title,
            section: format!("curve/{}/{}", curve.workload, curve.name),
            axes: vec![
                "offered requests per second".into(),
                "latency, ms (p99 solid, p50 dashed)".into(),
            ],
            legend: curve.series.iter().map(|s| s.label.clone()).collect(),
        });
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
fn versions_chart(group: &super::versions::AcrossVersions) -> Result<Option<Chart>> {
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
