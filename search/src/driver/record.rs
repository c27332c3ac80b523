//! A campaign's records: what became of each evaluation (`Record`), where a candidate came
//! from (`Proposal`, `Origin`), the objectives a record is ranked by, and the spec held as
//! text. The journal (`journal.rs`) writes and reads them.

use crate::genome::{Factor, Genome};
use crate::task::{Latency, LatencyOrigin, TaskResult};
use crate::throughput::ThroughputSource;
use flashnas_model::accounting;
use flashnas_model::ArchSpec;
use flashnas_training::ProxyResult;
use flashnas_training::Status;
use serde::{Deserialize, Serialize};

/// What became of an evaluation (`ok`, `failed`, `over_budget` in the journal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Trained and timed.
    Ok,
    /// Training diverged or crashed, or the latency could not be measured (see `failure`).
    Failed,
    /// Priced over the latency budget and therefore not trained (`train_over_budget`).
    OverBudget,
}

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A random genome of the initial population.
    Random,
    /// A `[[seeds]]` design.
    Seed,
    /// A genome of an earlier campaign (`[warm_start]`).
    WarmStart,
    Mutation,
    Crossover,
    /// Multi-fidelity: an earlier candidate trained to the next rung.
    Promotion,
    /// A hand-designed family's shape (`[family_seeds]`): a pattern repeated to a depth at the
    /// largest width within a budget.
    Family,
    /// An earlier candidate trained again with another seed (`[racing]`): `replicate` r uses
    /// seed r, `parent` is the candidate.
    Replicate,
}

/// A figure of a record the search can minimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Proxy validation loss (failed candidates: infinite).
    Loss,
    /// The campaign's decode latency in seconds (none: infinite).
    Latency,
    /// Parameter count.
    Params,
    /// Decode-state bytes per sequence at the end of the latency protocol.
    StateBytes,
    /// 1 − the recall probe's accuracy (failed or unmeasured: infinite).
    RecallError,
    /// Large-batch decode throughput, tokens/s (ranked as its negative: more is better).
    Throughput,
}

/// The journal spelling, also what `Display` and the exports print.
macro_rules! journal_names {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
journal_names!(RecordStatus { Ok => "ok", Failed => "failed", OverBudget => "over_budget" });
journal_names!(Objective {
    Loss => "loss",
    Latency => "latency",
    Params => "params",
    StateBytes => "state_bytes",
    RecallError => "recall_error",
    Throughput => "throughput",
});
journal_names!(Origin {
    Random => "random",
    Seed => "seed",
    WarmStart => "warm_start",
    Mutation => "mutation",
    Crossover => "crossover",
    Promotion => "promotion",
    Family => "family",
    Replicate => "replicate",
});

/// One evaluated candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Evaluation index, 0-based.
    pub id: usize,
    /// Cycle (aging) or generation (NSGA-II) that proposed it; 0 for the initial population.
    pub cycle: usize,
    pub parent: Option<usize>,
    pub second_parent: Option<usize>,
    pub origin: Origin,
    pub mutation: Option<Factor>,
    pub genome: Genome,
    /// The proposal's identity before a width was fitted (what resume matches on).
    pub proposal_key: String,
    /// Canonical identity (layers and width): duplicates are never evaluated twice.
    pub key: String,
    /// Layer string, e.g. `m2 f a f`.
    pub layers: String,
    pub width: usize,
    pub depth: usize,
    pub params: usize,
    /// Decode-state bytes per sequence at the end of the latency protocol's generation.
    pub state_bytes: usize,
    pub spec: SpecText,
    pub proxy: ProxyResult,
    /// The candidate's latency and where it came from; the journal spells its fields
    /// `latency_s`, `latency_raw_s`, `latency_ref`, `latency_cv`, `latency_source`,
    /// `latency_predicted_s` (see [`journal_latency`]).
    #[serde(flatten, with = "journal_latency")]
    pub latency: Latency,
    /// Ran without failure and met the latency budget.
    pub feasible: bool,
    /// `ok` or `failed`.
    pub status: RecordStatus,
    pub failure: Option<String>,
    /// Frontier size and hypervolume after this evaluation.
    pub frontier_size: usize,
    pub hypervolume: f64,
    pub seed: u64,
    pub eval_seconds: f64,
    /// Tries it took (a worker died, a Slurm job failed, timed out or was preempted).
    #[serde(default = "one")]
    pub attempts: usize,
    /// Multi-fidelity: the rung it was trained to (`proxy.steps` steps), when below the full
    /// run. Such records rank candidates for promotion; the frontier holds full runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rung: Option<usize>,
    /// Racing: this is seed `r` (≥ 1) of candidate `parent`, trained again; its loss joins the
    /// candidate's mean and is not a candidate of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicate: Option<u32>,
    /// Latency pricings the driver spent on this proposal (fitting its width; 0 when the
    /// worker priced it or a cached figure served).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pricings: usize,
    /// How far its recall accuracy falls short of `objectives.recall_min` (0: no shortfall,
    /// or no recall constraint): a constraint violation like latency over the budget.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub recall_shortfall: f64,
    /// Large-batch decode throughput (`[throughput]`): generated tokens/s, and the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_tokens_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_batch: Option<usize>,
    /// How far its throughput falls short of `throughput.min_tokens_s`, as a fraction of it.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub throughput_shortfall: f64,
    /// Why its measured throughput has no figure (`[throughput] source = "measured"`); with
    /// a `min_tokens_s` such a candidate cannot be shown to meet it and is infeasible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_error: Option<String>,
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn one() -> usize {
    1
}

/// A record's architecture, held as its JSON text and parsed where it is needed: parsed, a
/// spec's sections are maps of a few KB, and a campaign keeps every record in memory (a
/// 100,000-evaluation campaign held 2.6 GB). Reads and writes as the [`ArchSpec`] it spells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecText(Box<str>);

impl SpecText {
    pub fn of(spec: &ArchSpec) -> Self {
        Self(
            serde_json::to_string(spec)
                .expect("a spec serializes")
                .into(),
        )
    }

    /// The architecture (its text was read from, or written by, an [`ArchSpec`]).
    pub fn spec(&self) -> ArchSpec {
        serde_json::from_str(&self.0).expect("a record's spec text is a spec")
    }
}

impl Serialize for SpecText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.spec().serialize(s)
    }
}

