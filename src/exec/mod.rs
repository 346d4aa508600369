//! Executing a runbook: rendering steps, running processes and probes, evaluating checks.

pub(crate) mod attempt;
pub(crate) mod check;
pub(crate) mod context;
mod diagnose;
mod dry_run;
pub(crate) mod engine;
mod fence;
pub(crate) mod fleet;
pub(crate) mod host_files;
pub(crate) mod junit;
pub(crate) mod logs;
pub(crate) mod plan;
pub(crate) mod probe;
pub(crate) mod process;
pub(crate) mod redact;
pub(crate) mod remote;
pub(crate) mod report;
pub(crate) mod resolve;
pub(crate) mod scenario;
pub(crate) mod scenario_world;
pub(crate) mod scope;
mod step;
pub(crate) mod stream;
pub(crate) mod syntax;
pub(crate) mod template;
pub(crate) mod watch;
pub(crate) mod watchdog;
