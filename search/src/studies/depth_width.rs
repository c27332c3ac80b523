//! The depth–width study (Nemotron-Flash §3.1): train a grid of depths × widths of one block
//! pattern with the proxy, time every shape on the device, fit
//! `L(D, W) = L0 + a·D^-α + b·W^-β`, check the fit on held-out larger shapes, and pick the
//! best shape under each latency budget.
//!
//! It runs on the campaign machinery: every shape is a [`Task`] evaluated by the configured
//! executor (inline, local pool, Slurm), results are admitted in grid order into a
//! checksummed journal (`journal.jsonl`), and a resume reads the journal back and evaluates
//! only what is missing.

use crate::config::{LatencyConfig, SpaceConfig};
use crate::error::{Error, Result};
use crate::executor::{run_in_order, ExecutorConfig};
use crate::journal::{Entry, Journal};
use crate::lock::FolderLock;
use crate::plot::{chart, Series};
use crate::scaling::{fit, Fit, Observation, ScalingLaw};
use crate::task::{Latency, Task, TaskResult};
use crate::Event;
use flashnas_model::spec::LayerKind;
use flashnas_model::{accounting, ArchSpec};
use flashnas_training::{Dataset, ProxyResult, TrainConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

fn d_holdout() -> usize {
    2
}

/// Model hyperparameters shared by every shape (the `[space]` keys that shape a model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_meta: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_heads: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffn_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffn_multiple_of: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swa_window: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mamba_d_state: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mamba_head_dim: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<usize>,
}

/// `flashnas depth-width --config DW.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepthWidthConfig {
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    /// The block repeated D times (layer kinds, NF spellings accepted: `["a", "f"]`).
    pub pattern: Vec<String>,
    /// D: repeats of the pattern.
    pub depths: Vec<usize>,
    /// W: d_model.
    pub widths: Vec<usize>,
    /// Latency budgets (decode seconds under `[latency]`'s protocol) to pick shapes for.
    pub budgets_s: Vec<f64>,
    /// The held-out check fits on all but the `holdout` largest shapes (by parameters) and
    /// predicts those.
    #[serde(default = "d_holdout")]
    pub holdout: usize,
    #[serde(default)]
    pub model: ModelConfig,
    /// The latency protocol; `budget_s` may be left out (the budgets are `budgets_s`).
    pub latency: LatencyConfig,
    pub train: TrainConfig,
    #[serde(default)]
    pub executor: ExecutorConfig,
}

impl DepthWidthConfig {
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let mut value: toml::Value = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim())))?;
        // The protocol's own budget is not used here; the largest of budgets_s stands in.
        if let Some(lat) = value.get_mut("latency").and_then(|l| l.as_table_mut()) {
            if !lat.contains_key("budget_s") {
                lat.insert("budget_s".into(), toml::Value::Float(1.0));
            }
        }
        let cfg: Self = value.try_into().map_err(|e: toml::de::Error| {
            Error::Config(format!("{origin}: {}", e.to_string().trim()))
        })?;
        cfg.check()
            .map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Checks every section (for a config built or changed in code; `from_toml` and
    /// `from_file` check what they read).
    pub fn validate(&self) -> Result<()> {
        self.check().map_err(Error::Config)
    }

    /// The key and the reason of the first problem.
    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.contains('/') {
            return Err("name: must be non-empty and without '/'".into());
        }
        let kinds = crate::genome::layer_kinds(&self.pattern)
            .map_err(|e| e.replace("layer_types", "pattern"))?;
        if kinds.is_empty() {
            return Err("pattern: list at least one layer kind".into());
        }
        if self.depths.is_empty() || self.depths.contains(&0) {
            return Err("depths: list at least one depth, each ≥ 1".into());
        }
        if self.widths.is_empty() || self.widths.contains(&0) {
            return Err("widths: list at least one width, each ≥ 1".into());
        }
        if self.budgets_s.iter().any(|b| !(*b > 0.0 && b.is_finite())) {
            return Err("budgets_s: every budget must be > 0".into());
        }
        let shapes = self.depths.len() * self.widths.len();
        if shapes < 5 {
            return Err(format!(
                "depths × widths: {shapes} shapes; the law has 5 parameters, give at least 5"
            ));
        }
        if shapes.saturating_sub(self.holdout) < 5 {
            return Err(format!(
                "holdout: {} of {shapes} shapes leaves fewer than 5 to fit the check on",
                self.holdout
            ));
        }
        self.latency
            .validate_protocol()
            .map_err(|e| e.to_string())?;
        if self.latency.uses_reference() {
            return Err("latency.calibrate / latency.budget_ref: a depth–width study times every shape raw and takes its budgets from budgets_s".into());
        }
        self.train.validate().map_err(|e| format!("train.{e}"))?;
        self.executor
            .validate()
            .map_err(|e| format!("executor.{e}"))?;
        // Every shape must be a valid architecture.
        let space = self.space();
        for &w in &self.widths {
            let spec = space.arch_for(&kinds, w, 256);
            spec.validate()
                .map_err(|e| format!("model at width {w}: {e}"))?;
        }
        Ok(())
    }

    fn space(&self) -> SpaceConfig {
        let mut table = toml::Value::try_from(&self.model).expect("model serializes");
        let t = table.as_table_mut().expect("table");
        t.insert(
            "widths".into(),
            toml::Value::Array(
                self.widths
                    .iter()
                    .map(|w| toml::Value::Integer(*w as i64))
                    .collect(),
            ),
        );
        table.try_into().expect("model keys are space keys")
    }

    /// The grid, depth-major: (depth, width).
    pub fn shapes(&self) -> Vec<(usize, usize)> {
        self.depths
            .iter()
            .flat_map(|&d| self.widths.iter().map(move |&w| (d, w)))
            .collect()
    }

    pub fn arch(&self, depth: usize, width: usize, vocab_size: usize) -> ArchSpec {
        let kinds: Vec<LayerKind> =
            crate::genome::parse_layer_types(&self.pattern).expect("validated");
        let layers: Vec<LayerKind> = (0..depth).flat_map(|_| kinds.clone()).collect();
        self.space().arch_for(&layers, width, vocab_size)
    }
}

