//! The validation's plan: which candidate each budget validates (the pick, the band the
//! re-check chooses from), the baseline shapes of each family, pinned in `plan.json`.

use super::*;

/// Records that can be picked: trained candidates (full fidelity, not a racing replicate)
/// within the campaign's budget.
fn pickable(r: &Record) -> bool {
    r.feasible && r.status == RecordStatus::Ok && r.is_candidate() && r.proxy.val_loss.is_some()
}

/// The pick within `budget_s`: the lowest mean proxy loss over its seeds, or when the
/// campaign raced its close calls, the candidate with the most parameters among those the
/// proxy cannot tell from it (`racing::pick_of_band`; `z` standard errors).
pub fn best_within(records: &[Record], budget_s: f64, z: f64) -> Option<usize> {
    // The racing's candidates are the pickable records: trained, feasible, full fidelity.
    crate::racing::pick_within(records, budget_s, z).filter(|&i| pickable(&records[i]))
}

/// The candidates a pick within `budget_s` is chosen from after the re-check, in the pick
/// rule's order (see [`Target::alternates`]): the band of the best within `budget_s` ×
/// (1 + `window`), then the band within `budget_s` itself; `None` when no candidate is within
/// `budget_s`. The campaign's own pick is the second list's first.
pub fn recheck_order(
    records: &[Record],
    budget_s: f64,
    window: f64,
    z: f64,
) -> Option<(usize, Vec<usize>)> {
    let (pick, rest) = band_within(records, budget_s, z)?;
    let mut order = Vec::new();
    if let Some((wide_pick, wide_rest)) = band_within(records, budget_s * (1.0 + window), z) {
        order.push(wide_pick);
        order.extend(wide_rest);
    }
    for id in std::iter::once(pick).chain(rest) {
        if !order.contains(&id) {
            order.push(id);
        }
    }
    Some((pick, order))
}

/// The pick within `budget_s` and the rest of its band in the pick rule's order (most
/// parameters first, ties to the lower mean loss).
pub fn band_within(records: &[Record], budget_s: f64, z: f64) -> Option<(usize, Vec<usize>)> {
    // One standing gives the pick (what `best_within` returns) and its band.
    let level = crate::racing::standing(records, budget_s, &[1.0], z)
        .levels
        .remove(0);
    let pick = level.pick.filter(|&i| pickable(&records[i]))?;
    let mut rest: Vec<usize> = level
        .best
        .into_iter()
        .chain(level.contenders)
        .filter(|&i| i != pick && pickable(&records[i]))
        .collect();
    // `contenders` are lowest mean first: a stable sort by size keeps that order among equals.
    rest.sort_by(|&a, &b| records[b].params.cmp(&records[a].params));
    Some((pick, rest))
}

/// The family's baseline within `budget_s`: its trained shape with the lowest proxy loss
/// among those whose latency (`latency_of`: the re-measured figure when there is one) is within
/// the budget (ties to the lower row).
pub fn baseline_within(
    rows: &[ProxyRow],
    family: &str,
    budget_s: f64,
    latency_of: &dyn Fn(&ProxyRow) -> f64,
) -> Option<usize> {
    rows.iter()
        .filter(|r| r.family == family && latency_of(r) <= budget_s * (1.0 + 1e-9))
        .filter_map(|r| r.loss().map(|l| (l, r.index)))
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, i)| i)
}

