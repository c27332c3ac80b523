//! The strategies against a synthetic objective (no training): a driver loop like the
//! campaign's, results computed from the genome, admitted in proposal order.

use super::*;
use crate::config::CampaignConfig;
use crate::journal::Origin;
use crate::pareto::non_dominated_sort;
use flashnas_training::{ProxyResult, Status};
use rand::SeedableRng;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

fn config(strategy: &str, sample: usize) -> CampaignConfig {
    let text = format!(
        r#"
name = "synthetic"
seed = 1
strategy = "{strategy}"
evaluations = 40
[space]
width = "gene"
stages = 2
mixers = ["attention", "mamba2", "deltanet", "gated_deltanet"]
ffns = [0, 1]
max_repeats = 2
depth_cap = 6
widths = [16, 32, 48]
head_dim = 8
[aging]
population = 5
sample = {sample}
[nsga2]
population = 6
[latency]
source = "analytic"
roofline = "cpu-2core"
budget_s = 0.5
[family_seeds]
enabled = false
[racing]
enabled = false
[objectives]
reference_point = {{ loss = 10.0, latency_s = 2.0 }}
[train]
steps = 1
"#
    );
    CampaignConfig::from_toml(&text, "synthetic.toml").unwrap()
}

/// A made-up objective: loss falls with depth and width, latency grows with both; the budget
/// (0.5) rules out the deep and wide ones.
fn record(id: usize, p: &Proposal, cfg: &CampaignConfig) -> Record {
    let g = &p.genome;
    let spec = g.to_spec(&cfg.space, 256);
    let params = flashnas_model::accounting::param_count(&spec);
    let depth = g.depth() as f64;
    let loss = 5.0 - 0.3 * depth - 0.02 * g.width as f64
        + 0.01 * (id % 7) as f64
        + p.rung.map_or(0.0, |k| 0.4 / (k as f64 + 1.0));
    let latency = depth * g.width as f64 / 150.0;
    let mut proxy = ProxyResult::failed(Status::Ok, params);
    proxy.val_loss = Some(loss);
    Record {
        id,
        cycle: p.cycle,
        parent: p.parent,
        second_parent: p.second_parent,
        origin: p.origin,
        mutation: p.mutation,
        genome: g.clone(),
        proposal_key: g.key(),
        key: g.key(),
        layers: spec.layer_string(),
        width: g.width,
        depth: g.depth(),
        params,
        state_bytes: 0,
        spec: crate::journal::SpecText::of(&spec),
        proxy,
        latency: crate::task::Latency {
            seconds: Some(latency),
            raw_s: Some(latency),
            source: crate::task::LatencyOrigin::Analytic,
            ..Default::default()
        },
        feasible: latency <= 0.5,
        status: RecordStatus::Ok,
        failure: None,
        frontier_size: 0,
        hypervolume: 0.0,
        seed: 1,
        eval_seconds: 0.0,
        attempts: 1,
        rung: p.rung,
        replicate: None,
        pricings: 0,
        recall_shortfall: 0.0,
        throughput_tokens_s: None,
        throughput_batch: None,
        throughput_shortfall: 0.0,
        throughput_error: None,
    }
}

/// What the driver saw at each step.
struct Trace {
    records: Vec<Record>,
    /// (proposal, population when it was asked for).
    asked: Vec<(Proposal, Vec<usize>)>,
    /// Population after each change.
    populations: Vec<Vec<usize>>,
    /// Records admitted when each proposal was asked for.
    admitted_at_ask: Vec<usize>,
}

/// What the campaign shows a strategy, with the synthetic budget (0.5 s).
fn view(records: &[Record], in_flight: usize, evaluations: usize) -> View<'_> {
    View {
        records,
        in_flight,
        budget_left: records.len() + in_flight < evaluations,
        budget_s: 0.5,
    }
}

