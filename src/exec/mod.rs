//! Executing a runbook: rendering steps, running processes and probes, evaluating checks.

pub mod check;
pub mod engine;
pub mod junit;
pub mod probe;
pub mod process;
pub mod redact;
pub mod report;
pub mod resolve;
pub mod scope;
pub mod stream;
pub mod template;
pub mod watch;
