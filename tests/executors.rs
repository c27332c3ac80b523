//! Executors end to end: a local worker pool (with a worker killed by SIGKILL) and a real
//! Slurm cluster (a job cancelled with `scancel`, the driver killed with SIGKILL and resumed)
//! write the same journal as the in-process executor.
//!
//! The Slurm part needs a running cluster (`.ci/slurm-up` starts a one-node one). Without one
//! it is skipped with a message, unless FLASHNAS_REQUIRE_SLURM=1 (set by CI), where it fails.

mod common;

use common::{bin, campaign_toml, journal_len, ok, search};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Candidates train long enough (~1 s each) to be cancelled or killed while running.
fn config(dir: &Path) -> PathBuf {
    let executor = "[executor]\nin_flight = 2\nthreads_per_worker = 1\npoll_interval_s = 0.2\n";
    let p = dir.join("executors.toml");
    std::fs::write(&p, campaign_toml("executors", 11, 8, 400, executor)).unwrap();
    p
}

/// Journal records without wall-clock fields and retry counts.
fn comparable(dir: &Path) -> Vec<serde_json::Value> {
    let mut records = common::comparable(dir);
    for r in &mut records {
        r["attempts"] = 0.into();
    }
    records
}

fn attempts(dir: &Path, id: usize) -> u64 {
    let text = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    let line = text.lines().nth(id).expect("record");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["record"]["attempts"].as_u64().unwrap()
}

/// Leases present now: (candidate, lease JSON).
fn leases(dir: &Path) -> Vec<(String, serde_json::Value)> {
    let Ok(entries) = std::fs::read_dir(dir.join("candidates")) else {
        return Vec::new();
    };
    let mut out: Vec<(String, serde_json::Value)> = entries
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("lease.json")).ok()?;
            let v = serde_json::from_str(&text).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), v))
        })
        .collect();
    out.sort_by_key(|(n, _)| n.parse::<usize>().unwrap_or(usize::MAX));
    out
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn no_ignored_results(dir: &Path) {
    for e in std::fs::read_dir(dir.join("candidates")).unwrap().flatten() {
        let log = e.path().join("ignored.log");
        assert!(
            !log.exists(),
            "candidate {:?} was evaluated twice: {}",
            e.file_name(),
            std::fs::read_to_string(log).unwrap()
        );
    }
}

fn spawn_search(cfg: &Path, out: &Path, executor: &str, log: &Path) -> Child {
    search(cfg, out)
        .args(["--executor", executor, "--workers", "2"])
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn slurm_running() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%t"])
        .output()
        .map(|o| {
            let s = String::from_utf8_lossy(&o.stdout);
            o.status.success()
                && s.lines()
                    .any(|l| ["idle", "mix", "alloc"].contains(&l.trim()))
        })
        .unwrap_or(false)
}