impl<'de> Deserialize<'de> for SpecText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ArchSpec::deserialize(d).map(|spec| Self::of(&spec))
    }
}

/// A candidate a strategy proposes; a record journals where it came from.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub genome: Genome,
    pub cycle: usize,
    pub parent: Option<usize>,
    pub second_parent: Option<usize>,
    pub origin: Origin,
    pub mutation: Option<Factor>,
    /// Multi-fidelity: evaluate at this rung of the ladder only (`None`: the full run).
    pub rung: Option<usize>,
    /// Racing: train the candidate `parent` again with seed r.
    pub replicate: Option<u32>,
}

impl Proposal {
    /// A design of the initial population (seed, family shape, warm start, random genome).
    pub fn initial(genome: Genome, origin: Origin) -> Self {
        Self {
            genome,
            cycle: 0,
            parent: None,
            second_parent: None,
            origin,
            mutation: None,
            rung: None,
            replicate: None,
        }
    }

    /// Whether the width is kept as proposed under `width = "fit_budget"`: a family shape is
    /// one width by definition, a replicate or a promotion retrains what was evaluated.
    pub fn keeps_width(&self) -> bool {
        matches!(
            self.origin,
            Origin::Family | Origin::Replicate | Origin::Promotion
        )
    }
}

/// A candidate as the driver knows it when its result comes in: where it came from (the
/// proposal) and what was evaluated (the genome with its fitted width, the spec).
pub struct Evaluated {
    pub id: usize,
    pub proposal: Proposal,
    /// The proposal's identity at its fidelity (what resume matches on).
    pub proposal_key: String,
    pub key: String,
    pub genome: Genome,
    pub spec: ArchSpec,
}

/// A record's [`Latency`] as the journal has always spelled it: flat `latency_*` fields
/// (task and result files use the struct's own names).
mod journal_latency {
    use super::{Latency, LatencyOrigin};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Fields {
        /// The campaign's latency: raw seconds, or `ratio × reference_s` when calibrated.
        latency_s: Option<f64>,
        /// Raw seconds as timed (only when it differs in kind from `latency_s`: calibrated).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_raw_s: Option<f64>,
        /// Latency in reference units (candidate / reference model), when the campaign has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_ref: Option<f64>,
        latency_cv: Option<f64>,
        latency_source: LatencyOrigin,
        /// What the latency predictor said; beside a measured latency it is the predictor's
        /// validation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_predicted_s: Option<f64>,
        /// How many timings the figure is the median of, when it landed near a budget level
        /// and was timed again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_retimed: Option<usize>,
    }