/// One trained and timed shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeRow {
    pub id: usize,
    pub depth: usize,
    pub width: usize,
    pub layers: String,
    pub params: usize,
    pub proxy: ProxyResult,
    pub latency: Latency,
    pub eval_seconds: f64,
    pub attempts: usize,
}

impl Entry for ShapeRow {
    fn index(&self) -> usize {
        self.id
    }
}

impl ShapeRow {
    /// Validation loss when the run succeeded.
    pub fn loss(&self) -> Option<f64> {
        self.proxy.val_loss.filter(|_| self.proxy.status.is_ok())
    }
}

/// For one budget: the best measured shape and the best predicted one (row ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetChoice {
    pub budget_s: f64,
    /// Lowest measured proxy loss among shapes within the budget.
    pub best_measured: Option<usize>,
    /// Lowest loss predicted by the fitted law among shapes within the budget.
    pub best_predicted: Option<usize>,
}

/// Picks shapes under a budget from `(latency, measured loss, predicted loss)` per row
/// (ties to the lower row id).
pub fn choose(rows: &[(Option<f64>, Option<f64>, Option<f64>)], budget_s: f64) -> BudgetChoice {
    let within = |i: &usize| rows[*i].0.is_some_and(|l| l <= budget_s);
    let argmin = |key: &dyn Fn(usize) -> Option<f64>| {
        (0..rows.len())
            .filter(within)
            .filter_map(|i| key(i).map(|v| (v, i)))
            .min_by(|a, b| a.0.partial_cmp(&b.0).expect("finite").then(a.1.cmp(&b.1)))
            .map(|(_, i)| i)
    };
    BudgetChoice {
        budget_s,
        best_measured: argmin(&|i| rows[i].1),
        best_predicted: argmin(&|i| rows[i].2),
    }
}

/// The held-out check: fit on the smaller shapes, predict the largest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutCheck {
    pub fit: Fit,
    /// (row id, observed loss, predicted loss, loss error %, perplexity error %).
    pub predictions: Vec<(usize, f64, f64, f64, f64)>,
    pub mean_loss_error_pct: f64,
    pub mean_ppl_error_pct: f64,
}

/// Everything the study concludes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyReport {
    pub name: String,
    /// The law fitted on every successful shape.
    pub fit: Fit,
    pub holdout: Option<HoldoutCheck>,
    pub budgets: Vec<BudgetChoice>,
    pub failed: Vec<usize>,
}

