//! SVG plots of a campaign: latency vs proxy loss with the frontier highlighted, and the
//! hypervolume after each evaluation. Plain SVG, no font or system dependency.

use crate::error::{Error, Result};
use crate::journal::RecordStatus;
use crate::store::{load_records, pareto_flags};
use std::fmt::Write;
use std::path::{Path, PathBuf};

struct Axes {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

const W: f64 = 720.0;
const H: f64 = 480.0;
const L: f64 = 80.0;
const B: f64 = 60.0;

impl Axes {
    fn px(&self, x: f64) -> f64 {
        L + (x - self.x0) / (self.x1 - self.x0).max(1e-12) * (W - L - 20.0)
    }
    fn py(&self, y: f64) -> f64 {
        H - B - (y - self.y0) / (self.y1 - self.y0).max(1e-12) * (H - B - 40.0)
    }
}

fn frame(svg: &mut String, ax: &Axes, title: &str, xlabel: &str, ylabel: &str) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>"#
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{title}</text>"#,
        W / 2.0
    );
    let _ = write!(
        svg,
        r#"<line x1="{L}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{L}" y1="40" x2="{L}" y2="{}" stroke="black"/>"#,
        H - B,
        W - 20.0,
        H - B,
        H - B
    );
    for k in 0..=4 {
        let x = ax.x0 + (ax.x1 - ax.x0) * k as f64 / 4.0;
        let y = ax.y0 + (ax.y1 - ax.y0) * k as f64 / 4.0;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{:.4}</text>"#,
            ax.px(x),
            H - B + 18.0,
            x
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{:.3}</text>"#,
            L - 6.0,
            ax.py(y) + 4.0,
            y
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{xlabel}</text>"#,
        (L + W) / 2.0,
        H - 16.0
    );
    let _ = write!(
        svg,
        r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">{ylabel}</text>"#,
        H / 2.0,
        H / 2.0
    );
}

fn range(v: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let lo = v.clone().fold(f64::INFINITY, f64::min);
    let hi = v.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-6);
    (lo - pad, hi + pad)
}

/// Writes `frontier.svg` and `hypervolume.svg` into `out_dir`; returns their paths.
pub fn plot(dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let (cfg, records, _) = load_records(dir)?;
    let ok: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].status == RecordStatus::Ok && records[i].latency_s.is_some())
        .collect();
    if ok.is_empty() {
        return Err(Error::Analysis(format!(
            "{}: no successful candidates to plot yet",
            dir.display()
        )));
    }
    let flags = pareto_flags(&cfg, &records);
    let (x0, x1) = range(
        ok.iter()
            .map(|&i| records[i].latency())
            .chain(cfg.latency.budget_seconds()),
    );
    let (y0, y1) = range(ok.iter().map(|&i| records[i].loss()));
    let ax = Axes { x0, x1, y0, y1 };
    let mut svg = String::new();
    frame(
        &mut svg,
        &ax,
        &format!("{}: proxy loss vs decode latency", cfg.name),
        "decode latency (s)",
        "validation loss (nats/token)",
    );
    let bx = ax.px(cfg.latency.budget_seconds().unwrap_or(x1));
    let _ = write!(
        svg,
        r##"<line x1="{bx:.1}" y1="40" x2="{bx:.1}" y2="{}" stroke="#c33" stroke-dasharray="5,4"/><text x="{:.1}" y="52" fill="#c33">budget</text>"##,
        H - B,
        bx + 4.0
    );
    let mut front: Vec<usize> = ok.iter().copied().filter(|&i| flags[i]).collect();
    front.sort_by(|&a, &b| {
        records[a]
            .latency()
            .partial_cmp(&records[b].latency())
            .expect("finite")
    });
    let path: Vec<String> = front
        .iter()
        .map(|&i| {
            format!(
                "{:.1},{:.1}",
                ax.px(records[i].latency()),
                ax.py(records[i].loss())
            )
        })
        .collect();
    let _ = write!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#1a5fb4" stroke-width="2"/>"##,
        path.join(" ")
    );
    for &i in &ok {
        let r = &records[i];
        let (fill, rad) = if flags[i] {
            ("#1a5fb4", 5.0)
        } else {
            ("#9a9a9a", 3.5)
        };
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="{rad}" fill="{fill}"><title>#{} {} | loss {:.4} | {:.4} s</title></circle>"#,
            ax.px(r.latency()),
            ax.py(r.loss()),
            r.id,
            r.genome.describe(),
            r.loss(),
            r.latency()
        );
        if flags[i] {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" font-size="10">#{}</text>"#,
                ax.px(r.latency()) + 6.0,
                ax.py(r.loss()) - 6.0,
                r.id
            );
        }
    }
    svg.push_str("</svg>");
    let p1 = out_dir.join("frontier.svg");
    std::fs::write(&p1, &svg).map_err(|e| Error::file(&p1, e))?;

    let (hx0, hx1) = (0.0, records.len().max(2) as f64 - 1.0);
    let (hy0, hy1) = range(records.iter().map(|r| r.hypervolume).chain([0.0]));
    let ax = Axes {
        x0: hx0,
        x1: hx1,
        y0: hy0,
        y1: hy1,
    };
    let mut svg = String::new();
    frame(
        &mut svg,
        &ax,
        &format!("{}: hypervolume per evaluation", cfg.name),
        "evaluation",
        "hypervolume (loss × s)",
    );
    let pts: Vec<String> = records
        .iter()
        .map(|r| format!("{:.1},{:.1}", ax.px(r.id as f64), ax.py(r.hypervolume)))
        .collect();
    let _ = write!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#1a5fb4" stroke-width="2"/>"##,
        pts.join(" ")
    );
    svg.push_str("</svg>");
    let p2 = out_dir.join("hypervolume.svg");
    std::fs::write(&p2, &svg).map_err(|e| Error::file(&p2, e))?;
    Ok(vec![p1, p2])
}

