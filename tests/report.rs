//! The campaign report in a real browser (headless Chromium, which CI installs): the page
//! renders without script errors, its table has one row per journal record, and its frontier
//! points are the exported frontier. And `flashnas serve` answers from the journal without
//! writing to the folder.

mod common;
use common::{bin, campaign_toml, ok, search};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;

fn browser() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// The DOM after the page's script ran, and Chromium's log.
fn render(browser: &str, page: &Path) -> (String, String) {
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the script did not finish: {log}"
    );
    assert!(dom.contains("data-errors=\"\""), "script errors: {dom}");
    assert!(!log.contains("Uncaught"), "console errors: {log}");
    (dom, log)
}

fn journal_len(dir: &Path) -> usize {
    flashnas_search::journal::Journal::new(dir)
        .read()
        .unwrap()
        .records
        .len()
}

#[test]
fn the_report_renders_in_a_browser_and_matches_the_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, campaign_toml("report", 2, 8, 3, "")).unwrap();
    ok(&mut search(&cfg, &dir));
    let page = dir.join("report.html");
    assert!(page.exists(), "the campaign writes its report");
    let Some(browser) = browser() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install Chromium (apt-get install chromium) for this test"
        );
        eprintln!("SKIPPED: no Chromium on this machine (CI installs it)");
        return;
    };
    let (dom, _) = render(browser, &page);
    // The table as rendered (the script's own source also spells the row markup).
    let table = dom
        .split("<table id=\"table\">")
        .nth(1)
        .and_then(|s| s.split("</table>").next())
        .expect("the table");
    assert_eq!(table.matches("<tr class=\"row").count(), journal_len(&dir));
    let shown: BTreeSet<usize> = dom
        .split("data-frontier-id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect();
    let csv = tmp.path().join("frontier.csv");
    ok(bin()
        .arg("export")
        .arg(&dir)
        .args(["--what", "frontier", "--format", "csv", "--out"])
        .arg(&csv));
    let exported: BTreeSet<usize> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(!exported.is_empty());
    assert_eq!(shown, exported, "frontier points on the page vs the export");

    // With an audit, the page shows its pairs.
    ok(bin()
        .arg("audit")
        .arg(&dir)
        .args(["--sample", "3", "--factor", "2"]));
    ok(bin().arg("report").arg(&dir));
    let (dom, _) = render(browser, &page);
    let pairs = std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(dom.matches("class=\"audit-pt\"").count(), pairs);

    // A depth–width study gets the same page, one row per shape.
    let study_cfg = tmp.path().join("dw.toml");
    std::fs::write(
        &study_cfg,
        r#"
name = "dw"
pattern = ["a", "f"]
depths = [1, 2, 3]
widths = [16, 32]
budgets_s = [0.01]
holdout = 1
[model]
head_dim = 8
ffn_ratio = 2.0
[latency]
source = "analytic"
roofline = "cpu-2core"
prompt = 8
generate = 8
[train]
seq_len = 16
batch_size = 4
steps = 2
[train.data]
val_windows = 2
"#,
    )
    .unwrap();
    let study = tmp.path().join("study");
    ok(bin()
        .args(["depth-width", "--config"])
        .arg(&study_cfg)
        .arg("--out")
        .arg(&study));
    ok(bin().arg("report").arg(&study));
    let (dom, _) = render(browser, &study.join("report.html"));
    let table = dom
        .split("<table id=\"table\">")
        .nth(1)
        .and_then(|s| s.split("</table>").next())
        .unwrap();
    assert_eq!(table.matches("<tr class=\"row").count(), 6);
}

#[test]
fn serve_answers_from_the_journal_with_idle_clients_open_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, campaign_toml("serve", 1, 4, 2, "")).unwrap();
    ok(&mut search(&cfg, &dir));
    let listing = |d: &Path| -> Vec<(String, std::time::SystemTime)> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().modified().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = listing(&dir);
    // Port 0: the OS picks one; the server prints it.
    let mut child = bin()
        .arg("serve")
        .arg(&dir)
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while !first.ends_with('\n') && stdout.read(&mut byte).unwrap() == 1 {
        first.push(byte[0] as char);
    }
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in: {first}"))
        .to_string();
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        // A stuck server fails the test instead of hanging it.
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        body
    };
    // Idle clients (a browser's pre-connections, a half-sent request) hold up nobody.
    let idle: Vec<std::net::TcpStream> = (0..3)
        .map(|i| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            if i == 2 {
                write!(s, "GET / HT").unwrap();
            }
            s
        })
        .collect();
    let page = get("/");
    let data = get("/data.json");
    let answered: Vec<String> = (0..3).map(|_| get("/report.html")).collect();
    let missing = get("/config.toml");
    let escape = get("/../journal.jsonl");
    let escape_encoded = get("/..%2Fjournal.jsonl");
    drop(idle);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("\"live\":true"));
    for a in &answered {
        assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    }
    let json: serde_json::Value =
        serde_json::from_str(data.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json["records"].as_array().unwrap().len(), journal_len(&dir));
    for m in [&missing, &escape, &escape_encoded] {
        assert!(m.starts_with("HTTP/1.1 404"), "{m}");
        assert!(!m.contains("\"check\""), "a journal line was served: {m}");
    }
    assert_eq!(listing(&dir), before, "serve wrote to the campaign folder");
}
