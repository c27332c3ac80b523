//! `flashnas bench recall`: the recall probe's accuracy-vs-steps curve per architecture, over
//! seeds, under a campaign's `[train.recall]` (or overrides): how to calibrate the probe so
//! that it separates attention-containing models from small-state recurrent ones beyond its
//! own seed noise, and at what cost per candidate.

use anyhow::Context;
use flashnas_model::backend::{device, Train};
use flashnas_search::config::CampaignConfig;
use flashnas_search::genome::parse_layer_types;
use flashnas_training::{recall_curve, Dataset, RecallPoint};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct RecallArgs {
    /// The campaign config whose space (sizes) and `[train]` / `[train.recall]` are used.
    #[arg(long)]
    config: PathBuf,
    /// Architectures as layer lists, e.g. "a f a f" (repeatable). Default: `k f k f` for
    /// each mixer kind of the space, and `m2 f a f`.
    #[arg(long = "arch")]
    archs: Vec<String>,
    /// Model width (default: the space's largest).
    #[arg(long)]
    width: Option<usize>,
    /// Steps after which accuracy is scored; the run trains to the largest.
    #[arg(long, value_delimiter = ',', default_values_t = vec![50usize, 100, 200, 400])]
    steps: Vec<usize>,
    /// Training seeds per architecture (0, 1, …).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Overrides of `[train.recall]`.
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long)]
    pairs: Option<usize>,
    #[arg(long)]
    queries: Option<usize>,
    #[arg(long)]
    keys: Option<usize>,
    #[arg(long)]
    values: Option<usize>,
    #[arg(long)]
    batch: Option<usize>,
    /// Filler tokens between pairs and queries.
    #[arg(long)]
    gap: Option<usize>,
    /// Also write every point (arch, seed, step, accuracy, seconds) as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(serde::Serialize)]
struct Row {
    arch: String,
    attention: bool,
    seed: u64,
    params: usize,
    points: Vec<RecallPoint>,
}

