//! What every chart shares: sizes, the colour of each runtime, the line and marker of each
//! server language, and legends drawn beside the plot, never on it.

use anyhow::Result;
use plotters::prelude::*;

pub const ROW_HEIGHT: u32 = 26;
pub const WIDTH: u32 = 900;
/// The column beside a plot that holds its legend.
pub const LEGEND_WIDTH: u32 = 170;

/// A legend in its own drawing area: a swatch and a name per entry, top-down.
pub fn draw_legend(
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
pub fn families(runtimes: impl Iterator<Item = String>) -> Vec<(String, RGBColor)> {
    let mut seen: Vec<(String, RGBColor)> = Vec::new();
    for runtime in runtimes {
        if !seen.iter().any(|(r, _)| *r == runtime) {
            let color = family_color(&runtime);
            seen.push((runtime, color));
        }
    }
    seen
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

/// How a series of a line chart is drawn: its runtime's colour, and its server language's line
/// (solid, dashed, dotted) and marker (circle, triangle, square), so that eight series of four
/// runtimes and two languages stay apart without colour too.
#[derive(Debug, Clone, Copy)]
pub struct SeriesStyle {
    pub color: RGBColor,
    /// The server language's place in the page's order.
    pub language: usize,
}

impl SeriesStyle {
    /// The style of each series `(runtime, server)` of a chart, in order: a second or third mode
    /// of the same runtime and language gets a darker, then lighter, shade of the runtime's colour.
    pub fn of_series<'a>(series: impl Iterator<Item = (&'a str, &'a str)>, servers: &[String]) -> Vec<SeriesStyle> {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        series
            .map(|(runtime, server)| {
                let variant = seen.iter().filter(|s| **s == (runtime, server)).count();
                seen.push((runtime, server));
                SeriesStyle {
                    color: shade(family_color(runtime), variant),
                    language: servers.iter().position(|s| s == server).unwrap_or(0),
                }
            })
            .collect()
    }

    /// A marker at `at`: filled, or hollow where the point is not the server's own limit.
    fn marker<'a, DB: DrawingBackend + 'a, C: Clone + 'a>(self, at: C, hollow: bool) -> DynElement<'a, DB, C> {
        let style = if hollow {
            ShapeStyle::from(&WHITE).filled()
        } else {
            self.color.filled()
        };
        let edge = self.color.stroke_width(2);
        let shape = EmptyElement::at(at);
        match self.language % 3 {
            0 => (shape + Circle::new((0, 0), 4, style) + Circle::new((0, 0), 4, edge)).into_dyn(),
            1 => (shape
                + Polygon::new(vec![(0, -5), (5, 4), (-5, 4)], style)
                + PathElement::new(vec![(0, -5), (5, 4), (-5, 4), (0, -5)], edge))
            .into_dyn(),
            _ => (shape
                + Rectangle::new([(-4, -4), (4, 4)], style)
                + Rectangle::new([(-4, -4), (4, 4)], edge))
            .into_dyn(),
        }
    }
}

/// A chart with a value on each axis, whatever their scales.
pub type XyChart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// A series' line through `points`, in its language's dash.
pub fn draw_line<X, Y>(chart: &mut XyChart<'_, '_, X, Y>, points: &[(f64, f64)], style: SeriesStyle) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let stroke = style.color.stroke_width(2);
    match style.language % 3 {
        0 => chart.draw_series(LineSeries::new(points.iter().copied(), stroke))?,
        1 => chart.draw_series(DashedLineSeries::new(points.iter().copied(), 9, 5, stroke))?,
        _ => chart.draw_series(DashedLineSeries::new(points.iter().copied(), 3, 4, stroke))?,
    };
    Ok(())
}

/// A series' markers, `(x, y, hollow)`.
pub fn draw_markers<X, Y>(chart: &mut XyChart<'_, '_, X, Y>, points: &[(f64, f64, bool)], style: SeriesStyle) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for &(x, y, hollow) in points {
        chart.plotting_area().draw(&style.marker((x, y), hollow))?;
    }
    Ok(())
}

/// What a hollow marker means, written under a legend whose chart has one.
pub const HOLLOW_NOTE: [&str; 2] = ["hollow: the generator,", "not the server, limited it"];

/// A legend of line series: each entry's line and marker, then its name; `hollow` adds what a
/// hollow marker means.
pub fn draw_series_legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    entries: &[(String, SeriesStyle)],
    hollow: bool,
) -> Result<()> {
    if hollow {
        let y = 48 + entries.len() as i32 * 22 + 8;
        area.draw(&(EmptyElement::at((20, y)) + Circle::new((0, 0), 4, BLACK.stroke_width(2))))?;
        for (k, line) in HOLLOW_NOTE.iter().enumerate() {
            area.draw(&Text::new(line.to_string(), (40, y - 7 + k as i32 * 16), ("sans-serif", 12).into_font()))?;
        }
    }
    for (i, (name, style)) in entries.iter().enumerate() {
        let y = 48 + i as i32 * 22;
        let stroke = style.color.stroke_width(2);
        let line: Vec<(i32, i32)> = match style.language % 3 {
            0 => vec![(6, y), (34, y)],
            1 => vec![(6, y), (15, y)],
            _ => vec![(6, y), (9, y)],
        };
        area.draw(&PathElement::new(line.clone(), stroke))?;
        if style.language % 3 != 0 {
            area.draw(&PathElement::new(line.iter().map(|(x, y)| (x + 20, *y)).collect::<Vec<_>>(), stroke))?;
        }
        area.draw(&style.marker((20, y), false))?;
        area.draw(&Text::new(name.clone(), (40, y - 7), ("sans-serif", 13).into_font()))?;
    }
    Ok(())
}

/// A runtime's colour for its `variant`-th series of one language: itself, darker, lighter.
fn shade(c: RGBColor, variant: usize) -> RGBColor {
    let mix = |to: u8, share: f64, from: u8| (f64::from(from) * (1.0 - share) + f64::from(to) * share).round() as u8;
    match variant % 3 {
        0 => c,
        1 => RGBColor(mix(0, 0.45, c.0), mix(0, 0.45, c.1), mix(0, 0.45, c.2)),
        _ => RGBColor(mix(255, 0.45, c.0), mix(255, 0.45, c.1), mix(255, 0.45, c.2)),
    }
}
