//! Charts with `plotters`, as SVG and PNG: the frontier of a campaign (loss vs latency in ms,
//! the budget line, feasible / over-budget / failed marked apart, the frontier as a step
//! line), the hypervolume per evaluation, and the generic [`Chart`] the audit, the
//! depth–width study and the strategy benchmark draw with. Ticks are plotters' round ones;
//! axes that count (evaluations) carry integer ticks only. Text is drawn with the bundled
//! DejaVu Sans (`assets/`), so no system font is needed.

use crate::error::{Error, Result};
use crate::journal::RecordStatus;
use crate::store::{count_status, load_records, pareto_flags};
use flashnas_model::LayerKind;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

const SIZE: (u32, u32) = (760, 500);
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
];

fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../assets/DejaVuSans.ttf"),
        );
    });
}

/// One series: points drawn as dots and/or joined, with an optional label per point.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub labels: Vec<String>,
    pub line: bool,
    pub dots: bool,
    pub dashed: bool,
    /// Colour slot (series of one group share a colour).
    pub group: usize,
}

/// A vertical interval at `x` (a mean's confidence interval), in its group's colour.
pub struct ErrorBar {
    pub x: f64,
    pub low: f64,
    pub high: f64,
    pub group: usize,
}

/// A chart of several series with a legend; `vlines` are labelled vertical markers (latency
/// budgets), `diagonal` draws y = x, `integer_x` keeps only whole-number ticks on x.
pub struct Chart<'a> {
    pub title: &'a str,
    pub xlabel: &'a str,
    pub ylabel: &'a str,
    pub series: &'a [Series],
    pub vlines: &'a [(f64, String)],
    pub diagonal: bool,
    pub integer_x: bool,
    /// Vertical intervals drawn under the points (empty: none).
    pub error_bars: &'a [ErrorBar],
}

fn padded(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
            (l.min(x), h.max(x))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.06).max(hi.abs() * 1e-3).max(1e-9);
    (lo - pad, hi + pad)
}

/// A tick label with the digits the tick spacing needs (about 8 ticks over `span`).
fn tick(v: f64, span: f64) -> String {
    let step = (span.abs() / 8.0).max(1e-12);
    let digits = (-step.log10().floor()).clamp(0.0, 8.0) as usize;
    let s = format!("{v:.digits$}");
    if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s[1..].to_string()
    } else {
        s
    }
}

