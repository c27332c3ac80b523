//! `report.html`: a self-contained page of a campaign (no network; the script is this file's
//! own, embedded): progress, the loss–latency frontier (hover shows the candidate), the
//! hypervolume history, a parallel-coordinates view of the genome factors against loss and
//! latency, and a sortable table of every candidate with its status and failure reason.
//!
//! The campaign rewrites it atomically after each evaluation; `flashnas report DIR` builds it
//! for any campaign, and `flashnas serve DIR` serves the same page live (its data refreshed
//! from the journal, never written to the folder).

use crate::config::CampaignConfig;
use crate::journal::Record;
use crate::store::pareto_flags;
use flashnas_model::kind::Family;
use serde_json::json;

/// The data the page draws (also what `flashnas serve` answers at `/data.json`).
/// The layer families the page groups and colours by (from the kinds' descriptors).
pub fn families() -> serde_json::Value {
    Family::ALL
        .iter()
        .map(|f| json!({"name": f.name(), "label": f.label(), "colour": f.colour(), "mixer": *f != Family::Ffn}))
        .collect()
}

/// Adds one count per layer family (`attention`, `mamba2`, `deltanet`, `ffn`) to a page row.
pub fn add_family_counts(
    row: &mut serde_json::Value,
    kinds: impl IntoIterator<Item = flashnas_model::LayerKind>,
) {
    for (f, n) in Family::counts(kinds) {
        row[f.name()] = json!(n);
    }
}

/// The most records a page embeds: beyond it the page stays a few MB and draws in a moment.
pub const MAX_ROWS: usize = 4000;

/// The records a page shows, ascending: all of them up to [`MAX_ROWS`]; beyond, the frontier,
/// the best 1000 candidates by mean loss, the last 200, and an even sample of the rest.
pub fn shown(records: &[Record], frontier: &[bool], means: &[f64]) -> Vec<usize> {
    let n = records.len();
    if n <= MAX_ROWS {
        return (0..n).collect();
    }
    let mut keep = vec![false; n];
    for i in (0..n).filter(|&i| frontier[i]) {
        keep[i] = true;
    }
    let mut by_loss: Vec<usize> = (0..n).filter(|&i| means[i].is_finite()).collect();
    by_loss.sort_by(|&a, &b| means[a].total_cmp(&means[b]).then(a.cmp(&b)));
    for &i in by_loss.iter().take(1000) {
        keep[i] = true;
    }
    for k in keep.iter_mut().skip(n.saturating_sub(200)) {
        *k = true;
    }
    let room = MAX_ROWS.saturating_sub(keep.iter().filter(|&&k| k).count());
    if room > 0 {
        let step = n as f64 / room as f64;
        for j in 0..room {
            keep[((j as f64 * step) as usize).min(n - 1)] = true;
        }
    }
    (0..n).filter(|&i| keep[i]).collect()
}

pub fn data(cfg: &CampaignConfig, records: &[Record], live: bool) -> serde_json::Value {
    let flags = pareto_flags(cfg, records);
    let means = crate::store::mean_losses(records);
    let seeds = crate::racing::seed_losses(records);
    let shown = shown(records, &flags, &means);
    let count = |f: &dyn Fn(&Record) -> bool| records.iter().filter(|r| f(r)).count();
    let counts = json!({
        "records": records.len(),
        "shown": shown.len(),
        "trained": count(&|r| r.status != crate::journal::RecordStatus::OverBudget && r.replicate.is_none()),
        "failed": count(&|r| r.status == crate::journal::RecordStatus::Failed),
        "over_budget": count(&|r| r.status == crate::journal::RecordStatus::OverBudget),
    });
    let rows: Vec<serde_json::Value> = shown
        .iter()
        .map(|&i| (&records[i], &flags[i]))
        .map(|(r, &frontier)| {
            let mut row = json!({
                "id": r.id,
                "origin": r.origin.as_str(),
                "layers": r.layers,
                "structure": r.genome.describe(),
                "stages": r.genome.stages.len(),
                "width": r.width,
                "depth": r.depth,
                "params": r.params,
                // A candidate's mean over its seeds (what the frontier uses); a replicate its own.
                "loss": match r.replicate {
                    None if means[r.id].is_finite() => Some(means[r.id]),
                    _ => r.proxy.val_loss.filter(|_| r.status == crate::journal::RecordStatus::Ok),
                },
                "latency_ms": r.latency.seconds.map(|s| s * 1e3),
                "recall": r.recall().map(|a| a * 100.0),
                "status": r.status.as_str(),
                "failure": r.failure,
                "feasible": r.feasible,
                "frontier": frontier,
                "hypervolume": r.hypervolume,
                "rung": r.rung,
                "eval_s": r.eval_seconds,
                "loss_mean": means[r.id].is_finite().then_some(means[r.id]),
                "seeds": seeds[r.id].len(),
                "replicate": r.replicate,
                "parent": r.parent,
            });
            add_family_counts(&mut row, r.kinds());
            row
        })
        .collect();
    json!({
        "kind": "campaign",
        "families": families(),
        "name": cfg.name,
        "strategy": format!("{:?}", cfg.strategy).to_lowercase(),
        "seed": cfg.seed,
        "budget_evaluations": cfg.evaluations,
        "budget_ms": cfg.latency.budget_seconds().map(|s| s * 1e3),
        "recall_min": cfg.objectives.recall_min.map(|m| m * 100.0),
        "frontier_objectives": cfg.objectives.frontier().iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        "reference_point": {"loss": cfg.objectives.reference_point.loss,
                            "latency_ms": cfg.objectives.reference_point.latency_s * 1e3},
        "live": live,
        "counts": counts,
        "records": rows,
        "compute": crate::status::Compute::of(records, None),
        "racing": records.iter().any(|r| r.replicate.is_some()).then(|| {
            crate::racing::standing(
                records,
                cfg.latency.budget_seconds().unwrap_or(f64::INFINITY),
                &cfg.racing_levels(),
                cfg.racing.z,
            )
        }),
    })
}

