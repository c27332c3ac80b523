//! `flashnas bench strategies`: every strategy, many seeds, against a benchmark table.

use flashnas_search::benchmark::{
    compute_to_reach, run, run_config, summarize, table_hypervolume, Trajectory,
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
    /// Seeds per strategy.
    #[arg(long, default_value_t = 50)]
    seeds: u64,
    /// Evaluations per run (default: 10 % of the table).
    #[arg(long)]
    budget: Option<usize>,
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
    /// Evaluations of a multi-fidelity run (default: --budget). Its rung evaluations are
    /// cheaper, so compare it at equal simulated compute rather than equal evaluations.
    #[arg(long)]
    asha_budget: Option<usize>,
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

pub fn run_bench(a: StrategiesArgs) -> anyhow::Result<()> {
    let table_path = std::fs::canonicalize(&a.table)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.table.display()))?;
    let table = Table::load(&table_path)?;
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
    let table_hv = table_hypervolume(&table, &cfg);
    let budget_s = cfg.latency.budget_seconds().unwrap_or(f64::INFINITY);
    let feasible = table
        .rows
        .iter()
        .filter(|r| r.latency_s.is_some_and(|l| l <= budget_s))
        .count();
    println!(
        "table {}: {} genomes, {feasible} within the latency budget {budget_s:.6} s; its frontier's hypervolume {table_hv:.5}",
        a.table.display(),
        table.rows.len()
    );
    println!(
        "{} strategies × {} seeds, {budget} evaluations each ({:.1} % of the table)",
        strategies.len(),
        a.seeds,
        100.0 * budget as f64 / table.rows.len() as f64
    );
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| flashnas_search::campaign::results_dir("bench-strategies"));
    std::fs::create_dir_all(&out)?;
    let work = tempfile::tempdir_in(&out)?;
    let jobs: Vec<(StrategyKind, u64)> = strategies
        .iter()
        .flat_map(|&s| (0..a.seeds).map(move |seed| (s, seed)))
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
                let b = match s {
                    StrategyKind::Asha => a.asha_budget.unwrap_or(budget),
                    _ => budget,
                };
                let c = run_config(&cfg, &table_path, s, seed, b);
                let dir = work.path().join(format!("{}-{seed}", name(s)));
                let r = run(&c, &dir).map_err(anyhow::Error::from);
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

    let checkpoints: Vec<usize> = [0.1, 0.25, 0.5, 1.0]
        .iter()
        .map(|f| ((budget as f64 * f).round() as usize).max(1))
        .collect();
    let random_compute = runs
        .iter()
        .filter(|t| t.strategy == StrategyKind::Random)
        .map(|t| t.compute_s.last().copied().unwrap_or(0.0))
        .sum::<f64>()
        / a.seeds.max(1) as f64;
    let max_compute = runs
        .iter()
        .map(|t| t.compute_s.last().copied().unwrap_or(0.0))
        .fold(0.0, f64::max);
    let unit = if random_compute > 0.0 {
        random_compute
    } else {
        max_compute
    };
    let compute_points: Vec<f64> = [0.1, 0.25, 1.0 / 3.0, 0.5, 1.0]
        .iter()
        .map(|f| f * unit)
        .collect();
    let (summaries, comparisons) =
        summarize(&runs, &strategies, &checkpoints, &compute_points, table_hv);

    let mut report = String::new();
    writeln!(
        report,
        "\nhypervolume after N evaluations (mean ± 95 % CI over {} seeds; table: {table_hv:.5})",
        a.seeds
    )?;
    write!(report, "{:<8}", "N")?;
    for n in &checkpoints {
        write!(report, "{n:>20}")?;
    }
    writeln!(report, "{:>12}{:>14}", "≥95 % table", "compute")?;
    for s in &summaries {
        write!(report, "{:<8}", name(s.strategy))?;
        for (_, v) in &s.by_evaluations {
            write!(report, "{:>20}", format!("{:.5} ± {:.5}", v.mean, v.ci95))?;
        }
        writeln!(
            report,
            "{:>11.0} %{:>14}",
            100.0 * s.reach_95,
            secs(s.mean_compute_s)
        )?;
    }
    writeln!(
        report,
        "\nhypervolume after simulated training compute (fractions of random search's mean run, {})",
        secs(unit)
    )?;
    write!(report, "{:<8}", "compute")?;
    for (f, c) in [0.1, 0.25, 1.0 / 3.0, 0.5, 1.0].iter().zip(&compute_points) {
        write!(report, "{:>20}", format!("{f:.2}× ({})", secs(*c)))?;
    }
    writeln!(report)?;
    for s in &summaries {
        write!(report, "{:<8}", name(s.strategy))?;
        for (_, v) in &s.by_compute {
            write!(report, "{:>20}", format!("{:.5} ± {:.5}", v.mean, v.ci95))?;
        }
        writeln!(report)?;
    }
    if let Some(random) = summaries
        .iter()
        .find(|s| s.strategy == StrategyKind::Random)
    {
        let target = random.by_evaluations.last().map_or(0.0, |v| v.1.mean);
        writeln!(
            report,
            "\nsimulated compute to reach random search's final mean hypervolume ({target:.5}):"
        )?;
        for s in &summaries {
            let rs: Vec<&Trajectory> = runs.iter().filter(|t| t.strategy == s.strategy).collect();
            match compute_to_reach(&rs, target, max_compute, 400) {
                Some(c) => writeln!(
                    report,
                    "  {:<8} {:>10} = {:.2} × random's {}",
                    name(s.strategy),
                    secs(c),
                    c / unit,
                    secs(unit)
                )?,
                None => writeln!(
                    report,
                    "  {:<8} not reached within {}",
                    name(s.strategy),
                    secs(max_compute)
                )?,
            }
        }
    }
    writeln!(
        report,
        "\nrank tests on the final hypervolume (Mann–Whitney U, two-sided):"
    )?;
    for c in &comparisons {
        writeln!(
            report,
            "  {:<7} vs {:<7} P({} > {}) = {:.2}   p = {:.2e}",
            name(c.a),
            name(c.b),
            name(c.a),
            name(c.b),
            c.prob_a_better,
            c.p_value
        )?;
    }
    print!("{report}");

    // Figures: mean hypervolume (solid) and its 95 % interval (dashed) per strategy.
    let curves =
        |x_of: &dyn Fn(usize) -> f64, y_at: &dyn Fn(&Trajectory, usize) -> f64, n: usize| {
            let mut series = Vec::new();
            for (g, &s) in strategies.iter().enumerate() {
                let rs: Vec<&Trajectory> = runs.iter().filter(|t| t.strategy == s).collect();
                let (mut mean, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
                for k in 1..=n {
                    let v: Vec<f64> = rs.iter().map(|t| y_at(t, k)).collect();
                    let (m, h) = flashnas_search::rank::mean_ci95(&v);
                    let x = x_of(k);
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
    let per_eval = curves(&|k| k as f64, &|t, k| t.at_evaluation(k), budget);
    let title1 = format!(
        "{}: hypervolume per evaluation (mean, dashed: 95 % CI, {} seeds)",
        cfg.name, a.seeds
    );
    let mut written = Chart {
        title: &title1,
        xlabel: "evaluations",
        ylabel: "hypervolume",
        series: &per_eval,
        vlines: &[],
        diagonal: false,
        integer_x: true,
        error_bars: &[],
    }
    .write(&out, "hv_per_evaluation")?;
    let steps = 100;
    let per_compute = curves(
        &|k| max_compute * k as f64 / steps as f64,
        &|t, k| t.at_compute(max_compute * k as f64 / steps as f64),
        steps,
    );
    let title2 = format!("{}: hypervolume per simulated training second", cfg.name);
    written.extend(
        Chart {
            title: &title2,
            xlabel: "simulated training compute (s)",
            ylabel: "hypervolume",
            series: &per_compute,
            vlines: &[],
            diagonal: false,
            integer_x: false,
            error_bars: &[],
        }
        .write(&out, "hv_per_compute")?,
    );
    let mut csv = String::from("strategy,seed,evaluation,hypervolume,compute_s\n");
    for t in &runs {
        for (k, (h, c)) in t.hypervolume.iter().zip(&t.compute_s).enumerate() {
            writeln!(csv, "{},{},{},{h},{c}", name(t.strategy), t.seed, k + 1)?;
        }
    }
    let summary = serde_json::json!({
        "table": a.table.display().to_string(),
        "table_rows": table.rows.len(),
        "table_hypervolume": table_hv,
        "budget": budget,
        "seeds": a.seeds,
        "summaries": summaries,
        "comparisons": comparisons,
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