/// Resolves the plan: the picks at each budget (or the ids), and every baseline shape. The
/// errors name the key; nothing is written. A default budget level without a feasible pick is
/// skipped (said in `notes`); one the user set is an error.
pub fn plan(
    dir: &Path,
    cfg: &CampaignConfig,
    records: &[Record],
    settings: &ValidateConfig,
    notes: &mut Vec<String>,
) -> Result<Plan> {
    settings.validate().map_err(Error::Config)?;
    let Some(first) = records.iter().find(|r| pickable(r)) else {
        return Err(Error::Analysis(format!(
            "{}: the campaign has no feasible trained candidate (its frontier is empty); nothing to validate",
            dir.display()
        )));
    };
    let vocab_size = first.spec.spec().vocab_size;
    let mut targets = Vec::new();
    if settings.ids.is_empty() {
        let budget = cfg.latency.budget_seconds().ok_or_else(|| {
            Error::Config(format!(
                "{}: latency: the campaign has no budget in seconds yet (budget_ref without a pinned reference); give validate.ids",
                dir.display()
            ))
        })?;
        let explicit = settings.budgets.is_some();
        for (i, f) in settings.budgets().iter().enumerate() {
            let budget_s = f * budget;
            let fastest = || {
                records
                    .iter()
                    .filter(|r| pickable(r))
                    .map(|r| r.latency())
                    .fold(f64::INFINITY, f64::min)
            };
            let window = settings.recheck_window_pct / 100.0;
            let Some((pick, alternates)) = recheck_order(records, budget_s, window, cfg.racing.z)
            else {
                if explicit {
                    return Err(Error::Config(format!(
                        "validate.budgets[{i}] = {f}: no feasible candidate of the campaign within {f} × the budget = {budget_s:.6} s (the fastest takes {:.6} s)",
                        fastest()
                    )));
                }
                notes.push(format!(
                    "budget {f}× ({budget_s:.6} s) skipped: no candidate of the campaign is that fast (the fastest takes {:.6} s)",
                    fastest()
                ));
                continue;
            };
            targets.push(Target {
                label: format!("{f}×"),
                budget_s,
                pick,
                alternates,
                replaced: None,
            });
        }
        if targets.is_empty() {
            return Err(Error::Config(format!(
                "{}: no budget level of the validation has a feasible pick ({})",
                dir.display(),
                notes.join("; ")
            )));
        }
    } else {
        for (i, &id) in settings.ids.iter().enumerate() {
            let r = records.get(id).ok_or_else(|| {
                Error::Config(format!(
                    "validate.ids[{i}]: the journal has no record {id} ({} records)",
                    records.len()
                ))
            })?;
            if !pickable(r) {
                return Err(Error::Config(format!(
                    "validate.ids[{i}]: record {id} is {}{}; only trained candidates within the budget can be validated",
                    r.status,
                    if r.status == RecordStatus::Ok && !r.feasible { " but over the budget" } else { "" }
                )));
            }
            targets.push(Target {
                label: format!("#{id}"),
                budget_s: r.latency(),
                pick: id,
                alternates: Vec::new(),
                replaced: None,
            });
        }
    }
    let mut shapes = Vec::new();
    for (i, f) in settings.families.iter().enumerate() {
        let found = crate::family::shapes(&cfg.space, f, vocab_size).map_err(|e| {
            Error::Config(format!(
                "validate.families[{i}] ({}): no valid shape in the campaign's space ({e})",
                f.name
            ))
        })?;
        shapes.extend(found.into_iter().map(|(repeats, width, spec)| Shape {
            family: f.name.clone(),
            repeats,
            width,
            layers: spec.layer_string(),
        }));
    }
    Ok(Plan {
        settings: settings.clone(),
        targets,
        shapes,
        vocab_size,
    })
}

/// Pins `plan` in `DIR/validate/plan.json` (atomically).
pub(super) fn write_plan(dir: &Path, plan: &Plan) -> Result<()> {
    let path = dir.join("plan.json");
    flashnas_model::fsio::write_atomic(
        &path,
        serde_json::to_string_pretty(plan).expect("json").as_bytes(),
    )
    .map_err(|e| Error::file(&path, flashnas_model::fsio::reason(&e)))
}

/// The plan pinned in `DIR/validate/plan.json` (`campaign` = DIR/validate's parent's folder).
pub fn load_plan(dir: &Path) -> Result<Plan> {
    let p = dir.join("plan.json");
    let text = std::fs::read_to_string(&p).map_err(|e| Error::file(&p, e))?;
    serde_json::from_str(&text).map_err(|e| Error::file(&p, format!("corrupt plan ({e})")))
}
