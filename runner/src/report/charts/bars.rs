//! Bar charts: one bar per row with its interval (req/s, memory, startup), latency
//! percentiles, the headline's multiples of native and where each server's CPU went.

use anyhow::Result;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::prelude::*;

use super::style::{draw_legend, families, family_color, LEGEND_WIDTH, ROW_HEIGHT, WIDTH};
use super::{label, slug, Chart};
use crate::report::format::{axis_number, Figure};
use crate::report::view::{Row, Section};

/// The coordinate system both chart kinds share: values along x, one labelled band per row on y
/// (rows given bottom-up, as plotters counts them).
type RowChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordusize>>>;

/// One band per row: plotters' integer range 0..n holds n + 1 values, so a range of n bands
/// ends at n - 1.
fn rows_axis(n: usize) -> SegmentedCoord<RangedCoordusize> {
    (0..n.saturating_sub(1)).into_segmented()
}

/// Room under a plot for its tick labels and, below them, the axis title.
const X_AXIS_AREA: u32 = 46;

/// Room left of a plot for its longest row label (13-px sans-serif, about 7.5 px a character).
fn label_area(labels: &[String]) -> u32 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    (longest * 15 / 2 + 24).clamp(60, 420)
}

/// How a row chart's axes are laid out: its caption (none when the area has a title of its own),
/// the room for row labels (empty labels and a narrow area for a panel beside another) and how
/// many value ticks.
struct RowAxes<'t> {
    caption: Option<&'t str>,
    unit: &'t str,
    label_area: u32,
    ticks: usize,
}

fn row_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    axes: &RowAxes,
    labels: &[String],
    max: f64,
) -> Result<RowChart<'a, 'b>> {
    let mut builder = ChartBuilder::on(root);
    if let Some(caption) = axes.caption {
        builder.caption(caption, ("sans-serif", 18));
    }
    let mut chart = builder
        .margin(10)
        .x_label_area_size(X_AXIS_AREA)
        .y_label_area_size(axes.label_area)
        .build_cartesian_2d(0.0..max, rows_axis(labels.len()))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 13))
        .x_labels(axes.ticks)
        .x_label_formatter(&|v| axis_number(*v))
        .x_desc(axes.unit)
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
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// 95% interval, drawn as an error bar.
    pub interval: Option<(f64, f64)>,
    /// Written after the bar.
    pub note: String,
    /// The runtime family and its colour.
    pub family: String,
    pub color: RGBColor,
}

impl Bar {
    pub fn of(row: &Row, figure: &Figure, note: String) -> Option<Bar> {
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
pub fn bar_chart(title: &str, unit: &str, bars: &[Bar]) -> Result<String> {
    // plotters counts categories from the bottom; reverse so the page's first row is on top.
    let bars: Vec<Bar> = bars.iter().rev().cloned().collect();
    let mut svg = String::new();
    {
        let height = 90 + ROW_HEIGHT * bars.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        // Room after each bar for its note (13-px text, about 7 px a character), inside the plot.
        let plot_px = f64::from(WIDTH - LEGEND_WIDTH - label_area(&labels) - 30);
        let max = bars
            .iter()
            .map(|b| {
                let note_px = (b.note.chars().count() as f64 + 2.0) * 7.0;
                b.reach() * plot_px / (plot_px - note_px).max(plot_px * 0.25)
            })
            .fold(0.0, f64::max)
            .max(1e-9)
            * 1.05;
        let axes = RowAxes { caption: Some(title), unit, label_area: label_area(&labels), ticks: 6 };
        let mut chart = row_axes(&plot, &axes, &labels, max)?;
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
pub fn latency_chart(title: &str, rows: &[(String, [f64; 3])]) -> Result<String> {
    let rows: Vec<(String, [f64; 3])> = rows.iter().rev().cloned().collect();
    let mut svg = String::new();
    {
        let height = 110 + ROW_HEIGHT * 2 * rows.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let max = rows.iter().flat_map(|r| r.1).fold(0.0, f64::max).max(1e-9) * 1.15;
        let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        let axes = RowAxes { caption: Some(title), unit: "milliseconds", label_area: label_area(&labels), ticks: 6 };
        let mut chart = row_axes(&plot, &axes, &labels, max)?;
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

/// The headline: one server language's cost of each runtime x mode as a multiple of native, CPU
/// per request (left) and req/s (right), with 95% intervals and native's 1x marked. Rows are
/// labelled, so it reads without colour too.
pub fn headline_chart(server: &str, section: &Section) -> Result<Option<Chart>> {
    let rows: Vec<&Row> = section
        .rows
        .iter()
        .filter(|r| r.server == server && r.cpu_cost.value.is_some() && r.ratio.value.is_some())
        .filter(|r| r.ratio.text != "baseline")
        // Only WebAssembly: a native image in a container is not a cost of WebAssembly.
        .filter(|r| r.target.contains("wasm"))
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
        ("CPU per request (× native)", cpu),
        ("requests per second (× native; ≤: an upper bound)", rps),
    ];
    let rows: Vec<&Row> = rows.into_iter().rev().collect();
    let labels: Vec<String> = rows.iter().map(|r| label(r)).collect();
    // The left panel holds the row labels; each panel has room for its axis title.
    let (left_width, right_width) = (label_area(&labels) + 340, 380);
    let width = left_width + right_width + LEGEND_WIDTH;
    let mut svg = String::new();
    {
        let height = 110 + ROW_HEIGHT * rows.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(&title, ("sans-serif", 18))?;
        let (plots, legend) = root.split_horizontally(left_width + right_width);
        let (left, right) = plots.split_horizontally(left_width);
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
pub fn cost_split_chart(server: &str, wt: &crate::report::where_time::WhereTime) -> Result<Option<Chart>> {
    let rows: Vec<&crate::report::where_time::WhereRow> = wt
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
        |r: &crate::report::where_time::WhereRow| r.split.iter().filter_map(|f| f.value).sum::<f64>();
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
            .x_label_area_size(X_AXIS_AREA)
            .y_label_area_size(label_area(&labels))
            .build_cartesian_2d(0.0..max, rows_axis(rows.len()))?;
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

/// "≤ " where a figure's text marks it as an upper bound, "≥ " as a lower one.
fn bound_mark(text: &str) -> &'static str {
    match text.chars().next() {
        Some('≤') => "≤ ",
        Some('≥') => "≥ ",
        _ => "",
    }
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
    let axes = RowAxes { caption: None, unit, label_area: if labelled { label_area(&labels) } else { 8 }, ticks: 5 };
    let mut chart = row_axes(area, &axes, &labels, max)?;
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
            format!(" {}{}", bound_mark(&f.text), crate::report::format::ratio(value)),
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
