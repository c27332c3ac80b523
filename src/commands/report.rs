//! `flashnas report DIR` writes a campaign's `report.html`; `flashnas serve DIR` serves it live,
//! read-only: every request reads the journal, nothing is written to the folder.

use flashnas_search::report::{data, html};
use flashnas_search::store::load_records;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A campaign directory.
    dir: PathBuf,
    /// Open the page in the default browser.
    #[arg(long)]
    open: bool,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// A campaign directory (running or finished).
    dir: PathBuf,
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Address to bind (127.0.0.1: this machine only).
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
}

/// A depth–width study's folder (its config is a study config, not a campaign's).
fn is_study(dir: &std::path::Path) -> bool {
    flashnas_search::depth_width::DepthWidthConfig::from_file(&dir.join("config.toml")).is_ok()
        && flashnas_search::CampaignConfig::from_file(&dir.join("config.toml")).is_err()
}

pub fn report(a: ReportArgs) -> anyhow::Result<()> {
    let path = if is_study(&a.dir) {
        let d = flashnas_search::depth_width::report_data(&a.dir)?;
        let n = d["records"].as_array().map_or(0, Vec::len);
        let path = flashnas_search::report::write_page(&a.dir, &d)?;
        println!(
            "wrote {} ({n} shapes of a depth–width study)",
            path.display()
        );
        path
    } else {
        let (cfg, records, problems) = load_records(&a.dir)?;
        for p in problems {
            println!("note: {p}");
        }
        let path = flashnas_search::report::write(&a.dir, &cfg, &records)?;
        println!("wrote {} ({} candidates)", path.display(), records.len());
        path
    };
    if a.open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        if let Err(e) = std::process::Command::new(opener).arg(&path).spawn() {
            println!(
                "note: cannot open a browser ({opener}: {e}); open {} yourself",
                path.display()
            );
        }
    }
    Ok(())
}

pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let live = |cfg: &flashnas_search::CampaignConfig, records: &[flashnas_search::Record]| {
        let mut d = data(cfg, records, true);
        d["audit"] = flashnas_search::report::audit_data(&a.dir).unwrap_or(serde_json::Value::Null);
        d
    };
    // Fail now, not on the first request, when the folder holds no campaign.
    load_records(&a.dir)?;
    let listener = TcpListener::bind((a.bind.as_str(), a.port))?;
    println!(
        "serving {} at http://{}/ (read-only; Ctrl-C to stop)",
        a.dir.display(),
        listener.local_addr()?
    );
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut line = String::new();
        if BufReader::new(&stream).read_line(&mut line).is_err() {
            continue;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let (status, kind, body) = match load_records(&a.dir) {
            Err(e) => ("500 Internal Server Error", "text/plain", e.to_string()),
            Ok((cfg, records, _)) => match path.as_str() {
                "/" | "/index.html" | "/report.html" => (
                    "200 OK",
                    "text/html; charset=utf-8",
                    html(&live(&cfg, &records)),
                ),
                "/data.json" => (
                    "200 OK",
                    "application/json",
                    live(&cfg, &records).to_string(),
                ),
                _ => ("404 Not Found", "text/plain", format!("no {path} here")),
            },
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    Ok(())
}
