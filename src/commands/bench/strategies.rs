//! `flashnas bench strategies`: every strategy, many seeds, against a benchmark table.

use flashnas_search::benchmark::{Outcome, Prepared, Regret, Request, Trajectory, Truth};
use flashnas_search::config::StrategyKind;
use flashnas_search::plot::{Chart, Series};
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct StrategiesArgs {
    /// A table from `flashnas tabulate` (its config is read from beside it).
    #[arg(long)]
    table: PathBuf,
    /// Answer the runs from this surrogate (flashnas surrogate fit) instead of the table: any
    /// genome of the space; the table still gives the cost unit and the best known figures.
    #[arg(long)]
    surrogate: Option<PathBuf>,
    /// Seeds per strategy.
    #[arg(long, default_value_t = 50)]
    seeds: u64,
    /// The first seed (seeds offset..offset+N): report on seeds the settings were not tuned on.
    #[arg(long, default_value_t = 0)]
    seed_offset: u64,
    /// The compute every run gets, in full evaluations of random genomes (each strategy spends
    /// it as it likes; every figure is taken at that compute). Default: 10 % of the table.
    #[arg(long)]
    budget: Option<usize>,
    /// Records a run may admit at most (default: 20 × --budget); a run ended by it before
    /// the compute budget is reported.
    #[arg(long)]
    cap: Option<usize>,
    /// Strategies to compare.
    #[arg(long, value_delimiter = ',', default_values = ["aging", "random", "nsga2", "asha"])]
    strategies: Vec<String>,
    /// Folder for the figures, plots and per-run trajectories (default:
    /// results/bench-strategies-<timestamp>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs in parallel (default: this machine's cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Override the table config's `[multi_fidelity] rungs` (fractions of the steps).
    #[arg(long, value_delimiter = ',')]
    rungs: Vec<f64>,
    /// Override the table config's `[multi_fidelity] eta`.
    #[arg(long)]
    eta: Option<usize>,
}

/// Seconds with three significant digits.
fn secs(s: f64) -> String {
    match s.abs() {
        a if a >= 100.0 => format!("{s:.0} s"),
        a if a >= 10.0 => format!("{s:.1} s"),
        a if a >= 1.0 => format!("{s:.2} s"),
        _ => format!("{s:.3} s"),
    }
}

/// A regret as the report prints it: mean ± 95 % CI, and how many of the `seeds` runs had no
/// feasible find to count ("none found" when none had).
fn regret_cell(r: &Regret, seeds: usize) -> String {
    match r.none_found {
        n if n == seeds => "none found".into(),
        0 => format!("{:.4} ± {:.4}", r.mean, r.ci95),
        n => format!("{:.4} ± {:.4} ({n} none)", r.mean, r.ci95),
    }
}

fn name(s: StrategyKind) -> String {
    s.name().to_string()
}