pub struct Study<'a> {
    pub dir: PathBuf,
    pub cfg: DepthWidthConfig,
    pub rows: Vec<ShapeRow>,
    journal: Journal<ShapeRow>,
    vocab_size: usize,
    on_event: &'a mut dyn FnMut(Event),
    _lock: FolderLock,
}

impl<'a> Study<'a> {
    pub fn create(
        dir: &Path,
        cfg: DepthWidthConfig,
        config_text: &str,
        on_event: &'a mut dyn FnMut(Event),
    ) -> Result<Self> {
        let lock = crate::run_dir::new_run_dir(
            dir,
            config_text,
            &format!(
                "a study already exists here; resume it with `flashnas depth-width --resume {}`",
                dir.display()
            ),
        )?;
        Self::open(dir, cfg, lock, on_event)
    }

    pub fn resume(dir: &Path, on_event: &'a mut dyn FnMut(Event)) -> Result<Self> {
        let (lock, config) =
            crate::run_dir::resume_run_dir(dir, "depth-width study", "study driver")?;
        let cfg = DepthWidthConfig::from_file(&config)?;
        Self::open(dir, cfg, lock, on_event)
    }

    fn open(
        dir: &Path,
        cfg: DepthWidthConfig,
        lock: FolderLock,
        on_event: &'a mut dyn FnMut(Event),
    ) -> Result<Self> {
        let data = Dataset::probe(&cfg.train.data, cfg.train.seq_len, dir)
            .map_err(|e| Error::Data(e.to_string()))?;
        let journal = Journal::<ShapeRow>::at(dir.join("journal.jsonl"));
        let read = journal
            .repair()
            .map_err(|e| Error::file(journal.path(), e))?;
        for p in read.problems {
            on_event(Event::Note(p));
        }
        let shapes = cfg.shapes();
        let mut rows = Vec::new();
        for r in read.records {
            // A journal from another grid is not silently mixed in.
            if shapes.get(r.id) != Some(&(r.depth, r.width)) {
                return Err(Error::AlreadyExists {
                    dir: journal.path().to_path_buf(),
                    hint: format!(
                        "record {} is D{} W{}, which is not shape {} of this config's grid",
                        r.id, r.depth, r.width, r.id
                    ),
                });
            }
            rows.push(r);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            vocab_size: data.vocab_size,
            cfg,
            rows,
            journal,
            on_event,
            _lock: lock,
        })
    }

    /// Trains and times every shape not yet in the journal.
    pub fn run(&mut self) -> Result<StudyReport> {
        let shapes = self.cfg.shapes();
        for r in &self.rows {
            (self.on_event)(Event::Note(format!(
                "D{} W{}: from journal (loss {})",
                r.depth,
                r.width,
                r.loss()
                    .map(|l| format!("{l:.4}"))
                    .unwrap_or_else(|| r.proxy.status.describe())
            )));
        }
        let mut train = self.cfg.train.clone();
        train.seed = self.cfg.seed;
        let tasks: Vec<Task> = shapes
            .iter()
            .enumerate()
            .skip(self.rows.len())
            .map(|(_, &(d, w))| {
                let spec = self.cfg.arch(d, w, self.vocab_size);
                Task {
                    name: format!("D{d}-W{w}"),
                    proposal_key: format!("{}|{w}", spec.layer_string()),
                    spec,
                    train: train.clone(),
                    // The scaling fit needs every shape trained, whatever its latency.
                    latency: Some(LatencyConfig {
                        train_over_budget: true,
                        ..self.cfg.latency.clone()
                    }),
                    known_latency: None,
                    base_dir: self.dir.clone(),
                    reference: None,
                }
            })
            .collect();
        let mut executor = self.cfg.executor.build()?;
        let in_flight = self.cfg.executor.in_flight();
        let total = shapes.len();
        let journal = &self.journal;
        let rows = &mut self.rows;
        let resume = format!("flashnas depth-width --resume {}", self.dir.display());
        let mut admit = |task: Task, r: TaskResult, ev: &mut dyn FnMut(Event)| {
            let id = rows.len();
            let (depth, width) = shapes[id];
            let row = ShapeRow {
                id,
                depth,
                width,
                layers: task.spec.layer_string(),
                params: accounting::param_count(&task.spec),
                proxy: r.proxy,
                latency: r.latency,
                eval_seconds: r.eval_seconds,
                attempts: r.attempt,
            };
            journal
                .append(&row)
                .map_err(|e| Error::write(journal.path(), &e, &resume))?;
            ev(Event::Note(format!(
                "[{}/{total}] D{depth:<3} W{width:<5} params {:>9}  loss {}  latency {}",
                id + 1,
                row.params,
                row.loss()
                    .map(|l| format!("{l:.4}"))
                    .unwrap_or_else(|| row.proxy.status.describe()),
                row.latency
                    .seconds
                    .map(|s| format!("{s:.5} s"))
                    .unwrap_or_else(|| row.latency.source.to_string())
            )));
            rows.push(row);
            Ok(())
        };
        {
            let ev = &mut self.on_event;
            run_in_order(
                &self.dir,
                executor.as_mut(),
                in_flight,
                tasks,
                &mut |e| ev(e),
                &mut admit,
            )
            .map_err(|e| e.with_resume(&resume))?;
        }
        let report = analyze(&self.cfg, &self.rows)?;
        write_outputs(&self.dir, &self.cfg, &self.rows, &report)?;
        Ok(report)
    }
}

