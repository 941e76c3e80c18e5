//! SVG charts of a run (plotters): logins/s against concurrency (a line per idle-page count),
//! and notify latency and server CPU per login against idle pages (at the highest
//! concurrency), every figure also as a ratio to `verify_strict`.

use std::path::Path;

use plotters::prelude::*;

use crate::Row;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

const COLORS: [RGBColor; 5] = [BLUE, RED, GREEN, MAGENTA, BLACK];

/// Writes `logins.svg`, `notify.svg` and `cpu.svg` into `dir`.
pub(crate) fn all(dir: &Path, rows: &[Row], verify_per_second: f64) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(err)?;
    logins(&dir.join("logins.svg"), rows, verify_per_second)?;
    let top = rows.iter().map(|r| r.concurrency).max().unwrap_or(0);
    let at_top: Vec<&Row> = rows.iter().filter(|r| r.concurrency == top).collect();
    notify(&dir.join("notify.svg"), &at_top, top)?;
    cpu(&dir.join("cpu.svg"), &at_top, top)
}

fn logins(path: &Path, rows: &[Row], verify_per_second: f64) -> Result<(), String> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let max_c = rows.iter().map(|r| r.concurrency).max().unwrap_or(1) as f64;
    let max_r = rows.iter().map(|r| r.rate).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Whole logins/s against concurrency (verify_strict, median: {verify_per_second:.0}/s)"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_c * 1.05, 0.0..max_r)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("concurrent logins")
        .y_desc("logins/s")
        .draw()
        .map_err(err)?;
    let mut idles: Vec<usize> = rows.iter().map(|r| r.idle).collect();
    idles.dedup();
    for (i, idle) in idles.iter().enumerate() {
        let color = COLORS.get(i % COLORS.len()).copied().unwrap_or(BLACK);
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.idle == *idle)
            .map(|r| (r.concurrency as f64, r.rate))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(format!("{idle} idle waiting pages"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

fn notify(path: &Path, rows: &[&Row], concurrency: usize) -> Result<(), String> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let max_i = rows.iter().map(|r| r.idle).max().unwrap_or(1).max(1) as f64;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let max_l = rows.iter().map(|r| ms(r.notify99)).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Ident reply → \"confirmed\" on the page ({concurrency} concurrent logins)"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_i * 1.05, 0.0..max_l)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("idle waiting pages")
        .y_desc("ms")
        .draw()
        .map_err(err)?;
    for (label, color, pick) in [
        (
            "p50",
            BLUE,
            (|r: &Row| r.notify50) as fn(&Row) -> std::time::Duration,
        ),
        ("p99", RED, |r: &Row| r.notify99),
    ] {
        let points: Vec<(f64, f64)> = rows.iter().map(|r| (r.idle as f64, ms(pick(r)))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

fn cpu(path: &Path, rows: &[&Row], concurrency: usize) -> Result<(), String> {
    let points: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.idle as f64, r.cpu_vs?)))
        .collect();
    if points.is_empty() {
        return Ok(()); // no --server-pid: no CPU figures
    }
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let max_i = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let max_v = points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Server CPU per whole login, in verify_strict calls ({concurrency} concurrent)"
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_i * 1.05, 0.0..max_v)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("idle waiting pages")
        .y_desc("× verify_strict")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2)))
        .map_err(err)?;
    chart
        .draw_series(points.into_iter().map(|p| Circle::new(p, 3, BLUE.filled())))
        .map_err(err)?;
    root.present().map_err(err)
}
