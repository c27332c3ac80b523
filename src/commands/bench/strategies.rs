//! `flashnas bench strategies`: every strategy, many seeds, against a benchmark table.

use flashnas_search::benchmark::{
    compute_of_random_evaluations, hypervolume_noise, largest_single_share, run, run_config,
    summarize, table_hypervolume, Trajectory, Truth,
};
use flashnas_search::config::StrategyKind;
use flashnas_search::plot::{Chart, Series};
use flashnas_search::table::{config_path, Table};
use flashnas_search::CampaignConfig;
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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

fn kind(s: &str) -> anyhow::Result<StrategyKind> {
    Ok(match s {
        "aging" => StrategyKind::Aging,
        "random" => StrategyKind::Random,
        "nsga2" => StrategyKind::Nsga2,
        "asha" => StrategyKind::Asha,
        _ => anyhow::bail!("--strategies: '{s}' is not aging, random, nsga2 or asha"),
    })
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

fn name(s: StrategyKind) -> String {
    format!("{s:?}").to_lowercase()
}

/// Refuses requests that would run nothing or divide by nothing, naming the flag.
fn check_args(a: &StrategiesArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.seeds > 0,
        "--seeds 0: give at least one seed per strategy"
    );
    anyhow::ensure!(
        a.budget != Some(0),
        "--budget 0: give the compute of at least one evaluation"
    );
    anyhow::ensure!(
        a.cap != Some(0),
        "--cap 0: a run must admit at least one record"
    );
    anyhow::ensure!(
        a.threads != Some(0),
        "--threads 0: give at least one thread (or leave it out)"
    );
    anyhow::ensure!(
        !a.strategies.is_empty() && a.strategies.iter().all(|s| !s.trim().is_empty()),
        "--strategies: name at least one of aging, random, nsga2, asha"
    );
    Ok(())
}

