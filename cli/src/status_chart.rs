//! The status history drawn into a PNG: plotters' bitmap backend into a plain
//! RGB buffer, encoded by `png`. No text is drawn (that would need fonts from
//! the system or bundled): the axes are described on the command line instead.

use plotters::prelude::*;
use rampart_domain::status_history::{MetricSummary, StatusHistoryView, StatusPoint};
use std::path::Path;

pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 360;

const CPU: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const MEMORY: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const DISK: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);

/// Which metric of a bucket a line shows.
type MetricOf = fn(&StatusPoint) -> &MetricSummary;

fn millis(rfc3339: &str) -> anyhow::Result<i64> {
    Ok(chrono::DateTime::parse_from_rfc3339(rfc3339)?.timestamp_millis())
}

/// A lighter shade of `c` for the maxima.
fn light(c: RGBColor) -> RGBColor {
    let up = |v: u8| v + (255 - v) / 2;
    RGBColor(up(c.0), up(c.1), up(c.2))
}

/// Runs of adjacent buckets: a line is broken where buckets are missing (no
/// check-ins), instead of drawn across the gap.
fn runs(points: &[StatusPoint], width_ms: i64) -> anyhow::Result<Vec<Vec<(i64, &StatusPoint)>>> {
    let mut runs: Vec<Vec<(i64, &StatusPoint)>> = Vec::new();
    let mut last: Option<i64> = None;
    for p in points {
        let t = millis(&p.start)?;
        match (last, runs.last_mut()) {
            (Some(prev), Some(run)) if t - prev <= width_ms => run.push((t, p)),
            _ => runs.push(vec![(t, p)]),
        }
        last = Some(t);
    }
    Ok(runs)
}

/// Draws the chart into an RGB buffer of `WIDTH` × `HEIGHT`.
pub fn render(view: &StatusHistoryView) -> anyhow::Result<Vec<u8>> {
    let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    let (since, until) = (millis(&view.since)?, millis(&view.until)?);
    let width_ms = view.bucket_secs as i64 * 1000;
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .build_cartesian_2d(since..until.max(since + 1), 0f64..100f64)
            .map_err(draw_error)?;
        // Horizontal lines at 0, 25, 50, 75 and 100 %, and the plot's sides.
        for y in [0.0, 25.0, 50.0, 75.0, 100.0] {
            chart
                .draw_series(LineSeries::new([(since, y), (until, y)], GRID))
                .map_err(draw_error)?;
        }
        for x in [since, until] {
            chart
                .draw_series(LineSeries::new([(x, 0.0), (x, 100.0)], GRID))
                .map_err(draw_error)?;
        }
        let metrics: [(RGBColor, MetricOf); 3] = [
            (DISK, |p| &p.disk),
            (MEMORY, |p| &p.memory),
            (CPU, |p| &p.cpu),
        ];
        let runs = runs(&view.points, width_ms)?;
        for (color, metric) in metrics {
            for run in &runs {
                // The middle of each bucket; a lone bucket is a short flat line.
                let at = |t: i64| t + width_ms / 2;
                let line = |value: fn(&MetricSummary) -> f64| -> Vec<(i64, f64)> {
                    if run.len() == 1 {
                        let (t, p) = run[0];
                        vec![(t, value(metric(p))), (t + width_ms, value(metric(p)))]
                    } else {
                        run.iter()
                            .map(|(t, p)| (at(*t), value(metric(p))))
                            .collect()
                    }
                };
                chart
                    .draw_series(LineSeries::new(line(|m| m.max), light(color)))
                    .map_err(draw_error)?;
                chart
                    .draw_series(LineSeries::new(line(|m| m.avg), color.stroke_width(2)))
                    .map_err(draw_error)?;
            }
        }
        root.present().map_err(draw_error)?;
    }
    Ok(buf)
}

fn draw_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {e}")
}

/// Draws the chart and writes it to `path` as a PNG.
pub fn write_png(view: &StatusHistoryView, path: &Path) -> anyhow::Result<()> {
    let pixels = render(view)?;
    let file = std::fs::File::create(path)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(())
}

/// What the chart shows, for the terminal (the image carries no text).
pub fn describe(view: &StatusHistoryView, path: &Path) -> String {
    format!(
        "Wrote {} ({WIDTH}x{HEIGHT} PNG, {} buckets of {}): x from {} to {}; \
         y 0-100 % with a line every 25 %; red CPU, blue memory, green disk; \
         dark: average, light: maximum per bucket.",
        path.display(),
        view.points.len(),
        crate::history_cmd::human_span(view.bucket_secs),
        view.since,
        view.until
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::Timestamp;
    use rampart_domain::status_history::{HistoryRange, StatusSample, downsample};

    fn view() -> StatusHistoryView {
        let now = Timestamp::from_millis(1_764_072_000_000);
        let samples: Vec<StatusSample> = (0..600)
            .filter(|m| !(200..300).contains(m))
            .map(|m| {
                StatusSample::at(
                    now.minus(std::time::Duration::from_secs(60 * m)),
                    90.0,
                    50.0,
                    10.0,
                )
            })
            .collect();
        let range = HistoryRange::new(
            now.minus(std::time::Duration::from_secs(600 * 60)),
            now,
            100,
            now,
        )
        .unwrap();
        StatusHistoryView {
            since: range.since().to_rfc3339(),
            until: range.until().to_rfc3339(),
            bucket_secs: (range.bucket_width_ms() / 1000) as u64,
            points: downsample(&samples, &range),
        }
    }

    fn pixel(buf: &[u8], x: u32, y: u32) -> RGBColor {
        let i = ((y * WIDTH + x) * 3) as usize;
        RGBColor(buf[i], buf[i + 1], buf[i + 2])
    }

    /// The row where a value of `percent` is drawn (the plot spans the height
    /// minus the 12-pixel margins).
    fn row(percent: f64) -> u32 {
        let top = 12.0;
        let bottom = f64::from(HEIGHT) - 12.0;
        (bottom - (bottom - top) * percent / 100.0).round() as u32
    }

    #[test]
    fn the_lines_are_where_the_values_are_and_gaps_stay_empty() {
        let v = view();
        let buf = render(&v).unwrap();
        let x = WIDTH / 4;
        let near = |percent: f64, color: RGBColor| {
            (row(percent).saturating_sub(2)..=row(percent) + 2).any(|y| pixel(&buf, x, y) == color)
        };
        assert!(near(90.0, CPU), "CPU line at 90 %");
        assert!(near(50.0, MEMORY), "memory line at 50 %");
        assert!(near(10.0, DISK), "disk line at 10 %");
        // The 100 minutes without samples (about 45-60 % of the width from the
        // left is 300..200 minutes ago) hold no CPU line.
        let gap_x = (f64::from(WIDTH) * 0.58) as u32;
        assert!(
            (0..HEIGHT).all(|y| pixel(&buf, gap_x, y) != CPU),
            "no line across the gap"
        );
    }

    #[test]
    fn the_png_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.png");
        write_png(&view(), &path).unwrap();
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        assert!(describe(&view(), &path).contains("red CPU"));
    }
}
