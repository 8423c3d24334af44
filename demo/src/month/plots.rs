//! The report's plots, as SVG (plotters, SVG backend only): orders per day
//! by kind, time to close against the SLA, cards per cell, closure per cell.

use std::path::Path;

use plotters::prelude::*;

use super::report::Report;

const W: u32 = 900;
const H: u32 = 480;
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn e<E: std::fmt::Display>(x: E) -> String {
    format!("plot: {x}")
}

/// Writes the four plots into `dir`.
///
/// # Errors
/// A plot cannot be drawn or written.
pub fn write(dir: &Path, r: &Report) -> Result<(), String> {
    orders_per_day(&dir.join("orders_per_day.svg"), r)?;
    time_to_close(&dir.join("time_to_close.svg"), r)?;
    cards_per_cell(&dir.join("cards_per_cell.svg"), r)?;
    closure_per_cell(&dir.join("closure_per_cell.svg"), r)
}

fn orders_per_day(path: &Path, r: &Report) -> Result<(), String> {
    let kinds: Vec<String> = r.orders_by_kind.keys().cloned().collect();
    let days = r.per_day.len().max(1);
    let top = r
        .per_day
        .iter()
        .map(|d| d.values().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let mut ch = ChartBuilder::on(&root)
        .caption("Orders opened per day, by kind", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .right_y_label_area_size(0)
        .build_cartesian_2d(0f64..days as f64, 0f64..(top as f64 * 1.15))
        .map_err(e)?;
    ch.configure_mesh()
        .x_desc("day of the month")
        .y_desc("orders")
        .draw()
        .map_err(e)?;
    for (k, kind) in kinds.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let bars = r.per_day.iter().enumerate().map(|(d, m)| {
            let below: u64 = kinds[..k]
                .iter()
                .map(|x| m.get(x).copied().unwrap_or(0))
                .sum();
            let n = m.get(kind).copied().unwrap_or(0);
            Rectangle::new(
                [
                    (d as f64 + 0.1, below as f64),
                    (d as f64 + 0.9, (below + n) as f64),
                ],
                color.filled(),
            )
        });
        ch.draw_series(bars)
            .map_err(e)?
            .label(kind.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    ch.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

fn time_to_close(path: &Path, r: &Report) -> Result<(), String> {
    // Time to close as a share of the order's own close SLA, by urgency:
    // 1.0 is the deadline; beyond it, the order was closed late.
    let mut urgencies: Vec<String> = r.close_times.iter().map(|c| c.0.clone()).collect();
    urgencies.sort();
    urgencies.dedup();
    let bins = 24usize;
    let max_share = 2.4f64;
    let mut counts = vec![vec![0u64; bins]; urgencies.len()];
    for (u, t, sla) in &r.close_times {
        let share = if *sla > 0.0 { t / sla } else { 0.0 };
        let b = ((share / max_share * bins as f64) as usize).min(bins - 1);
        if let Some(i) = urgencies.iter().position(|x| x == u) {
            counts[i][b] += 1;
        }
    }
    let top = (0..bins)
        .map(|b| counts.iter().map(|c| c[b]).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let mut ch = ChartBuilder::on(&root)
        .caption(
            "Time to close, as a share of the close SLA (1.0 = deadline)",
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..max_share, 0f64..(top as f64 * 1.15))
        .map_err(e)?;
    ch.configure_mesh()
        .x_desc("time to close / close SLA (last bin: beyond)")
        .y_desc("closed orders")
        .draw()
        .map_err(e)?;
    let w = max_share / bins as f64;
    for (k, u) in urgencies.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let bars = (0..bins).map(|b| {
            let below: u64 = counts[..k].iter().map(|c| c[b]).sum();
            let x = b as f64 * w;
            Rectangle::new(
                [
                    (x + w * 0.05, below as f64),
                    (x + w * 0.95, (below + counts[k][b]) as f64),
                ],
                color.filled(),
            )
        });
        ch.draw_series(bars)
            .map_err(e)?
            .label(u.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    ch.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, 0.0), (1.0, top as f64 * 1.15)],
        RED.stroke_width(2),
    )))
    .map_err(e)?
    .label("SLA deadline")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], RED.stroke_width(2)));
    ch.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

