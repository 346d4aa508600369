//! `runbook probe`: runs one probe step given on stdin and prints its checks — on a fleet host,
//! where a fleet run calls it through the binary it copied there (`--json`), or by hand
//! (`echo 'disk: {path: /, used_percent: {lt: 90}}' | runbook probe`).

use super::Context;
use super::output;
use crate::cli::error::{Error, Result, exit};
use crate::exec::remote::probe_request::{self, ProbeReport};
use std::io::{Read, Write};
use std::sync::atomic::AtomicBool;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the result as one JSON object (what fleet runs read)
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| Error::io("<stdin>", e))?;
    let invalid = |message: String| Error::Invalid {
        message,
        hint: Some("give a probe step on stdin, like `disk: {path: /, used_percent: {lt: 90}}`".into()),
    };
    let request = probe_request::parse_input(&text).map_err(invalid)?;
    let report = probe_request::run(&request, &AtomicBool::new(false)).map_err(invalid)?;
    let code = if report.passed() || report.status == "skipped" { exit::OK } else { exit::FAILED };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut stdout, &report)?;
        writeln!(stdout).map_err(|e| Error::io("<stdout>", e))?;
    } else {
        print_report(&mut stdout, &report, output::use_color(ctx.color)).map_err(|e| Error::io("<stdout>", e))?;
    }
    Ok(code)
}

fn print_report(out: &mut impl Write, report: &ProbeReport, _color: bool) -> std::io::Result<()> {
    for line in &report.observed {
        writeln!(out, "  {line}")?;
    }
    for check in &report.checks {
        writeln!(out, "{} {}", if check.passed { "✔" } else { "✘" }, check.message)?;
    }
    if let Some(reason) = &report.reason {
        writeln!(out, "{}: {reason}", report.status)?;
    }
    Ok(())
}
