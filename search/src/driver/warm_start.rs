//! Warm start: a new campaign's initial population begins with the best feasible genomes of
//! earlier campaigns (`[warm_start] from = ["DIR", …]`). Their journaled evaluations are reused
//! instead of retrained when the settings that produced them match this campaign's exactly
//! (training config and seed, latency protocol, and the candidate's ArchSpec).
//!
//! The choice is made once, when the campaign starts, and kept in `DIR/warm_start.jsonl`, so a
//! resume uses the same designs even if the earlier campaigns have grown since.

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::genome::{Genome, SpaceConfig, WidthRule};
use crate::journal::RecordStatus;
use crate::strategy::WarmSeed;
use std::path::Path;

/// Where the chosen designs are kept in the campaign directory.
pub const FILE: &str = "warm_start.jsonl";

/// Whether evaluations of campaign `a` are evaluations of campaign `b` (the budget aside:
/// it decides feasibility, not the figures).
fn same_settings(a: &CampaignConfig, b: &CampaignConfig) -> bool {
    let train = |c: &CampaignConfig| {
        let mut t = c.train.clone();
        t.seed = c.seed;
        t
    };
    let latency = |c: &CampaignConfig| {
        let mut l = c.latency.clone();
        l.budget_s = None;
        l.budget_ref = None;
        l.reference_s = None;
        l.train_over_budget = false;
        l
    };
    // Calibrated seconds are in each campaign's own reference unit.
    !a.latency.calibrate && train(a) == train(b) && latency(a) == latency(b)
}

/// Whether `g` lies in `space`: valid structure, allowed mixers, FFN counts and width.
fn fits(g: &Genome, space: &SpaceConfig) -> bool {
    let kinds = space.mixer_kinds();
    g.is_valid(space)
        && g.stages.iter().all(|s| {
            let b = &s.block;
            kinds.contains(&b.second)
                && (b.ratio.0 == 0 || kinds.contains(&b.first))
                && space.ffns.contains(&b.ffns)
        })
        && (space.width == WidthRule::FitBudget || space.widths.contains(&g.width))
}

/// The designs of `dir`'s warm start: read back from `DIR/warm_start.jsonl`, or chosen now
/// from the earlier campaigns and written there (atomically). `notes` receives what was
/// skipped and why.
pub fn designs(
    dir: &Path,
    cfg: &CampaignConfig,
    population: usize,
    notes: &mut dyn FnMut(String),
) -> Result<Vec<WarmSeed>> {
    let Some(ws) = &cfg.warm_start else {
        return Ok(Vec::new());
    };
    let path = dir.join(FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| Error::file(&path, e)))
            .collect();
    }
    let mut pool: Vec<(f64, usize, WarmSeed)> = Vec::new();
    for (i, from) in ws.from.iter().enumerate() {
        let source = Path::new(from);
        let (scfg, records, _) = crate::store::load_records(source)
            .map_err(|e| Error::Config(format!("warm_start.from[{i}]: {e}")))?;
        let reuse = same_settings(&scfg, cfg);
        for r in records
            .into_iter()
            .filter(|r| r.feasible && r.status == RecordStatus::Ok)
        {
            if !fits(&r.genome, &cfg.space) {
                notes(format!(
                    "warm start: {from} #{} ({}) is outside this search space; skipped",
                    r.id, r.key
                ));
                continue;
            }
            pool.push((
                r.loss(),
                i,
                WarmSeed {
                    source: from.clone(),
                    id: r.id,
                    genome: r.genome.clone(),
                    reusable: reuse.then_some(r),
                },
            ));
        }
    }
    pool.sort_by(|a, b| {
        a.0.partial_cmp(&b.0)
            .expect("finite losses")
            .then(a.1.cmp(&b.1))
            .then(a.2.id.cmp(&b.2.id))
    });
    let mut seen = std::collections::HashSet::new();
    let chosen: Vec<WarmSeed> = pool
        .into_iter()
        .map(|(_, _, s)| s)
        .filter(|s| seen.insert(s.genome.key()))
        .take(ws.count.unwrap_or(population))
        .collect();
    let mut text = String::new();
    for s in &chosen {
        text.push_str(&serde_json::to_string(s).expect("json"));
        text.push('\n');
    }
    flashnas_model::fsio::write_atomic(&path, text.as_bytes())
        .map_err(|e| Error::file(&path, flashnas_model::fsio::reason(&e)))?;
    Ok(chosen)
}
