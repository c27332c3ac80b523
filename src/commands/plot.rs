//! `flashnas plot DIR`: the campaign's charts as SVG and PNG.

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    dir: PathBuf,
    /// Folder for the SVG files (default: the campaign directory).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn plot(a: PlotArgs) -> anyhow::Result<()> {
    let out = a.out.unwrap_or_else(|| a.dir.clone());
    std::fs::create_dir_all(&out)?;
    for p in flashnas_search::plot::plot(&a.dir, &out)? {
        println!("wrote {}", p.display());
    }
    Ok(())
}