/// The proxy fidelity audit of the campaign in `dir`, when one was run: its retrained pairs
/// (short vs long loss) and rank correlations.
pub fn audit_data(dir: &std::path::Path) -> Option<serde_json::Value> {
    let (jsonl, _, _) = crate::audit::audit_paths(dir);
    let rows = crate::journal::Journal::<crate::audit::AuditRow>::at(jsonl)
        .read()
        .ok()?
        .records;
    if rows.is_empty() {
        return None;
    }
    let report = crate::audit::load_report(dir);
    let interval =
        |i: &crate::rank::Interval| json!({"value": i.value, "lower": i.lower, "upper": i.upper});
    Some(json!({
        "factor": rows[0].factor,
        "rows": rows.iter().map(|r| json!({"id": r.id, "layers": r.layers, "width": r.width,
            "short": r.short_loss, "long": r.long_loss, "failure": r.failure})).collect::<Vec<_>>(),
        "spearman": report.as_ref().map(|r| interval(&r.spearman)),
        "kendall": report.as_ref().map(|r| interval(&r.kendall)),
    }))
}

/// The page with `data` embedded.
pub fn html(data: &serde_json::Value) -> String {
    // `</` inside the JSON must not close the script element.
    let json = data.to_string().replace("</", "<\\/");
    let title = data["name"].as_str().unwrap_or("campaign");
    PAGE.replace("{{TITLE}}", &escape(title))
        .replace("{{DATA}}", &json)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>flashnas · {{TITLE}}</title>
<style>
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.summary span { margin-right: 18px; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; }
svg text { font-size: 11px; fill: #333; }
svg .axis line { stroke: #888; }
svg .axis line.grid { stroke: #e6e6e6; }
.tip { position: fixed; pointer-events: none; background: #fff; border: 1px solid #999; padding: 6px 8px;
       font-size: 12px; box-shadow: 0 2px 6px rgba(0,0,0,.15); display: none; max-width: 420px; }
table { border-collapse: collapse; font-size: 12px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th { cursor: pointer; background: #f6f6f6; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
tr.frontier td { font-weight: 600; }
tr.failed td { color: #b00; }
tr.over_budget td { color: #888; }
.legend span { margin-right: 14px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
</style>
</head>
<body>
<h1>{{TITLE}}</h1>
<div class="summary" id="summary"></div>
<div class="charts">
  <div><h2>Loss vs decode latency</h2><div id="frontier"></div><div class="legend" id="legend"></div></div>
  <div id="hv-section"><h2>Hypervolume after each evaluation</h2><div id="hv"></div></div>
  <div id="recall-section" style="display:none"><h2>Recall vs decode latency</h2><div id="recall"></div></div>
</div>
<h2>Genome factors against loss and latency</h2>
<div id="parallel"></div>
<div id="audit-section" style="display:none"><h2>Proxy fidelity audit</h2><div id="audit-text"></div><div id="audit"></div></div>
<div id="validation-section" style="display:none"><h2>Validation: picks against hand-designed baselines</h2>
<div id="validation-text"></div><div id="validation-chart"></div><table id="validation-table"></table></div>
<h2>Candidates</h2>
<table id="table"></table>
<div class="tip" id="tip"></div>
<script id="data" type="application/json">{{DATA}}</script>
<script>
"use strict";
document.body.dataset.errors = "";
window.addEventListener("error", e => { document.body.dataset.errors += (e.message || "error") + ";"; });
const NS = "http://www.w3.org/2000/svg";
let DATA = JSON.parse(document.getElementById("data").textContent);
// Layer families (name, label, colour) come with the data, from the kinds' descriptors.
const FAMILIES = DATA.families || [];
const MIXERS = FAMILIES.filter(f => f.mixer).map(f => f.name);
const COLORS = Object.fromEntries(FAMILIES.filter(f => f.mixer).map(f => [f.name, f.colour]).concat([["mixed", "#9467bd"]]));
let sortKey = "id", sortUp = true;

function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
// Round ticks: 1, 2 or 5 × 10^k, about n of them; integers when `integer`.
function ticks(lo, hi, n, integer) {
  if (!(hi > lo)) { hi = lo + 1; }
  let step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
  for (const m of [1, 2, 5, 10]) { if ((hi - lo) / (step * m) <= n) { step *= m; break; } }
  if (integer) step = Math.max(1, Math.round(step));
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
  return out;
}
function fmt(v, step) {
  const digits = Math.max(0, -Math.floor(Math.log10(step || 1)));
  return v.toFixed(Math.min(digits, 6));
}
function axes(svg, x, y, xl, yl, xs, ys) {
  const g = el("g", {class: "axis"}, svg);
  const xt = ticks(x.lo, x.hi, 6, x.integer), yt = ticks(y.lo, y.hi, 6, y.integer);
  const xstep = xt.length > 1 ? xt[1] - xt[0] : 1, ystep = yt.length > 1 ? yt[1] - yt[0] : 1;
  for (const t of xt) {
    el("line", {class: "grid", x1: xs(t), x2: xs(t), y1: ys(y.lo), y2: ys(y.hi)}, g);
    el("text", {x: xs(t), y: ys(y.lo) + 16, "text-anchor": "middle"}, g).textContent = fmt(t, xstep);
  }
  for (const t of yt) {
    el("line", {class: "grid", x1: xs(x.lo), x2: xs(x.hi), y1: ys(t), y2: ys(t)}, g);
    el("text", {x: xs(x.lo) - 6, y: ys(t) + 4, "text-anchor": "end"}, g).textContent = fmt(t, ystep);
  }
  el("text", {x: (xs(x.lo) + xs(x.hi)) / 2, y: ys(y.lo) + 34, "text-anchor": "middle"}, g).textContent = xl;
  const yl_ = el("text", {x: 0, y: 0, "text-anchor": "middle",
    transform: `translate(${xs(x.lo) - 52},${(ys(y.lo) + ys(y.hi)) / 2}) rotate(-90)`}, g);
  yl_.textContent = yl;
}
function range(vals, pad) {
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (!isFinite(lo)) { lo = 0; hi = 1; }
  if (hi === lo) { lo -= 1; hi += 1; }
  const p = (hi - lo) * (pad || 0.05);
  return {lo: lo - p, hi: hi + p};
}
function composition(r) {
  const top = MIXERS.filter(k => r[k] > 0);
  return top.length === 1 ? top[0] : "mixed";
}
function tip(e, r) {
  const t = document.getElementById("tip");
  t.style.display = "block"; t.style.left = (e.clientX + 12) + "px"; t.style.top = (e.clientY + 12) + "px";
  t.innerHTML = `<b>#${r.id}</b> ${r.structure}<br>${r.layers}<br>loss ${r.loss == null ? "–" : r.loss.toFixed(4)}${r.seeds > 1 ? ` (mean of ${r.seeds} seeds)` : ""}${r.recall != null ? ` · recall ${r.recall.toFixed(1)} %` : ""}${r.replicate != null ? ` (seed ${r.replicate} of #${r.parent})` : ""}` +
    ` · latency ${r.latency_ms == null ? "–" : r.latency_ms.toFixed(3) + " ms"}<br>` +
    `${r.params.toLocaleString()} params · depth ${r.depth} · ${r.status}${r.frontier ? " · on the frontier" : ""}`;
}
function untip() { document.getElementById("tip").style.display = "none"; }

function drawFrontier() {
  const host = document.getElementById("frontier"); host.innerHTML = "";
  const W = 560, H = 380, L = 70, B = 50, T = 14, R = 16;
  const svg = el("svg", {width: W, height: H}, host);
  const pts = DATA.records.filter(r => r.loss != null && r.latency_ms != null && r.rung == null && r.replicate == null);
  const xsv = pts.map(r => r.latency_ms).concat(DATA.budget_ms != null ? [DATA.budget_ms] : []);
  const x = range(xsv), y = range(pts.map(r => r.loss));
  const xs = v => L + (v - x.lo) / (x.hi - x.lo) * (W - L - R);
  const ys = v => H - B - (v - y.lo) / (y.hi - y.lo) * (H - B - T);
  axes(svg, x, y, "decode latency (ms)", "proxy validation loss (nats/token)", xs, ys);
  if (DATA.budget_ms != null) {
    el("line", {x1: xs(DATA.budget_ms), x2: xs(DATA.budget_ms), y1: ys(y.lo), y2: ys(y.hi),
      stroke: "#444", "stroke-dasharray": "5,4"}, svg);
    el("text", {x: xs(DATA.budget_ms) - 4, y: ys(y.hi) + 12, "text-anchor": "end"}, svg).textContent = "budget";
  }
  const front = pts.filter(r => r.frontier).sort((a, b) => a.latency_ms - b.latency_ms);
  // A front that ranks recall too is not a staircase in this projection: members are ringed only.
  const staircase = !DATA.frontier_objectives || DATA.frontier_objectives.length === 2;
  if (front.length && staircase) {
    let d = `M${xs(front[0].latency_ms)},${ys(y.hi)} V${ys(front[0].loss)}`;
    for (let i = 1; i < front.length; i++) d += ` H${xs(front[i].latency_ms)} V${ys(front[i].loss)}`;
    d += ` H${xs(x.hi)}`;
    el("path", {d, fill: "none", stroke: "#111", "stroke-width": 1.5}, svg);
  }
  for (const r of pts) {
    const c = COLORS[composition(r)];
    const attrs = {cx: xs(r.latency_ms), cy: ys(r.loss), r: r.frontier ? 5 : 3.5,
      fill: r.feasible ? c : "none", stroke: c, "stroke-width": 1.5, class: "pt"};
    if (r.frontier) { attrs["data-frontier-id"] = r.id; attrs.stroke = "#111"; }
    const p = el("circle", attrs, svg);
    p.addEventListener("mousemove", e => tip(e, r));
    p.addEventListener("mouseleave", untip);
  }
  const untrained = DATA.counts ? DATA.counts.over_budget : DATA.records.filter(r => r.status === "over_budget").length;
  const failed = DATA.counts ? DATA.counts.failed : DATA.records.filter(r => r.status === "failed").length;
  document.getElementById("legend").innerHTML =
    Object.keys(COLORS).map(k => `<span><i class="swatch" style="background:${COLORS[k]}"></i>${k}</span>`).join("") +
    `<span>filled: within budget · hollow: over · black ring: frontier</span>` +
    (untrained ? `<span>${untrained} over budget, not trained (no loss)</span>` : "") +
    (failed ? `<span>${failed} failed</span>` : "");
}

// The recall probe's accuracy against latency: a 2-D projection of a frontier that may rank
// recall beside loss (its members ringed; a member can sit below others here and be on the
// frontier for its loss).
function drawRecall() {
  const pts = DATA.records.filter(r => r.recall != null && r.latency_ms != null && r.rung == null && r.replicate == null);
  if (!pts.length) return;
  document.getElementById("recall-section").style.display = "";
  const host = document.getElementById("recall"); host.innerHTML = "";
  const W = 560, H = 380, L = 70, B = 50, T = 14, R = 16;
  const svg = el("svg", {width: W, height: H}, host);
  const x = range(pts.map(r => r.latency_ms)), y = range(pts.map(r => r.recall).concat([0, 100]));
  const xs = v => L + (v - x.lo) / (x.hi - x.lo) * (W - L - R);
  const ys = v => H - B - (v - y.lo) / (y.hi - y.lo) * (H - B - T);
  axes(svg, x, y, "decode latency (ms)", "recall accuracy (%)", xs, ys);
  if (DATA.recall_min != null) {
    el("line", {x1: xs(x.lo), x2: xs(x.hi), y1: ys(DATA.recall_min), y2: ys(DATA.recall_min),
      stroke: "#444", "stroke-dasharray": "5,4"}, svg);
  }
  for (const r of pts) {
    const c = COLORS[composition(r)];
    const attrs = {cx: xs(r.latency_ms), cy: ys(r.recall), r: r.frontier ? 5 : 3.5,
      fill: r.feasible ? c : "none", stroke: r.frontier ? "#111" : c, "stroke-width": 1.5, class: "pt"};
    const p = el("circle", attrs, svg);
    p.addEventListener("mousemove", e => tip(e, r));
    p.addEventListener("mouseleave", untip);
  }
}

function drawHv() {
  const host = document.getElementById("hv"); host.innerHTML = "";
  const W = 460, H = 380, L = 70, B = 50, T = 14, R = 16;
  const svg = el("svg", {width: W, height: H}, host);
  const rs = DATA.records;
  const total = DATA.counts ? DATA.counts.records : rs.length;
  const x = {lo: 0, hi: Math.max(DATA.budget_evaluations, total), integer: true};
  const y = range(rs.map(r => r.hypervolume).concat([0]), 0.05);
  y.lo = 0;
  const xs = v => L + (v - x.lo) / (x.hi - x.lo) * (W - L - R);
  const ys = v => H - B - (v - y.lo) / (y.hi - y.lo) * (H - B - T);
  axes(svg, x, y, "evaluations", "hypervolume", xs, ys);
  let d = `M${xs(0)},${ys(0)}`;
  rs.forEach(r => { d += ` H${xs(r.id + 1)} V${ys(r.hypervolume)}`; });
  el("path", {d, fill: "none", stroke: "#1f77b4", "stroke-width": 2}, svg);
}

// Parallel coordinates: one polyline per trained candidate over the genome factors, then
// loss and latency; colour by loss (dark = low), dashed when over the budget.
function drawParallel() {
  const host = document.getElementById("parallel"); host.innerHTML = "";
  const dims = [["stages", "stages"], ["width", "width"], ["depth", "depth"]]
    .concat(FAMILIES.map(f => [f.name, f.label]))
    .concat([["params", "params"], ["latency_ms", "latency ms"], ["loss", "loss"]]);
  const rs = DATA.records.filter(r => r.loss != null && r.latency_ms != null && r.rung == null && r.replicate == null);
  const W = Math.max(760, dims.length * 96), H = 300, T = 30, B = 30;
  const svg = el("svg", {width: W, height: H}, host);
  const xs = i => 40 + i * (W - 80) / (dims.length - 1);
  const ranges = dims.map(([k]) => range(rs.map(r => r[k]), 0.02));
  const ys = (i, v) => H - B - (v - ranges[i].lo) / (ranges[i].hi - ranges[i].lo) * (H - B - T);
  const lr = range(rs.map(r => r.loss), 0);
  for (const r of rs) {
    const shade = Math.round(40 + 180 * (r.loss - lr.lo) / (lr.hi - lr.lo));
    const d = dims.map(([k], i) => `${i ? "L" : "M"}${xs(i)},${ys(i, r[k])}`).join(" ");
    const p = el("path", {d, fill: "none", stroke: `rgb(${shade},${shade},255)`, "stroke-width": r.frontier ? 2.5 : 1,
      "stroke-dasharray": r.feasible ? "" : "3,3", opacity: 0.8}, svg);
    p.addEventListener("mousemove", e => tip(e, r));
    p.addEventListener("mouseleave", untip);
  }
  dims.forEach(([k, label], i) => {
    el("line", {x1: xs(i), x2: xs(i), y1: T, y2: H - B, stroke: "#666"}, svg);
    el("text", {x: xs(i), y: T - 10, "text-anchor": "middle"}, svg).textContent = label;
    const integer = !["latency_ms", "loss"].includes(k);
    const tk = ticks(ranges[i].lo, ranges[i].hi, 4, integer);
    const step = tk.length > 1 ? tk[1] - tk[0] : 1;
    for (const t of tk) {
      el("text", {x: xs(i) + 4, y: ys(i, t) + 4}, svg).textContent = k === "params" ? (t / 1000).toFixed(0) + "k" : fmt(t, step);
    }
  });
}

function drawTable() {
  const cols = [["id", "id"], ["origin", "origin", 1], ["structure", "genome", 1], ["width", "width"],
    ["depth", "depth"], ["params", "params"], ["loss", "loss"], ["latency_ms", "latency ms"],
    ["status", "status", 1], ["frontier", "frontier", 1], ["failure", "failure", 1]];
  if (DATA.records.some(r => r.recall != null)) cols.splice(7, 0, ["recall", "recall %"]);
  const rs = DATA.records.slice().sort((a, b) => {
    const u = a[sortKey], v = b[sortKey];
    const c = u == null ? 1 : v == null ? -1 : (u < v ? -1 : u > v ? 1 : a.id - b.id);
    return sortUp ? c : -c;
  });
  const t = document.getElementById("table");
  const cell = (r, k) => {
    const v = r[k];
    if (v == null) return "–";
    if (k === "loss") return v.toFixed(4);
    if (k === "latency_ms") return v.toFixed(3);
    if (k === "recall") return v.toFixed(1);
    if (k === "params") return v.toLocaleString();
    if (k === "frontier") return v ? "yes" : "";
    return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  };
  t.innerHTML = "<thead><tr>" + cols.map(([k, label, text]) =>
      `<th data-key="${k}" class="${text ? "text" : ""}">${label}${k === sortKey ? (sortUp ? " ▲" : " ▼") : ""}</th>`).join("") +
    "</tr></thead><tbody>" + rs.map(r =>
      `<tr class="row ${r.status}${r.frontier ? " frontier" : ""}" data-id="${r.id}">` +
      cols.map(([k, , text]) => `<td class="${text ? "text" : ""}">${cell(r, k)}</td>`).join("") + "</tr>").join("") +
    "</tbody>";
  t.querySelectorAll("th").forEach(th => th.addEventListener("click", () => {
    const k = th.dataset.key; sortUp = k === sortKey ? !sortUp : true; sortKey = k; drawTable();
  }));
}

function drawSummary() {
  const rs = DATA.records;
  const mean = r => r.loss_mean != null ? r.loss_mean : r.loss;
  const best = rs.filter(r => r.feasible && mean(r) != null && r.rung == null && r.replicate == null).sort((a, b) => mean(a) - mean(b))[0];
  const k_ = DATA.counts;
  const n = k => k_ ? k_[k] : rs.filter(r => r.status === k).length;
  const c = DATA.compute;
  const trained = k_ ? k_.trained : rs.filter(r => r.status !== "over_budget" && r.replicate == null).length;
  const sigma = DATA.racing && DATA.racing.sigma ? DATA.racing.sigma : null;
  document.getElementById("summary").innerHTML = [
    DATA.kind === "study" ? `depth–width study` : `strategy <b>${DATA.strategy}</b> (seed ${DATA.seed})`,
    `<b>${trained}</b> / ${DATA.budget_evaluations} evaluations`,
    `${n("failed")} failed, ${n("over_budget")} proposals over budget (priced, not trained)`,
    c ? `compute: ${c.family_trained} family shapes (${c.family_s.toFixed(0)} s), ${c.search_trained} search (${c.search_s.toFixed(0)} s), ${c.racing_trained} racing seeds (${c.racing_s.toFixed(0)} s); ${c.grid_pricings + c.fit_pricings} pricings` : "",
    sigma ? `seed noise σ ${sigma[0].toFixed(4)} (${sigma[1]} df)` : "",
    DATA.budget_ms != null ? `budget ${DATA.budget_ms.toFixed(3)} ms` : "no budget",
    best ? `best #${best.id} loss ${mean(best).toFixed(4)}${best.seeds > 1 ? ` (mean of ${best.seeds} seeds)` : ""} at ${best.latency_ms.toFixed(3)} ms` : "no feasible candidate yet",
    `hypervolume ${rs.length ? rs[rs.length - 1].hypervolume.toFixed(5) : "0"}`,
    DATA.live ? "live (refreshes every 2 s)" : "",
    k_ && k_.shown < k_.records ? `showing ${k_.shown} of ${k_.records} records: the frontier, the best 1000 by loss, the last 200 and an even sample (flashnas export DIR --what all has every one)` : "",
  ].map(s => `<span>${s}</span>`).join("");
}

// The audit: short-proxy loss against the F× longer run's, one point per retrained candidate.
function drawAudit() {
  const a = DATA.audit;
  document.getElementById("audit-section").style.display = a ? "" : "none";
  if (!a) return;
  const host = document.getElementById("audit"); host.innerHTML = "";
  const pts = a.rows.filter(r => r.long != null);
  const iv = i => i ? `${i.value.toFixed(3)} [${i.lower.toFixed(3)}, ${i.upper.toFixed(3)}]` : "–";
  document.getElementById("audit-text").textContent =
    `${a.rows.length} candidates retrained ${a.factor}× longer; Spearman ${iv(a.spearman)}, Kendall ${iv(a.kendall)} (90 % bootstrap intervals)`;
  const W = 460, H = 380, L = 70, B = 50, T = 14, R = 16;
  const svg = el("svg", {width: W, height: H}, host);
  const all = pts.map(r => r.short).concat(pts.map(r => r.long));
  const x = range(all), y = range(all);
  const xs = v => L + (v - x.lo) / (x.hi - x.lo) * (W - L - R);
  const ys = v => H - B - (v - y.lo) / (y.hi - y.lo) * (H - B - T);
  axes(svg, x, y, "proxy loss (short run)", `loss after ${a.factor}× the training`, xs, ys);
  el("line", {x1: xs(x.lo), y1: ys(y.lo), x2: xs(x.hi), y2: ys(y.hi), stroke: "#999", "stroke-dasharray": "4,4"}, svg);
  for (const r of pts) {
    const c = el("circle", {cx: xs(r.short), cy: ys(r.long), r: 4, fill: "#1f77b4", class: "audit-pt"}, svg);
    c.addEventListener("mousemove", e => {
      const t = document.getElementById("tip");
      t.style.display = "block"; t.style.left = (e.clientX + 12) + "px"; t.style.top = (e.clientY + 12) + "px";
      t.innerHTML = `<b>#${r.id}</b> ${r.layers} w${r.width}<br>short ${r.short.toFixed(4)} · long ${r.long.toFixed(4)}`;
    });
    c.addEventListener("mouseleave", untip);
  }
}

// The validation (flashnas validate): per budget, the pick and each family's baseline after
// the long runs, the verdict, and the chart drawn by plotters (embedded SVG).
function drawValidation() {
  const v = DATA.validation;
  document.getElementById("validation-section").style.display = v ? "" : "none";
  if (!v) return;
  const esc = s => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  document.getElementById("validation-text").innerHTML =
    v.lines.map(l => `<div>${esc(l)}</div>`).join("") +
    `<div>proxy vs long run: ${v.spearman == null ? "too few models" : "Spearman " + v.spearman.toFixed(3) + " over " + v.spearman_n + " models"}` +
    ` · cost: campaign ${v.cost.campaign_trained} trained, baselines ${v.cost.baseline_shapes_trained} trained of ${v.cost.baseline_shapes_priced} priced, ${v.cost.long_runs} long runs</div>`;
  document.getElementById("validation-chart").innerHTML = v.svg;
  const f = (x, d) => x == null ? "–" : x.toFixed(d);
  document.getElementById("validation-table").innerHTML =
    "<thead><tr><th class='text'>budget</th><th class='text'>model</th><th class='text'>layers</th><th>width</th><th>depth</th>" +
    "<th>params</th><th>latency ms</th><th>re-measured ms</th><th>proxy</th><th>long (95 % CI)</th><th class='text'>verdict</th></tr></thead><tbody>" +
    v.rows.map(r => `<tr class="vrow${r.role === "pick" ? " frontier" : ""}${r.over ? " failed" : ""}">` +
      `<td class="text">${esc(r.budget)}</td><td class="text">${esc(r.role)}${r.id == null ? "" : " #" + r.id}${r.best ? " (best)" : ""}</td>` +
      `<td class="text">${esc(r.layers)}</td><td>${r.width}</td><td>${r.depth}</td><td>${r.params.toLocaleString()}</td>` +
      `<td>${f(r.latency_ms, 4)}</td><td>${f(r.recheck_ms, 4)}${r.recheck_spread_ms ? " ± " + f(r.recheck_spread_ms / 2, 4) : ""}${r.over ? " over" : ""}</td>` +
      `<td>${f(r.proxy, 4)}</td><td>${r.long == null ? "failed" : f(r.long, 4) + " ± " + f(r.ci, 4)}</td>` +
      `<td class="text">${r.verdict == null ? "" : esc(r.verdict) + " (" + (r.gap >= 0 ? "+" : "") + f(r.gap, 4) + ")"}</td></tr>`).join("") +
    "</tbody>";
}

function render() {
  document.getElementById("hv-section").style.display = DATA.kind === "study" ? "none" : "";
  drawSummary(); drawFrontier(); drawRecall(); if (DATA.kind !== "study") drawHv(); drawParallel(); drawAudit(); drawValidation(); drawTable();
  document.body.dataset.rendered = "ok";
  document.body.dataset.records = String(DATA.records.length);
}
render();
if (DATA.live) {
  setInterval(() => fetch("data.json").then(r => r.json()).then(d => {
    if (d.records.length !== DATA.records.length) { DATA = d; render(); }
  }).catch(() => {}), 2000);
}
</script>
</body>
</html>
"##;

/// Everything a campaign's page shows: its records' data, its compute, and the folder's
/// audit and validation when it has them. The one assembly for `report.html` and for
/// `flashnas serve` (`live`: the page says it refreshes), so a section added here is on both.
pub fn page_data(
    dir: &std::path::Path,
    cfg: &CampaignConfig,
    records: &[Record],
    live: bool,
) -> serde_json::Value {
    let mut d = data(cfg, records, live);
    let grid = crate::family::FamilyGrid::load(dir).ok().flatten();
    d["compute"] = serde_json::json!(crate::status::Compute::of(records, grid.as_ref()));
    d["audit"] = audit_data(dir).unwrap_or(serde_json::Value::Null);
    d["validation"] =
        crate::validate::analysis::report_data(dir).unwrap_or(serde_json::Value::Null);
    d
}

/// Writes `DIR/report.html` (atomically) from the records given (see [`page_data`]).
pub fn write(
    dir: &std::path::Path,
    cfg: &CampaignConfig,
    records: &[Record],
) -> crate::error::Result<std::path::PathBuf> {
    write_page(dir, &page_data(dir, cfg, records, false))
}

/// Writes `DIR/report.html` (atomically) for any page data (campaigns, studies).
pub fn write_page(
    dir: &std::path::Path,
    data: &serde_json::Value,
) -> crate::error::Result<std::path::PathBuf> {
    let path = dir.join("report.html");
    let page = html(data);
    flashnas_model::fsio::write_atomic(&path, page.as_bytes())
        .map_err(|e| crate::error::Error::file(&path, flashnas_model::fsio::reason(&e)))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_data_cannot_close_its_script_element() {
        let page = html(&json!({"name": "a</script><b>", "records": []}));
        assert_eq!(
            page.matches("</script>").count(),
            2,
            "only the page's own two"
        );
        assert!(page.contains("a&lt;/script&gt;&lt;b&gt;"));
    }

    /// A campaign far larger than a page: the page embeds at most MAX_ROWS records — the whole
    /// frontier and the best candidate among them — and says how many there are.
    #[test]
    fn a_large_campaign_is_shown_by_its_frontier_its_best_and_a_sample() {
        let line = include_str!("../../tests/fixtures/aging-seed3.jsonl")
            .lines()
            .next()
            .unwrap();
        let template: Record = serde_json::from_str(line).unwrap();
        let n = 3 * MAX_ROWS;
        let records: Vec<Record> = (0..n)
            .map(|i| {
                let mut r = template.clone();
                r.id = i;
                r.status = crate::journal::RecordStatus::Ok;
                r.rung = None;
                let x = (i * 7919 % n) as f64 / n as f64;
                r.latency.seconds = Some(0.001 + 0.002 * x);
                r.proxy.val_loss = Some(3.0 - x + 0.5 * ((i * 31) % 17) as f64 / 17.0);
                r.feasible = true;
                r
            })
            .collect();
        let cfg = crate::CampaignConfig::from_toml(
            r#"
name = "big"
strategy = "aging"
evaluations = 12000
[space]
widths = [16]
head_dim = 8
[latency]
source = "analytic"
roofline = "cpu-2core"
budget_s = 1.0
[objectives]
reference_point = { loss = 6.0, latency_s = 0.01 }
[train]
steps = 1
"#,
            "big.toml",
        )
        .unwrap();
        let d = data(&cfg, &records, false);
        let rows = d["records"].as_array().unwrap();
        assert!(
            rows.len() <= MAX_ROWS && rows.len() > MAX_ROWS / 2,
            "{}",
            rows.len()
        );
        assert_eq!(d["counts"]["records"], n);
        assert_eq!(d["counts"]["trained"], n);
        let ids: std::collections::HashSet<u64> =
            rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
        let front = crate::store::frontier_of(&records, 1.0);
        assert!(!front.is_empty());
        assert!(front.iter().all(|&i| ids.contains(&(i as u64))));
        let best = crate::store::best_of(&records).unwrap();
        assert!(ids.contains(&(best as u64)));
        assert!(
            ids.contains(&((n - 1) as u64)),
            "the last records are shown"
        );
        // Small campaigns are shown whole.
        assert_eq!(
            data(&cfg, &records[..50], false)["records"]
                .as_array()
                .unwrap()
                .len(),
            50
        );
    }
}
