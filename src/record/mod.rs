//! The run record (`run.json`, DESIGN §5): what every layer above the model reads and writes
//! about a run. Plain data with serde; no I/O.

mod check;
mod run;
mod trigger;

pub use crate::model::step::{Severity, StepKind};
pub use check::CheckResult;
pub use run::{
    DiagnosisRecord, EngineVersion, Finding, FixRecord, Host, Outcome, RunOptions, RunRecord, RunbookRef, SCHEMA,
    StepRecord, StreamRecord, Verdict,
};
pub use trigger::{MAX_TRIGGER_BYTES, Trigger, TriggerError};
