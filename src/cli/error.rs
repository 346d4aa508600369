//! Errors that end a command. Each maps to an exit code (DESIGN §4) and may carry a hint. The
//! library's typed errors are kept whole (`#[from]`) and rendered here, at the edge.

use crate::archive::period::PeriodError;
use crate::archive::store::{FindRunError, RecordError, WriteError};
use crate::exec::plan;
use crate::index::IndexError;
use crate::model::discovery::DiscoveryError;
use crate::model::slug::ID_RULES;
use crate::render::RenderError;
use crate::server::ServeError;
use crate::util::text::did_you_mean_one_of;
use std::path::PathBuf;

/// Exit codes shared by every command.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const INVALID: i32 = 2;
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error("no runbook `{query}`")]
    UnknownRunbook { query: String, suggestions: Vec<String> },
    #[error("`{query}` matches several runbooks")]
    AmbiguousRunbook { query: String, candidates: Vec<String> },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("runbook `{id}` already exists at {path}")]
    AlreadyExists { id: String, path: String },
    #[error("bad runbook id `{0}`")]
    BadId(String),
    #[error("no such path `{}`", .0.display())]
    NoSuchPath(PathBuf),
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A duration or date on the command line that does not parse; `flag` names the option.
    #[error("{}", period_message(.flag, .source))]
    Period { flag: &'static str, source: PeriodError },
    #[error(transparent)]
    FindRun(#[from] FindRunError),
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The runbook cannot run as asked (bad `--var`, unknown `--from` step, …).
    #[error(transparent)]
    Exec(#[from] plan::Invalid),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// Input that makes a command impossible; the message says which and the hint what to do.
    #[error("{message}")]
    Invalid { message: String, hint: Option<String> },
    /// Something that went wrong after the work was done (an archive that could not be written).
    #[error("{message}")]
    Failed { message: String, hint: Option<String> },
}

/// `bad --since `soon``: a duration names the flag it came from; dates and periods say enough.
fn period_message(flag: &str, source: &PeriodError) -> String {
    match source {
        PeriodError::Duration(text) => format!("bad {flag} `{text}`"),
        other => other.to_string(),
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Io { .. }
            | Error::Json(_)
            | Error::Failed { .. }
            | Error::Record(_)
            | Error::Index(_)
            | Error::Render(_)
            | Error::Serve(_) => exit::FAILED,
            _ => exit::INVALID,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::UnknownRunbook { suggestions, .. } if !suggestions.is_empty() => {
                Some(did_you_mean_one_of(suggestions))
            }
            Error::UnknownRunbook { .. } => Some("`runbook list` shows every runbook".into()),
            Error::AmbiguousRunbook { candidates, .. } => Some(format!("name one of: {}", candidates.join(", "))),
            Error::BadId(_) => Some(ID_RULES.into()),
            Error::Discovery(_) => Some("pass --kb DIR (or set RUNBOOK_KB) to a folder of runbooks".into()),
            Error::Period { source, .. } => Some(source.hint().into()),
            Error::FindRun(_) => Some("`runbook archive list` shows the runs".into()),
            Error::Exec(invalid) => invalid.hint.clone(),
            Error::Index(_) => Some("`runbook index --rebuild` starts the index afresh".into()),
            Error::Render(err) | Error::Serve(ServeError::Render(err)) => render_hint(err),
            Error::Serve(ServeError::Bind { .. }) => {
                Some("is another server listening there? `--addr 127.0.0.1:0` picks a free port".into())
            }
            Error::Invalid { hint, .. } | Error::Failed { hint, .. } => hint.clone(),
            _ => None,
        }
    }
}

fn render_hint(err: &RenderError) -> Option<String> {
    match err {
        RenderError::ForeignOutput(_) => Some("choose another --out folder, or empty this one".into()),
        RenderError::Template(_) => Some("a template in the KB's templates/ folder overrides the built-in one".into()),
        _ => None,
    }
}

impl From<WriteError> for Error {
    fn from(err: WriteError) -> Error {
        Error::Io { path: err.path, source: err.source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