impl Chart<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        fonts();
        let e = |x: plotters::drawing::DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
        root.fill(&WHITE).map_err(e)?;
        let finite = |f: fn(&(f64, f64)) -> f64| {
            self.series
                .iter()
                .flat_map(move |s| s.points.iter().map(f))
                .collect::<Vec<f64>>()
        };
        let (mut x0, mut x1) = padded(
            finite(|p| p.0)
                .into_iter()
                .chain(self.vlines.iter().map(|v| v.0)),
        );
        let (mut y0, mut y1) = padded(
            finite(|p| p.1)
                .into_iter()
                .chain(self.error_bars.iter().flat_map(|b| [b.low, b.high])),
        );
        if self.diagonal {
            (x0, x1) = (x0.min(y0), x1.max(y1));
            (y0, y1) = (x0, x1);
        }
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e)?;
        let (xspan, yspan) = (x1 - x0, y1 - y0);
        let integer_x = self.integer_x;
        let xfmt = move |v: &f64| {
            if integer_x {
                if (v - v.round()).abs() < 1e-9 {
                    format!("{}", v.round() as i64)
                } else {
                    String::new()
                }
            } else {
                tick(*v, xspan)
            }
        };
        let yfmt = move |v: &f64| tick(*v, yspan);
        chart
            .configure_mesh()
            .x_desc(self.xlabel)
            .y_desc(self.ylabel)
            .x_labels(if integer_x {
                (xspan.round() as usize + 1).clamp(2, 11)
            } else {
                8
            })
            .y_labels(8)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.08))
            .draw()
            .map_err(e)?;
        if self.diagonal {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, y0), (x1, y1)],
                    5,
                    4,
                    BLACK.mix(0.4).stroke_width(1),
                ))
                .map_err(e)?;
        }
        for (x, label) in self.vlines {
            let red = RGBColor(0xc3, 0x33, 0x33);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(*x, y0), (*x, y1)],
                    6,
                    4,
                    red.stroke_width(1),
                ))
                .map_err(e)?;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((*x, y0))
                        + Text::new(
                            label.clone(),
                            (-4, -4),
                            ("sans-serif", 11)
                                .into_font()
                                .color(&red)
                                .pos(Pos::new(HPos::Right, VPos::Bottom)),
                        ),
                ))
                .map_err(e)?;
        }
        for b in self.error_bars {
            let color = PALETTE[b.group % PALETTE.len()];
            let cap = (x1 - x0) * 0.006;
            let style = color.stroke_width(1);
            for seg in [
                vec![(b.x, b.low), (b.x, b.high)],
                vec![(b.x - cap, b.low), (b.x + cap, b.low)],
                vec![(b.x - cap, b.high), (b.x + cap, b.high)],
            ] {
                chart.draw_series(LineSeries::new(seg, style)).map_err(e)?;
            }
        }
        for s in self.series.iter().filter(|s| !s.points.is_empty()) {
            let color = PALETTE[s.group % PALETTE.len()];
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            let legend_style = color.stroke_width(2);
            let mut drew_legend = false;
            if s.line && pts.len() > 1 {
                let anno = if s.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(
                            pts.clone(),
                            6,
                            4,
                            color.stroke_width(1),
                        ))
                        .map_err(e)?
                } else {
                    chart
                        .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                        .map_err(e)?
                };
                if !s.name.is_empty() {
                    anno.label(s.name.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], legend_style)
                    });
                    drew_legend = true;
                }
            }
            if s.dots {
                let anno = chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(e)?;
                if !s.name.is_empty() && !drew_legend {
                    anno.label(s.name.clone())
                        .legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
                }
                let labelled = s
                    .points
                    .iter()
                    .zip(&s.labels)
                    .filter(|(p, l)| p.0.is_finite() && p.1.is_finite() && !l.is_empty());
                chart
                    .draw_series(labelled.map(|(&p, l)| {
                        EmptyElement::at(p) + Text::new(l.clone(), (6, -14), ("sans-serif", 10))
                    }))
                    .map_err(e)?;
            }
        }
        if self
            .series
            .iter()
            .any(|s| !s.name.is_empty() && !s.points.is_empty())
        {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font(("sans-serif", 12))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()
                .map_err(e)?;
        }
        root.present().map_err(e)?;
        Ok(())
    }

    pub fn svg(&self) -> String {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
            if let Err(e) = self.draw(&root) {
                return format!("<svg xmlns=\"http://www.w3.org/2000/svg\"><text y=\"20\">chart: {e}</text></svg>");
            }
        }
        out
    }

    /// Renders to a temp file beside `path` (its `.png` tells the encoder the format), then
    /// renames it: a failed write leaves neither a torn picture nor the temp file.
    pub fn png(&self, path: &Path) -> Result<()> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp-{}.png", std::process::id()));
        let drawn = {
            let root = BitMapBackend::new(&tmp, SIZE).into_drawing_area();
            self.draw(&root)
        };
        let done = drawn.and_then(|_| {
            flashnas_model::fsio::injected_fault(path)
                .and_then(|_| std::fs::rename(&tmp, path))
                .map_err(|e| flashnas_model::fsio::reason(&e))
        });
        if let Err(e) = done {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::file(path, format!("cannot write: {e}")));
        }
        Ok(())
    }

    /// Writes `stem.svg` and `stem.png` into `dir`; returns both paths.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        let svg = dir.join(format!("{stem}.svg"));
        flashnas_model::fsio::write_atomic(&svg, self.svg().as_bytes()).map_err(|e| {
            Error::file(
                &svg,
                format!("cannot write: {}", flashnas_model::fsio::reason(&e)),
            )
        })?;
        let png = dir.join(format!("{stem}.png"));
        self.png(&png)?;
        Ok(vec![svg, png])
    }
}