/// The campaign's loop: room for `in_flight` candidates, duplicates never evaluated twice.
fn drive(cfg: &CampaignConfig, in_flight: usize) -> Trace {
    let mut s = crate::campaign::build_strategy(cfg, Path::new("."), Vec::new(), Vec::new());
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut records: Vec<Record> = Vec::new();
    let mut pending: VecDeque<(usize, Proposal)> = VecDeque::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut trace = Trace {
        records: Vec::new(),
        asked: Vec::new(),
        populations: Vec::new(),
        admitted_at_ask: Vec::new(),
    };
    let admit = |records: &mut Vec<Record>, pending: &mut VecDeque<(usize, Proposal)>| {
        let (id, p) = pending.pop_front().unwrap();
        records.push(record(id, &p, cfg));
        id
    };
    loop {
        while pending.len() >= in_flight {
            let id = admit(&mut records, &mut pending);
            s.tell(&view(&records, pending.len(), cfg.evaluations), id);
        }
        let v = view(&records, pending.len(), cfg.evaluations);
        let before = s.population();
        match s.ask(&v, &mut rng).unwrap() {
            Ask::Propose(p) => {
                trace.asked.push((p.clone(), before));
                trace.admitted_at_ask.push(records.len());
                let id = records.len() + pending.len();
                let key = format!("{} @{:?}", p.genome.key(), p.rung);
                let outcome = match by_key.get(&key) {
                    Some(&dup) => Submitted::Duplicate(dup),
                    None => {
                        by_key.insert(key, id);
                        pending.push_back((id, p));
                        Submitted::New(id)
                    }
                };
                s.submitted(&view(&records, pending.len(), cfg.evaluations), outcome);
            }
            Ask::Wait => {
                let id = admit(&mut records, &mut pending);
                s.tell(&view(&records, pending.len(), cfg.evaluations), id);
            }
            Ask::Done(_) => break,
        }
        if trace.populations.last() != Some(&s.population()) {
            trace.populations.push(s.population());
        }
    }
    while !pending.is_empty() {
        let id = admit(&mut records, &mut pending);
        s.tell(&view(&records, pending.len(), cfg.evaluations), id);
    }
    trace.populations.push(s.population());
    trace.records = records;
    trace
}

#[test]
fn aging_keeps_a_fifo_population_and_prefers_feasible_parents() {
    // sample = population: the tournament sees every member.
    let cfg = config("aging", 5);
    for in_flight in [1, 3] {
        let t = drive(&cfg, in_flight);
        assert_eq!(t.records.len(), cfg.evaluations);
        let mut feasible_parents = 0;
        for (p, population) in &t.asked {
            let Some(parent) = p.parent else { continue };
            assert_eq!(population.len(), 5, "population size P");
            let members: Vec<&Record> = population.iter().map(|&i| &t.records[i]).collect();
            if members.iter().any(|r| r.feasible) {
                let best = members
                    .iter()
                    .filter(|r| r.feasible)
                    .min_by(|a, b| {
                        a.loss()
                            .partial_cmp(&b.loss())
                            .unwrap()
                            .then(a.id.cmp(&b.id))
                    })
                    .unwrap();
                assert_eq!(parent, best.id, "the best feasible member is the parent");
                feasible_parents += 1;
            }
        }
        assert!(feasible_parents > 10);
        // FIFO: each change of the settled population drops its oldest member and appends
        // the newest.
        let settled: Vec<&Vec<usize>> = t.populations.iter().filter(|p| p.len() == 5).collect();
        for w in settled.windows(2) {
            let (a, b) = (w[0], w[1]);
            assert!(
                (1..5).any(|k| a[k..] == b[..5 - k]),
                "{a:?} -> {b:?} is not a FIFO shift"
            );
        }
    }
}

#[test]
fn nsga2_keeps_its_first_front() {
    let cfg = config("nsga2", 2);
    let t = drive(&cfg, 1);
    assert_eq!(t.records.len(), cfg.evaluations);
    let mut generations = 0;
    for w in t.populations.windows(2) {
        let (old, new) = (&w[0], &w[1]);
        if old.len() != 6 || new.len() != 6 || old == new {
            continue;
        }
        let next_cycle = t.records[*new.iter().max().unwrap()].cycle;
        let mut pool: Vec<usize> = old.clone();
        pool.extend(
            t.records
                .iter()
                .filter(|r| r.cycle == next_cycle)
                .map(|r| r.id),
        );
        pool.sort_unstable();
        pool.dedup();
        let pts: Vec<_> = pool
            .iter()
            .map(|&i| point(&t.records[i], 0.5, &[Objective::Loss, Objective::Latency]))
            .collect();
        let first: Vec<usize> = non_dominated_sort(&pts)[0]
            .iter()
            .map(|&k| pool[k])
            .collect();
        if first.len() <= 6 {
            for id in &first {
                assert!(new.contains(id), "first-front member {id} dropped");
            }
            generations += 1;
        }
    }
    assert!(generations >= 2, "{generations} generations checked");
}