/// Fits the law, checks it on held-out shapes and picks shapes per budget.
pub fn analyze(cfg: &DepthWidthConfig, rows: &[ShapeRow]) -> Result<StudyReport> {
    let ok: Vec<&ShapeRow> = rows
        .iter()
        .filter(|r| r.loss().is_some() && r.latency.seconds.is_some())
        .collect();
    let obs = |rs: &[&ShapeRow]| -> Vec<Observation> {
        rs.iter()
            .map(|r| Observation {
                depth: r.depth as f64,
                width: r.width as f64,
                loss: r.loss().expect("ok"),
            })
            .collect()
    };
    let full = fit(&obs(&ok)).map_err(|e| Error::Analysis(format!("fit: {e}")))?;
    let holdout = if cfg.holdout > 0 && ok.len() >= cfg.holdout + 5 {
        let mut by_size = ok.clone();
        by_size.sort_by_key(|r| (r.params, r.id));
        let (train, test) = by_size.split_at(by_size.len() - cfg.holdout);
        let f = fit(&obs(train)).map_err(|e| Error::Analysis(format!("held-out fit: {e}")))?;
        let predictions: Vec<(usize, f64, f64, f64, f64)> = test
            .iter()
            .map(|r| {
                let observed = r.loss().expect("ok");
                let predicted = f.law.predict(r.depth as f64, r.width as f64);
                (
                    r.id,
                    observed,
                    predicted,
                    100.0 * (predicted - observed).abs() / observed,
                    100.0 * (predicted.exp() - observed.exp()).abs() / observed.exp(),
                )
            })
            .collect();
        let n = predictions.len() as f64;
        Some(HoldoutCheck {
            mean_loss_error_pct: predictions.iter().map(|p| p.3).sum::<f64>() / n,
            mean_ppl_error_pct: predictions.iter().map(|p| p.4).sum::<f64>() / n,
            fit: f,
            predictions,
        })
    } else {
        None
    };
    let table = table_for_choice(rows, &full.law);
    let budgets = cfg.budgets_s.iter().map(|&b| choose(&table, b)).collect();
    Ok(StudyReport {
        name: cfg.name.clone(),
        fit: full,
        holdout,
        budgets,
        failed: rows
            .iter()
            .filter(|r| r.loss().is_none())
            .map(|r| r.id)
            .collect(),
    })
}

fn table_for_choice(
    rows: &[ShapeRow],
    law: &ScalingLaw,
) -> Vec<(Option<f64>, Option<f64>, Option<f64>)> {
    rows.iter()
        .map(|r| {
            (
                r.latency.seconds,
                r.loss(),
                // Predicted for every shape that ran (a failed run still has a latency
                // only if it trained, so failures drop out of both choices).
                r.loss()
                    .map(|_| law.predict(r.depth as f64, r.width as f64)),
            )
        })
        .collect()
}

fn shape_name(r: &ShapeRow) -> String {
    format!("D{} W{}", r.depth, r.width)
}

