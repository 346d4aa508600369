//! `runbook dashboard`: a Grafana dashboard (JSON) for the metrics of `runbook watch`.

use super::Context;
use crate::cli::error::{Error, Result, exit};
use crate::exec::watch::dashboard;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dashboard's title (default: the site title of runbook.toml, or "Runbook checks")
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let title = match args.title {
        Some(title) => title,
        None => {
            let source = ctx.kb_source()?;
            let (config, _) = crate::model::config::Config::load(&source);
            config.title.map(|t| format!("{t} — checks")).unwrap_or_else(|| "Runbook checks".to_string())
        }
    };
    let json = serde_json::to_string_pretty(&dashboard::dashboard(&title))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{json}").map_err(|e| Error::io("stdout", e))?;
    Ok(exit::OK)
}