#[test]
fn random_search_evaluates_distinct_random_genomes_to_the_budget() {
    let cfg = config("random", 2);
    let t = drive(&cfg, 2);
    assert_eq!(t.records.len(), cfg.evaluations);
    let keys: HashSet<&str> = t.records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), t.records.len());
    assert!(t
        .records
        .iter()
        .all(|r| r.origin == "random" && r.parent.is_none()));
    // Another seed, another sample of the space.
    let mut other = cfg.clone();
    other.seed = 2;
    let u = drive(&other, 2);
    assert_ne!(
        t.records.iter().map(|r| &r.key).collect::<Vec<_>>(),
        u.records.iter().map(|r| &r.key).collect::<Vec<_>>()
    );
}

#[test]
fn asha_promotes_the_top_of_each_rung_and_only_feasible_ones() {
    let mut cfg = config("asha", 3);
    cfg.evaluations = 60;
    let eta = cfg.strategies.multi_fidelity.eta;
    let top = cfg.strategies.multi_fidelity.rungs.len();
    for in_flight in [1, 3] {
        let t = drive(&cfg, in_flight);
        assert_eq!(t.records.len(), cfg.evaluations);
        let rung = |r: &Record| r.rung.unwrap_or(top);
        let mut promoted_from = vec![0usize; top];
        let mut seen = HashSet::new();
        for r in &t.records {
            if r.origin == Origin::Promotion {
                let parent = &t.records[r.parent.unwrap()];
                assert_eq!(rung(r), rung(parent) + 1, "one rung up");
                assert_eq!(r.genome, parent.genome);
                assert!(parent.feasible, "an infeasible candidate was promoted");
                assert!(
                    seen.insert((rung(parent), parent.genome.key())),
                    "promoted twice"
                );
                promoted_from[rung(parent)] += 1;
            } else {
                assert_eq!(r.rung, Some(0), "new genomes start at the lowest rung");
            }
        }
        // Each promotion was in the top ⌊n/η⌋ of its rung as it stood when it was asked for
        // (asynchronous: an earlier promotion may since have been overtaken).
        for ((p, _), &seen) in t.asked.iter().zip(&t.admitted_at_ask) {
            if p.origin != Origin::Promotion {
                continue;
            }
            let parent = p.parent.unwrap();
            let k = rung(&t.records[parent]);
            let members: Vec<usize> = t.records[..seen]
                .iter()
                .filter(|r| rung(r) == k)
                .map(|r| r.id)
                .collect();
            let v = view(&t.records[..seen], 0, cfg.evaluations);
            let order = pareto_order(&v, &members, &[Objective::Loss, Objective::Latency]);
            let pos = order.iter().position(|&i| i == parent).unwrap();
            assert!(
                pos < members.len() / eta,
                "#{parent}: rank {pos} of {}",
                members.len()
            );
        }
        for (k, &n_promoted) in promoted_from.iter().enumerate() {
            let n = t.records.iter().filter(|r| rung(r) == k).count();
            assert!(
                n_promoted > 0 && n_promoted < n,
                "rung {k}: {n_promoted} of {n}"
            );
        }
        assert!(promoted_from[top - 1] > 0, "something reached the full run");
    }
}

/// A strategy's name is serde's spelling, and parsing reads it back (the command line and
/// the config cannot disagree); anything else is refused with the names.
#[test]
fn strategy_names_are_the_config_spelling() {
    for k in [
        StrategyKind::Aging,
        StrategyKind::Nsga2,
        StrategyKind::Random,
        StrategyKind::Asha,
        StrategyKind::All,
    ] {
        assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        assert_eq!(k.name().parse::<StrategyKind>(), Ok(k));
    }
    let e = "annealing".parse::<StrategyKind>().unwrap_err();
    assert!(e.contains("annealing") && e.contains("nsga2"), "{e}");
}
