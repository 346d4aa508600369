//! The run record (`run.json`, DESIGN §5): what every layer above the model reads and writes
//! about a run. Plain data with serde; no I/O.

mod check;
pub(crate) mod fleet;
mod observation;
mod run;
mod trigger;

pub(crate) use crate::model::step::{Severity, StepKind};
pub(crate) use check::CheckResult;
pub(crate) use fleet::{Fleet, FleetHost, HostOutcome, Remote, Target};
pub(crate) use observation::Observation;
pub(crate) use run::{
    DiagnosisRecord, EngineVersion, Finding, FixRecord, Host, Outcome, RunOptions, RunRecord, RunbookRef, SCHEMA,
    StepRecord, StreamRecord, Verdict,
};
pub(crate) use trigger::{MAX_TRIGGER_BYTES, Trigger};
