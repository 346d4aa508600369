//! Errors that end a command. Each maps to an exit code (DESIGN §4) and may carry a hint.

use crate::model::discovery::DiscoveryError;
use crate::model::slug::ID_RULES;
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
    /// Input that makes a command impossible; the message says which and the hint what to do.
    #[error("{message}")]
    Invalid { message: String, hint: Option<String> },
    /// Something that went wrong after the work was done (an archive that could not be written).
    #[error("{message}")]
    Failed { message: String, hint: Option<String> },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Io { .. } | Error::Json(_) | Error::Failed { .. } => exit::FAILED,
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
            Error::Invalid { hint, .. } | Error::Failed { hint, .. } => hint.clone(),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