fn cards_per_cell(path: &Path, r: &Report) -> Result<(), String> {
    let cells: Vec<&String> = r.per_cell.keys().collect();
    let n = cells.len().max(1);
    let top = r
        .per_cell
        .values()
        .map(|c| c.yellow.max(c.red).max(c.escalations))
        .max()
        .unwrap_or(0)
        .max(1);
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let labels: Vec<String> = cells.iter().map(|c| (*c).clone()).collect();
    let mut ch = ChartBuilder::on(&root)
        .caption("Cards per grid cell", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..n as f64, 0f64..(top as f64 * 1.2))
        .map_err(e)?;
    ch.configure_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 0.01 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("cards")
        .draw()
        .map_err(e)?;
    type Series = (
        &'static str,
        RGBColor,
        fn(&super::report::CellFigures) -> u64,
    );
    let series: [Series; 3] = [
        ("yellow cards", RGBColor(230, 190, 0), |c| c.yellow),
        ("red cards", RGBColor(214, 39, 40), |c| c.red),
        ("tier moves", RGBColor(31, 119, 180), |c| c.escalations),
    ];
    for (k, (name, color, f)) in series.into_iter().enumerate() {
        let bars = r.per_cell.values().enumerate().map(move |(i, c)| {
            let x = i as f64 + 0.15 + 0.24 * k as f64;
            Rectangle::new([(x, 0.0), (x + 0.22, f(c) as f64)], color.filled())
        });
        ch.draw_series(bars)
            .map_err(e)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    ch.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

fn closure_per_cell(path: &Path, r: &Report) -> Result<(), String> {
    let cells: Vec<String> = r.per_cell.keys().cloned().collect();
    let n = cells.len().max(1);
    let lo = r
        .per_cell
        .values()
        .map(|c| c.closure_rate)
        .fold(1.0f64, f64::min)
        .min(0.99)
        - 0.01;
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let mut ch = ChartBuilder::on(&root)
        .caption(
            "Closure rate per grid cell (due orders closed by the end)",
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n as f64, lo.max(0.0)..1.0f64)
        .map_err(e)?;
    ch.configure_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 0.01 {
                cells.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{:.2} %", y * 100.0))
        .draw()
        .map_err(e)?;
    let bars = r.per_cell.values().enumerate().map(|(i, c)| {
        Rectangle::new(
            [
                (i as f64 + 0.2, lo.max(0.0)),
                (i as f64 + 0.8, c.closure_rate),
            ],
            PALETTE[2].filled(),
        )
    });
    ch.draw_series(bars)
        .map_err(e)?
        .label("closure rate")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], PALETTE[2].filled()));
    ch.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 0.9991), (n as f64, 0.9991)],
        RED.stroke_width(2),
    )))
    .map_err(e)?
    .label("target 99.91 %")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], RED.stroke_width(2)));
    ch.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_plots_are_svg_files() {
        let dir = tempfile::tempdir().expect("dir");
        let mut r = Report {
            per_day: vec![[("fire".to_string(), 2u64)].into_iter().collect(); 3],
            close_times: vec![
                ("immediate".into(), 600.0, 3600.0),
                ("urgent".into(), 40_000.0, 28_800.0),
            ],
            ..Report::default()
        };
        r.orders_by_kind.insert("fire".into(), 6);
        r.per_cell.insert(
            "g01".into(),
            super::super::report::CellFigures {
                yellow: 2,
                red: 1,
                closure_rate: 1.0,
                ..Default::default()
            },
        );
        write(dir.path(), &r).expect("plots");
        for f in [
            "orders_per_day.svg",
            "time_to_close.svg",
            "cards_per_cell.svg",
            "closure_per_cell.svg",
        ] {
            let s = std::fs::read_to_string(dir.path().join(f)).expect(f);
            assert!(s.starts_with("<svg") && s.contains("<rect"), "{f}");
        }
    }
}
