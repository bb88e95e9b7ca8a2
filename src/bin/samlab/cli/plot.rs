//! SVG plots of a `LandscapeReport` (plotters' SVG backend; the viewer renders the text): loss and
//! accuracy against α or t for a line or an interpolation, a heatmap with contour lines (marching
//! squares by the `contour` crate) and a colour bar for a plane.

use plotters::coord::Shift;
use plotters::prelude::*;
use samlab::sharpness::{LandscapeKind, LandscapeReport};

const LOSS_COLOUR: RGBColor = RGBColor(31, 119, 180);
const ACCURACY_COLOUR: RGBColor = RGBColor(230, 120, 20);
const MARKER_COLOUR: RGBColor = RGBColor(150, 150, 150);
/// Cells whose loss is NaN or infinite.
const MISSING_COLOUR: RGBColor = RGBColor(200, 200, 200);
/// Fonts (plotters draws them at about 80% of the nominal size).
const LABEL_FONT: (&str, u32) = ("sans-serif", 16);
const DESC_FONT: (&str, u32) = ("sans-serif", 18);
/// Contour levels of a plane (evenly spaced strictly between the smallest and largest loss).
const LEVELS: usize = 12;

/// The plot of `report` as an SVG document; `title` heads it.
pub fn landscape_svg(report: &LandscapeReport, title: &str) -> Result<String, String> {
    let mut out = String::new();
    let result = match report.kind {
        LandscapeKind::Plane => {
            let root = SVGBackend::with_string(&mut out, (800, 640)).into_drawing_area();
            plane(&root, report, title)
        }
        LandscapeKind::Line | LandscapeKind::Interpolation => {
            let root = SVGBackend::with_string(&mut out, (800, 500)).into_drawing_area();
            curve(&root, report, title)
        }
    };
    result.map_err(|e| format!("cannot draw the --svg plot: {e}"))?;
    Ok(out)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// A tick label: at most 3 decimals, no trailing zeros, no "-0".
fn tick(v: &f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" | "" => "0".to_string(),
        other => other.to_string(),
    }
}

/// (min, max) of the finite values, or None.
fn finite_range<'a>(values: impl IntoIterator<Item = &'a f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |range, &v| match range {
            None => Some((v, v)),
            Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
        })
}

/// A plotting range around [lo, hi], padded by 5% (or by a unit when the values are all equal).
fn padded((lo, hi): (f64, f64)) -> std::ops::Range<f64> {
    let pad = if hi > lo {
        0.05 * (hi - lo)
    } else {
        0.5 * lo.abs().max(1.0)
    };
    (lo - pad)..(hi + pad)
}

/// The runs of consecutive points whose value is finite (a line series must not pass through NaN).
fn finite_runs(xs: &[f64], ys: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::new()];
    for (&x, &y) in xs.iter().zip(ys) {
        if y.is_finite() {
            runs.last_mut().expect("one run at least").push((x, y));
        } else if !runs.last().expect("one run at least").is_empty() {
            runs.push(Vec::new());
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

/// Loss (left axis) and accuracy (right axis, 0 to 1) against α or t.
fn curve(
    root: &DrawingArea<SVGBackend, Shift>,
    report: &LandscapeReport,
    title: &str,
) -> DrawResult {
    root.fill(&WHITE)?;
    let axis = &report.axis;
    let loss = report.loss.first().map(Vec::as_slice).unwrap_or(&[]);
    let accuracy = report.accuracy.first().map(Vec::as_slice).unwrap_or(&[]);
    let x_range = axis[0]..axis[axis.len() - 1];
    let y_range = padded(finite_range(loss).unwrap_or((0.0, 1.0)));
    let (x_name, caption) = match report.kind {
        LandscapeKind::Interpolation => ("t", format!("(1 − t)·w₀ + t·w₁ · {title}")),
        _ => ("α", format!("w + α·d, d filter-normalised · {title}")),
    };
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .right_y_label_area_size(64)
        .build_cartesian_2d(x_range.clone(), y_range.clone())?
        .set_secondary_coord(x_range, -0.02..1.02);
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.12))
        .x_desc(x_name)
        .y_desc(format!("loss ({} test images)", report.rows))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style(LABEL_FONT)
        .axis_desc_style(DESC_FONT)
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("accuracy")
        .y_label_formatter(&tick)
        .label_style(LABEL_FONT)
        .axis_desc_style(DESC_FONT)
        .draw()?;
    // The weights themselves: α = 0, or t = 0 and t = 1.
    let marks: &[f64] = match report.kind {
        LandscapeKind::Interpolation => &[0.0, 1.0],
        _ => &[0.0],
    };
    for &x in marks {
        chart.draw_series(LineSeries::new(
            [(x, y_range.start), (x, y_range.end)],
            MARKER_COLOUR.stroke_width(1),
        ))?;
    }
    for (i, run) in finite_runs(axis, loss).into_iter().enumerate() {
        let series = chart.draw_series(LineSeries::new(run, LOSS_COLOUR.stroke_width(2)))?;
        if i == 0 {
            series.label("loss").legend(|(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], LOSS_COLOUR.stroke_width(2))
            });
        }
    }
    for (i, run) in finite_runs(axis, accuracy).into_iter().enumerate() {
        let series =
            chart.draw_secondary_series(LineSeries::new(run, ACCURACY_COLOUR.stroke_width(2)))?;
        if i == 0 {
            series.label("accuracy").legend(|(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], ACCURACY_COLOUR.stroke_width(2))
            });
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(LABEL_FONT)
        .draw()?;
    root.present()?;
    Ok(())
}