/// The SVG of a chart (what the audit, the study and the benchmark embed).
pub fn chart(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[Series],
    vlines: &[(f64, String)],
    diagonal: bool,
) -> String {
    Chart {
        title,
        xlabel,
        ylabel,
        series,
        vlines,
        diagonal,
        integer_x: false,
        error_bars: &[],
    }
    .svg()
}

/// Writes `frontier.{svg,png}` (loss vs decode latency in ms: feasible candidates filled,
/// over-budget ones hollow, the frontier as a step line, the budget dashed) and
/// `hypervolume.{svg,png}` (per evaluation, integer ticks) into `out_dir`.
pub fn plot(dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let (cfg, records, _) = load_records(dir)?;
    let trained: Vec<usize> = (0..records.len())
        .filter(|&i| {
            records[i].status == RecordStatus::Ok
                && records[i].latency.seconds.is_some()
                && records[i].rung.is_none()
        })
        .collect();
    if trained.is_empty() {
        return Err(Error::Analysis(format!(
            "{}: no successful candidates to plot yet",
            dir.display()
        )));
    }
    let flags = pareto_flags(&cfg, &records);
    let ms = |s: f64| s * 1e3;
    let point = |i: usize| (ms(records[i].latency()), records[i].loss());
    // The attained region's boundary: a step down at each frontier point (a front that
    // ranks recall too is not a staircase in this projection: its members are labelled).
    let staircase = cfg.objectives.frontier().len() == 2;
    let mut front: Vec<usize> = trained
        .iter()
        .copied()
        .filter(|&i| staircase && flags[i])
        .collect();
    front.sort_by(|&a, &b| records[a].latency().total_cmp(&records[b].latency()));
    let mut steps = Vec::new();
    for (k, &i) in front.iter().enumerate() {
        let (x, y) = point(i);
        if k > 0 {
            steps.push((x, steps.last().map_or(y, |p: &(f64, f64)| p.1)));
        }
        steps.push((x, y));
    }
    let over = count_status(&records, RecordStatus::OverBudget);
    let failed = count_status(&records, RecordStatus::Failed);
    let series = vec![
        Series {
            name: "frontier".into(),
            points: steps,
            labels: Vec::new(),
            line: true,
            dots: false,
            dashed: false,
            group: 0,
        },
        Series {
            name: "within the budget".into(),
            points: trained
                .iter()
                .filter(|&&i| records[i].feasible)
                .map(|&i| point(i))
                .collect(),
            labels: trained
                .iter()
                .filter(|&&i| records[i].feasible)
                .map(|&i| {
                    if flags[i] {
                        format!("#{i}")
                    } else {
                        String::new()
                    }
                })
                .collect(),
            line: false,
            dots: true,
            dashed: false,
            group: 0,
        },
        Series {
            name: "over the budget (trained)".into(),
            points: trained
                .iter()
                .filter(|&&i| !records[i].feasible)
                .map(|&i| point(i))
                .collect(),
            labels: Vec::new(),
            line: false,
            dots: true,
            dashed: false,
            group: 7,
        },
    ];
    let budget: Vec<(f64, String)> = cfg
        .latency
        .budget_seconds()
        .map(|b| (ms(b), format!("budget {:.3} ms", ms(b))))
        .into_iter()
        .collect();
    let title = format!(
        "{}: proxy loss vs decode latency ({over} over budget untrained, {failed} failed)",
        cfg.name
    );
    let mut written = Chart {
        title: &title,
        xlabel: "decode latency (ms)",
        ylabel: "validation loss (nats/token)",
        series: &series,
        vlines: &budget,
        diagonal: false,
        integer_x: false,
        error_bars: &[],
    }
    .write(out_dir, "frontier")?;
    if trained.iter().any(|&i| records[i].recall().is_some()) {
        let with: Vec<usize> = trained
            .iter()
            .copied()
            .filter(|&i| records[i].recall().is_some())
            .collect();
        let at = |i: usize| {
            (
                ms(records[i].latency()),
                100.0 * records[i].recall().unwrap_or(0.0),
            )
        };
        let series = vec![
            Series {
                name: "frontier".into(),
                points: with.iter().copied().filter(|&i| flags[i]).map(at).collect(),
                labels: with
                    .iter()
                    .filter(|&&i| flags[i])
                    .map(|i| format!("#{i}"))
                    .collect(),
                line: false,
                dots: true,
                dashed: false,
                group: 1,
            },
            Series {
                name: "other candidates".into(),
                points: with
                    .iter()
                    .copied()
                    .filter(|&i| !flags[i])
                    .map(at)
                    .collect(),
                labels: Vec::new(),
                line: false,
                dots: true,
                dashed: false,
                group: 0,
            },
        ];
        let title = format!("{}: recall probe accuracy vs decode latency", cfg.name);
        written.extend(
            Chart {
                title: &title,
                xlabel: "decode latency (ms)",
                ylabel: "recall accuracy (%)",
                series: &series,
                vlines: &budget,
                diagonal: false,
                integer_x: false,
                error_bars: &[],
            }
            .write(out_dir, "recall")?,
        );
    }
    let hv = vec![Series {
        name: String::new(),
        points: records
            .iter()
            .enumerate()
            .map(|(k, r)| ((k + 1) as f64, r.hypervolume))
            .collect(),
        labels: Vec::new(),
        line: true,
        dots: false,
        dashed: false,
        group: 0,
    }];
    let title = format!("{}: hypervolume per evaluation", cfg.name);
    written.extend(
        Chart {
            title: &title,
            xlabel: "evaluations",
            ylabel: "hypervolume (loss × s)",
            series: &hv,
            vlines: &[],
            diagonal: false,
            integer_x: true,
            error_bars: &[],
        }
        .write(out_dir, "hypervolume")?,
    );
    // Against training compute: cumulative evaluation seconds, in hours.
    let mut spent = 0.0;
    let per_hour = vec![Series {
        name: String::new(),
        points: records
            .iter()
            .map(|r| {
                spent += r.eval_seconds;
                (spent / 3600.0, r.hypervolume)
            })
            .collect(),
        labels: Vec::new(),
        line: true,
        dots: true,
        dashed: false,
        group: 0,
    }];
    let title = format!("{}: hypervolume per hour of evaluation", cfg.name);
    written.extend(
        Chart {
            title: &title,
            xlabel: "evaluation time (hours, cumulative)",
            ylabel: "hypervolume (loss × s)",
            series: &per_hour,
            vlines: &[],
            diagonal: false,
            integer_x: false,
            error_bars: &[],
        }
        .write(out_dir, "hypervolume_per_hour")?,
    );
    // Loss vs latency coloured by which mixers a candidate uses.
    let mix = |i: usize| {
        let kinds: std::collections::BTreeSet<&str> = records[i]
            .kinds()
            .filter(|k| k.is_mixer())
            .map(|k| k.name())
            .collect();
        match kinds.len() {
            1 => kinds.into_iter().next().unwrap_or("").to_string(),
            _ => "mixed".to_string(),
        }
    };
    let groups: Vec<&str> = LayerKind::MIXERS
        .iter()
        .map(|k| k.name())
        .chain(["mixed"])
        .collect();
    let by_mix: Vec<Series> = groups
        .iter()
        .enumerate()
        .map(|(g, name)| Series {
            name: name.to_string(),
            points: trained
                .iter()
                .filter(|&&i| mix(i) == *name)
                .map(|&i| point(i))
                .collect(),
            labels: Vec::new(),
            line: false,
            dots: true,
            dashed: false,
            group: g + 1,
        })
        .collect();
    let title = format!("{}: loss vs latency by mixer composition", cfg.name);
    written.extend(
        Chart {
            title: &title,
            xlabel: "decode latency (ms)",
            ylabel: "validation loss (nats/token)",
            series: &by_mix,
            vlines: &budget,
            diagonal: false,
            integer_x: false,
            error_bars: &[],
        }
        .write(out_dir, "composition")?,
    );
    Ok(written)
}
