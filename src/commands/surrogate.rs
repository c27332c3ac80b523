//! `flashnas surrogate fit`: a surrogate benchmark fitted on a table, so that
//! `--executor surrogate:FILE` answers any genome of the table's space.

use flashnas_search::surrogate::{ForestParams, Surrogate};
use flashnas_search::table::{config_path, Table};
use flashnas_search::CampaignConfig;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum SurrogateCmd {
    /// Fit a surrogate on a table (from flashnas tabulate) and report its held-out agreement.
    Fit(FitArgs),
}

#[derive(clap::Args, Debug)]
pub struct FitArgs {
    /// The table (its config is read from beside it).
    #[arg(long)]
    table: PathBuf,
    /// Where to write the surrogate (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Fraction of the table held out to measure the fit (then refitted on everything).
    #[arg(long, default_value_t = 0.2)]
    holdout: f64,
    /// The model of the losses and the latency: gradient-boosted trees (300 of depth 3), or a
    /// random forest (32 bagged trees of depth ≤ 12, the model of surrogates fitted before
    /// boosting). The costs and the seed noise are fitted by a random forest either way.
    #[arg(long, value_enum, default_value_t = Model::Boosted)]
    model: Model,
    /// Trees per loss and latency target (default: the model's).
    #[arg(long)]
    trees: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    Boosted,
    Forest,
}

pub fn run(c: SurrogateCmd) -> anyhow::Result<()> {
    match c {
        SurrogateCmd::Fit(a) => fit(a),
    }
}

fn fit(a: FitArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..0.9).contains(&a.holdout),
        "--holdout: a fraction in [0, 0.9)"
    );
    let mut params = match a.model {
        Model::Boosted => ForestParams::default(),
        Model::Forest => ForestParams::random_forest(),
    };
    if let Some(t) = a.trees {
        anyhow::ensure!(t >= 2, "--trees: at least 2");
        params.trees = t;
    }
    let path = std::fs::canonicalize(&a.table)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.table.display()))?;
    let table = Table::load(&path)?;
    let cfg = CampaignConfig::from_file(&config_path(&path))?;
    let started = std::time::Instant::now();
    let mut s = Surrogate::fit(&table, &cfg.space, params, a.holdout, a.seed)?;
    println!(
        "fitted on {} rows of {} in {:.1} s ({} targets; the losses and latency by {} {} trees each)",
        s.rows,
        a.table.display(),
        started.elapsed().as_secs_f64(),
        s.targets.len(),
        params.trees,
        if params.boosting.is_some() {
            "boosted"
        } else {
            "bagged"
        }
    );
    println!(
        "held out: {:.0} % of the genomes (fit without them, then refitted on all)",
        100.0 * a.holdout
    );
    println!(
        "  {:<16} {:>6} {:>10} {:>14} {:>22}",
        "target", "rows", "Spearman", "error", "within ±2σ seed noise"
    );
    for h in &s.held_out {
        let unit = if h.target.starts_with("loss") {
            format!("{:.4} nats", h.mae)
        } else {
            format!("{:.1} %", h.mae)
        };
        println!(
            "  {:<16} {:>6} {:>10.3} {:>14} {:>22}",
            h.target,
            h.rows,
            h.spearman,
            unit,
            h.within_noise
                .map(|w| format!("{:.0} %", 100.0 * w))
                .unwrap_or_default()
        );
    }
    let budget = cfg.latency.budget_seconds();
    match s.measure_top(&table, budget, 5) {
        Some(t) => println!(
            "at the top: out of fold ({} folds) over the {} genomes {}: Spearman {:.3}, error {:.4} nats; among the best tenth ({} genomes): Spearman {:.3}, error {:.4} nats, bias {:+.4} (seed noise σ {:.4})",
            t.folds,
            t.feasible,
            match budget {
                Some(b) => format!("within the budget ({:.6} s)", b),
                None => "trained".into(),
            },
            t.spearman_all,
            t.mae_all,
            t.rows,
            t.spearman,
            t.mae,
            t.bias,
            t.noise
        ),
        None => println!("at the top: fewer than 20 trained genomes within the budget; not measured"),
    }
    s.save(&a.out)?;
    println!("wrote {}", a.out.display());
    Ok(())
}