/// matplotlib's viridis at t in [0, 1] (8 stops, linear between them).
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 8] = [
        (68, 1, 84),
        (70, 50, 127),
        (54, 92, 141),
        (39, 127, 143),
        (31, 162, 136),
        (74, 194, 110),
        (160, 219, 57),
        (254, 232, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

type Polyline = Vec<(f64, f64)>;

/// Iso-lines of `grid` (rows: y, columns: x) at each threshold, as polylines in grid coordinates
/// (column, row). Marching squares by `contour`, which closes every ring around the grid's outside;
/// those closing pieces are not iso-lines, so each ring is cut where it leaves the grid.
pub fn iso_lines(grid: &[Vec<f64>], thresholds: &[f64]) -> Vec<(f64, Vec<Polyline>)> {
    let (dy, dx) = (grid.len(), grid.first().map_or(0, Vec::len));
    if dx < 2 || dy < 2 {
        return Vec::new();
    }
    // Non-finite values count as the largest finite one (inside every level).
    let top = finite_range(grid.iter().flatten()).map_or(0.0, |(_, hi)| hi);
    let values: Vec<f64> = grid
        .iter()
        .flatten()
        .map(|&v| if v.is_finite() { v } else { top })
        .collect();
    let Ok(lines) = contour::ContourBuilder::new(dx, dy, true).lines(&values, thresholds) else {
        return Vec::new();
    };
    // contour puts value (i, j) at (i + 0.5, j + 0.5); the padding ring runs along x = 0, x = dx,
    // y = 0 and y = dy.
    let outside = |x: f64, y: f64| x <= 0.0 || y <= 0.0 || x >= dx as f64 || y >= dy as f64;
    lines
        .into_iter()
        .map(|line| {
            let (geometry, threshold) = line.into_inner();
            let mut pieces = Vec::new();
            for ring in geometry.0 {
                let mut points: Vec<(f64, f64)> = ring.0.iter().map(|c| (c.x, c.y)).collect();
                // A ring that leaves the grid is walked from an outside point, so the iso-line
                // that crosses the ring's first point is not cut in two.
                if let Some(first) = points.iter().position(|&(x, y)| outside(x, y)) {
                    if points.len() > 1 && points.first() == points.last() {
                        points.pop();
                    }
                    points.rotate_left(first);
                }
                let mut piece: Vec<(f64, f64)> = Vec::new();
                for (x, y) in points {
                    if outside(x, y) {
                        if piece.len() > 1 {
                            pieces.push(std::mem::take(&mut piece));
                        }
                        piece.clear();
                    } else {
                        piece.push((x - 0.5, y - 0.5));
                    }
                }
                if piece.len() > 1 {
                    pieces.push(piece);
                }
            }
            (threshold, pieces)
        })
        .collect()
}

/// The loss over (α, β) as coloured cells, iso-lines, the centre (the weights) marked, and a
/// colour bar on the right.
fn plane(
    root: &DrawingArea<SVGBackend, Shift>,
    report: &LandscapeReport,
    title: &str,
) -> DrawResult {
    root.fill(&WHITE)?;
    let axis = &report.axis;
    let n = axis.len();
    let half = if n > 1 {
        0.5 * (axis[1] - axis[0])
    } else {
        0.5
    };
    let range = (axis[0] - half)..(axis[n - 1] + half);
    let (lo, hi) = finite_range(report.loss.iter().flatten()).unwrap_or((0.0, 1.0));
    let scale = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let (main, bar) = root.split_horizontally(650);

    let mut chart = ChartBuilder::on(&main)
        .caption(format!("w + α·d₁ + β·d₂ · {title}"), ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(range.clone(), range)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("α")
        .y_desc("β")
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style(LABEL_FONT)
        .axis_desc_style(DESC_FONT)
        .draw()?;
    chart.draw_series(report.loss.iter().enumerate().flat_map(|(j, row)| {
        row.iter().enumerate().map(move |(i, &v)| {
            let colour = if v.is_finite() {
                viridis(scale(v))
            } else {
                MISSING_COLOUR
            };
            let (x, y) = (axis[i], axis[j]);
            Rectangle::new(
                [(x - half, y - half), (x + half, y + half)],
                colour.filled(),
            )
        })
    }))?;
    let thresholds: Vec<f64> = if hi > lo {
        (1..=LEVELS)
            .map(|k| lo + (hi - lo) * k as f64 / (LEVELS + 1) as f64)
            .collect()
    } else {
        Vec::new()
    };
    let to_plane = |(x, y): (f64, f64)| (axis[0] + x * 2.0 * half, axis[0] + y * 2.0 * half);
    for (threshold, pieces) in iso_lines(&report.loss, &thresholds) {
        // Light lines over the dark (low) end of the scale, dark ones over the light end.
        let colour = if scale(threshold) < 0.6 {
            WHITE.mix(0.8)
        } else {
            BLACK.mix(0.7)
        };
        for piece in pieces {
            chart.draw_series(LineSeries::new(
                piece.into_iter().map(to_plane),
                colour.stroke_width(1),
            ))?;
        }
    }
    chart.draw_series(std::iter::once(Cross::new(
        (0.0, 0.0),
        6,
        RED.stroke_width(2),
    )))?;

    // The colour bar.
    let (bottom, top) = (lo, if hi > lo { hi } else { hi + 1.0 });
    let mut legend = ChartBuilder::on(&bar)
        .margin_top(46)
        .margin_bottom(58)
        .margin_right(10)
        .right_y_label_area_size(84)
        .build_cartesian_2d(0.0..1.0, bottom..top)?;
    let steps = 100;
    legend.draw_series((0..steps).map(|k| {
        let y0 = bottom + (top - bottom) * k as f64 / steps as f64;
        let y1 = bottom + (top - bottom) * (k + 1) as f64 / steps as f64;
        Rectangle::new(
            [(0.0, y0), (1.0, y1)],
            viridis((k as f64 + 0.5) / steps as f64).filled(),
        )
    }))?;
    legend
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(format!("loss ({} test images)", report.rows))
        .y_label_formatter(&tick)
        .label_style(LABEL_FONT)
        .axis_desc_style(DESC_FONT)
        .draw()?;
    for threshold in &thresholds {
        legend.draw_series(LineSeries::new(
            [(0.0, *threshold), (1.0, *threshold)],
            BLACK.mix(0.5).stroke_width(1),
        ))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bowl: every iso-line is one closed loop inside the grid, at the radius it should be.
    #[test]
    fn iso_lines_of_a_bowl_stay_inside_the_grid() {
        let n = 21;
        let grid: Vec<Vec<f64>> = (0..n)
            .map(|j| {
                (0..n)
                    .map(|i| {
                        let (x, y) = (i as f64 - 10.0, j as f64 - 10.0);
                        x * x + y * y
                    })
                    .collect()
            })
            .collect();
        let lines = iso_lines(&grid, &[25.0, 64.0]);
        assert_eq!(lines.len(), 2);
        for (threshold, pieces) in lines {
            assert_eq!(pieces.len(), 1, "one closed ring at {threshold}");
            for &(x, y) in &pieces[0] {
                let r = ((x - 10.0).powi(2) + (y - 10.0).powi(2)).sqrt();
                assert!((r - threshold.sqrt()).abs() < 0.2, "({x}, {y}) at r {r}");
            }
        }
    }

    /// A ramp rising along x: each iso-line is the vertical line at its level, without the pieces
    /// that close the ring around the grid's outside.
    #[test]
    fn iso_lines_of_a_ramp_are_cut_at_the_border() {
        let grid: Vec<Vec<f64>> = (0..5).map(|_| (0..9).map(|i| i as f64).collect()).collect();
        let lines = iso_lines(&grid, &[2.5]);
        let pieces = &lines[0].1;
        assert_eq!(pieces.len(), 1, "{pieces:?}");
        for &(x, y) in &pieces[0] {
            assert!((x - 2.5).abs() < 1e-9, "({x}, {y})");
            assert!((0.0..=4.0).contains(&y), "({x}, {y})");
        }
        let ys: Vec<f64> = pieces[0].iter().map(|p| p.1).collect();
        let (min, max) = finite_range(&ys).unwrap();
        assert_eq!((min, max), (0.0, 4.0), "the line spans the grid: {ys:?}");
    }

    #[test]
    fn non_finite_values_break_curves_and_do_not_panic() {
        let runs = finite_runs(
            &[0.0, 1.0, 2.0, 3.0, 4.0],
            &[1.0, f64::NAN, 2.0, 3.0, f64::INFINITY],
        );
        assert_eq!(runs, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
        let grid = vec![vec![1.0, f64::NAN], vec![f64::INFINITY, 2.0]];
        iso_lines(&grid, &[1.5]);
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(2.0), RGBColor(254, 232, 37));
    }
}