    pub fn serialize<S: Serializer>(l: &Latency, s: S) -> Result<S::Ok, S::Error> {
        Fields {
            latency_s: l.seconds,
            latency_raw_s: l.raw_s,
            latency_ref: l.ratio,
            latency_cv: l.cv,
            latency_source: l.source.clone(),
            latency_predicted_s: l.predicted_s,
            latency_retimed: l.retimed,
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Latency, D::Error> {
        let f = Fields::deserialize(d)?;
        Ok(Latency {
            seconds: f.latency_s,
            cv: f.latency_cv,
            source: f.latency_source,
            raw_s: f.latency_raw_s,
            ratio: f.latency_ref,
            predicted_s: f.latency_predicted_s,
            retimed: f.latency_retimed,
        })
    }
}

impl Record {
    /// The journal record of an evaluation: its status (ok; over the budget, untrained;
    /// failed, with the reason), feasibility under `budget_s`, the model's size and its
    /// decode state after `context` tokens. Frontier figures are filled in on admission.
    /// `recall_min`: a trained candidate whose recall accuracy is below it is infeasible;
    /// `throughput`: its large-batch throughput, a constraint when it sets a minimum.
    pub fn from_result(
        c: Evaluated,
        result: TaskResult,
        budget_s: f64,
        recall_min: Option<f64>,
        throughput: Option<&crate::throughput::ThroughputConfig>,
        context: usize,
        seed: u64,
    ) -> Self {
        let proxy = result.proxy;
        let failure = match (&proxy.status, result.latency.seconds) {
            (Status::Ok, Some(_)) => None,
            (Status::Ok, None) => Some(format!("latency {}", result.latency.source)),
            (s, _) => Some(s.describe()),
        };
        let status = match (&failure, &proxy.status) {
            (None, _) => RecordStatus::Ok,
            (Some(_), Status::NotTrained { .. }) => RecordStatus::OverBudget,
            (Some(_), _) => RecordStatus::Failed,
        };
        // Judged at the full run: a multi-fidelity rung has no recall figure (the probe runs
        // at the full run only) and competes on its loss.
        let recall_shortfall = match (recall_min, &failure, c.proposal.rung) {
            (Some(min), None, None) => (min - proxy.recall_accuracy.unwrap_or(0.0)).max(0.0),
            _ => 0.0,
        };
        // Measured by the worker when the campaign asks for it (none for a candidate not
        // trained, or whose measurement failed), else the roofline's figure.
        let served = throughput.and_then(|t| {
            let figure = match t.source {
                ThroughputSource::Roofline => Some(t.of(&c.spec, context)),
                ThroughputSource::Measured => result.throughput.clone().and_then(Result::ok),
            };
            figure.map(|f| (f, t.min_tokens_s))
        });
        let throughput_error = match (throughput.map(|t| t.source), &result.throughput) {
            (Some(ThroughputSource::Measured), Some(Err(e))) => Some(e.clone()),
            _ => None,
        };
        let throughput_shortfall = match served {
            Some((t, Some(min))) => (1.0 - t.tokens_s / min).max(0.0),
            // Measured and failed: nothing shows it meets the minimum.
            None if throughput_error.is_some()
                && throughput.is_some_and(|t| t.min_tokens_s.is_some()) =>
            {
                1.0
            }
            _ => 0.0,
        };
        let feasible = failure.is_none()
            && result.latency.seconds.is_some_and(|l| l <= budget_s)
            && recall_shortfall == 0.0
            && throughput_shortfall == 0.0;
        let p = c.proposal;
        Record {
            id: c.id,
            cycle: p.cycle,
            parent: p.parent,
            second_parent: p.second_parent,
            origin: p.origin,
            mutation: p.mutation,
            proposal_key: c.proposal_key,
            key: c.key,
            layers: c.spec.layer_string(),
            width: c.genome.width,
            depth: c.genome.depth(),
            params: accounting::param_count(&c.spec),
            state_bytes: accounting::state_bytes(&c.spec, context),
            genome: c.genome,
            spec: SpecText::of(&c.spec),
            proxy,
            latency: result.latency,
            feasible,
            status,
            failure,
            frontier_size: 0,
            hypervolume: 0.0,
            seed,
            eval_seconds: result.eval_seconds,
            attempts: result.attempt,
            rung: p.rung,
            replicate: p.replicate,
            pricings: 0,
            recall_shortfall,
            throughput_tokens_s: served.map(|s| s.0.tokens_s),
            throughput_batch: served.map(|s| s.0.batch),
            throughput_shortfall,
            throughput_error,
        }
    }

    /// A candidate of its own: a full-fidelity run with the campaign's seed (not a
    /// multi-fidelity rung, not a racing replicate).
    pub fn is_candidate(&self) -> bool {
        self.rung.is_none() && self.replicate.is_none()
    }

    /// Counts against `evaluations`: trained (or failed in training), not a replicate. A
    /// proposal priced over the budget and left untrained does not.
    pub fn counts_as_evaluation(&self) -> bool {
        self.status != RecordStatus::OverBudget && self.replicate.is_none()
    }

    /// Proxy validation loss; failed candidates rank last.
    pub fn loss(&self) -> f64 {
        self.proxy
            .val_loss
            .filter(|_| self.status == RecordStatus::Ok)
            .unwrap_or(f64::INFINITY)
    }
    pub fn latency(&self) -> f64 {
        self.latency.seconds.unwrap_or(f64::INFINITY)
    }
    /// The value of an objective (lower is better).
    pub fn objective(&self, o: Objective) -> f64 {
        match o {
            Objective::Loss => self.loss(),
            Objective::Latency => self.latency(),
            Objective::Params => self.params as f64,
            Objective::StateBytes => self.state_bytes as f64,
            Objective::RecallError => self.recall().map_or(f64::INFINITY, |a| 1.0 - a),
            Objective::Throughput => self.throughput_tokens_s.map_or(f64::INFINITY, |t| -t),
        }
    }

    /// The recall probe's accuracy of a trained candidate.
    pub fn recall(&self) -> Option<f64> {
        self.proxy
            .recall_accuracy
            .filter(|_| self.status == RecordStatus::Ok)
    }
}

impl Record {
    /// Its layers' kinds, in order (read from `layers`, which spells them).
    pub fn kinds(&self) -> impl Iterator<Item = flashnas_model::LayerKind> + '_ {
        self.layers
            .split_whitespace()
            .map(|s| flashnas_model::LayerKind::parse(s).expect("a record's layers spell kinds"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CampaignConfig;
    use crate::journal::Origin;
    use rand::SeedableRng;

    /// A measured throughput that failed is journaled with its reason, and under a
    /// `min_tokens_s` makes the trained candidate infeasible (shortfall 1), never feasible by
    /// default; without a minimum the candidate stands on its latency.
    #[test]
    fn a_failed_throughput_measurement_is_journaled_and_fails_a_minimum() {
        let cfg = CampaignConfig::from_toml(
            r#"
name = "t"
strategy = "random"
evaluations = 1
[space]
stages = 1
mixers = ["attention", "mamba2"]
widths = [16]
head_dim = 8
[latency]
source = "analytic"
roofline = "cpu-2core"
budget_s = 1.0
[throughput]
memory_gb = 0.01
source = "measured"
min_tokens_s = 10.0
[objectives]
reference_point = { loss = 10.0, latency_s = 2.0 }
[train]
steps = 1
"#,
            "t.toml",
        )
        .unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let genome = Genome::random(&cfg.space, &mut rng);
        let spec = genome.to_spec(&cfg.space, 256);
        let evaluated = || Evaluated {
            id: 0,
            proposal: Proposal::initial(genome.clone(), Origin::Random),
            proposal_key: genome.key(),
            key: genome.key(),
            genome: genome.clone(),
            spec: spec.clone(),
        };
        let mut proxy = ProxyResult::failed(Status::Ok, 10);
        proxy.val_loss = Some(3.0);
        let result = |throughput| TaskResult {
            name: "0".into(),
            proposal_key: genome.key(),
            proxy: proxy.clone(),
            latency: Latency {
                seconds: Some(0.1),
                source: LatencyOrigin::Analytic,
                ..Default::default()
            },
            eval_seconds: 1.0,
            worker: "w".into(),
            attempt: 1,
            throughput,
        };
        let t = cfg.throughput.clone().unwrap();
        let record = |r, t: &crate::throughput::ThroughputConfig| {
            Record::from_result(evaluated(), r, 1.0, None, Some(t), 96, 0)
        };
        let failed = record(result(Some(Err("no device".into()))), &t);
        assert_eq!(failed.throughput_error.as_deref(), Some("no device"));
        assert_eq!(failed.throughput_shortfall, 1.0);
        assert!(!failed.feasible);
        let measured = crate::throughput::Throughput {
            batch: 4,
            tokens_s: 20.0,
        };
        let ok = record(result(Some(Ok(measured))), &t);
        assert!(ok.feasible && ok.throughput_error.is_none());
        assert_eq!(ok.throughput_tokens_s, Some(20.0));
        let no_minimum = crate::throughput::ThroughputConfig {
            min_tokens_s: None,
            ..t.clone()
        };
        let failed = record(result(Some(Err("no device".into()))), &no_minimum);
        assert!(failed.feasible && failed.throughput_error.is_some());
        assert_eq!(failed.throughput_shortfall, 0.0);
    }
}
