//! `runbook alerts [ID…]`: Prometheus alerting rules for the watched checks, each with a
//! `runbook_url` annotation pointing at its runbook's page on the site.

use super::Context;
use crate::cli::error::{Error, Result, exit};
use crate::exec::watch::plan::{self, PlanOptions};
use crate::exec::watch::rules;
use crate::model::duration::Duration;
use std::io::Write;

/// Where `runbook serve` listens by default: the site when `runbook.toml` names no `base_url`.
const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080/";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runbooks whose checks to cover (default: every runbook with `watch:`)
    ids: Vec<String>,
    /// Interval for runbooks named here without `watch:` (as `runbook watch --every`)
    #[arg(long, value_name = "DURATION")]
    every: Option<Duration>,
    /// The site's address for `runbook_url` (default: `base_url` of runbook.toml)
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let kb = ctx.load_summaries()?;
    let options = PlanOptions { ids: args.ids, every: args.every.map(|d| d.as_std()), ..PlanOptions::default() };
    let plans = plan::plan(&kb, &options).map_err(|err| Error::Invalid {
        message: err.to_string(),
        hint: Some("rules cover the checks `runbook watch` runs: give runbooks a `watch:` front matter".into()),
    })?;
    let base_url = match args.base_url.or_else(|| kb.config.base_url.clone()) {
        Some(url) => url,
        None => {
            if !ctx.quiet {
                eprintln!(
                    "warning: runbook.toml has no base_url; runbook_url points at {DEFAULT_BASE_URL} (pass --base-url)"
                );
            }
            DEFAULT_BASE_URL.to_string()
        }
    };
    let file = rules::rules(&kb, &plans, &base_url);
    let yaml = rules::to_yaml(&file).map_err(|message| Error::Failed { message, hint: None })?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(yaml.as_bytes()).map_err(|e| Error::io("stdout", e))?;
    Ok(exit::OK)
}
