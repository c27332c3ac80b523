//! Validation: is the pick better than the design a user would have built by hand at the same
//! latency? The last stage of a campaign (`flashnas validate DIR`), after Nemotron-Flash §4:
//!
//! 1. **Picks**: the campaign's best feasible candidate at each latency budget (fractions of
//!    its budget), or explicit record ids (each compared at its own latency).
//! 2. **Baselines, tuned as fairly as the picks**: for each hand-designed family (a layer
//!    pattern repeated to depth), every (depth, width) of the campaign's space is priced with
//!    the campaign's latency source; the shapes within the largest budget are trained at proxy
//!    length (the per-candidate compute the search spent), and the lowest proxy loss within a
//!    budget is the family's baseline there.
//! 3. **Latency re-checked**: each validated model is timed again (calibrated when the campaign
//!    is, `recheck_rounds` rounds); a model over its budget on re-measurement is flagged.
//! 4. **Long training**: every pick and baseline trains F× the proxy's tokens with S seeds
//!    (init and data order), through the campaign's executor.
//! 5. **The answer** ([`analysis`]): per budget, the long-run loss of each model (mean and 95 %
//!    interval over seeds) and the pick's gap to the best baseline with a verdict; Spearman of
//!    proxy vs long-run loss over the models.
//!
//! Everything lives in `DIR/validate/`: `plan.json` (what was resolved at the start; a resume
//! continues it), one journal per stage (`price.jsonl`, `proxy.jsonl`, `recheck.jsonl`,
//! `long.jsonl`: checksummed lines, appended durably, replayed on resume), `candidates/` (the
//! executor's tasks), and the outputs `validate.json`, `validate.csv`, `validate.{svg,png}`.
//! One driver at a time (`validate/driver.lock`); readers never write.

pub mod analysis;
mod baselines;
/// `[validate]`, kept with the campaign's config (the core reads it; the validation too).
pub use crate::config::validate as config;
mod long_runs;
mod plan;
use plan::write_plan;
pub use plan::{band_within, baseline_within, best_within, load_plan, plan, recheck_order};

pub use analysis::{Gap, ModelResult, TargetResult, ValidationReport, Verdict};
pub use baselines::chosen_after_recheck;
pub use config::{Family, ValidateConfig};

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::executor::ExecutorConfig;
use crate::journal::{Entry, Journal, Record, RecordStatus};
use crate::lock::FolderLock;
use crate::rows::Rows;
use crate::store::load_records;
use crate::task::{Latency, Pricer, Task, TaskResult};
use flashnas_latency::LatencySource;
use flashnas_model::spec::LayerKind;
use flashnas_model::{accounting, ArchSpec};
use flashnas_training::{ProxyResult, TrainConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One latency budget of the validation and the campaign record picked for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// `1×`, `0.75×` (of the campaign's budget), or `#12` (an explicit pick).
    pub label: String,
    pub budget_s: f64,
    /// The campaign record picked.
    pub pick: usize,
    /// The candidates the pick is chosen from once the re-check has timed them, in the pick
    /// rule's order: the band of the best within the budget widened by
    /// `validate.recheck_window_pct` (candidates the campaign timed just over it), then the
    /// campaign's own band (its pick first). The first the re-check holds within the budget is
    /// validated — the rule the baselines are chosen by. Empty for explicit ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternates: Vec<usize>,
    /// Set after the re-check when another candidate than the campaign's pick was chosen so:
    /// the campaign's pick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<usize>,
}

/// A baseline shape: a family's pattern repeated `repeats` times at `width`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    pub family: String,
    pub repeats: usize,
    pub width: usize,
    pub layers: String,
}

/// What a validation does, resolved at its start and pinned in `validate/plan.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub settings: ValidateConfig,
    pub targets: Vec<Target>,
    /// Every baseline shape to price, in order.
    pub shapes: Vec<Shape>,
    pub vocab_size: usize,
}

/// A priced baseline shape (`price.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceRow {
    pub index: usize,
    pub family: String,
    pub repeats: usize,
    pub width: usize,
    pub layers: String,
    pub params: usize,
    pub latency: Latency,
}

