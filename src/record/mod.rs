//! The run record (`run.json`, DESIGN §5): what every layer above the model reads and writes
//! about a run. Plain data with serde; no I/O.

mod check;
pub mod fleet;
mod observation;
mod run;
mod trigger;

pub use crate::model::step::{Severity, StepKind};
pub use check::CheckResult;
pub use fleet::{Fleet, FleetHost, HostOutcome, Remote, Target};
pub use observation::Observation;
pub use run::{
    DiagnosisRecord, EngineVersion, Finding, FixRecord, Host, Outcome, RunOptions, RunRecord, RunbookRef, SCHEMA,
    StepRecord, StreamRecord, Verdict,
};
pub use trigger::{MAX_TRIGGER_BYTES, Trigger, TriggerError};