/// `shapes.csv`, `fit.json`, `budgets.csv`, `loss_vs_depth.svg`, `frontier.svg`.
pub fn write_outputs(
    dir: &Path,
    cfg: &DepthWidthConfig,
    rows: &[ShapeRow],
    report: &StudyReport,
) -> Result<Vec<PathBuf>> {
    let law = report.fit.law;
    let held: Vec<usize> = report
        .holdout
        .as_ref()
        .map(|h| h.predictions.iter().map(|p| p.0).collect())
        .unwrap_or_default();
    let c = crate::export::Cols(rows);
    let shapes = vec![
        c.u("id", &|r| r.id as u64),
        c.u("depth", &|r| r.depth as u64),
        c.u("width", &|r| r.width as u64),
        c.s("layers", &|r| r.layers.clone()),
        c.u("params", &|r| r.params as u64),
        c.s("status", &|r| match r.loss() {
            Some(_) => "ok".into(),
            None => r.proxy.status.describe(),
        }),
        c.f("proxy_loss", &|r| r.loss()),
        c.f("perplexity", &|r| r.proxy.perplexity),
        c.f("accuracy", &|r| r.proxy.accuracy),
        c.f("latency_s", &|r| r.latency.seconds),
        c.s("latency_source", &|r| r.latency.source.to_string()),
        c.f("predicted_loss", &|r| {
            Some(law.predict(r.depth as f64, r.width as f64))
        }),
        c.b("held_out", &|r| held.contains(&r.id)),
    ];
    let measured = |b: &BudgetChoice| b.best_measured.map(|i| &rows[i]);
    let predicted = |b: &BudgetChoice| b.best_predicted.map(|i| &rows[i]);
    let name = |r: Option<&ShapeRow>| r.map(shape_name).unwrap_or_else(|| "none".into());
    let c = crate::export::Cols(&report.budgets);
    let budgets = vec![
        c.f("budget_s", &|b| Some(b.budget_s)),
        c.s("best_measured", &|b| name(measured(b))),
        c.f("measured_loss", &|b| measured(b).and_then(|r| r.loss())),
        c.f("measured_latency_s", &|b| {
            measured(b).and_then(|r| r.latency.seconds)
        }),
        c.s("best_predicted", &|b| name(predicted(b))),
        c.f("predicted_loss", &|b| {
            predicted(b).map(|r| law.predict(r.depth as f64, r.width as f64))
        }),
        c.f("predicted_shape_measured_loss", &|b| {
            predicted(b).and_then(|r| r.loss())
        }),
    ];
    let mut written = Vec::new();
    for (name, columns, n) in [
        ("shapes.csv", shapes, rows.len()),
        ("budgets.csv", budgets, report.budgets.len()),
    ] {
        let p = dir.join(name);
        crate::export::write_csv(&p, n, columns)?;
        written.push(p);
    }
    let mut put = |name: &str, text: &str| -> Result<()> {
        let p = dir.join(name);
        flashnas_model::fsio::write_atomic(&p, text.as_bytes())
            .map_err(|e| Error::file(&p, flashnas_model::fsio::reason(&e)))?;
        written.push(p);
        Ok(())
    };
    put(
        "fit.json",
        &serde_json::to_string_pretty(report).expect("json"),
    )?;
    // Loss vs depth, one measured series and one fitted curve per width.
    let mut series = Vec::new();
    for (g, &w) in cfg.widths.iter().enumerate() {
        let pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.width == w)
            .filter_map(|r| r.loss().map(|l| (r.depth as f64, l)))
            .collect();
        series.push(Series {
            name: format!("W{w} measured"),
            points: pts,
            labels: Vec::new(),
            line: false,
            dots: true,
            dashed: false,
            group: g,
        });
        let (d0, d1) = (
            *cfg.depths.iter().min().expect("depths") as f64,
            *cfg.depths.iter().max().expect("depths") as f64,
        );
        series.push(Series {
            name: String::new(),
            points: (0..=40)
                .map(|k| {
                    let d = d0 + (d1 - d0) * k as f64 / 40.0;
                    (d, law.predict(d, w as f64))
                })
                .collect(),
            labels: Vec::new(),
            line: true,
            dots: false,
            dashed: true,
            group: g,
        });
    }
    put(
        "loss_vs_depth.svg",
        &chart(
            &format!(
                "{}: proxy loss vs depth (dashed: L0 + a·D^-α + b·W^-β)",
                cfg.name
            ),
            "depth D (pattern repeats)",
            "validation loss (nats/token)",
            &series,
            &[],
            false,
        ),
    )?;
    let ok: Vec<&ShapeRow> = rows
        .iter()
        .filter(|r| r.loss().is_some() && r.latency.seconds.is_some())
        .collect();
    put(
        "frontier.svg",
        &chart(
            &format!("{}: proxy loss vs decode latency", cfg.name),
            "decode latency (s)",
            "validation loss (nats/token)",
            &[Series {
                name: "shapes".into(),
                points: ok
                    .iter()
                    .map(|r| (r.latency.seconds.expect("ok"), r.loss().expect("ok")))
                    .collect(),
                labels: ok.iter().map(|r| shape_name(r)).collect(),
                line: false,
                dots: true,
                dashed: false,
                group: 0,
            }],
            &cfg.budgets_s
                .iter()
                .map(|b| (*b, format!("{b} s")))
                .collect::<Vec<_>>(),
            false,
        ),
    )?;
    Ok(written)
}

