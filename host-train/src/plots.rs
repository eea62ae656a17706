//! PNG plots of a nested-CV report: the summed confusion matrix and per-fold macro-F1 of the
//! model against the baselines; with a cry head, the ROC curves of the cry head and the energy
//! gate and the false alarms per hour of every detector.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary (the `dejavu` crate), so the plots
//! look the same on every machine and need no system font; `CRY_PLOT_FONT` may name another
//! TrueType file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::fsx;
use crate::report::NestedReport;
use crate::report::detection::DetectionReport;

/// The family name the font is registered under.
const FAMILY: &str = "cry-plot";

/// Registers the font once; why it could not be, if so.
fn font() -> &'static Result<(), String> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let bytes: &'static [u8] = match std::env::var_os("CRY_PLOT_FONT").map(PathBuf::from) {
            Some(path) => {
                let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                // Registered fonts live for the whole process.
                Box::leak(bytes.into_boxed_slice())
            }
            None => dejavu::sans::regular(),
        };
        plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
            .map_err(|_| "CRY_PLOT_FONT is not a usable TrueType font".to_string())
    })
}

/// Writes the confusion matrix to `confusion` and the per-fold macro-F1 to `folds` (PNG files,
/// each atomically). Returns the files written (none when `CRY_PLOT_FONT` names an unusable
/// font).
pub fn write_all(
    confusion: &Path,
    folds: &Path,
    detection_plots: (&Path, &Path),
    report: &NestedReport,
) -> anyhow::Result<Vec<PathBuf>> {
    if let Err(reason) = font() {
        log::warn!("plots skipped: {reason}");
        return Ok(Vec::new());
    }
    fsx::write_with(confusion, |tmp| {
        confusion_png(tmp, &report.reasons, &report.confusion)
    })
    .with_context(|| format!("failed to draw {}", confusion.display()))?;
    fsx::write_with(folds, |tmp| folds_png(tmp, report))
        .with_context(|| format!("failed to draw {}", folds.display()))?;
    let mut written = vec![confusion.to_path_buf(), folds.to_path_buf()];
    if let Some(detection) = &report.detection {
        fsx::write_with(detection_plots.0, |tmp| roc_png(tmp, detection))
            .with_context(|| format!("failed to draw {}", detection_plots.0.display()))?;
        fsx::write_with(detection_plots.1, |tmp| alerts_png(tmp, detection))
            .with_context(|| format!("failed to draw {}", detection_plots.1.display()))?;
        written.extend([
            detection_plots.0.to_path_buf(),
            detection_plots.1.to_path_buf(),
        ]);
    }
    Ok(written)
}

/// The pooled ROC curves of the cry head and the energy gate, with the chance diagonal.
fn roc_png(path: &Path, detection: &DetectionReport) -> anyhow::Result<()> {
    let root = BitMapBackend::new(path, (520, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Cry detection: ROC, pooled over outer folds", (FAMILY, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("false positive rate (non-cry clips)")
        .y_desc("true positive rate (cry clips)")
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .draw()
        .map_err(err)?;
    let gray = RGBColor(150, 150, 150);
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            gray.stroke_width(1),
        ))
        .map_err(err)?
        .label("chance")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], gray.stroke_width(1)));
    let auc = |name: &str| {
        detection
            .detectors
            .iter()
            .find(|d| d.name == name)
            .map_or(0.0, |d| d.summary.roc_auc.mean)
    };
    for (name, points, color) in [
        ("energy gate", &detection.energy_roc, RGBColor(40, 90, 200)),
        ("cry head", &detection.roc, RGBColor(200, 30, 30)),
    ] {
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(format!("{name} (mean fold AUC {:.3})", auc(name)))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    legend_and_present(&mut chart, &root, Some(SeriesLabelPosition::LowerRight))
}

