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
