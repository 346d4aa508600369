//! Executing a runbook: rendering steps, running processes and probes, evaluating checks.

pub mod attempt;
pub mod check;
pub mod context;
mod diagnose;
mod dry_run;
pub mod engine;
pub mod fleet;
pub mod junit;
pub mod logs;
pub mod plan;
pub mod probe;
pub mod process;
pub mod redact;
pub mod remote;
pub mod report;
pub mod resolve;
pub mod scenario;
pub mod scenario_world;
pub mod scope;
mod step;
pub mod stream;
pub mod syntax;
pub mod template;
pub mod watch;
pub mod watchdog;