fn squeue_state(job: &str) -> String {
    Command::new("squeue")
        .args(["-h", "-r", "-t", "all", "-o", "%T", "-j", job])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[test]
fn local_pool_and_slurm_write_the_inline_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let t0 = Instant::now();

    // Reference: in-process evaluation.
    let inline = tmp.path().join("inline");
    ok(&mut search(&cfg, &inline));
    let reference = comparable(&inline);
    assert_eq!(reference.len(), 8);
    println!("inline campaign: {:.1} s", t0.elapsed().as_secs_f64());

    // Local pool of 2 workers; one worker is killed with SIGKILL and must be retried.
    let t1 = Instant::now();
    let local = tmp.path().join("local");
    let log = tmp.path().join("local.log");
    let mut driver = spawn_search(&cfg, &local, "local", &log);
    let mut killed: Option<String> = None;
    wait_until("a running local worker", || {
        for (name, lease) in leases(&local) {
            let pid = lease["job"].as_str().unwrap().to_string();
            if lease["executor"] == "local"
                && !local
                    .join("candidates")
                    .join(&name)
                    .join("result.json")
                    .exists()
            {
                let st = Command::new("kill").args(["-9", &pid]).status().unwrap();
                if st.success() {
                    killed = Some(name);
                    return true;
                }
            }
        }
        false
    });
    assert!(
        driver.wait().unwrap().success(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let killed: usize = killed.unwrap().parse().unwrap();
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(
        out.contains("killed by signal 9") && out.contains("retrying"),
        "{out}"
    );
    assert_eq!(comparable(&local), reference, "local pool vs inline");
    assert_eq!(
        attempts(&local, killed),
        2,
        "the killed candidate took a second attempt"
    );
    no_ignored_results(&local);
    println!(
        "local pool (2 workers, candidate {killed} SIGKILLed and retried): {:.1} s",
        t1.elapsed().as_secs_f64()
    );

    if !slurm_running() {
        assert!(
            std::env::var("FLASHNAS_REQUIRE_SLURM").as_deref() != Ok("1"),
            "FLASHNAS_REQUIRE_SLURM=1 but no Slurm cluster answers `sinfo`"
        );
        println!("SKIPPED the Slurm half: no Slurm cluster is running (start one with `sudo .ci/slurm-up`)");
        eprintln!("SKIPPED the Slurm half: no Slurm cluster is running (start one with `sudo .ci/slurm-up`)");
        return;
    }

    // Slurm: cancel a running job (must be resubmitted), then kill the driver while jobs are
    // in flight and resume it (must re-attach, not submit again).
    let t2 = Instant::now();
    let slurm = tmp.path().join("slurm");
    let log = tmp.path().join("slurm.log");
    let mut driver = spawn_search(&cfg, &slurm, "slurm", &log);
    // A job can finish between `squeue` saying RUNNING and the cancel landing; its result is
    // then journaled as a normal one (attempt 1), and the test cancels another job.
    let mut cancelled: Option<(usize, String)> = None;
    let mut lost_races = 0;
    while cancelled.is_none() {
        let mut target: Option<(usize, String)> = None;
        wait_until("a running Slurm job", || {
            for (name, lease) in leases(&slurm) {
                let job = lease["job"].as_str().unwrap().to_string();
                let has_result = slurm
                    .join("candidates")
                    .join(&name)
                    .join("result.json")
                    .exists();
                if lease["executor"] == "slurm" && !has_result && squeue_state(&job) == "RUNNING" {
                    ok(Command::new("scancel").arg(&job));
                    target = Some((name.parse().unwrap(), job));
                    return true;
                }
            }
            false
        });
        let (id, job) = target.unwrap();
        println!(
            "{:6.2} s  scancel job {job} (candidate {id})",
            t2.elapsed().as_secs_f64()
        );
        wait_until("the cancelled candidate in the journal", || {
            journal_len(&slurm) > id
        });
        if attempts(&slurm, id) == 2 {
            println!(
                "{:6.2} s  candidate {id} journaled after resubmission",
                t2.elapsed().as_secs_f64()
            );
            cancelled = Some((id, job));
        } else {
            lost_races += 1;
            println!("         job {job} finished before the cancel landed; cancelling another");
            assert!(lost_races < 3, "three cancels in a row came too late");
        }
    }
    let (cancelled, _) = cancelled.unwrap();
    // Kill the driver while a job of a candidate not yet journaled is queued or running.
    let mut attached: Option<String> = None;
    wait_until("an in-flight Slurm job to leave behind", || {
        let done = journal_len(&slurm);
        for (name, lease) in leases(&slurm) {
            let job = lease["job"].as_str().unwrap().to_string();
            let n: usize = name.parse().unwrap();
            let state = squeue_state(&job);
            if n >= done && (state == "RUNNING" || state == "PENDING") {
                driver.kill().unwrap(); // SIGKILL
                driver.wait().unwrap();
                attached = Some(job);
                return true;
            }
        }
        driver.try_wait().unwrap().is_some()
    });
    let job = attached.expect("the driver was killed with a job in flight");
    let partial = journal_len(&slurm);
    println!(
        "{:6.2} s  driver killed (SIGKILL) with job {job} in flight, {partial} records",
        t2.elapsed().as_secs_f64()
    );
    assert!(partial < 8);
    let out = ok(bin()
        .arg("resume")
        .arg(&slurm)
        .args(["--executor", "slurm", "--workers", "2"]));
    println!(
        "{:6.2} s  resumed campaign finished",
        t2.elapsed().as_secs_f64()
    );
    let first = std::fs::read_to_string(&log).unwrap();
    assert!(
        first.contains("CANCELLED") && first.contains("resubmitting (attempt 2/3)"),
        "{first}"
    );
    assert!(
        out.contains(&format!("re-attached to Slurm job {job}")),
        "{out}"
    );
    assert_eq!(comparable(&slurm), reference, "Slurm vs inline and local");
    assert_eq!(
        attempts(&slurm, cancelled),
        2,
        "the cancelled candidate was resubmitted"
    );
    no_ignored_results(&slurm);
    println!(
        "Slurm campaign (with scancel and a driver kill): {:.1} s",
        t2.elapsed().as_secs_f64()
    );

    // The controller does not answer for a while (`squeue` fails its first 4 calls): the
    // driver concludes nothing about its jobs, charges no attempt and evaluates each once.
    let t3 = Instant::now();
    let wrap = tmp.path().join("flaky-bin");
    std::fs::create_dir_all(&wrap).unwrap();
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v squeue"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let counter = tmp.path().join("squeue-failures");
    std::fs::write(
        wrap.join("squeue"),
        format!(
            "#!/bin/sh\nn=$(cat '{c}' 2>/dev/null || echo 0)\nif [ \"$n\" -lt 4 ]; then\n  echo $((n + 1)) > '{c}'\n  echo 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)' >&2\n  exit 1\nfi\nexec {real} \"$@\"\n",
            c = counter.display(),
            real = real.trim()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(wrap.join("squeue"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let flaky = tmp.path().join("flaky");
    let path = format!("{}:{}", wrap.display(), std::env::var("PATH").unwrap());
    let out = ok(search(&cfg, &flaky)
        .args(["--executor", "slurm", "--workers", "2"])
        .env("PATH", &path));
    assert_eq!(std::fs::read_to_string(&counter).unwrap().trim(), "4");
    assert!(
        out.contains("Unable to contact slurm controller") && out.contains("answers again"),
        "{out}"
    );
    assert_eq!(comparable(&flaky), reference, "flaky squeue vs inline");
    for id in 0..8 {
        assert_eq!(
            attempts(&flaky, id),
            1,
            "candidate {id} was charged an attempt"
        );
    }
    no_ignored_results(&flaky);
    println!(
        "Slurm campaign with squeue failing 4 times: {:.1} s",
        t3.elapsed().as_secs_f64()
    );
}
