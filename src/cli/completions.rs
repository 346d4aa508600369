//! `runbook completions SHELL`: completion scripts for bash, zsh, fish, elvish and PowerShell.

use super::{Cli, Context};
use crate::cli::error::{Result, exit};
use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate completions for
    shell: clap_complete::Shell,
}

pub(super) fn run(_ctx: &Context, args: Args) -> Result<i32> {
    clap_complete::generate(args.shell, &mut Cli::command(), "runbook", &mut std::io::stdout());
    Ok(exit::OK)
}
