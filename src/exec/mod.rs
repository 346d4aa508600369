//! Executing a runbook: rendering steps, running processes and probes, evaluating checks.

pub mod check;
pub mod probe;
pub mod resolve;
pub mod template;