/// One series of a [`chart`]: points, drawn as dots (and joined when `line`), with an
/// optional label per point.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub labels: Vec<String>,
    pub line: bool,
    pub dots: bool,
    pub dashed: bool,
    /// Color slot (series of one group share a color).
    pub group: usize,
}

const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

/// A plain SVG chart of several series with a legend; `vlines` are labeled vertical markers
/// (e.g. latency budgets) and `diagonal` draws y = x.
pub fn chart(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[Series],
    vlines: &[(f64, String)],
    diagonal: bool,
) -> String {
    let xs = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(vlines.iter().map(|v| v.0))
        .filter(|v| v.is_finite())
        .collect::<Vec<_>>();
    let ys = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .collect::<Vec<_>>();
    let (mut x0, mut x1) = range(xs.iter().copied());
    let (mut y0, mut y1) = range(ys.iter().copied());
    if diagonal {
        (x0, x1) = (x0.min(y0), x1.max(y1));
        (y0, y1) = (x0, x1);
    }
    let ax = Axes { x0, x1, y0, y1 };
    let mut svg = String::new();
    frame(&mut svg, &ax, title, xlabel, ylabel);
    if diagonal {
        let _ = write!(
            svg,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="4,4"/>"##,
            ax.px(x0),
            ax.py(y0),
            ax.px(x1),
            ax.py(y1)
        );
    }
    for (x, label) in vlines {
        let bx = ax.px(*x);
        let _ = write!(
            svg,
            r##"<line x1="{bx:.1}" y1="40" x2="{bx:.1}" y2="{}" stroke="#c33" stroke-dasharray="5,4"/><text x="{:.1}" y="52" fill="#c33">{label}</text>"##,
            H - B,
            bx + 3.0
        );
    }
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[s.group % PALETTE.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        if s.line && pts.len() > 1 {
            let path: Vec<String> = pts
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", ax.px(x), ax.py(y)))
                .collect();
            let _ = write!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.5"{}/>"#,
                path.join(" "),
                if s.dashed {
                    r#" stroke-dasharray="6,4""#
                } else {
                    ""
                }
            );
        }
        if s.dots {
            for (i, &(x, y)) in s.points.iter().enumerate() {
                if !(x.is_finite() && y.is_finite()) {
                    continue;
                }
                let _ = write!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{color}"/>"#,
                    ax.px(x),
                    ax.py(y)
                );
                if let Some(l) = s.labels.get(i).filter(|l| !l.is_empty()) {
                    let _ = write!(
                        svg,
                        r#"<text x="{:.1}" y="{:.1}" font-size="10">{l}</text>"#,
                        ax.px(x) + 5.0,
                        ax.py(y) - 5.0
                    );
                }
            }
        }
        if !s.name.is_empty() {
            let ly = 60.0 + 16.0 * k as f64;
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                W - 170.0,
                ly - 9.0,
                W - 155.0,
                ly,
                s.name
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}
