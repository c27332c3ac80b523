//! `flashnas export DIR`: the frontier or every record as CSV or Parquet.

use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum What {
    Frontier,
    All,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Csv,
    Parquet,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t = What::Frontier)]
    what: What,
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    #[arg(long)]
    out: PathBuf,
}

pub fn export(a: ExportArgs) -> anyhow::Result<()> {
    let n = flashnas_search::export::export(
        &a.dir,
        a.what == What::Frontier,
        a.format == Format::Parquet,
        &a.out,
    )?;
    println!("wrote {} rows to {}", n, a.out.display());
    Ok(())
}