pub fn run(a: RecallArgs) -> anyhow::Result<()> {
    if a.seeds == 0 {
        anyhow::bail!("--seeds 0: give at least one seed");
    }
    if a.steps.is_empty() || a.steps.contains(&0) {
        anyhow::bail!("--steps: give step counts ≥ 1, e.g. --steps 50,100,200");
    }
    let cfg = CampaignConfig::from_file(&a.config)?;
    let mut train = cfg.train.clone();
    let r = &mut train.recall;
    r.enabled = true;
    r.steps = *a.steps.iter().max().expect("non-empty");
    r.lr = a.lr.or(r.lr);
    r.pairs = a.pairs.unwrap_or(r.pairs);
    r.queries = a.queries.unwrap_or(r.queries);
    r.keys = a.keys.or(r.keys);
    r.values = a.values.or(r.values);
    r.batch_size = a.batch.unwrap_or(r.batch_size);
    r.gap = a.gap.unwrap_or(r.gap);
    train
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.config.display()))?;
    let base = a.config.parent().map(PathBuf::from).unwrap_or_default();
    let vocab = Dataset::probe(&train.data, train.seq_len, &base)
        .with_context(|| format!("{}: [train.data]", a.config.display()))?
        .vocab_size;
    let space = &cfg.space;
    let width = a
        .width
        .unwrap_or_else(|| *space.widths.iter().max().expect("validated"));
    let archs: Vec<String> = if a.archs.is_empty() {
        let mut v: Vec<String> = space
            .mixer_kinds()
            .iter()
            .map(|k| format!("{0} f {0} f", k.short()))
            .collect();
        v.push("m2 f a f".into());
        v
    } else {
        a.archs.clone()
    };
    let (keys, values) = train.recall.vocabularies(vocab);
    let r = &train.recall;
    println!(
        "recall probe: {} pairs, {} queries, gap {}, {keys} keys, {values} values, batch {}, lr {}, width {width}, {} seeds",
        r.pairs,
        r.queries,
        r.gap,
        r.batch_size,
        r.lr.unwrap_or(train.optimizer.lr),
        a.seeds
    );
    println!(
        "chance: {:.1} % (any value), {:.1} % (a value of the sequence)",
        100.0 / values as f64,
        100.0 / r.pairs as f64
    );
    let dev = device();
    let mut rows = Vec::new();
    let bar = indicatif::ProgressBar::new(archs.len() as u64 * a.seeds);
    for arch in &archs {
        let words: Vec<String> = arch.split_whitespace().map(String::from).collect();
        let layers =
            parse_layer_types(&words).map_err(|e| anyhow::anyhow!("--arch {arch}: {e}"))?;
        let spec = space.arch_for(&layers, width, vocab);
        spec.validate()
            .map_err(|e| anyhow::anyhow!("--arch {arch} at width {width}: {e}"))?;
        let attention = layers
            .iter()
            .any(|k| k.descriptor().family == flashnas_model::kind::Family::Attention);
        for seed in 0..a.seeds {
            let mut t = train.clone();
            t.seed = cfg.replicate_seed(seed);
            let points = recall_curve::<Train>(&spec, &t, &a.steps, &dev, &mut |_| {})
                .map_err(|s| anyhow::anyhow!("{arch} seed {seed}: {}", s.describe()))?;
            rows.push(Row {
                arch: arch.clone(),
                attention,
                seed,
                params: flashnas_model::accounting::param_count(&spec),
                points,
            });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let mut steps = a.steps.clone();
    steps.sort_unstable();
    steps.dedup();
    print!("{:<22}{:>9}", "arch", "params");
    for s in &steps {
        print!("{:>17}", format!("{s} steps"));
    }
    println!("{:>10}", "s/run");
    let stats = |arch: &str, step: usize| -> (f64, f64) {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.arch == arch)
            .filter_map(|r| r.points.iter().find(|p| p.step == step))
            .map(|p| p.accuracy * 100.0)
            .collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let sd = if v.len() > 1 {
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
        } else {
            f64::NAN
        };
        (m, sd)
    };
    for arch in &archs {
        let mine: Vec<&Row> = rows.iter().filter(|r| &r.arch == arch).collect();
        print!("{:<22}{:>9}", arch, mine[0].params);
        for &s in &steps {
            let (m, sd) = stats(arch, s);
            print!("{:>17}", format!("{m:.1} ± {sd:.1} %"));
        }
        let secs = mine
            .iter()
            .map(|r| r.points.last().map_or(0.0, |p| p.seconds))
            .sum::<f64>()
            / mine.len() as f64;
        println!("{secs:>10.2}");
    }
    // The separation the probe is for: the worst attention-containing model's mean against
    // the best attention-free one's, at each step count.
    let (with, without): (Vec<&String>, Vec<&String>) = archs.iter().partition(|arch| {
        rows.iter()
            .find(|r| &r.arch == *arch)
            .is_some_and(|r| r.attention)
    });
    if !with.is_empty() && !without.is_empty() {
        print!("{:<31}", "gap (worst attn − best other)");
        for &s in &steps {
            let lo = with
                .iter()
                .map(|a| stats(a, s).0)
                .fold(f64::INFINITY, f64::min);
            let hi = without
                .iter()
                .map(|a| stats(a, s).0)
                .fold(f64::NEG_INFINITY, f64::max);
            print!("{:>17}", format!("{:+.1} pts", lo - hi));
        }
        println!();
    }
    if let Some(path) = &a.json {
        let v = serde_json::json!({
            "config": a.config, "width": width, "pairs": r.pairs, "queries": r.queries,
            "keys": keys, "values": values, "gap": r.gap, "batch": r.batch_size,
            "lr": r.lr.unwrap_or(train.optimizer.lr), "rows": rows,
        });
        std::fs::write(path, serde_json::to_string_pretty(&v)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