/// A baseline shape trained at proxy length (`proxy.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyRow {
    pub index: usize,
    /// Its row in `price.jsonl`.
    pub shape: usize,
    pub family: String,
    pub repeats: usize,
    pub width: usize,
    pub layers: String,
    pub params: usize,
    pub latency_s: f64,
    pub proxy: ProxyResult,
    pub eval_seconds: f64,
    pub attempts: usize,
}

impl ProxyRow {
    pub fn loss(&self) -> Option<f64> {
        self.proxy.val_loss.filter(|_| self.proxy.status.is_ok())
    }
}

/// A validated model timed again (`recheck.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecheckRow {
    pub index: usize,
    pub model: String,
    /// Seconds of each round, in the campaign's unit (calibrated when it is).
    pub samples: Vec<f64>,
    /// How they were obtained (`measured (calibrated)`, `analytic`, or the error).
    pub source: String,
}

/// One long run of a model at one seed (`long.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LongRow {
    pub index: usize,
    pub model: String,
    pub seed: u64,
    pub proxy: ProxyResult,
    pub eval_seconds: f64,
    pub attempts: usize,
}

impl LongRow {
    pub fn loss(&self) -> Option<f64> {
        self.proxy.val_loss.filter(|_| self.proxy.status.is_ok())
    }
}

macro_rules! entries {
    ($($t:ty),*) => {$(
        impl Entry for $t {
            fn index(&self) -> usize {
                self.index
            }
        }
    )*};
}
entries!(PriceRow, ProxyRow, RecheckRow, LongRow);

/// Who a validated model is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// The search's pick: a campaign record.
    Pick { id: usize },
    /// A family's best shape at some budget: a `proxy.jsonl` row.
    Baseline { family: String, row: usize },
}

/// A model the validation trains long: a pick or a baseline (each shape once, whatever the
/// number of budgets or roles it serves).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// `layers|wW`: identical architectures are one model.
    pub key: String,
    pub role: Role,
    pub spec: ArchSpec,
    pub layers: String,
    pub width: usize,
    pub depth: usize,
    pub params: usize,
    /// The campaign-source latency it was picked or priced at.
    pub latency_s: f64,
    pub proxy_loss: Option<f64>,
}

fn model_key(layers: &str, width: usize) -> String {
    format!("{layers}|w{width}")
}

/// The folder of a campaign's validation.
pub fn validate_dir(campaign: &Path) -> PathBuf {
    campaign.join("validate")
}

/// What the CLI may change of `[validate]` (`None`: the config's, or the pinned plan's).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub budgets: Option<Vec<f64>>,
    pub ids: Option<Vec<usize>>,
    pub families: Option<Vec<Family>>,
    pub factor: Option<f64>,
    pub seeds: Option<usize>,
    pub recheck_rounds: Option<usize>,
    pub margin: Option<f64>,
    pub until_decided: bool,
    pub max_seeds: Option<usize>,
}

impl Overrides {
    fn apply(&self, s: &mut ValidateConfig) {
        if let Some(b) = &self.budgets {
            s.budgets = Some(b.clone());
            s.ids.clear();
        }
        if let Some(i) = &self.ids {
            s.ids = i.clone();
        }
        if let Some(f) = &self.families {
            s.families = f.clone();
        }
        if let Some(f) = self.factor {
            s.factor = f;
        }
        if let Some(n) = self.seeds {
            s.seeds = n;
        }
        if let Some(n) = self.recheck_rounds {
            s.recheck_rounds = n;
        }
        if let Some(m) = self.margin {
            s.margin = m;
        }
        if self.until_decided {
            s.until_decided = true;
        }
        if let Some(n) = self.max_seeds {
            s.max_seeds = n;
        }
    }

    fn any(&self) -> bool {
        self.budgets.is_some()
            || self.ids.is_some()
            || self.families.is_some()
            || self.factor.is_some()
            || self.recheck_rounds.is_some()
    }
}