/// The data of a study's `report.html` (the campaign report's page): one row per shape, the
/// frontier over (loss, latency), the largest budget as the budget line.
pub fn report_data(dir: &Path) -> Result<serde_json::Value> {
    let cfg = DepthWidthConfig::from_file(&dir.join("config.toml"))?;
    let rows = Journal::<ShapeRow>::at(dir.join("journal.jsonl"))
        .read()
        .map_err(|e| Error::file(&dir.join("journal.jsonl"), e))?
        .records;
    let budget = cfg.budgets_s.iter().copied().fold(f64::NAN, f64::max);
    let pts: Vec<crate::pareto::Point> = rows
        .iter()
        .map(|r| crate::pareto::Point {
            objectives: vec![
                r.loss().unwrap_or(f64::INFINITY),
                r.latency.seconds.unwrap_or(f64::INFINITY),
            ],
            violation: if r.loss().is_some() && r.latency.seconds.is_some() {
                0.0
            } else {
                f64::INFINITY
            },
        })
        .collect();
    let front = crate::pareto::frontier(&pts);
    let records: Vec<serde_json::Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = serde_json::json!({
                "id": r.id,
                "origin": "grid",
                "layers": r.layers,
                "structure": format!("D{} W{}", r.depth, r.width),
                "stages": 1,
                "width": r.width,
                "depth": r.depth,
                "params": r.params,
                "loss": r.loss(),
                "latency_ms": r.latency.seconds.map(|s| s * 1e3),
                "status": if r.loss().is_some() { "ok" } else { "failed" },
                "failure": (!r.proxy.status.is_ok()).then(|| r.proxy.status.describe()),
                "feasible": r.latency.seconds.is_some_and(|s| budget.is_nan() || s <= budget),
                "frontier": front.contains(&i),
                "hypervolume": 0.0,
                "rung": null,
                "eval_s": r.eval_seconds,
            });
            // By kind, parsed from the layer string (the rows use the short spellings).
            let kinds = r.layers.split_whitespace().filter_map(LayerKind::parse);
            crate::report::add_family_counts(&mut row, kinds);
            row
        })
        .collect();
    Ok(serde_json::json!({
        "kind": "study",
        "families": crate::report::families(),
        "name": cfg.name,
        "budget_evaluations": cfg.shapes().len(),
        "budget_ms": budget.is_finite().then_some(budget * 1e3),
        "live": false,
        "audit": null,
        "records": records,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_choice_on_a_hand_made_table() {
        // (latency, measured loss, predicted loss)
        let rows = vec![
            (Some(0.010), Some(3.0), Some(3.05)), // 0: fast, poor
            (Some(0.020), Some(2.6), Some(2.55)), // 1
            (Some(0.020), Some(2.5), Some(2.70)), // 2: best measured at 0.02, predicted worse
            (Some(0.040), Some(2.2), Some(2.20)), // 3: best overall, slow
            (None, None, None),                   // 4: failed
            (Some(0.015), None, None),            // 5: trained but diverged
        ];
        let c = choose(&rows, 0.005);
        assert_eq!((c.best_measured, c.best_predicted), (None, None));
        let c = choose(&rows, 0.015);
        assert_eq!((c.best_measured, c.best_predicted), (Some(0), Some(0)));
        let c = choose(&rows, 0.020);
        assert_eq!((c.best_measured, c.best_predicted), (Some(2), Some(1)));
        let c = choose(&rows, 1.0);
        assert_eq!((c.best_measured, c.best_predicted), (Some(3), Some(3)));
    }
}
