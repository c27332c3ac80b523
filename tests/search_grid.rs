//! Where a search starts and how it ends: widths fitted to the budget, the hand-designed
//! families' shapes in the first population, close calls raced over seeds (and a kill -9 in the
//! middle of the racing).

mod common;

use common::{bin, campaign_toml, comparable, ok, search};
use flashnas_search::config::CampaignConfig;
use flashnas_search::family::FamilyGrid;
use flashnas_search::journal::{Origin, Record, RecordStatus};
use flashnas_search::task::Pricer;
use flashnas_search::{Campaign, Event};
use std::path::Path;

/// The common test campaign (analytic latency, budget 4 ms) with the width rule, the family
/// seeds and racing as given.
fn config(evaluations: usize, width: &str, family: bool, racing: bool) -> String {
    let on = |t: String, section: &str, yes: bool| match yes {
        true => t.replace(
            &format!("[{section}]\nenabled = false"),
            &format!("[{section}]\nenabled = true"),
        ),
        false => t,
    };
    let t = campaign_toml("grid", 5, evaluations, 10, "")
        .replace("width = \"gene\"", &format!("width = \"{width}\""))
        .replace("widths = [16, 32]", "widths = [16, 24, 32, 40, 48]");
    on(on(t, "family_seeds", family), "racing", racing)
}

fn run(dir: &Path, text: &str) -> (CampaignConfig, Vec<Record>) {
    let cfg = CampaignConfig::from_toml(text, "grid.toml").unwrap();
    let mut ev = |_e: Event| {};
    let mut c = Campaign::create(dir, cfg.clone(), text, &mut ev).unwrap();
    c.run().unwrap();
    (cfg, c.records.clone())
}

/// `fit_budget`: every proposal the strategy makes gets the largest width whose (analytic)
/// latency is within its target — the budget, or for a child the budget level of its parent —
/// found by bisection (at most ⌈log₂ 5⌉ + 1 pricings for five widths).
#[test]
fn fit_budget_gives_the_largest_width_within_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, records) = run(dir.path(), &config(10, "fit_budget", false, false));
    let budget = cfg.latency.budget_seconds().unwrap();
    let pricer = Pricer::new(cfg.latency.clone(), dir.path(), None, None);
    let vocab = records[0].spec.spec().vocab_size;
    let mut levels = cfg.racing_levels();
    levels.sort_by(|a, b| a.total_cmp(b));
    let mut widths = cfg.space.widths.clone();
    widths.sort_unstable();
    let mut checked = 0;
    for r in &records {
        assert!(
            matches!(r.origin, Origin::Random | Origin::Mutation),
            "{}",
            r.origin
        );
        let target = match r.parent {
            None => budget,
            Some(p) => levels
                .iter()
                .map(|l| l * budget)
                .find(|b| records[p].latency() <= *b)
                .unwrap_or(budget),
        };
        let latency_at = |w: usize| {
            let mut g = r.genome.clone();
            g.width = w;
            pricer.price(&g.to_spec(&cfg.space, vocab)).seconds.unwrap()
        };
        let want = widths
            .iter()
            .copied()
            .filter(|&w| latency_at(w) <= target)
            .max()
            .unwrap_or(widths[0]);
        assert_eq!(r.width, want, "#{} {} target {target}", r.id, r.key);
        assert!(r.pricings <= 4, "#{}: {} pricings", r.id, r.pricings);
        checked += 1;
    }
    assert!(checked >= 10);
    assert!(records
        .iter()
        .any(|r| r.width > widths[0] && r.width < widths[4]));
}

/// The family seeds: the grid priced at the start (kept in family_grid.json), every seed in the
/// first population at its own width with the grid's latency, its training charged to the
/// campaign; the pick at the proxy is never worse than the best family seed.
#[test]
fn family_seeds_open_the_campaign_and_the_pick_is_never_worse() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, records) = run(dir.path(), &config(16, "fit_budget", true, false));
    let grid = FamilyGrid::load(dir.path())
        .unwrap()
        .expect("family_grid.json");
    assert!(grid.seeds.len() >= 4, "{} seeds", grid.seeds.len());
    assert!(grid.seeds.len() < 16);
    for (i, s) in grid.seeds.iter().enumerate() {
        let r = &records[i];
        assert_eq!(r.origin, Origin::Family, "#{i}");
        assert_eq!(r.key, s.genome.key(), "#{i}: proposed as chosen");
        assert_eq!(r.width, s.width, "#{i}: its width is kept");
        assert_eq!(
            r.latency.seconds,
            Some(s.latency_s),
            "#{i}: the grid's figure"
        );
        assert!(s.latency_s <= s.level * cfg.latency.budget_seconds().unwrap());
    }
    assert!(records[grid.seeds.len()..]
        .iter()
        .all(|r| r.origin != Origin::Family));
    // Trained and counted.
    let trained = records
        .iter()
        .filter(|r| r.origin == Origin::Family && r.status == RecordStatus::Ok)
        .count();
    let compute = flashnas_search::status::Compute::of(&records, Some(&grid));
    assert_eq!(compute.family_trained, trained);
    assert_eq!(compute.grid_pricings, grid.priced.len());
    let best_family = records
        .iter()
        .filter(|r| r.origin == Origin::Family && r.feasible)
        .map(|r| r.loss())
        .fold(f64::INFINITY, f64::min);
    let pick = flashnas_search::store::best_of(&records).unwrap();
    assert!(flashnas_search::store::mean_loss(&records, pick) <= best_family);
    // A resume proposes the same shapes (read back from family_grid.json, not priced again).
    let mut ev = |_e: Event| {};
    let mut c = Campaign::resume(dir.path(), &mut ev).unwrap();
    c.run().unwrap();
    assert_eq!(c.records, records);
}

/// Racing: replicate records (seed r of candidate `parent`) after the search; a kill -9 just
/// after one of them is journaled resumes to the undisturbed journal.
#[test]
fn a_kill_during_racing_resumes_to_the_undisturbed_journal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("race.toml");
    std::fs::write(&cfg, config(8, "gene", false, true)).unwrap();
    let full = dir.path().join("full");
    ok(&mut search(&cfg, &full));
    let reference = comparable(&full);
    let replicates: Vec<usize> = reference
        .iter()
        .filter(|r| r.get("replicate").is_some())
        .map(|r| r["id"].as_u64().unwrap() as usize)
        .collect();
    assert!(replicates.len() >= 4, "{replicates:?}");
    for r in &replicates {
        let rec = &reference[*r];
        assert_eq!(rec["origin"], "replicate");
        let parent = rec["parent"].as_u64().unwrap() as usize;
        assert_eq!(
            rec["key"].as_str().unwrap(),
            format!(
                "{} seed#{}",
                reference[parent]["key"].as_str().unwrap(),
                rec["replicate"]
            )
        );
    }
    let at = replicates[1];
    let run = dir.path().join("killed");
    let died = search(&cfg, &run)
        .env("FLASHNAS_FAULT", format!("campaign:journaled-{at}"))
        .output()
        .unwrap();
    assert!(!died.status.success(), "the fault did not fire");
    assert_eq!(comparable(&run).len(), at + 1);
    let out = ok(bin().arg("resume").arg(&run));
    assert!(out.contains("seed noise"), "{out}");
    assert_eq!(comparable(&run), reference);
}