/// The settings that decide which models are trained and how (not how many seeds, nor how the
/// verdicts are read): a finished validation can take more seeds, a margin or `until_decided`,
/// but another budget, family or factor is another validation.
fn same_models(a: &ValidateConfig, b: &ValidateConfig) -> bool {
    let strip = |s: &ValidateConfig| ValidateConfig {
        seeds: 0,
        margin: 0.0,
        until_decided: false,
        max_seeds: 0,
        ..s.clone()
    };
    strip(a) == strip(b)
}

/// A validation of one campaign, opened for running (or resuming).
pub struct Validation<'a> {
    pub campaign: PathBuf,
    pub dir: PathBuf,
    pub cfg: CampaignConfig,
    pub records: Vec<Record>,
    pub plan: Plan,
    executor: ExecutorConfig,
    on_event: &'a mut dyn FnMut(Event),
    _lock: FolderLock,
}

impl<'a> Validation<'a> {
    /// Opens the validation of the campaign in `campaign`: a new one (the plan resolved from
    /// `[validate]` and `overrides`, checked before anything is written), or the one its
    /// `validate/` holds (then `overrides` must agree with its plan).
    pub fn open(
        campaign: &Path,
        overrides: &Overrides,
        executor: Option<ExecutorConfig>,
        on_event: &'a mut dyn FnMut(Event),
    ) -> Result<Self> {
        let (cfg, records, problems) = load_records(campaign)?;
        for p in problems {
            on_event(Event::Note(p));
        }
        let dir = validate_dir(campaign);
        let plan_path = dir.join("plan.json");
        let executor = executor.unwrap_or_else(|| cfg.executor.clone());
        executor
            .validate()
            .map_err(|e| Error::Config(format!("executor.{e}")))?;
        let (plan, lock) = if plan_path.exists() {
            let lock = FolderLock::acquire(&dir, crate::lock::DRIVER_LOCK, "validation")?;
            let mut pinned = load_plan(&dir)?;
            let mut wanted = match overrides.any() {
                true => {
                    let mut s = cfg.validate.clone();
                    overrides.apply(&mut s);
                    s
                }
                false => pinned.settings.clone(),
            };
            overrides.apply(&mut wanted);
            if !same_models(&wanted, &pinned.settings) {
                return Err(Error::AlreadyExists {
                    dir: dir.clone(),
                    hint: format!(
                        "holds a validation with other settings ({}); run `flashnas validate {}` without flags to resume it (--seeds, --margin, --until-decided and --max-seeds may change), or move it aside to run another",
                        describe(&pinned.settings),
                        campaign.display()
                    ),
                });
            }
            if wanted != pinned.settings {
                wanted.validate().map_err(Error::Config)?;
                on_event(Event::Note(format!(
                    "continuing the validation with {} seeds{}, margin {} nats: only the long runs not yet in long.jsonl are trained",
                    wanted.seeds,
                    match wanted.until_decided {
                        true => format!(", until decided (at most {} seeds)", wanted.max_seeds),
                        false => String::new(),
                    },
                    wanted.margin
                )));
                pinned.settings = wanted;
                write_plan(&dir, &pinned)?;
            }
            (pinned, lock)
        } else {
            let mut settings = cfg.validate.clone();
            overrides.apply(&mut settings);
            let mut notes = Vec::new();
            if cfg.objectives.quality != crate::config::Quality::Loss && settings.ids.is_empty() {
                notes.push(format!(
                    "the campaign ranks recall beside loss ({}): the picks per budget are its lowest proxy loss; to validate the frontier members you would choose for recall, give their ids (flashnas validate DIR --ids A,B; `flashnas status DIR` lists the frontier with recall)",
                    cfg.objectives.frontier_names()
                ));
            }
            let plan = plan(campaign, &cfg, &records, &settings, &mut notes)?;
            for n in notes {
                on_event(Event::Note(n));
            }
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::file(&dir, flashnas_model::fsio::reason(&e)))?;
            let lock = FolderLock::acquire(&dir, crate::lock::DRIVER_LOCK, "validation")?;
            write_plan(&dir, &plan)?;
            (plan, lock)
        };
        Ok(Self {
            campaign: campaign.to_path_buf(),
            dir,
            cfg,
            records,
            plan,
            executor,
            on_event,
            _lock: lock,
        })
    }

    fn resume_command(&self) -> String {
        format!("flashnas validate {}", self.campaign.display())
    }

    fn write_error(&self, path: &Path, e: &std::io::Error) -> Error {
        Error::write(path, e, &self.resume_command())
    }

    /// The journal of a stage, read back (repaired: this driver holds the lock), each row
    /// checked against what the plan expects at its place.
    fn rows<T: Entry>(
        &mut self,
        name: &str,
        expected: &[String],
        key: impl Fn(&T) -> String,
    ) -> Result<Rows<T>> {
        let resume = self.resume_command();
        Rows::open(self.dir.join(name), resume, self.on_event, |i, r| {
            (expected.get(i) != Some(&key(r))).then(|| {
                format!(
                    "row {i} is '{}', but this validation's plan has '{}' there; move validate/ aside",
                    key(r),
                    expected.get(i).map_or("nothing", |s| s.as_str())
                )
            })
        })
    }

    /// Runs `tasks` through the validation's executor in order, each result journaled as the
    /// row `row(task, result, place)` makes, then told (`told`).
    fn run_rows<T: Entry>(
        &mut self,
        rows: &mut Rows<T>,
        tasks: Vec<Task>,
        row: &mut dyn FnMut(Task, TaskResult, usize) -> T,
        told: &mut dyn FnMut(&T) -> String,
    ) -> Result<()> {
        let ev = &mut self.on_event;
        rows.run(&self.dir, &self.executor, tasks, &mut |e| ev(e), row, told)
    }

    fn shape_spec(&self, s: &Shape) -> ArchSpec {
        let f = self
            .plan
            .settings
            .families
            .iter()
            .find(|f| f.name == s.family)
            .expect("a family of the plan");
        let layers: Vec<LayerKind> = (0..s.repeats).flat_map(|_| f.kinds()).collect();
        self.cfg
            .space
            .arch_for(&layers, s.width, self.plan.vocab_size)
    }

    /// Runs every stage not yet in its journal; returns the answer and writes the outputs.
    pub fn run(&mut self) -> Result<ValidationReport> {
        let priced = self.price()?;
        let trained = self.train_baselines(&priced)?;
        let candidates = self.candidates(&trained);
        let rechecks = self.recheck(&candidates)?;
        self.choose_picks_by_recheck(&candidates, &rechecks);
        let models = self.select(&candidates, &rechecks, &trained);
        let long = self.train_long(&models, &priced, &trained, &candidates, &rechecks)?;
        let report = analysis::analyze(
            self,
            &priced,
            &trained,
            &candidates,
            &rechecks,
            &models,
            &long,
        );
        analysis::write_outputs(&self.dir, &report)?;
        Ok(report)
    }

    /// The reference model of a calibrated or relative-budget campaign.
    fn reference(&self) -> Option<ArchSpec> {
        self.cfg.reference_spec(self.plan.vocab_size)
    }
}

/// Each candidate's latency as eligibility sees it: its re-measured median, or the campaign's
/// figure when the re-check has none.
pub fn eligibility(
    candidates: &[Model],
    rechecks: &[RecheckRow],
) -> std::collections::HashMap<String, f64> {
    candidates
        .iter()
        .map(|m| {
            let re = rechecks
                .iter()
                .find(|r| r.model == m.key)
                .and_then(|r| crate::rank::median(&r.samples));
            (m.key.clone(), re.unwrap_or(m.latency_s))
        })
        .collect()
}

/// A run's loss for a progress line, or why it has none.
fn loss_text(loss: Option<f64>, proxy: &ProxyResult) -> String {
    loss.map(|l| format!("{l:.4}"))
        .unwrap_or_else(|| proxy.status.describe())
}

fn describe(s: &ValidateConfig) -> String {
    format!(
        "{}, families {}, factor {}, {} seeds",
        if s.ids.is_empty() {
            format!("budgets {:?}", s.budgets())
        } else {
            format!("ids {:?}", s.ids)
        },
        s.families
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        s.factor,
        s.seeds
    )
}

#[cfg(test)]
mod tests;