pub fn run_bench(a: StrategiesArgs) -> anyhow::Result<()> {
    check_args(&a)?;
    let table_path = std::fs::canonicalize(&a.table)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.table.display()))?;
    let table = Table::load(&table_path)?;
    let surrogate_path = match &a.surrogate {
        Some(p) => {
            Some(std::fs::canonicalize(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let surrogate = match &surrogate_path {
        // Fail now, not in every run.
        Some(p) => {
            let s = flashnas_search::surrogate::Surrogate::load(p)?;
            s.check_fitted_on(&table)
                .map_err(|e| anyhow::anyhow!("--surrogate {}: {e}", p.display()))?;
            Some(s)
        }
        None => None,
    };
    let truth = match &surrogate {
        Some(s) => Truth::Surrogate(s),
        None => Truth::Table(&table),
    };
    let mut cfg = CampaignConfig::from_file(&config_path(&table_path))?;
    if !a.rungs.is_empty() {
        cfg.multi_fidelity.rungs = a.rungs.clone();
    }
    if let Some(e) = a.eta {
        cfg.multi_fidelity.eta = e;
    }
    let mut asha = cfg.clone();
    asha.strategy = StrategyKind::Asha;
    asha.validate()?;
    let have = table.rung_steps();
    for s in cfg.multi_fidelity.rung_steps(cfg.train.total_steps()) {
        anyhow::ensure!(
            have.contains(&s),
            "multi_fidelity.rungs: the table has losses after {have:?} steps, not {s}"
        );
    }
    let strategies: Vec<StrategyKind> = a
        .strategies
        .iter()
        .map(|s| kind(s))
        .collect::<anyhow::Result<_>>()?;
    let budget = a.budget.unwrap_or((table.rows.len() / 10).max(1));
    let cap = a.cap.unwrap_or(20 * budget);
    let compute = compute_of_random_evaluations(&table, &cfg, budget);
    let (table_hv, table_truth) = truth.table_best(&table, &cfg);
    let table_seen_hv = table_hypervolume(&table, &cfg);
    let budget_s = cfg.latency.budget_seconds().unwrap_or(f64::INFINITY);
    let feasible = table
        .rows
        .iter()
        .filter(|r| r.latency_s.is_some_and(|l| l <= budget_s))
        .count();
    let sigma = table.replicate_noise();
    let hv_noise = hypervolume_noise(&table, &cfg, 3000, 0x5eed);
    println!(
        "table {}: {} genomes, {feasible} within the latency budget {budget_s:.6} s; its frontier's hypervolume {table_hv:.5} on truth ({}), {table_seen_hv:.5} as tabulated",
        a.table.display(),
        table.rows.len(),
        match truth {
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
    let jobs: Vec<(StrategyKind, u64)> = strategies
        .iter()
        .flat_map(|&s| (a.seed_offset..a.seed_offset + a.seeds).map(move |seed| (s, seed)))
        .collect();
    let bar = ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("runs [{bar:30}] {pos}/{len} · {elapsed} · {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<anyhow::Result<Trajectory>>> = Mutex::new(Vec::new());
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(s, seed)) = jobs.get(i) else { break };
                let c = run_config(&cfg, &table_path, surrogate_path.as_deref(), s, seed, cap);
                let dir = work.path().join(format!("{}-{seed}", name(s)));
                let r = run(&c, &dir, compute, truth).map_err(anyhow::Error::from);
                let _ = std::fs::remove_dir_all(&dir);
                bar.set_message(format!("{} seed {seed}", name(s)));
                bar.inc(1);
                results.lock().expect("lock").push(r);
            });
        }
    });
    bar.finish_and_clear();
    let mut runs: Vec<Trajectory> = results
        .into_inner()
        .expect("lock")
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    runs.sort_by_key(|t| (strategies.iter().position(|&s| s == t.strategy), t.seed));
    println!(
        "{} runs in {:.1} s",
        runs.len(),
        started.elapsed().as_secs_f64()
    );

    // With a surrogate the runs reach genomes the table never held: the best known is the
    // better of the table's and theirs.
    let table_hv = runs
        .iter()
        .map(|t| t.at_compute(compute))
        .fold(table_hv, f64::max);
    let fractions = [0.1, 0.25, 1.0 / 3.0, 0.5, 1.0];
    let compute_points: Vec<f64> = fractions.iter().map(|f| f * compute).collect();
    let budgets: Vec<(f64, Option<f64>)> = [0.5, 0.75, 1.0]
        .iter()
        .map(|f| {
            let b = f * budget_s;
            // The best true loss reachable within b: over the table's genomes, and (with a
            // surrogate, which answers genomes the table lacks) over every genome a run found.
            let in_table = table
                .rows
                .iter()
                .zip(&table_truth)
                .filter(|(r, _)| r.latency_s.is_some_and(|l| l <= b))
                .filter_map(|(_, t)| *t);
            let found = runs.iter().flat_map(|t| {
                t.results
                    .iter()
                    .zip(&t.truth)
                    .filter_map(move |(r, tr)| (r.as_ref()?.1 <= b).then_some((*tr)?))
            });
            (b, in_table.chain(found).min_by(f64::total_cmp))
        })
        .collect();
    let (summaries, comparisons) = summarize(
        &runs,
        &strategies,
        &compute_points,
        table_hv,
        hv_noise,
        &budgets,
    );

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
            write!(
                report,
                "{:>30}",
                format!(
                    "{:.4} ± {:.4}{}",
                    r.mean,
                    r.ci95,
                    if r.none_found > 0 {
                        format!(" ({} none)", r.none_found)
                    } else {
                        String::new()
                    }
                )
            )?;
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
                    "  {:<8} {:>10} = {:.2} × random's {}",
                    name(s.strategy),
                    secs(c),
                    c / u,
                    secs(u)
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
    let (share, share_key) = largest_single_share(&table, &cfg, &table_truth);
    writeln!(report, "\nchecks that the table discriminates:")?;
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    if let Some(random) = summaries
        .iter()
        .find(|s| s.strategy == StrategyKind::Random)
    {
        let reach = random.by_compute.last().map_or(0.0, |v| v.1.mean) / table_hv;
        writeln!(
            report,
            "  random search reaches {:.1} % of the best reachable hypervolume on average (≤ 95 %): {}",
            100.0 * reach,
            verdict(reach <= 0.95)
        )?;
        let regret = random.regrets.last().map_or(f64::NAN, |r| r.mean);
        match sigma {
            Some(s) => writeln!(
                report,
                "  random search's regret within the budget {regret:.4} vs 3 × the seed noise {:.4}: {}",
                3.0 * s,
                verdict(regret >= 3.0 * s)
            )?,
            None => writeln!(
                report,
                "  random search's regret within the budget {regret:.4}; seed noise unknown: cannot check"
            )?,
        }
    }
    writeln!(
        report,
        "  the largest share of the hypervolume one genome holds: {:.1} % ({share_key}) (≤ 50 %): {}",
        100.0 * share,
        verdict(share <= 0.5)
    )?;
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
        "largest_single_share": {"share": share, "key": share_key},
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
