//! The validation's baseline choice and eligibility rules.

use super::*;
use flashnas_training::Status;

fn proxy_row(index: usize, family: &str, latency_s: f64, loss: Option<f64>) -> ProxyRow {
    let mut proxy = ProxyResult::failed(
        match loss {
            Some(_) => Status::Ok,
            None => Status::Error {
                reason: "diverged".into(),
            },
        },
        100,
    );
    proxy.val_loss = loss;
    ProxyRow {
        index,
        shape: index,
        family: family.into(),
        repeats: 1,
        width: 16,
        layers: format!("x{index}"),
        params: 100,
        latency_s,
        proxy,
        eval_seconds: 0.0,
        attempts: 1,
    }
}

/// The baseline is the lowest proxy loss among the family's shapes within the budget:
/// not a faster or slower one, not another family's, not a failed one; ties go to the
/// lower row.
#[test]
fn a_familys_baseline_is_its_lowest_proxy_loss_within_the_budget() {
    let rows = vec![
        proxy_row(0, "t", 1.0, Some(3.0)),
        proxy_row(1, "t", 2.0, Some(2.5)),
        proxy_row(2, "t", 3.0, Some(2.0)), // best overall, but over a 2.5 budget
        proxy_row(3, "m", 1.5, Some(1.0)), // another family
        proxy_row(4, "t", 2.4, None),      // failed
        proxy_row(5, "t", 2.5, Some(2.5)), // ties row 1: the lower row wins
    ];
    let campaign = |r: &ProxyRow| r.latency_s;
    assert_eq!(baseline_within(&rows, "t", 2.5, &campaign), Some(1));
    assert_eq!(baseline_within(&rows, "t", 3.0, &campaign), Some(2));
    assert_eq!(baseline_within(&rows, "t", 1.9, &campaign), Some(0));
    assert_eq!(baseline_within(&rows, "t", 0.5, &campaign), None);
    assert_eq!(baseline_within(&rows, "m", 9.0, &campaign), Some(3));
    assert_eq!(baseline_within(&rows, "x", 9.0, &campaign), None);
}

/// Eligibility follows the re-measured latency: row 1 was priced at 2.0 by the campaign
/// but re-measures at 2.7, over a 2.5 budget, so the family's baseline there is row 5; at
/// 3.0 it is eligible again (and row 2, re-measured at 3.2, is not).
#[test]
fn a_baseline_over_its_budget_on_re_measurement_is_not_eligible() {
    let rows = vec![
        proxy_row(0, "t", 1.0, Some(3.0)),
        proxy_row(1, "t", 2.0, Some(2.5)),
        proxy_row(2, "t", 3.0, Some(2.0)),
        proxy_row(5, "t", 2.5, Some(2.6)),
    ];
    let rows: Vec<ProxyRow> = rows
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.index = i;
            r
        })
        .collect();
    let rechecked = |r: &ProxyRow| match r.index {
        1 => 2.7,
        2 => 3.2,
        _ => r.latency_s,
    };
    assert_eq!(baseline_within(&rows, "t", 2.5, &rechecked), Some(3));
    assert_eq!(
        baseline_within(&rows, "t", 2.5, &|r: &ProxyRow| r.latency_s),
        Some(1)
    );
    assert_eq!(baseline_within(&rows, "t", 3.0, &rechecked), Some(1));
}

/// A candidate of a raced campaign (racing's test record) with `params` parameters (a seed
/// replicate of `replicate_of` when set).
fn candidate(
    id: usize,
    latency: f64,
    loss: f64,
    params: usize,
    replicate_of: Option<usize>,
) -> Record {
    let mut r = crate::racing::tests::record(id, latency, loss, replicate_of.map(|p| (p, 1)));
    r.params = params;
    r
}

/// The band a pick comes from: #0 (best loss), #1 and #2 within two standard errors of it,
/// #3 far behind; the pick is the band's largest (#2), the fallbacks the others largest first.
/// After the re-check the first of them within the budget is validated; a candidate the
/// campaign timed just over the budget (inside the window) is tried first when better.
#[test]
fn the_pick_is_chosen_by_the_re_check_from_its_band_and_the_candidates_just_over() {
    let mut records = vec![
        candidate(0, 0.5, 2.000, 100, None),
        candidate(1, 0.6, 2.005, 200, None),
        candidate(2, 0.9, 2.010, 300, None),
        candidate(3, 0.4, 2.600, 900, None),
    ];
    // Seed replicates: σ ≈ 0.01, so 0.005 and 0.010 are inside the band, 0.6 is not.
    for (id, loss) in [(0, 2.010), (1, 1.995), (2, 2.000), (3, 2.590)] {
        let n = records.len();
        records.push(candidate(n, 0.5, loss, 0, Some(id)));
    }
    let (pick, rest) = band_within(&records, 1.0, 2.0).unwrap();
    assert_eq!((pick, rest.clone()), (2, vec![1, 0]));
    // Below #2's latency the band is #0 and #1: the pick #1, then #0.
    assert_eq!(band_within(&records, 0.7, 2.0), Some((1, vec![0])));
    let order: Vec<usize> = std::iter::once(pick).chain(rest.clone()).collect();
    let rechecked = |over: &'static [usize]| move |id: usize| !over.contains(&id);
    assert_eq!(chosen_after_recheck(&order, &rechecked(&[])), Some(2));
    assert_eq!(chosen_after_recheck(&order, &rechecked(&[2])), Some(1));
    assert_eq!(chosen_after_recheck(&order, &rechecked(&[2, 1])), Some(0));
    assert_eq!(chosen_after_recheck(&order, &rechecked(&[2, 1, 0])), None);
    // With no candidate just over the budget the widened band is the campaign's own.
    assert_eq!(
        recheck_order(&records, 1.0, 0.05, 2.0),
        Some((2, vec![2, 1, 0]))
    );
    // A candidate the campaign timed 4 % over the budget, with the best loss, comes first,
    // then the campaign's band: the re-check decides between them. A 3 % window leaves it out.
    let mut near = records.clone();
    let n = near.len();
    near.push(candidate(n, 1.04, 1.950, 400, None));
    near[n].feasible = true; // within the campaign's own budget, over this level
    let n2 = near.len();
    near.push(candidate(n2, 0.5, 1.955, 0, Some(n)));
    assert_eq!(recheck_order(&near, 1.0, 0.05, 2.0).unwrap().0, 2);
    assert_eq!(recheck_order(&near, 1.0, 0.05, 2.0).unwrap().1[0], n);
    assert_eq!(
        recheck_order(&near, 1.0, 0.03, 2.0).unwrap().1,
        vec![2, 1, 0]
    );
}
