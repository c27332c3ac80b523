//! The proxy audit on a small real campaign: deterministic selection spread over the loss
//! range, a resumed audit equals an uninterrupted one, the summary matches its rows.

use flashnas_search::audit::{run_audit, select, AuditRow};
use flashnas_search::config::CampaignConfig;
use flashnas_search::journal::Journal;
use flashnas_search::rank::{kendall_tau_b, spearman};
use flashnas_search::{Campaign, Event};

fn campaign(dir: &std::path::Path) -> Vec<flashnas_search::Record> {
    let text = r#"
name = "audit-test"
seed = 4
strategy = "random"
evaluations = 7
[space]
width = "gene"
stages = 2
mixers = ["attention", "mamba2", "deltanet"]
ffns = [0, 1]
max_repeats = 2
depth_cap = 6
widths = [16, 32]
head_dim = 8
mamba_d_state = 4
chunk_size = 8
[latency]
source = "analytic"
roofline = "cpu-2core"
prompt = 8
generate = 8
budget_s = 0.004
[family_seeds]
enabled = false
[racing]
enabled = false
[objectives]
reference_point = { loss = 6.0, latency_s = 0.01 }
[train]
seq_len = 16
batch_size = 2
steps = 6
[train.data]
val_windows = 2
"#;
    let cfg = CampaignConfig::from_toml(text, "audit.toml").unwrap();
    let mut ev = |_e: Event| {};
    let mut c = Campaign::create(dir, cfg, text, &mut ev).unwrap();
    c.run().unwrap();
    c.records.clone()
}

#[test]
fn selection_is_seeded_and_spread_over_the_loss_range() {
    let dir = tempfile::tempdir().unwrap();
    let records = campaign(dir.path());
    let a = select(&records, 3, 1);
    assert_eq!(a, select(&records, 3, 1));
    assert_eq!(a.len(), 3);
    // One per loss tercile: the picks are in increasing loss order and distinct.
    let losses: Vec<f64> = a.iter().map(|&i| records[i].loss()).collect();
    assert!(losses.windows(2).all(|w| w[0] <= w[1]), "{losses:?}");
    let mut sorted: Vec<f64> = records.iter().map(|r| r.loss()).collect();
    sorted.sort_by(|x, y| x.partial_cmp(y).unwrap());
    assert!(
        losses[0] <= sorted[2] && losses[2] >= sorted[4],
        "{losses:?} {sorted:?}"
    );
    // Asking for more than there are gives all of them.
    assert_eq!(select(&records, 50, 1).len(), 7);

    // Audit K = 4, F = 2, then a resume after a cut audit.jsonl gives the same report.
    let mut ev = |_e: Event| {};
    let full = run_audit(dir.path(), 4, 2.0, Some(0.5), None, &mut ev).unwrap();
    assert_eq!(full.pairs, 4);
    let rows = Journal::<AuditRow>::at(dir.path().join("audit.jsonl"))
        .read()
        .unwrap()
        .records;
    assert_eq!(rows.len(), 4);
    assert!(rows
        .iter()
        .all(|r| r.long_steps == 12 && r.short_steps == 6));
    let x: Vec<f64> = rows.iter().map(|r| r.short_loss).collect();
    let y: Vec<f64> = rows.iter().map(|r| r.long_loss.unwrap()).collect();
    assert_eq!(full.spearman.value, spearman(&x, &y));
    assert_eq!(full.kendall.value, kendall_tau_b(&x, &y));
    // Short losses are the campaign's.
    for r in &rows {
        assert_eq!(r.short_loss, records[r.id].loss());
        assert_ne!(r.long_loss, Some(r.short_loss));
    }
    assert!(dir.path().join("audit.svg").exists());

    let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(
        dir.path().join("audit.jsonl"),
        format!("{}\n{}", lines[0], &lines[1][..10]),
    )
    .unwrap();
    let mut notes = Vec::new();
    let mut ev = |e: Event| {
        if let Event::Note(n) = e {
            notes.push(n)
        }
    };
    let resumed = run_audit(dir.path(), 4, 2.0, Some(0.5), None, &mut ev).unwrap();
    let mut a = full.clone();
    let mut b = resumed.clone();
    a.train_seconds = 0.0;
    b.train_seconds = 0.0;
    assert_eq!(a, b);
    assert_eq!(
        notes.iter().filter(|n| n.starts_with("audit [")).count(),
        3,
        "only the 3 missing candidates were retrained: {notes:?}"
    );

    // Another factor over the same file is refused with the file named.
    let mut ev = |_e: Event| {};
    let e = run_audit(dir.path(), 4, 3.0, None, None, &mut ev).unwrap_err();
    assert!(
        matches!(e, flashnas_search::Error::AlreadyExists { .. }),
        "{e:?}"
    );
    let e = e.to_string();
    assert!(e.contains("audit.jsonl") && e.contains("factor"), "{e}");
}