pub fn run_bench(a: StrategiesArgs) -> anyhow::Result<()> {
    let strategies: Vec<StrategyKind> = a
        .strategies
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse().map_err(|e| anyhow::anyhow!("--strategies: {e}")))
        .collect::<anyhow::Result<_>>()?;
    let p = Prepared::new(Request {
        table: a.table.clone(),
        surrogate: a.surrogate.clone(),
        seeds: a.seeds,
        seed_offset: a.seed_offset,
        budget: a.budget,
        cap: a.cap,
        strategies: strategies.clone(),
        threads: a
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        rungs: a.rungs.clone(),
        eta: a.eta,
    })?;
    let (table, cfg, compute, budget, cap) = (&p.table, &p.cfg, p.compute, p.budget, p.cap);
    let (table_hv, table_seen_hv, sigma, hv_noise) =
        (p.table_hv, p.table_seen_hv, p.sigma, p.hv_noise);
    println!(
        "table {}: {} genomes, {} within the latency budget {:.6} s{}; its frontier's hypervolume {table_hv:.5} on truth ({}), {table_seen_hv:.5} as tabulated",
        a.table.display(),
        table.rows.len(),
        p.feasible,
        p.budget_s,
        match (p.recalling, cfg.objectives.recall_min) {
            (Some(n), Some(m)) => format!(
                ", {n} of them recalling at least {:.0} % (objectives.recall_min)",
                100.0 * m
            ),
            _ => String::new(),
        },
        match p.truth() {
            Truth::Table(_) => "the table's mean over its replicates",
            Truth::Surrogate(_) => "the surrogate's noise-free mean",
        }
    );
    let ladder: Vec<String> = table
        .rung_correlations(0.1)
        .iter()
        .map(|(s, all, top)| format!("{s} steps {all:.2} (top decile {top:.2})"))
        .collect();
    if !ladder.is_empty() {
        println!(
            "the fidelity ladder ranks like the full run (Spearman): {}",
            ladder.join(", ")
        );
    }
    match (sigma, hv_noise) {
        (Some(s), Some(h)) => println!(
            "seed noise: loss σ {s:.4} (pooled over the replicated genomes); the table's hypervolume moves by σ {:.5} with it (95 % bootstrap interval {:.5}–{:.5} over {} draws; ties are judged against its upper end)",
            h.sd, h.low, h.high, h.draws
        ),
        _ => println!(
            "seed noise: unknown (one training run per genome): differences cannot be told from seed noise (verdicts 'tie?')"
        ),
    }
    println!(
        "{} strategies × {} seeds ({}..{}), each given {} of simulated compute = {budget} full evaluations of random genomes",
        strategies.len(),
        a.seeds,
        a.seed_offset,
        a.seed_offset + a.seeds,
        secs(compute)
    );
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| flashnas_search::run_dir::results_dir("bench-strategies"));
    std::fs::create_dir_all(&out)?;
    let work = tempfile::tempdir_in(&out)?;
    let bar = ProgressBar::new(strategies.len() as u64 * a.seeds);
    bar.set_style(
        ProgressStyle::with_template("runs [{bar:30}] {pos}/{len} · {elapsed} · {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let o = p.run(work.path(), &|what| {
        bar.set_message(what.to_string());
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let Outcome {
        runs,
        elapsed_s,
        best_hv: table_hv,
        fractions,
        compute_points,
        budgets,
        summaries,
        comparisons,
        share,
        share_at_nadir,
        checks,
    } = o;
    println!("{} runs in {elapsed_s:.1} s", runs.len());

    let mut report = String::new();
    writeln!(
        report,
        "\ntrue hypervolume at equal simulated compute — the frontier each run reported, valued at true losses (mean ± 95 % CI over {} seeds; best reachable: {table_hv:.5}); answers within the budget by kind",
        a.seeds
    )?;
    write!(report, "{:<8}", "compute")?;
    for (f, c) in fractions.iter().zip(&compute_points) {
        write!(report, "{:>20}", format!("{f:.2}× ({})", secs(*c)))?;
    }
    writeln!(
        report,
        "{:>8}{:>7}{:>7}{:>7}{:>7}",
        "≥95 %", "full", "rung", "over", "fail"
    )?;
    for s in &summaries {
        write!(report, "{:<8}", name(s.strategy))?;
        for (_, v) in &s.by_compute {
            write!(report, "{:>20}", format!("{:.5} ± {:.5}", v.mean, v.ci95))?;
        }
        writeln!(
            report,
            "{:>7.0} %{:>7.1}{:>7.1}{:>7.1}{:>7.1}{}",
            100.0 * s.reach_95,
            s.full,
            s.rung,
            s.over_budget,
            s.failed,
            if s.short_runs > 0 {
                format!(
                    "  ({} runs hit the cap of {cap} records first)",
                    s.short_runs
                )
            } else {
                String::new()
            }
        )?;
    }
    writeln!(
        report,
        "\nthe same at the budget as each strategy saw it (on its noisy answers), and the luck in it (seen − true):"
    )?;
    for s in &summaries {
        let (seen, truth) = (
            s.seen_by_compute.last().map_or(0.0, |v| v.1.mean),
            s.by_compute.last().map_or(0.0, |v| v.1.mean),
        );
        writeln!(
            report,
            "  {:<8} seen {seen:.5}   true {truth:.5}   luck {:+.5}",
            name(s.strategy),
            seen - truth
        )?;
    }
    writeln!(
        report,
        "\nbest-in-budget regret at that compute: the true loss of each run's pick (the lowest loss it saw) minus the best true loss reachable there (mean ± 95 % CI; runs that found none)"
    )?;
    write!(report, "{:<8}", "budget")?;
    for ((b, best), f) in budgets.iter().zip([0.5, 0.75, 1.0]) {
        write!(
            report,
            "{:>30}",
            format!(
                "{f}× {:.4} ms (best {})",
                b * 1e3,
                best.map_or("–".into(), |l| format!("{l:.4}"))
            )
        )?;
    }
    writeln!(report)?;
    for s in &summaries {
        write!(report, "{:<8}", name(s.strategy))?;
        for r in &s.regrets {
            write!(report, "{:>30}", regret_cell(r, s.seeds))?;
        }
        writeln!(report)?;
    }
    writeln!(
        report,
        "\nthe same within the whole latency budget, at each compute (mean ± 95 % CI; runs that found none)"
    )?;
    write!(report, "{:<8}", "compute")?;
    for (&c, f) in compute_points.iter().zip(&fractions) {
        write!(report, "{:>27}", format!("{f:.2}× ({})", secs(c)))?;
    }
    writeln!(report)?;
    for s in &summaries {
        write!(report, "{:<8}", name(s.strategy))?;
        for (_, r) in &s.regret_by_compute {
            write!(report, "{:>27}", regret_cell(r, s.seeds))?;
        }
        writeln!(report)?;
    }
    if let Some(random) = summaries
        .iter()
        .find(|s| s.strategy == StrategyKind::Random)
    {
        let target = random.by_compute.last().map_or(0.0, |v| v.1.mean);
        let unit = random.compute_to_target;
        writeln!(
            report,
            "\nsimulated compute to reach random search's mean hypervolume at the budget ({target:.5}), from the same mean curves:"
        )?;
        for s in &summaries {
            match (s.compute_to_target, unit) {
                (Some(c), Some(u)) => writeln!(
                    report,
                    "  {:<8} {:>10} = {:.2} × random's {}{}",
                    name(s.strategy),
                    secs(c),
                    c / u,
                    secs(u),
                    match s.compute_ratio_ci95 {
                        Some((lo, hi)) if hi.is_finite() => {
                            format!("   (95 % bootstrap over seeds {lo:.2}–{hi:.2})")
                        }
                        Some((lo, _)) => format!(
                            "   (95 % bootstrap over seeds {lo:.2}– not reached within the budget)"
                        ),
                        None => String::new(),
                    }
                )?,
                _ => writeln!(
                    report,
                    "  {:<8} not reached within {}",
                    name(s.strategy),
                    secs(compute)
                )?,
            }
        }
    }
    writeln!(
        report,
        "\nrank tests at equal compute (Mann–Whitney U, two-sided; 'tie' when p ≥ 0.01 or the difference is within twice the table's hypervolume noise):"
    )?;
    for c in &comparisons {
        writeln!(
            report,
            "  {:<7} vs {:<7} P({} > {}) = {:.2}   p = {:.2e}   Δ {:+.5}   {}",
            name(c.a),
            name(c.b),
            name(c.a),
            name(c.b),
            c.prob_a_better,
            c.p_value,
            c.mean_difference,
            c.verdict
        )?;
    }
    // Does the table tell strategies apart at all?
    writeln!(report, "\nchecks that the table discriminates:")?;
    for c in &checks {
        let verdict = match c.pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "cannot check (seed noise unknown)",
        };
        writeln!(
            report,
            "  {}: {:.4} (limit {:.4}): {verdict}",
            c.what, c.value, c.threshold
        )?;
    }
    // What a front with no knee would give under the same reference: the share's floor.
    let floor = |s: &flashnas_search::benchmark::Share| {
        s.straight_front.map_or(String::new(), |f| {
            format!("; a straight-line front between the same ends: {f:.4}")
        })
    };
    writeln!(
        report,
        "  (the largest box one genome's point spans, its share at the reference loss {:.4}: {:.4}, {}{})",
        share.reference_loss,
        share.share,
        share.key,
        floor(&share)
    )?;
    if let Some(n) = &share_at_nadir {
        writeln!(
            report,
            "  (with the reference loss at the true frontier's worst loss + 10 % of its range, {:.4}, instead of {:.4}: alone {:.4}, {}; box {:.4}, {}{})",
            n.reference_loss,
            cfg.objectives.reference_point.loss,
            n.exclusive,
            n.exclusive_key,
            n.share,
            n.key,
            floor(n)
        )?;
    }
    print!("{report}");

    // Figures: mean hypervolume (solid) and its 95 % interval (dashed) per strategy.
    let curves = |y_at: &dyn Fn(&Trajectory, f64) -> f64, n: usize| {
        let mut series = Vec::new();
        for (g, &s) in strategies.iter().enumerate() {
            let rs: Vec<&Trajectory> = runs.iter().filter(|t| t.strategy == s).collect();
            let (mut mean, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
            for k in 1..=n {
                let x = compute * k as f64 / n as f64;
                let v: Vec<f64> = rs.iter().map(|t| y_at(t, x)).collect();
                let (m, h) = flashnas_search::rank::mean_ci95(&v);
                mean.push((x, m));
                lo.push((x, m - h));
                hi.push((x, m + h));
            }
            for (points, dashed, label) in [
                (mean, false, name(s)),
                (lo, true, String::new()),
                (hi, true, String::new()),
            ] {
                series.push(Series {
                    name: label,
                    labels: Vec::new(),
                    points,
                    line: true,
                    dots: false,
                    dashed,
                    group: g,
                });
            }
        }
        series
    };
    let per_compute = curves(&|t, x| t.at_compute(x), 100);
    let title = format!(
        "{}: true hypervolume per simulated training second (mean, dashed: 95 % CI, {} seeds)",
        cfg.name, a.seeds
    );
    let written = Chart {
        title: &title,
        xlabel: "simulated compute (s): training and validation",
        ylabel: "true hypervolume",
        series: &per_compute,
        vlines: &[],
        diagonal: false,
        integer_x: false,
        error_bars: &[],
    }
    .write(&out, "hv_per_compute")?;
    let mut csv = String::from(
        "strategy,seed,record,kind,cost_s,compute_s,hypervolume,true_hypervolume,loss,true_loss,latency_s\n",
    );
    for t in &runs {
        let mut before = 0.0;
        for k in 0..t.hypervolume.len() {
            let c = t.compute_s[k];
            let (loss, lat) = t.results[k].map_or((String::new(), String::new()), |(l, s)| {
                (l.to_string(), s.to_string())
            });
            let true_loss = t.truth[k].map_or(String::new(), |l| l.to_string());
            writeln!(
                csv,
                "{},{},{},{},{},{c},{},{},{loss},{true_loss},{lat}",
                name(t.strategy),
                t.seed,
                k + 1,
                serde_json::to_value(t.kinds[k])?.as_str().unwrap_or(""),
                c - before,
                t.hypervolume[k],
                t.true_hypervolume[k]
            )?;
            before = c;
        }
    }
    let summary = serde_json::json!({
        "table": a.table.display().to_string(),
        "table_rows": table.rows.len(),
        "within_latency_budget": p.feasible,
        "recall_min": cfg.objectives.recall_min,
        "within_budget_and_recalling": p.recalling,
        "table_hypervolume": table_hv,
        "table_hypervolume_as_tabulated": table_seen_hv,
        "seed_noise": sigma,
        "hypervolume_noise": hv_noise,
        "budget_evaluations": budget,
        "compute_s": compute,
        "seeds": a.seeds,
        "seed_offset": a.seed_offset,
        "summaries": summaries,
        "comparisons": comparisons,
        "largest_single_share": share,
        "largest_single_share_at_nadir": share_at_nadir,
        "checks": checks,
    });
    for p in &written {
        println!("wrote {}", p.display());
    }
    for (file, text) in [
        ("trajectories.csv", csv),
        ("summary.json", serde_json::to_string_pretty(&summary)?),
        ("report.txt", report),
    ] {
        let p = out.join(file);
        flashnas_model::fsio::write_atomic(&p, text.as_bytes())?;
        println!("wrote {}", p.display());
    }
    Ok(())
}