/// False alarms per hour of non-cry audio, per detector (pooled over folds), with the budget.
fn alerts_png(path: &Path, detection: &DetectionReport) -> anyhow::Result<()> {
    let rates: Vec<(String, f64)> = detection
        .detectors
        .iter()
        .map(|d| {
            (
                d.name.clone(),
                d.alerts.false_alarms_per_hour.unwrap_or(0.0),
            )
        })
        .collect();
    let top = rates
        .iter()
        .map(|r| r.1)
        .fold(detection.max_false_alarms_per_hour, f64::max)
        .max(1.0)
        * 1.15;
    let n = rates.len();
    let root = BitMapBackend::new(path, (620, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("False alarms per hour of non-cry audio", (FAMILY, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top)
        .map_err(err)?;
    let names: Vec<String> = rates.iter().map(|r| r.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("false alarms / h")
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .draw()
        .map_err(err)?;
    let red = RGBColor(200, 30, 30);
    let blue = RGBColor(40, 90, 200);
    chart
        .draw_series(rates.iter().enumerate().map(|(i, (name, r))| {
            let color = if name == "cry head" { red } else { blue };
            Rectangle::new(
                [(i as f64 - 0.3, 0.0), (i as f64 + 0.3, *r)],
                color.filled(),
            )
        }))
        .map_err(err)?;
    let budget = detection.max_false_alarms_per_hour;
    chart
        .draw_series(LineSeries::new(
            vec![(-0.5, budget), (n as f64 - 0.5, budget)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?
        .label(format!("budget: {budget} / h"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(1)));
    legend_and_present(&mut chart, &root, None)
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Draws the series legend (at `position`, else plotters' default place) and writes the file.
fn legend_and_present<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    root: &DrawingArea<DB, Shift>,
    position: Option<SeriesLabelPosition>,
) -> anyhow::Result<()> {
    let mut legend = chart.configure_series_labels();
    if let Some(position) = position {
        legend.position(position);
    }
    legend
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Counts with cells shaded by the share of their true class (row).
fn confusion_png(path: &Path, labels: &[String], counts: &[Vec<usize>]) -> anyhow::Result<()> {
    let n = labels.len();
    let root =
        BitMapBackend::new(path, (160 + 90 * n as u32, 140 + 90 * n as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Confusion matrix, summed over outer folds", (FAMILY, 18))
        .margin(10)
        .x_label_area_size(50)
        .y_label_area_size(110)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), -0.5f64..(n as f64 - 0.5))
        .map_err(err)?;
    // Cell (p, y) is centred on integer coordinates; rows are drawn top to bottom in label
    // order, so true class t sits at y = n - 1 - t.
    let name = |v: &f64, flip: bool| {
        let i = v.round();
        if (v - i).abs() > 1e-6 || i < 0.0 || i >= n as f64 {
            return String::new();
        }
        let i = i as usize;
        labels[if flip { n - 1 - i } else { i }].clone()
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("predicted")
        .y_desc("true")
        .x_labels(n)
        .y_labels(n)
        .x_label_formatter(&|v| name(v, false))
        .y_label_formatter(&|v| name(v, true))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .draw()
        .map_err(err)?;
    for (t, row) in counts.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        for (p, &count) in row.iter().enumerate() {
            let share = count as f64 / total;
            let shade = (255.0 * (1.0 - 0.85 * share)) as u8;
            let y = n - 1 - t;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (p as f64 - 0.5, y as f64 - 0.5),
                        (p as f64 + 0.5, y as f64 + 0.5),
                    ],
                    RGBColor(shade, shade, 255).filled(),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    count.to_string(),
                    (p as f64 - 0.1, y as f64 + 0.1),
                    (FAMILY, 16).into_font().color(&BLACK),
                )))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Macro-F1 per outer fold: the model and every baseline.
fn folds_png(path: &Path, report: &NestedReport) -> anyhow::Result<()> {
    let folds = report.folds.len();
    let root = BitMapBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Macro F1 per outer fold", (FAMILY, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5f64..(folds as f64 - 0.5), 0f64..1f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(folds)
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .x_desc("outer fold")
        .y_desc("macro F1")
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .draw()
        .map_err(err)?;
    let mut series: Vec<(String, Vec<f64>, RGBColor)> = vec![(
        "model".into(),
        report.folds.iter().map(|f| f.metrics.macro_f1).collect(),
        RGBColor(200, 30, 30),
    )];
    let palette = [
        RGBColor(40, 90, 200),
        RGBColor(30, 150, 60),
        RGBColor(120, 120, 120),
    ];
    for (b, color) in report.baselines.iter().zip(palette.iter().cycle()) {
        series.push((
            b.baseline.name().to_string(),
            b.folds.iter().map(|f| f.metrics.macro_f1).collect(),
            *color,
        ));
    }
    // The model last, so it stays visible where it equals a baseline (a model that always
    // predicts the majority class draws exactly the majority line).
    series.rotate_left(1);
    for (name, values, color) in series {
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as f64, v))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )
            .map_err(err)?;
    }
    legend_and_present(&mut chart, &root, None)
}
