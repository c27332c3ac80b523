//! `flashnas report DIR` writes a campaign's `report.html`; `flashnas serve DIR` serves it live,
//! read-only: every request reads the journal, nothing is written to the folder.

use flashnas_search::report::{html, page_data};
use flashnas_search::store::load_records;
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

/// What `serve` answers for a request path: the page and its data, nothing else.
#[derive(Debug, PartialEq)]
enum Route {
    Page,
    Data,
    NotFound,
}

fn route(url: &str) -> Route {
    // The query string says nothing to us; a path is matched whole, so `..` or any other
    // path (the journal, the config) is never a file name here.
    let path = url.split(['?', '#']).next().unwrap_or("");
    match path {
        "/" | "/index.html" | "/report.html" => Route::Page,
        "/data.json" => Route::Data,
        _ => Route::NotFound,
    }
}

/// Worker threads answering requests; each client connection is read on its own thread by
/// tiny_http, so an idle one (a browser's pre-connection) holds up nobody.
const SERVE_THREADS: usize = 4;

pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    // Fail now, not on the first request, when the folder holds no campaign.
    load_records(&a.dir)?;
    let server = tiny_http::Server::http((a.bind.as_str(), a.port))
        .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", a.bind, a.port))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| anyhow::anyhow!("not an IP address"))?;
    println!(
        "serving {} at http://{addr}/ (read-only; Ctrl-C to stop)",
        a.dir.display()
    );
    let server = std::sync::Arc::new(server);
    let workers: Vec<_> = (0..SERVE_THREADS)
        .map(|_| {
            let (server, dir) = (server.clone(), a.dir.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    answer(&dir, request);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

/// One response: the journal is read per request, nothing is written.
fn answer(dir: &std::path::Path, request: tiny_http::Request) {
    use tiny_http::{Header, Method, Response};
    let text = |status: u16, kind: &str, body: String| {
        Response::from_string(body)
            .with_status_code(status)
            .with_header(Header::from_bytes("Content-Type", kind).expect("header"))
            .with_header(Header::from_bytes("Cache-Control", "no-store").expect("header"))
    };
    let response = if !matches!(request.method(), Method::Get | Method::Head) {
        text(405, "text/plain", "read-only: GET or HEAD".into())
    } else {
        match (route(request.url()), load_records(dir)) {
            (Route::NotFound, _) => text(404, "text/plain", format!("no {} here", request.url())),
            (_, Err(e)) => text(500, "text/plain", e.to_string()),
            (r, Ok((cfg, records, _))) => {
                let d = page_data(dir, &cfg, &records, true);
                match r {
                    Route::Page => text(200, "text/html; charset=utf-8", html(&d)),
                    _ => text(200, "application/json", d.to_string()),
                }
            }
        }
    };
    // A client that went away is its own business.
    let _ = request.respond(response);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_page_and_its_data_are_served() {
        for (url, want) in [
            ("/", Route::Page),
            ("/report.html?x=1", Route::Page),
            ("/data.json", Route::Data),
            ("/../journal.jsonl", Route::NotFound),
            ("/..%2fconfig.toml", Route::NotFound),
            ("/config.toml", Route::NotFound),
            ("/data.json/..", Route::NotFound),
            ("", Route::NotFound),
        ] {
            assert_eq!(route(url), want, "{url}");
        }
    }
}
